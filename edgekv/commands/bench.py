"""``edgekv bench``: the ``edge-flags`` scenario on the replicated store (eventual and session
reads) and on the single-home baseline, with one seeded workload, printed side by side."""

from __future__ import annotations

import argparse
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
        help="workload window in virtual time; bare numbers are seconds (default %(default)s)",
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
    try:
        seconds = float(text)
    except ValueError:
        return parse_duration(text, "duration", allow_zero=False)
    if not 0 < seconds < float("inf"):
        raise UsageError(f"--duration: expected a positive duration, got {text!r}")
    return seconds


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
    )
    add_scenario_arguments(parser, DEFAULTS)
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


def _rate(share: dict[str, Any]) -> str:
    """``0.798% [0.745, 0.855] (801/100,353)``: a share, its 95% interval and its counts."""
    return (
        f"{share['pct']:.3f}% [{share['lo']:.3g}, {share['hi']:.3g}] "
        f"({share['n']:,}/{share['of']:,})"
    )


def _p99(lat: dict[str, Any]) -> str:
    """``92.9 [91.8, 94.1]``: the p99 and its 95% interval (``*``: thin tail)."""
    ci = lat["ci"]["p99"]
    bounds = ", ".join("-" if v is None else f"{v:.1f}" for v in (ci["lo"], ci["hi"]))
    return f"{lat['p99']:.1f}{'*' if ci['thin'] else ''} [{bounds}]"


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
        wrong = s["logins"]["wrong_flag"]
        logins = (
            "no logins" if wrong["pct"] is None else f"{_rate(wrong)} of logins served a wrong flag"
        )
        failed = s["unavailable"]["reads"]
        lines.append(
            f"{name}: read p99 {_p99(s['reads']['latency_ms'])} ms; "
            f"{_rate(s['stale_reads'])} of reads stale, {logins}"
            + (f", {_rate(failed)} of reads failed." if failed["n"] else ".")
        )
    return lines


def run(args: argparse.Namespace) -> int:
    """Validate every flag, run the scenario, print the table, write the files."""
    scenario = scenario_from_args(args)
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
    progress = LazyProgress(f"{SCENARIO}: {scenario.users:,} users")
    try:
        result = run_edge_flags(scenario, cfg, evaluator, progress.update, systems)
    finally:
        progress.close()
    elapsed = time.perf_counter() - started

    summary = summarize(result)
    w = summary["workload"]
    title = (
        f"edgekv bench: {SCENARIO}, {len(cfg.regions)} regions, {scenario.users:,} users, "
        f"{scenario.duration:g}s, mobility {scenario.mobility:g}, lag {cfg.lag.describe()}, "
        f"think {scenario.think.describe()}, seed {scenario.seed}\n"
        f"{w['operations']:,} operations: {w['purchase']:,} purchases, {w['login']:,} logins "
        f"({w['away logins']:,} away), {w['background read']:,} background reads, "
        f"{w['background write']:,} background writes\n"
        f"faults: {'; '.join(summary['scenario']['faults']) or 'none'}"
    )
    console = Console()
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
            f"{SCENARIO}: {scenario.users:,} users, {scenario.duration:g} s, mobility "
            f"{scenario.mobility:g}, seed {scenario.seed}\nlag {cfg.lag.describe()}, "
            f"think {scenario.think.describe()}"
        )
        plot_latency_cdf(plt, args.plot, result, plot_title)
    return 0
