"""Both paths of a column, compared: the fast path's run and the event path's, identical in
the whole result JSON and in every per-operation array (shared by the fast-path tests)."""

from __future__ import annotations

import json

import numpy as np

from edgekv import Config
from edgekv.flags import Evaluator
from edgekv.lowlevel import (
    PER_OP,
    EdgeFlags,
    SystemRun,
    load_evaluator,
    run_edge_flags,
    summarize,
)

EVALUATOR = load_evaluator()


def both(
    scenario: EdgeFlags, cfg: Config, column: str, evaluator: Evaluator = EVALUATOR
) -> tuple[SystemRun, SystemRun]:
    """Both paths' runs of the column; their whole result JSON is checked identical here."""
    fast = run_edge_flags(scenario, cfg, evaluator, systems=[column])
    event = run_edge_flags(scenario, cfg, evaluator, systems=[column], fast_path=False)
    texts = []
    for result in (fast, event):
        summary = summarize(result)
        del summary["systems"][column]["path"]
        texts.append(json.dumps(summary, sort_keys=True, allow_nan=False))
    assert texts[0] == texts[1]
    return fast.systems[column], event.systems[column]


def assert_identical(fast: SystemRun, event: SystemRun) -> None:
    """The fast path ran, and gave the event path's every array and total."""
    assert (fast.path, event.path) == ("vectorised", "event")
    for name in PER_OP:
        a, b = getattr(fast, name), getattr(event, name)
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b), f"{name}: {np.flatnonzero(a != b)[:10]}"
    for name in ("bytes_replicated", "messages_replicated", "lost_updates", "writes_checked"):
        assert getattr(fast, name) == getattr(event, name), name
    assert fast.realised_lag == event.realised_lag
