"""Staleness scoring by the oracle: a read misses exactly the committed writes whose delta
would still change the record it returned, at both granularities (the reference is the CRDT's
own join); and the field-granularity repro of issue 17 end to end."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import edgekv
from edgekv import Cluster, default_config
from edgekv.lowlevel import Constant, Oracle, Record, crdt_for

FIELDS = ("a", "b", "c")

writes = st.lists(
    st.tuples(
        st.sampled_from(["put", "patch", "patch", "delete"]),
        st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True),
        st.booleans(),  # delivered to the replica that is read
    ),
    min_size=1,
    max_size=12,
)


@given(writes=writes, granularity=st.sampled_from(["field", "item"]), order=st.randoms())
def test_score_counts_exactly_the_writes_the_record_lacks(
    writes: list[tuple[str, list[str], bool]], granularity: str, order: object
) -> None:
    crdt = crdt_for(granularity)
    oracle = Oracle(granularity=granularity)
    deltas: list[tuple[int, float, Record]] = []
    origin: Record | None = None  # the writer's state, so item patches merge as they would
    for i, (kind, fields, _) in enumerate(writes):
        version = (i + 1) << 8
        if kind == "put":
            delta = crdt.put(origin, dict.fromkeys(fields, i), version)
        elif kind == "patch":
            delta = crdt.patch(origin, dict.fromkeys(fields, i), version)
        else:
            delta = crdt.delete(version)
        origin = crdt.join(origin, delta)
        oracle.commit("k", version, float(i), fields if kind == "patch" else None)
        deltas.append((version, float(i), delta))
    delivered = [d for d, (_, _, seen) in zip(deltas, writes, strict=True) if seen]
    order.shuffle(delivered)  # type: ignore[attr-defined]
    rec: Record | None = None
    for _, _, delta in delivered:
        rec = crdt.join(rec, delta)
    want = [(v, t) for v, t, delta in deltas if rec is None or crdt.join(rec, delta) != rec]
    behind, seconds = oracle.score("k", rec, deltas[-1][0], start=100.0)
    assert oracle.missed == want
    assert behind == len(want)
    assert seconds == (100.0 - want[0][1] if want else 0.0)


def test_score_ignores_writes_committed_after_the_read_began() -> None:
    oracle = Oracle(granularity="field")
    oracle.commit("k", 1 << 8, 0.0, None)
    oracle.commit("k", 2 << 8, 5.0, ["a"])
    assert oracle.score("k", None, 2 << 8, start=1.0) == (1, 1.0)
    assert oracle.missed == [(1 << 8, 0.0)]


def test_a_newer_write_to_another_field_does_not_hide_a_missed_purchase() -> None:
    """Issue 17: a purchase in East US, an appVersion write in West US 10 ms later, a read in
    UK South 200 ms later returns the old stars: it is stale (it used to score fresh, since
    the replica's newest version was the newest committed)."""
    cfg = default_config().replace(
        lag="constant:50ms",
        anti_entropy=None,
        link_lag={("East US", "UK South"): Constant(5.0)},
    )

    async def main() -> None:
        async with Cluster(cfg, seed=1) as cluster:
            us, west, uk = cluster["East US"], cluster["West US"], cluster["UK South"]
            await us.put("u", {"appVersion": "5.0.0", "customData": {"stars": 90}})
            await cluster.settle()
            await us.patch("u", {"customData": {"stars": 100}})
            await cluster.advance(0.01)
            await west.patch("u", {"appVersion": "5.1.0"})
            await cluster.advance(0.2)
            read = await uk.read("u")
            assert read.doc == {"appVersion": "5.1.0", "customData": {"stars": 90}}
            assert read.version == cluster["West US"].version("u")
            assert read.record.stale_versions == 1
            # the patches returned after their 1 ms service: 10 + 200 + 2 x 1 ms
            assert abs(read.record.stale_ms - 212.0) < 1e-6
            assert cluster.store.counts["eventual/stale"] == 1

    edgekv.run(main(), seed=1)
