"""What recording a cluster's history costs: the same seeded run of --ops operations (20
concurrent users reading and writing 50 keys from random regions, in virtual time) with the
recorder off, recording into its ring, and into the ring plus a JSON-lines file. Prints CPU
seconds (``time.process_time``, the best of --repeat interleaved runs) and the ratio to the
run with the recorder off, then what each recorded operation cost in microseconds; and, as
the whole-run difference is within run-to-run noise, ``Recorder.record`` alone on the
operations of a run (replayed), which is the cost recording adds per operation.

Run: ``.venv/bin/python benchmarks/recorder.py [--ops 20000] [--repeat 3] [--json PATH]``;
``--json`` (``-``: stdout) also writes every figure as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from typing import Any

from _report import add_json_option, json_report

import edgekv
from edgekv import Op, OpKind, OpResult
from edgekv.lowlevel import Recorder

USERS = 20


def once(ops: int, mode: str, path: str) -> tuple[float, int]:
    """CPU seconds for one run in ``mode`` (off, ring, file) and the operations recorded."""

    async def main() -> int:
        async with edgekv.Cluster(seed=1) as cluster:
            names = cluster.regions
            if mode != "off":
                cluster.record(path=path if mode == "file" else None)

            async def user(rng: random.Random) -> None:
                for n in range(ops // USERS):
                    node = cluster[rng.choice(names)]
                    key = f"user:{rng.randrange(50)}"
                    if rng.random() < 0.3:
                        await node.put(key, {"n": n, "plan": "pro"})
                    else:
                        await node.get(key)

            await asyncio.gather(*(user(random.Random(i)) for i in range(USERS)))
            recorded = 0 if cluster.recorder is None else cluster.recorder.recorded
            cluster.close()
            return recorded

    start = time.process_time()
    recorded = edgekv.run(main(), seed=1)
    return time.process_time() - start, recorded


def replay(ops: int, path: str | None) -> float:
    """CPU microseconds per ``Recorder.record`` call, replaying a recorded run's operations."""
    pairs: list[tuple[Op, OpResult]] = []

    async def capture() -> None:
        async with edgekv.Cluster(seed=1) as cluster:
            store = cluster.store
            rng = random.Random(0)
            for n in range(ops):
                node = cluster[rng.choice(cluster.regions)]
                op = node._op(OpKind.PUT if n % 3 == 0 else OpKind.GET, "user:1", {"n": n})
                if op.kind is OpKind.GET:
                    op = op._replace(value=None)
                future: asyncio.Future[OpResult] = asyncio.get_running_loop().create_future()
                store.submit(op, future.set_result)
                pairs.append((op, await future))

    edgekv.run(capture(), seed=1)
    recorder = Recorder(edgekv.Cluster().regions, path=path)
    start = time.process_time()
    for op, result in pairs:
        recorder.record(op, result)
    seconds = time.process_time() - start
    recorder.close()
    return seconds / len(pairs) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    add_json_option(parser)
    args = parser.parse_args()
    modes = ("off", "ring", "file")
    best = dict.fromkeys(modes, float("inf"))
    counts = dict.fromkeys(modes, 0)
    tmp = tempfile.TemporaryDirectory()
    path = os.path.join(tmp.name, "ops.jsonl")
    for _ in range(args.repeat):
        for mode in modes:
            seconds, counts[mode] = once(args.ops, mode, path)
            best[mode] = min(best[mode], seconds)
    ops = (args.ops // USERS) * USERS
    with json_report(args.json) as report:
        rows: dict[str, dict[str, Any]] = {}
        report.update(ops=ops, users=USERS, repeat=args.repeat, modes=rows)
        print(f"{ops:,} operations, {USERS} users, best of {args.repeat} (CPU seconds)")
        for mode in modes:
            extra = (best[mode] - best["off"]) / ops * 1e6
            print(
                f"  recorder {mode:>4}: {best[mode]:.3f} s  ({best[mode] / best['off']:.2f}x off; "
                f"{extra:+.1f} us/op; {counts[mode]:,} recorded)"
            )
            rows[mode] = {
                "cpu_s": best[mode],
                "over_off": best[mode] / best["off"],
                "extra_us_per_op": extra,
                "recorded": counts[mode],
            }
            if mode != "off":
                per_op = replay(ops, path if mode == "file" else None)
                print(f"    Recorder.record alone ({mode}): {per_op:.2f} us/op")
                rows[mode]["record_alone_us_per_op"] = per_op
    tmp.cleanup()


if __name__ == "__main__":
    main()
