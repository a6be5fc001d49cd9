"""Linearizability checker speed on long single-key histories, and its agreement with the
exhaustive brute force on small ones.

Each history comes from a simulated linearizable register: a few sequential clients issue
overlapping reads and writes on ONE key, each taking effect at a random instant inside its
interval; "stale" rows make 1% of reads return the value before the latest write, so the
checker must also find and minimise a counterexample. Prints CPU seconds
(``time.process_time``) per history at --ops and at a tenth of it side by side (the ratio
shows how the search scales), then the brute-force agreement count.

Run: ``.venv/bin/python benchmarks/checker.py [--ops 10000] [--seed 1] [--agreement 2000]``
"""

from __future__ import annotations

import argparse
import time

from edgekv.check import agreement, check_linearizable, simulate_register


def cpu(ops: int, seed: int, clients: int, values: int | None, stale: float) -> tuple[float, str]:
    """CPU seconds to check one simulated history, and the verdict in words."""
    history = simulate_register(seed, ops, clients=clients, values=values, stale=stale)
    start = time.process_time()
    result = check_linearizable(history)
    seconds = time.process_time() - start
    if result.ok:
        return seconds, "linearizable"
    return seconds, f"violation, counterexample of {len(result.violations[0].operations)} ops"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--agreement", type=int, default=2000, help="small histories to compare")
    args = parser.parse_args()
    small = max(1, args.ops // 10)
    print(f"one key, {args.ops:,} operations (and {small:,} for the ratio), seed {args.seed}")
    header = f"{'clients':>7} {'values':>7} {'stale':>5} {'cpu s':>8} {'cpu s':>8} {'ratio':>6}"
    print(f"{'':>21} {f'{args.ops:,} ops':>8} {f'{small:,} ops':>8}")
    print(header + "  verdict")
    for clients in (2, 4, 8):
        for values in (None, 5):
            for stale in (0.0, 0.01):
                big, verdict = cpu(args.ops, args.seed, clients, values, stale)
                little, _ = cpu(small, args.seed, clients, values, stale)
                shown = "unique" if values is None else str(values)
                print(
                    f"{clients:>7} {shown:>7} {stale:>5g} {big:>8.3f} {little:>8.3f} "
                    f"{big / max(little, 1e-9):>6.1f}  {verdict}"
                )
    found = agreement(args.agreement, args.seed)
    print(
        f"brute-force agreement count: {found.agree}/{found.histories} histories of 2-8 "
        f"operations ({found.linearizable} linearizable, "
        f"{found.histories - found.linearizable} not); CPU s fast {found.fast_seconds:.3f}, "
        f"brute force {found.brute_seconds:.3f}"
    )


if __name__ == "__main__":
    main()
