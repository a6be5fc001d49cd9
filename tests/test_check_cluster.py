"""The checkers on histories a real edgekv cluster produces in virtual time, recorded by the
test through the public API: users write and read one key from different regions. Eventual
reads break linearizability and read-your-writes; session reads keep every session
guarantee; strong reads are linearizable; the settled cluster converges to the LWW winner."""

from __future__ import annotations

import asyncio
import random

import edgekv
from edgekv.check import Operation, check_convergence, check_linearizable, check_session

REGIONS = ("East US", "UK South", "Japan East")
KEY = "user:1"


def record(level: str, seed: int, users: int = 3, ops: int = 40) -> tuple[list[Operation], dict]:
    """Each user writes (unique documents) or reads KEY at ``level`` from a random region,
    thinking 0-400 ms between operations; returns the history and the settled states."""
    history: list[Operation] = []
    states: dict = {}

    async def user(cluster: edgekv.Cluster, name: str, rng: random.Random) -> None:
        session = edgekv.Session() if level == "session" else None
        for n in range(ops):
            region = rng.choice(REGIONS)
            node = cluster[region]
            start = cluster.now()
            if rng.random() < 0.4:
                doc = {"by": name, "n": n}
                version = await node.put(KEY, doc, session=session)
                kind = "write"
            else:
                doc, version, _ = await node.read(KEY, level, session=session)
                kind = "read"
            history.append(
                Operation(name, region, KEY, kind, doc, version, start, cluster.now())  # type: ignore[arg-type]
            )
            await asyncio.sleep(rng.uniform(0.0, 0.4))

    async def main() -> None:
        async with edgekv.Cluster(seed=seed) as cluster:
            rng = random.Random(seed)
            await asyncio.gather(
                *(user(cluster, f"u{i}", random.Random(rng.random())) for i in range(users))
            )
            await cluster.settle()
            for region in REGIONS:
                doc = cluster[region].peek(KEY)
                states[region] = {KEY: (doc, cluster[region].version(KEY))}

    edgekv.run(main(), seed=seed)
    return history, states


def test_eventual_reads_break_linearizability_and_read_your_writes() -> None:
    history, states = record("eventual", seed=1)
    lin = check_linearizable(history)
    assert not lin.ok and len(lin.violations[0].operations) <= 4
    assert "read-your-writes" in {v.guarantee for v in check_session(history).violations}
    assert check_convergence(states, history).ok


def test_session_reads_keep_every_session_guarantee() -> None:
    history, states = record("session", seed=2)
    assert check_session(history).ok
    assert check_convergence(states, history).ok


def test_strong_reads_are_linearizable() -> None:
    history, states = record("strong", seed=3)
    assert check_linearizable(history).ok, check_linearizable(history).describe()
    assert check_convergence(states, history).ok
