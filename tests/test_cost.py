"""The cost model: each provider's units priced by hand, the config's ``prices:`` section
(one-line errors naming the price), and the bench's ``cost`` figures consistent with what
the run counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from edgekv import ConfigError, default_config, load_config
from edgekv.cli import main
from edgekv.lowlevel import Prices, Usage, format_usd, parse_prices, price

REGIONS = Path(default_config().source).read_text(encoding="utf-8")


def _usage(system: str, level: str = "eventual", item: int = 100, replicas: int = 9) -> Usage:
    return Usage(
        system=system,
        level=level,
        reads=3_000_000,
        writes=1_000_000,
        bytes_replicated=5_000_000_000,
        item_bytes=item,
        replicas=replicas,
        sessions=500_000,
        operations=4_000_000,
    )


@pytest.mark.parametrize(
    ("system", "level", "item", "replicas", "usd"),
    [
        # 4M KV reads (3M reads + 1M PATCH reads) x $0.50/M + 1M writes x $5/M
        ("workers-kv", "eventual", 100, 9, 4 * 0.5 + 5.0),
        # 4M Durable Object requests x $0.15/M
        ("single-home", "strong", 100, 9, 4 * 0.15),
        # 4M D1 rows read x $0.001/M + 1M rows written x $1/M
        ("d1-replicas", "eventual", 100, 9, 4 * 0.001 + 1.0),
        # 3M eventual reads = 1.5M RRU x $0.125/M; 1M writes x 9 replicas x 1 WRU x $0.625/M;
        # 1M x 8 other replicas x 100 B = 0.8 GB x $0.02
        ("dynamodb-mrec", "eventual", 100, 9, 1.5 * 0.125 + 9 * 0.625 + 0.8 * 0.02),
        # a 5,000-byte item: 2 RRU per strong read, 5 WRU per replica write
        ("dynamodb-mrsc", "strong", 5000, 3, 6 * 0.125 + 15 * 0.625 + 2 * 5e-3 * 0.02 * 1e3),
        # the mesh: 5 GB of measured replication x $0.02
        ("replicated", "eventual", 100, 9, 5 * 0.02),
    ],
)
def test_each_system_priced_by_its_units(
    system: str, level: str, item: int, replicas: int, usd: float
) -> None:
    cost = price(_usage(system, level, item, replicas), Prices())
    assert cost["usd"] == pytest.approx(usd)
    assert cost["usd_per_million_sessions"] == pytest.approx(usd * 2)
    assert cost["usd_per_million_operations"] == pytest.approx(usd / 4)
    assert cost["model"]


def test_prices_come_from_the_config(tmp_path: Path) -> None:
    raw = yaml.safe_load(REGIONS)
    raw["prices"] = {"workers_kv_write_per_million": 10, "transfer_per_gb": 0.09}
    cfg = load_config(raw)
    assert cfg.prices.workers_kv_write_per_million == 10.0
    assert cfg.prices.workers_kv_read_per_million == 0.5
    assert default_config().prices == Prices()
    path = tmp_path / "regions.yaml"
    for prices, where in (
        ({"kv_reads": 1}, "prices.kv_reads"),
        ({"transfer_per_gb": -1}, "prices.transfer_per_gb"),
        ({"transfer_per_gb": True}, "prices.transfer_per_gb"),
        ([1, 2], "prices"),
    ):
        raw["prices"] = prices
        path.write_text(yaml.safe_dump(raw))
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert info.value.path == f"{path}: {where}" and "\n" not in str(info.value)
    assert parse_prices(None) == Prices()


def test_format_usd() -> None:
    assert [format_usd(v) for v in (None, 1234.5, 0.0151, 0.2)] == [
        "-",
        "$1,234.50",
        "$0.0151",
        "$0.2",
    ]


def test_bench_cost_follows_the_counted_operations_and_the_price_table(tmp_path: Path) -> None:
    raw = yaml.safe_load(REGIONS)
    raw["prices"] = {"workers_kv_read_per_million": 1.0, "durable_object_request_per_million": 0.3}
    config = tmp_path / "regions.yaml"
    config.write_text(yaml.safe_dump(raw))
    runs = []
    for extra in ([], ["--config", str(config)]):
        out = tmp_path / f"{len(runs)}.json"
        argv = ["bench", "--users", "300", "--duration", "5s", "--json", str(out), *extra]
        assert main([*argv, "--systems", "workers-kv,single-home,replicated"]) == 0
        runs.append(json.loads(out.read_text()))
    base, dearer = runs
    w = base["workload"]
    kv, do = base["systems"]["workers-kv"]["cost"], base["systems"]["single-home"]["cost"]
    assert kv["billed"] == {"reads": w["operations"], "writes": w["writes"]}
    assert do["billed"] == {"requests": w["operations"]}
    assert do["usd"] == pytest.approx(w["operations"] * 0.15e-6)
    sessions = w["purchase"]  # one purchase per edge-flags session
    assert do["usd_per_million_sessions"] == pytest.approx(do["usd"] / sessions * 1e6)
    mesh = base["systems"]["replicated"]
    assert mesh["cost"]["billed"]["transfer_bytes"] == mesh["replication"]["bytes"] > 0
    assert dearer["systems"]["single-home"]["cost"]["usd"] == pytest.approx(2 * do["usd"])
    kv_dearer = dearer["systems"]["workers-kv"]["cost"]["usd"]
    assert kv_dearer == pytest.approx(kv["usd"] + w["operations"] * 0.5e-6)
