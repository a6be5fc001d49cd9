"""The Durable-Object-style single-home baseline."""

from __future__ import annotations

import pytest

import edgekv
from edgekv import Cluster, Op, OpKind, OpResult, default_config
from edgekv.lowlevel import WRITE_FLUSH, Kernel, SingleHome, SingleHomeCluster

CFG = default_config()
PAIRS = [("Japan East", "East US"), ("East US", "Japan East"), ("Brazil South", "Southeast Asia")]


@pytest.mark.parametrize(("reader", "home"), PAIRS)
def test_remote_read_costs_exactly_rtt_plus_service(reader: str, home: str) -> None:
    async def main() -> tuple[float, float]:
        async with SingleHomeCluster(CFG, seed=1) as cluster:
            await cluster[home].put("k", {"v": 1})
            t0 = cluster.now()
            result = await cluster[reader].read("k")
            assert result.doc == {"v": 1}
            assert result.record.served_by == CFG.region(home).index
            assert result.record.forwarded
            return cluster.now() - t0, result.record.latency

    elapsed, latency = edgekv.run(main(), seed=1)
    expected = CFG.rtt[(reader, home)] + CFG.service_time
    assert latency == pytest.approx(expected, abs=1e-9)
    assert elapsed == pytest.approx(expected, abs=1e-9)


def test_writes_pay_the_round_trip_and_the_home_never_moves() -> None:
    async def main() -> None:
        async with SingleHomeCluster(CFG, seed=1) as cluster:
            us, uk = cluster["East US"], cluster["UK South"]
            await uk.put("k", {"a": 1})
            t0 = cluster.now()
            await us.patch("k", {"b": 2})
            # the round trip, the service time and the storage flush
            expected = CFG.rtt[("East US", "UK South")] + 0.001 + WRITE_FLUSH
            assert cluster.now() - t0 == pytest.approx(expected)
            for _ in range(10):
                await us.get("k")
            assert cluster.home_of("k") == "UK South"
            assert await us.get("k") == {"a": 1, "b": 2}
            await us.delete("k")
            assert await uk.get("k") is None
            assert cluster.stats()["regions"]["UK South"]["homes"] == 1

    edgekv.run(main(), seed=1)


def test_migrate_after_moves_the_object_and_latency_drops_to_local() -> None:
    async def main() -> list[float]:
        async with SingleHomeCluster(CFG, seed=1, migrate_after=3) as cluster:
            await cluster["East US"].put("k", {"v": 1})
            jp = cluster["Japan East"]
            latencies = [(await jp.read("k")).record.latency for _ in range(5)]
            assert cluster.home_of("k") == "Japan East"
            assert cluster.stats()["migrations"] == 1
            return latencies

    latencies = edgekv.run(main(), seed=1)
    remote = CFG.rtt[("Japan East", "East US")] + CFG.service_time
    assert latencies == pytest.approx([remote] * 3 + [CFG.service_time] * 2, abs=1e-9)


def test_location_hint_places_the_first_write() -> None:
    async def main() -> None:
        async with SingleHomeCluster(CFG, seed=1) as cluster:
            result = await cluster["East US"].put("k", {"v": 1}, location_hint="Japan East")
            assert cluster.home_of("k") == "Japan East"
            assert result > 0
            assert (await cluster["Japan East"].read("k")).record.route == "local"

    edgekv.run(main(), seed=1)


def test_operations_on_a_key_are_serialized_at_the_home() -> None:
    async def main() -> None:
        no_flush = {"write_flush": 0.0}  # answers in arrival order
        async with Cluster(CFG, seed=1, system="single-home", options=no_flush) as cluster:
            store = cluster.store
            results: list[OpResult] = []
            await cluster["UK South"].put("k", {"n": 0})
            for i in range(1, 6):
                store.submit(Op(OpKind.PATCH, 2, "k", {"n": i}), results.append)
            store.submit(Op(OpKind.GET, 2, "k"), results.append)
            await cluster.settle()
            waits = [r.record.waited for r in results]
            assert waits == pytest.approx([0.001 * i for i in range(6)])
            versions = [r.version for r in results]
            assert versions == sorted(versions)
            assert results[-1].doc == {"n": 5}
            assert results[-1].version == store.oracle.latest("k")

    edgekv.run(main(), seed=1)


def test_reads_are_linearizable_under_concurrent_writers() -> None:
    async def main() -> None:
        async with SingleHomeCluster(CFG.replace(jitter="exp:20ms"), seed=4) as cluster:
            store = cluster.store
            done: list[OpResult] = []
            for step in range(60):
                region = step % 9
                if step % 3:
                    store.submit(
                        Op(OpKind.PATCH, region, "k", {"r": region, "s": step}), done.append
                    )
                else:
                    store.submit(Op(OpKind.GET, region, "k"), done.append)
                await cluster.advance(0.013)
            await cluster.settle()
            for result in done:
                rec = result.record
                if rec.kind != "get":
                    continue
                # every write acknowledged before the read started is visible to it
                acked = [
                    r.version
                    for r in done
                    if r.record.kind == "patch" and r.record.start + r.record.latency < rec.start
                ]
                assert result.version >= max(acked, default=0)
                assert rec.stale_versions == 0

    edgekv.run(main(), seed=4)


def test_kernel_and_asyncio_drivers_agree() -> None:
    kernel = Kernel()
    store = SingleHome(CFG, 7, kernel, migrate_after=2)
    out: list[OpResult] = []
    for i, region in enumerate([0, 4, 4, 4, 8, 0]):
        kernel.call_at(i * 0.5, store.submit, Op(OpKind.PATCH, region, "k", {"i": i}), out.append)
    kernel.run()

    async def main() -> list[float]:
        async with SingleHomeCluster(CFG, seed=7, migrate_after=2) as cluster:
            latencies = []
            for i, region in enumerate([0, 4, 4, 4, 8, 0]):
                await cluster.advance(i * 0.5 - cluster.now())
                name = CFG.names[region]
                await cluster[name].patch("k", {"i": i})
                latencies.append(cluster.records[-1].latency)
            return latencies

    assert [r.record.latency for r in out] == edgekv.run(main(), seed=7)


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="migrate_after"):
        SingleHomeCluster(migrate_after=0)
    with pytest.raises(ValueError, match="allowed: get, put, patch, delete"):
        SingleHome(CFG, 1, Kernel()).submit(Op("upsert", 0, "k"), print)  # type: ignore[arg-type]

    async def main() -> None:
        async with SingleHomeCluster(CFG) as cluster:
            with pytest.raises(KeyError, match="unknown region"):
                await cluster["East US"].put("k", {}, location_hint="Mars")
            with pytest.raises(TypeError, match="keys are strings"):
                await cluster["East US"].get(3)  # type: ignore[arg-type]
            assert cluster.home_of("k") is None

    edgekv.run(main())


def test_a_jurisdiction_never_places_a_home_outside_it_whatever_the_hint() -> None:
    kernel = Kernel()
    store = SingleHome(CFG, 1, kernel, jurisdiction="eu")
    inside = {CFG.region("Germany West Central").index}
    hints: list[int | str | None] = [None, "apac", "wnam", "oc", 0, 5]
    for i, region in enumerate(range(len(CFG.regions))):
        for j, hint in enumerate(hints):
            op = Op(OpKind.PUT, region, f"k{i}-{j}", {"v": 1}, location_hint=hint)
            store.submit(op, lambda result: None)
    kernel.run()
    assert {store.home_of(key) for key in store.objects} == inside
    with pytest.raises(ValueError, match="jurisdiction must be one of eu, us, fedramp"):
        SingleHome(CFG, 1, Kernel(), jurisdiction="mars")
    with pytest.raises(ValueError, match="hosts: unknown region 'Atlantis'"):
        SingleHome(CFG, 1, Kernel(), hosts=["Atlantis"])


def test_hint_names_place_objects_in_their_area_or_the_nearest_host() -> None:
    store = SingleHome(CFG, 1, Kernel())
    names = CFG.names
    assert names[store.home_for(0, "weur")] == "UK South"
    assert names[store.home_for(0, "oc")] == "Australia East"
    assert names[store.home_for(0, "me")] == "Central India"  # no Middle East region: nearest
    # A region that hosts no objects sends its users' objects to the nearest host.
    no_japan = SingleHome(CFG, 1, Kernel(), hosts=[n for n in names if n != "Japan East"])
    assert names[no_japan.home_for(CFG.region("Japan East").index, None)] == "Southeast Asia"


def test_a_write_answers_after_its_storage_flush_a_read_does_not() -> None:
    kernel = Kernel()
    store = SingleHome(CFG, 1, kernel, write_flush=0.012)
    out: list[OpResult] = []
    kernel.call_at(0.0, store.submit, Op(OpKind.PUT, 0, "k", {"v": 1}), out.append)
    kernel.call_at(1.0, store.submit, Op(OpKind.GET, 0, "k"), out.append)
    kernel.run()
    write, read = (r.record for r in out)
    assert write.latency == pytest.approx(CFG.service_time + 0.012)
    assert read.latency == pytest.approx(CFG.service_time)


def test_history_of_a_single_home_cluster_is_visible_everywhere_at_commit() -> None:
    """One copy: a write is visible in every region from its commit at home, which is one
    one-way trip after the client sent it; the history also lists writes in commit order."""
    cluster = Cluster(CFG, seed=1, system="single-home")
    cluster.sync["East US"].put("k", {"v": 1}, location_hint="Japan East")
    cluster.sync["UK South"].patch("k", {"w": 2})
    first, second = cluster.history.for_key("k")
    assert (first.region, first.doc, second.region, second.doc) == (
        "East US",
        {"v": 1},
        "UK South",
        {"v": 1, "w": 2},
    )
    assert first.at == pytest.approx(CFG.rtt[("East US", "Japan East")] / 2)
    assert all(first.lag(name) == 0 for name in cluster.regions)
    assert first.version < second.version and first.at < second.at
    cluster.close()
