"""The user a flag is evaluated for, validated from a DevCycle request body, and EdgeDB merge.

`User.from_dict` accepts the user object of DevCycle's bucketing API (`POST /v1/variables`)
and `merge_user` combines a user document stored at the edge with the one a request carries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._core.errors import EdgekvError

__all__ = ["USER_ATTRIBUTES", "CustomValue", "User", "UserError", "merge_user"]

#: A customData value: DevCycle custom data is flat.
CustomValue = str | int | float | bool | None

_STRING_FIELDS = (
    "email",
    "name",
    "language",
    "country",
    "appVersion",
    "platform",
    "platformVersion",
    "deviceModel",
)
_DATA_FIELDS = ("customData", "privateCustomData")

#: The attributes of a User other than ``user_id`` and custom data.
USER_ATTRIBUTES = frozenset((*_STRING_FIELDS, "appBuild"))


class UserError(EdgekvError, ValueError):
    """A user object failed validation: ``path`` names the bad field, ``reason`` what is
    wrong with it."""


@dataclass(frozen=True, slots=True)
class User:
    """A DevCycle user. `custom` is customData overlaid by privateCustomData, for targeting."""

    user_id: str
    email: str | None = None
    name: str | None = None
    language: str | None = None
    country: str | None = None
    appVersion: str | None = None
    appBuild: float | None = None
    platform: str | None = None
    platformVersion: str | None = None
    deviceModel: str | None = None
    customData: Mapping[str, CustomValue] = field(default_factory=dict)
    privateCustomData: Mapping[str, CustomValue] = field(default_factory=dict)
    custom: Mapping[str, CustomValue] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "custom", {**self.customData, **self.privateCustomData})

    @classmethod
    def from_dict(cls, body: object) -> User:
        """Validate a DevCycle user object; unknown keys (createdDate, sdkType...) are ignored.

        Raises `UserError` naming the field: `user_id` must be a non-empty string, the other
        string fields strings or null, custom data values strings, finite numbers, booleans or
        null.
        """
        if not isinstance(body, Mapping):
            raise UserError("user", f"expected an object, got {type(body).__name__}")
        user_id = body.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise UserError("user_id", f"expected a non-empty string, got {user_id!r}")
        kwargs: dict[str, Any] = {}
        for name in _STRING_FIELDS:
            value = body.get(name)
            if value is not None and not isinstance(value, str):
                raise UserError(name, f"expected a string or null, got {value!r}")
            kwargs[name] = value
        build = body.get("appBuild")
        if build is not None and (isinstance(build, bool) or not _is_finite_number(build)):
            raise UserError("appBuild", f"expected a number or null, got {build!r}")
        for name in _DATA_FIELDS:
            kwargs[name] = _custom_data(body.get(name), name)
        return cls(user_id, appBuild=build, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The user as a DevCycle user object, omitting null fields (inverse of `from_dict`)."""
        out: dict[str, Any] = {"user_id": self.user_id}
        for name in (*_STRING_FIELDS, "appBuild"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name in _DATA_FIELDS:
            data = getattr(self, name)
            if data:
                out[name] = dict(data)
        return out


def _custom_data(raw: Any, name: str) -> dict[str, CustomValue]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise UserError(name, f"expected an object or null, got {type(raw).__name__}")
    out: dict[str, CustomValue] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise UserError(name, f"expected string keys, got {key!r}")
        if not (value is None or isinstance(value, str | bool) or _is_finite_number(value)):
            raise UserError(
                f"{name}.{key}", f"expected a string, finite number, boolean or null, got {value!r}"
            )
        out[key] = value
    return out


def _is_finite_number(value: object) -> bool:
    """An int or float that is a finite float (an int too large for a float is not)."""
    if not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def merge_user(stored: Mapping[str, Any] | None, request: Mapping[str, Any]) -> dict[str, Any]:
    """EdgeDB merge: the stored user document overlaid by the request's user (O(fields)).

    Request fields win over stored ones; a request field that is null or absent keeps the
    stored value. `customData` is merged key by key, request keys winning (an explicit null
    there is a value and wins too). `privateCustomData` is never persisted, so only the
    request's counts. Neither input is modified.
    """
    merged: dict[str, Any] = {
        k: v for k, v in (stored or {}).items() if k not in ("customData", "privateCustomData")
    }
    for key, value in request.items():
        if key != "customData" and value is not None:
            merged[key] = value
    stored_custom = (stored or {}).get("customData") or {}
    request_custom = request.get("customData") or {}
    if stored_custom or request_custom:
        merged["customData"] = {**stored_custom, **request_custom}
    return merged
