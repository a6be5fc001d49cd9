"""The single-home fast path gives the event path's figures exactly, op by op and in the
whole result JSON, on the same draws (several sizes, seeds, options and configs), and refuses
whatever it cannot reproduce."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import EVALUATOR, assert_identical, both

import edgekv
from edgekv import Config, load_config
from edgekv.lowlevel import (
    LOGIN,
    PURCHASE,
    READ,
    WRITE,
    EdgeFlags,
    Workload,
    build_workload,
    home_refusal,
    load_evaluator,
    load_workload,
    run_edge_flags,
    run_system,
    scenario_config,
    single_home,
    split_version,
    summarize,
    vectorised,
)

COLUMN = "single-home"

THREE_REGIONS = """
regions:
  - {name: A, lat: 40.0, lon: -75.0, weight: 0.5}
  - {name: B, lat: 51.5, lon: 0.0, weight: 0.3}
  - {name: C, lat: 35.7, lon: 139.7, weight: 0.2, clock_skew: -3ms}
network: {client_delay: "lognormal:10ms,0.5", service_time: 4ms}
store: {clock: wall, compact: true}
rtt_ms:
  A: {B: 80, C: 170}
  B: {A: 81, C: 231}
  C: {A: 169, B: 230}
"""


def _config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "regions.yaml"
    path.write_text(text)
    return load_config(str(path))


def _skewed(cfg: Config, **skews: float) -> Config:
    regions = tuple(
        dataclasses.replace(r, clock_skew=skews.get(r.name.replace(" ", "_"), r.clock_skew))
        for r in cfg.regions
    )
    return cfg.replace(regions=regions)


BUSY = {"writes_per_min": 8.0, "mobility": 0.6}
"""Many writes from several regions per user: homes queue, writes race to the home."""

CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    # name: (config changes, single-home options, scenario parameters)
    "default": ({}, {}, {}),
    "slow service, busy users": ({"service_time": 0.05}, {}, BUSY),
    "hot users (zipf), slow service": (
        {"service_time": 0.02},
        {},
        {"zipf_s": 1.3, "reads_per_min": 8.0, **BUSY},
    ),
    "no flush, no service time": ({"service_time": 0.0}, {"write_flush": 0}, BUSY),
    "slow flush": ({}, {"write_flush": "400ms"}, {"mobility": 0.5, "think": "constant:50ms"}),
    "hosts in two regions, no warmup": (
        {},
        {"hosts": ["East US", "Japan East"]},
        {"warmup": 0.0, **BUSY},
    ),
    "padded documents (2 bytes: builds share paddings)": ({}, {}, {"padding_bytes": 2, **BUSY}),
    "writes only": ({}, {}, {"reads_per_min": 0.0, "sessions_per_min": 0.0}),
    "reads only (and the initial puts)": ({}, {}, {"writes_per_min": 0.0, "sessions_per_min": 0.0}),
    "time-outs (away ops fail, their writes still commit)": (
        {"request_timeout": 0.05},
        {},
        {"mobility": 0.6, "writes_per_min": 4.0},
    ),
    "time-outs of initial puts and queued ops": (
        {"request_timeout": 0.2, "service_time": 0.01},
        {"hosts": ["Japan East"]},
        {"warmup": 0.0, **BUSY},
    ),
    "jurisdiction eu": ({}, {"jurisdiction": "eu"}, {"mobility": 0.4}),
    "anti-entropy, loss and lag do not matter": (
        {"anti_entropy": 5.0, "loss": 0.3, "lag": "exp:2s"},
        {},
        {},
    ),
}


def _case(case: str) -> tuple[Config, dict[str, Any]]:
    changes, options, params = CASES[case]
    cfg = scenario_config().replace(**changes)
    if options:
        cfg = cfg.replace(systems={**cfg.systems, COLUMN: {**cfg.systems[COLUMN], **options}})
    return cfg, params


@pytest.mark.parametrize("seed", [1, 7, 23])
@pytest.mark.parametrize("case", list(CASES))
def test_fast_path_matches_event_path_small(case: str, seed: int) -> None:
    cfg, params = _case(case)
    scenario = EdgeFlags(**{"users": 300, "duration": 20.0, "seed": seed, **params})
    fast, event = both(scenario, cfg, COLUMN)
    assert_identical(fast, event)


def test_the_cases_exercise_what_they_claim() -> None:
    """Queues, away reads, lost updates (writes racing to the home), reads after an own
    purchase and time-outs all occur in the cases above, so the comparisons cover them;
    reads stay linearizable (never stale, never missing an own purchase)."""
    seen = dict.fromkeys(("waited", "forwarded", "lost", "own", "platinum", "failed"), 0)
    for case in CASES:
        cfg, params = _case(case)
        scenario = EdgeFlags(**{"users": 300, "duration": 20.0, "seed": 7, **params})
        run = run_edge_flags(scenario, cfg, EVALUATOR, systems=[COLUMN]).systems[COLUMN]
        assert run.path == "vectorised", case
        assert not (run.stale.any() or run.ryw.any())
        assert run.failed.any() == ("time-outs" in case)
        seen["failed"] += int(run.failed.sum())
        seen["waited"] += int((run.waited > 0).sum())
        seen["forwarded"] += int((run.outcome == 2).sum())
        seen["lost"] += run.lost_updates
        seen["own"] += int((run.required > 0).sum())
        seen["platinum"] += int(run.platinum.sum())
    assert all(seen.values()), seen


def test_logins_before_the_initial_puts_are_acknowledged() -> None:
    """With a short warmup and a slow flush, logins answer while their user's initial put is
    still unacknowledged: the runner does not count a put as in flight, so such a login
    served the put's document is wrong against a truth of nothing (found by a random search)."""
    cfg = scenario_config().replace(service_time=0.004)
    cfg = cfg.replace(systems={COLUMN: {"write_flush": "300ms"}})
    scenario = EdgeFlags(
        users=77,
        duration=5.0,
        seed=666246,
        mobility=0.0,
        warmup=0.05,
        writes_per_min=5.0,
        think="exp:100ms",
    )
    fast, event = both(scenario, cfg, COLUMN)
    assert_identical(fast, event)
    assert fast.wrong.any()


def test_failed_writes_still_travelling_when_the_run_stops_never_commit() -> None:
    """Away writes that time out stop being waited for; the runner stops the kernel once
    every op has ended, before the last of them reach their homes, and counts lost updates
    on what the homes hold then (found by a random search)."""
    cfg = scenario_config().replace(service_time=0.01, request_timeout=0.05)
    cfg = cfg.replace(systems={COLUMN: {"write_flush": "5ms"}})
    scenario = EdgeFlags(
        users=296,
        duration=20.0,
        seed=308761,
        mobility=1.0,
        warmup=0.0,
        writes_per_min=5.0,
        reads_per_min=0.0,
        sessions_per_min=0.0,
    )
    fast, event = both(scenario, cfg, COLUMN)
    assert_identical(fast, event)
    assert fast.failed.sum() > 100 and fast.lost_updates > 100


@pytest.mark.parametrize("name", ["profile-store", "cart"])
def test_packaged_workloads(name: str) -> None:
    """The packaged workloads' own steps, hot keys and (profile-store) 2 KiB padding."""
    scenario = dataclasses.replace(load_workload(name, seed=4), users=400, duration=20.0)
    fast, event = both(scenario, scenario_config().replace(service_time=0.01), COLUMN)
    assert_identical(fast, event)


def test_logins_on_racing_app_versions_are_scored_alike(tmp_path: Path) -> None:
    """With the platinum feature on ``appVersion > 5.1.500``, background writes from many
    regions race to the home and some logins are served other flags than the truth at
    their start, at their answer and with their user's writes in flight (wrong logins):
    counted alike on both paths."""
    flags = json.loads((Path(edgekv.__file__).parent / "data" / "flags-example.json").read_text())
    target = flags["features"][0]["configuration"]["targets"][0]["_audience"]["filters"]
    target["filters"] = [
        {"type": "user", "subType": "appVersion", "comparator": ">", "values": ["5.1.500"]}
    ]
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(flags))
    evaluator = load_evaluator(str(path))
    cfg = scenario_config().replace(service_time=0.01)
    wrong = 0
    for seed in (2, 5):
        scenario = EdgeFlags(
            users=300,
            duration=20.0,
            seed=seed,
            writes_per_min=60.0,
            mobility=0.9,
            reads_per_min=0.0,
            sessions_per_min=6.0,
        )
        fast, event = both(scenario, cfg, COLUMN, evaluator)
        assert_identical(fast, event)
        wrong += int(fast.wrong.sum())
    assert wrong > 0


@pytest.mark.parametrize("seed", [3, 11])
def test_fast_path_matches_event_path_medium(seed: int) -> None:
    cfg = scenario_config().replace(service_time=0.01)
    scenario = EdgeFlags(users=6000, duration=30.0, seed=seed, mobility=0.4, writes_per_min=2.0)
    fast, event = both(scenario, cfg, COLUMN)
    assert_identical(fast, event)


@pytest.mark.parametrize("seed", [2, 5])
def test_three_regions_with_skew(tmp_path: Path, seed: int) -> None:
    cfg = _config(tmp_path, THREE_REGIONS)
    scenario = EdgeFlags(users=500, duration=30.0, seed=seed, **BUSY)
    fast, event = both(scenario, cfg, COLUMN)
    assert_identical(fast, event)


def test_clock_skew_at_the_homes() -> None:
    cfg = _skewed(scenario_config(), East_US=-0.004, Japan_East=0.25)
    scenario = EdgeFlags(users=400, duration=20.0, seed=4, **BUSY)
    fast, event = both(scenario, cfg, COLUMN)
    assert_identical(fast, event)


def test_many_writes_within_a_millisecond_overflow_the_logical_counter() -> None:
    """More than 16,384 initial puts at one home at the same instant: the clock's counter
    overflows into the next millisecond, as the event path's clock does."""
    cfg = scenario_config()
    cfg = cfg.replace(regions=tuple(dataclasses.replace(r, weight=1.0) for r in cfg.regions[:1]))
    scenario = EdgeFlags(users=17_000, duration=2.0, seed=1, sessions_per_min=3.0)
    fast, event = both(scenario, cfg, COLUMN)
    assert_identical(fast, event)
    ms = {split_version(v)[0] for v in fast.version.tolist()}
    assert {m for m in ms if m < min(ms) + 1000} == {min(ms), min(ms) + 1}  # the puts' two ms


@settings(max_examples=12)
@given(
    seed=st.integers(0, 2**31),
    users=st.integers(1, 120),
    mobility=st.sampled_from([0.0, 0.3, 1.0]),
    service=st.sampled_from([0.0, 0.001, 0.03]),
    warmup=st.sampled_from([0.0, 0.05, 5.0]),
    flush=st.sampled_from(["12ms", "300ms"]),
    hosts=st.sampled_from([None, ["UK South"], ["East US", "Japan East"]]),
)
def test_fast_path_matches_event_path_on_random_seeds(
    seed: int,
    users: int,
    mobility: float,
    service: float,
    warmup: float,
    flush: str,
    hosts: list[str] | None,
) -> None:
    options: dict[str, Any] = {"write_flush": flush}
    if hosts is not None:
        options["hosts"] = hosts
    cfg = scenario_config().replace(service_time=service, systems={COLUMN: options})
    scenario = EdgeFlags(
        users=users,
        duration=15.0,
        seed=seed,
        mobility=mobility,
        warmup=warmup,
        writes_per_min=4.0,
    )
    work = build_workload(scenario, cfg)
    keys = [f"user-{u:0{len(str(users - 1))}d}" for u in range(users)]
    fast = single_home(work, cfg, seed, keys, EVALUATOR, COLUMN)
    event = run_edge_flags(scenario, cfg, EVALUATOR, systems=[COLUMN], fast_path=False)
    if work.ops == 0:
        assert fast is None
        return
    assert fast is not None
    assert_identical(fast, event.systems[COLUMN])


def test_refusals_name_why(tmp_path: Path) -> None:
    cfg = scenario_config()
    work = build_workload(EdgeFlags(users=50, duration=5.0), cfg)
    assert home_refusal(cfg, work, ["strong"]) is None
    assert "several" in str(home_refusal(cfg, work, ["strong", "strong"]))
    assert "jitter" in str(home_refusal(cfg.replace(jitter="exp:2ms"), work, ["strong"]))
    cut = _config(
        tmp_path,
        THREE_REGIONS + "replication: {partitions: [{between: [A, B], start: 1s, end: 2s}]}\n",
    )
    three = build_workload(EdgeFlags(users=50, duration=5.0), cut)
    assert "partitions" in str(home_refusal(cut, three, ["strong"]))
    moving = cfg.replace(systems={COLUMN: {"migrate_after": 3}})
    assert "migrate_after" in str(home_refusal(moving, work, ["strong"]))
    quiet = EdgeFlags(users=5, sessions_per_min=0.0, reads_per_min=0.0, writes_per_min=0.0)
    assert "no operations" in str(home_refusal(cfg, build_workload(quiet, cfg), ["strong"]))
    keys = [f"user-{u:02d}" for u in range(50)]
    for bad in (cfg.replace(jitter="exp:2ms"), moving):
        assert single_home(work, bad, 1, keys, EVALUATOR, COLUMN) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"jitter": "exp:2ms"},
        {"systems": {COLUMN: {"migrate_after": 2}}},
    ],
)
def test_declined_runs_take_the_event_path(changes: dict[str, Any]) -> None:
    """Jitter and migration: the runner says the column ran on the event path, and its
    figures are the event path's."""
    cfg = scenario_config().replace(**changes)
    scenario = EdgeFlags(users=200, duration=10.0, seed=3, mobility=0.5)
    result = run_edge_flags(scenario, cfg, EVALUATOR, systems=[COLUMN])
    event = run_edge_flags(scenario, cfg, EVALUATOR, systems=[COLUMN], fast_path=False)
    assert result.systems[COLUMN].path == "event"
    assert summarize(result) == summarize(event)


def test_several_single_home_columns_run_on_the_event_path() -> None:
    """Two single-home columns issue every read twice on one store (the second queues
    behind the first), which the fast path does not model."""
    cfg = scenario_config()
    scenario = EdgeFlags(users=100, duration=5.0)
    result = run_edge_flags(scenario, cfg, EVALUATOR, systems=[COLUMN, f"{COLUMN}:strong"])
    assert [run.path for run in result.systems.values()] == ["event", "event"]


def test_an_answer_at_the_instant_of_an_acknowledgement_is_ordered_as_the_kernel_orders_it() -> (
    None
):
    """A login queued behind its user's purchase answers exactly when the purchase is
    acknowledged (service time = flush): both answers were scheduled when the ops reached
    the home, so the purchase's runs first, on both paths."""
    cfg = scenario_config().replace(service_time=SERVICE)
    cfg = cfg.replace(systems={COLUMN: {"write_flush": SERVICE}})
    work = _tiny([PURCHASE, LOGIN], [5.0, 5.0 + 2.0**-8], [0, 0])
    fast = single_home(work, cfg, 1, ["user-0"], EVALUATOR, COLUMN)
    event = run_system(work, cfg, 1, ["user-0"], EVALUATOR, COLUMN, [(COLUMN, "strong")], None)
    assert fast is not None
    assert 5.0 + fast.latency[0] == 5.0 + 2.0**-8 + fast.latency[1]  # answers at one instant
    assert_identical(fast, event[COLUMN])


def _tiny(kinds: list[int], times: list[float], regions: list[int]) -> Workload:
    """One user at home in region 0 and the given ops (no client delays)."""
    n = len(kinds)
    return Workload(
        home=np.array([0]),
        stars0=np.array([50]),
        kind=np.array(kinds),
        user=np.zeros(n, dtype=np.int64),
        region=np.array(regions),
        t_edge=np.array(times),
        d_in=np.zeros(n),
        d_out=np.zeros(n),
        value=np.array([120 if k == PURCHASE else 0 for k in kinds]),
    )


# Binary fractions, so that a purchase's acknowledgement lands exactly on a later instant.
SERVICE, FLUSH = 2.0**-6, 2.0**-7


@pytest.mark.parametrize(
    ("kinds", "times", "regions"),
    [
        # a login issued the instant its user's purchase is acknowledged
        ([PURCHASE, LOGIN], [5.0, 5.0 + SERVICE + FLUSH], [0, 0]),
        # a login answering the instant another purchase of its user is issued
        ([LOGIN, PURCHASE], [5.0, 5.0 + SERVICE], [0, 1]),
        # two writes of the user issued at once
        ([PURCHASE, WRITE], [5.0, 5.0], [0, 1]),
        # two ops reaching the home at the same instant
        ([READ, WRITE], [5.0, 5.0], [0, 0]),
    ],
)
def test_time_ties_are_left_to_the_kernel(
    kinds: list[int], times: list[float], regions: list[int]
) -> None:
    cfg = scenario_config().replace(service_time=SERVICE)
    cfg = cfg.replace(systems={COLUMN: {"write_flush": FLUSH}})
    work = _tiny(kinds, times, regions)
    keys = ["user-0"]
    assert single_home(work, cfg, 1, keys, EVALUATOR, COLUMN) is None
    assert vectorised(work, cfg, 1, keys, EVALUATOR, COLUMN, [(COLUMN, "strong")]) == {}
    # Off the tie, it computes the run and agrees with the event path.
    apart = dataclasses.replace(work, t_edge=work.t_edge + np.array([0.0, 0.25]))
    fast = single_home(apart, cfg, 1, keys, EVALUATOR, COLUMN)
    event = run_system(apart, cfg, 1, keys, EVALUATOR, COLUMN, [(COLUMN, "strong")], None)
    assert fast is not None
    assert_identical(fast, event[COLUMN])


def test_benchmark_times_both_paths_and_checks_identity() -> None:
    """``benchmarks/fastpath.py --system single-home`` runs end to end, finds both paths
    identical and its numpy floor's latencies equal to the event path's up to rounding."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "fastpath.py"
    args = ["--system", COLUMN, "--users", "300", "--repeat", "1", "--json", "-"]
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["system"] == COLUMN and report["identical"] is True
    assert report["stale_reads"] == {"event": 0, "fast": 0}
    assert report["floor_latency_max_gap_s"] < 1e-9
    cpu = report["cpu_s"]
    assert report["event_over_fast"] == pytest.approx(cpu["event"] / cpu["fast"])
