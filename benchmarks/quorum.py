"""PBS t-visibility for N=3, R=W=1: vectorized numpy path vs event-driven kernel path.

The vectorized path runs 1,000,000 trials (target: under 5 s on a 2-core machine); the
event-driven path, every message a callback on :class:`edgekv.lowlevel.Kernel`, runs the first
100,000 of the same trials (the same pre-drawn delays, block for block). Prints both
t-visibility tables side by side, the timings, and the largest absolute difference between
the two paths on the common draws (it must be 0: they agree trial for trial).

Run: ``.venv/bin/python benchmarks/quorum.py [--profile lnkd-ssd] [--trials 1000000]
[--event-trials 100000] [--seed 1] [--t 0,0.1,0.25,0.5,1,2,5,10ms] [--json PATH]``; ``--json``
(``-``: stdout) also writes every figure as one JSON object.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from _report import add_json_option, json_report
from rich.console import Console
from rich.table import Table

from edgekv.lowlevel import parse_duration_list
from edgekv.pbs import PROFILES, QuorumModel

TARGET_S = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="lnkd-ssd", choices=sorted(PROFILES))
    parser.add_argument("--trials", type=int, default=1_000_000)
    parser.add_argument("--event-trials", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--t", default="0,0.1,0.25,0.5,1,2,5,10ms", help="the last unit applies to bare numbers"
    )
    add_json_option(parser)
    args = parser.parse_args()
    if not 1 <= args.event_trials <= args.trials:
        parser.error("--event-trials must be between 1 and --trials")
    ts = parse_duration_list(args.t, "--t")
    model = QuorumModel.from_profile(args.profile, 3, 1, 1)
    console = Console()

    start = time.perf_counter()
    vec = model.outcomes(args.trials, args.seed, ts, method="vectorized")
    vec_result = model.summarize(vec, args.seed, ts, (1,), "vectorized")
    vec_s = time.perf_counter() - start

    start = time.perf_counter()
    ev = model.outcomes(args.event_trials, args.seed, ts, method="events")
    ev_result = model.summarize(ev, args.seed, ts, (1,), "events")
    ev_s = time.perf_counter() - start

    m = args.event_trials
    common = vec.consistent[:, :m]
    p_common = common.mean(axis=1)
    differing_trials = int(np.count_nonzero((common != ev.consistent).any(axis=0)))
    max_diff = float(np.max(np.abs(p_common - ev.consistent.mean(axis=1))))
    latency_equal = np.array_equal(vec.read_latency[:m], ev.read_latency) and np.array_equal(
        vec.write_latency[:m], ev.write_latency
    )

    with json_report(args.json) as report:
        console.print(
            f"[bold]PBS t-visibility[/bold], N=3 R=1 W=1, profile {args.profile}, seed {args.seed}"
        )
        for kind, text in model.describe().items():
            console.print(f"  {kind:>8}: {text}")
        table = Table(title="P(read started t after commit returns the write)")
        table.add_column("t (ms)", justify="right")
        table.add_column(f"vectorized {args.trials:,}", justify="right")
        table.add_column("±95%", justify="right")
        table.add_column(f"vectorized first {m:,}", justify="right")
        table.add_column(f"events {m:,}", justify="right")
        table.add_column("|diff| common draws", justify="right")
        for j, t in enumerate(ts):
            p = vec_result.p_consistent[j]
            table.add_row(
                f"{t * 1e3:g}",
                f"{p:.6f}",
                f"{1.96 * math.sqrt(p * (1 - p) / args.trials):.6f}",
                f"{p_common[j]:.6f}",
                f"{ev_result.p_consistent[j]:.6f}",
                f"{abs(p_common[j] - ev_result.p_consistent[j]):.1e}",
            )
        console.print(table)

        timing = Table(title="timings (this machine)")
        timing.add_column("path")
        timing.add_column("trials", justify="right")
        timing.add_column("reads", justify="right")
        timing.add_column("seconds", justify="right")
        timing.add_column("µs / trial", justify="right")
        for name, trials, secs in (("vectorized", args.trials, vec_s), ("events", m, ev_s)):
            timing.add_row(
                name,
                f"{trials:,}",
                f"{trials * len(ts):,}",
                f"{secs:.2f}",
                f"{secs / trials * 1e6:.2f}",
            )
        console.print(timing)
        ratio = (ev_s / m) / (vec_s / args.trials)
        verdict = "PASS" if vec_s < TARGET_S else "FAIL"
        console.print(
            f"vectorized {args.trials:,} trials: {vec_s:.2f} s "
            f"(target < {TARGET_S:g} s: {verdict}); per trial the event path is {ratio:.0f}x slower"
        )
        console.print(
            f"common draws ({m:,} trials x {len(ts)} times): max |P_vectorized - P_events| = "
            f"{max_diff:.1e}; trials with any differing read: {differing_trials}; "
            f"latencies identical: {latency_equal}"
        )

        report.update(
            profile=args.profile,
            seed=args.seed,
            n=3,
            r=1,
            w=1,
            model=model.describe(),
            t_s=list(ts),
            vectorized={
                "trials": args.trials,
                "reads": args.trials * len(ts),
                "wall_s": vec_s,
                "us_per_trial": vec_s / args.trials * 1e6,
                "p_consistent": [float(p) for p in vec_result.p_consistent],
                "ci95": [
                    1.96 * math.sqrt(p * (1 - p) / args.trials) for p in vec_result.p_consistent
                ],
                "p_consistent_common": [float(p) for p in p_common],
            },
            events={
                "trials": m,
                "reads": m * len(ts),
                "wall_s": ev_s,
                "us_per_trial": ev_s / m * 1e6,
                "p_consistent": [float(p) for p in ev_result.p_consistent],
                "abs_diff_common": [
                    float(abs(c - e)) for c, e in zip(p_common, ev_result.p_consistent, strict=True)
                ],
            },
            events_over_vectorized_per_trial=ratio,
            target_s=TARGET_S,
            meets_target=vec_s < TARGET_S,
            max_abs_diff=max_diff,
            differing_trials=differing_trials,
            latencies_identical=bool(latency_equal),
        )


if __name__ == "__main__":
    main()
