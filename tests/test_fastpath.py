"""The vectorised fast path gives the event path's figures exactly, op by op and in the whole
result JSON, on the same draws (several sizes, seeds and configs), and refuses whatever it
cannot reproduce."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import EVALUATOR, assert_identical, both

from edgekv import Config, ConfigError, bench, load_config
from edgekv.lowlevel import (
    LOGIN,
    PURCHASE,
    READ,
    WRITE,
    Constant,
    EdgeFlags,
    Empirical,
    Exponential,
    Mixture,
    Workload,
    build_workload,
    encode_ops,
    load_workload,
    op_entries,
    refusal,
    replicated_columns,
    run_edge_flags,
    run_system,
    scenario_config,
    summarize,
)

COLUMN = "replicated:eventual"
SESSION = "replicated:session"
EVENTUAL = [(COLUMN, "eventual")]

THREE_REGIONS = """
regions:
  - {name: A, lat: 40.0, lon: -75.0, weight: 0.5}
  - {name: B, lat: 51.5, lon: 0.0, weight: 0.3}
  - {name: C, lat: 35.7, lon: 139.7, weight: 0.2}
network: {client_delay: "lognormal:10ms,0.5"}
replication:
  lag: exp:400ms
  anti_entropy: null
  links: [{from: A, to: C, lag: "pareto:100ms,1.5"}, {from: C, to: B, lag: "uniform:50ms,900ms"}]
store: {clock: wall, compact: true}
"""

ONE_REGION = """
regions: [{name: Solo, lat: 0.0, lon: 0.0, weight: 1.0}]
replication: {anti_entropy: null}
"""


def _config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "regions.yaml"
    path.write_text(text)
    return load_config(str(path))


CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "default lag": ({}, {}),
    "slow heavy-tailed lag, no warmup": (
        {"lag": "lognormal:2s,1.0"},
        {"warmup": 0.0, "mobility": 0.6},
    ),
    "constant lag, wall clock": ({"lag": "constant:250ms", "clock": "wall"}, {}),
    "fast lag, slow service": ({"lag": "uniform:1ms,40ms", "service_time": 0.05}, {}),
    "no service time, truncated normal lag": (
        {"lag": "normal:300ms,200ms", "service_time": 0.0},
        {},
    ),
    "mixture lag": ({"lag": Mixture((Constant(0.1), Exponential(3.0)), (0.9, 0.1))}, {}),
    "empirical lag": ({"lag": Empirical((0.01, 0.5, 2.0))}, {"warmup": 1.0}),
}


@pytest.mark.parametrize("seed", [1, 7, 23])
@pytest.mark.parametrize("case", list(CASES))
def test_fast_path_matches_event_path_small(case: str, seed: int) -> None:
    changes, params = CASES[case]
    cfg = scenario_config().replace(anti_entropy=None, **changes)
    scenario = EdgeFlags(**{"users": 400, "duration": 20.0, "seed": seed, **params})
    fast, event = both(scenario, cfg, COLUMN)
    assert_identical(fast, event)


@pytest.mark.parametrize("period", [1.0, 0.3])
@pytest.mark.parametrize("seed", [1, 7])
@pytest.mark.parametrize("case", list(CASES))
def test_fast_path_matches_with_anti_entropy(case: str, seed: int, period: float) -> None:
    """Digests and repairs share the links' lag streams with writes, and a repair can beat
    a slow delivery: both paths agree on every first application and every byte."""
    changes, params = CASES[case]
    cfg = scenario_config().replace(anti_entropy=period, **changes)
    scenario = EdgeFlags(**{"users": 400, "duration": 20.0, "seed": seed, **params})
    fast, event = both(scenario, cfg, COLUMN)
    assert_identical(fast, event)


@pytest.mark.parametrize("period", [None, 1.0])
@pytest.mark.parametrize("seed", [1, 7])
@pytest.mark.parametrize("case", list(CASES))
def test_session_level_matches_event_path(case: str, seed: int, period: float | None) -> None:
    """Session reads that are served at once, wait for replication or ask other regions:
    the same record, answer time and outcome on both paths."""
    changes, params = CASES[case]
    cfg = scenario_config().replace(anti_entropy=period, **changes)
    scenario = EdgeFlags(**{"users": 400, "duration": 20.0, "seed": seed, **params})
    fast, event = both(scenario, cfg, SESSION)
    assert_identical(fast, event)


@pytest.mark.parametrize("wait", [None, 0.0, 0.05, 0.5])
def test_session_level_matches_with_more_moves_and_any_session_wait(wait: float | None) -> None:
    cfg = scenario_config()
    if wait is not None:
        cfg = cfg.replace(systems={"replicated": {"session_wait": wait}})
    scenario = EdgeFlags(users=3000, duration=30.0, seed=5, mobility=0.6)
    fast, event = both(scenario, cfg, SESSION)
    local, waited, forwarded = np.bincount(event.outcome, minlength=3)
    assert forwarded > 5 and (waited == 0 if wait == 0.0 else waited > 10)
    assert_identical(fast, event)


@pytest.mark.parametrize("column", [COLUMN, SESSION])
def test_reads_computed_in_small_blocks_match(monkeypatch: pytest.MonkeyPatch, column: str) -> None:
    """The fast path computes reads a block at a time (bounded memory): blocks of 37 reads,
    so a user's reads and a login's evaluation straddle block boundaries, change nothing."""
    import edgekv._bench.fastpath as fastpath

    monkeypatch.setattr(fastpath, "_CHUNK", 37)
    cfg = scenario_config().replace(lag="lognormal:600ms,0.8")
    scenario = EdgeFlags(users=1500, duration=30.0, seed=4, mobility=0.5)
    fast, event = both(scenario, cfg, column)
    if column == SESSION:
        assert np.count_nonzero(event.outcome) > 10  # reads that waited or asked
    else:
        assert event.stale.sum() > 5 and event.wrong.sum() > 0
    assert_identical(fast, event)


@pytest.mark.parametrize("seed", [3, 11])
def test_fast_path_matches_event_path_medium(seed: int) -> None:
    cfg = scenario_config().replace(anti_entropy=None, lag="lognormal:600ms,0.8")
    scenario = EdgeFlags(users=6000, duration=30.0, seed=seed, mobility=0.4)
    fast, event = both(scenario, cfg, COLUMN)
    assert event.stale.sum() > 20 and event.ryw.sum() > 5 and event.wrong.sum() > 0
    assert_identical(fast, event)


@pytest.mark.parametrize("seed", [2, 5])
def test_fast_path_matches_with_link_overrides_and_compact_store(tmp_path: Path, seed: int) -> None:
    cfg = _config(tmp_path, THREE_REGIONS)
    fast, event = both(EdgeFlags(users=1500, duration=30.0, seed=seed), cfg, COLUMN)
    assert event.stale.any()
    assert_identical(fast, event)


def test_fast_path_matches_on_one_region(tmp_path: Path) -> None:
    fast, event = both(EdgeFlags(users=300, duration=10.0), _config(tmp_path, ONE_REGION), COLUMN)
    assert_identical(fast, event)
    assert fast.messages_replicated == 0


def test_hlc_overflow_within_one_millisecond_matches(tmp_path: Path) -> None:
    """More than 16,384 initial puts at one region in the same millisecond: the clock's
    logical counter overflows into the next millisecond on both paths."""
    cfg = _config(tmp_path, ONE_REGION)
    fast, event = both(EdgeFlags(users=17_000, duration=1.0, reads_per_min=1.0), cfg, COLUMN)
    assert_identical(fast, event)
    assert int(fast.version.max()) > 0


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"loss": 0.01}, "loss or duplication"),
        ({"anti_entropy": None, "granularity": "item"}, "item granularity"),
        ({"anti_entropy": None, "jitter": "exp:5ms"}, "jitter"),
        ({"anti_entropy": None, "batch_window": 0.01}, "batching window"),
    ],
)
def test_configs_with_feedback_take_the_event_path(changes: dict[str, Any], reason: str) -> None:
    cfg = scenario_config().replace(**changes)
    why = refusal(cfg)
    assert why is not None and why.startswith(reason)
    result = run_edge_flags(EdgeFlags(users=100, duration=5.0), cfg, EVALUATOR, systems=[COLUMN])
    assert result.systems[COLUMN].path == "event"


@pytest.mark.parametrize("seed", [1, 4])
def test_every_default_column_is_vectorised_and_unchanged(seed: int) -> None:
    """Both replicated columns and single-home take the fast path, each on its own; every
    column's figures equal the all-event run's (one store for both replicated levels)."""
    cfg = scenario_config().replace(anti_entropy=None)
    scenario = EdgeFlags(users=1500, duration=20.0, seed=seed, mobility=0.4)
    systems = ["replicated:eventual", "replicated:session", "single-home"]
    both = [
        summarize(run_edge_flags(scenario, cfg, EVALUATOR, systems=systems, fast_path=f))
        for f in (True, False)
    ]
    paths = [[s.pop("path") for s in summary["systems"].values()] for summary in both]
    assert paths == [["vectorised"] * 3, ["event"] * 3]
    assert json.dumps(both[0], sort_keys=True) == json.dumps(both[1], sort_keys=True)


def test_replication_bytes_follow_msgpack_at_every_size_boundary() -> None:
    """The fast path sums msgpack's sizes instead of packing each write: checked against the
    real encoder across the int and string size classes."""
    cases = [
        (origin, seq, key, purchase, value, version)
        for origin in (0, 127, 128, 255)
        for seq in (1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32)
        for key in ("k", "x" * 31, "x" * 32, "x" * 255, "x" * 256, "x" * 65536)
        for purchase, value in ((True, 5), (True, 300), (True, 70000), (False, 7), (False, 999))
        for version in (1, 2**40, 2**62)
    ]
    expected = []  # each op's entry: a batch of it less the empty batch
    for origin, seq, key, purchase, value, version in cases:
        patch = {"customData": {"stars": value}} if purchase else {"appVersion": f"5.1.{value}"}
        whole = len(encode_ops(origin, [[origin, seq, key, [patch, version]]]))
        expected.append(whole - len(encode_ops(origin, [])))
    columns = list(zip(*cases, strict=True))
    got = op_entries(
        np.array(columns[0], dtype=np.int64),
        np.array(columns[1], dtype=np.int64),
        np.array([len(k) for k in columns[2]], dtype=np.int64),
        np.array(columns[3], dtype=bool),
        np.array(columns[4], dtype=np.int64),
        np.array(columns[5], dtype=np.int64),
    )
    assert got.tolist() == expected


def test_a_bad_system_option_fails_on_the_fast_path_too() -> None:
    cfg = scenario_config().replace(anti_entropy=None, systems={"replicated": {"nope": 1}})
    with pytest.raises(ConfigError, match=r"systems\.replicated"):
        run_edge_flags(EdgeFlags(users=50, duration=5.0), cfg, EVALUATOR, systems=[COLUMN])


def test_a_read_tied_with_a_write_of_its_user_is_left_to_the_kernel() -> None:
    """A read starting at the very instant a write of its user is acknowledged: the event
    order would be the kernel's insertion order, so the fast path declines."""
    cfg = scenario_config().replace(anti_entropy=None)
    scenario = EdgeFlags(users=200, duration=10.0)
    work = build_workload(scenario, cfg)
    keys = [f"user-{u:03d}" for u in range(scenario.users)]
    assert COLUMN in replicated_columns(work, cfg, 1, keys, EVALUATOR, EVENTUAL)
    reads = np.flatnonzero((work.kind == LOGIN) | (work.kind == READ)).tolist()
    purchases = (work.kind == PURCHASE).nonzero()[0]
    w, i = next(
        (w, i)
        for i in reads
        for w in purchases[work.user[purchases] == work.user[i]].tolist()
        if w < i
    )
    t_edge = work.t_edge.copy()
    t_edge[i] = t_edge[w] + cfg.service_time
    tied = dataclasses.replace(work, t_edge=t_edge)
    assert replicated_columns(tied, cfg, 1, keys, EVALUATOR, EVENTUAL) == {}


@settings(max_examples=12)
@given(
    seed=st.integers(0, 2**16),
    users=st.integers(1, 250),
    mobility=st.sampled_from([0.0, 0.3, 1.0]),
    lag=st.sampled_from(["exp:300ms", "lognormal:1s,1.0", "constant:80ms", "uniform:0ms,2s"]),
    warmup=st.sampled_from([0.0, 0.5, 5.0]),
    column=st.sampled_from([COLUMN, SESSION]),
    period=st.sampled_from([None, 1.0]),
)
def test_fast_path_matches_event_path_on_any_seed(
    seed: int, users: int, mobility: float, lag: str, warmup: float, column: str, period: Any
) -> None:
    cfg = scenario_config().replace(anti_entropy=period, lag=lag)
    scenario = EdgeFlags(users=users, duration=8.0, seed=seed, mobility=mobility, warmup=warmup)
    fast, event = both(scenario, cfg, column)
    if len(fast.latency):  # (without operations the column runs on the event path)
        assert_identical(fast, event)


def test_a_lost_update_is_counted_alike(tmp_path: Path) -> None:
    """Two background writes of one user at two regions within one millisecond: the later
    one gets the lower version (same millisecond, lower region index), so LWW keeps the
    earlier one and the later is lost, on both paths."""
    cfg = scenario_config().replace(anti_entropy=None)
    keys = ["user-0"]
    work = Workload(
        home=np.array([0]),
        stars0=np.array([50]),
        kind=np.array([WRITE, WRITE, LOGIN]),
        user=np.array([0, 0, 0]),
        region=np.array([5, 1, 2]),
        t_edge=np.array([3.0002, 3.0006, 9.0]),
        d_in=np.full(3, 0.01),
        d_out=np.full(3, 0.01),
        value=np.array([11, 22, 0]),
    )
    fast = replicated_columns(work, cfg, 1, keys, EVALUATOR, EVENTUAL).get(COLUMN)
    columns = [(COLUMN, "eventual")]
    event = run_system(work, cfg, 1, keys, EVALUATOR, "replicated", columns, None)[COLUMN]
    assert fast is not None
    assert (fast.lost_updates, fast.writes_checked) == (1, 2)
    assert_identical(fast, dataclasses.replace(event, path="event"))


def test_the_api_takes_the_fast_path_unless_told_not_to() -> None:
    cfg = scenario_config().replace(anti_entropy=None)
    columns = ["replicated:eventual", "replicated:session"]
    runs = [
        bench(systems=columns, users=300, duration=10.0, config=cfg, fast_path=f)
        for f in (True, False)
    ]
    paths = [[s["path"] for s in r.to_dict()["systems"].values()] for r in runs]
    assert paths == [["vectorised", "vectorised"], ["event", "event"]]
    assert "paths: replicated:eventual vectorised, replicated:session vectorised" in (
        runs[0].title()
    )
    for r in runs:
        for s in r.to_dict()["systems"].values():
            del s["path"]
    assert runs[0].to_dict() == runs[1].to_dict()


@pytest.mark.parametrize("seed", [1, 2])
def test_the_cart_workload_matches_on_every_column(seed: int) -> None:
    """The packaged cart workload (sessions of several writes, Zipf-popular users): the
    eventual column vectorised, the whole result identical to the all-event run."""
    cfg = scenario_config().replace(anti_entropy=None)
    scenario = dataclasses.replace(load_workload("cart"), users=1500, duration=20.0, seed=seed)
    systems = ["replicated:eventual", "replicated:session", "single-home"]
    both = [
        summarize(run_edge_flags(scenario, cfg, EVALUATOR, systems=systems, fast_path=f))
        for f in (True, False)
    ]
    assert [s.pop("path") for s in both[0]["systems"].values()][0] == "vectorised"
    for s in both[1]["systems"].values():
        del s["path"]
    assert json.dumps(both[0], sort_keys=True) == json.dumps(both[1], sort_keys=True)


def test_padded_documents_take_the_event_path() -> None:
    cfg = scenario_config().replace(anti_entropy=None)
    scenario = dataclasses.replace(load_workload("profile-store"), users=200, duration=5.0)
    result = run_edge_flags(scenario, cfg, EVALUATOR, systems=[COLUMN])
    assert result.systems[COLUMN].path == "event"


@pytest.mark.parametrize(
    ("changes", "params"),
    [
        ({"request_timeout": 0.3}, {}),
        (
            {
                "anti_entropy": None,
                "lag": "lognormal:3s,0.5",
                "systems": {"replicated": {"session_wait": "5s"}},
            },
            {"mobility": 0.6},
        ),
    ],
)
def test_a_forwarded_session_read_the_timeout_fails_is_left_to_the_kernel(
    changes: dict[str, Any], params: dict[str, Any]
) -> None:
    """Found by a random search: a session read asking other regions for longer than the
    request timeout fails on the event path; the fast path declines such a run."""
    cfg = scenario_config().replace(**changes)
    scenario = EdgeFlags(**{"users": 1000, "duration": 10.0, "seed": 1, **params})
    fast, event = both(scenario, cfg, SESSION)
    assert fast.path == "event" and event.failed.any()


@pytest.mark.parametrize("column", [COLUMN, SESSION])
def test_deliveries_beyond_the_drain_limit_are_left_to_the_kernel(column: str) -> None:
    """Found by a random search: the runner stops replicating 600 s after the run, so a lag
    that long changes the realised lag it reports; the fast path declines."""
    cfg = scenario_config().replace(anti_entropy=None, lag="constant:620s")
    fast, _ = both(EdgeFlags(users=50, duration=5.0, seed=1), cfg, column)
    assert fast.path == "event"
