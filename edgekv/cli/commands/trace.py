"""``edgekv trace``: a space-time (Lamport) diagram of a short scripted run of the edge-flags
story (a purchase in East US, logins in UK South): regions as lanes, writes as dots,
replication messages as arrows from send to arrival (lost ones crossed), reads marked fresh
or stale, a cut link shaded. Prints what happened; ``--plot`` draws it."""

from __future__ import annotations

import argparse
from typing import Any

from ..._bench.diagram import describe, draw
from ..._core.distributions import parse_duration
from ..._core.systems import SYSTEMS
from ..._drivers.trace import KEY, LOGINS, PURCHASES, build_trace
from .. import UsageError, seed_arg
from .bench import check_plot

__all__ = ["register", "run"]

EXAMPLE = """\
example:
  edgekv trace --plot trace.png --seed 1 --window 0s,3s --partition "East US,UK South"
"""


def _window(text: str) -> tuple[float, float]:
    """argparse type of ``--window``: ``START,END`` durations, ``0 <= START < END``."""
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected START,END such as 0s,3s, got {text!r}")
    start, end = (parse_duration(p.strip(), "--window") for p in parts)
    if not start < end:
        raise argparse.ArgumentTypeError(f"expected START < END, got {text!r}")
    return start, end


def _pair(text: str) -> tuple[str, str]:
    """argparse type of ``--partition``: two region names, comma-separated."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise argparse.ArgumentTypeError(f"expected two region names A,B, got {text!r}")
    return parts[0], parts[1]


def register(subparsers: Any) -> None:
    """Add the ``trace`` parser."""
    parser = subparsers.add_parser(
        "trace",
        help="space-time diagram of the edge-flags story: writes, replication, stale reads",
        description=(
            f"Run the story on one system: {KEY} written in East US at "
            f"{', '.join(f'{at:g}s' for at, _ in PURCHASES)}, read in UK South at "
            f"{', '.join(f'{at:g}s' for at in LOGINS)} (the system's default level). Print "
            "each read, fresh or stale, and the replication messages; --plot draws them."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--plot", metavar="PNG", help="write the diagram as a PNG")
    parser.add_argument(
        "--system", choices=tuple(SYSTEMS), default="replicated", help="system under test"
    )
    parser.add_argument("--seed", type=seed_arg, default=1, help="seed (default 1)")
    parser.add_argument(
        "--window",
        type=_window,
        default=(0.0, 3.0),
        metavar="START,END",
        help="time window shown, e.g. 0s,3s (default)",
    )
    parser.add_argument(
        "--partition",
        type=_pair,
        metavar="A,B",
        help="cut the link between regions A and B for the first half of the window",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the trace, print it, draw it when asked."""
    plt = check_plot(args.plot)
    try:
        trace = build_trace(args.system, args.seed, args.window, args.partition)
    except KeyError as exc:
        raise UsageError("--partition", str(exc.args[0])) from None
    print(describe(trace))
    if plt is not None:
        draw(plt, trace, args.plot)
        print(f"diagram written to {args.plot}")
    return 0
