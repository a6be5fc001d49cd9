"""``edgekv regions``: the topology (regions, cities, client shares, clock skew) and the
round-trip matrix, marking entries derived from geography rather than measured."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from .._config import default_config, load_config
from .._latency import topology
from ..cli import UsageError

__all__ = ["register", "run"]

EXAMPLE = """example:
  edgekv regions
  edgekv regions --config my-regions.yaml --json topology.json

RTT entries marked * are great-circle distance x route_inflation over the fiber speed
(no measurement in the config); the rest are measured medians, row = source."""


def register(subparsers: Any) -> None:
    """Add the ``regions`` parser."""
    parser = subparsers.add_parser(
        "regions",
        help="show the topology and the RTT matrix",
        description="Show the regions, their client population and the round-trip matrix.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="PATH", help="regions.yaml (default: packaged)")
    parser.add_argument(
        "--json", metavar="PATH", help="also write the topology as JSON to PATH ('-': stdout)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the tables (and write JSON if asked); returns the exit code."""
    cfg = default_config() if args.config is None else load_config(args.config)
    topo = topology(cfg)
    if args.json == "-":
        json.dump(topo, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.json is not None:
        try:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(topo, fh, indent=2)
        except OSError as exc:
            raise UsageError(f"cannot write {args.json}: {exc.strerror}") from None
    console = Console()
    console.print(_regions_table(topo))
    console.print(_rtt_table(topo))
    if args.json is not None:
        console.print(f"wrote {args.json}")
    return 0


def _regions_table(topo: dict[str, Any]) -> Table:
    table = Table(title=f"Regions ({topo['source'] or 'config'})")
    for name, justify in (
        ("#", "right"),
        ("region", "left"),
        ("city", "left"),
        ("lat", "right"),
        ("lon", "right"),
        ("weight", "right"),
        ("clients", "right"),
        ("clock skew", "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for i, r in enumerate(topo["regions"]):
        table.add_row(
            str(i),
            r["name"],
            r["city"],
            f"{r['lat']:.2f}",
            f"{r['lon']:.2f}",
            f"{r['weight']:g}",
            f"{r['share']:.1%}",
            f"{r['clock_skew_ms']:+g} ms",
        )
    table.caption = (
        f"client_delay {topo['client_delay']}, jitter {topo['jitter']}, "
        f"service {topo['service_time_ms']:g} ms"
    )
    return table


def _rtt_table(topo: dict[str, Any]) -> Table:
    derived = 0
    table = Table(title="Round-trip time (ms), row = source")
    table.add_column("from \\ to", no_wrap=True)
    for i, _ in enumerate(topo["regions"]):
        table.add_column(str(i), justify="right")
    for i, row in enumerate(topo["rtt_ms"]):
        cells = []
        for j, entry in enumerate(row["to"]):
            if i == j:
                cells.append("-")
            elif entry["measured"]:
                cells.append(f"{entry['rtt_ms']:.0f}")
            else:
                derived += 1
                cells.append(f"[yellow]{entry['rtt_ms']:.0f}*[/]")
        table.add_row(f"{i} {row['from']}", *cells)
    table.caption = (
        f"* geo-derived: great-circle km x {topo['route_inflation']:g} / 204,000 km/s "
        f"({derived} entries)"
        if derived
        else "all entries measured"
    )
    return table
