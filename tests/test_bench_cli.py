"""End to end: `edgekv bench` and `edgekv sweep` through `edgekv.cli.main`, checking the
files they write, not just the exit code."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from edgekv.cli import main
from edgekv.lowlevel import flatten

SMALL = ["--users", "1500", "--duration", "20s", "--mobility", "0.4"]


def _bench(tmp_path: Path, name: str, *extra: str) -> dict[str, Any]:
    out = tmp_path / f"{name}.json"
    assert main(["bench", *SMALL, "--json", str(out), *extra]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def bench_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("bench")
    paths = tmp / "a.json", tmp / "a.csv", tmp / "a.png"
    args = ["bench", *SMALL, "--json", str(paths[0]), "--csv", str(paths[1])]
    assert main([*args, "--plot", str(paths[2])]) == 0
    return paths


def test_bench_json_holds_every_figure_consistently(
    bench_files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(bench_files[0].read_text())
    assert data["scenario"]["name"] == "edge-flags"
    assert data["scenario"]["users"] == 1500 and data["scenario"]["mobility"] == 0.4
    work = data["workload"]
    assert work["reads"] == work["login"] + work["background read"]
    assert work["writes"] == work["purchase"] + work["background write"]
    systems = data["systems"]
    assert list(systems) == ["replicated:eventual", "replicated:session", "single-home"]
    for s in systems.values():
        reads = s["reads"]["latency_ms"]
        assert reads["n"] == work["reads"]
        assert reads["p50"] <= reads["p95"] <= reads["p99"] <= reads["p99.9"]
        assert s["reads"]["home_latency_ms"]["n"] + s["reads"]["away_latency_ms"]["n"] == reads["n"]
        assert s["logins"]["wrong_flag"]["of"] == work["login"]
        assert s["writes"]["latency_ms"]["n"] == work["writes"]
    eventual, session, single = (
        systems["replicated:eventual"],
        systems["replicated:session"],
        systems["single-home"],
    )
    # Single-home away reads pay the round trip to the home; the replicated store does not.
    gap = single["reads"]["away_latency_ms"]["mean"] - single["reads"]["home_latency_ms"]["mean"]
    assert gap == pytest.approx(work["mean_rtt_to_home_of_away_reads_ms"], abs=5.0)
    ev = eventual["reads"]
    assert abs(ev["away_latency_ms"]["p50"] - ev["home_latency_ms"]["p50"]) < 3.0
    assert single["reads"]["latency_ms"]["p99"] > eventual["reads"]["latency_ms"]["p99"] + 100
    # Freshness: eventual pays in stale reads and wrong flags, the others do not.
    assert eventual["stale_reads"]["n"] > 0 and eventual["ryw_violations"]["n"] > 0
    assert eventual["logins"]["wrong_flag"]["n"] > 0
    assert session["ryw_violations"]["n"] * 5 <= eventual["ryw_violations"]["n"]
    assert single["stale_reads"]["n"] == 0 and single["replication"]["bytes"] == 0
    assert eventual["replication"]["bytes"] == session["replication"]["bytes"] > 0
    assert session["outcomes"]["waited"]["n"] + session["outcomes"]["forwarded"]["n"] > 0


def test_bench_csv_has_every_json_figure(bench_files: tuple[Path, Path, Path]) -> None:
    data = json.loads(bench_files[0].read_text())
    with bench_files[1].open() as fh:
        rows = {(r["scope"], r["metric"]): r["value"] for r in csv.DictReader(fh)}
    expected = {("workload", m): v for m, v in flatten(data["workload"])}
    for name, figures in data["systems"].items():
        expected.update({(name, m): v for m, v in flatten(figures)})
    assert len(expected) > 100
    for key, value in expected.items():
        assert rows[key] == ("" if value is None else str(value)), key


def test_bench_plot_is_a_png(bench_files: tuple[Path, Path, Path]) -> None:
    assert bench_files[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    args = ["bench", "--users", "300", "--duration", "5s", "--seed", "3"]
    paths = [tmp_path / f"{i}.json" for i in range(3)]
    assert main([*args, "--json", str(paths[0])]) == 0
    assert main([*args, "--json", str(paths[1])]) == 0
    assert main([*args[:-1], "4", "--json", str(paths[2])]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_bench_zero_lag_leaves_only_writes_in_flight(tmp_path: Path) -> None:
    data = _bench(tmp_path, "zero", "--lag", "const:0ms")
    assert data["scenario"]["lag"] == "constant(0ms)"
    for s in data["systems"].values():
        assert s["stale_beyond_floor"]["n"] <= s["stale_reads"]["n"]
    assert data["systems"]["single-home"]["stale_beyond_floor"]["n"] == 0
    # What is left is the network: writes still in flight at half the measured RTT (reads
    # after the fiber floor has passed count as stale beyond it).
    assert data["systems"]["replicated:eventual"]["staleness_ms"]["mean"] < 170


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["bench", "--mobility", "1.5"], "--mobility"),
        (["bench", "--users", "0"], "--users"),
        (["bench", "--duration", "soon"], "--duration"),
        (["bench", "--lag", "gauss:3ms"], "lag"),
        (["bench", "--think", "lognormal:1s"], "think"),
        (["bench", "--flags", "/nonexistent/flags.json"], "flags"),
        (["bench", "--config", "/nonexistent/regions.yaml"], "regions.yaml"),
        (["bench", "--plot", "out.svg"], "--plot"),
        (["bench", "--json", "/nonexistent/dir/out.json"], "--json"),
        (["sweep", "--param", "colour"], "--param"),
        (["sweep", "--param", "mobility", "--values", "0,2"], "--values"),
        (["sweep", "--values", "1s,,2s"], "--values"),
        (["sweep", "--jobs", "0"], "--jobs"),
    ],
)
def test_bad_flags_give_one_line_errors(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["bench", "sweep"])
def test_help_shows_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and f"edgekv {command} --" in out


@pytest.mark.slow
def test_sweep_lag_median_in_parallel(tmp_path: Path) -> None:
    args = ["sweep", "--param", "lag.median", "--values", "0ms,100ms,500ms,2s"]
    args += ["--users", "1000", "--duration", "15s", "--mobility", "0.5"]
    paths = tmp_path / "p.json", tmp_path / "s.json", tmp_path / "s.csv", tmp_path / "s.png"
    assert main([*args, "--jobs", "2", "--json", str(paths[0])]) == 0
    assert main([*args, "--jobs", "1", "--json", str(paths[1]), "--csv", str(paths[2])]) == 0
    assert main([*args, "--jobs", "1", "--values", "0ms,1s", "--plot", str(paths[3])]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    data = json.loads(paths[0].read_text())
    assert data["param"] == "lag.median"
    points = data["points"]
    assert [p["label"] for p in points] == ["0ms", "100ms", "500ms", "2s"]
    assert [p["value"] for p in points] == [0.0, 0.1, 0.5, 2.0]
    assert points[0]["scenario"]["lag"] == "constant(0ms)"
    assert points[1]["scenario"]["lag"] == "lognormal(median=100ms, sigma=0.5)"
    stale = [p["systems"]["replicated:eventual"]["stale_reads"]["pct"] for p in points]
    assert stale == sorted(stale) and stale[-1] > 5 * stale[0]
    beyond = [p["systems"]["replicated:eventual"]["stale_beyond_floor"]["n"] for p in points]
    assert beyond[0] < beyond[-1]
    for p in points:
        assert p["systems"]["single-home"]["stale_reads"]["n"] == 0
        assert p["workload"] == points[0]["workload"]
    with paths[2].open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["value"] for r in rows} == {"0.0", "0.1", "0.5", "2.0"}
    assert paths[3].read_bytes()[:4] == b"\x89PNG"


def test_sweep_mobility_moves_single_home_latency(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    argv = ["sweep", "--param", "mobility", "--values", "0,1", "--jobs", "1"]
    assert main([*argv, "--users", "600", "--duration", "10s", "--json", str(out)]) == 0
    still, roaming = json.loads(out.read_text())["points"]
    assert still["systems"]["single-home"]["reads"]["away_latency_ms"]["n"] == 0
    assert still["systems"]["replicated:eventual"]["stale_reads"]["n"] == 0
    p99 = [p["systems"]["single-home"]["reads"]["latency_ms"]["p99"] for p in (still, roaming)]
    assert p99[1] > p99[0] + 100


def test_bench_records_checkable_histories_of_every_system(tmp_path: Path) -> None:
    """``--record DIR``: the kernel-driven runner keeps each system's operations as a history
    that ``edgekv check`` reads; session reads keep the session guarantees there."""
    from edgekv.check import check, load_history

    argv = ["bench", "--users", "300", "--duration", "10s", "--record", str(tmp_path)]
    assert main([*argv, "--systems", "replicated:session,single-home"]) == 0
    replicated = load_history(tmp_path / "seed-1" / "replicated.jsonl")
    single = load_history(tmp_path / "seed-1" / "single-home.jsonl")
    assert len(replicated) > 300 and len(single) > 300
    assert check(replicated, "session").ok and check(single, "session").ok
    assert (
        main(["check", str(tmp_path / "seed-1" / "single-home.jsonl"), "--model", "session"]) == 0
    )


def test_bench_title_and_json_name_each_columns_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "regions.yaml"
    text = (Path(__file__).resolve().parent.parent / "regions.yaml").read_text()
    config.write_text(text.replace("anti_entropy: 1s ", "anti_entropy: null "))
    systems = ["--config", str(config), "--systems", "replicated:eventual,single-home"]
    fast = _bench(tmp_path, "fast", *systems)
    title = " ".join(capsys.readouterr().out.split())
    assert "paths: replicated:eventual vectorised, single-home vectorised" in title
    event = _bench(tmp_path, "event", *systems, "--no-fast-path")
    assert "paths: replicated:eventual event, single-home event" in " ".join(
        capsys.readouterr().out.split()
    )
    assert [s["path"] for s in fast["systems"].values()] == ["vectorised", "vectorised"]
    assert [s["path"] for s in event["systems"].values()] == ["event", "event"]
    for data in (fast, event):
        for s in data["systems"].values():
            del s["path"]
    assert fast == event  # identical figures on both paths
