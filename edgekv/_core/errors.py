"""The exceptions edgekv raises for bad input."""

from __future__ import annotations

__all__ = ["ConfigError", "EdgekvError"]


class EdgekvError(Exception):
    """Base of edgekv's own errors: ``path`` names the field or thing at fault (may be
    empty), ``reason`` says what is wrong or allowed."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.reason = message


class ConfigError(EdgekvError, ValueError):
    """A configuration mistake: ``path`` names the field, the message says what is allowed."""
