"""Ground truth for small histories: try every order of all operations (every key at once)
that respects real time, straight from the definition (Herlihy & Wing 1990), without the
fast checker's memoisation or its per-key split."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ._generate import simulate_register
from ._history import Operation, freeze, precedes
from ._linear import check_linearizable

__all__ = ["MAX_BRUTE_FORCE", "Agreement", "agreement", "brute_force_linearizable"]

MAX_BRUTE_FORCE = 8
"""Most operations the exhaustive search accepts (8! orders at worst)."""


def brute_force_linearizable(ops: Sequence[Operation]) -> bool:
    """True when some total order of the operations, in which an operation that completed
    before another was invoked (:func:`precedes`) comes first, makes every ok read return the
    value of the latest write of its key before it (absent when none). A write that did not
    end ok may come anywhere after its invocation, last included (as if it never happened)."""
    ops = [op for op in ops if op.ok or op.kind == "write"]
    if len(ops) > MAX_BRUTE_FORCE:
        raise ValueError(f"brute force takes at most {MAX_BRUTE_FORCE} operations, got {len(ops)}")

    def extend(remaining: frozenset[int], state: dict[str, object]) -> bool:
        if not remaining:
            return True
        for i in remaining:
            op = ops[i]
            if any(ops[j].ok and precedes(ops[j], op) for j in remaining):
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


@dataclass(frozen=True, slots=True)
class Agreement:
    """How the fast linearizability checker and the brute force judged the same histories."""

    histories: int
    agree: int
    linearizable: int
    """Histories the brute force found linearizable (the rest are not)."""
    fast_seconds: float
    """CPU seconds the fast checker took over all of them (minimal counterexamples included)."""
    brute_seconds: float
    """CPU seconds the brute force took over all of them."""


def agreement(count: int, seed: int = 0) -> Agreement:
    """Judge ``count`` seeded simulated histories of 2 to 8 operations (1 or 2 keys, few
    values, stale reads and unavailable writes injected) with both checkers."""
    agree = linearizable = 0
    fast_s = brute_s = 0.0
    for n in range(count):
        h = simulate_register(
            seed + n,
            2 + n % 7,
            clients=2 + n % 2,
            keys=1 + n % 2,
            values=2 + n % 2,
            stale=0.9,
            unavailable=0.2,
        )
        t0 = time.process_time()
        fast = check_linearizable(h).ok
        t1 = time.process_time()
        brute = brute_force_linearizable(h)
        brute_s += time.process_time() - t1
        fast_s += t1 - t0
        agree += fast == brute
        linearizable += brute
    return Agreement(count, agree, linearizable, fast_s, brute_s)
