"""One entry point for every model by name, as the command line and test assertions use it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._core.errors import ConfigError
from ._convergence import check_convergence
from ._history import Operation
from ._linear import check_linearizable
from ._result import CheckResult
from ._session import check_session
from ._staleness import check_staleness

__all__ = ["MODELS", "check"]

MODELS = ("linearizable", "session", "staleness", "convergence")
"""Model names :func:`check` accepts."""


def check(
    history: Iterable[Operation],
    model: str,
    *,
    max_versions: int | None = None,
    max_seconds: float | None = None,
    states: Mapping[str, Mapping[str, tuple[Any, int]]] | None = None,
) -> CheckResult:
    """Check ``history`` against ``model``; ``staleness`` needs ``max_versions`` and/or
    ``max_seconds``, ``convergence`` the final ``states`` ({region: {key: (value, version)}})."""
    if model == "linearizable":
        return check_linearizable(history)
    if model == "session":
        return check_session(history)
    if model == "staleness":
        return check_staleness(history, max_versions=max_versions, max_seconds=max_seconds)
    if model == "convergence":
        if states is None:
            raise ConfigError("states", "the convergence model needs the final states")
        return check_convergence(states, history)
    raise ConfigError("model", f"expected one of {', '.join(MODELS)}, got {model!r}")
