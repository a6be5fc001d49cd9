"""The edge-flags scenario: workload shape and the figures' internal consistency (latency
decomposition, freshness against the lag, session and single-home guarantees)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from edgekv import ConfigError
from edgekv.lowlevel import (
    LOGIN,
    OUTCOMES,
    PURCHASE,
    READ,
    Constant,
    EdgeFlags,
    Exponential,
    LogNormal,
    Mixture,
    Pareto,
    ScenarioResult,
    Uniform,
    build_workload,
    load_evaluator,
    median,
    run_edge_flags,
    scenario_config,
    with_median,
)

EVALUATOR = load_evaluator()


def _run(lag: str | None = None, **params: object) -> ScenarioResult:
    scenario = EdgeFlags(**{"users": 1500, "duration": 20.0, **params})  # type: ignore[arg-type]
    return run_edge_flags(scenario, scenario_config(None, lag), EVALUATOR)


@pytest.fixture(scope="module")
def default_run() -> ScenarioResult:
    return _run(users=3000, duration=30.0, mobility=0.5)


def _reads(result: ScenarioResult) -> np.ndarray:
    kind = result.workload.kind
    return (kind == LOGIN) | (kind == READ)


def test_eventual_read_latency_is_client_round_trip_plus_service(
    default_run: ScenarioResult,
) -> None:
    work, run = default_run.workload, default_run.systems["replicated:eventual"]
    reads = _reads(default_run)
    expected = work.d_in + default_run.cfg.service_time + work.d_out
    assert reads.sum() > 3000
    np.testing.assert_allclose(run.latency[reads], expected[reads], rtol=0, atol=1e-9)
    assert (run.outcome[reads] == OUTCOMES.index("local")).all()


def test_single_home_away_reads_pay_the_round_trip_to_home(default_run: ScenarioResult) -> None:
    work, run = default_run.workload, default_run.systems["single-home"]
    reads = _reads(default_run)
    home = work.home[work.user]
    rtt = np.asarray(default_run.rtt)
    trip = rtt[work.region, home]
    local = work.d_in + work.d_out + default_run.cfg.service_time + run.waited
    away = reads & work.away
    at_home = reads & ~work.away
    assert away.sum() > 300 and at_home.sum() > 1000
    np.testing.assert_allclose(run.latency[at_home], local[at_home], rtol=0, atol=1e-9)
    np.testing.assert_allclose(run.latency[away], (local + trip)[away], rtol=0, atol=1e-9)
    assert trip[away].min() > 0.015
    assert (run.outcome[away] == OUTCOMES.index("forwarded")).all()


def test_session_and_single_home_keep_read_your_writes(default_run: ScenarioResult) -> None:
    reads = _reads(default_run)
    logins = default_run.workload.kind == LOGIN
    eventual = default_run.systems["replicated:eventual"]
    assert eventual.ryw[reads].sum() > 0
    assert eventual.wrong[logins].sum() > 0
    single = default_run.systems["single-home"]
    assert not single.ryw[reads].any()
    # The session token is a CRDT state and replicas must dominate it: a newer write to
    # another field (appVersion from elsewhere) does not pass for the user's own purchase.
    session = default_run.systems["replicated:session"]
    assert not session.ryw[reads].any()
    assert not session.wrong[logins].any()
    assert not single.stale.any() and not single.wrong.any()
    assert single.bytes_replicated == 0
    assert eventual.bytes_replicated > 0


def test_a_wrong_flag_is_always_a_missed_own_purchase(default_run: ScenarioResult) -> None:
    logins = default_run.workload.kind == LOGIN
    for run in default_run.systems.values():
        wrong = run.wrong & logins
        assert not (wrong & ~run.ryw).any(), run.name


def test_every_operation_answered_and_platinum_depends_on_stars(
    default_run: ScenarioResult,
) -> None:
    logins = default_run.workload.kind == LOGIN
    for run in default_run.systems.values():
        assert not np.isnan(run.latency).any()
        share = run.platinum[logins].mean()
        assert 0.1 < share < 0.9


def test_stale_share_and_staleness_beyond_the_floor_fall_with_the_lag() -> None:
    stale, beyond = [], []
    for lag in ("lognormal:1s,0.5", "lognormal:300ms,0.5", "lognormal:50ms,0.5", "const:0ms"):
        result = _run(lag, users=1000, duration=15.0, mobility=0.5)
        reads = _reads(result)
        run = result.systems["replicated:eventual"]
        stale.append(run.stale[reads].mean())
        beyond.append(run.beyond_floor[reads].sum())
    assert stale == sorted(stale, reverse=True)
    assert stale[0] > 5 * stale[-1]
    assert beyond[0] > 10 * max(beyond[-1], 1)


def test_at_zero_lag_a_write_missed_past_the_fiber_floor_is_stale_beyond_it() -> None:
    """With no replication lag a write still takes the measured one-way delay (half the
    RTT, 1.2-2.5x the speed-of-light-in-fiber floor of the great-circle distance): a read
    that misses it once the fiber floor has passed is stale beyond the floor. (With half
    the RTT as the floor, as before, no read was.)"""
    result = _run("const:0ms", users=1000, duration=15.0, mobility=0.5)
    run = result.systems["replicated:eventual"]
    beyond = _reads(result) & run.beyond_floor
    assert beyond.any()
    reader = result.workload.region[beyond]
    half_rtt = (np.array(result.rtt) / 2).max(axis=0)[reader]
    assert (run.stale_s[beyond] <= half_rtt + 1e-9).all()
    fiber = np.array(result.cfg.floors())
    assert (run.stale_s[beyond] > fiber.min(axis=0)[reader]).all()


def test_same_seed_same_outcomes_other_seed_differs() -> None:
    a, b = _run(users=300, duration=5.0), _run(users=300, duration=5.0)
    c = _run(users=300, duration=5.0, seed=2)
    for name, run in a.systems.items():
        np.testing.assert_array_equal(run.latency, b.systems[name].latency)
        np.testing.assert_array_equal(run.stale, b.systems[name].stale)
    assert a.workload.ops != c.workload.ops or not np.array_equal(
        a.workload.t_edge, c.workload.t_edge
    )


def test_workload_mobility_and_order() -> None:
    cfg = scenario_config()
    still = build_workload(EdgeFlags(users=500, duration=20.0, mobility=0.0), cfg)
    roaming = build_workload(EdgeFlags(users=500, duration=20.0, mobility=1.0), cfg)
    assert not still.away.any()
    logins = roaming.kind == LOGIN
    assert roaming.away[logins].all()
    assert not roaming.away[roaming.kind == PURCHASE].any()
    assert (np.diff(roaming.t_edge) >= 0).all()
    purchases = int((still.kind == PURCHASE).sum())
    assert purchases == int((still.kind == LOGIN).sum())
    expected = 500 * 20 / 60
    assert abs(purchases - expected) < 5 * math.sqrt(expected)


@pytest.mark.parametrize(
    "dist",
    [
        LogNormal(0.3, 0.5),
        Exponential(0.1),
        Uniform(0.1, 0.5),
        Pareto(0.01, 2.0),
        Constant(0.2),
        Mixture((Exponential(0.1), Constant(1.0)), (0.7, 0.3)),
    ],
)
def test_with_median_sets_the_median(dist: object) -> None:
    scaled = with_median(dist, 0.05)  # type: ignore[arg-type]
    assert type(scaled) is type(dist)
    assert median(scaled) == pytest.approx(0.05, rel=0.02)
    assert with_median(dist, 0.0) == Constant(0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"users": 0}, "users"),
        ({"mobility": 1.5}, "mobility"),
        ({"duration": 0.0}, "duration"),
        ({"reads_per_min": -1.0}, "reads_per_min"),
    ],
)
def test_bad_parameters_name_the_field(params: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError) as info:
        EdgeFlags(**params)  # type: ignore[arg-type]
    assert info.value.path == name


def test_bad_flags_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="flags"):
        load_evaluator("/nonexistent/flags.json")


def test_lost_updates_come_from_item_granularity_and_skew_not_from_field_lww() -> None:
    """Item LWW throws away one of two concurrent updates of different fields, and wall
    clocks with skew throw away later writes; field LWW on HLC loses none."""
    scenario = EdgeFlags(users=400, duration=20.0, mobility=0.5, writes_per_min=12.0, seed=4)
    cfg = scenario_config(None, "lognormal:1s,0.5")
    field = run_edge_flags(scenario, cfg, EVALUATOR, systems=["replicated:eventual"])
    item = run_edge_flags(
        scenario, cfg.replace(granularity="item"), EVALUATOR, systems=["replicated:eventual"]
    )
    skewed = cfg.replace(
        clock="wall",
        regions=tuple(
            dataclasses.replace(r, clock_skew=-5.0) if r.name == "UK South" else r
            for r in cfg.regions
        ),
    )
    wall = run_edge_flags(scenario, skewed, EVALUATOR, systems=["replicated:eventual"])
    runs = [r.systems["replicated:eventual"] for r in (field, item, wall)]
    assert all(run.writes_checked > 800 for run in runs)
    assert runs[0].lost_updates == 0
    assert runs[1].lost_updates > 0 and runs[2].lost_updates > 0
