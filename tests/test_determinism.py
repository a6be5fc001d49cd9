"""Same seed, same final state and metrics, bit for bit; another seed, another run."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import edgekv


async def workload() -> dict[str, Any]:
    async with edgekv.Cluster(loss=0.1, duplicate=0.1) as cluster:
        regions = list(cluster)
        for i in range(300):
            region = regions[(i * 7) % len(regions)]
            await region.patch(f"user:{i % 40}", {"stars": i, f"f{i % 3}": i})
            if i % 50 == 0:
                await region.delete(f"user:{(i + 5) % 40}")
            await asyncio.sleep(0.004)
        await cluster.settle()
        return {
            "state": {r.name: r.snapshot() for r in cluster},
            "versions": {r.name: [r.version(f"user:{k}") for k in range(40)] for r in cluster},
            "stats": cluster.stats(),
            "now": cluster.now(),
        }


def test_same_seed_gives_identical_state_and_metrics() -> None:
    first = edgekv.run(workload(), seed=5)
    second = edgekv.run(workload(), seed=5)
    assert pickle.dumps(first) == pickle.dumps(second)
    other = edgekv.run(workload(), seed=6)
    assert other["stats"] != first["stats"]
    assert other["state"] == {name: other["state"]["East US"] for name in other["state"]}
