"""``edgekv pbs``: quorum staleness (PBS, Bailis et al. VLDB 2012) from the command line.

Prints t-visibility, k-staleness and latency tables for an N/R/W quorum whose per-message
delays come from a named profile or from distribution specs; optionally writes JSON and a
plot of P(consistent read) against the time since commit.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from rich.console import Console
from rich.table import Table

from ..._bench.report import STDOUT, LazyProgress, save_figure, write_json
from ..._core.distributions import parse_distribution, parse_duration, parse_duration_list
from ...pbs._quorum import MAX_K, PROFILES, QuorumModel, QuorumResult
from .. import UsageError, seed_arg
from .bench import check_output, check_plot

__all__ = ["register", "run"]

DEFAULT_PROFILE = "lnkd-ssd"
PLOT_POINTS = 200
"""Evenly spaced times, besides the requested ones, on the plotted curve."""

EXAMPLE = """\
example:
  edgekv pbs --n 3 --r 1 --w 1 --profile lnkd-disk --t 0,1,5,10,50,100ms --k 1,2,3 \\
      --trials 100000 --seed 1 --json pbs.json --plot pbs.png
  edgekv pbs --n 5 --r 2 --w 2 --w-dist lognormal:2ms,0.8 --a-dist exp:0.5ms --t 0,1,10ms

profiles (delays fitted in the PBS paper, Table 3):
""" + "\n".join(f"  {p.name:10} {p.description}" for p in PROFILES.values())


MAX_N = 100
"""Most replicas ``--n`` takes (each trial draws n messages of each kind)."""
MAX_TRIALS = 100_000_000
"""Most ``--trials`` (about a minute and a half at the measured 1M trials per 0.8 s)."""


def register(subparsers: Any) -> None:
    """Add the ``pbs`` parser."""
    parser = subparsers.add_parser(
        "pbs",
        help="quorum staleness: t-visibility and k-staleness of N/R/W quorums (PBS)",
        description=(
            "Monte Carlo of the PBS WARS model: a write goes to N replicas and commits after W "
            "acks; a read t after commit asks all N and returns the newest of the first R "
            "answers. Each message kind (write W, ack A, read R, response S) has its own delay "
            f"distribution, from --profile (default {DEFAULT_PROFILE}) and overridden by the "
            "--x-dist flags."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=3, help="replicas (default 3)")
    parser.add_argument("--r", type=int, default=1, help="read quorum, 1..N (default 1)")
    parser.add_argument("--w", type=int, default=1, help="write quorum, 1..N (default 1)")
    parser.add_argument(
        "--profile",
        default=None,
        metavar="NAME",
        help=f"named latency profile: {', '.join(PROFILES)} (default {DEFAULT_PROFILE})",
    )
    for flag, kind in (("w", "write"), ("a", "ack"), ("r", "read request"), ("s", "response")):
        parser.add_argument(
            f"--{flag}-dist",
            metavar="SPEC",
            help=f"{kind} delay, e.g. exp:1ms, lognormal:2ms,0.5, pareto:1ms,3 or 5ms",
        )
    parser.add_argument(
        "--remote-delay",
        metavar="DURATION",
        help="one-way delay to replicas outside the coordinator's datacenter (wan profile: 75ms)",
    )
    parser.add_argument(
        "--t",
        default="0,1,5,10,50,100ms",
        metavar="LIST",
        help="times after commit, comma-separated; the last one's unit applies to bare numbers "
        "before it (default %(default)s)",
    )
    parser.add_argument("--k", default="1,2,3", metavar="LIST", help="k values (default 1,2,3)")
    parser.add_argument("--trials", type=int, default=100_000, help="trials (default 100000)")
    parser.add_argument("--seed", type=seed_arg, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--method",
        default="vectorized",
        choices=("vectorized", "events"),
        help="numpy over all trials, or every message on the event kernel (same answer)",
    )
    parser.add_argument(
        "--json", metavar="PATH", help="write every figure as JSON ('-': stdout, no table)"
    )
    parser.add_argument(
        "--plot", metavar="PATH.png", help="plot P(consistent) vs t (needs the plot extra)"
    )
    parser.set_defaults(func=run)


def _times(text: str) -> list[float]:
    return parse_duration_list(text, "--t")


def _ks(text: str) -> list[int]:
    try:
        ks = [int(s) for s in text.split(",")]
    except ValueError:
        raise UsageError(
            "--k", f"expected a comma-separated list of integers, got {text!r}"
        ) from None
    if any(not 1 <= k <= MAX_K for k in ks):
        raise UsageError("--k", f"each k must be between 1 and {MAX_K}, got {text!r}")
    return ks


def _model(args: argparse.Namespace) -> QuorumModel:
    if not 1 <= args.n <= MAX_N:
        raise UsageError("--n", f"must be between 1 and {MAX_N}, got {args.n}")
    for flag in ("r", "w"):
        value = getattr(args, flag)
        if not 1 <= value <= args.n:
            raise UsageError(f"--{flag}", f"must be between 1 and --n {args.n}, got {value}")
    name = DEFAULT_PROFILE if args.profile is None else args.profile
    if name not in PROFILES:
        raise UsageError("--profile", f"unknown {name!r}; known: {', '.join(PROFILES)}")
    overrides: dict[str, Any] = {}
    for flag, key in (("w", "write"), ("a", "ack"), ("r", "read"), ("s", "response")):
        spec = getattr(args, f"{flag}_dist")
        if spec is not None:
            overrides[key] = parse_distribution(spec, f"--{flag}-dist")
    if args.remote_delay is not None:
        overrides["remote_delay"] = parse_duration(
            args.remote_delay, "--remote-delay", bare="error"
        )
    return QuorumModel.from_profile(name, args.n, args.r, args.w, **overrides)


def _at(result: QuorumResult, shown_t: list[float]) -> QuorumResult:
    """The result restricted to the requested times, in the order given."""
    index = {t: i for i, t in enumerate(result.t_ms)}
    rows = [index[t * 1e3] for t in dict.fromkeys(shown_t)]
    return dataclasses.replace(
        result,
        t_ms=tuple(result.t_ms[i] for i in rows),
        p_consistent=tuple(result.p_consistent[i] for i in rows),
    )


def _print(console: Console, result: QuorumResult) -> None:
    console.print(
        f"[bold]PBS quorum[/bold] N={result.n} R={result.r} W={result.w}  "
        f"profile={result.profile}  trials={result.trials:,}  seed={result.seed}  "
        f"method={result.method}"
    )
    for kind, text in result.distributions.items():
        console.print(f"  {kind:>12}: {text}")
    if result.r + result.w > result.n:
        console.print("  R + W > N: read and write quorums overlap, so every read is consistent.")

    vis = Table(title="t-visibility: P(read started t after commit returns the write)")
    vis.add_column("t (ms)", justify="right")
    vis.add_column("P(consistent)", justify="right")
    vis.add_column("±95%", justify="right")
    for t, p in zip(result.t_ms, result.p_consistent, strict=True):
        vis.add_row(f"{t:g}", f"{p:.5f}", f"{1.96 * result.stderr(p):.5f}")
    console.print(vis)

    kst = Table(title="k-staleness: P(read returns one of the last k versions)")
    kst.add_column("k", justify="right")
    kst.add_column("simulated", justify="right")
    kst.add_column("±95%", justify="right")
    kst.add_column("closed form 1-(C(N-W,R)/C(N,R))^k", justify="right")
    for k, p, c in zip(result.k, result.p_k, result.p_k_closed_form, strict=True):
        kst.add_row(str(k), f"{p:.5f}", f"{1.96 * result.stderr(p):.5f}", f"{c:.5f}")
    console.print(kst)

    lat = Table(title="latency (ms)")
    lat.add_column("percentile", justify="right")
    lat.add_column("read (R-th answer)", justify="right")
    lat.add_column("write (W-th ack)", justify="right")
    for (p, r), (_, w) in zip(result.read_latency_ms, result.write_latency_ms, strict=True):
        lat.add_row(f"p{p:g}", f"{r:.3f}", f"{w:.3f}")
    console.print(lat)


def _plot(plt: Any, path: str, curve: QuorumResult, shown: QuorumResult) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(curve.t_ms, curve.p_consistent, color="tab:blue")
    ax.plot(shown.t_ms, shown.p_consistent, "o", color="tab:blue")
    ax.set_xlabel("time after commit t (ms)")
    ax.set_ylabel("P(consistent read)")
    ax.set_ylim(min(curve.p_consistent) - 0.02, 1.005)
    ax.grid(alpha=0.3)
    ax.set_title(
        f"PBS t-visibility, N={curve.n} R={curve.r} W={curve.w}, "
        f"{curve.profile}, {curve.trials:,} trials"
    )
    save_figure(plt, fig, path)


def run(args: argparse.Namespace) -> int:
    """Validate every flag, run the experiment, print the tables, write JSON and plot."""
    model = _model(args)
    shown_t = _times(args.t)
    ks = _ks(args.k)
    if not 1 <= args.trials <= MAX_TRIALS:
        raise UsageError("--trials", f"must be between 1 and {MAX_TRIALS:,}, got {args.trials}")
    plt = check_plot(args.plot or None)
    check_output("--json", args.json or None)

    ts = sorted(set(shown_t))
    if plt is not None:
        top = max(ts) if max(ts) > 0 else 0.1
        ts = sorted(set(ts) | {top * i / PLOT_POINTS for i in range(PLOT_POINTS + 1)})
    progress = LazyProgress(f"pbs {args.method}")
    try:
        result = model.run(
            args.trials,
            args.seed,
            ts,
            ks,
            args.method,
            lambda done: progress.update(done / args.trials),
        )
    finally:
        progress.close()

    shown = _at(result, shown_t)
    if args.json != STDOUT:  # with --json -, stdout carries the JSON alone
        _print(Console(), shown)
    if args.json:
        write_json(args.json, shown.as_dict())
    if plt is not None:
        _plot(plt, args.plot, result, shown)
    return 0
