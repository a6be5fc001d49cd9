"""Every benchmark script runs end to end at a tiny size, so a broken one fails CI rather
than the next person who wants a figure. Timings at these sizes mean nothing; only that the
scripts run and that their cross-checks (identical results across kernels and SDKs) hold, read
as values from each script's ``--json -`` output, never from its printed sentences."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def report_of(script: str, *args: str) -> dict[str, Any]:
    """Run a benchmark with ``--json -`` and parse the one JSON object it writes to stdout."""
    report: dict[str, Any] = json.loads(run(script, *args, "--json", "-"))
    return report


def test_sim_throughput_gives_identical_results_on_every_kernel() -> None:
    report = report_of("sim_throughput.py", "--requests", "3000", "--repeat", "1")
    kernels = report["kernels"]
    assert list(kernels) == ["edgekv", "simpy_processes", "simpy_callbacks"]
    assert report["requests"] == 3000 and report["events"] > report["requests"]
    ours = kernels["edgekv"]
    for name in ("simpy_processes", "simpy_callbacks"):
        theirs = kernels[name]
        assert theirs["identical"] is True
        for field in ("reads", "stale_pct", "bytes_shipped", "delivered", "p50_ms", "p99_ms"):
            assert theirs[field] == ours[field], field
        assert theirs["over_edgekv"] == pytest.approx(theirs["wall_s"] / ours["wall_s"])
        assert theirs["alone_over_edgekv"] == pytest.approx(
            theirs["alone_wall_s"] / ours["alone_wall_s"]
        )
    for row in kernels.values():
        assert row["wall_s"] > 0 and row["alone_wall_s"] > 0
        assert row["requests_per_s"] == pytest.approx(3000 / row["wall_s"])
        assert row["reads"] > 0 and 0 <= row["stale_pct"] <= 100
    bare = report["bare_heapq"]
    assert bare["reads"] == ours["reads"] and bare["wall_s"] > 0
    assert report["edgekv_over_bare"] == pytest.approx(ours["wall_s"] / bare["wall_s"])
    assert report["edgekv_model_wall_s"] == pytest.approx(ours["wall_s"] - ours["alone_wall_s"])
    assert report["meets_under_2s_target"] is (ours["wall_s"] < 2.0)
    ratio = kernels["simpy_processes"]["over_edgekv"]
    assert report["meets_simpy_target"] is (ratio >= 2.0)


def test_memory_measures_both_stores() -> None:
    report = report_of("memory.py", "--keys", "3000")
    assert report["keys"] == 3000
    rows = report["rows"]
    assert [(r["granularity"], r["compact"]) for r in rows] == [
        ("item", False),
        ("field", False),
        ("item", True),
        ("field", True),
    ]
    for r in rows:
        assert r["bytes_per_key"] > 0 and r["peek_ns"] > 0 and r["dict_get_ns"] > 0
        assert r["ratio"] == pytest.approx(r["peek_ns"] / r["dict_get_ns"])


def test_quorum_event_path_agrees_with_the_vectorised_one() -> None:
    report = report_of("quorum.py", "--trials", "5000", "--event-trials", "2000")
    vec, ev = report["vectorized"], report["events"]
    assert (vec["trials"], ev["trials"]) == (5000, 2000)
    times = len(report["t_s"])
    assert times == 8 and (vec["reads"], ev["reads"]) == (5000 * times, 2000 * times)
    assert report["differing_trials"] == 0 and report["max_abs_diff"] == 0
    assert report["latencies_identical"] is True
    assert ev["p_consistent"] == vec["p_consistent_common"]
    assert ev["abs_diff_common"] == [0.0] * times
    for path in (vec, ev):
        assert path["wall_s"] > 0
        assert path["us_per_trial"] == pytest.approx(path["wall_s"] / path["trials"] * 1e6)
        assert all(0 <= p <= 1 for p in path["p_consistent"])
    assert report["events_over_vectorized_per_trial"] == pytest.approx(
        ev["us_per_trial"] / vec["us_per_trial"]
    )
    assert report["meets_target"] is (vec["wall_s"] < report["target_s"])


def test_flags_benchmark_agrees_with_the_devcycle_sdk() -> None:
    pytest.importorskip("devcycle_python_sdk")
    report = report_of("flags.py", "--users", "20")
    assert report["users"] == 20 and report["agree"] == 20
    assert report["ours_median_us"] > 0 and report["sdk_median_us"] > 0
    assert report["ratio"] == pytest.approx(report["sdk_median_us"] / report["ours_median_us"])
    assert report["ratio_with_validation"] == pytest.approx(
        report["sdk_median_us"] / report["ours_with_validation_median_us"]
    )


def test_http_load_runs_both_servers() -> None:
    report = report_of(
        "http_load.py", "--seconds", "0.2", "--concurrency", "2", "--max-requests", "100"
    )
    servers = report["servers"]
    assert list(servers) == ["minimal", "edgekv"]
    for row in servers.values():
        assert row["max_requests_per_s"] > 0 and 0 < row["n"] <= 100
        assert 0 < row["p50_ms"] <= row["p99_ms"]
    assert report["edgekv_over_minimal"] == pytest.approx(
        servers["edgekv"]["max_requests_per_s"] / servers["minimal"]["max_requests_per_s"]
    )
    assert report["meets_target"] is (report["edgekv_over_minimal"] >= report["target"])


def test_checker_benchmark_agrees_with_the_brute_force() -> None:
    report = report_of("checker.py", "--ops", "300", "--agreement", "100")
    assert report["agreement"]["histories"] == 100 and report["agreement"]["agree"] == 100
    rows = report["rows"]
    assert len(rows) == 12 and (report["ops"], report["small_ops"]) == (300, 30)
    assert {(r["clients"], r["values"], r["stale"]) for r in rows} == {
        (c, v, s) for c in (2, 4, 8) for v in (None, 5) for s in (0.0, 0.01)
    }
    for r in rows:
        assert r["cpu_s"] > 0
        assert r["ratio"] == pytest.approx(r["cpu_s"] / max(r["small_cpu_s"], 1e-9))
        assert r["linearizable"] is (r["counterexample_ops"] is None)
        if r["stale"] == 0.0:
            assert r["linearizable"] is True  # a linearizable register without stale reads
    assert sum(r["linearizable"] for r in rows) >= 6
    assert any(r["counterexample_ops"] for r in rows)


def test_scale_reports_exponents_per_axis_and_every_target_ratio() -> None:
    report = report_of(
        "scale.py",
        *("--users", "60,120", "--regions", "2,3", "--region-users", "60", "--repeat", "1"),
        *("--writes", "0.5,4", "--fast-users", "200", "--trace-memory", "--no-fast-path"),
    )
    assert [p["users"] for p in report["by_users"]] == [60, 120]
    assert [p["regions"] for p in report["by_regions"]] == [2, 3]
    assert [p["writes_per_min"] for p in report["by_writes"]] == [0.5, 4.0]
    for p in report["by_users"] + report["by_regions"] + report["by_writes"]:
        assert p["cpu_s"] > 0 and p["events"] > 0 and p["peak_rss_kb"] > 0
        assert set(p["paths"]) == {"event"}
    twice = report["by_users"][1]
    assert twice["ops"] > report["by_users"][0]["ops"] and twice["replicated_bytes"] > 0
    assert report["by_writes"][1]["writes"] > report["by_writes"][0]["writes"]
    assert report["users_exponents"]["events"] > 0
    assert report["writes_exponents"]["replicated_bytes"] > 0
    assert report["regions_exponents"]["replicated_messages"] > 1  # n-1 per write, n^2 digests
    bare, event = report["bare_heapq_cpu_s"], report["event_path_cpu_s"]
    assert bare > 0 and report["event_path_over_bare"] == pytest.approx(event / bare)
    assert report["default_bench_over_bare"] is None  # no 20,000-user point asked for
    fast = report["fast_path"]
    assert fast["identical"] is True and fast["users"] == 200
    assert fast["fast_over_floor"] == pytest.approx(fast["cpu_s"]["fast"] / fast["cpu_s"]["floor"])
    assert sum(twice["live_bytes_per_user_by_file"].values()) > 0


def test_a_scale_point_runs_the_default_bench_as_edgekv_bench_does() -> None:
    """By default a point takes the fast path where ``edgekv bench`` would: every default
    column vectorised, so no event runs; the figures come from the columns."""
    point = json.loads(run("scale.py", "--point", "300", "3"))
    assert point["paths"] == ["vectorised"] * 3 and point["events"] == 0
    assert point["replicated_bytes"] > 0 and point["replicated_messages"] > 0


def test_recorder_benchmark_records_every_operation() -> None:
    report = report_of("recorder.py", "--ops", "200", "--repeat", "1")
    modes = report["modes"]
    assert report["ops"] == 200 and list(modes) == ["off", "ring", "file"]
    assert [modes[m]["recorded"] for m in ("off", "ring", "file")] == [0, 200, 200]
    for mode, row in modes.items():
        assert row["cpu_s"] > 0
        assert row["over_off"] == pytest.approx(row["cpu_s"] / modes["off"]["cpu_s"])
        assert row["extra_us_per_op"] == pytest.approx(
            (row["cpu_s"] - modes["off"]["cpu_s"]) / 200 * 1e6
        )
        assert ("record_alone_us_per_op" in row) is (mode != "off")
    assert modes["ring"]["record_alone_us_per_op"] > 0
    assert modes["file"]["record_alone_us_per_op"] > 0


def test_json_to_a_file_keeps_the_table_on_stdout(tmp_path: Path) -> None:
    path = tmp_path / "memory.json"
    out = run("memory.py", "--keys", "500", "--json", str(path))
    report = json.loads(path.read_text())
    assert report["keys"] == 500 and len(report["rows"]) == 4
    assert len(out.splitlines()) == 2 + len(report["rows"]) + 1  # title, header, rows, targets


def test_unwritable_json_path_fails_in_one_line_before_the_run(tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "report.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "memory.py"), "--json", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1 and done.stdout == ""
    error = f"--json: cannot write {missing}: No such file or directory"
    assert done.stderr.splitlines() == [error]


def test_fastpath_bench_checks_identity_and_reports_ratios() -> None:
    report = report_of("fastpath.py", "--users", "300", "--repeat", "1")
    assert report["identical"] is True and report["users"] == 300
    assert report["stale_reads"]["event"] == report["stale_reads"]["fast"]
    cpu = report["cpu_s"]
    assert all(cpu[k] > 0 for k in ("event", "fast", "floor", "evaluator"))
    assert report["event_over_fast"] == pytest.approx(cpu["event"] / cpu["fast"])
    assert report["fast_over_floor"] == pytest.approx(cpu["fast"] / cpu["floor"])
