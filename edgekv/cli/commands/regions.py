"""``edgekv regions``: the topology (regions, cities, client shares, clock skew) and the
round-trip matrix, marking entries derived from geography rather than measured."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from ..._bench.report import STDOUT, write_json
from ..._core.latency import topology
from ..._core.realised import LinkLag, probe
from ..._drivers.files import default_config, load_config
from .. import UsageError, seed_arg

__all__ = ["register", "run"]

EXAMPLE = """example:
  edgekv regions
  edgekv regions --config my-regions.yaml --json topology.json --probe 500 --seed 2

RTT entries marked * are great-circle distance x route_inflation over the fiber speed
(no measurement in the config); the rest are measured medians, row = source.

Replication lag per link: the configured distribution (at least half the RTT, as the network
delivers it; quantiles of 200,000 seeded draws) beside the commit-to-apply times realised on a
seeded probe run: each region patches --probe fresh keys at random times over 60 s. They
differ when batching or anti-entropy (a digest repairs ops it finds missing) acts first."""


MAX_PROBE = 100_000
"""Most writes per region ``--probe`` takes (each is replicated to every other region)."""


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
    parser.add_argument(
        "--probe",
        type=int,
        default=200,
        metavar="N",
        help="writes per region of the realised-lag probe (default 200; 0: skip the probe)",
    )
    parser.add_argument("--seed", type=seed_arg, default=1, help="probe seed (default 1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the tables (and write JSON if asked); returns the exit code."""
    if not 0 <= args.probe <= MAX_PROBE:
        raise UsageError("--probe", f"must be between 0 and {MAX_PROBE:,}, got {args.probe}")
    cfg = default_config() if args.config is None else load_config(args.config)
    topo = topology(cfg)
    links = probe(cfg, args.seed, args.probe) if args.probe else []
    if links:
        topo["replication_lag"] = {
            "probe": {"writes_per_region": args.probe, "duration_s": 60.0, "seed": args.seed},
            "anti_entropy_ms": None if cfg.anti_entropy is None else cfg.anti_entropy * 1e3,
            "links": [link.as_dict() for link in links],
        }
    if args.json == STDOUT:
        write_json(STDOUT, topo)
        return 0
    if args.json is not None:
        try:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(topo, fh, indent=2)
        except OSError as exc:
            raise UsageError("--json", f"cannot write {args.json}: {exc.strerror}") from None
    console = Console()
    console.print(_regions_table(topo))
    console.print(_rtt_table(topo))
    if links:
        console.print(_lag_table(links, topo, args.probe))
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


def _lag_table(links: list[LinkLag], topo: dict[str, Any], writes: int) -> Table:
    index = {r["name"]: i for i, r in enumerate(topo["regions"])}
    table = Table(title="Replication lag per link (ms): configured vs realised")
    for name, justify in (
        ("link", "left"),
        ("configured", "left"),
        ("p50", "right"),
        ("p99", "right"),
        ("mean", "right"),
        ("realised n", "right"),
        ("p50", "right"),
        ("p99", "right"),
        ("mean", "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=name != "configured")  # type: ignore[arg-type]

    def ms(x: float) -> str:
        return "-" if x != x else f"{x * 1e3:.0f}"

    for link in links:
        table.add_row(
            f"{index[link.src]} -> {index[link.dst]}",
            link.configured,
            ms(link.configured_p50),
            ms(link.configured_p99),
            ms(link.configured_mean),
            f"{link.n:,}",
            ms(link.p50),
            ms(link.p99),
            ms(link.mean),
        )
    table.caption = (
        f"links by region # (see above); configured: the link's lag, at least half the RTT; "
        f"realised: commit to first apply at the destination, {writes} writes per region"
    )
    return table
