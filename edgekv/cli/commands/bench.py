"""``edgekv bench``: the ``edge-flags`` scenario on the replicated store (eventual and session
reads) and on the single-home baseline, with one seeded workload, printed side by side."""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from ..._bench.api import BenchResult, bench
from ..._bench.report import (
    STDOUT,
    LazyProgress,
    flatten,
    load_pyplot,
    plot_latency_cdf,
    write_csv,
    write_json,
)
from ..._bench.scenario import DEFAULT_SYSTEMS, SCENARIO, EdgeFlags, parse_columns
from ..._bench.workload import PACKAGED, load_workload, packaged_workloads
from ..._core.distributions import parse_distribution, parse_duration
from ..._core.errors import ConfigError
from ..._core.systems import SYSTEMS
from .. import UsageError, seed_arg

__all__ = [
    "add_scenario_arguments",
    "add_systems_argument",
    "check_output",
    "check_plot",
    "register",
    "run",
    "scenario_from_args",
    "systems_from_args",
]

EXAMPLE = """\
example:
  edgekv bench
  edgekv bench --users 5000 --duration 30s --mobility 0.5 --lag lognormal:300ms,0.5 \\
      --seed 7 --json bench.json --csv bench.csv --plot bench.png --html bench.html
  edgekv bench --lag const:0ms        # no replication lag: nothing stale beyond physics
  edgekv bench --users 5000 --repeat 5  # seeds 1..5: across-seed means with t intervals
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


def add_scenario_arguments(
    parser: argparse.ArgumentParser, users: int | None = None, duration: str | None = None
) -> None:
    """The options shared by ``bench`` and ``sweep``: topology, flags, seed, lag, and the
    ``--workload`` with the options that override its values when given (``users`` and
    ``duration``, when set, replace the workload's own defaults: sweeps run smaller points)."""
    parser.add_argument(
        "--scenario", default=SCENARIO, choices=(SCENARIO,), help="scenario (default %(default)s)"
    )
    parser.add_argument("--config", metavar="PATH", help="regions.yaml (default: packaged)")
    parser.add_argument(
        "--flags",
        metavar="PATH",
        help="DevCycle config v2 JSON (default: packaged example with platinum-status-feature)",
    )
    parser.add_argument("--seed", type=seed_arg, default=1, help="seed (default %(default)s)")
    parser.add_argument(
        "--lag",
        metavar="SPEC",
        help="replication lag, e.g. lognormal:300ms,0.5, exp:100ms, const:0ms (default: config)",
    )
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
        ("--users", int, users, "users"),
        ("--duration", str, duration, "workload window in virtual time, with its unit"),
        ("--mobility", float, None, "fraction of sessions started away from home"),
        ("--think", str, None, "default delay between a session's steps, a distribution"),
    )
    for flag, kind, default, text in overrides:
        shown = "the workload's" if default is None else "%(default)s"
        parser.add_argument(flag, type=kind, default=default, help=f"{text} (default: {shown})")


def _duration(text: str) -> float:
    return parse_duration(text, "duration", allow_zero=False, bare="error")


def check_output(flag: str, path: str | None) -> None:
    """Fail before running when an output file cannot be written: its directory is missing
    or not writable, or the path is a directory (``-``, standard output, always works)."""
    if path is None or path == STDOUT:
        return
    target = Path(path)
    folder = target.resolve().parent
    if not folder.is_dir():
        raise UsageError(flag, f"directory {str(folder)!r} does not exist")
    if target.is_dir():
        raise UsageError(flag, f"{path!r} is a directory, expected a file")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(flag, f"cannot write {path!r}: permission denied")


def check_plot(path: str | None) -> Any:
    """pyplot when ``--plot`` is given (a one-line error if the ``plot`` extra is missing)."""
    if path is None:
        return None
    if not path.lower().endswith(".png"):
        raise UsageError("--plot", f"expected a .png path, got {path!r}")
    check_output("--plot", path)
    try:
        return load_pyplot()
    except ModuleNotFoundError:
        raise UsageError("--plot", "needs matplotlib: pip install 'edgekv[plot]'") from None


def scenario_from_args(args: argparse.Namespace) -> EdgeFlags:
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
        raise UsageError(f"--{exc.path}", exc.reason) from None


def add_systems_argument(parser: argparse.ArgumentParser) -> None:
    """``--systems``: the columns, shared by ``bench`` and ``sweep``."""
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


def systems_from_args(args: argparse.Namespace) -> list[str]:
    """The ``--systems`` columns, checked (:class:`UsageError` naming the bad one)."""
    systems = [spec.strip() for spec in args.systems.split(",") if spec.strip()]
    try:
        parse_columns(systems)
    except ConfigError as exc:
        raise UsageError("--systems", exc.reason) from None
    return systems


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
    add_scenario_arguments(parser)
    add_systems_argument(parser)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help=(
            "run seeds SEED..SEED+K-1 and report each headline figure's mean over them with "
            "a 95%% t interval (default %(default)s)"
        ),
    )
    parser.add_argument(
        "--json", metavar="PATH", help="write every figure as JSON ('-': stdout, no table)"
    )
    parser.add_argument(
        "--record",
        metavar="DIR",
        help="keep every operation of each system as a history DIR/seed-N/SYSTEM.jsonl, "
        "for edgekv check",
    )
    parser.add_argument(
        "--no-fast-path",
        dest="fast_path",
        action="store_false",
        help="run every column on the event path (default: a column the vectorised fast "
        "path computes identically takes it; the title's paths line says which)",
    )
    parser.add_argument("--csv", metavar="PATH", help="write every figure as CSV")
    parser.add_argument(
        "--html",
        metavar="PATH",
        help=(
            "write a self-contained HTML report: the tables, the latency plot inline (with "
            "the plot extra) and the parameters"
        ),
    )
    parser.add_argument(
        "--plot", metavar="PATH.png", help="read-latency CDFs per system (needs the plot extra)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate every flag, run the scenario (once per seed), print the table, write the
    files."""
    scenario = scenario_from_args(args)
    if args.repeat < 1:
        raise UsageError("--repeat", f"expected an integer >= 1, got {args.repeat}")
    for flag in ("--json", "--csv", "--html"):
        check_output(flag, getattr(args, flag[2:]))
    plt = check_plot(args.plot)
    systems = systems_from_args(args)

    started = time.perf_counter()
    runs = f", {args.repeat} seeds" if args.repeat > 1 else ""
    progress = LazyProgress(f"{scenario.name}: {scenario.users:,} users{runs}")
    try:
        result = bench(
            scenario,
            systems=systems,
            config=args.config,
            lag=args.lag,
            flags=args.flags,
            repeat=args.repeat,
            progress=progress.update,
            record=args.record,
            fast_path=args.fast_path,
        )
    finally:
        progress.close()
    elapsed = time.perf_counter() - started

    if args.json != STDOUT:  # with --json -, stdout carries the JSON alone
        # A column per system never wraps: wider than the terminal, the table scrolls instead.
        needed = 30 + 30 * len(result.systems)
        console = Console(width=max(Console().width, needed))
        console.print(result.table())
        for line in result.headlines():
            console.print(line, markup=False)
        console.print(f"[dim]simulated in {elapsed:.1f} s[/dim]")
    if args.json:
        write_json(args.json, result.to_dict())
    if args.csv:
        _write_csv(args.csv, result)
    if args.html:
        Path(args.html).write_text(result.to_html(), encoding="utf-8")
    if plt is not None:
        plot_latency_cdf(plt, args.plot, result.results[0], result.plot_title())
    return 0


def _write_csv(path: str, result: BenchResult) -> None:
    """One run: ``scope, metric, value`` rows. Several: a leading ``seed`` column, and the
    across-seed figures under seed ``all``."""
    if len(result.summaries) == 1:
        summary = result.summaries[0]
        rows: list[tuple[Any, ...]] = [
            (scope, metric, value)
            for scope in ("scenario", "workload")
            for metric, value in flatten(summary[scope])
        ]
        for name, figures in summary["systems"].items():
            rows += [(name, metric, value) for metric, value in flatten(figures)]
        write_csv(path, ("scope", "metric", "value"), rows)
        return
    rows = []
    for seed, summary in zip(result.seeds, result.summaries, strict=True):
        for scope in ("scenario", "workload", "systems"):
            for metric, value in flatten(summary[scope]):
                if scope == "systems":
                    name, _, metric = metric.partition(".")
                    rows.append((seed, name, metric, value))
                else:
                    rows.append((seed, scope, metric, value))
    for name, figures in result.across_seeds().items():
        rows += [("all", name, metric, value) for metric, value in flatten(figures)]
    write_csv(path, ("seed", "scope", "metric", "value"), rows)
