"""The single-home fast path works on blocks of whole users; with blocks of one user or a few
ops (a user's ops then often outnumber a block), its figures are still the event path's
exactly: block boundaries lose, duplicate or misplace nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from paths import assert_identical, both

from edgekv.lowlevel import EdgeFlags, build_workload, scenario_config

COLUMN = "single-home"
BUSY = {"writes_per_min": 8.0, "mobility": 0.6}

CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    # name: (config changes, single-home options, scenario parameters)
    "default": ({}, {}, {}),
    "slow service, busy users": ({"service_time": 0.05}, {}, BUSY),
    "hot users (zipf)": ({"service_time": 0.02}, {}, {"zipf_s": 1.3, **BUSY}),
    "hosts in two regions, no warmup": (
        {},
        {"hosts": ["East US", "Japan East"]},
        {"warmup": 0.0, **BUSY},
    ),
    "time-outs of initial puts and queued ops": (
        {"request_timeout": 0.2, "service_time": 0.01},
        {"hosts": ["Japan East"]},
        {"warmup": 0.0, **BUSY},
    ),
    "writes only": ({}, {}, {"reads_per_min": 0.0, "sessions_per_min": 0.0}),
}


@pytest.mark.parametrize("chunk", [1, 2, 64])
@pytest.mark.parametrize("case", list(CASES))
def test_tiny_blocks_give_the_event_paths_figures(
    case: str, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes, options, params = CASES[case]
    cfg = scenario_config().replace(**changes)
    if options:
        cfg = cfg.replace(systems={**cfg.systems, COLUMN: {**cfg.systems[COLUMN], **options}})
    scenario = EdgeFlags(**{"users": 200, "duration": 20.0, "seed": 11, **params})
    monkeypatch.setattr("edgekv._bench.fasthome._CHUNK", chunk)
    fast, event = both(scenario, cfg, COLUMN)
    assert_identical(fast, event)
    # Several blocks; with the small ones, users whose ops outnumber a block.
    per_user = np.bincount(build_workload(scenario, cfg).user, minlength=scenario.users) + 1
    assert per_user.sum() > 2 * chunk
    assert chunk == 64 or (per_user > chunk).any()
