"""Realised replication lag: per link, the commit-to-apply times a run shows, in
``Cluster.stats()`` and ``edgekv regions``; exact when nothing but the lag acts, shortened by
anti-entropy when the digest period is below the lag's median, which is warned about."""

from __future__ import annotations

import json
import math
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import yaml

import edgekv
from edgekv import Cluster, default_config
from edgekv.cli import main
from edgekv.lowlevel import (
    Constant,
    Distribution,
    Exponential,
    Kernel,
    LagWarning,
    LogNormal,
    Mesh,
    Mixture,
    Normal,
    Pareto,
    Uniform,
    lag_warnings,
    median,
    probe,
)

CFG = default_config()
SLOW = {("East US", "UK South"): LogNormal(5.0, 0.5)}


def test_cluster_stats_report_the_realised_lag_beside_the_configured_one() -> None:
    """Constant 400 ms, above every half RTT, no anti-entropy: every write reaches every
    other region exactly 400 ms after its commit."""

    async def main() -> None:
        async with Cluster(CFG, seed=1, lag="constant:400ms", anti_entropy=None) as cluster:
            for i in range(5):
                await cluster["East US"].patch(f"k{i}", {"n": i})
                await cluster.advance(0.05)
            await cluster.settle()
            links = cluster.stats()["realised_lag"]
            assert len(links) == len(CFG.names) * (len(CFG.names) - 1)
            for link in links:
                realised, configured = link["realised_ms"], link["configured_ms"]
                assert configured["p50"] == pytest.approx(400)
                assert link["configured"] == "constant(400ms)"
                if link["from"] == "East US":
                    assert realised["n"] == 5
                    for q in ("p50", "p99", "mean"):
                        assert realised[q] == pytest.approx(400)
                else:
                    assert realised == {"n": 0, "p50": None, "p99": None, "mean": None}

    edgekv.run(main(), seed=1)


def test_a_duplicated_or_repaired_op_counts_once_per_link() -> None:
    cfg = CFG.replace(lag="exp:200ms", duplicate=0.5)
    links = probe(cfg, seed=3, writes=40, duration=10.0)
    assert {link.n for link in links} == {40}


def test_memory_stays_bounded_for_a_long_running_cluster() -> None:
    """The newest ``window`` samples per link are kept (all are counted), and a write's commit
    time is forgotten once every region has applied it."""
    kernel = Kernel()
    mesh = Mesh(CFG.replace(lag="exp:100ms"), 1, kernel)
    tracker = mesh.track_lag(window=5)
    for i in range(12):
        kernel.call_at(i * 0.05, mesh.write, 0, "patch", f"k{i}", {"n": i})
    kernel.run(until=5.0)
    assert mesh.quiet()
    assert tracker.counts[0][1:] == [12] * (len(CFG.names) - 1)
    assert all(len(tracker.samples[0][j]) == 5 for j in range(1, len(CFG.names)))
    assert tracker.tracking == 0
    assert {link.n for link in tracker.summary() if link.src == CFG.names[0]} == {12}


def test_anti_entropy_shortens_a_lag_longer_than_its_period_and_is_warned_about() -> None:
    with pytest.warns(LagWarning, match="East US -> UK South: median 5000 ms is longer"):
        cfg = CFG.replace(link_lag=SLOW)
    slow = next(x for x in probe(cfg, seed=1, writes=100) if (x.src, x.dst) in SLOW)
    assert slow.configured_p50 == pytest.approx(5.0, rel=0.02)
    assert slow.n == 100
    assert slow.p50 < 2.5  # the 1 s digests repair it first

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        off = CFG.replace(
            link_lag={("East US", "UK South"): LogNormal(5.0, 0.5)}, anti_entropy=None
        )
    assert lag_warnings(off) == []
    kept = next(
        x for x in probe(off, seed=1, writes=100) if x.dst == "UK South" and x.src == "East US"
    )
    assert kept.p50 == pytest.approx(5.0, rel=0.15)


@pytest.mark.parametrize(
    "dist",
    [
        Constant(0.3),
        Uniform(0.1, 0.5),
        Exponential(0.2),
        LogNormal(0.3, 0.5),
        Pareto(0.05, 2.5),
        Normal(0.3, 0.2),
        Mixture((Constant(0.1), Exponential(1.0)), (0.5, 0.5)),
    ],
    ids=lambda d: d.describe(),
)
def test_medians_match_the_draws(dist: Distribution) -> None:
    draws = dist.sample(np.random.default_rng(9), 400_000)
    assert median(dist) == pytest.approx(float(np.median(draws)), rel=0.01, abs=1e-9)


def test_regions_prints_the_warning_and_the_realised_lag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with resources.as_file(resources.files("edgekv") / "data" / "regions.yaml") as packaged:
        raw = yaml.safe_load(packaged.read_text())
    raw["replication"]["links"] = [{"from": "East US", "to": "UK South", "lag": "lognormal:5s,0.5"}]
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["regions", "--config", str(path), "--probe", "50", "--json", "-"]) == 0
    captured = capsys.readouterr()
    warning = [line for line in captured.err.splitlines() if "warning" in line]
    assert warning == [
        "edgekv regions: warning: replication.links East US -> UK South: median 5000 ms is "
        "longer than the anti-entropy period (1000 ms), so digests repair most writes first "
        "and the realised lag is shorter than configured; set replication.anti_entropy longer "
        "(or null) to simulate this lag"
    ]
    data = json.loads(captured.out)["replication_lag"]
    assert data["probe"] == {"writes_per_region": 50, "duration_s": 60.0, "seed": 1}
    slow = next(x for x in data["links"] if (x["from"], x["to"]) == ("East US", "UK South"))
    assert slow["realised_ms"]["n"] == 50
    assert slow["realised_ms"]["p50"] < 0.5 * slow["configured_ms"]["p50"]
    assert not math.isnan(slow["realised_ms"]["p99"])

    assert main(["regions", "--probe", "0", "--json", "-"]) == 0
    assert "replication_lag" not in json.loads(capsys.readouterr().out)
