"""Hypothesis strategies shared by the tests (the attrs model: one place for generators)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from edgekv.check import Operation
from edgekv.lowlevel import make_version

FIELDS = ("stars", "tier", "email", "country")
REGIONS = ("East US", "UK South", "Japan East")

field_values = st.one_of(st.integers(-5, 200), st.text(max_size=4), st.booleans(), st.none())
documents = st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=3)


versions = st.builds(make_version, st.integers(0, 50), st.integers(0, 3), st.integers(0, 2))
"""A packed version: (ms, logical, region)."""


# An op is (kind, version, payload): a put's document, a patch's fields, or None for delete.
Op = tuple[str, int, Any]


@st.composite
def op_lists(draw: st.DrawFn, min_size: int = 1, max_size: int = 8) -> list[Op]:
    """Writes to one key with distinct versions (versions are unique), in no particular order."""
    vs = draw(st.lists(versions, min_size=min_size, max_size=max_size, unique=True))
    ops: list[Op] = []
    for v in vs:
        kind = draw(st.sampled_from(("put", "patch", "delete")))
        ops.append((kind, v, None if kind == "delete" else draw(documents)))
    return ops


# ---- histories for edgekv.check ----

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
"""Any JSON-able value a register may hold."""


@st.composite
def operations(draw: st.DrawFn) -> Operation:
    """One arbitrary Operation with nanosecond-exact times (so file round trips are exact)."""
    start = draw(st.integers(0, 10**12))
    kind = draw(st.sampled_from(("read", "write")))
    return Operation(
        process=draw(st.sampled_from(("alice", "bob", "shop", "p 1"))),
        region=draw(st.sampled_from(REGIONS)),
        key=draw(st.text(max_size=5)),
        kind=kind,
        value=draw(json_values),
        version=draw(st.integers(0, 2**62)),
        invoke=start / 1e9,
        complete=(start + draw(st.integers(0, 10**9))) / 1e9,
        outcome=draw(st.sampled_from(("ok", "ok", "unavailable", "error"))),
    )


@st.composite
def register_histories(
    draw: st.DrawFn, max_ops: int = 8, keys: tuple[str, ...] = ("x",)
) -> list[Operation]:
    """Small register histories: operations take effect at a drawn instant inside their
    interval (linearizable), unless ``corrupt`` then replaces one read's value. Integer
    times give ties; few values give repeats; some writes end unavailable (applied or not).
    At one instant, an operation that took time and ends there takes effect before those
    that begin there, as :func:`~edgekv.check.precedes` orders them."""
    drafts = []
    for i in range(draw(st.integers(1, max_ops))):
        invoke = draw(st.integers(0, 12))
        complete = invoke + draw(st.integers(0, 6))
        point = draw(st.integers(invoke, complete))
        kind = draw(st.sampled_from(("read", "write")))
        outcome = draw(st.sampled_from(("ok", "ok", "ok", "unavailable")))
        applied = outcome == "ok" or draw(st.booleans())
        value = draw(st.integers(0, 2))
        drafts.append(
            (
                point,
                not (point == complete and invoke < complete),
                i,
                kind,
                draw(st.sampled_from(keys)),
                value,
                outcome,
                applied,
                invoke,
                complete,
                draw(st.sampled_from(("p0", "p1", "p2"))),
            )
        )
    state: dict[str, tuple[Any, int]] = {}
    ops = []
    version = 0
    for _point, _late, i, kind, key, value, outcome, applied, invoke, complete, process in sorted(
        drafts
    ):
        if kind == "write":
            if applied:
                version += 1
                state[key] = (value, version)
            v = version if applied else 0
        else:
            value, v = state.get(key, (None, 0))
        ops.append(
            (
                i,
                Operation(
                    process,
                    REGIONS[i % 3],
                    key,
                    kind,
                    value,
                    v,
                    float(invoke),
                    float(complete),
                    outcome,
                ),
            )
        )
    history = [op for _, op in sorted(ops, key=lambda item: item[0])]
    reads = [i for i, op in enumerate(history) if op.kind == "read" and op.ok]
    if reads and draw(st.booleans()):
        i = draw(st.sampled_from(reads))
        history[i] = dataclasses.replace(history[i], value=draw(st.none() | st.integers(0, 2)))
    return history


@dataclass(frozen=True)
class WriteStep:
    """One write of a convergence schedule, at ``at`` seconds."""

    at: float
    region: int
    kind: str
    key: str
    fields: dict[str, int] | None


@dataclass(frozen=True)
class Schedule:
    """Writes and cuts for a convergence run, plus the network and store settings; a failing
    run shrinks to the fewest writes and cuts that still break convergence."""

    seed: int
    loss: float
    duplicate: float
    granularity: str
    batch_window: str
    compact: bool
    writes: tuple[WriteStep, ...]
    cuts: tuple[tuple[float, int, int], ...]
    """``(at, a, b)``: cut the link between regions ``a`` and ``b`` at ``at`` (healed at 4 s)."""


_STEP_TIMES = st.integers(0, 350).map(lambda centis: centis / 100)

write_steps = st.builds(
    WriteStep,
    at=_STEP_TIMES,
    region=st.integers(0, 3),
    kind=st.sampled_from(("put", "patch", "patch", "delete")),
    key=st.sampled_from(("k0", "k1", "k2")),
    fields=st.dictionaries(st.sampled_from(("x", "y", "z")), st.integers(0, 9), max_size=2),
).map(lambda s: s if s.kind != "delete" else WriteStep(s.at, s.region, s.kind, s.key, None))


@st.composite
def _cut(draw: st.DrawFn) -> tuple[float, int, int]:
    a, b = draw(st.lists(st.integers(0, 3), min_size=2, max_size=2, unique=True))
    return (draw(st.integers(0, 300).map(lambda c: c / 100)), a, b)


convergence_schedules = st.builds(
    Schedule,
    seed=st.integers(0, 2**16),
    loss=st.sampled_from((0.0, 0.1, 0.3)),
    duplicate=st.sampled_from((0.0, 0.2)),
    granularity=st.sampled_from(("field", "item")),
    batch_window=st.sampled_from(("0ms", "50ms")),
    compact=st.booleans(),
    writes=st.lists(write_steps, min_size=1, max_size=30).map(tuple),
    cuts=st.lists(_cut(), max_size=3).map(tuple),
)
"""Explicit convergence schedules: Hypothesis shrinks a failure to a minimal list of writes and
cuts (the seed only draws the network's lags, loss and duplication)."""
