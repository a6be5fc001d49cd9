"""What a checker returns: pass/fail, and for each violation the few operations that show it."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from .._core.errors import ConfigError
from ._history import Operation

__all__ = ["CheckResult", "Violation"]


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken guarantee: which one, on which key, the minimal set of operations that
    shows it and a paragraph saying why in words."""

    guarantee: str
    key: str
    operations: tuple[Operation, ...]
    explanation: str

    def describe(self) -> str:
        """A block of text: heading, the operations one per line, the explanation."""
        lines = [f"{self.guarantee} violated on key {self.key!r}:"]
        lines += [f"  {op.describe()}" for op in self.operations]
        lines += textwrap.wrap(
            self.explanation, width=96, initial_indent="  ", subsequent_indent="  "
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (operations as dicts of their fields)."""
        ops = [{name: getattr(op, name) for name in op.__slots__} for op in self.operations]
        return {
            "guarantee": self.guarantee,
            "key": self.key,
            "operations": ops,
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict of one model on one history."""

    model: str
    checked: int
    """Operations the model looked at."""
    violations: tuple[Violation, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when no guarantee of the model is broken."""
        return not self.violations

    def __bool__(self) -> bool:
        return self.ok

    def describe(self, limit: int | None = None) -> str:
        """A summary line, then each violation (the first ``limit`` of them if given)."""
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ConfigError("limit", f"expected an integer >= 0 or None, got {limit!r}")
        if self.ok:
            return f"{self.model}: ok ({self.checked} operations checked)"
        n = len(self.violations)
        head = f"{self.model}: {n} violation{'s' * (n != 1)} in {self.checked} operations"
        shown = self.violations if limit is None else self.violations[:limit]
        blocks = [head] + [v.describe() for v in shown]
        if len(shown) < n:
            blocks.append(f"... and {n - len(shown)} more (use --json for all)")
        return "\n\n".join(blocks)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of the verdict."""
        return {
            "model": self.model,
            "ok": self.ok,
            "checked": self.checked,
            "violations": [v.to_json() for v in self.violations],
        }
