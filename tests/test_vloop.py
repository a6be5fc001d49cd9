"""Virtual time costs no real time and fires timers exactly; the same Cluster runs in real time."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

import edgekv


def test_sleep_costs_no_real_time_and_lands_exactly() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        stamps = []
        for delay in (0.3, 1e-4, 3600.0, 0.1):
            await asyncio.sleep(delay)
            stamps.append(loop.time())
        return stamps

    started = time.perf_counter()
    stamps = edgekv.run(main())
    assert time.perf_counter() - started < 1.0
    assert stamps == [0.3, 0.3 + 1e-4, 0.3 + 1e-4 + 3600.0, 0.3 + 1e-4 + 3600.0 + 0.1]


def test_timers_fire_in_order_of_their_deadlines() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        fired: list[int] = []
        for i, delay in enumerate((0.5, 0.2, 0.25, 0.9, 0.1)):
            loop.call_later(delay, fired.append, i)
        await asyncio.sleep(1)
        return fired

    assert edgekv.run(main()) == [4, 1, 2, 0, 3]


def test_run_passes_its_seed_to_clusters() -> None:
    async def main() -> int:
        return edgekv.Cluster().seed

    assert edgekv.run(main(), seed=99) == 99


def test_a_coroutine_waiting_forever_is_reported_not_hung() -> None:
    async def main() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(RuntimeError, match="virtual-time deadlock"):
        edgekv.run(main(), idle_timeout=0.2)


def test_cluster_replicates_in_real_time_on_an_ordinary_loop() -> None:
    async def main() -> tuple[object, object, float]:
        async with edgekv.Cluster(lag="const:50ms") as cluster:
            await cluster["East US"].put("k", {"v": 1})
            before = await cluster["West US"].get("k")
            started = time.perf_counter()
            await asyncio.sleep(0.08)
            after = await cluster["West US"].get("k")
            return before, after, time.perf_counter() - started

    before, after, elapsed = asyncio.run(main())
    assert before is None and after == {"v": 1}
    assert elapsed >= 0.08


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, "seed must be an int >= 0, got -1"),
        ({"seed": "1"}, "seed must be an int >= 0, got '1'"),
        ({"idle_timeout": float("nan")}, "idle_timeout must be a positive number of seconds"),
        ({"idle_timeout": -1}, "idle_timeout must be a positive number of seconds"),
    ],
)
def test_run_checks_its_arguments_before_running(kwargs: dict[str, object], match: str) -> None:
    """A bad seed used to pass run() and fail only if a Cluster took it; a NaN
    idle_timeout failed inside the selector at the first deadlock."""
    ran = []

    async def main() -> None:
        ran.append(True)

    with pytest.raises(ValueError, match=match):
        edgekv.run(main(), **kwargs)  # type: ignore[arg-type]
    assert not ran


def test_run_takes_numpy_seeds() -> None:
    async def main() -> int:
        return edgekv.Cluster().seed

    assert edgekv.run(main(), seed=np.uint64(7)) == 7
