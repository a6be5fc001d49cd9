"""The ``replicated:eventual`` (or ``single-home``) column of ``edge-flags`` on its two paths,
in CPU seconds.

One workload (the default scenario, anti-entropy off unless ``--anti-entropy SECONDS``: the
numpy floor has none), three computations measured side by side in this process,
interleaved, each run after a full garbage collection, best of ``--repeat``:

* event: the discrete-event run (:func:`edgekv.lowlevel.run_system`, GC tuned as the
  runner does);
* fast: :func:`edgekv.lowlevel.replicated_columns` (identical figures, checked here);
* numpy floor: the model's arithmetic alone in numpy, what no vectorised implementation can
  skip: one lag draw per write per region, each write's arrival per region, and per read
  whether a write of its user committed before it had not yet arrived (stale) and since
  when. No versions, no field-by-field join, no read-your-writes, no flag evaluation.

The fast path also evaluates every login's flags (the scenario's story, which the floor
does not do); the evaluator's share is timed alone (every login's platinum flag as a column,
as the fast path evaluates the logins served the truth) and printed, so the fast path's
numpy part can be compared with the floor.

``--system single-home`` times the ``single-home`` column instead, on the default config
(anti-entropy as packaged, as ``edgekv bench`` runs it; ``--anti-entropy`` is for the
replicated column: the single-home store has no replication): the event path against
:func:`edgekv.lowlevel.single_home`, and a numpy floor of that model: each op's arrival at
its key's home, first-come-first-served per key as a running maximum (not float-exact), and
its latency; no versions, truth, flags or lost updates.

Run: ``.venv/bin/python benchmarks/fastpath.py [--users N] [--seed S] [--repeat R]
[--anti-entropy SECONDS] [--system single-home]``
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import numpy as np
from _report import add_json_option, json_report

from edgekv import Config
from edgekv._bench.gctune import gc_tuned_for_run
from edgekv._bench.scenario import (
    SystemRun,
    Workload,
    login_users,
    platinum_logins,
    run_system,
)
from edgekv.flags import Evaluator
from edgekv.lowlevel import (
    LOGIN,
    PER_OP,
    PURCHASE,
    WRITE,
    EdgeFlags,
    Kernel,
    SingleHome,
    build_workload,
    load_evaluator,
    make_store,
    replicated_columns,
    scenario_config,
    single_home,
)

COLUMN = "replicated:eventual"
HOME = "single-home"
TOTALS = ("bytes_replicated", "messages_replicated", "lost_updates", "writes_checked")


def numpy_floor(work: Workload, cfg: Config, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per read: stale (a write of its user committed before it had not arrived at its
    region) and seconds since the first such write committed. Pure numpy, O(ops log ops)."""
    rng = np.random.default_rng(seed)
    n_reg, n_users = len(cfg.names), len(work.home)
    is_write = (work.kind == PURCHASE) | (work.kind == WRITE)
    w_user = np.r_[np.arange(n_users), work.user[is_write]]
    w_reg = np.r_[work.home, work.region[is_write]]
    w_t = np.r_[np.zeros(n_users), work.t_edge[is_write]]
    floor = np.array(
        [[cfg.rtt[(a, b)] / 2 if a != b else 0.0 for b in cfg.names] for a in cfg.names]
    )
    lag = cfg.lag.sample(rng, len(w_t) * n_reg).reshape(len(w_t), n_reg)
    arrival = w_t[:, None] + np.maximum(lag, floor[w_reg])
    arrival[np.arange(len(w_t)), w_reg] = w_t
    reads = ~is_write
    r_t, r_user, r_reg = work.t_edge[reads], work.user[reads], work.region[reads]
    reach = float((arrival - w_t[:, None]).max()) + 1.0
    order = np.argsort(w_user, kind="stable")
    span = float(r_t.max()) + 2 * reach + 1.0
    enc = w_user[order] * span + w_t[order] + reach
    lo = np.searchsorted(enc, r_user * span + r_t)
    hi = np.searchsorted(enc, r_user * span + r_t + reach)
    count = hi - lo
    pair_read = np.repeat(np.arange(len(r_t)), count)
    pos = np.repeat(lo - np.cumsum(np.r_[0, count[:-1]]), count) + np.arange(count.sum())
    w = order[pos]
    late = (w_t[w] < r_t[pair_read]) & (arrival[w, r_reg[pair_read]] > r_t[pair_read])
    first = np.full(len(r_t), np.inf)
    np.minimum.at(first, pair_read[late], w_t[w][late])
    stale = first < np.inf
    return stale, np.where(stale, r_t - first, 0.0)


def home_floor(work: Workload, cfg: Config, flush: float) -> np.ndarray:
    """Per op, the single-home latency: client delays, the trip to the key's home and back,
    first-come-first-served per key as the closed form ``begin_k - k*s = cummax(arrival_j -
    j*s)`` over a key's ops in arrival order (equal to the event path's up to rounding), and
    ``flush`` seconds for a write. Pure numpy, O(ops log ops)."""
    half = np.array([[cfg.rtt[(a, b)] for b in cfg.names] for a in cfg.names]) / 2
    home = work.home[work.user]
    leg = np.where(work.region != home, half[work.region, home], 0.0)
    arrive = work.t_edge + leg
    by_key = np.lexsort((arrive, work.user))
    user, at = work.user[by_key], arrive[by_key]
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]])
    sizes = np.diff(np.r_[starts, len(at)])
    k = np.arange(len(at)) - np.repeat(starts, sizes)
    lift = np.repeat(np.arange(len(starts)), sizes) * (float(at.max()) + 1.0)  # per key
    s = cfg.service_time
    begin = np.empty(len(at))
    begin[by_key] = np.maximum.accumulate(at - k * s + lift) - lift + k * s
    is_write = (work.kind == PURCHASE) | (work.kind == WRITE)
    done = begin + s + leg + np.where(is_write, flush, 0.0)
    out: np.ndarray = work.d_in + (done - work.t_edge) + work.d_out
    return out


def evaluations(work: Workload, keys: list[str], evaluator: Evaluator) -> np.ndarray:
    """Every login's platinum flag for the put's document (appVersion 5.0.0, the initial
    stars) at its start, evaluated as a column as the fast path evaluates the logins served
    the truth: the evaluator's share."""
    logins = work.kind == LOGIN
    user = work.user[logins]
    build = np.full(len(user), -1)
    users = login_users(keys, user, build, work.stars0[user])
    return platinum_logins(evaluator, users, work.t_edge[logins])


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of ``fn()`` after a full collection, and its result."""
    gc.collect()
    started = time.process_time()
    out = fn()
    return time.process_time() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--anti-entropy", type=float, default=None, help="digest period in seconds (default off)"
    )
    parser.add_argument("--system", choices=(COLUMN, HOME), default=COLUMN, help="the column")
    add_json_option(parser)
    args = parser.parse_args()
    with json_report(args.json) as report:
        _run(args, report)


def _run(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """Time both paths, the numpy floor and the flag evaluator; print and fill ``report``."""
    home = args.system == HOME
    column = args.system
    cfg = scenario_config()
    if not home:
        cfg = cfg.replace(anti_entropy=args.anti_entropy)
    scenario = EdgeFlags(users=args.users, seed=args.seed)
    evaluator = load_evaluator()
    work = build_workload(scenario, cfg)
    width = len(str(scenario.users - 1))
    keys = [f"user-{u:0{width}d}" for u in range(scenario.users)]

    system, level = (HOME, "strong") if home else ("replicated", "eventual")
    flush = cast(SingleHome, make_store(HOME, cfg, args.seed, Kernel())).write_flush

    def event() -> SystemRun:
        with gc_tuned_for_run():
            cols = [(column, level)]
            runs = run_system(work, cfg, args.seed, keys, evaluator, system, cols, None)
        return runs[column]

    def fast() -> SystemRun | None:
        if home:
            return single_home(work, cfg, args.seed, keys, evaluator, column)
        runs = replicated_columns(work, cfg, args.seed, keys, evaluator, [(column, "eventual")])
        return runs.get(column)

    def floor() -> Any:
        return home_floor(work, cfg, flush) if home else numpy_floor(work, cfg, args.seed)

    best: dict[str, float] = {}
    results: dict[str, Any] = {}
    for _ in range(args.repeat):
        paths: tuple[tuple[str, Callable[[], Any]], ...] = (("event", event), ("fast", fast))
        for name, fn in paths:
            seconds, results[name] = cpu(fn)
            best[name] = min(best.get(name, np.inf), seconds)
        others: tuple[tuple[str, Callable[[], Any]], ...] = (
            ("floor", floor),
            ("evaluator", partial(evaluations, work, keys, evaluator)),
        )
        for name, fn in others:
            seconds, results[name] = cpu(fn)
            best[name] = min(best.get(name, np.inf), seconds)
    ev, fa = results["event"], results["fast"]
    if fa is None:
        raise SystemExit("the fast path refused this run (a time tie); try another --seed")
    same = (
        all(np.array_equal(getattr(ev, f), getattr(fa, f)) for f in PER_OP)
        and all(getattr(ev, f) == getattr(fa, f) for f in TOTALS)
        and ev.realised_lag == fa.realised_lag
    )
    reads = work.kind != PURCHASE
    reads &= work.kind != WRITE
    logins = int((work.kind == LOGIN).sum())
    print(
        f"edge-flags {column}: {scenario.users:,} users, {len(cfg.names)} regions, "
        f"{work.ops:,} operations ({logins:,} logins), anti-entropy "
        f"{'off' if cfg.anti_entropy is None else f'{cfg.anti_entropy:g}s'}, seed {args.seed}; "
        f"CPU seconds, best of {args.repeat}"
    )
    print(f"identical results (every per-op array, bytes, messages, lost, lag): {same}")
    stale = {"event": int(ev.stale[reads].sum()), "fast": int(fa.stale[reads].sum())}
    if home:
        gap = float(np.abs(results["floor"] - ev.latency).max())
        report["floor_latency_max_gap_s"] = gap
        print(f"stale reads: event {stale['event']}, fast {stale['fast']}")
        print(f"numpy floor's latencies vs the event path's: at most {gap:.3g} s apart (rounding)")
    else:
        stale["floor"] = int(results["floor"][0].sum())
        print(
            f"stale reads: event {stale['event']}, fast {stale['fast']}, "
            f"numpy floor {stale['floor']} (other draws; no LWW coverage)"
        )
    numpy_part = max(best["fast"] - best["evaluator"], 0.0)
    rows = [
        ("event path", best["event"]),
        ("fast path", best["fast"]),
        ("  of which flag evaluation (timed alone)", best["evaluator"]),
        ("  the rest (numpy and bookkeeping)", numpy_part),
        ("numpy floor", best["floor"]),
    ]
    for label, seconds in rows:
        print(f"{label:<42} {seconds:8.3f} s")
    print(f"event path / fast path: {best['event'] / best['fast']:.1f}x")
    print(f"fast path / numpy floor: {best['fast'] / best['floor']:.1f}x (target: within 3x)")
    print(f"fast path without flag evaluation / numpy floor: {numpy_part / best['floor']:.1f}x")
    print(
        "fast path / (numpy floor + flag evaluation, the floor with the model's flags): "
        f"{best['fast'] / (best['floor'] + best['evaluator']):.1f}x"
    )
    report.update(
        users=scenario.users,
        regions=len(cfg.names),
        operations=int(work.ops),
        logins=logins,
        seed=args.seed,
        repeat=args.repeat,
        anti_entropy=cfg.anti_entropy,
        identical=bool(same),
        system=column,
        stale_reads=stale,
        cpu_s={**best, "fast_without_evaluation": numpy_part},
        event_over_fast=best["event"] / best["fast"],
        fast_over_floor=best["fast"] / best["floor"],
        fast_without_evaluation_over_floor=numpy_part / best["floor"],
        fast_over_floor_plus_evaluation=best["fast"] / (best["floor"] + best["evaluator"]),
    )


if __name__ == "__main__":
    main()
