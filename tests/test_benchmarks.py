"""Every benchmark script runs end to end at a tiny size, so a broken one fails CI rather
than the next person who wants a figure. Timings at these sizes mean nothing; only that the
scripts run and that their cross-checks (identical results across kernels and SDKs) hold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_sim_throughput_gives_identical_results_on_every_kernel() -> None:
    out = run("sim_throughput.py", "--requests", "3000", "--repeat", "1")
    assert out.count("identical results: True") == 2, out
    assert "kernels alone" in out and "target edgekv run under 2 s" in out


def test_memory_measures_both_stores() -> None:
    out = run("memory.py", "--keys", "3000")
    rows = [line.split() for line in out.splitlines() if line.startswith(("item", "field"))]
    assert [(r[0], r[1]) for r in rows] == [
        ("item", "false"),
        ("field", "false"),
        ("item", "true"),
        ("field", "true"),
    ]
    assert all(float(r[2]) > 0 for r in rows)


def test_quorum_event_path_agrees_with_the_vectorised_one() -> None:
    out = run("quorum.py", "--trials", "5000", "--event-trials", "2000")
    assert "trials with any differing read: 0" in out and "latencies identical: True" in out


def test_flags_benchmark_agrees_with_the_devcycle_sdk() -> None:
    pytest.importorskip("devcycle_python_sdk")
    out = run("flags.py", "--users", "20")
    assert "identical variable values: 20/20 users" in out


def test_http_load_runs_both_servers() -> None:
    out = run("http_load.py", "--seconds", "0.2", "--concurrency", "2", "--max-requests", "100")
    assert "edgekv / minimal requests/s" in out


def test_checker_benchmark_agrees_with_the_brute_force() -> None:
    out = run("checker.py", "--ops", "300", "--agreement", "100")
    assert "brute-force agreement count: 100/100" in out, out
    assert out.count("linearizable") >= 6 and "violation, counterexample of" in out


def test_scale_reports_exponents_per_axis() -> None:
    out = run(
        "scale.py",
        *("--users", "60,120", "--regions", "2,3", "--region-users", "60", "--repeat", "1"),
        *("--json", "--trace-memory"),
    )
    report = json.loads(out)
    assert [p["users"] for p in report["by_users"]] == [60, 120]
    assert [p["regions"] for p in report["by_regions"]] == [2, 3]
    for p in report["by_users"] + report["by_regions"]:
        assert p["cpu_s"] > 0 and p["events"] > 0 and p["peak_rss_kb"] > 0
    twice = report["by_users"][1]
    assert twice["ops"] > report["by_users"][0]["ops"] and twice["replicated_bytes"] > 0
    assert report["users_exponents"]["events"] > 0
    assert report["regions_exponents"]["messages_sent_total"] > 1  # n-1 per write, n^2 digests
    assert report["bare_heapq_cpu_s"] > 0 and report["default_bench_over_bare"] is None
    assert report["by_users"][1]["live_bytes_per_user_by_file"]["_crdt.py"] > 0


def test_recorder_benchmark_records_every_operation() -> None:
    out = run("recorder.py", "--ops", "200", "--repeat", "1")
    assert out.count("200 recorded") == 2 and "0 recorded" in out, out
    assert out.count("Recorder.record alone") == 2, out


def test_fastpath_bench_checks_identity_and_prints_ratios() -> None:
    out = run("fastpath.py", "--users", "300", "--repeat", "1")
    assert "identical results (every per-op array, bytes, messages, lost, lag): True" in out, out
    assert "event path / fast path:" in out and "fast path / numpy floor:" in out
