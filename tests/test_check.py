"""edgekv.check: each checker on hand-made histories whose verdict is known, the fast
linearizability checker against the exhaustive one (and the session and staleness checkers
against pairwise readings of their definitions) on generated histories, and file round trips."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgekv import ConfigError
from edgekv.check import (
    History,
    Operation,
    agreement,
    brute_force_linearizable,
    check,
    check_convergence,
    check_linearizable,
    check_session,
    check_staleness,
    dumps_edn,
    dumps_json,
    is_linearizable,
    load_history,
    loads_edn,
    loads_json,
    precedes,
    save_history,
    simulate_register,
    to_jepsen,
)
from edgekv.cli import main
from tests.strategies import operations, register_histories


def freeze(value: object) -> str | None:
    """The reference's own hashable stand-in for a JSON value (None stays absent)."""
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


EXAMPLE = Path(__file__).parent.parent / "examples" / "histories" / "login-after-purchase.edn"


def op(
    process: str,
    kind: str,
    value: Any,
    version: int,
    invoke: float,
    complete: float,
    *,
    key: str = "x",
    outcome: str = "ok",
    region: str = "East US",
) -> Operation:
    """A terse Operation for hand-made histories."""
    return Operation(process, region, key, kind, value, version, invoke, complete, outcome)  # type: ignore[arg-type]


# ---- linearizability on known histories ----

W1 = op("a", "write", 1, 1, 0.0, 1.0)
W2 = op("b", "write", 2, 2, 2.0, 3.0)


def test_sequential_history_is_linearizable() -> None:
    ops = [W1, W2, op("c", "read", 2, 2, 4.0, 5.0)]
    assert check_linearizable(ops).ok
    assert brute_force_linearizable(ops)


def test_stale_read_is_caught_with_its_three_operations() -> None:
    stale = op("c", "read", 1, 1, 4.0, 5.0)
    noise = [op("d", "read", None, 0, -2.0, -1.0), op("e", "read", 2, 2, 3.5, 3.6)]
    result = check_linearizable([*noise, W1, W2, stale])
    assert not result.ok
    (violation,) = result.violations
    assert set(map(id, violation.operations)) == {id(W1), id(W2), id(stale)}
    assert "stale read" in violation.explanation
    assert "linearizability violated on key 'x'" in result.describe()


def test_concurrent_read_may_see_either_value() -> None:
    for seen in (1, 2):
        ops = [W1, op("b", "write", 2, 2, 2.0, 5.0), op("c", "read", seen, seen, 3.0, 4.0)]
        assert check_linearizable(ops).ok


def test_completing_as_another_begins_comes_first() -> None:
    ops = [op("a", "write", 1, 1, 0.0, 1.0), op("b", "read", None, 0, 1.0, 2.0)]
    assert not is_linearizable(ops) and not brute_force_linearizable(ops)
    instant = [op("a", "write", 1, 1, 1.0, 1.0), op("b", "read", None, 0, 1.0, 1.0)]
    assert is_linearizable(instant) and brute_force_linearizable(instant)


def test_read_of_unwritten_value_is_a_counterexample_alone() -> None:
    ghost = op("c", "read", 7, 0, 4.0, 5.0)
    result = check_linearizable([W1, W2, ghost])
    assert [list(v.operations) for v in result.violations] == [[ghost]]
    assert "no write of this key" in result.violations[0].explanation


def test_unacknowledged_write_may_or_may_not_have_happened() -> None:
    maybe = op("a", "write", 9, 3, 0.0, 1.0, outcome="unavailable")
    saw = op("b", "read", 9, 3, 10.0, 11.0)
    missed = op("c", "read", None, 0, 12.0, 13.0)
    assert check_linearizable([maybe, saw]).ok
    assert check_linearizable([maybe, missed]).ok
    assert not check_linearizable([maybe, saw, missed]).ok  # happened, then un-happened
    failed_read = op("d", "read", 5, 0, 0.0, 1.0, outcome="error")
    assert check_linearizable([failed_read]).ok


def test_new_then_old_reads_go_back_in_time() -> None:
    w2 = op("b", "write", 2, 2, 2.0, 9.0)
    new = op("c", "read", 2, 2, 3.0, 4.0)
    old = op("d", "read", 1, 1, 5.0, 6.0)
    result = check_linearizable([W1, w2, new, old])
    assert "went back in time" in result.violations[0].explanation


def test_keys_are_checked_separately() -> None:
    ops = [W1, op("b", "write", 5, 3, 2.0, 3.0, key="y"), op("c", "read", 1, 1, 4.0, 5.0)]
    assert check_linearizable(ops).ok
    bad = [*ops, op("c", "read", None, 0, 6.0, 7.0, key="y")]
    assert [v.key for v in check_linearizable(bad).violations] == ["y"]


def test_ten_thousand_operations_on_one_key() -> None:
    assert check_linearizable(simulate_register(3, 10_000, clients=4)).ok
    broken = check_linearizable(simulate_register(3, 10_000, clients=4, stale=0.01))
    assert not broken.ok
    assert len(broken.violations[0].operations) <= 6


# ---- ground truth ----


@given(register_histories())
def test_fast_checker_agrees_with_brute_force(ops: list[Operation]) -> None:
    assert is_linearizable(ops) == brute_force_linearizable(ops)


@given(register_histories(keys=("x", "y")))
def test_per_key_split_agrees_with_brute_force_over_all_keys(ops: list[Operation]) -> None:
    assert check_linearizable(ops).ok == brute_force_linearizable(ops)


@given(register_histories())
def test_counterexample_is_minimal_and_still_fails(ops: list[Operation]) -> None:
    result = check_linearizable(ops)
    if result.ok:
        return
    (violation,) = result.violations
    cex = list(violation.operations)
    assert all(any(c is o for o in ops) for c in cex)
    assert not brute_force_linearizable(cex)
    for i, dropped in enumerate(cex):
        if dropped.kind == "read":  # dropping any read leaves a linearizable history
            assert brute_force_linearizable(cex[:i] + cex[i + 1 :])
    assert violation.explanation


def test_brute_force_agreement_count(record_property: Any) -> None:
    verdicts = agreement(2000)
    record_property("brute_force_agreement", verdicts.agree)
    print(f"brute-force agreement count: {verdicts}")
    assert verdicts.agree == verdicts.histories == 2000
    assert verdicts.linearizable >= 300 and verdicts.histories - verdicts.linearizable >= 300


# ---- session guarantees ----


def session_reference(history: list[Operation]) -> set[tuple[str, int]]:
    """(guarantee, id of the later op) for every pair of one session breaking a guarantee: a
    precedes b when a comes first in invocation order and completed before b's invocation."""
    found = set()
    order = sorted(history, key=lambda o: (o.invoke, o.complete))
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            if not (a.ok and b.ok and a.process == b.process and a.key == b.key):
                continue
            if not precedes(a, b):
                continue
            pair = (a.kind, b.kind)
            if pair == ("write", "read") and b.version < a.version:
                found.add(("read-your-writes", id(b)))
            if pair == ("read", "read") and b.version < a.version:
                found.add(("monotonic-reads", id(b)))
            if pair == ("write", "write") and b.version <= a.version:
                found.add(("monotonic-writes", id(b)))
            if pair == ("read", "write") and b.version <= a.version:
                found.add(("writes-follow-reads", id(b)))
    return found


def lww_linearizable(history: list[Operation]) -> bool:
    """Ground truth the session and staleness checks follow from: some order respecting
    ``precedes`` in which each key's writes take effect in version order and every ok read
    returns its key's latest (value, version). A plain register search over (value, version)
    pairs is weaker: it may order a v2 write before a v1 one, which LWW never does, and then
    a read of v1 after v2 completed passes it. A write not ended ok may be left out."""
    ops = [o for o in history if o.ok or o.kind == "write"]

    def extend(left: frozenset[int], state: dict[str, tuple[Any, int]]) -> bool:
        if all(not ops[i].ok for i in left):
            return True  # only maybe-writes left: they may never have happened
        for i in left:
            o = ops[i]
            if any(ops[j].ok and precedes(ops[j], o) for j in left):
                continue
            now = state.get(o.key, (None, 0))
            if o.kind == "read":
                if (freeze(o.value), o.version) == now and extend(left - {i}, state):
                    return True
            elif o.version > now[1] or not o.ok:
                after = (
                    state if o.version <= now[1] else {**state, o.key: (freeze(o.value), o.version)}
                )
                if extend(left - {i}, after):
                    return True
        return False

    return extend(frozenset(range(len(ops))), {})


TIE = [  # v2 took time and ended at 1.0 as a read began: it precedes the read, which missed it
    op("p0", "write", 0, 1, 0.0, 0.0),
    op("p0", "write", 0, 2, 0.0, 1.0, region="UK South"),
    op("p0", "read", 0, 1, 1.0, 1.0),
]


def test_tie_rule_in_session_and_staleness() -> None:
    assert brute_force_linearizable([dataclasses.replace(o, value=[0, o.version]) for o in TIE])
    assert not lww_linearizable(TIE)
    (v,) = check_session(TIE).violations
    assert v.guarantee == "read-your-writes" and v.operations == (TIE[1], TIE[2])
    assert not check_staleness(TIE, max_versions=0).ok
    overlapping = [*TIE[:2], dataclasses.replace(TIE[2], invoke=0.5)]
    assert lww_linearizable(overlapping)
    assert check_session(overlapping).ok and check_staleness(overlapping, max_versions=0).ok


def test_each_session_guarantee() -> None:
    w = op("s", "write", 1, 5, 0.0, 1.0)
    cases = {
        "read-your-writes": [w, op("s", "read", None, 0, 2.0, 3.0, region="UK South")],
        "monotonic-reads": [op("s", "read", 1, 5, 0.0, 1.0), op("s", "read", 0, 4, 2.0, 3.0)],
        "monotonic-writes": [w, op("s", "write", 2, 3, 2.0, 3.0)],
        "writes-follow-reads": [op("s", "read", 1, 5, 0.0, 1.0), op("s", "write", 2, 4, 2, 3)],
    }
    for guarantee, ops in cases.items():
        result = check_session(ops)
        assert [v.guarantee for v in result.violations] == [guarantee]
        assert list(result.violations[0].operations) == ops
        apart = [dataclasses.replace(o, process=f"s{i}") for i, o in enumerate(ops)]
        assert check_session(apart).ok  # different sessions owe each other nothing


def test_example_history_breaks_read_your_writes() -> None:
    result = check_session(load_history(EXAMPLE))
    assert [v.guarantee for v in result.violations] == ["read-your-writes"]


@given(register_histories(keys=("x", "y")))
def test_session_checker_agrees_with_pairwise_definition(ops: list[Operation]) -> None:
    result = check_session(ops)
    got = {(v.guarantee, id(v.operations[-1])) for v in result.violations}
    assert got == session_reference(ops)
    if lww_linearizable(ops):
        assert result.ok  # linearizability implies every session guarantee


def test_session_needs_write_versions() -> None:
    for model in ("session", "staleness"):
        with pytest.raises(ConfigError, match=r"history\[0\]\.version"):
            check([op("s", "write", 1, 0, 0.0, 1.0)], model, max_versions=0)


# ---- staleness ----


def staleness_reference(history: list[Operation], k: int, t: float) -> set[int]:
    """ids of the ok reads missing more than k writes, or one completed over t s earlier."""
    bad = set()
    for r in history:
        if r.kind != "read" or not r.ok:
            continue
        missed = [
            w
            for w in history
            if w.kind == "write"
            and w.ok
            and w.key == r.key
            and precedes(w, r)
            and w.version > r.version
        ]
        if len(missed) > k or any(w.complete < r.invoke - t for w in missed):
            bad.add(id(r))
    return bad


@given(register_histories(keys=("x", "y")), st.integers(0, 2), st.integers(0, 4))
def test_staleness_agrees_with_pairwise_definition(ops: list[Operation], k: int, t: int) -> None:
    result = check_staleness(ops, max_versions=k, max_seconds=float(t))
    assert {id(v.operations[-1]) for v in result.violations} == staleness_reference(ops, k, t)
    if lww_linearizable(ops):
        assert check_staleness(ops, max_versions=0, max_seconds=0.0).ok


def test_staleness_bounds() -> None:
    ops = [W1, W2, op("c", "read", 1, 1, 4.0, 5.0)]
    assert check_staleness(ops, max_versions=1).ok
    assert not check_staleness(ops, max_versions=0).ok
    assert check_staleness(ops, max_seconds=1.5).ok
    (v,) = check_staleness(ops, max_seconds=0.5).violations
    assert v.operations == (W1, W2, ops[2]) and "1.000s before it began" in v.explanation
    with pytest.raises(ConfigError, match="max_versions"):
        check_staleness(ops)


@pytest.mark.parametrize(
    ("bounds", "match"),
    [
        ({"max_versions": 1.5}, "max_versions: expected an integer >= 0, got 1.5"),
        ({"max_versions": "1"}, "max_versions: expected an integer >= 0, got '1'"),
        ({"max_versions": True}, "max_versions: expected an integer >= 0, got True"),
        ({"max_seconds": "1s"}, "max_seconds: expected a number of seconds >= 0, got '1s'"),
        ({"max_seconds": True}, "max_seconds: expected a number of seconds >= 0, got True"),
        ({"max_seconds": float("nan")}, "max_seconds: expected a number of seconds >= 0"),
    ],
)
def test_staleness_bounds_of_the_wrong_type_are_refused(bounds: dict[str, Any], match: str) -> None:
    """A float bound used to be taken as is, a string one failed comparing inside."""
    with pytest.raises(ConfigError, match=match):
        check_staleness([W1, W2, op("c", "read", 1, 1, 4.0, 5.0)], **bounds)


# ---- convergence ----


@pytest.mark.parametrize(
    ("states", "where", "match"),
    [
        (None, "states", "expected a mapping of regions, got NoneType"),
        ({"East US": [("x", (1, 1))]}, "states['East US']", "expected a mapping of keys"),
        ({"East US": {"x": 1}}, "states['East US']['x']", "expected a (value, version) pair"),
        ({"East US": {"x": (1,)}}, "states['East US']['x']", "expected a (value, version) pair"),
        ({"East US": {"x": (1, "1")}}, "states['East US']['x']", "expected an integer version"),
        ({"East US": {"x": (1, -1)}}, "states['East US']['x']", "expected an integer version"),
        ({1: {"x": (1, 1)}}, "states[1]", "expected a region name"),
    ],
)
def test_malformed_states_are_named(states: Any, where: str, match: str) -> None:
    """Used to fail inside the checker with AttributeError, TypeError or ValueError."""
    with pytest.raises(ConfigError, match=re.escape(match)) as info:
        check_convergence(states, [W1])
    assert info.value.path == where


def test_explanations_show_values_json_cannot_spell() -> None:
    """A recorded document may hold bytes: explaining a violation with one used to raise
    TypeError from json.dumps (linearizability and convergence)."""
    wrote = op("a", "write", {"blob": b"\x00"}, 1, 0.0, 1.0)
    read = op("b", "read", None, 0, 2.0, 3.0)
    shown = json.dumps({"blob": repr(b"\x00")})
    text = check_linearizable([wrote, read]).describe()
    assert f"a's write of {shown} had" in text.replace("\n  ", " ")
    held = {"East US": {"x": ({"blob": b"\x00"}, 1)}, "UK South": {"x": (None, 0)}}
    assert f"East US holds {shown} (v1)" in check_convergence(held, [wrote]).describe()
    with pytest.raises(ConfigError, match="limit: expected an integer >= 0 or None"):
        check_linearizable([wrote, read]).describe(limit="1")  # type: ignore[arg-type]


def test_convergence() -> None:
    history = [W1, W2, op("c", "write", 3, 3, 0.0, 9.0, outcome="unavailable")]
    same = {"East US": {"x": (2, 2)}, "UK South": {"x": (2, 2)}}
    assert check_convergence(same, history).ok
    applied = {"East US": {"x": (3, 3)}, "UK South": {"x": (3, 3)}}
    assert check_convergence(applied, history).ok  # the unacknowledged write won
    apart = {"East US": {"x": (2, 2)}, "UK South": {"x": (1, 1)}}
    result = check_convergence(apart, history)
    assert [v.guarantee for v in result.violations] == ["convergence", "last-writer-wins"]
    assert "UK South holds 1 (v1)" in result.violations[0].explanation
    lost = {"East US": {"x": (1, 1)}}
    assert "it was lost" in check_convergence(lost, history).violations[0].explanation
    assert not check_convergence({"East US": {"x": (4, 9)}}, history).ok
    assert check_convergence(apart).violations[0].guarantee == "convergence"
    docs = [op("a", "write", {"stars": 3}, 1, 0.0, 1.0), op("b", "write", {"stars": 4}, 2, 2, 3)]
    held = {"East US": {"x": ({"stars": 4}, 2)}, "UK South": {"x": ({"stars": 3}, 1)}}
    result = check_convergence(held, docs)
    assert [v.guarantee for v in result.violations] == ["convergence", "last-writer-wins"]
    assert 'UK South holds {"stars": 3} (v1)' in result.violations[0].explanation


def test_check_by_model_name() -> None:
    ops = [W1, W2, op("c", "read", 1, 1, 4.0, 5.0)]
    assert [check(ops, m).ok for m in ("linearizable", "session")] == [False, True]
    assert not check(ops, "staleness", max_versions=0).ok
    assert check(ops, "convergence", states={"East US": {"x": (2, 2)}}).ok
    with pytest.raises(ConfigError, match="states"):
        check(ops, "convergence")
    with pytest.raises(ConfigError, match="model"):
        check(ops, "serializable")


# ---- files ----


@given(st.lists(operations(), max_size=12))
def test_edn_and_json_round_trip(ops: list[Operation]) -> None:
    def norm(h: Any) -> list[str]:
        return sorted(json.dumps(dataclasses.asdict(o), sort_keys=True) for o in h)

    for text, load in ((dumps_edn(ops), loads_edn), (dumps_json(ops), loads_json)):
        assert norm(load(text)) == norm(ops)


def test_files_round_trip(tmp_path: Path) -> None:
    h = simulate_register(1, 50, clients=3, unavailable=0.2)
    to_ns = [  # files keep times to the nanosecond
        dataclasses.replace(
            o, invoke=round(o.invoke * 1e9) / 1e9, complete=round(o.complete * 1e9) / 1e9
        )
        for o in h
    ]
    for name in ("h.edn", "h.json"):
        save_history(h, tmp_path / name)
        assert load_history(tmp_path / name) == History(to_ns)


JEPSEN = """; an Elle rw-register history, one op map per line
{:type :invoke, :f :txn, :value [[:w 1 1]], :process 0, :time 100, :index 0}
{:type :invoke, :f :txn, :value [[:r 1 nil]], :process 1, :time 200, :index 1}
#jepsen.history.Op{:type :ok, :f :txn, :value [[:w 1 1]], :process 0, :time 300, :index 2}
{:type :ok, :f :txn, :value [[:r 1 1]], :process 1, :time 400, :index 3}
{:type :info, :f :start-partition, :value nil, :process :nemesis, :time 500, :index 4}
{:type :invoke, :f :txn, :value [[:w 1 2]], :process 0, :time 600, :index 5}
{:type :fail, :f :txn, :value [[:w 1 2]], :process 0, :time 700, :index 6}
{:type :invoke, :f :txn, :value [[:r 1 nil]], :process 1, :time 800, :index 7}
{:type :ok, :f :txn, :value [[:r 1 2]], :process 1, :time 900, :index 8}
{:type :invoke, :f :txn, :value [[:w 1 3]], :process 2, :time 950, :index 9}
"""


def test_reads_a_jepsen_history() -> None:
    h = loads_edn(JEPSEN)
    assert [(o.process, o.kind, o.key, o.value, o.outcome) for o in h] == [
        ("0", "write", "1", 1, "ok"),
        ("1", "read", "1", 1, "ok"),
        ("1", "read", "1", 2, "ok"),  # the failed write of 2 never happened
        ("2", "write", "1", 3, "error"),  # never completed: maybe applied
    ]
    assert h[0].invoke == pytest.approx(100e-9) and h[0].complete == pytest.approx(300e-9)
    assert [len(v.operations) for v in check_linearizable(h).violations] == [1]


def test_overlapping_operations_of_a_session_get_their_own_jepsen_processes() -> None:
    ops = [op("alice", "write", 1, 1, 0.0, 2.0), op("alice", "read", None, 0, 1.0, 3.0)]
    entries = to_jepsen(ops)
    assert {e["process"] for e in entries} == {0, 1}
    assert {e["session"] for e in entries} == {"alice"}
    assert [e["index"] for e in entries] == [0, 1, 2, 3]
    assert list(loads_json(dumps_json(ops))) == ops


def test_a_history_without_times_is_ordered_by_position() -> None:
    h = loads_edn(
        "[{:type :invoke, :f :write, :value [[:w :k 1]], :process 0}"
        " {:type :ok, :f :write, :value [[:w :k 1]], :process 0}"
        " {:type :invoke, :f :read, :value [[:r :k nil]], :process 1}"
        " {:type :ok, :f :read, :value [[:r :k nil]], :process 1}]"
    )
    assert [(o.key, o.invoke * 1e9, o.complete * 1e9) for o in h] == [("k", 0, 1), ("k", 2, 3)]
    assert not check_linearizable(h).ok  # the read began after the write completed


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("{:type :ok, :value [[:r 1 1]], :process 0, :time 1}", "history[0]"),
        ("{:type :go, :value [[:r 1 1]], :process 0, :time 1}", "history[0].type"),
        ("{:type :invoke, :value [[:x 1 1]], :process 0, :time 1}", "history[0].value"),
        ("{:type :invoke, :value [[:r 1 nil]], :process 0}\n"
         "{:type :ok, :value [[:r 1 nil]], :process 0, :time 5}", "history[0].time"),
        ("{:type :invoke, :value [[:r 1 nil]], :process 0, :time 9}\n"
         "{:type :ok, :value [[:r 1 nil]], :process 0, :time 5}", "history[1].complete"),
        ("{:type :invoke, :value [[:r 1 nil]], :process 0, :time 1" + "0" * 400 + "}",
         "history[0].time"),
        ("[{:type :invoke}", "offset 0"),
        ("{:a}", "offset 0"),
        ("@x", "offset 0"),
    ],
)  # fmt: skip
def test_bad_edn_names_the_place(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        loads_edn(text)
    assert info.value.path == where


@pytest.mark.parametrize("load", [loads_edn, loads_json])
def test_a_history_nested_too_deeply_is_a_config_error(load: Any) -> None:
    """Used to raise RecursionError (so `edgekv check` showed a traceback)."""
    with pytest.raises(ConfigError, match="^history: nested too deeply$"):
        load("[" * 100_000 + "]" * 100_000)


def test_history_files_may_start_with_a_byte_order_mark(tmp_path: Path) -> None:
    """As regions.yaml, keys and flag files may; a BOM used to be an EDN/JSON error."""
    for suffix in (".edn", ".json"):
        path = tmp_path / f"h{suffix}"
        save_history([W1, W2], path)
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
        assert list(load_history(path)) == [W1, W2]


def test_bad_json() -> None:
    with pytest.raises(ConfigError, match="not JSON"):
        loads_json("[{")
    with pytest.raises(ConfigError, match="expected a JSON list"):
        loads_json("{}")


def test_history_helpers() -> None:
    h = History([W2, W1, op("a", "read", 1, 1, 4.0, 5.0, key="y")])
    assert h.keys() == ["x", "y"] and h.processes() == ["b", "a"]
    assert list(h.by_process()["a"]) == [W1, h[2]]
    assert [len(g) for g in h.by_key().values()] == [2, 1]
    assert isinstance(h[:1], History) and len(h[:1]) == 1
    with pytest.raises(ConfigError, match="complete"):
        op("a", "read", 1, 1, 5.0, 4.0)
    with pytest.raises(ConfigError, match="kind"):
        op("a", "scan", 1, 1, 5.0, 6.0)


# ---- command line ----


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLE), "--model", "linearizable"]) == 1
    out = capsys.readouterr().out
    assert "stale read" in out and "alice @ UK South: read user:1" in out
    assert main(["check", str(EXAMPLE), "--model", "staleness", "--max-versions", "1"]) == 0
    assert capsys.readouterr().out == "staleness: ok (2 operations checked)\n"
    assert main(["check", str(EXAMPLE), "--model", "session", "--json", "-"]) == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["violations"][0]["guarantee"] == "read-your-writes"
    good = tmp_path / "good.json"
    save_history(simulate_register(5, 200, clients=3), good)
    assert main(["check", str(good), "--model", "session"]) == 0


RUN_CLI = "import sys; from edgekv.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.edn", "--model", "session"], "cannot read"),
        (["history.txt", "--model", "session"], "expected a .edn, .json or .jsonl"),
        (["bad.edn", "--model", "linearizable"], "bad.edn: offset 0"),
        (["noversions.json", "--model", "session"], "version"),
        (["bad.edn", "--model", "staleness"], "needs --max-versions"),
        (["bad.edn", "--model", "session", "--max-seconds", "1s"], "staleness only"),
    ],
)
def test_cli_bad_input_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.edn").write_text("{:type")
    save_history([op("a", "write", 1, 0, 0.0, 1.0)], tmp_path / "noversions.json")
    run = subprocess.run(
        [sys.executable, "-c", RUN_CLI, "check", *args], capture_output=True, text=True
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and message in run.stderr, run.stderr
    assert run.stderr.startswith("edgekv check: error: ")


def test_cli_help_ends_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    assert "example:" in out and "edgekv check history.edn --model linearizable" in out


def test_checkers_import_no_event_loop() -> None:
    code = (
        "import sys, edgekv.check; print([m for m in ('asyncio', 'aiohttp') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
