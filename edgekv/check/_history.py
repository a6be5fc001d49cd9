"""Operation records a checker reads: one completed (or given-up) client operation each.

A history is what clients saw, independent of how the store works: who asked what of which
region, what came back, and when. Writes that did not end ``ok`` may still have been applied
(Jepsen's ``:info``); reads that did not end ``ok`` tell nothing and every checker skips them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

from .._core.errors import ConfigError

__all__ = ["KINDS", "OUTCOMES", "History", "Operation", "freeze", "precedes", "shown"]

KINDS = ("read", "write")
"""Operation kinds of a read/write register."""
OUTCOMES = ("ok", "unavailable", "error")
"""How an operation ended; anything but ``ok`` leaves a write maybe applied."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation as a client saw it: ``process`` asked ``region`` to read or write ``key``
    between ``invoke`` and ``complete`` (seconds); ``value`` is what was written or read (None
    = absent) and ``version`` the LWW version written or read (0 = none)."""

    process: str
    region: str
    key: str
    kind: Literal["read", "write"]
    value: Any
    version: int
    invoke: float
    complete: float
    outcome: Literal["ok", "unavailable", "error"] = "ok"

    def __post_init__(self) -> None:
        """Reject a record no client could have produced, naming the field."""
        if self.kind not in KINDS:
            raise ConfigError("kind", f"expected read or write, got {self.kind!r}")
        if self.outcome not in OUTCOMES:
            raise ConfigError("outcome", f"expected one of {', '.join(OUTCOMES)}")
        for name in ("process", "region", "key"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(name, f"expected a string, got {getattr(self, name)!r}")
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise ConfigError("version", f"expected an integer, got {self.version!r}")
        if self.version < 0:
            raise ConfigError("version", f"expected an integer >= 0, got {self.version}")
        for name in ("invoke", "complete"):
            t = getattr(self, name)
            if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
                raise ConfigError(name, f"expected a finite number of seconds, got {t!r}")
        if self.complete < self.invoke:
            raise ConfigError("complete", f"{self.complete} is before invoke {self.invoke}")

    @property
    def ok(self) -> bool:
        """True when the client got an answer."""
        return self.outcome == "ok"

    @property
    def maybe(self) -> bool:
        """True for a write that may or may not have been applied (it did not end ok)."""
        return self.kind == "write" and self.outcome != "ok"

    def describe(self) -> str:
        """One line: interval, who, where, what, and how it ended."""
        what = "wrote" if self.kind == "write" else "read"
        if self.kind == "write" and not self.ok:
            what = "tried to write"
        version = f" (v{self.version})" if self.version else ""
        ending = "" if self.ok else f" -> {self.outcome}"
        return (
            f"[{self.invoke:.3f}s, {self.complete:.3f}s] {self.process} @ {self.region}: "
            f"{what} {self.key} = {shown(self.value)}{version}{ending}"
        )


def precedes(a: Operation, b: Operation) -> bool:
    """True when ``a`` completed before ``b`` was invoked, so every checker (and a Jepsen
    export, which lists entries in this order) must put ``a`` first. Completing at the very
    instant ``b`` is invoked counts, unless ``a`` took no time at all: two operations that
    both begin and end at one instant are concurrent."""
    return a.complete < b.invoke or (a.complete == b.invoke and a.invoke < a.complete)


def shown(value: Any) -> str:
    """A value as the checkers' explanations print it: JSON (what JSON cannot spell, such
    as bytes, by its ``repr``), or ``absent`` for None."""
    return "absent" if value is None else json.dumps(value, sort_keys=True, default=repr)


def freeze(value: Any) -> Any:
    """A hashable stand-in for a JSON-able value, equal exactly when the JSON texts are (so
    ``1``, ``1.0`` and ``true`` differ, as in Jepsen's Clojure); None stays None (absent)."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)


class History(Sequence[Operation]):
    """An immutable sequence of operations with the groupings checkers need."""

    __slots__ = ("_ops",)

    def __init__(self, ops: Iterable[Operation] = ()) -> None:
        self._ops = tuple(ops)
        for i, op in enumerate(self._ops):
            if not isinstance(op, Operation):
                raise ConfigError(f"history[{i}]", f"expected an Operation, got {op!r}")

    @overload
    def __getitem__(self, index: int) -> Operation: ...
    @overload
    def __getitem__(self, index: slice) -> History: ...
    def __getitem__(self, index: int | slice) -> Operation | History:
        """An operation, or a sub-history for a slice."""
        if isinstance(index, slice):
            return History(self._ops[index])
        return self._ops[index]

    def __len__(self) -> int:
        return len(self._ops)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._ops)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, History) and self._ops == other._ops

    def __repr__(self) -> str:
        return f"History({len(self._ops)} operations)"

    def keys(self) -> list[str]:
        """Keys in order of first appearance."""
        return list(dict.fromkeys(op.key for op in self._ops))

    def processes(self) -> list[str]:
        """Processes in order of first appearance."""
        return list(dict.fromkeys(op.process for op in self._ops))

    def by_key(self) -> dict[str, History]:
        """One sub-history per key (a register's operations), in history order."""
        groups: dict[str, list[Operation]] = {}
        for op in self._ops:
            groups.setdefault(op.key, []).append(op)
        return {key: History(ops) for key, ops in groups.items()}

    def by_process(self) -> dict[str, History]:
        """One sub-history per process (a session), ordered by invocation."""
        groups: dict[str, list[Operation]] = {}
        for op in sorted(self._ops, key=lambda o: (o.invoke, o.complete)):
            groups.setdefault(op.process, []).append(op)
        return {p: History(ops) for p, ops in groups.items()}

    def require_versions(self, model: str) -> None:
        """Raise a ConfigError naming the first ok write without a version: ``model`` orders
        operations by LWW version, so it cannot judge a history that lacks them."""
        for i, op in enumerate(self._ops):
            if op.kind == "write" and op.ok and op.version == 0:
                raise ConfigError(
                    f"history[{i}].version",
                    f"the {model} model needs the version of every ok write",
                )

    def relevant(self) -> History:
        """The operations that constrain a register: every write, and reads that ended ok."""
        return History(op for op in self._ops if op.ok or op.kind == "write")
