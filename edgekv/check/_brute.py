"""Ground truth for small histories: try every order of all operations (every key at once)
that respects real time, straight from the definition (Herlihy & Wing 1990), without the
fast checker's memoisation or its per-key split."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._history import Operation, freeze

__all__ = ["MAX_BRUTE_FORCE", "brute_force_linearizable"]

MAX_BRUTE_FORCE = 8
"""Most operations the exhaustive search accepts (8! orders at worst)."""


def brute_force_linearizable(ops: Sequence[Operation]) -> bool:
    """True when some total order of the operations, in which an operation that completed
    before another was invoked comes first, makes every ok read return the value of the
    latest write of its key before it (absent when none). A write that did not end ok may
    come anywhere after its invocation, last included (equivalent to never happening)."""
    ops = [op for op in ops if op.ok or op.kind == "write"]
    if len(ops) > MAX_BRUTE_FORCE:
        raise ValueError(f"brute force takes at most {MAX_BRUTE_FORCE} operations, got {len(ops)}")
    ends = [op.complete if op.ok else math.inf for op in ops]

    def extend(remaining: frozenset[int], state: dict[str, object]) -> bool:
        if not remaining:
            return True
        for i in remaining:
            op = ops[i]
            if any(ends[j] < op.invoke for j in remaining if j != i):
                continue  # another pending operation finished before this one began
            value = freeze(op.value)
            if op.kind == "read":
                if state.get(op.key) != value:
                    continue
                if extend(remaining - {i}, state):
                    return True
            elif extend(remaining - {i}, {**state, op.key: value}):
                return True
        return False

    return extend(frozenset(range(len(ops))), {})
