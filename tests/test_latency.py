"""Latency model from geography and the ``edgekv regions`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekv import default_config, load_config
from edgekv.cli import main
from edgekv.lowlevel import FIBER_KM_PER_S, LatencyModel, great_circle_km, topology

THREE = {
    "regions": [
        {"name": "A", "city": "Paris", "lat": 48.85, "lon": 2.35, "weight": 2},
        {"name": "B", "city": "New York", "lat": 40.71, "lon": -74.0, "weight": 1},
        {"name": "C", "city": "Tokyo", "lat": 35.68, "lon": 139.69, "weight": 1},
    ],
    "rtt_ms": {"A": {"B": 80, "C": 230}, "B": {"A": 80, "C": 170}, "C": {"A": 230, "B": 170}},
}
TWO_GEO = {"regions": THREE["regions"][:2], "network": {"route_inflation": 1.5}}


def test_delays_without_jitter_are_the_rtt_matrix() -> None:
    cfg = default_config()
    model = LatencyModel(cfg, seed=3)
    for a in cfg.regions:
        for b in cfg.regions:
            rtt = cfg.rtt[(a.name, b.name)]
            assert model.round_trip(a.index, b.index) == rtt
            assert model.one_way(a.index, b.index) == rtt / 2
    assert model.round_trip(2, 2) == 0.0


def test_geo_derived_rtt_is_inflated_fiber_floor_and_marked() -> None:
    cfg = load_config(TWO_GEO)
    km = great_circle_km(48.85, 2.35, 40.71, -74.0)
    floor = 2 * km / FIBER_KM_PER_S
    assert cfg.rtt[("A", "B")] == pytest.approx(1.5 * floor)
    topo = topology(cfg)
    entry = topo["rtt_ms"][0]["to"][1]
    assert not entry["measured"]
    assert entry["rtt_ms"] == pytest.approx(1.5 * floor * 1e3)
    assert entry["floor_ms"] == pytest.approx(floor * 1e3)
    assert topology(load_config(THREE))["rtt_ms"][0]["to"][1]["measured"]


def test_jitter_is_seeded_and_added_on_top_of_the_floor() -> None:
    cfg = load_config(THREE).replace(jitter="exp:5ms")
    draws = [LatencyModel(cfg, seed=s) for s in (1, 1, 2)]
    a, b, c = ([m.one_way(0, 2) for _ in range(200)] for m in draws)
    assert a == b
    assert a != c
    assert min(a) >= 0.115
    assert np.mean(a) == pytest.approx(0.115 + 0.005, abs=0.0015)


def test_client_population_follows_weights_and_client_delay_is_seeded() -> None:
    cfg = load_config(THREE).replace(client_delay="lognormal:15ms,0.6")
    model = LatencyModel(cfg, seed=5)
    n = 40_000
    shares = np.bincount(model.client_regions(n), minlength=3) / n
    # binomial sd <= 0.0025 at n=40,000; 4 sd tolerance
    assert shares == pytest.approx([0.5, 0.25, 0.25], abs=0.01)
    assert [g.share for g in model.groups] == [0.5, 0.25, 0.25]
    again = LatencyModel(cfg, seed=5)
    again.client_regions(n)
    assert [model.client_delay() for _ in range(5)] == [again.client_delay() for _ in range(5)]


def test_regions_command_prints_tables_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "r.yaml"
    config.write_text(json.dumps(TWO_GEO))
    out = tmp_path / "topo.json"
    assert main(["regions", "--config", str(config), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "New York" in printed
    assert "geo-derived" in printed
    data = json.loads(out.read_text())
    assert [r["name"] for r in data["regions"]] == ["A", "B"]
    assert data["regions"][0]["share"] == pytest.approx(2 / 3)
    assert data["rtt_ms"][1]["to"][0]["measured"] is False


def test_regions_command_bad_config_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["regions", "--config", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot read config file" in err
