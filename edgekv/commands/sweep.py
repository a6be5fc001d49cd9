"""``edgekv sweep``: the ``edge-flags`` scenario at every value of one parameter (replication
lag median, mobility or think time), points in parallel, as a table, JSON, CSV and plots."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from .._errors import ConfigError
from .._report import LazyProgress, flatten, save_figure, write_csv, write_json
from .._scenario import DEFAULT_SYSTEMS, SCENARIO, EdgeFlags
from .._sweep import PARAMS, SweepPoint, canonical, connect, parse_values, run_sweep
from ..cli import UsageError
from .bench import add_scenario_arguments, check_output, check_plot, scenario_from_args

__all__ = ["register", "run"]

DEFAULTS = EdgeFlags(users=5_000, duration=30.0)

EXAMPLE = (
    """\
example:
  edgekv sweep --param lag.median --values 0ms,25ms,50ms,100ms,300ms,1s,2s \\
      --json sweep.json --csv sweep.csv --plot sweep.png
  edgekv sweep --param mobility --values 0,0.2,0.5,1 --users 2000 --duration 20s
  edgekv sweep --param think.median --lag exp:300ms

parameters (default values when --values is omitted):
"""
    + "\n".join(f"  {name:13} {default}" for name, (_, default) in PARAMS.items())
    + """

lag.median rescales the lag distribution (--lag, or the config's) to each median, keeping its
shape; think.median does the same to --think. Every point runs the whole edge-flags scenario
(see `edgekv bench --help`) with the same seed, so points differ only by the parameter.
"""
)


def register(subparsers: Any) -> None:
    """Add the ``sweep`` parser."""
    parser = subparsers.add_parser(
        "sweep",
        help="run the edge-flags scenario across values of one parameter, in parallel",
        description=(
            "Vary one parameter of the edge-flags scenario and report, per value and system, "
            "stale reads, read latency and wrong flags. Points run in parallel processes."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--param",
        default="lag.median",
        help=f"parameter to vary: {', '.join(PARAMS)} (default %(default)s)",
    )
    parser.add_argument("--values", metavar="LIST", help="comma-separated values")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: CPU count, %(default)s)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the points on a Dask distributed cluster, e.g. tcp://HOST:8786 "
        "(needs the dask extra; --jobs is then ignored)",
    )
    add_scenario_arguments(parser, DEFAULTS)
    parser.add_argument("--json", metavar="PATH", help="write every figure of every point")
    parser.add_argument("--csv", metavar="PATH", help="write every figure as CSV (long form)")
    parser.add_argument(
        "--plot", metavar="PATH.png", help="stale %% and p99 read latency vs the parameter"
    )
    parser.set_defaults(func=run)


SHORT = {"replicated:eventual": "E", "replicated:session": "S", "single-home": "H"}


def _table(param: str, points: list[dict[str, Any]]) -> Table:
    reads = ", ".join(f"{n:,}" for n in sorted({p["workload"]["reads"] for p in points}))
    table = Table(
        title=f"edgekv sweep: {SCENARIO}, {param}",
        title_justify="left",
        caption=(
            "E = eventual, S = session, H = single-home; stale % of reads, p99 client read "
            f"latency, wrong-flag % of logins; reads per point: {reads}"
        ),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column(param, justify="right")
    for name in DEFAULT_SYSTEMS:
        table.add_column(f"{SHORT[name]} stale%", justify="right")
    for name in DEFAULT_SYSTEMS:
        table.add_column(f"{SHORT[name]} p99 ms", justify="right")
    table.add_column("E wrong%", justify="right")
    for p in points:
        systems = p["systems"]
        stale = [systems[n]["stale_reads"]["pct"] for n in DEFAULT_SYSTEMS]
        p99 = [systems[n]["reads"]["latency_ms"]["p99"] for n in DEFAULT_SYSTEMS]
        wrong = systems["replicated:eventual"]["logins"]["wrong_flag"]["pct"]
        table.add_row(
            p["label"],
            *("-" if v is None else f"{v:.3f}" for v in stale),
            *("-" if v is None else f"{v:.1f}" for v in p99),
            "-" if wrong is None else f"{wrong:.3f}",
        )
    return table


def _plot(plt: Any, path: str, param: str, kind: str, points: list[dict[str, Any]]) -> None:
    scale = 1e3 if kind == "duration" else 1.0
    xs = [p["value"] * scale for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    for name in DEFAULT_SYSTEMS:
        stale = [p["systems"][name]["stale_reads"]["pct"] for p in points]
        p99 = [p["systems"][name]["reads"]["latency_ms"]["p99"] for p in points]
        left.plot(xs, [float("nan") if v is None else v for v in stale], "o-", label=name)
        right.plot(xs, [float("nan") if v is None else v for v in p99], "o-", label=name)
    label = f"{param} (ms)" if kind == "duration" else param
    positive = [x for x in xs if x > 0]
    for ax in (left, right):
        ax.set_xlabel(label)
        if kind == "duration" and positive and max(positive) / min(positive) > 20:
            ax.set_xscale("symlog", linthresh=min(positive))
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    left.set_ylabel("stale reads (%)")
    right.set_ylabel("p99 read latency seen by the client (ms)")
    first = points[0]["scenario"]
    fig.suptitle(
        f"{SCENARIO} sweep of {param}: {first['users']:,} users, {first['duration_s']:g} s, "
        f"seed {first['seed']}",
        fontsize=10,
    )
    save_figure(plt, fig, path)


def run(args: argparse.Namespace) -> int:
    """Validate every flag, run the points in parallel, print and write the results."""
    try:
        param = canonical(args.param)
        values = parse_values(param, args.values)
    except ConfigError as exc:
        raise UsageError(f"--{exc.path}: {exc.reason}") from None
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    scenario = scenario_from_args(args)
    for flag in ("--json", "--csv"):
        check_output(flag, getattr(args, flag[2:]))
    plt = check_plot(args.plot)
    points = [
        SweepPoint(scenario, args.config, args.lag, args.flags, param, value, label)
        for value, label in values
    ]
    client = None
    if args.scheduler is not None:
        try:
            client = connect(args.scheduler)
        except ConfigError as exc:
            raise UsageError(f"--{exc.path}: {exc.reason}") from None
    started = time.perf_counter()
    progress = LazyProgress(f"sweep {param}: {len(points)} points")
    try:
        results = run_sweep(
            points, args.jobs, lambda done: progress.update(done / len(points)), client
        )
    finally:
        progress.close()
        if client is not None:
            client.close()
    elapsed = time.perf_counter() - started

    console = Console()
    console.print(_table(param, results))
    where = (
        f"on {args.scheduler}" if client is not None else f"{min(args.jobs, len(points))} processes"
    )
    console.print(f"[dim]{len(points)} points, {where}, {elapsed:.1f} s[/dim]")
    if args.json:
        write_json(args.json, {"param": param, "points": results})
    if args.csv:
        rows = []
        for p in results:
            for scope in ("scenario", "workload"):
                rows += [(param, p["value"], scope, m, v) for m, v in flatten(p[scope])]
            for name, figures in p["systems"].items():
                rows += [(param, p["value"], name, m, v) for m, v in flatten(figures)]
        write_csv(args.csv, ("param", "value", "scope", "metric", "figure"), rows)
    if plt is not None:
        _plot(plt, args.plot, param, PARAMS[param][0], results)
    return 0
