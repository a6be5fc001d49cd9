"""Workers KV: central store, per-location read caches with a TTL (misses included) and the
per-key write limit."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgekv
from edgekv import Cluster, Op, OpKind, OpResult, Outcome, Unavailable, default_config
from edgekv.lowlevel import RATE_LIMITED, Kernel, PartitionWindow, WorkersKV

CFG = default_config()
US, JP, UK, DE = "East US", "Japan East", "UK South", "Germany West Central"


def kv(**options: object) -> Cluster:
    return Cluster(CFG, seed=1, system="workers-kv", options=options)


def test_put_get_round_trip_pays_the_rtt_to_the_central_store() -> None:
    async def main() -> None:
        async with kv() as cluster:
            t0 = cluster.now()
            version = await cluster[JP].put("k", {"v": 1})
            assert cluster.now() - t0 == pytest.approx(CFG.rtt[(JP, US)] + CFG.service_time)
            assert version == cluster.store.oracle.latest("k")
            # the writer's location sees its own write at once, from its cache
            hit = await cluster[JP].read("k")
            assert (hit.doc, hit.version) == ({"v": 1}, version)
            assert hit.record.route == "local"
            assert hit.record.latency == pytest.approx(CFG.service_time)
            # a cold read elsewhere fetches from the central store (East US by default)
            cold = await cluster[UK].read("k")
            assert cold.doc == {"v": 1}
            assert cold.record.forwarded
            assert cold.record.served_by == CFG.region(US).index
            assert cold.record.latency == pytest.approx(CFG.rtt[(UK, US)] + CFG.service_time)
            # ... and caches it
            assert (await cluster[UK].read("k")).record.route == "local"
            assert cluster[UK].snapshot() == {"k": {"v": 1}}
            assert cluster[DE].snapshot() == {}
            await cluster.advance(1.0)
            await cluster[UK].patch("k", {"w": 2})
            await cluster.advance(1.0)
            await cluster[US].delete("k")
            assert await cluster[US].get("k") is None
            store = cluster.store
            assert isinstance(store, WorkersKV)
            assert store.central_documents() == {}

    edgekv.run(main(), seed=1)


def test_a_write_is_invisible_at_a_location_for_up_to_cache_ttl_after_a_cached_read() -> None:
    ttl = 45.0

    async def main() -> list[tuple[float, int, int]]:
        async with kv(cache_ttl=ttl) as cluster:
            await cluster[US].put("k", {"v": 1})
            first = await cluster[JP].read("k")
            cached_at = cluster.now()  # the answer reached Japan East now and was cached
            await cluster.advance(1.0)
            v2 = await cluster[US].put("k", {"v": 2})
            seen = []
            for at in (2.0, 20.0, ttl - 0.5, ttl + 0.5):
                await cluster.advance(cached_at + at - cluster.now())
                result = await cluster[JP].read("k")
                seen.append((at, result.version, result.record.stale_versions))
            assert first.version < v2
            return [(at, int(version == v2), stale) for at, version, stale in seen]

    seen = edgekv.run(main(), seed=1)
    # the old value until the cached copy expires (stale: one newer version missed), then v2
    assert seen == [(2.0, 0, 1), (20.0, 0, 1), (ttl - 0.5, 0, 1), (ttl + 0.5, 1, 0)]


def test_a_cached_miss_hides_a_new_key_until_it_expires() -> None:
    async def main() -> list[dict[str, int] | None]:
        async with kv() as cluster:
            assert await cluster[JP].get("new") is None  # caches the miss at Japan East
            cached_at = cluster.now()
            await cluster[US].put("new", {"v": 1})
            assert await cluster[UK].get("new") == {"v": 1}  # no cached miss in London
            out = []
            for at in (10.0, 59.0, 60.5):
                await cluster.advance(cached_at + at - cluster.now())
                out.append(await cluster[JP].get("new"))
            assert cluster.stats()["regions"][JP]["negative_hits"] == 2
            return out

    assert edgekv.run(main(), seed=1) == [None, None, {"v": 1}]


def test_a_second_write_to_a_key_within_a_second_fails_with_a_429() -> None:
    async def main() -> None:
        async with kv() as cluster:
            await cluster[US].put("k", {"v": 1})
            await cluster.advance(0.5)
            with pytest.raises(Unavailable) as failed:
                await cluster[UK].put("k", {"v": 2})
            record = failed.value.record
            assert record.outcome is Outcome.ERROR
            assert record.error == RATE_LIMITED
            assert "429" in record.error
            # the refusal comes from the central store: it costs the round trip
            assert record.latency == pytest.approx(CFG.rtt[(UK, US)] + CFG.service_time)
            await cluster[US].put("other", {"v": 1})  # another key is not limited
            await cluster.advance(0.5)
            await cluster[US].put("k", {"v": 3})  # a second after the first write: accepted
            assert await cluster[US].get("k") == {"v": 3}
            assert cluster.stats()["regions"][UK]["rate_limited"] == 1
            assert [r.outcome for r in cluster.records].count(Outcome.ERROR) == 1

    edgekv.run(main(), seed=1)


def test_a_partition_fails_fetches_and_writes_after_the_timeout_but_not_cached_reads() -> None:
    async def main() -> None:
        async with kv() as cluster:
            await cluster[US].put("k", {"v": 1})
            await cluster[JP].get("k")
            cluster.partition(JP, US)
            assert await cluster[JP].get("k") == {"v": 1}  # cached
            for attempt in (cluster[JP].get("cold"), cluster[JP].put("w", {"v": 1})):
                with pytest.raises(Unavailable) as failed:
                    await attempt
                assert failed.value.record.outcome is Outcome.UNAVAILABLE
                assert failed.value.record.latency == pytest.approx(CFG.request_timeout)
            assert cluster.stats()["regions"][JP]["unavailable"] == 2
            cluster.heal()
            assert await cluster[JP].get("cold") is None
            await cluster.settle()

    edgekv.run(main(), seed=1)


def test_every_operation_completes_exactly_once_and_runs_are_deterministic() -> None:
    def run(seed: int) -> list[tuple[str, int, int, float, str]]:
        kernel = Kernel()
        cfg = CFG.replace(jitter="exp:5ms", partitions=(PartitionWindow(JP, US, 3.0, 20.0),))
        store = WorkersKV(cfg, seed, kernel, cache_ttl=30)
        results: dict[int, list[OpResult]] = {}
        rng = random.Random(seed)
        for i in range(400):
            kind = rng.choice([OpKind.GET, OpKind.GET, OpKind.PUT, OpKind.PATCH, OpKind.DELETE])
            value = None if kind in (OpKind.GET, OpKind.DELETE) else {"i": i}
            op = Op(kind, rng.randrange(9), f"k{rng.randrange(5)}", value)
            results[i] = []
            kernel.call_at(i * 0.1, store.submit, op, results[i].append)
        kernel.run()
        assert all(len(done) == 1 for done in results.values())
        assert store.quiet()
        records = [done[0].record for done in results.values()]
        outcomes = {r.outcome for r in records}
        assert outcomes == {Outcome.OK, Outcome.ERROR, Outcome.UNAVAILABLE}
        assert any(r.stale for r in records)
        return [(r.kind, r.version, r.stale_versions, r.latency, r.outcome) for r in records]

    assert run(3) == run(3)
    assert run(3) != run(4)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"cache_ttl": 29}, "cache_ttl"),
        ({"cache_ttl": "60s"}, "cache_ttl"),
        ({"central": "Mars"}, "central"),
        ({"key_write_interval": -1}, "key_write_interval"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        WorkersKV(CFG, 1, Kernel(), **options)  # type: ignore[arg-type]


def test_unknown_levels_are_refused() -> None:
    store = WorkersKV(CFG, 1, Kernel())
    with pytest.raises(ValueError, match="allowed: eventual"):
        store.submit(Op(OpKind.GET, 0, "k", level="strong"), lambda result: None)
    assert store.in_flight == 0


ops = st.lists(
    st.tuples(
        st.sampled_from([OpKind.GET, OpKind.GET, OpKind.GET, OpKind.PUT, OpKind.PATCH]),
        st.integers(0, 8),  # region
        st.integers(0, 2),  # key
        st.floats(0.0, 120.0),  # when, seconds
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(steps=ops, ttl=st.sampled_from([30.0, 60.0]), central=st.sampled_from([US, JP]))
def test_reads_lag_at_most_cache_ttl_plus_half_the_rtt_and_writes_are_a_second_apart(
    steps: list[tuple[OpKind, int, int, float]], ttl: float, central: str
) -> None:
    """A read misses no write committed more than ``cache_ttl`` + service + RTT/2 before it
    started (its cached answer left the central store at most that long ago), and the writes
    the central store accepts to one key are at least a second apart."""
    kernel = Kernel()
    store = WorkersKV(CFG, 1, kernel, cache_ttl=ttl, central=central)
    c = CFG.region(central).index
    done: list[OpResult] = []
    for kind, region, key, when in steps:
        value = None if kind == OpKind.GET else {"v": when}
        kernel.call_at(when, store.submit, Op(kind, region, f"k{key}", value), done.append)
    kernel.run()
    assert len(done) == len(steps)
    for result in done:
        rec = result.record
        if rec.kind == OpKind.GET:
            bound = ttl + CFG.service_time + store.latency.rtt[rec.region][c] / 2
            assert rec.stale_seconds <= bound + 1e-9
    for name in {f"k{key}" for _, _, key, _ in steps}:
        times = [t for _, t in store.oracle.history(name)]
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))


def test_kernel_and_asyncio_drivers_agree() -> None:
    plan = [(0.0, OpKind.PUT, 4), (0.05, OpKind.GET, 2), (0.3, OpKind.GET, 2)]
    plan += [(1.2, OpKind.PATCH, 8), (1.5, OpKind.PUT, 4), (2.0, OpKind.GET, 8)]
    cfg = CFG.replace(jitter="exp:5ms")
    kernel = Kernel()
    store = WorkersKV(cfg, 7, kernel)
    out: list[OpResult] = []
    for when, kind, region in plan:
        value = None if kind == OpKind.GET else {"t": when}
        kernel.call_at(when, store.submit, Op(kind, region, "k", value), out.append)
    kernel.run()

    async def main() -> list[OpResult]:
        async with Cluster(cfg, seed=7, system="workers-kv") as cluster:
            done: list[OpResult] = []
            for when, kind, region in plan:
                await cluster.advance(when - cluster.now())
                value = None if kind == OpKind.GET else {"t": when}
                cluster.store.submit(Op(kind, region, "k", value), done.append)
            await cluster.settle()
            return done

    done = edgekv.run(main(), seed=7)
    assert [r.record for r in out] == [r.record for r in done]
    assert {r.record.outcome for r in done} == {Outcome.OK, Outcome.ERROR}
