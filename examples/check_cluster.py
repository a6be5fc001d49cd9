"""Record a cluster's operations and check them: a user buys in East US and logs in from UK
South 100 ms later, reading at ``eventual`` then at ``session`` consistency. The eventual run
breaks read-your-writes (and linearizability); the session run keeps every session guarantee.

Run: ``.venv/bin/python examples/check_cluster.py`` (the README quotes its output).
"""

from __future__ import annotations

import edgekv


async def story(level: str) -> None:
    """The purchase and the login, then the verdicts of the recorded history."""
    async with edgekv.Cluster(seed=1, lag="300ms") as cluster:
        recorder = cluster.record()
        alice = edgekv.Session()
        recorder.name(alice, "alice")
        await cluster["East US"].put("user:42", {"plan": "pro"}, session=alice)
        await cluster.advance(0.1)
        await cluster["UK South"].get("user:42", level, session=alice)
        print(f"--- {level} ---")
        print(cluster.check("session").describe())
        print(cluster.check("linearizable").describe())


if __name__ == "__main__":
    for level in ("eventual", "session"):
        edgekv.run(story(level), seed=1)
