"""``edgekv.bench`` from Python and ``edgekv bench --repeat``: the same figures as the command,
across-seed means with t intervals, a rich table, a pandas frame."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

import edgekv
from edgekv.cli import main
from edgekv.lowlevel import BenchResult, mean_interval

HEADLINE = {
    "read_p50_ms",
    "read_p99_ms",
    "read_p99.9_ms",
    "away_read_p50_ms",
    "login_p99_ms",
    "stale_reads_pct",
    "ryw_violations_pct",
    "wrong_flag_logins_pct",
    "unavailable_reads_pct",
}
"""The figures ``across_seeds`` summarises, as documented in the README."""

SMALL = {"users": 500, "duration": "8s", "mobility": 0.4}
ARGV = ["--users", "500", "--duration", "8s", "--mobility", "0.4"]


@pytest.fixture(scope="module")
def repeated() -> BenchResult:
    return edgekv.bench(seed=3, repeat=3, **SMALL)  # type: ignore[arg-type]


def _render(result: BenchResult) -> str:
    console = Console(file=io.StringIO(), width=200)
    console.print(result.table())
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


def test_api_gives_the_commands_json(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    assert main(["bench", *ARGV, "--seed", "4", "--json", str(out)]) == 0
    result = edgekv.bench(seed=4, **SMALL)  # type: ignore[arg-type]
    assert isinstance(result, edgekv.lowlevel.BenchResult)
    assert json.loads(json.dumps(result.to_dict())) == json.loads(out.read_text())
    assert result.seeds == [4]
    assert result.systems == ["replicated:eventual", "replicated:session", "single-home"]
    text = _render(result)
    reads = result.to_dict()["systems"]["single-home"]["reads"]["latency_ms"]
    assert f"{reads['p50']:.1f} [" in text and "seed 4" in text


def test_repeat_runs_consecutive_seeds_and_reports_t_intervals(repeated: BenchResult) -> None:
    data = repeated.to_dict()
    assert data["repeat"] == 3 and data["seeds"] == [3, 4, 5] and data["confidence"] == 0.95
    for i, run in enumerate(data["runs"]):
        assert run == edgekv.bench(seed=3 + i, **SMALL).to_dict()  # type: ignore[arg-type]
    across = data["across_seeds"]
    eventual = across["replicated:eventual"]
    assert set(eventual) == HEADLINE
    stale = eventual["stale_reads_pct"]
    values = [r["systems"]["replicated:eventual"]["stale_reads"]["pct"] for r in data["runs"]]
    assert stale["values"] == values and len(set(values)) > 1
    m = mean_interval(values)
    assert stale["mean"] == pytest.approx(m.mean) and stale["sd"] == pytest.approx(m.sd)
    assert stale["lo"] == pytest.approx(max(m.lo, 0.0)) and stale["hi"] == pytest.approx(m.hi)
    # Clipped to the figure's range: a share's interval never goes below 0.
    for figures in across.values():
        for key, f in figures.items():
            if f["mean"] is not None:
                assert 0 <= f["lo"] <= f["mean"] <= f["hi"], key
    assert across["single-home"]["stale_reads_pct"]["hi"] == 0.0
    text = _render(repeated)
    p99 = across["single-home"]["read_p99_ms"]
    assert f"{p99['mean']:.1f} [{p99['lo']:.1f}, {p99['hi']:.1f}]" in text
    assert "seeds 3..5" in text and "mean over 3 seeds" in text


def test_repeat_on_the_command_line(tmp_path: Path, repeated: BenchResult) -> None:
    paths = tmp_path / "r.json", tmp_path / "r.csv"
    argv = ["bench", *ARGV, "--seed", "3", "--repeat", "3"]
    assert main([*argv, "--json", str(paths[0]), "--csv", str(paths[1])]) == 0
    assert json.loads(paths[0].read_text()) == json.loads(json.dumps(repeated.to_dict()))
    with paths[1].open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["seed"] for r in rows} == {"3", "4", "5", "all"}
    mean = next(
        r
        for r in rows
        if (r["seed"], r["scope"], r["metric"])
        == ("all", "replicated:eventual", "stale_reads_pct.mean")
    )
    expected = repeated.across_seeds()["replicated:eventual"]["stale_reads_pct"]["mean"]
    assert float(mean["value"]) == pytest.approx(expected)


def test_to_pandas_is_a_tidy_frame(repeated: BenchResult) -> None:
    pytest.importorskip("pandas")
    frame = repeated.to_pandas()
    assert list(frame.columns) == ["seed", "system", "metric", "value"]
    assert set(frame["seed"]) == {3, 4, 5}
    row = frame[
        (frame.seed == 4) & (frame.system == "single-home") & (frame.metric == "stale_reads.of")
    ]
    assert row["value"].tolist() == [
        repeated.summaries[1]["systems"]["single-home"]["reads"]["latency_ms"]["n"]
    ]


def test_to_pandas_without_pandas_names_the_extra(
    repeated: BenchResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'edgekv\[pandas\]'"):
        repeated.to_pandas()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"workload": "no-such-workload"}, "workload"),
        ({"repeat": 0}, "repeat"),
        ({"users": 0}, "users"),
        ({"systems": ["nosuch"]}, "systems"),
        ({"duration": "soon"}, "duration"),
        ({"lag": "gauss:3ms"}, "lag"),
        ({"config": "/nonexistent/regions.yaml"}, "regions.yaml"),
        ({"duration": 1e300}, "duration: expected a duration of at most"),  # was numpy's error
        ({"systems": [1]}, "systems: expected a system name"),  # was AttributeError
        ({"systems": None}, "systems: expected a list of system names"),  # was TypeError
    ],
)
def test_bad_arguments_raise_config_errors_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(edgekv.ConfigError, match=field):
        edgekv.bench(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((5,), {}, "param: expected 'PATH=VALUES'"),  # was AttributeError
        (("users=300",), {"jobs": "2"}, "jobs: expected an integer >= 1, got '2'"),  # TypeError
        (("users=300",), {"jobs": 0}, "jobs: expected an integer >= 1, got 0"),
    ],
)
def test_bad_sweep_arguments_raise_config_errors_naming_the_field(
    args: tuple[object, ...], kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(edgekv.ConfigError, match=field):
        edgekv.sweep(*args, **kwargs)  # type: ignore[arg-type]


def test_bad_repeat_flag_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--repeat", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--repeat" in err


def test_sweep_from_python_equals_the_cli_points(tmp_path: Path) -> None:
    """``edgekv.sweep`` runs the same grid as ``edgekv sweep`` and returns its points."""
    import json

    import edgekv
    from edgekv.cli import main

    params = ("lag.median=0ms,1s", "users=300")
    result = edgekv.sweep(*params, systems=["replicated:eventual"], seed=3)
    assert result.params == ("lag.median", "users")
    stale = [p["systems"]["replicated:eventual"]["stale_reads"]["n"] for p in result.points]
    assert stale[0] < stale[1]
    out = tmp_path / "sweep.json"
    argv = ["sweep", "--param", params[0], "--param", params[1], "--seed", "3", "--duration", "60s"]
    assert main([*argv, "--systems", "replicated:eventual", "--json", str(out)]) == 0
    cli = json.loads(out.read_text())
    assert [p["systems"] for p in cli["points"]] == [p["systems"] for p in result.points]
    frame = result.to_pandas()
    assert len(frame) == 2 and set(frame["system"]) == {"replicated:eventual"}
