"""Sweeps on a Dask distributed cluster (two worker processes started here) give, point by
point, the results of the local run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgekv import ConfigError
from edgekv.cli import main
from edgekv.lowlevel import EdgeFlags, SweepPoint, connect, grid, parse_param, run_sweep

distributed = pytest.importorskip("distributed")

SCENARIO = EdgeFlags(users=300, duration=6.0, mobility=0.5, seed=3)
SWEEP = ["--users", "300", "--duration", "6s", "--mobility", "0.5", "--seed", "3"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as local:
        yield local


def points(*params: str) -> list[SweepPoint]:
    return grid([parse_param(p) for p in params], SCENARIO)


def test_points_on_the_cluster_equal_the_local_run(cluster: Any) -> None:
    sweep = points("lag.median=0ms,100ms,1s")
    local = run_sweep(sweep, jobs=1)
    done: list[tuple[int, int]] = []
    with distributed.Client(cluster) as client:
        remote = run_sweep(
            sweep, jobs=1, progress=lambda n, i, _: done.append((n, i)), client=client
        )
        workers = {w["id"] for w in client.scheduler_info()["workers"].values()}
    assert remote == local
    assert [n for n, _ in done] == [1, 2, 3] and sorted(i for _, i in done) == [0, 1, 2]
    assert len(workers) == 2
    stale = [p["systems"]["replicated:eventual"]["stale_reads"]["n"] for p in remote]
    assert stale[0] < stale[-1]  # the points really differ by their parameter


def test_cli_scheduler_gives_the_local_json(cluster: Any, tmp_path: Path) -> None:
    args = ["sweep", "--param", "mobility=0,1", "--param", "replication.loss=0,0.1", *SWEEP]
    there, here = tmp_path / "dask.json", tmp_path / "local.json"
    address = cluster.scheduler_address
    assert main([*args, "--scheduler", address, "--json", str(there)]) == 0
    assert main([*args, "--jobs", "1", "--json", str(here)]) == 0
    assert there.read_bytes() == here.read_bytes()
    labels = [p["params"] for p in json.loads(there.read_text())["points"]]
    assert labels == [
        {"mobility": m, "replication.loss": loss} for m in ("0", "1") for loss in ("0", "0.1")
    ]


def test_an_unreachable_scheduler_is_one_clear_error() -> None:
    with pytest.raises(ConfigError) as info:
        connect("tcp://127.0.0.1:9", timeout=0.5)
    assert info.value.path == "scheduler" and "cannot reach 'tcp://127.0.0.1:9'" in str(info.value)
