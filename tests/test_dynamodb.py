"""DynamoDB global tables: ``dynamodb-mrec`` (eventual, item-level LWW) and ``dynamodb-mrsc``
(majority round trips, write conflicts), through Cluster and directly on a Kernel."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

import edgekv
from edgekv import Cluster, ConfigError, Op, OpKind, OpResult, Outcome, Unavailable, default_config
from edgekv.lowlevel import CONFLICT, GlobalTableMREC, GlobalTableMRSC, Kernel, Route, make_store

CFG = default_config()
IDX = {name: CFG.region(name).index for name in CFG.names}


def _rtt(a: str, b: str) -> float:
    return 0.0 if a == b else CFG.rtt[(a, b)]


def _random_run(
    system: str,
    seed: int,
    n: int = 1500,
    duration: float = 30.0,
    isolate: str | None = None,
    **options: Any,
) -> tuple[Any, dict[int, list[OpResult]]]:
    """``n`` random operations from every region on a few keys, on a Kernel; ``isolate``
    cuts that region off from 10 s to 15 s."""
    kernel = Kernel()
    store = make_store(system, CFG, seed, kernel, **options)
    if isolate is not None:
        kernel.call_at(10.0, store.network.isolate, isolate)
        kernel.call_at(15.0, store.network.heal)
    rng = np.random.default_rng([seed, 7])
    results: dict[int, list[OpResult]] = {}
    levels = store.levels
    for i in range(n):
        when = float(rng.uniform(0, duration))
        region = int(rng.integers(len(CFG.regions)))
        key = f"k{int(rng.integers(4))}"
        u = float(rng.random())
        if u < 0.3:
            op = Op(OpKind.PATCH, region, key, {f"f{int(rng.integers(3))}": i})
        elif u < 0.4:
            op = Op(OpKind.PUT, region, key, {"v": i})
        elif u < 0.45:
            op = Op(OpKind.DELETE, region, key)
        else:
            op = Op(OpKind.GET, region, key, level=levels[int(rng.integers(len(levels)))])
        kernel.call_at(when, store.submit, op, lambda r, i=i: results.setdefault(i, []).append(r))
    kernel.run()
    assert store.quiet()
    return store, results


# -- dynamodb-mrec --------------------------------------------------------------------------


def test_mrec_round_trip_is_local_and_replicates_after_the_lag() -> None:
    async def main() -> None:
        async with Cluster(CFG, seed=1, system="dynamodb-mrec") as cluster:
            us, uk = cluster["East US"], cluster["UK South"]
            version = await us.put("k", {"a": 1})
            mine = await us.read("k")
            assert (mine.doc, mine.version) == ({"a": 1}, version)
            assert mine.record.route is Route.LOCAL
            assert mine.record.latency == pytest.approx(CFG.service_time)
            early = await uk.read("k", "strong")  # strong is consistent only in its region
            assert early.doc is None and early.record.stale_versions == 1
            await cluster.settle()
            assert await uk.get("k", "strong") == {"a": 1}
            assert cluster.converged()

    edgekv.run(main(), seed=1)


def test_mrec_loses_one_of_two_concurrent_field_updates_where_field_lww_keeps_both() -> None:
    async def final(system: str, **overrides: Any) -> list[dict[str, Any]]:
        async with Cluster(CFG, seed=3, system=system, **overrides) as cluster:
            await cluster["East US"].put("k", {"x": 0})
            await cluster.settle()
            await asyncio.gather(
                cluster["East US"].patch("k", {"a": 1}), cluster["West US"].patch("k", {"b": 2})
            )
            await cluster.settle()
            return [cluster[name].snapshot()["k"] for name in CFG.names]

    mrec = edgekv.run(final("dynamodb-mrec"), seed=3)
    assert all(doc == mrec[0] for doc in mrec)
    assert mrec[0] in ({"x": 0, "a": 1}, {"x": 0, "b": 2})
    fields = edgekv.run(final("replicated", granularity="field"), seed=3)
    assert all(doc == {"x": 0, "a": 1, "b": 2} for doc in fields)


def test_mrec_lag_option_sets_when_a_region_sees_a_write() -> None:
    kernel = Kernel()
    store = GlobalTableMREC(CFG, 1, kernel, lag=0.2)
    done: list[OpResult] = []
    store.submit(Op(OpKind.PUT, IDX["East US"], "k", {"v": 1}), done.append)
    arrival = _rtt("East US", "UK South") / 2 + 0.2
    kernel.run(until=arrival - 1e-6)
    assert "k" not in store.documents(IDX["UK South"])
    kernel.run(until=arrival + 1e-6)
    assert store.documents(IDX["UK South"])["k"] == {"v": 1}
    kernel.run()
    assert len(done) == 1 and done[0].record.ok and store.quiet()


def test_mrec_items_replicate_independently_not_in_write_order() -> None:
    kernel = Kernel()
    store = GlobalTableMREC(CFG, 5, kernel)
    keys = [f"item{i:02d}" for i in range(30)]
    for i, key in enumerate(keys):
        kernel.call_at(i * 0.01, store.submit, Op(OpKind.PUT, 0, key, {"i": i}), lambda r: None)
    out_of_order = False
    for step in range(1, 400):
        kernel.run(until=step * 0.01)
        seen = [key in store.documents(IDX["Japan East"]) for key in keys]
        written = min(len(keys), step)
        # Some later item is visible while an earlier one is not.
        out_of_order |= any(seen[j] and not seen[i] for i in range(written) for j in range(i))
    kernel.run()
    assert out_of_order
    assert set(store.documents(IDX["Japan East"])) == set(keys)


def test_mrec_partition_holds_replication_until_heal_and_writes_stay_available() -> None:
    async def main() -> None:
        async with Cluster(CFG, seed=2, system="dynamodb-mrec") as cluster:
            cluster.partition("East US", "UK South")
            await cluster["East US"].put("k", {"v": 1})  # local: no request crosses a region
            await cluster.advance(5.0)
            assert cluster["Japan East"].snapshot() == {"k": {"v": 1}}
            assert cluster["UK South"].snapshot() == {}
            cluster.heal()
            await cluster.settle()
            assert cluster.converged()
            assert cluster.stats()["requests"]["lost"] > 0

    edgekv.run(main(), seed=2)


def test_mrec_every_op_completes_once_and_runs_are_deterministic() -> None:
    store, results = _random_run("dynamodb-mrec", seed=11, n=600)
    assert sorted(results) == list(range(600))
    assert all(len(r) == 1 and r[0].record.ok for r in results.values())
    # Reads at both levels are local, so both see replication lag.
    stale = {lvl: store.counts.get(f"{lvl}/stale", 0) for lvl in ("eventual", "strong")}
    assert stale["eventual"] > 0 and stale["strong"] > 0
    _, again = _random_run("dynamodb-mrec", seed=11, n=600)
    assert [r[0] for r in again.values()] == [r[0] for r in results.values()]


@pytest.mark.parametrize("lag", ["bogus", -1.0, {"dist": "nope"}, True])
def test_mrec_bad_lag_is_a_config_error_naming_the_option(lag: Any) -> None:
    with pytest.raises(ConfigError, match=r"systems\.dynamodb-mrec\.lag"):
        make_store("dynamodb-mrec", CFG, 1, Kernel(), lag=lag)


# -- dynamodb-mrsc --------------------------------------------------------------------------


def test_mrsc_default_members_are_the_largest_region_and_its_nearest() -> None:
    store = GlobalTableMRSC(CFG, 1, Kernel())
    assert [CFG.names[m] for m in store.replicas] == ["East US", "West US", "UK South"]
    assert store.witness is None
    assert store.entry[IDX["Japan East"]] == IDX["West US"]
    assert store.entry[IDX["Brazil South"]] == IDX["East US"]


@pytest.mark.parametrize("client", CFG.names)
def test_mrsc_write_and_strong_read_pay_the_round_trip_to_the_nearest_majority_peer(
    client: str,
) -> None:
    async def main() -> tuple[float, float, float]:
        async with Cluster(CFG, seed=1, system="dynamodb-mrsc") as cluster:
            store = cluster.store
            assert isinstance(store, GlobalTableMRSC)
            entry = CFG.names[store.entry[IDX[client]]]
            t0 = cluster.now()
            await cluster[client].put("k", {"v": 1})
            write = cluster.now() - t0
            strong = await cluster[client].read("k", "strong")
            eventual = await cluster[client].read("k", "eventual")
            assert strong.doc == {"v": 1}
            assert strong.record.route is Route.FORWARDED
            peer = min(_rtt(entry, n) for n in ("East US", "West US", "UK South") if n != entry)
            to_entry = _rtt(client, entry)
            expected = to_entry + peer + CFG.service_time
            assert write == pytest.approx(expected, abs=1e-9)
            assert strong.record.latency == pytest.approx(expected, abs=1e-9)
            assert eventual.record.latency == pytest.approx(to_entry + CFG.service_time)
            return write, peer, to_entry

    write, peer, to_entry = edgekv.run(main(), seed=1)
    assert write >= peer + to_entry


def test_mrsc_strong_reads_are_never_stale_over_a_random_run() -> None:
    store, results = _random_run("dynamodb-mrsc", seed=4)
    assert sorted(results) == list(range(1500))
    assert all(len(r) == 1 for r in results.values())
    records = [r[0].record for r in results.values()]
    strong = [r for r in records if r.kind == OpKind.GET and r.consistency == "strong" and r.ok]
    eventual = [r for r in records if r.kind == OpKind.GET and r.consistency == "eventual"]
    assert len(strong) > 300
    assert sum(r.stale_versions for r in strong) == 0
    assert any(r.stale for r in eventual)  # the same scoring does catch stale reads
    writes = [r for r in records if r.kind != OpKind.GET]
    errors = [r for r in writes if r.outcome is Outcome.ERROR]
    assert errors and all(r.error.startswith(CONFLICT) for r in errors)
    assert store.conflicts == len(errors)
    nearest = {
        m: min(_rtt(CFG.names[m], CFG.names[p]) for p in store.peers[m]) for m in store.peers
    }
    for r in writes:
        if r.ok:
            assert r.latency >= nearest[store.entry[r.region]]


@pytest.mark.parametrize("system", ["dynamodb-mrec", "dynamodb-mrsc"])
def test_every_op_completes_exactly_once_through_an_isolation(system: str) -> None:
    store, results = _random_run(system, seed=6, n=800, isolate="East US")
    assert sorted(results) == list(range(800))
    assert all(len(r) == 1 for r in results.values())
    records = [r[0].record for r in results.values()]
    unavailable = [r for r in records if r.outcome is Outcome.UNAVAILABLE]
    if system == "dynamodb-mrec":
        assert not unavailable  # every operation is local
    else:
        assert unavailable and all(
            r.latency == pytest.approx(CFG.request_timeout) for r in unavailable
        )
        strong = [r for r in records if r.consistency == "strong" and r.kind == OpKind.GET]
        assert not any(r.stale for r in strong)
    replicas = getattr(store, "replicas", range(len(CFG.regions)))
    first = store.documents(replicas[0])
    assert all(store.documents(m) == first for m in replicas)  # converged after the heal


def test_mrsc_concurrent_writes_from_two_members_conflict_and_one_member_queues() -> None:
    async def main() -> None:
        async with Cluster(CFG, seed=1, system="dynamodb-mrsc") as cluster:
            us, west = cluster["East US"], cluster["West US"]
            await us.put("k", {"x": 0})
            outcomes = await asyncio.gather(
                us.patch("k", {"a": 1}), west.patch("k", {"b": 2}), return_exceptions=True
            )
            failed = [o for o in outcomes if isinstance(o, Unavailable)]
            assert len(failed) == 1
            assert failed[0].record.outcome is Outcome.ERROR
            assert CONFLICT in failed[0].record.error
            assert await west.get("k", "strong") == {"x": 0, "a": 1}
            # Two writes through the same member are serialized, not refused.
            first, second = await asyncio.gather(us.patch("k", {"c": 3}), us.patch("k", {"d": 4}))
            assert second > first
            assert cluster.records[-1].waited > 0 or cluster.records[-2].waited > 0
            assert await west.get("k", "strong") == {"x": 0, "a": 1, "c": 3, "d": 4}
            await cluster.settle()
            assert cluster["UK South"].snapshot() == {"k": {"x": 0, "a": 1, "c": 3, "d": 4}}

    edgekv.run(main(), seed=1)


def test_mrsc_isolated_member_fails_writes_and_strong_reads_after_the_timeout() -> None:
    async def main() -> None:
        async with Cluster(CFG, seed=1, system="dynamodb-mrsc") as cluster:
            us = cluster["East US"]
            await us.put("k", {"v": 1})
            await cluster.settle()
            cluster.isolate("East US")
            for call in (us.put("k", {"v": 2}), us.read("k", "strong")):
                with pytest.raises(Unavailable) as info:
                    await call
                assert info.value.record.outcome is Outcome.UNAVAILABLE
                assert info.value.record.latency == pytest.approx(CFG.request_timeout)
            assert await us.get("k", "eventual") == {"v": 1}  # the local replica still reads
            await cluster["West US"].put("k", {"v": 3})  # West US and UK South are a majority
            assert await cluster["UK South"].get("k", "strong") == {"v": 3}
            cluster.heal()
            await cluster.settle()
            assert us.snapshot() == {"k": {"v": 3}}

    edgekv.run(main(), seed=1)


def test_mrsc_witness_keeps_a_majority_but_holds_no_replica() -> None:
    options = {"regions": ["East US", "West US"], "witness": "UK South"}

    async def main() -> None:
        async with Cluster(CFG, seed=1, system="dynamodb-mrsc", options=options) as cluster:
            cluster.partition("East US", "West US")
            t0 = cluster.now()
            await cluster["East US"].put("k", {"v": 1})  # majority through the witness
            assert cluster.now() - t0 == pytest.approx(
                _rtt("East US", "UK South") + CFG.service_time
            )
            assert cluster["UK South"].snapshot() == {}
            read = await cluster["UK South"].read("k", "strong")  # served by East US
            assert read.doc == {"v": 1}
            assert read.record.served_by == IDX["East US"]
            assert cluster.stats()["witness"] == "UK South"

    edgekv.run(main(), seed=1)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"regions": ["East US", "West US"]}, "regions"),
        ({"regions": ["East US", "West US", "Mars"]}, r"regions\[2\]"),
        ({"regions": "East US"}, "regions"),
        ({"regions": ["East US", "West US"], "witness": "Nowhere"}, "witness"),
        ({"regions": ["East US", "West US"], "witness": "West US"}, "witness"),
        ({"regions": ["East US", "East US", "West US"]}, "regions"),
        ({"witness": 3}, "witness"),
    ],
)
def test_mrsc_bad_members_are_config_errors_naming_the_field(
    options: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError, match=rf"systems\.dynamodb-mrsc.*{field}"):
        make_store("dynamodb-mrsc", CFG, 1, Kernel(), **options)


def test_mrsc_default_members_with_a_witness() -> None:
    store = GlobalTableMRSC(CFG, 1, Kernel(), witness="West US")
    assert [CFG.names[m] for m in store.replicas] == ["East US", "UK South"]
    assert store.witness == IDX["West US"]
