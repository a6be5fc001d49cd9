"""Config validation: the default topology loads; every mistake names its field."""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

import pytest
import yaml

import edgekv
import edgekv.lowlevel
from edgekv import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def raw() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "regions.yaml").read_text())


def test_default_config_has_the_nine_measured_regions() -> None:
    cfg = edgekv.default_config()
    assert len(cfg.regions) == 9
    assert cfg.rtt[("East US", "UK South")] == pytest.approx(0.078)
    assert cfg.rtt[("UK South", "Germany West Central")] == pytest.approx(0.017)
    assert cfg.rtt[("Germany West Central", "UK South")] == pytest.approx(0.016)
    assert cfg.lag == edgekv.lowlevel.LogNormal(0.3, 0.5)
    assert len(cfg.rtt_measured) == 72


def test_default_config_matches_the_measured_csv() -> None:
    data = ROOT.parent / "shared" / "data" / "rtt-p50-ms.csv"
    if not data.exists():
        pytest.skip("design data folder not beside the repo")
    rows = list(
        csv.reader(line for line in data.read_text().splitlines() if not line.startswith("#"))
    )
    names = rows[0][4:]
    cfg = edgekv.default_config()
    for row in rows[1:]:
        for dst, value in zip(names, row[4:], strict=True):
            assert cfg.rtt[(row[0], dst)] == pytest.approx(float(value) / 1000)


def test_config_is_immutable() -> None:
    cfg = edgekv.default_config()
    with pytest.raises(AttributeError):
        cfg.loss = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.rtt[("East US", "West US")] = 0.0  # type: ignore[index]


def test_missing_rtt_pairs_come_from_geography_above_the_fiber_floor(raw: dict[str, Any]) -> None:
    del raw["rtt_ms"]
    cfg = load_config(raw)
    km = edgekv.lowlevel.great_circle_km(37.37, -79.82, 51.51, -0.13)
    floor = 2 * km / 204_000
    assert cfg.rtt[("East US", "UK South")] == pytest.approx(floor * 2.0)
    assert not cfg.rtt_measured


def mutate(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    node: Any = out
    parts = path.split("/")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


DELETE = object()

CASES = [
    ("unknown region in the RTT matrix", "rtt_ms/East US/Mars", 100, "rtt_ms.East US.Mars"),
    (
        "unknown region in a link",
        "replication/links",
        [{"from": "East US", "to": "Moon", "lag": "1ms"}],
        "replication.links[0].to",
    ),
    (
        "unknown region in a partition",
        "replication/partitions",
        [{"between": ["East US", "Nowhere"], "end": "1s"}],
        "replication.partitions[0].between[1]",
    ),
    ("negative latency", "rtt_ms/East US/West US", -5, "rtt_ms.East US.West US"),
    ("non-numeric latency", "rtt_ms/East US/West US", "fast", "rtt_ms.East US.West US"),
    ("negative duration", "network/service_time", "-3ms", "network.service_time"),
    (
        "unknown distribution",
        "replication/lag",
        {"dist": "gaussianish", "mean": "1ms"},
        "replication.lag.dist",
    ),
    ("unknown compact distribution", "replication/lag", "weibull:3ms,2", "replication.lag"),
    (
        "missing distribution parameter",
        "replication/lag",
        {"dist": "lognormal", "median": "300ms"},
        "replication.lag.sigma",
    ),
    ("probability above 1", "replication/loss", 1.5, "replication.loss"),
    ("probability below 0", "replication/duplicate", -0.1, "replication.duplicate"),
    ("RTT below the fiber floor", "rtt_ms/East US/Japan East", 20, "rtt_ms.East US.Japan East"),
    ("asymmetric region list", "rtt_ms/West US", DELETE, "rtt_ms.West US"),
    ("row missing a region", "rtt_ms/West US/Brazil South", DELETE, "rtt_ms.West US"),
    ("bad granularity", "store/granularity", "document", "store.granularity"),
    ("bad clock", "store/clock", "atomic", "store.clock"),
    ("unknown top-level field", "replicaton", {}, "replicaton"),
    ("latitude out of range", "regions/0/lat", 123, "regions[0].lat"),
    ("duplicate region", "regions/1/name", "East US", "regions[1].name"),
    (
        "mixture weight",
        "replication/lag",
        {"dist": "mixture", "components": [{"weight": -1, "dist": "exp", "mean": "1ms"}]},
        "replication.lag.components[0].weight",
    ),
]


@pytest.mark.parametrize(("what", "path", "value", "field"), CASES, ids=[c[0] for c in CASES])
def test_each_mistake_names_its_field(
    raw: dict[str, Any], what: str, path: str, value: Any, field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(mutate(raw, path, value))
    assert info.value.path == field, f"{what}: {info.value}"
    assert str(info.value).startswith(field)


def test_errors_say_what_is_allowed(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="allowed: field, item"):
        load_config(mutate(raw, "store/granularity", "x"))
    with pytest.raises(ConfigError, match="allowed: constant, uniform, exponential"):
        load_config(mutate(raw, "replication/lag", {"dist": "zipf"}))
    with pytest.raises(ConfigError, match=r"below the fiber floor of \d+\.\d ms"):
        load_config(mutate(raw, "rtt_ms/East US/Japan East", 20))


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions: [\n  - {name: A\n")
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        load_config(bad)
    bad.write_text("regions: []\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: regions"):
        load_config(bad)


def test_replace_validates_overrides() -> None:
    cfg = edgekv.default_config()
    assert cfg.replace(lag="exp:100ms").lag == edgekv.lowlevel.Exponential(0.1)
    with pytest.raises(ConfigError, match="loss"):
        cfg.replace(loss=2)
    with pytest.raises(ConfigError, match="granularity"):
        cfg.replace(granularity="cell")


def test_replace_takes_numbers_as_seconds_like_the_rest_of_the_python_api() -> None:
    cfg = edgekv.default_config().replace(
        tombstone_grace=30.0, batch_window=0.05, anti_entropy="250ms", lag=0.2
    )
    assert cfg.tombstone_grace == 30.0 and cfg.batch_window == 0.05
    assert cfg.anti_entropy == 0.25 and cfg.lag == edgekv.lowlevel.Constant(0.2)
    with pytest.raises(ConfigError, match="anti_entropy"):
        cfg.replace(anti_entropy=0)
    with pytest.raises(ConfigError, match="store.compact"):
        cfg.replace(compact="yes")


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    """PyYAML alone keeps the last of two equal keys; edgekv names the duplicate instead."""
    path = tmp_path / "dup.yaml"
    path.write_text(
        "regions:\n  - {name: A, lat: 0, lon: 0}\nreplication:\n  loss: 0.1\n  loss: 0.2\n"
    )
    with pytest.raises(ConfigError, match=r"line 5, column 3: duplicate key 'loss'"):
        load_config(str(path))
