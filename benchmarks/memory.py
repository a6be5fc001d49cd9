"""Bytes per key for 1,000,000 keys in one region (tracemalloc), and local read cost.

Documents are small (``{"stars": n}``); everything the store allocates counts: key strings,
records, versions, documents and the dict itself. Target: <= 250 bytes/key. Both stores are
measured: the default keeps each document as a Python dict (reads return it as is), the
compact one (``store.compact: true``) keeps it msgpack-encoded (reads decode it). A local read
(``RegionNode.peek``, no latency model) is timed side by side with a plain ``dict.get`` on the
same keys; target: within 3x.

Run: ``.venv/bin/python benchmarks/memory.py [--keys N] [--json PATH]`` (``-``: stdout)
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from typing import Any

from _report import add_json_option, json_report

from edgekv.lowlevel import CompactRegionNode, RegionNode, crdt_for

TARGET_BYTES_PER_KEY = 250
TARGET_READ_RATIO = 3


def fill(granularity: str, compact: bool, n: int) -> tuple[RegionNode, float]:
    """A one-region node holding ``n`` keys; returns it and the bytes per key allocated."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    node = (CompactRegionNode if compact else RegionNode)(0, 1, crdt_for(granularity))
    patch = node.patch
    for i in range(n):
        patch(i * 1e-6, f"user:{i}", {"stars": i % 1000})
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return node, used / n


def read_ratio(node: RegionNode, n: int, rounds: int = 5) -> tuple[float, float]:
    """Best-of-``rounds`` ns per read for ``peek`` and for ``dict.get`` on a plain dict."""
    plain = {f"user:{i}": {"stars": i % 1000} for i in range(n)}
    keys = [f"user:{i}" for i in range(0, n, 7)]
    peek, get = node.peek, plain.get
    best_peek = best_get = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for k in keys:
            peek(k)
        t1 = time.perf_counter()
        for k in keys:
            get(k)
        t2 = time.perf_counter()
        best_peek = min(best_peek, (t1 - t0) / len(keys) * 1e9)
        best_get = min(best_get, (t2 - t1) / len(keys) * 1e9)
    return best_peek, best_get


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    add_json_option(parser)
    args = parser.parse_args()
    with json_report(args.json) as report:
        rows: list[dict[str, Any]] = []
        report.update(
            keys=args.keys,
            rows=rows,
            target_bytes_per_key=TARGET_BYTES_PER_KEY,
            target_read_ratio=TARGET_READ_RATIO,
        )
        print(f"{args.keys:,} keys in one region, documents {{'stars': n}}")
        print(
            f"{'granularity':<12} {'compact':<8} {'bytes/key':>10} {'peek ns':>8} "
            f"{'dict.get ns':>12} {'ratio':>6}"
        )
        for compact in (False, True):
            for granularity in ("item", "field"):
                node, per_key = fill(granularity, compact, args.keys)
                peek_ns, get_ns = read_ratio(node, args.keys)
                print(
                    f"{granularity:<12} {str(compact).lower():<8} {per_key:10.0f} "
                    f"{peek_ns:8.1f} {get_ns:12.1f} {peek_ns / get_ns:6.2f}"
                )
                rows.append(
                    {
                        "granularity": granularity,
                        "compact": compact,
                        "bytes_per_key": per_key,
                        "peek_ns": peek_ns,
                        "dict_get_ns": get_ns,
                        "ratio": peek_ns / get_ns,
                    }
                )
                del node
        print(
            f"targets: <= {TARGET_BYTES_PER_KEY} bytes/key; "
            f"peek within {TARGET_READ_RATIO}x of dict.get"
        )


if __name__ == "__main__":
    main()
