"""Logging of ``edgekv serve``: one line per event, no tracebacks from the network layers.

Rejected requests (``edgekv.http``, INFO), refused and aborted connections, malformed HTTP
(aiohttp's ``aiohttp.server``) and accept failures such as "Too many open files" (``asyncio``)
each become a single line naming the exception; only an unexpected error inside edgekv's own
handlers (a bug, answered 500) keeps its traceback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["LEVELS", "OneLine", "configure", "loop_exception_handler"]

LEVELS = ("debug", "info", "warning", "error")
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_QUIET = ("aiohttp.server", "aiohttp.web", "aiohttp.access", "asyncio")


class OneLine(logging.Filter):
    """Fold a record's exception into its message as ``: Type: text`` and drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            record.msg = f"{record.getMessage()}: {_describe(exc)}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def configure(level: str, *, access_log: bool = False) -> None:
    """Log to stderr at ``level`` (one of :data:`LEVELS`); ``access_log`` adds a line per
    request (``edgekv.access``, INFO)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _QUIET:
        quiet = logging.getLogger(name)
        if not any(isinstance(f, OneLine) for f in quiet.filters):
            quiet.addFilter(OneLine())
    logging.getLogger("edgekv.access").disabled = not access_log


def loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An event loop's exception handler that logs one line (e.g. an accept() failing with
    "Too many open files", which asyncio retries after a pause)."""
    message = context.get("message", "event loop error")
    exc = context.get("exception")
    line = f"{message}: {_describe(exc)}" if isinstance(exc, BaseException) else message
    logging.getLogger("asyncio").error("%s", line)
