"""Hypothesis settings profiles, selected once for the whole suite, and the quick tier.

A fresh clone starts with an empty ``.hypothesis/`` and cold caches: the first ``st.text()``
draw builds Hypothesis's Unicode tables, which a loaded CI machine can take seconds over. So
no profile has a deadline or the too-slow and data-too-large health checks; ``ci`` (chosen
when ``CI`` is set, as ``.ci/run`` runs) also derandomizes, so a CI run is the same run every
time, and prints the blob to reproduce a failure. ``dev`` keeps the random search.
Pick one by hand with ``HYPOTHESIS_PROFILE=dev|ci``.

``make test-quick`` (``-m "not slow"``) runs the unit tests of the core, drivers, flags,
checkers and quorum model; every test of :data:`END_TO_END` (whole benchmark runs, servers,
fuzzing, sweeps, browsers, subprocesses) is marked slow and runs in ``make test`` and CI.
"""

from __future__ import annotations

import os

import numpy  # noqa: F401 -- loaded once here: pytester's in-process runs cannot re-import it
import pytest
from browser import chromium  # noqa: F401 -- the fixture, for every test that needs a browser
from hypothesis import HealthCheck, settings

from edgekv.lowlevel import VirtualTimeLoop  # noqa: F401 -- one class for pytester runs too

_RELAXED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=_RELAXED,
    derandomize=True,
    print_blob=True,
)
settings.register_profile("dev", deadline=None, suppress_health_check=_RELAXED)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

END_TO_END = {
    "test_anomalies.py",
    "test_api.py",
    "test_attacks.py",
    "test_bench_cli.py",
    "test_bench_stats.py",
    "test_benchmarks.py",
    "test_cli.py",
    "test_cli_details.py",
    "test_closed_form.py",
    "test_config_fuzz.py",
    "test_cost.py",
    "test_durable.py",
    "test_fasthome.py",
    "test_fasthome_blocks.py",
    "test_fastpath.py",
    "test_fastpath_regressions.py",
    "test_flags_conformance.py",
    "test_flags_wasm.py",
    "test_fuzz_http.py",
    "test_html_report.py",
    "test_live.py",
    "test_openapi.py",
    "test_plugin.py",
    "test_scenario.py",
    "test_sweep.py",
    "test_sweep_dask.py",
    "test_trace.py",
    "test_workload.py",
}
"""Test files whose tests run edgekv end to end: slow for ``make test-quick``."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of an :data:`END_TO_END` file slow."""
    for item in items:
        if item.path.name in END_TO_END:
            item.add_marker(pytest.mark.slow)
