"""Seeded histories of a simulated register, for benchmarks and ground-truth sweeps: clients
issue overlapping operations, each taking effect at a random instant inside its interval, so
the history is linearizable unless stale reads are injected."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ._history import History, Operation

__all__ = ["simulate_register"]


def simulate_register(
    seed: int,
    n_ops: int,
    *,
    clients: int = 4,
    keys: int = 1,
    values: int | None = None,
    reads: float = 0.5,
    stale: float = 0.0,
    unavailable: float = 0.0,
    regions: Sequence[str] = ("East US", "UK South", "Japan East"),
) -> History:
    """``n_ops`` operations by ``clients`` sequential clients on ``keys`` keys; written values
    are unique unless ``values`` bounds them; a read returns the value before the latest
    write with probability ``stale``; a write ends unavailable with probability
    ``unavailable`` (applied or not, by a coin flip). Same seed, same history."""
    rng = random.Random(seed)
    free = [0.0] * clients
    drafts = []
    for _ in range(n_ops):
        c = min(range(clients), key=free.__getitem__)
        invoke = free[c] + rng.expovariate(200.0)
        complete = invoke + rng.uniform(0.001, 0.05)
        free[c] = complete
        point = rng.uniform(invoke, complete)
        kind = "read" if rng.random() < reads else "write"
        drafts.append((point, c, f"k{rng.randrange(keys)}", kind, invoke, complete))
    drafts.sort()
    state: dict[str, list[tuple[object, int]]] = {}
    version = 0
    ops = []
    for n, (_, c, key, kind, invoke, complete) in enumerate(drafts):
        past = state.setdefault(key, [(None, 0)])
        outcome = "ok"
        if kind == "write":
            value: object = n if values is None else rng.randrange(values)
            if rng.random() < unavailable:
                outcome = "unavailable"
                if rng.random() < 0.5:
                    ops.append((key, kind, value, 0, c, invoke, complete, outcome))
                    continue
            version += 1
            past.append((value, version))
            ops.append((key, kind, value, version, c, invoke, complete, outcome))
        else:
            value, seen = past[-2] if len(past) > 1 and rng.random() < stale else past[-1]
            ops.append((key, kind, value, seen, c, invoke, complete, outcome))
    ops.sort(key=lambda o: o[5])
    return History(
        Operation(
            process=f"c{c}",
            region=regions[c % len(regions)],
            key=key,
            kind=kind,  # type: ignore[arg-type]
            value=value,
            version=v,
            invoke=invoke,
            complete=complete,
            outcome=outcome,  # type: ignore[arg-type]
        )
        for key, kind, value, v, c, invoke, complete, outcome in ops
    )
