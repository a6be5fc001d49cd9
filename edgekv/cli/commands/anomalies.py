"""``edgekv anomalies``: the three LWW anomalies a user of an eventually consistent store
should see once (clock skew under wall clocks, item-level merge losing a field, tombstone
resurrection after a partition longer than the grace period), each beside the setting that
prevents it."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ..._bench.anomalies import clock_skew, item_merge, resurrection
from ..._bench.report import STDOUT, write_json
from .. import seed_arg
from .bench import check_output

__all__ = ["register", "run"]

EXAMPLE = """example:
  edgekv anomalies
  edgekv anomalies --seed 7 --json anomalies.json

Each scenario runs twice in virtual time, in the setting that shows the anomaly and in the one
that prevents it, and prints the document every region converges to."""


def register(subparsers: Any) -> None:
    """Add the ``anomalies`` parser."""
    parser = subparsers.add_parser(
        "anomalies",
        help="show LWW anomalies: clock skew, item-level merge, tombstone resurrection",
        description="Run the LWW anomaly scenarios and show what each setting converges to.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=seed_arg, default=1, help="seed (default 1)")
    parser.add_argument(
        "--json", metavar="PATH", help="also write the outcomes as JSON ('-': stdout only)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print each anomaly (and write JSON if asked); returns the exit code."""
    check_output("--json", args.json)
    found = [clock_skew(args.seed), item_merge(args.seed), resurrection(args.seed)]
    if args.json:
        rows = [
            {**dataclasses.asdict(a), "happened": a.happened, "prevented": a.prevented}
            for a in found
        ]
        write_json(args.json, rows)
    if args.json != STDOUT:  # with --json -, stdout carries the JSON alone
        print("\n\n".join(a.describe() for a in found))
    return 0
