"""Seeds are validated when a cluster is built: a clear ``ValueError``, not a numpy traceback."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import edgekv
from edgekv import Cluster, default_config
from edgekv.lowlevel import SingleHomeCluster

CFG = default_config()
CLUSTERS = [Cluster, SingleHomeCluster]


@pytest.mark.parametrize("make", CLUSTERS)
@pytest.mark.parametrize("seed", [-1, -(2**40), 1.5, 2.0, "1", True, [1], np.int64(-3)])
def test_bad_seed_is_rejected_at_construction(make: Any, seed: Any) -> None:
    with pytest.raises(ValueError, match=r"^seed must be an int >= 0, got "):
        make(CFG, seed=seed)


@pytest.mark.parametrize("make", CLUSTERS)
def test_bad_seed_message_names_the_value(make: Any) -> None:
    with pytest.raises(ValueError) as info:
        make(CFG, seed=-1)
    assert str(info.value) == "seed must be an int >= 0, got -1"


@pytest.mark.parametrize("make", CLUSTERS)
@pytest.mark.parametrize("seed", [0, 1, 2**63, np.int64(7)])
def test_good_seed_is_kept_as_an_int(make: Any, seed: Any) -> None:
    cluster = make(CFG, seed=seed)
    assert cluster.seed == int(seed)
    assert type(cluster.seed) is int


@pytest.mark.parametrize("make", CLUSTERS)
def test_seed_from_run_is_validated(make: Any) -> None:
    async def main() -> None:
        make(CFG)

    with pytest.raises(ValueError, match="got -5"):
        edgekv.run(main(), seed=-5)


@pytest.mark.parametrize("make", CLUSTERS)
def test_valid_seed_still_runs(make: Any) -> None:
    async def main() -> dict[str, Any] | None:
        async with make(CFG, seed=np.int64(3)) as cluster:
            await cluster["East US"].put("k", {"v": 1})
            return await cluster["East US"].get("k")

    assert edgekv.run(main()) == {"v": 1}
