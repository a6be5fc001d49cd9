"""Inputs where a fast path and the event path disagreed, found by a differential search
(issue 14): each must give identical figures on both paths."""

from __future__ import annotations

import dataclasses
import json
from importlib import resources

import numpy as np
import pytest
from paths import assert_identical, both

from edgekv import ConfigError, bench
from edgekv.flags import Evaluator
from edgekv.lowlevel import (
    LOGIN,
    WRITE,
    EdgeFlags,
    Workload,
    run_system,
    scenario_config,
    single_home,
)

COLUMN = "single-home"


def _app_version_flags() -> Evaluator:
    """The packaged flags with ``platinum-status-feature`` on ``appVersion > 5.1.500``, so
    a login's flags depend on which background write its document holds."""
    text = (resources.files("edgekv") / "data" / "flags-example.json").read_text("utf-8")
    flags = json.loads(text)
    audience = flags["features"][0]["configuration"]["targets"][0]["_audience"]
    audience["filters"]["filters"] = [
        {"type": "user", "subType": "appVersion", "comparator": ">", "values": ["5.1.500"]}
    ]
    return Evaluator(json.dumps(flags))


def test_writes_of_one_value_acknowledged_out_of_order_leave_the_right_ones_in_flight() -> None:
    """Three background writes to a Japan East home: 700 and 300 from Brazil South, then 700
    from Japan East, acknowledged first. A login at the home then is served 300 (the newest
    version); the truth holds the local 700, and the writes still in flight are the first
    700 then 300, so the truth ahead ends at 300: the login is not wrong. (The event path's
    runner drops the first unacknowledged write of equal value, the remote 700, and ends its
    truth ahead at 700.)"""
    evaluator = _app_version_flags()
    base = scenario_config()
    japan, brazil = base.names.index("Japan East"), base.names.index("Brazil South")
    cfg = base.replace(systems={**base.systems, COLUMN: {"hosts": ["Japan East"]}})
    work = Workload(
        home=np.array([japan]),
        stars0=np.array([50]),
        kind=np.array([WRITE, WRITE, WRITE, LOGIN]),
        user=np.array([0, 0, 0, 0]),
        region=np.array([brazil, brazil, japan, japan]),
        t_edge=np.array([3.0, 3.001, 3.1, 3.2]),
        d_in=np.full(4, 0.01),
        d_out=np.full(4, 0.01),
        value=np.array([700, 300, 700, 0]),
    )
    keys = ["user-0"]
    fast = single_home(work, cfg, 1, keys, evaluator, COLUMN)
    columns = [(COLUMN, "strong")]
    event = run_system(work, cfg, 1, keys, evaluator, COLUMN, columns, None)[COLUMN]
    assert fast is not None
    assert not fast.wrong[3]
    assert_identical(fast, dataclasses.replace(event, path="event"))


def test_equal_builds_in_flight_on_a_drawn_workload() -> None:
    """The same on a drawn workload: a hot user writing from many regions to a Brazil South
    home, two of its builds in flight equal (578), one of them acknowledged first."""
    base = scenario_config()
    cfg = base.replace(
        service_time=0.005,
        systems={**base.systems, COLUMN: {"write_flush": "12ms", "hosts": ["Brazil South"]}},
    )
    scenario = EdgeFlags(
        users=200,
        duration=20.0,
        seed=574,
        mobility=0.9,
        think="exp:50ms",
        sessions_per_min=60.0,
        reads_per_min=1.0,
        writes_per_min=200.0,
        warmup=0.5,
        steps=((WRITE, None), (LOGIN, None), (WRITE, None), (LOGIN, None)),
        zipf_s=1.5,
    )
    fast, event = both(scenario, cfg, COLUMN, _app_version_flags())
    assert_identical(fast, event)


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_store_that_cannot_keep_up_is_a_config_error(fast_path: bool) -> None:
    """A hot key whose operations arrive faster than ``service_time`` serves them leaves
    operations pending past the runner's drain limit: a :class:`ConfigError` naming the
    field (the CLI prints it as one line), on either path, not a bare ``RuntimeError``."""
    cfg = scenario_config().replace(service_time=0.5)
    scenario = EdgeFlags(users=800, duration=30.0, reads_per_min=12.0, zipf_s=2.0)
    with pytest.raises(ConfigError, match=r"^network\.service_time: [\d,]+ operations still"):
        bench(scenario, systems=[COLUMN], config=cfg, fast_path=fast_path)
