"""The Store contract, checked once against every registered system, and what a partition
does to each system and level (faults reach every request path)."""

from __future__ import annotations

from typing import Any

import pytest

import edgekv
from edgekv import Cluster, Level, Op, OpKind, OpResult, Outcome, Session, Unavailable
from edgekv.lowlevel import Kernel, make_store

CFG = edgekv.default_config().replace(lag="constant:200ms")
SYSTEMS = sorted(edgekv.SYSTEMS)


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_operation_completes_exactly_once_later(system: str) -> None:
    kernel = Kernel()
    store = make_store(system, CFG, 3, kernel)
    done: dict[int, list[OpResult]] = {}
    ops = []
    for i in range(40):
        region = (i * 7) % len(CFG.regions)
        kind = (OpKind.PUT, OpKind.PATCH, OpKind.GET, OpKind.DELETE)[i % 4]
        value = None if kind in (OpKind.GET, OpKind.DELETE) else {"n": i}
        ops.append(Op(kind, region, f"k{i % 5}", value, level=store.levels[0]))

    def submit(i: int) -> None:
        store.submit(ops[i], done[i].append)
        assert done[i] == [] and store.in_flight >= 1  # completed later, never inside submit

    for i in range(len(ops)):
        done[i] = []
        kernel.call_at(i * 0.05, submit, i)
    kernel.run(until=60.0)
    assert all(len(results) == 1 for results in done.values())
    assert store.in_flight == 0 and store.quiet()
    service = CFG.service_time
    for i, (result,) in done.items():
        rec = result.record
        assert rec.kind == ops[i].kind and rec.key == ops[i].key and rec.region == ops[i].region
        assert rec.start == pytest.approx(i * 0.05) and rec.outcome in tuple(Outcome)
        assert rec.latency >= service * 0.999  # every answer pays at least the service time


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_region_reads_its_own_acknowledged_write(system: str) -> None:
    """At each system's strongest level (strong, else session with a Session, else its only
    one), a read after a write's acknowledgement, from the writing region, returns it."""
    kernel = Kernel()
    store = make_store(system, CFG, 4, kernel)
    level = next(lv for lv in (Level.STRONG, Level.SESSION, *store.levels) if lv in store.levels)
    session = Session() if level == Level.SESSION else None
    got: list[OpResult] = []

    def read_back(result: OpResult) -> None:
        assert result.record.outcome == Outcome.OK, result.record
        store.submit(Op(OpKind.GET, 2, "k", level=level, session=session), got.append)

    put = Op(OpKind.PUT, 2, "k", {"n": 7}, level=level, session=session)
    kernel.call_at(1.0, store.submit, put, read_back)
    kernel.run(until=30.0)
    assert [r.doc for r in got] == [{"n": 7}] and got[0].record.outcome == Outcome.OK


@pytest.mark.parametrize("system", SYSTEMS)
def test_malformed_operations_are_refused_before_anything_runs(system: str) -> None:
    kernel = Kernel()
    store = make_store(system, CFG, 1, kernel)
    timers = kernel.pending  # replication timers, if any
    bad: list[tuple[Any, type[Exception], str]] = [
        (Op("upsert", 0, "k"), ValueError, "unknown operation"),  # type: ignore[arg-type]
        (Op(OpKind.GET, 99, "k"), ValueError, "region index"),
        (Op(OpKind.GET, 0, "k", level="psychic"), ValueError, "unknown consistency"),
        (Op(OpKind.GET, 0, "k", session="tok"), TypeError, "Session"),  # type: ignore[arg-type]
    ]
    for op, error, match in bad:
        with pytest.raises(error, match=match):
            store.submit(op, print)
    assert kernel.pending == timers and store.in_flight == 0


@pytest.mark.parametrize("system", SYSTEMS)
def test_same_seed_same_results(system: str) -> None:
    def run() -> list[tuple[Any, ...]]:
        kernel = Kernel()
        store = make_store(system, CFG.replace(jitter="exp:5ms"), 9, kernel)
        out: list[OpResult] = []
        for i in range(30):
            kind = OpKind.PATCH if i % 3 else OpKind.GET
            op = Op(kind, i % 9, "k", None if kind == OpKind.GET else {"i": i})
            kernel.call_at(i * 0.03, store.submit, op, out.append)
        kernel.run(until=30.0)
        return [(r.version, r.record.latency, r.record.served_by) for r in out]

    assert run() == run()


def _partitioned(system: str, level: str | None, writer: str, reader: str) -> Any:
    """Write at ``writer``, isolate ``reader`` (a cut of one link alone is repaired through
    the others by anti-entropy), write again, read at ``reader``: the read's record."""

    async def main() -> Any:
        async with Cluster(CFG, seed=2, system=system) as cluster:
            await cluster[writer].put("k", {"v": 1})
            await cluster.settle()
            cluster.isolate(reader)
            await cluster[writer].put("k", {"v": 2})
            await cluster.advance(3.0)  # past bounded reads' default 2 s bound
            try:
                return (await cluster[reader].read("k", level)).record
            except Unavailable as exc:
                return exc.record

    return edgekv.run(main(), seed=2)


def test_partition_eventual_reads_stay_available_and_get_staler() -> None:
    rec = _partitioned("replicated", "eventual", "East US", "UK South")
    assert rec.ok and rec.stale_versions == 1 and rec.route == "local"


def test_partition_strong_reads_across_the_cut_fail_after_the_timeout() -> None:
    rec = _partitioned("replicated", "strong", "East US", "UK South")
    assert rec.outcome == "unavailable"
    assert rec.latency == pytest.approx(CFG.request_timeout)


def test_partition_session_reads_of_a_stale_replica_fail_like_strong_ones() -> None:
    async def main() -> Any:
        async with Cluster(CFG, seed=2) as cluster:
            session = edgekv.Session()
            cluster.partition("East US", "UK South")
            await cluster["East US"].put("k", {"v": 1}, session=session)
            with pytest.raises(Unavailable) as failed:
                await cluster["UK South"].get("k", "session", session=session)
            return failed.value.record

    rec = edgekv.run(main(), seed=2)
    assert rec.outcome == "unavailable" and rec.latency == pytest.approx(CFG.request_timeout)


def test_partition_bounded_reads_fall_back_to_strong_and_fail() -> None:
    rec = _partitioned("replicated", "bounded", "East US", "UK South")
    assert rec.outcome == "unavailable"


def test_partition_single_home_users_across_the_cut_fail_home_users_do_not() -> None:
    async def main() -> tuple[Any, Any]:
        async with Cluster(CFG, seed=2, system="single-home") as cluster:
            await cluster["East US"].put("k", {"v": 1})
            cluster.partition("East US", "UK South")
            home = (await cluster["East US"].read("k")).record
            with pytest.raises(Unavailable) as away:
                await cluster["UK South"].get("k")
            other = (await cluster["Japan East"].read("k")).record
            return home, away.value.record, other

    home, away, other = edgekv.run(main(), seed=2)
    assert home.ok and other.ok and other.route == "forwarded"
    assert away.outcome == "unavailable"
    assert away.latency == pytest.approx(CFG.request_timeout)


def test_a_healed_partition_serves_again() -> None:
    async def main() -> Any:
        async with Cluster(CFG, seed=2) as cluster:
            await cluster["East US"].put("k", {"v": 1})
            cluster.partition("East US", "UK South")
            cluster.heal()
            return await cluster["UK South"].read("k", "strong")

    assert edgekv.run(main(), seed=2).doc == {"v": 1}


def test_scheduled_partition_counts_against_availability_in_the_bench() -> None:
    from edgekv.lowlevel import EdgeFlags, load_evaluator, run_edge_flags

    cfg = CFG.replace(
        partitions=(edgekv.lowlevel.PartitionWindow("East US", "UK South", 0.0, 100.0),)
    )
    scenario = EdgeFlags(users=300, duration=10.0, seed=3)
    result = run_edge_flags(scenario, cfg, load_evaluator())
    assert result.systems["replicated:eventual"].failed.sum() == 0
    assert result.systems["single-home"].failed.sum() > 0


def test_settle_reports_divergence_instead_of_returning_as_converged() -> None:
    from edgekv.lowlevel import Diverged

    async def main() -> None:
        async with Cluster(CFG, seed=2) as cluster:
            await cluster["East US"].put("a", {"v": 1})
            await cluster["East US"].put("b", {"v": 1})
            await cluster.settle()
            # A replica losing state behind replication's back (what a tombstone collected
            # too early does): every op log is in sync, the documents are not.
            cluster.mesh.nodes[CFG.region("UK South").index].store.pop("b")
            with pytest.raises(Diverged, match=r"diverged on 1 keys \(seed=2\): 'b'"):
                await cluster.settle()

    edgekv.run(main(), seed=2)


class _Colour(str):
    """A str subclass, as enums and other libraries' strings are."""


BAD_DOCUMENTS: list[tuple[Any, type[Exception], str]] = [
    ({"a": {1, 2}}, TypeError, r"^doc\['a'\]: cannot store a value of type set;"),
    ({"a": object()}, TypeError, r"^doc\['a'\]: cannot store a value of type object;"),
    ({"a": {"b": [1, {2: 3}]}}, TypeError, r"^doc\['a'\]\['b'\]\[1\]: keys must be strings"),
    ({"a": "\ud800"}, ValueError, r"^doc\['a'\]: not valid Unicode: a lone surrogate"),
    ({"\udfff": 1}, ValueError, r"^doc\['\\udfff'\]: not valid Unicode"),
    ({"a": 2**64}, ValueError, r"^doc\['a'\]: 18446744073709551616 does not fit in 64 bits"),
    ({"a": -(2**63) - 1}, ValueError, "does not fit in 64 bits"),
    ({"a": [0.5, float("nan")]}, ValueError, r"^doc\['a'\]\[1\]: NaN cannot be stored"),
    (None, TypeError, r"^doc must be a mapping with string keys, got NoneType"),
    ([("a", 1)], TypeError, r"^doc must be a mapping with string keys, got list"),
]


def _deep(levels: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for _ in range(levels):
        doc = {"a": doc}
    return doc


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize(("doc", "error", "match"), BAD_DOCUMENTS)
def test_a_document_no_region_could_hold_is_refused_before_anything_is_written(
    system: str, doc: Any, error: type[Exception], match: str
) -> None:
    """Values replication cannot carry (msgpack: sets, objects, lone surrogates, ints beyond
    64 bits) used to be applied locally and then fail deep in replication, forever; NaN
    (never equal to itself) made settle() report divergence."""
    cluster = Cluster(CFG, seed=1, system=system)
    us = cluster.sync["East US"]
    us.put("k", {"v": 0})
    for write, what in ((us.put, "doc"), (us.patch, "fields")):
        with pytest.raises(error, match=match.replace("doc", what, 1)):
            write("k", doc)
    cluster.sync.settle()
    assert us.get("k") == cluster.sync["Japan East"].get("k") == {"v": 0}
    assert len([r for r in cluster.records if r.kind != OpKind.GET]) == 1


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_key_that_cannot_be_replicated_is_refused(system: str) -> None:
    cluster = Cluster(CFG, seed=1, system=system)
    us = cluster.sync["East US"]
    for write, key in ((us.put, "\ud83d"), (us.patch, "a\udc00")):
        with pytest.raises(ValueError, match=r"^key '.*': not valid Unicode: a lone surrogate"):
            write(key, {})
    with pytest.raises(ValueError, match="not valid Unicode"):
        us.delete("\ud800")
    assert us.get("\ud800") is None  # a read can only find it absent
    cluster.sync.settle()
    assert cluster.snapshot() == {name: {} for name in cluster.regions}


def test_documents_nested_too_deeply_are_refused() -> None:
    us = Cluster(CFG, seed=1).sync["East US"]
    us.put("k", _deep(99))  # 100 mappings, the outer one included
    with pytest.raises(ValueError, match="nested more than 100 levels deep"):
        us.put("k", _deep(100))
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="nested more than 100 levels deep"):
        us.put("k", loop)


@pytest.mark.parametrize("system", SYSTEMS)
def test_documents_are_copied_in_and_out(system: str) -> None:
    """Changing a document after writing it, or one that was read, changes no replica."""
    cluster = Cluster(CFG, seed=1, system=system)
    us, uk = cluster.sync["East US"], cluster.sync["UK South"]
    doc = {"tags": ["a"], "nested": {"n": 1}}
    us.put("k", doc)
    doc["tags"].append("b")
    doc["nested"]["n"] = 2
    cluster.sync.advance(120)
    us.get("k")["tags"].append("c")
    cluster.snapshot()["East US"]["k"]["tags"].append("d")
    us.snapshot()["k"]["nested"]["n"] = 3
    assert us.get("k") == uk.get("k") == {"tags": ["a"], "nested": {"n": 1}}


def test_tuples_and_subclasses_are_stored_as_replication_carries_them() -> None:
    """A tuple arrives elsewhere as a list, an enum-like str as a str: the writer's region
    holds the same, so a settled cluster agrees (a tuple used to end in Diverged)."""
    cluster = Cluster(CFG, seed=1)
    us = cluster.sync["East US"]
    us.put("k", {"pair": (1, 2), "colour": _Colour("red"), "blob": bytearray(b"x")})
    cluster.sync.settle()
    assert cluster.converged()
    held = us.get("k")
    assert held == {"pair": [1, 2], "colour": "red", "blob": b"x"}
    assert type(held["colour"]) is str
