"""Config validation: the default topology loads; every mistake names its field."""

from __future__ import annotations

import copy
import csv
import dataclasses
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
    (
        "a link from a region to itself",
        "replication/links",
        [{"from": "East US", "to": "East US", "lag": "1ms"}],
        "replication.links[0].to",
    ),
    (
        "a partition of a region from itself",
        "replication/partitions",
        [{"between": ["East US", "East US"], "end": "1s"}],
        "replication.partitions[0].between",
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


@pytest.mark.parametrize("source", [5, None, b"regions.yaml", ["regions.yaml"]])
def test_a_config_of_the_wrong_type_says_what_a_config_is(source: Any) -> None:
    """Used to be os.fspath's "expected str, bytes or os.PathLike object, not int"."""
    with pytest.raises(TypeError, match="^config must be a regions.yaml path, a mapping or a"):
        load_config(source)


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
    with pytest.raises(ConfigError, match="^compact: expected true or false"):
        cfg.replace(compact="yes")


US, UK, JP = "East US", "UK South", "Japan East"
WINDOW = edgekv.lowlevel.PartitionWindow


def _default_rtt_with(**pairs: float) -> dict[tuple[str, str], float]:
    """The default RTTs (seconds) with ``US_JP=0.02``-style pairs changed both ways."""
    rtt = dict(edgekv.default_config().rtt)
    names = {"US": US, "UK": UK, "JP": JP}
    for key, seconds in pairs.items():
        a, b = (names[n] for n in key.split("_"))
        rtt[(a, b)] = rtt[(b, a)] = seconds
    return rtt


BAD_REPLACEMENTS: list[tuple[str, dict[str, Any], str, str]] = [
    # (what, changes, path, message)
    ("systems not a mapping", {"systems": 5}, "systems", "expected a mapping"),
    ("systems option not a scalar", {"systems": {"single-home": {"hosts": [{"a": 1}]}}},
     "systems.single-home.hosts", "expected a scalar or a list"),
    ("prices not a mapping", {"prices": 3}, "prices", "expected a mapping"),
    ("unknown price", {"prices": {"nope": 1}}, "prices.nope", "unknown price; allowed: "),
    ("negative price in Prices",
     {"prices": edgekv.lowlevel.Prices(transfer_per_gb=-1.0)},
     "prices.transfer_per_gb", "expected USD"),
    ("partitions not a list", {"partitions": 1}, "partitions", "expected a list"),
    ("partition not a window", {"partitions": [1]}, "partitions[0]",
     "expected a PartitionWindow or a mapping"),
    ("partition with an unknown region", {"partitions": [WINDOW(US, "Nowhere", 0.0, 1.0)]},
     "partitions[0].between[1]", "unknown region 'Nowhere'; known: "),
    ("partition ending before it starts", {"partitions": [WINDOW(US, UK, 2.0, 1.0)]},
     "partitions[0].end", "must be after start"),
    ("partition of a region from itself", {"partitions": [WINDOW(US, US, 0.0, 1.0)]},
     "partitions[0].between", "expected two different regions, got 'East US' twice"),
    ("link lag from a region to itself", {"link_lag": {(US, US): 0.5}},
     "link_lag[('East US', 'East US')]", "expected two different regions"),
    ("partition mapping with a bad duration",
     {"partitions": [{"between": [US, UK], "start": -1, "end": 1}]},
     "partitions[0].start", "non-negative"),
    ("route_inflation not a number", {"route_inflation": "x"}, "route_inflation",
     "expected a number in 1..100"),
    ("route_inflation below 1", {"route_inflation": 0.5}, "route_inflation", "1..100"),
    ("rtt not a mapping", {"rtt": 1}, "rtt", "expected a mapping of (from, to) region pairs"),
    ("rtt key not a pair", {"rtt": {US: 0.1}}, "rtt['East US']", "expected a (from, to) pair"),
    ("rtt with an unknown region", {"rtt": {(US, "Mars"): 0.1}}, "rtt[('East US', 'Mars')]",
     "unknown region 'Mars'"),
    ("rtt in ms by mistake", {"rtt": _default_rtt_with(US_UK=78)},
     "rtt[('East US', 'UK South')]", "expected a number of seconds in 0..60"),
    ("rtt below the fiber floor", {"rtt": _default_rtt_with(US_JP=0.02)},
     "rtt[('East US', 'Japan East')]", "below the fiber floor"),
    ("rtt row missing regions", {"rtt": {(US, UK): 0.078, (UK, US): 0.078}},
     "rtt[('East US', ...)]", "row lists some regions but not"),
    ("rtt to itself", {"rtt": {(US, US): 0.01}}, "rtt[('East US', 'East US')]", "must be 0"),
    ("regions not a list", {"regions": 5}, "regions", "expected a list, got int"),
    ("no regions", {"regions": []}, "regions", "non-empty"),
    ("region not a RegionSpec", {"regions": [3]}, "regions[0]",
     "expected a RegionSpec or a mapping"),
    ("region latitude out of range", {"regions": [{"name": "A", "lat": 100, "lon": 0}]},
     "regions[0].lat", "-90..90"),
    ("region with an unknown field", {"regions": [{"name": "A", "lat": 0, "lon": 0, "x": 1}]},
     "regions[0].x", "unknown field"),
    ("region skew beyond a day", {"regions": [{"name": "A", "lat": 0, "lon": 0,
                                                "clock_skew": -90000.0}]},
     "regions[0].clock_skew", "at most 86400s"),
    ("a measured topology gains a region without RTTs",
     {"regions": [*edgekv.default_config().regions, {"name": "X", "lat": 0, "lon": 0}]},
     "regions", "rtt does not fit the new regions"),
    ("link_lag not a mapping", {"link_lag": 2}, "link_lag", "expected a mapping of (from, to)"),
    ("link_lag with an unknown region", {"link_lag": {(US, "Moon"): "1ms"}},
     "link_lag[('East US', 'Moon')]", "unknown region 'Moon'"),
    ("link_lag with a negative lag", {"link_lag": {(US, UK): -1}},
     "link_lag[('East US', 'UK South')]", "non-negative"),
    ("link_lag with a bad spec", {"link_lag": {(US, UK): "weibull:3ms,2"}},
     "link_lag[('East US', 'UK South')]", "unknown distribution"),
    ("lag longer than the grace", {"tombstone_grace": 60.0, "link_lag": {(US, UK): 120.0}},
     "tombstone_grace", "shorter than the largest replication lag median"),
    ("unknown keyword", {"nonsense": 1}, "nonsense",
     "not a field Config.replace takes; allowed: regions, rtt, route_inflation"),
    ("private field", {"_by_name": {}}, "_by_name", "not a field Config.replace takes"),
    ("derived rtt_measured", {"rtt_measured": frozenset()}, "rtt_measured", "replace rtt"),
    ("derived systems_need_units", {"systems_need_units": frozenset()}, "systems_need_units",
     "replace systems"),
    ("source not a string", {"source": 3}, "source", "expected a string"),
    ("request_timeout of None", {"request_timeout": None}, "request_timeout",
     "expected a duration"),
    ("service_time beyond a year", {"service_time": 1e12}, "service_time", "at most"),
    ("lag not finite", {"lag": float("nan")}, "lag", "non-negative number of seconds"),
    ("duplicate above 1", {"duplicate": 1.5}, "duplicate", "probability in 0..1"),
    ("bad clock", {"clock": "atomic"}, "clock", "allowed: hlc, wall"),
    ("anti_entropy below 10 ms", {"anti_entropy": 0.001}, "anti_entropy", "minimum of 10 ms"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "changes", "path", "message"),
    BAD_REPLACEMENTS,
    ids=[case[0] for case in BAD_REPLACEMENTS],
)
def test_replace_refuses_each_bad_value_naming_its_field(
    what: str, changes: dict[str, Any], path: str, message: str
) -> None:
    cfg = edgekv.default_config()
    before = edgekv.default_config()
    given = copy.deepcopy(changes)
    with pytest.raises(ConfigError) as info:
        cfg.replace(**changes)
    assert info.value.path == path, f"{what}: {info.value}"
    assert message in info.value.reason, info.value
    # nothing was half-applied: the config and the arguments are as they were
    assert cfg == before
    assert cfg.names == before.names and cfg.region(UK) == before.region(UK)
    assert changes == given


def test_replace_takes_every_field_but_the_derived_ones() -> None:
    with pytest.raises(ConfigError) as info:
        edgekv.default_config().replace(nonsense=1)
    allowed = set(info.value.reason.split("allowed: ")[1].split(", "))
    fields = {f.name for f in dataclasses.fields(edgekv.Config) if f.init}
    assert allowed == fields - {"rtt_measured", "systems_need_units"}


def _skewed(cfg: edgekv.Config, name: str, skew: float) -> tuple[Any, ...]:
    return tuple(
        dataclasses.replace(r, clock_skew=skew) if r.name == name else r for r in cfg.regions
    )


def test_replace_regions_keeps_the_measured_rtts_of_the_regions_kept() -> None:
    cfg = edgekv.default_config()
    sub = cfg.replace(regions=cfg.regions[6:3:-1])  # a subset, in another order
    assert sub.names == tuple(r.name for r in cfg.regions[6:3:-1])
    assert [r.index for r in sub.regions] == [0, 1, 2]
    pairs = {(a, b) for a in sub.names for b in sub.names}
    assert set(sub.rtt) == pairs
    assert all(sub.rtt[p] == cfg.rtt[p] for p in pairs)
    assert sub.rtt_measured == {(a, b) for a, b in pairs if a != b}
    one = cfg.replace(regions=tuple(dataclasses.replace(r, weight=1.0) for r in cfg.regions[:1]))
    assert dict(one.rtt) == {(US, US): 0.0} and not one.rtt_measured
    skewed = cfg.replace(regions=_skewed(cfg, UK, -5.0), clock="wall")
    assert skewed.region(UK).clock_skew == -5.0 and skewed.clock == "wall"
    assert skewed.rtt == cfg.rtt and skewed.rtt_measured == cfg.rtt_measured
    assert cfg.region(UK).clock_skew == 0.0


def test_replace_regions_takes_the_yaml_spelling_and_derives_rtts_from_geography() -> None:
    cfg = edgekv.default_config()
    two = cfg.replace(
        regions=[{"name": "A", "lat": 0, "lon": 0}, {"name": "B", "lat": 0, "lon": 10,
                                                     "clock_skew": "-3ms"}],
        link_lag={},
    )  # fmt: skip
    assert two.names == ("A", "B") and two.region("B").clock_skew == pytest.approx(-0.003)
    floor = 2 * edgekv.lowlevel.great_circle_km(0, 0, 0, 10) / 204_000
    assert two.rtt[("A", "B")] == pytest.approx(floor * cfg.route_inflation)
    assert not two.rtt_measured
    wider = two.replace(route_inflation=3)
    assert wider.rtt[("B", "A")] == pytest.approx(floor * 3)
    measured = two.replace(rtt={("A", "B"): 0.05, ("B", "A"): 0.05})
    assert measured.rtt_measured == {("A", "B"), ("B", "A")}
    assert measured.replace(route_inflation=3).rtt[("A", "B")] == 0.05


def test_replace_regions_refuses_links_and_partitions_naming_a_dropped_region() -> None:
    cfg = edgekv.default_config().replace(
        link_lag={(US, UK): "exp:100ms"}, partitions=[WINDOW(US, JP, 1.0, 2.0)]
    )
    without_uk = tuple(r for r in cfg.regions if r.name != UK)
    with pytest.raises(ConfigError, match=r"^regions: the config's link_lag .*'UK South'"):
        cfg.replace(regions=without_uk)
    kept = cfg.replace(regions=without_uk, link_lag={})
    assert kept.partitions == cfg.partitions and UK not in kept.names
    without_jp = tuple(r for r in cfg.regions if r.name != JP)
    with pytest.raises(ConfigError, match=r"^regions: the config's partitions .*'Japan East'"):
        cfg.replace(regions=without_jp, link_lag={})


def test_replace_accepts_the_python_and_the_yaml_spellings() -> None:
    cfg = edgekv.default_config()
    out = cfg.replace(
        link_lag={(US, UK): 0.5, (UK, US): "exp:100ms"},
        partitions=[WINDOW(US, UK, 1.0, 2.0), {"between": [US, JP], "start": "1s", "end": 3}],
        prices={"transfer_per_gb": 0.05},
        source="test",
    )
    assert out.link_lag_for(US, UK) == edgekv.lowlevel.Constant(0.5)
    assert out.link_lag_for(UK, US) == edgekv.lowlevel.Exponential(0.1)
    assert out.partitions == (WINDOW(US, UK, 1.0, 2.0), WINDOW(US, JP, 1.0, 3.0))
    assert out.prices == edgekv.lowlevel.Prices(transfer_per_gb=0.05)
    assert out.replace(prices=out.prices).prices == out.prices
    assert out.source == "test"
    assert cfg.replace(rtt=cfg.rtt) == cfg


def test_an_accepted_replace_shares_no_mutable_container_with_its_arguments() -> None:
    cfg = edgekv.default_config()
    hosts = [US]
    options = {"single-home": {"hosts": hosts}}
    links = {(US, UK): 0.5}
    rtt = dict(cfg.rtt)
    regions = list(cfg.regions)
    out = cfg.replace(systems=options, link_lag=links, rtt=rtt, regions=regions)
    hosts.append(UK)
    options["replicated"] = {}
    links[(UK, US)] = 0.5
    rtt[(US, UK)] = 1.0
    regions.pop()
    assert out.systems == {"single-home": {"hosts": (US,)}}
    assert dict(out.link_lag) == {(US, UK): edgekv.lowlevel.Constant(0.5)}
    assert out.rtt == cfg.rtt and out.regions == cfg.regions
    with pytest.raises(TypeError):
        out.link_lag[(UK, US)] = edgekv.lowlevel.Constant(0.5)  # type: ignore[index]


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    """PyYAML alone keeps the last of two equal keys; edgekv names the duplicate instead."""
    path = tmp_path / "dup.yaml"
    path.write_text(
        "regions:\n  - {name: A, lat: 0, lon: 0}\nreplication:\n  loss: 0.1\n  loss: 0.2\n"
    )
    with pytest.raises(ConfigError, match=r"line 5, column 3: duplicate key 'loss'"):
        load_config(str(path))
