"""Convergence after settle: every region holds the same (value, version) for every key, and
under last-writer-wins that is the write with the highest version (a write that did not end
ok may have been applied, so its version may win too)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._core.errors import ConfigError
from ._history import History, Operation, freeze, shown
from ._result import CheckResult, Violation

__all__ = ["check_convergence"]

MODEL = "convergence"

State = tuple[Any, int]
"""What a region holds for a key: (value, version); (None, 0) when it holds nothing."""


def _show(state: State) -> str:
    value, version = state
    if value is None and not version:
        return "nothing"
    return f"{'null' if value is None else shown(value)} (v{version})"


def _states(states: Any) -> dict[str, dict[str, State]]:
    """``states`` checked: {region: {key: (value, version)}} with string names and integer
    versions >= 0; ConfigError naming the entry otherwise."""
    if not isinstance(states, Mapping):
        raise ConfigError("states", f"expected a mapping of regions, got {type(states).__name__}")
    out: dict[str, dict[str, State]] = {}
    for region, held in states.items():
        path = f"states[{region!r}]"
        if not isinstance(region, str):
            raise ConfigError(path, "expected a region name (a string)")
        if not isinstance(held, Mapping):
            raise ConfigError(path, f"expected a mapping of keys, got {type(held).__name__}")
        out[region] = {}
        for key, state in held.items():
            where = f"{path}[{key!r}]"
            if not isinstance(key, str):
                raise ConfigError(where, "expected a key (a string)")
            if isinstance(state, str | bytes) or not (
                isinstance(state, Sequence) and len(state) == 2
            ):
                raise ConfigError(where, f"expected a (value, version) pair, got {state!r}")
            version = state[1]
            if isinstance(version, bool) or not isinstance(version, int) or version < 0:
                raise ConfigError(where, f"expected an integer version >= 0, got {version!r}")
            out[region][key] = (state[0], version)
    return out


def check_convergence(
    states: Mapping[str, Mapping[str, State]], history: Iterable[Operation] | None = None
) -> CheckResult:
    """Check that all regions of ``states`` ({region: {key: (value, version)}}) agree on every
    key and, given the ``history`` that led there, that each key holds its highest-version
    write (a missing key counts as (None, 0), which a delete may leave)."""
    states = _states(states)
    ops = History(history) if history is not None else History()
    writes: dict[str, list[Operation]] = {}
    for op in ops:
        if op.kind == "write":
            writes.setdefault(op.key, []).append(op)
    keys = list(dict.fromkeys([k for held in states.values() for k in held] + list(writes)))
    violations: list[Violation] = []
    for key in keys:
        held = {region: tuple(s.get(key, (None, 0))) for region, s in states.items()}
        distinct = list(dict.fromkeys((freeze(v), n) for v, n in held.values()))
        key_writes = writes.get(key, [])
        versions = {n for _, n in held.values()}
        if len(distinct) > 1:
            shown = tuple(w for w in key_writes if w.version in versions)
            listing = "; ".join(f"{region} holds {_show(s)}" for region, s in held.items())
            violations.append(
                Violation(
                    "convergence",
                    key,
                    shown,
                    f"After settling, the regions disagree on {key!r}: {listing}. Replicas of "
                    "an eventually consistent store must converge once no write is in flight; "
                    "a lost or never-retried replication message leaves them apart.",
                )
            )
        acked = [w for w in key_writes if w.ok]
        if not acked:
            continue
        best = max(acked, key=lambda w: w.version)
        unique = {(freeze(v), n): (v, n) for v, n in held.values()}
        for value, version in unique.values():
            matching = [w for w in key_writes if w.version == version]
            if version == best.version and freeze(value) == freeze(best.value):
                continue
            if value is None and version == 0 and best.value is None:
                continue  # the winning delete's tombstone was collected
            if version > best.version and any(
                freeze(w.value) == freeze(value) for w in matching if not w.ok
            ):
                continue  # a write that did not end ok was applied after all, and wins
            regions = ", ".join(
                r for r, (v, n) in held.items() if (freeze(v), n) == (freeze(value), version)
            )
            if version < best.version:
                why = (
                    f"the acknowledged write of {_show((best.value, best.version))} is newer, so "
                    "last-writer-wins should have kept it: it was lost"
                )
            else:
                why = (
                    f"no write of the history produced {_show((value, version))} (the newest "
                    f"acknowledged one is {_show((best.value, best.version))})"
                )
            violations.append(
                Violation(
                    "last-writer-wins",
                    key,
                    (best, *(w for w in matching if w is not best)),
                    f"After settling, {regions} hold{'s' * (',' not in regions)} "
                    f"{_show((value, version))} for {key!r}, but {why}.",
                )
            )
    checked = sum(len(keys) for _ in states)
    return CheckResult(MODEL, checked, tuple(violations))
