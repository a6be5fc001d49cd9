"""Workload files: the packaged edge-flags file is today's scenario draw for draw, the other
packaged files run, each field of the file does what it says, and bad or mangled files end in
a one-line ConfigError naming the field."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from test_config_fuzz import mangled

from edgekv import ConfigError
from edgekv.cli import main
from edgekv.lowlevel import (
    LOGIN,
    PURCHASE,
    READ,
    WRITE,
    EdgeFlags,
    build_workload,
    great_circle_km,
    load_workload,
    packaged_workloads,
    parse_workload,
)
from edgekv.lowlevel import scenario_config as default_topology

FOLDER = resources.files("edgekv") / "data" / "workloads"
EDGE_FLAGS = (FOLDER / "edge-flags.yaml").read_text(encoding="utf-8")
CFG = default_topology()


def _digest(scenario: EdgeFlags) -> str:
    work = build_workload(scenario, CFG)
    h = hashlib.sha256()
    for name in ("home", "stars0", "kind", "user", "region", "t_edge", "d_in", "d_out", "value"):
        column = getattr(work, name)
        # Of the values: integer columns widened, whatever item type the workload stores.
        h.update(column.astype(np.int64 if column.dtype.kind == "i" else column.dtype).tobytes())
    return h.hexdigest()


def _raw(**changes: Any) -> dict[str, Any]:
    raw = yaml.safe_load(EDGE_FLAGS)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = raw
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return dict(raw)


def test_packaged_edge_flags_is_the_scenario_draw_for_draw() -> None:
    assert packaged_workloads() == ["cart", "edge-flags", "profile-store"]
    assert load_workload("edge-flags") == EdgeFlags()
    # Digests of the workload drawn by build_workload before workload files (commit 14ef220).
    small = EdgeFlags(users=2000, duration=10.0, seed=5)
    assert _digest(small) == "fd453296584f5d3dd43e4485fb010b4dd0af5de53878af2222d585396e9e8f30"
    from_file = dataclasses.replace(load_workload("edge-flags", seed=5), users=2000, duration=10.0)
    assert _digest(from_file) == _digest(small)


def test_bench_with_the_packaged_file_or_its_copy_prints_the_default_figures(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "mine.yaml"
    copy.write_text(EDGE_FLAGS.replace("name: edge-flags", "name: mine"))
    small = ["--users", "400", "--duration", "5s", "--json"]
    outs = []
    for extra in ([], ["--workload", "edge-flags"], ["--workload", str(copy)]):
        out = tmp_path / f"{len(outs)}.json"
        assert main(["bench", *small, str(out), *extra]) == 0
        outs.append(json.loads(out.read_text()))
    assert outs[0] == outs[1]
    assert outs[2]["scenario"].pop("name") == "mine"
    outs[0]["scenario"].pop("name")
    assert outs[2] == outs[0]


@pytest.mark.parametrize("name", ["cart", "profile-store"])
def test_other_packaged_workloads_run_with_their_steps(name: str, tmp_path: Path) -> None:
    out = tmp_path / "w.json"
    argv = ["bench", "--workload", name, "--users", "400", "--duration", "10s", "--json", str(out)]
    assert main([*argv, "--systems", "replicated:session,single-home"]) == 0
    summary = json.loads(out.read_text())
    w = summary["workload"]
    steps = [s["op"] for s in summary["scenario"]["session_steps"]]
    sessions = w["login"]  # both packaged files log in once per session
    assert steps.count("login") == 1 and sessions > 0
    assert w["purchase"] == sessions * steps.count("purchase")
    assert w["background read"] >= sessions * steps.count("read")
    assert w["background write"] >= sessions * steps.count("write")
    for run in summary["systems"].values():
        assert run["reads"]["latency_ms"]["n"] == w["reads"]


def test_session_steps_follow_each_other_by_their_think_times() -> None:
    raw = _raw(sessions__steps=["login", {"op": "write", "think": "const:2s"}, "read"])
    raw["sessions"]["think"] = "const:500ms"
    raw["background"] = {"reads_per_user_per_min": 0, "writes_per_user_per_min": 0}
    work = build_workload(parse_workload(raw, seed=3), CFG)
    for u in np.unique(work.user)[:50]:
        mine = work.user == u
        t = work.t_edge[mine] - work.d_in[mine]
        kinds = work.kind[mine]
        if len(kinds) == 3:  # one session: login, write 2 s later, read 0.5 s after that
            order = np.argsort(t)
            assert kinds[order].tolist() == [LOGIN, WRITE, READ]
            assert np.allclose(np.diff(t[order]), [2.0, 0.5])


def _mean_away_km(work: Any) -> float:
    regions = CFG.regions
    away = work.away
    homes, where = work.home[work.user][away], work.region[away]
    return float(
        np.mean(
            [
                great_circle_km(regions[h].lat, regions[h].lon, regions[r].lat, regions[r].lon)
                for h, r in zip(homes.tolist(), where.tolist(), strict=True)
            ]
        )
    )


def test_nearby_travel_makes_trips_shorter_than_by_population() -> None:
    base = {"users": 3000, "duration": "20s", "travel": {"away": 0.5, "to": "population"}}
    far = build_workload(parse_workload(_raw(**base)), CFG)
    raw = _raw(**base)
    raw["travel"] = {"away": 0.5, "to": "nearby", "decay_km": 1000}
    near = build_workload(parse_workload(raw), CFG)
    for work in (near, far):  # purchases are always at home
        assert 0.47 < work.away[work.kind != PURCHASE].mean() < 0.53
    assert _mean_away_km(near) < 0.6 * _mean_away_km(far)


def test_population_puts_every_home_in_the_named_regions() -> None:
    raw = _raw(population={"Japan East": 3, "Southeast Asia": 1}, users=4000)
    work = build_workload(parse_workload(raw), CFG)
    names = [CFG.names[h] for h in work.home.tolist()]
    share = names.count("Japan East") / len(names)
    assert set(names) == {"Japan East", "Southeast Asia"} and 0.72 < share < 0.78
    with pytest.raises(ConfigError, match=r"^population\.Mars: no such region"):
        build_workload(parse_workload(_raw(population={"Mars": 1})), CFG)


def test_zipf_concentrates_background_operations_on_few_users() -> None:
    def top_share(s: float) -> float:
        raw = _raw(users=2000, duration="20s", background={"reads_per_user_per_min": 6})
        raw["background"]["zipf_s"] = s
        work = build_workload(parse_workload(raw), CFG)
        users = work.user[work.kind == READ]
        return float(np.mean(users < 20))  # the 1% most popular users

    assert top_share(0) < 0.02 and top_share(1.2) > 0.4


def test_padding_grows_the_replicated_bytes(tmp_path: Path) -> None:
    sizes = []
    for pad in (0, 4096):
        path = tmp_path / f"p{pad}.yaml"
        path.write_text(EDGE_FLAGS.replace("padding_bytes: 0", f"padding_bytes: {pad}"))
        out = tmp_path / f"p{pad}.json"
        argv = ["bench", "--workload", str(path), "--users", "300", "--duration", "5s"]
        assert main([*argv, "--systems", "replicated", "--json", str(out)]) == 0
        run = json.loads(out.read_text())["systems"]["replicated"]
        sizes.append(run["replication"]["bytes"])
    writes = json.loads(out.read_text())["workload"]["background write"]
    assert sizes[1] - sizes[0] > writes * 4096


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"users": 0}, "users"),
        ({"users": "many"}, "users"),
        ({"duration": 60}, "duration"),
        ({"duration": "0s"}, "duration"),
        ({"warmup": "-1s"}, "warmup"),
        ({"colour": 1}, "colour"),
        ({"travel__away": 1.5}, "travel.away"),
        ({"travel__to": "moon"}, "travel.to"),
        ({"travel__decay_km": 100}, "travel.decay_km"),
        ({"sessions__per_user_per_min": -1}, "sessions.per_user_per_min"),
        ({"sessions__think": "lognormal:1,1"}, "sessions.think"),
        ({"sessions__steps": []}, "sessions.steps"),
        ({"sessions__steps": ["login", "fly"]}, "sessions.steps[1].op"),
        (
            {"sessions__steps": ["login", {"op": "read", "level": "strong"}]},
            "sessions.steps[1].level",
        ),
        ({"sessions__steps": [{"op": "login", "think": "1s"}]}, "sessions.steps[0].think"),
        ({"sessions__steps": ["login", {"op": "read", "think": "2"}]}, "sessions.steps[1].think"),
        ({"background__zipf_s": 11}, "background.zipf_s"),
        ({"background__writes_per_user_per_min": True}, "background.writes_per_user_per_min"),
        ({"values__padding_bytes": 1 << 30}, "values.padding_bytes"),
        ({"values__max_purchase": 0}, "values.max_purchase"),
        ({"population": {"East US": -1}}, "population.East US"),
        ({"population": {"East US": 0}}, "population"),
        ({"population": "everyone"}, "population"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_fields_give_one_line_errors_naming_them(
    changes: dict[str, Any], path: str, tmp_path: Path
) -> None:
    file = tmp_path / "w.yaml"
    file.write_text(yaml.safe_dump(_raw(**changes)))
    with pytest.raises(ConfigError) as info:
        load_workload(file)
    expected = f"{file}: {path}"  # or a field within it (sessions.think.median)
    assert info.value.path == expected or info.value.path.startswith(expected + ".")
    assert "\n" not in str(info.value)


def test_bench_names_a_missing_workload(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--workload", "no-such-thing"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "workload" in err and "edge-flags" in err


@settings(max_examples=600)
@given(data=mangled(EDGE_FLAGS, as_json=False))
def test_mangled_workload_files_give_one_line_errors(tmp_path_factory: Any, data: bytes) -> None:
    path = tmp_path_factory.mktemp("workload") / "w.yaml"
    path.write_bytes(data)
    try:
        scenario = load_workload(path)
    except ConfigError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc).strip()
    else:
        assert isinstance(scenario, EdgeFlags)


def test_workload_columns_are_as_narrow_as_their_values_allow() -> None:
    """Per operation the workload holds 35 bytes (kind int8, region int16, user and value
    int32, three float64 times); a value beyond int32 keeps its column int64, exactly."""
    work = build_workload(EdgeFlags(users=300, seed=3), CFG)
    types = {n: getattr(work, n).dtype for n in ("kind", "region", "user", "value", "home")}
    assert types == {
        "kind": np.int8,
        "region": np.int16,
        "user": np.int32,
        "value": np.int32,
        "home": np.int16,
    }
    columns = ("kind", "user", "region", "t_edge", "d_in", "d_out", "value")
    assert sum(getattr(work, n).nbytes for n in columns) == 35 * work.ops
    rich = build_workload(EdgeFlags(users=300, seed=3, initial_stars=2**40), CFG)
    assert rich.value.dtype == np.int64
    buys = rich.kind == PURCHASE
    assert np.all(rich.value[buys] > rich.stars0[rich.user[buys]])
    assert rich.value[buys].max() > 2**31
    assert np.array_equal(rich.t_edge, work.t_edge) and np.array_equal(rich.user, work.user)
