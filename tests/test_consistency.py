"""Consistency levels of ``Cluster.get``: session guarantees, strong and bounded freshness
against the oracle, and eventual staleness at the rate the lag distribution predicts."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lww_reference import field_winner, item_winner

import edgekv
import edgekv.lowlevel
from edgekv import Cluster, Op, OpKind, OpResult, Session, default_config
from edgekv.lowlevel import Constant, Kernel, ReplicatedStore

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
        return await client.put(key, _payload(kind, region, i), **kw)  # type: ignore[arg-type]
    return await client.patch(key, _payload(kind, region, i), **kw)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    steps=steps,
    lag=lags,
    wait=st.sampled_from([None, 0.0, 0.05, 1.0]),
    granularity=st.sampled_from(["field", "item"]),
    seed=st.integers(0, 2**16),
)
def test_session_reads_show_the_sessions_own_writes_and_never_go_back(
    steps: list[tuple[int, str, str, float]],
    lag: str,
    wait: float | None,
    granularity: str,
    seed: int,
) -> None:
    """One client writes at random regions; its session reads anywhere must show exactly the
    LWW state of its own writes (the reference is computed without edgekv's CRDT code)."""

    async def main() -> None:
        async with Cluster(CFG, seed=seed, lag=lag, granularity=granularity) as cluster:
            cluster.store.session_wait = wait
            session = Session()
            ops: dict[str, list[tuple[str, int, object]]] = {"a": [], "b": []}
            seen: dict[str, int] = {"a": 0, "b": 0}
            for i, (region, kind, key, gap) in enumerate(steps):
                await cluster.advance(gap)
                if kind != "get":
                    version = await _write(cluster, region, kind, key, i, session=session)
                    doc = cluster[CFG.names[region]].peek(key)
                    payload = _payload(kind, region, i) if granularity == "field" else dict(doc)
                    ops[key].append((kind, version, payload))
                    continue
                result = await cluster[CFG.names[region]].read(key, "session", session=session)
                if ops[key]:
                    winner = field_winner if granularity == "field" else item_winner
                    assert result.doc == winner(ops[key]), (result.record, ops[key])
                assert result.version >= seen[key], "monotonic reads"
                seen[key] = result.version
                if result.record.route == "waited":
                    assert result.record.waited > 0
                    assert wait is None or result.record.waited <= wait

    edgekv.run(main(), seed=seed)


def _payload(kind: str, region: int, i: int) -> dict[str, int]:
    return {"i": i, "r": region} if kind == "put" else {f"f{region}": i}


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
    store = ReplicatedStore(cfg, seed, kernel)
    mesh = store.mesh
    src, dst = cfg.region("UK South").index, cfg.region("Germany West Central").index
    assert cfg.rtt[("UK South", "Germany West Central")] / 2 < t
    results: list[OpResult] = []
    for i in range(n):
        key = f"k{i}"
        kernel.call_at(i * 0.01, mesh.write, src, "put", key, {"i": i})
        kernel.call_at(i * 0.01 + t, store.submit, Op(OpKind.GET, dst, key), results.append)
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
            assert forwarded.record.route == "forwarded"
            assert forwarded.record.served_by == CFG.region("East US").index
            rtt = CFG.rtt[("Japan East", "East US")]
            assert forwarded.record.waited == pytest.approx(rtt)
            assert forwarded.record.latency == pytest.approx(2 * rtt + CFG.service_time)

            cluster.store.session_wait = 1.0
            await us.patch("u", {"stars": 2}, session=session)
            waited = await jp.read("u", "session", session=session)
            assert waited.doc == {"stars": 2}
            assert waited.record.route == "waited"
            # the patch returned after its service time, 1 ms into the 400 ms lag
            assert waited.record.waited == pytest.approx(0.4 - CFG.service_time)
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
            assert stale.record.route == "local"
            assert stale.record.latency == pytest.approx(CFG.service_time)
            assert stale.record.stale_versions == 1
            # the patch committed 100 ms in and returned after its service time
            assert stale.record.stale_ms == pytest.approx(350 + CFG.service_time * 1e3)
            assert cluster.store.counts["eventual/stale"] == 1

    edgekv.run(main(), seed=2)


def test_bounded_read_is_local_when_fresh_and_forwarded_when_not() -> None:
    async def main() -> None:
        async with Cluster(CFG, seed=2, lag="constant:400ms", anti_entropy=None) as cluster:
            us, uk = cluster["East US"], cluster["UK South"]
            await us.put("u", {"stars": 1})
            await cluster.advance(0.5)
            fresh = await uk.read("u", "bounded", max_staleness=1.0)
            assert fresh.record.route == "local"
            await cluster.advance(2.0)
            old = await uk.read("u", "bounded", max_staleness=1.0)
            assert old.record.route == "forwarded"
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
            with pytest.raises(ValueError, match="must be a record"):
                Session({"u": [None, -1]})

    edgekv.run(main())


@pytest.mark.parametrize(
    ("token", "error", "match"),
    [
        (
            [["u", [None, 1]]],
            TypeError,
            "a session token is a mapping of keys to records, got list",
        ),
        ("u", TypeError, "a session token is a mapping of keys to records, got str"),
        ({"u": ["stars", 1]}, ValueError, "session token entry of 'u' must be a record"),
        ({"u": [{"a": 1}, 5, "x"]}, ValueError, "must be a record"),  # floor not a version
        ({"u": [{"a": 1}, 5, 9]}, ValueError, "must be a record"),  # floor above the version
        ({"u": [{"a": 1}, 5, 0, {"b": 1}]}, ValueError, "must be a record"),  # other fields
        ({"u": [{"a": 1}, 5, 0, {"a": "z"}]}, ValueError, "must be a record"),
    ],
)
def test_a_forged_session_token_is_refused_when_restored(
    token: Any, error: type[Exception], match: str
) -> None:
    """A token comes back from a cookie: a malformed one used to be taken and then fail
    inside a later session read (TypeError or AttributeError from the CRDT)."""
    with pytest.raises(error, match=match):
        Session(token)


def test_session_token_round_trips_and_checks_dominance() -> None:
    crdt = edgekv.lowlevel.FieldLWW()
    session = Session()
    session.observe(crdt, "a", crdt.patch(None, {"stars": 1}, 5))
    session.observe(crdt, "a", crdt.patch(None, {"tier": "gold"}, 3))
    restored = Session(session.token())
    assert restored.version("a") == 5 and session.version("b") == 0
    newer_other_field = crdt.patch(None, {"app": "2.0"}, 9)
    assert not restored.satisfied_by(crdt, "a", newer_other_field)
    both = crdt.join(
        crdt.join(newer_other_field, crdt.patch(None, {"stars": 1}, 5)),
        crdt.patch(None, {"tier": "gold"}, 3),
    )
    assert restored.satisfied_by(crdt, "a", both)
    assert restored.satisfied_by(crdt, "b", None)


def test_session_is_not_fooled_by_a_newer_write_to_another_field() -> None:
    """The replica has a newer version of the document, but not the field this session
    wrote: a version comparison would serve it; the dominance check must not."""

    async def main() -> None:
        # the session's write is slow on this one link (requests still cross it)
        slow = {("East US", "UK South"): Constant(5.0)}
        cfg = CFG.replace(lag="constant:100ms", granularity="field")
        async with Cluster(dataclasses.replace(cfg, link_lag=slow), seed=4) as cluster:
            us, jp, uk = cluster["East US"], cluster["Japan East"], cluster["UK South"]
            session = Session()
            await us.patch("user", {"stars": 150}, session=session)
            await cluster.advance(0.01)
            await jp.patch("user", {"appVersion": "2.0"})  # someone else, newer version
            await cluster.advance(0.3)
            assert uk.version("user") > session.version("user")
            assert await uk.get("user") == {"appVersion": "2.0"}  # eventual: misses the stars
            fresh = await uk.read("user", "session", session=session)
            assert fresh.doc == {"stars": 150, "appVersion": "2.0"}
            assert fresh.record.route == "forwarded"

    edgekv.run(main(), seed=4)


def test_bounded_reads_by_versions_go_remote_past_k_writes_behind() -> None:
    """Cosmos DB's K-versions bound: a replica one write behind serves K=1 locally and
    forwards K=0."""

    async def main(k: int) -> str:
        cfg = CFG.replace(lag="constant:500ms")
        async with Cluster(cfg, seed=2, options={"max_versions": k}) as cluster:
            us, uk = cluster["East US"], cluster["UK South"]
            await us.put("u", {"n": 1})
            await cluster.settle()
            await us.put("u", {"n": 2})
            result = await uk.read("u", "bounded", max_staleness=60.0)
            return result.record.route

    assert edgekv.run(main(1), seed=2) == "local"
    assert edgekv.run(main(0), seed=2) == "forwarded"
