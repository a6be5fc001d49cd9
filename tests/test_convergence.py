"""Convergence under loss, duplication, reordering and partitions: after heal and settle every
region holds the same documents, and they are exactly the LWW winners of all committed writes."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from lww_reference import Op, field_winner, item_winner
from strategies import Schedule, WriteStep, convergence_schedules

from edgekv import load_config
from edgekv.lowlevel import Kernel, Mesh

REGIONS = [
    {"name": "A", "lat": 40.0, "lon": -75.0},
    {"name": "B", "lat": 51.5, "lon": 0.0},
    {"name": "C", "lat": 35.7, "lon": 139.7},
    {"name": "D", "lat": -33.9, "lon": 151.2},
]
KEYS = ("k0", "k1", "k2")
FIELDS = ("x", "y", "z")


def small_config(**replication: Any) -> Any:
    store = {
        "granularity": replication.pop("granularity", "field"),
        "compact": replication.pop("compact", False),
    }
    return load_config(
        {
            "regions": REGIONS,
            "replication": {"lag": "exp:150ms", "anti_entropy": "250ms", **replication},
            "store": store,
        }
    )


def run_schedule(
    seed: int,
    *,
    loss: float = 0.0,
    duplicate: float = 0.0,
    granularity: str = "field",
    batch_window: str = "0ms",
    compact: bool = False,
    n_ops: int = 30,
) -> tuple[Mesh, dict[str, list[Op]]]:
    """Random writes at random regions and times, random partitions; heal at 4 s; settle."""
    cfg = small_config(
        loss=loss,
        duplicate=duplicate,
        granularity=granularity,
        batch_window=batch_window,
        compact=compact,
    )
    kernel = Kernel()
    mesh = Mesh(cfg, seed, kernel)
    rng = random.Random(seed)
    history: dict[str, list[Op]] = {k: [] for k in KEYS}
    names = cfg.names

    def write(region: int, kind: str, key: str, value: dict[str, Any] | None) -> None:
        version = mesh.write(region, kind, key, value)
        node = mesh.nodes[region]
        # Item granularity commits a read-modify-write: the reference needs the whole document.
        payload = value if granularity == "field" or kind != "patch" else dict(node.peek(key) or {})
        history[key].append((kind, version, payload))

    for _ in range(n_ops):
        kind = rng.choice(("put", "patch", "patch", "delete"))
        fields = {f: rng.randint(0, 9) for f in rng.sample(FIELDS, rng.randint(0, 2))}
        value = None if kind == "delete" else fields
        kernel.call_at(
            rng.uniform(0, 3.5), write, rng.randrange(len(names)), kind, rng.choice(KEYS), value
        )
    for _ in range(rng.randint(0, 3)):
        a, b = rng.sample(names, 2)
        kernel.call_at(rng.uniform(0, 3), mesh.network.partition, a, b)
    kernel.call_at(4.0, mesh.network.heal)
    kernel.run(until=4.0)
    for _ in range(2000):
        if mesh.quiet():
            break
        kernel.run(until=kernel.now + 0.05)
    return mesh, history


def assert_converged(mesh: Mesh, history: dict[str, list[Op]], granularity: str, seed: int) -> None:
    winner = field_winner if granularity == "field" else item_winner
    assert mesh.quiet(), f"seed={seed}: not settled after 100 s of virtual time"
    for key, ops in history.items():
        expected = winner(ops) if ops else None
        for i, node in enumerate(mesh.nodes):
            assert node.peek(key) == expected, (
                f"seed={seed} region={mesh.cfg.names[i]} key={key}: {node.peek(key)} != LWW "
                f"winner {expected}"
            )


@pytest.mark.slow
@pytest.mark.parametrize("granularity", ["field", "item"])
def test_thousands_of_seeded_schedules_converge_to_the_lww_winner(granularity: str) -> None:
    for seed in range(600):
        loss = (0.0, 0.1, 0.3)[seed % 3]
        duplicate = (0.0, 0.2)[seed % 2]
        window = ("0ms", "40ms")[(seed // 2) % 2]
        mesh, history = run_schedule(
            seed,
            loss=loss,
            duplicate=duplicate,
            granularity=granularity,
            batch_window=window,
            compact=seed % 4 == 3,
        )
        assert_converged(mesh, history, granularity, seed)


@settings(max_examples=60)
@given(schedule=convergence_schedules)
def test_any_schedule_of_writes_and_cuts_converges(schedule: Schedule) -> None:
    """Explicit writes and cuts drawn by Hypothesis: a failure shrinks to the fewest."""
    cfg = small_config(
        loss=schedule.loss,
        duplicate=schedule.duplicate,
        granularity=schedule.granularity,
        batch_window=schedule.batch_window,
        compact=schedule.compact,
    )
    kernel = Kernel()
    mesh = Mesh(cfg, schedule.seed, kernel)
    history: dict[str, list[Op]] = {k: [] for k in KEYS}

    def write(step: WriteStep) -> None:
        version = mesh.write(step.region, step.kind, step.key, step.fields)
        node = mesh.nodes[step.region]
        whole = schedule.granularity == "item" and step.kind == "patch"
        payload = dict(node.peek(step.key) or {}) if whole else step.fields
        history[step.key].append((step.kind, version, payload))

    for step in schedule.writes:
        kernel.call_at(step.at, write, step)
    names = cfg.names
    for at, a, b in schedule.cuts:
        kernel.call_at(at, mesh.network.partition, names[a], names[b])
    kernel.call_at(4.0, mesh.network.heal)
    kernel.run(until=4.0)
    for _ in range(2000):
        if mesh.quiet():
            break
        kernel.run(until=kernel.now + 0.05)
    assert_converged(mesh, history, schedule.granularity, schedule.seed)


def test_loss_without_anti_entropy_leaves_regions_diverged() -> None:
    """The repair is what converges them: switch it off and lost writes stay lost."""
    cfg = small_config(loss=0.5, anti_entropy=None)
    kernel = Kernel()
    mesh = Mesh(cfg, 3, kernel)
    for i in range(40):
        kernel.call_at(i * 0.01, mesh.write, i % 4, "put", f"k{i}", {"x": i})
    kernel.run(until=60)
    holdings = [sum(node.peek(f"k{i}") is not None for i in range(40)) for node in mesh.nodes]
    assert min(holdings) < 40, holdings


def test_tombstones_are_collected_once_stable_and_never_resurrect() -> None:
    mesh, history = run_schedule(11, loss=0.1, n_ops=60)
    collected = sum(node.stats.tombstones_collected for node in mesh.nodes)
    deletes = sum(kind == "delete" for ops in history.values() for kind, _, _ in ops)
    assert deletes and collected, (deletes, collected)
    assert_converged(mesh, history, "field", 11)
