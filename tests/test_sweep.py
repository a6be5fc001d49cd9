"""`edgekv sweep` over any config, scenario or system field: values and ranges, one-line
errors naming the path, grids, progress lines, ``--json -`` and the plots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from edgekv import ConfigError
from edgekv.cli import main
from edgekv.lowlevel import EdgeFlags, figure, grid, parse_param, parse_values, run_sweep

SMALL = ["--users", "200", "--duration", "4s", "--mobility", "0.5", "--seed", "5"]


@pytest.mark.parametrize(
    ("param", "text", "labels", "values"),
    [
        ("lag.median", "0ms..1s/5", ["0ms", "250ms", "500ms", "750ms", "1s"], None),
        ("lag", "10ms..1s/3log", ["10ms", "100ms", "1s"], [0.01, 0.1, 1.0]),
        ("users", "1000..4000/4", ["1000", "2000", "3000", "4000"], [1000, 2000, 3000, 4000]),
        ("mobility", "0,0.5..1/2", ["0", "0.5", "1"], [0.0, 0.5, 1.0]),
        ("replication.loss", "0,0.01", ["0", "0.01"], [0, 0.01]),
        ("replication.anti_entropy", "null,500ms", ["null", "500ms"], [None, "500ms"]),
        ("store.granularity", "field,item", ["field", "item"], ["field", "item"]),
        ("systems.workers-kv.cache_ttl", "30s..90s/3", ["30s", "60s", "90s"], None),
        ("lag.sigma", "0.25,1", ["0.25", "1"], [0.25, 1.0]),
        # a compact distribution spelling keeps its own commas
        ("replication.lag", "exp:100ms,lognormal:300ms,0.5", ["exp:100ms", "lognormal:300ms,0.5"],
         ["exp:100ms", "lognormal:300ms,0.5"]),
        ("replication.lag", "lognorm:1s,1,uniform:1ms,2ms", ["lognorm:1s,1", "uniform:1ms,2ms"],
         None),
    ],
)  # fmt: skip
def test_values_lists_and_ranges(
    param: str, text: str, labels: list[str], values: list[object] | None
) -> None:
    parsed = parse_values(param, text)
    assert [label for _, label in parsed] == labels
    if values is not None:
        assert [v for v, _ in parsed] == values


@pytest.mark.parametrize(
    ("text", "path", "needle"),
    [
        ("colour=1", "param", "unknown parameter 'colour'"),
        ("systems.workers-kv=1", "param", "systems.SYSTEM.OPTION"),
        ("mobility=0,2", "mobility", "fraction in 0..1"),
        ("users=many", "users", "integer"),
        ("lag.median=300", "lag.median", "needs a unit"),
        ("lag.median=0ms..1s", "lag.median", "lo..hi/N"),
        ("lag.median=0ms..1s/1", "lag.median", "2..1000 points"),
        ("lag.median=0ms..1s/3log", "lag.median", "positive ends"),
        ("lag.sigma=-1", "lag.sigma", "positive sigma"),
        ("replication.loss=0,,1", "replication.loss", "comma-separated"),
        ("store.clock=hlc,hlc", "store.clock", "given twice"),
        ("store.granularity=[1]", "store.granularity", "scalar"),
        ("think.median", "think.median", None),
        ("replication.loss", "replication.loss", "give its values"),
    ],
)
def test_bad_values_name_the_path(text: str, path: str, needle: str | None) -> None:
    if needle is None:  # a parameter with defaults needs no values
        assert len(parse_param(text).values) == 7
        return
    with pytest.raises(ConfigError) as info:
        parse_param(text)
    assert info.value.path == path and needle in info.value.reason


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--param", "replication.loss=0,2"], "--param replication.loss: expected a probability"),
        (["--param", "store.clock=sundial"], "--param store.clock: got 'sundial'"),
        (["--param", "replication.lagg=1s"], "--param replication.lagg: unknown field"),
        (["--param", "network.request_timeout=0s"], "--param network.request_timeout:"),
        (["--param", "replication.anti_entropy=5ms"], "--param replication.anti_entropy:"),
        (["--param", "systems.workers-kv.cache_ttl=60s"], "workers-kv is not among"),
        (
            ["--param", "systems.workers-kv.cache_ttl=10s", "--systems", "workers-kv"],
            "--param systems.workers-kv.cache_ttl: must be at least 30",
        ),
        (
            ["--param", "systems.workers-kv.colour=1", "--systems", "workers-kv"],
            "--param systems.workers-kv.colour: unknown option",
        ),
        (["--param", "users=0..10/2"], "--param users: expected an integer >= 1"),
        (["--param", "a=1", "--param", "b=1", "--param", "c=1"], "at most two"),
        (["--param", "users=1", "--param", "users=2"], "given twice"),
        (["--param", "users=1,2", "--values", "3"], "--values"),
        (["--systems", "replicated:strongest"], "--systems"),
        (["--csv", "-"], "--csv"),
    ],
)
def test_bad_sweeps_are_one_line_errors_before_any_point(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", *argv, *SMALL, "--jobs", "1"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err
    assert "point" not in err and captured.out == ""


def test_config_scenario_and_system_fields_reach_the_run() -> None:
    scenario = EdgeFlags(users=100, duration=40.0, mobility=0.5, seed=5)
    params = [
        parse_param("store.granularity=item"),
        parse_param("systems.workers-kv.cache_ttl=30s,300s"),
    ]
    points = grid(params, scenario, systems=["workers-kv", "single-home"])
    short, long = run_sweep(points, jobs=1)
    assert short["scenario"]["granularity"] == long["scenario"]["granularity"] == "item"
    assert short["values"] == {"store.granularity": "item", "systems.workers-kv.cache_ttl": "30s"}
    assert list(short["systems"]) == ["workers-kv", "single-home"]
    stale = [p["systems"]["workers-kv"]["stale_reads"]["n"] for p in (short, long)]
    assert stale[0] < stale[1]  # a longer cache serves more stale reads
    assert short["systems"]["single-home"] == long["systems"]["single-home"]
    small = EdgeFlags(users=100, duration=2.0, seed=5)
    users = run_sweep(grid([parse_param("users=100,300")], small), jobs=1)
    assert [p["scenario"]["users"] for p in users] == [100, 300]
    assert users[0]["workload"]["reads"] < users[1]["workload"]["reads"]


def test_lag_sigma_and_replication_lag_set_the_distribution() -> None:
    scenario = EdgeFlags(users=100, duration=2.0, seed=5)
    params = [parse_param("replication.lag=exp:100ms"), parse_param("lag.sigma=0.25")]
    (point,) = run_sweep(grid(params, scenario, lag="const:5ms"), jobs=1)
    assert point["scenario"]["lag"] == "lognormal(median=69.3147ms, sigma=0.25)"
    (kept,) = run_sweep(grid([parse_param("users=100")], scenario, lag="exp:100ms"), jobs=1)
    assert kept["scenario"]["lag"] == "exponential(mean=100ms)"


def test_a_grid_in_processes_is_the_sequential_run_with_lines_and_json_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sweep", "--param", "lag.median=0ms,1s", "--param", "users=100,200", *SMALL[2:]]
    files = tmp_path / "pool.json", tmp_path / "one.json"
    assert main([*args, "--jobs", "2", "--json", str(files[0])]) == 0
    pool = capsys.readouterr()
    assert main([*args, "--jobs", "1", "--json", "-"]) == 0
    piped = capsys.readouterr()
    assert main([*args, "--jobs", "1", "--json", str(files[1])]) == 0
    capsys.readouterr()
    assert files[0].read_bytes() == files[1].read_bytes() == piped.out.encode()
    data = json.loads(piped.out)
    assert data["params"] == ["lag.median", "users"] and "param" not in data
    assert [p["params"] for p in data["points"]] == [
        {"lag.median": lag, "users": users} for lag in ("0ms", "1s") for users in ("100", "200")
    ]
    assert "edgekv sweep" in piped.err and "edgekv sweep" in pool.out
    # A progress line per finished point on stderr (stdout is not a terminal here).
    line = re.compile(r"^point (\d)/4 lag\.median=(0ms|1s) users=(100|200) done in \d+\.\d s$")
    for err in (piped.err, pool.err):
        found = [m for m in map(line.match, err.splitlines()) if m]
        assert sorted(int(m[1]) for m in found) == [1, 2, 3, 4]
    stale = [p["systems"]["replicated:eventual"]["stale_reads"]["pct"] for p in data["points"]]
    assert stale[0] < stale[2] and stale[1] < stale[3]  # the lag, not the users, makes reads stale


def test_the_old_spelling_and_its_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--param", "mobility", "--values", "0,1", *SMALL, "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["param"] == "mobility"
    assert [(p["label"], p["value"]) for p in data["points"]] == [("0", 0.0), ("1", 1.0)]


def test_plots_a_line_per_system_and_heatmaps_for_a_grid(tmp_path: Path) -> None:
    line, heat = tmp_path / "line.png", tmp_path / "grid.png"
    base = ["sweep", *SMALL, "--jobs", "1"]
    assert main([*base, "--param", "store.granularity=field,item", "--plot", str(line)]) == 0
    assert line.read_bytes()[:4] == b"\x89PNG"
    grid_args = ["--param", "lag.median=0ms,1s", "--param", "replication.loss=0,0.2"]
    assert main([*base, *grid_args, "--plot", str(heat)]) == 0
    for metric in ("stale", "wrong", "p99", "availability"):
        assert (tmp_path / f"grid-{metric}.png").read_bytes()[:4] == b"\x89PNG"
    assert not heat.exists()


def test_availability_and_cost_figures() -> None:
    share = {"n": 1, "of": 4, "pct": 25.0}
    system = {"unavailable": {"reads": share, "writes": {"n": 0, "of": 4, "pct": 0.0}}}
    assert figure(system, "availability") == 87.5
    assert figure(system, "cost") is None
    assert figure({"cost": {"total_usd": 3, "usd_per_million_sessions": 1.5}}, "cost") == 1.5


def test_a_priced_summary_gets_a_cost_panel(tmp_path: Path) -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    out, data = tmp_path / "cost.png", tmp_path / "cost.json"
    argv = ["sweep", "--param", "lag.median=0ms,1s", "--users", "100", "--duration", "2s"]
    assert main([*argv, "--jobs", "1", "--json", str(data), "--plot", str(out)]) == 0
    points = json.loads(data.read_text())["points"]
    assert all(s["cost"] is not None for p in points for s in p["systems"].values())
    image = plt.imread(out)
    assert image.shape[1] > 1.4 * image.shape[0]  # three panels a row: a fifth panel for cost


def test_sweep_runs_a_workload_file_with_its_own_defaults(tmp_path: Path) -> None:
    """``--workload`` as in ``bench``: the workload's steps and rates, with ``--users`` and
    ``--duration`` at the sweep's smaller defaults unless given."""
    data = tmp_path / "cart.json"
    argv = ["sweep", "--workload", "cart", "--param", "lag.median=0ms", "--duration", "2s"]
    assert main([*argv, "--jobs", "1", "--json", str(data)]) == 0
    scenario = json.loads(data.read_text())["points"][0]["scenario"]
    assert scenario["name"] == "cart" and scenario["users"] == 5_000
    assert [step["op"] for step in scenario["session_steps"]][:2] == ["login", "write"]
