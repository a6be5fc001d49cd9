"""Consistency levels of ``Cluster.get``: session guarantees, strong and bounded freshness
against the oracle, and eventual staleness at the rate the lag distribution predicts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgekv
from edgekv._cluster import Cluster
from edgekv._config import default_config
from edgekv._consistency import Coordinator, OpResult, Session
from edgekv._kernel import Kernel
from edgekv._mesh import Mesh

CFG = default_config()
N = len(CFG.regions)

steps = st.lists(
    st.tuples(
        st.integers(0, N - 1),
        st.sampled_from(["put", "patch", "get", "get"]),
        st.sampled_from(["a", "b"]),
        st.floats(0.0, 0.4),
    ),
    min_size=1,
    max_size=25,
)
lags = st.sampled_from(["exp:50ms", "exp:300ms", "lognormal:300ms,0.8", "uniform:10ms,900ms"])


async def _write(cluster: Cluster, region: int, kind: str, key: str, i: int, **kw: object) -> int:
    client = cluster[CFG.names[region]]
    if kind == "put":
        return await client.put(key, {"i": i, "r": region}, **kw)  # type: ignore[arg-type]
    return await client.patch(key, {f"f{region}": i}, **kw)  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(
    steps=steps,
    lag=lags,
    wait=st.sampled_from([None, 0.0, 0.05, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_session_reads_never_go_back_in_time(
    steps: list[tuple[int, str, str, float]], lag: str, wait: float | None, seed: int
) -> None:
    async def main() -> None:
        async with Cluster(CFG, seed=seed, lag=lag, granularity="item") as cluster:
            coordinator = cluster.coordinator
            coordinator.session_wait = wait
            session = Session()
            for i, (region, kind, key, gap) in enumerate(steps):
                await cluster.advance(gap)
                if kind != "get":
                    version = await _write(cluster, region, kind, key, i, session=session)
                    assert session.required(key) >= version
                    continue
                floor = session.required(key)
                result = await cluster[CFG.names[region]].read(key, "session", session=session)
                assert result.version >= floor, (floor, result.record)
                assert session.required(key) == max(floor, result.version)
                if result.record.outcome == "waited":
                    assert result.record.waited > 0
                    assert wait is None or result.record.waited <= wait

    edgekv.run(main(), seed=seed)


@settings(max_examples=30, deadline=None)
@given(
    steps=steps,
    lag=lags,
    granularity=st.sampled_from(["field", "item"]),
    seed=st.integers(0, 2**16),
)
def test_strong_reads_are_never_stale(
    steps: list[tuple[int, str, str, float]], lag: str, granularity: str, seed: int
) -> None:
    async def main() -> None:
        async with Cluster(CFG, seed=seed, lag=lag, granularity=granularity) as cluster:
            oracle = cluster.mesh.oracle
            for i, (region, kind, key, gap) in enumerate(steps):
                await cluster.advance(gap)
                if kind != "get":
                    await _write(cluster, region, kind, key, i)
                    continue
                latest = oracle.latest(key)
                result = await cluster[CFG.names[region]].read(key, "strong")
                assert result.version >= latest
                assert result.record.stale_versions == 0
                assert result.record.stale_seconds == 0.0

    edgekv.run(main(), seed=seed)


@settings(max_examples=20, deadline=None)
@given(steps=steps, bound=st.sampled_from([0.3, 1.0, 2.5]), seed=st.integers(0, 2**16))
def test_bounded_reads_are_never_staler_than_the_bound(
    steps: list[tuple[int, str, str, float]], bound: float, seed: int
) -> None:
    async def main() -> None:
        async with Cluster(CFG, seed=seed, lag="lognormal:300ms,1.0") as cluster:
            for i, (region, kind, key, gap) in enumerate(steps):
                await cluster.advance(gap * 5)
                if kind != "get":
                    await _write(cluster, region, kind, key, i)
                    continue
                result = await cluster[CFG.names[region]].read(key, "bounded", max_staleness=bound)
                assert result.record.stale_seconds <= bound

    edgekv.run(main(), seed=seed)


def _eventual_stale_rate(t: float, mean: float, n: int, seed: int) -> float:
    """Write n keys at one region and read each at a close region exactly ``t`` later, on
    the discrete-event kernel through the callback API."""
    cfg = CFG.replace(lag=f"exp:{mean * 1e3:g}ms", anti_entropy=None)
    kernel = Kernel()
    mesh = Mesh(cfg, seed, kernel)
    coordinator = Coordinator(mesh)
    src, dst = cfg.region("UK South").index, cfg.region("Germany West Central").index
    assert cfg.rtt[("UK South", "Germany West Central")] / 2 < t
    results: list[OpResult] = []
    for i in range(n):
        key = f"k{i}"
        kernel.call_at(i * 0.01, mesh.write, src, "put", key, {"i": i})
        kernel.call_at(i * 0.01 + t, coordinator.read, dst, key, "eventual", results.append)
    kernel.run()
    assert len(results) == n
    return sum(r.record.stale for r in results) / n


@pytest.mark.parametrize("t", [0.05, 0.1, 0.2])
def test_eventual_staleness_matches_the_exponential_closed_form(t: float) -> None:
    mean, n = 0.1, 4000
    observed = _eventual_stale_rate(t, mean, n, seed=11)
    expected = math.exp(-t / mean)  # P(lag > t) for an exponential lag above the RTT floor
    tolerance = 4 * math.sqrt(expected * (1 - expected) / n)
    assert abs(observed - expected) <= tolerance, (
        f"stale rate {observed:.4f} vs closed form exp(-t/mean)={expected:.4f} at t={t}s, "
        f"n={n} reads, tolerance {tolerance:.4f} (4 binomial sd)"
    )


def test_session_waits_for_replication_then_forwards_to_the_origin() -> None:
    async def main() -> None:
        async with Cluster(CFG, seed=2, lag="constant:400ms") as cluster:
            us, jp = cluster["East US"], cluster["Japan East"]
            session = Session()
            await us.put("u", {"stars": 1}, session=session)
            forwarded = await jp.read("u", "session", session=session)
            assert forwarded.doc == {"stars": 1}
            assert forwarded.record.outcome == "forwarded"
            assert forwarded.record.served_by == CFG.region("East US").index
            rtt = CFG.rtt[("Japan East", "East US")]
            assert forwarded.record.waited == pytest.approx(rtt)
            assert forwarded.record.latency == pytest.approx(2 * rtt + CFG.service_time)

            cluster.coordinator.session_wait = 1.0
            await us.patch("u", {"stars": 2}, session=session)
            waited = await jp.read("u", "session", session=session)
            assert waited.doc == {"stars": 2}
            assert waited.record.outcome == "waited"
            assert waited.record.waited == pytest.approx(0.4)
            assert (await jp.read("u")).doc == {"stars": 2}

    edgekv.run(main(), seed=2)


def test_eventual_read_is_local_and_reports_its_staleness() -> None:
    async def main() -> None:
        async with Cluster(CFG, seed=2, lag="constant:400ms") as cluster:
            us, uk = cluster["East US"], cluster["UK South"]
            await us.put("u", {"stars": 1})
            await cluster.advance(0.1)
            await us.patch("u", {"stars": 2})
            await cluster.advance(0.35)
            stale = await uk.read("u")
            assert stale.doc == {"stars": 1}
            assert stale.record.outcome == "local"
            assert stale.record.latency == pytest.approx(CFG.service_time)
            assert stale.record.stale_versions == 1
            assert stale.record.stale_ms == pytest.approx(350)
            assert cluster.coordinator.counts["eventual/stale"] == 1

    edgekv.run(main(), seed=2)


def test_bounded_read_is_local_when_fresh_and_forwarded_when_not() -> None:
    async def main() -> None:
        async with Cluster(CFG, seed=2, lag="constant:400ms", anti_entropy=None) as cluster:
            us, uk = cluster["East US"], cluster["UK South"]
            await us.put("u", {"stars": 1})
            await cluster.advance(0.5)
            fresh = await uk.read("u", "bounded", max_staleness=1.0)
            assert fresh.record.outcome == "local"
            await cluster.advance(2.0)
            old = await uk.read("u", "bounded", max_staleness=1.0)
            assert old.record.outcome == "forwarded"
            assert old.doc == {"stars": 1}

    edgekv.run(main(), seed=2)


def test_bad_levels_and_sessions_are_clear_errors() -> None:
    async def main() -> None:
        async with Cluster(CFG, seed=1) as cluster:
            region = cluster["East US"]
            with pytest.raises(ValueError, match="allowed: eventual, session, bounded, strong"):
                await region.get("u", "linearizable")
            with pytest.raises(TypeError, match="Session"):
                await region.get("u", "session", session={"u": 1})  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="max_staleness"):
                await region.get("u", "bounded", max_staleness=0)
            with pytest.raises(ValueError, match="must be an int"):
                Session({"u": -1})

    edgekv.run(main())


def test_session_token_round_trips() -> None:
    session = Session()
    session.observe("a", 5)
    session.observe("a", 3)
    assert Session(session.token()).required("a") == 5
    assert session.required("b") == 0
