"""Hypothesis strategies shared by the tests (the attrs model: one place for generators)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

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


schedules = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**16),
        "loss": st.sampled_from((0.0, 0.1, 0.3)),
        "duplicate": st.sampled_from((0.0, 0.2)),
        "granularity": st.sampled_from(("field", "item")),
        "batch_window": st.sampled_from(("0ms", "50ms")),
        "compact": st.booleans(),
    }
)
"""Network and store settings for convergence runs."""
