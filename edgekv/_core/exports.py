"""Lazy public namespaces (PEP 562): a name maps to the private module defining it, is
imported on first use and given the public ``__module__`` it is documented under."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_namespace"]


def lazy_namespace(
    public: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for module ``public`` whose names come from
    ``exports`` (name -> module path relative to ``edgekv``)."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {public!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"edgekv.{module}"), name)
        if getattr(value, "__module__", "").startswith("edgekv.") and hasattr(
            value, "__qualname__"
        ):
            with contextlib.suppress(AttributeError, TypeError):
                value.__module__ = public
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
