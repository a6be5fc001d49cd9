"""``edgekv bench``: the ``edge-flags`` scenario on the replicated store (eventual and session
reads) and on the single-home baseline, with one seeded workload, printed side by side."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from .._distributions import parse_distribution, parse_duration
from .._errors import ConfigError
from .._report import (
    LazyProgress,
    flatten,
    load_pyplot,
    plot_latency_cdf,
    summarize,
    summary_table,
    write_csv,
    write_json,
)
from .._scenario import (
    DEFAULT_SYSTEMS,
    SCENARIO,
    EdgeFlags,
    load_evaluator,
    parse_columns,
    run_edge_flags,
    scenario_config,
)
from .._systems import SYSTEMS
from .._workload import PACKAGED, load_workload, packaged_workloads
from ..cli import UsageError

__all__ = [
    "add_scenario_arguments",
    "check_output",
    "check_plot",
    "register",
    "run",
    "scenario_from_args",
]

DEFAULTS = EdgeFlags()

EXAMPLE = """\
example:
  edgekv bench
  edgekv bench --users 5000 --duration 30s --mobility 0.5 --lag lognormal:300ms,0.5 \\
      --seed 7 --json bench.json --csv bench.csv --plot bench.png
  edgekv bench --lag const:0ms        # no replication lag: nothing stale beyond physics
  edgekv bench --workload cart --systems workers-kv,d1-replicas,dynamodb-mrec
  edgekv bench --workload my-app.yaml # your own workload file (see edge-flags.yaml)

The scenario: each user has a home region (drawn by the config's client weights) and a stored
DevCycle user document {user_id, appVersion, customData: {stars}}. A session is a purchase
(the shop PATCHes customData.stars at the home region) and, after --think, a login from the
session's region (away from home with probability --mobility) that evaluates every variable
of --flags on the stored user; platinum-status-feature turns on at stars >= 100. Background
app refreshes (reads) and other services' PATCHes of appVersion run alongside. The same
seeded workload runs against eventual and session reads of the replicated store and against
the single-home store (every user homed at home). Latencies are what the client sees:
client-to-edge + service (+ forwarding or waiting) + edge-to-client.
"""


def add_scenario_arguments(parser: argparse.ArgumentParser, defaults: EdgeFlags) -> None:
    """The options shared by ``bench`` and ``sweep`` (topology, workload, seed)."""
    parser.add_argument(
        "--scenario", default=SCENARIO, choices=(SCENARIO,), help="scenario (default %(default)s)"
    )
    parser.add_argument("--config", metavar="PATH", help="regions.yaml (default: packaged)")
    parser.add_argument(
        "--flags",
        metavar="PATH",
        help="DevCycle config v2 JSON (default: packaged example with platinum-status-feature)",
    )
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="seed (default %(default)s)"
    )
    parser.add_argument(
        "--users", type=int, default=defaults.users, help="users (default %(default)s)"
    )
    parser.add_argument(
        "--duration",
        default=f"{defaults.duration:g}s",
        metavar="DURATION",
        help="workload window in virtual time, with its unit (default %(default)s)",
    )
    parser.add_argument(
        "--mobility",
        type=float,
        default=defaults.mobility,
        metavar="FRACTION",
        help="fraction of sessions started away from home (default %(default)s)",
    )
    parser.add_argument(
        "--lag",
        metavar="SPEC",
        help="replication lag, e.g. lognormal:300ms,0.5, exp:100ms, const:0ms (default: config)",
    )
    parser.add_argument(
        "--think",
        default="lognormal:1s,1",
        metavar="SPEC",
        help="purchase-to-login delay distribution (default %(default)s)",
    )


def _duration(text: str) -> float:
    return parse_duration(text, "duration", allow_zero=False, bare="error")


def scenario_from_args(args: argparse.Namespace) -> EdgeFlags:
    """The scenario the shared options describe; bad values raise :class:`UsageError`."""
    try:
        return EdgeFlags(
            users=args.users,
            duration=_duration(args.duration),
            mobility=args.mobility,
            think=parse_distribution(args.think, "think"),
            seed=args.seed,
        )
    except ConfigError as exc:
        raise UsageError(f"--{exc.path}: {exc.reason}") from None


def check_output(flag: str, path: str | None) -> None:
    """Fail before running when an output file's directory does not exist."""
    if path is not None and not Path(path).resolve().parent.is_dir():
        raise UsageError(f"{flag}: directory {str(Path(path).resolve().parent)!r} does not exist")


def check_plot(path: str | None) -> Any:
    """pyplot when ``--plot`` is given (a one-line error if the ``plot`` extra is missing)."""
    if path is None:
        return None
    if not path.lower().endswith(".png"):
        raise UsageError(f"--plot: expected a .png path, got {path!r}")
    check_output("--plot", path)
    try:
        return load_pyplot()
    except ModuleNotFoundError:
        raise UsageError("--plot needs matplotlib: pip install 'edgekv[plot]'") from None


def register(subparsers: Any) -> None:
    """Add the ``bench`` parser."""
    parser = subparsers.add_parser(
        "bench",
        help="compare eventual, session and single-home stores on the edge-flags scenario",
        description=(
            "Run the edge-flags scenario (EdgeDB user data and flag evaluation) on the "
            "replicated store with eventual and session reads and on the single-home "
            "baseline, and print latency, freshness and replication figures side by side."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        conflict_handler="resolve",
    )
    add_scenario_arguments(parser, DEFAULTS)
    _add_workload_arguments(parser)
    parser.add_argument(
        "--systems",
        default=",".join(DEFAULT_SYSTEMS),
        metavar="LIST",
        help=(
            "comma-separated columns, SYSTEM or SYSTEM:LEVEL, of: "
            + ", ".join(SYSTEMS)
            + " (default %(default)s)"
        ),
    )
    parser.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    parser.add_argument("--csv", metavar="PATH", help="write every figure as CSV")
    parser.add_argument(
        "--plot", metavar="PATH.png", help="read-latency CDFs per system (needs the plot extra)"
    )
    parser.set_defaults(func=run)


def _add_workload_arguments(parser: argparse.ArgumentParser) -> None:
    """``--workload`` and the workload options that override the file's values when given."""
    parser.add_argument(
        "--workload",
        default=PACKAGED,
        metavar="NAME|PATH",
        help=(
            "workload file (YAML), or a packaged one: "
            + ", ".join(packaged_workloads())
            + " (default %(default)s)"
        ),
    )
    overrides = (
        ("--users", int, "users"),
        ("--duration", str, "workload window in virtual time, with its unit"),
        ("--mobility", float, "fraction of sessions started away from home"),
        ("--think", str, "default delay between a session's steps, a distribution"),
    )
    for flag, kind, text in overrides:
        parser.add_argument(flag, type=kind, help=f"{text} (default: the workload's)")


def _scenario_for(args: argparse.Namespace) -> EdgeFlags:
    """The ``--workload`` file (or packaged name) with ``--seed`` and every workload option
    given on the command line; bad values raise :class:`UsageError` naming the option."""
    base = load_workload(args.workload, seed=args.seed)
    changes: dict[str, Any] = {}
    try:
        if args.users is not None:
            changes["users"] = args.users
        if args.duration is not None:
            changes["duration"] = _duration(args.duration)
        if args.mobility is not None:
            changes["mobility"] = args.mobility
        if args.think is not None:
            changes["think"] = parse_distribution(args.think, "think")
        return dataclasses.replace(base, **changes)
    except ConfigError as exc:
        raise UsageError(f"--{exc.path}: {exc.reason}") from None


def _headline(summary: dict[str, Any]) -> list[str]:
    systems = summary["systems"]
    lines = []
    extra = summary["workload"]["mean_rtt_to_home_of_away_reads_ms"]
    home = systems.get("single-home", {}).get("reads")
    if home and home["away_latency_ms"]["n"] and home["home_latency_ms"]["n"]:
        lines.append(
            f"single-home: away reads p50 {home['away_latency_ms']['p50']:.1f} ms vs "
            f"{home['home_latency_ms']['p50']:.1f} ms at home (mean gap "
            f"{home['away_latency_ms']['mean'] - home['home_latency_ms']['mean']:.1f} ms; "
            f"mean RTT to home of away reads {extra:.1f} ms)."
        )
    for name, s in systems.items():
        if s["stale_reads"]["pct"] is None or s["reads"]["latency_ms"]["p99"] is None:
            continue
        wrong = s["logins"]["wrong_flag"]["pct"]
        logins = "no logins" if wrong is None else f"{wrong:.3f}% of logins served a wrong flag"
        failed = s["unavailable"]["reads"]["pct"]
        lines.append(
            f"{name}: read p99 {s['reads']['latency_ms']['p99']:.1f} ms; "
            f"{s['stale_reads']['pct']:.3f}% of reads stale, {logins}"
            + (f", {failed:.3f}% of reads failed." if failed else ".")
        )
    return lines


def run(args: argparse.Namespace) -> int:
    """Validate every flag, run the scenario, print the table, write the files."""
    scenario = _scenario_for(args)
    for flag in ("--json", "--csv"):
        check_output(flag, getattr(args, flag[2:]))
    plt = check_plot(args.plot)
    cfg = scenario_config(args.config, args.lag)
    systems = [spec for spec in args.systems.split(",") if spec.strip()]
    try:
        parse_columns(systems)
    except ConfigError as exc:
        raise UsageError(f"--systems: {exc.reason}") from None
    evaluator = load_evaluator(args.flags)

    started = time.perf_counter()
    progress = LazyProgress(f"{scenario.name}: {scenario.users:,} users")
    try:
        result = run_edge_flags(scenario, cfg, evaluator, progress.update, systems)
    finally:
        progress.close()
    elapsed = time.perf_counter() - started

    summary = summarize(result)
    w = summary["workload"]
    title = (
        f"edgekv bench: {scenario.name}, {len(cfg.regions)} regions, {scenario.users:,} users, "
        f"{scenario.duration:g}s, mobility {scenario.mobility:g}, lag {cfg.lag.describe()}, "
        f"think {scenario.think.describe()}, seed {scenario.seed}\n"
        f"{w['operations']:,} operations: {w['purchase']:,} purchases, {w['login']:,} logins "
        f"({w['away logins']:,} away), {w['background read']:,} background reads, "
        f"{w['background write']:,} background writes\n"
        f"faults: {'; '.join(summary['scenario']['faults']) or 'none'}"
    )
    # A column per system never wraps: wider than the terminal, the table scrolls instead.
    needed = 30 + 20 * len(summary["systems"])
    console = Console(width=max(Console().width, needed))
    console.print(summary_table(summary, title))
    for line in _headline(summary):
        console.print(line)
    console.print(f"[dim]simulated in {elapsed:.1f} s[/dim]")
    if args.json:
        write_json(args.json, summary)
    if args.csv:
        rows = [
            (scope, metric, value)
            for scope in ("scenario", "workload")
            for metric, value in flatten(summary[scope])
        ]
        for name, figures in summary["systems"].items():
            rows += [(name, metric, value) for metric, value in flatten(figures)]
        write_csv(args.csv, ("scope", "metric", "value"), rows)
    if plt is not None:
        plot_title = (
            f"{scenario.name}: {scenario.users:,} users, {scenario.duration:g} s, mobility "
            f"{scenario.mobility:g}, seed {scenario.seed}\nlag {cfg.lag.describe()}, "
            f"think {scenario.think.describe()}"
        )
        plot_latency_cdf(plt, args.plot, result, plot_title)
    return 0
