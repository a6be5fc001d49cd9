"""What the HTTP API accepts: resource limits and the checks a request body passes before
anything is read or stored.

Sans-IO: the checks work on parsed JSON and raise :class:`InputError` (an HTTP status, the
path of the bad field, what is allowed). A body that passes them can be stored, replicated,
encoded with msgpack and evaluated without any exception: every number is finite and at most
:data:`MAX_MAGNITUDE` in size, every string is valid Unicode (no lone surrogates) and bounded,
nesting is bounded, and a user object holds only DevCycle user fields.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._core.errors import EdgekvError

__all__ = ["MAX_MAGNITUDE", "USER_FIELDS", "InputError", "Limits", "check_json", "check_user"]

MAX_MAGNITUDE = 1e300
"""Largest accepted absolute value of a number (an int beyond it may not become a float)."""

USER_FIELDS = frozenset(
    {
        # DevCycle's Bucketing API UserData schema (devcycle-bucketing-openapi.yml)
        "user_id",
        "email",
        "name",
        "language",
        "country",
        "appVersion",
        "appBuild",
        "customData",
        "privateCustomData",
        "createdDate",
        "lastSeenDate",
        "platform",
        "platformVersion",
        "deviceModel",
        "sdkType",
        "sdkVersion",
        # sent by DevCycle's Python server SDK (models/user.py)
        "sdkPlatform",
    }
)
"""Top-level fields a user object may carry; any other is rejected with 400 naming it."""

_VERSION_FIELDS = ("appVersion", "platformVersion")
_DIGIT_RUN = re.compile(r"\d{16,}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of ``edgekv serve`` (bytes, counts, seconds)."""

    max_body: int = 64 * 1024
    """Largest request body (413 beyond)."""
    max_document: int = 8 * 1024
    """Largest stored user document, msgpack-encoded (413 beyond)."""
    max_custom_fields: int = 100
    """Most keys in a user's customData once merged with the stored one (413 beyond)."""
    max_depth: int = 8
    """Deepest nesting of objects and arrays in a body (400 beyond)."""
    max_string: int = 2048
    """Longest string value or object key, in characters (400 beyond)."""
    max_version: int = 64
    """Longest appVersion or platformVersion; their digit runs stay under 16 digits."""
    max_users: int = 10_000
    """Most users stored per project, over all regions (429 beyond)."""
    max_history: int = 10_000
    """Newest writes the served cluster's write history (``cluster.history``) keeps."""
    max_connections: int = 256
    """Most open connections per region (503 beyond)."""
    idle_timeout: float = 15.0
    """Seconds a connection may go without a complete request head, whether new or kept
    alive after a response (then it is closed); trickling bytes does not extend it."""
    body_timeout: float = 10.0
    """Seconds a request has to send its whole body (408 beyond)."""
    send_timeout: float = 10.0
    """Seconds a connection may leave the server unable to send (answers it does not read,
    as a client pipelining requests without reading does) before it is closed."""


class InputError(EdgekvError, ValueError):
    """A request body the API refuses: ``status`` to answer, ``path`` naming the culprit,
    ``reason`` what is wrong."""

    def __init__(self, status: int, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.status = status


def check_json(value: Any, limits: Limits, path: str = "") -> None:
    """Check a parsed JSON value: finite numbers within :data:`MAX_MAGNITUDE`, valid and
    bounded strings and keys, nesting at most ``limits.max_depth`` (O(size))."""
    _walk(value, limits, path, 0)


def _walk(value: Any, limits: Limits, path: str, depth: int) -> None:
    if isinstance(value, str):
        _check_string(value, limits, path or "body")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        _check_number(value, path or "body")
    elif isinstance(value, Mapping | list):
        if depth >= limits.max_depth:
            raise InputError(400, path or "body", f"nested deeper than {limits.max_depth} levels")
        if isinstance(value, list):
            for i, item in enumerate(value):
                _walk(item, limits, f"{path}[{i}]", depth + 1)
            return
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            _check_string(key, limits, f"{where} (key)")
            _walk(item, limits, where, depth + 1)
    else:
        raise InputError(400, path or "body", f"unsupported value of type {type(value).__name__}")


def _check_string(text: str, limits: Limits, path: str) -> None:
    if len(text) > limits.max_string:
        raise InputError(400, path, f"longer than {limits.max_string} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(400, path, "not valid Unicode (a lone surrogate)") from None


def _check_number(value: int | float, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(400, path, f"expected a finite number, got {value!r}")
    if abs(value) > MAX_MAGNITUDE:
        raise InputError(400, path, f"magnitude beyond {MAX_MAGNITUDE:g}")


def check_user(body: Any, limits: Limits, path: str = "") -> None:
    """Check a user object beyond :func:`check_json`: only DevCycle user fields, scalar
    values outside customData, versions short enough to compare (O(fields))."""
    prefix = f"{path}." if path else ""
    if not isinstance(body, Mapping):
        return  # User.from_dict names this mistake
    for key, value in body.items():
        if key not in USER_FIELDS:
            raise InputError(
                400, f"{prefix}{key}", "unknown user field (allowed: DevCycle user fields)"
            )
        if key not in ("customData", "privateCustomData") and isinstance(value, Mapping | list):
            raise InputError(400, f"{prefix}{key}", "expected a string, number or null")
    for key in _VERSION_FIELDS:
        version = body.get(key)
        if isinstance(version, str) and (
            len(version) > limits.max_version or _DIGIT_RUN.search(version)
        ):
            raise InputError(
                400,
                f"{prefix}{key}",
                f"a version of at most {limits.max_version} characters and 15-digit parts",
            )
    for key in ("customData", "privateCustomData"):
        data = body.get(key)
        if isinstance(data, Mapping) and len(data) > limits.max_custom_fields:
            raise InputError(413, f"{prefix}{key}", f"more than {limits.max_custom_fields} fields")
