"""Linearizability checker speed on long single-key histories, and its agreement with the
exhaustive brute force on small ones.

Each history comes from a simulated linearizable register: a few sequential clients issue
overlapping reads and writes on ONE key, each taking effect at a random instant inside its
interval; "stale" rows make 1% of reads return the value before the latest write, so the
checker must also find and minimise a counterexample. Prints CPU seconds
(``time.process_time``) per history at --ops and at a tenth of it side by side (the ratio
shows how the search scales), then the brute-force agreement count; ``--json PATH`` (``-``:
stdout) also writes every figure as one JSON object.

Run: ``.venv/bin/python benchmarks/checker.py [--ops 10000] [--seed 1] [--agreement 2000]
[--json PATH]``
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _report import add_json_option, json_report

from edgekv.check import agreement, check_linearizable, simulate_register


def cpu(
    ops: int, seed: int, clients: int, values: int | None, stale: float
) -> tuple[float, int | None]:
    """CPU seconds to check one simulated history, and the counterexample's length (None if
    the history is linearizable)."""
    history = simulate_register(seed, ops, clients=clients, values=values, stale=stale)
    start = time.process_time()
    result = check_linearizable(history)
    seconds = time.process_time() - start
    return seconds, None if result.ok else len(result.violations[0].operations)


def run(ops: int, seed: int, histories: int, report: dict[str, Any]) -> None:
    """Print the table and the agreement count; put every figure in ``report``."""
    small = max(1, ops // 10)
    rows: list[dict[str, Any]] = []
    report.update(seed=seed, ops=ops, small_ops=small, rows=rows)
    print(f"one key, {ops:,} operations (and {small:,} for the ratio), seed {seed}")
    header = f"{'clients':>7} {'values':>7} {'stale':>5} {'cpu s':>8} {'cpu s':>8} {'ratio':>6}"
    print(f"{'':>21} {f'{ops:,} ops':>8} {f'{small:,} ops':>8}")
    print(header + "  verdict")
    for clients in (2, 4, 8):
        for values in (None, 5):
            for stale in (0.0, 0.01):
                big, counterexample = cpu(ops, seed, clients, values, stale)
                little, _ = cpu(small, seed, clients, values, stale)
                ratio = big / max(little, 1e-9)
                shown = "unique" if values is None else str(values)
                verdict = (
                    "linearizable"
                    if counterexample is None
                    else f"violation, counterexample of {counterexample} ops"
                )
                print(
                    f"{clients:>7} {shown:>7} {stale:>5g} {big:>8.3f} {little:>8.3f} "
                    f"{ratio:>6.1f}  {verdict}"
                )
                rows.append(
                    {
                        "clients": clients,
                        "values": values,
                        "stale": stale,
                        "cpu_s": big,
                        "small_cpu_s": little,
                        "ratio": ratio,
                        "linearizable": counterexample is None,
                        "counterexample_ops": counterexample,
                    }
                )
    found = agreement(histories, seed)
    print(
        f"brute-force agreement count: {found.agree}/{found.histories} histories of 2-8 "
        f"operations ({found.linearizable} linearizable, "
        f"{found.histories - found.linearizable} not); CPU s fast {found.fast_seconds:.3f}, "
        f"brute force {found.brute_seconds:.3f}"
    )
    report["agreement"] = {
        "histories": found.histories,
        "agree": found.agree,
        "linearizable": found.linearizable,
        "fast_cpu_s": found.fast_seconds,
        "brute_cpu_s": found.brute_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--agreement", type=int, default=2000, help="small histories to compare")
    add_json_option(parser)
    args = parser.parse_args()
    with json_report(args.json) as report:
        run(args.ops, args.seed, args.agreement, report)


if __name__ == "__main__":
    main()
