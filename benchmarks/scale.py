"""How the default ``edge-flags`` run scales with users and with regions, in CPU seconds.

Each point runs :func:`edgekv.lowlevel.run_edge_flags` (all three systems, the default
scenario otherwise) in a fresh Python process, so its peak RSS (``ru_maxrss``) is its own;
CPU is ``time.process_time`` around the run. Points: users at 9 regions (the default
topology), then regions at a fixed user count on generated topologies (regions spread on a
Fibonacci lattice between 60 S and 60 N, RTTs from great-circle distance, equal client
weights). Scaling exponents are least-squares slopes of log(figure) on log(users) or
log(regions): 1.0 is linear. Bytes per user is the peak RSS growth from the smallest to the
largest user count, divided by the users added; ``--trace-memory`` adds, per point, what is
live at the end of the replicated run by source file (tracemalloc, bytes per user; slower).
The bare ``heapq`` loop of
``sim_throughput.py`` (the reference model's arithmetic alone, 200,000 requests) is timed in
this process as the yardstick for the default bench's CPU time.

Writes: at ``--region-users`` users and 9 regions, background writes per user per minute
(``--writes``) scale the writes; their exponents are against the workload's write count. The
same run also times ``sim_throughput.py``'s reference model on the edgekv kernel against the
bare loop (the event path's ratio) and runs ``fastpath.py`` (the fast path's ratio to its
numpy floor), so every target of issue 14 is printed side by side.

Run: ``.venv/bin/python benchmarks/scale.py [--full] [--no-fast-path] [--json PATH]``;
``--users``/``--regions``/``--writes`` pick the points, ``--region-users`` the users per
region or writes point. Points run the columns as ``edgekv bench`` does (the fast path where
it applies; events then count only the columns left on the event path); ``--no-fast-path``
puts every column of every point on the event path, to see how the simulator itself scales.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
from _report import add_json_option, json_report

import edgekv
from edgekv import Config
from edgekv._bench import scenario as _scenario
from edgekv._core import consistency as _consistency
from edgekv.lowlevel import PURCHASE, WRITE, Kernel, Mesh

HERE = Path(__file__).resolve().parent
DEFAULT_USERS = 20_000
"""Users of the default ``edgekv bench``, the run compared with the bare loop."""


def topology(n: int) -> Config:
    """The default config (lag, store, client model) on ``n`` regions: the default nine for
    ``n == 9``, otherwise ``n`` generated regions with great-circle RTTs."""
    base = edgekv.default_config()
    if n == 9:
        return base
    golden = math.pi * (3 - math.sqrt(5))
    regions = []
    for i in range(n):
        lat = math.degrees(math.asin(math.sin(math.radians(60)) * (1 - 2 * (i + 0.5) / n)))
        lon = (math.degrees(i * golden) + 180) % 360 - 180
        regions.append({"name": f"R{i:03d}", "lat": round(lat, 3), "lon": round(lon, 3)})
    raw = {
        "regions": regions,
        "network": {"client_delay": "lognormal:15ms,0.6", "service_time": "1ms"},
        "replication": {"lag": "lognormal:300ms,0.5", "anti_entropy": "1s"},
    }
    cfg = edgekv.load_config(raw)
    return cfg.replace(client_delay=base.client_delay, service_time=base.service_time, lag=base.lag)


class _CountingKernel(Kernel):
    """The scenario's kernel, remembered so the point can report its event count."""

    made: list[Kernel] = []

    def __init__(self) -> None:
        super().__init__()
        _CountingKernel.made.append(self)


class _CountingMesh(Mesh):
    """The scenario's mesh, remembered so the point can report replication totals; with
    tracemalloc on, what is live when the replicated run closes it, by source file."""

    made: list[Mesh] = []
    live: dict[str, int] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _CountingMesh.made.append(self)

    def close(self) -> None:
        if tracemalloc.is_tracing() and not _CountingMesh.live:
            gc.collect()
            for stat in tracemalloc.take_snapshot().statistics("filename"):
                name = "/".join(Path(stat.traceback[0].filename).parts[-2:])
                _CountingMesh.live[name] = _CountingMesh.live.get(name, 0) + stat.size
        super().close()


def point(
    users: int,
    regions: int,
    seed: int,
    trace: bool = False,
    writes: float | None = None,
    fast: bool = True,
) -> dict[str, Any]:
    """Run one point in this process and measure it (``trace``: live memory by file;
    ``writes``: background writes per user per minute instead of the scenario's; ``fast``:
    columns take the fast path where they can, as ``edgekv bench`` does). Events and the
    totals of region nodes count the columns on the event path only."""
    _scenario.Kernel = _CountingKernel  # type: ignore[misc]
    _consistency.Mesh = _CountingMesh  # type: ignore[misc]
    cfg = topology(regions)
    evaluator = _scenario.load_evaluator(None)
    scenario = _scenario.EdgeFlags(users=users, seed=seed)
    if writes is not None:
        scenario = dataclasses.replace(scenario, writes_per_min=writes)
    gc.collect()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    started = time.process_time()
    result = _scenario.run_edge_flags(scenario, cfg, evaluator, fast_path=fast)
    cpu = time.process_time() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    nodes = [node for mesh in _CountingMesh.made for node in mesh.nodes]
    eventual = result.systems["replicated:eventual"]
    live = sorted(_CountingMesh.live.items(), key=lambda item: -item[1])
    return {
        "users": users,
        "regions": regions,
        "writes_per_min": scenario.writes_per_min,
        "writes": int(np.isin(result.workload.kind, (WRITE, PURCHASE)).sum()),
        "ops": result.workload.ops,
        "cpu_s": cpu,
        "events": sum(k.events for k in _CountingKernel.made),
        "replicated_bytes": eventual.bytes_replicated,
        "replicated_messages": eventual.messages_replicated,
        "bytes_sent_total": sum(node.stats.bytes_sent for node in nodes),
        "messages_sent_total": sum(node.stats.messages_sent for node in nodes),
        "duplicate_ops_received": sum(node.stats.duplicates for node in nodes),
        "stale_reads": int(eventual.stale.sum()),
        "paths": [run.path for run in result.systems.values()],
        "rss_start_kb": rss0,
        "peak_rss_kb": rss,
        "live_bytes_per_user_by_file": {name: size / users for name, size in live},
    }


def run_point(
    users: int, regions: int, seed: int, trace: bool, writes: float | None = None, fast: bool = True
) -> dict[str, Any]:
    """One point in a fresh interpreter (so its peak RSS is its own)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--point", str(users), str(regions)]
    cmd += ["--seed", str(seed), *(["--trace-memory"] if trace else [])]
    cmd += [] if fast else ["--no-fast-path"]
    cmd += [] if writes is None else ["--writes-per-min", str(writes)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"point {users} users x {regions} regions failed:\n{done.stderr}")
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) on log(x); None with fewer than two positive points."""
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len({x for x, _ in pairs}) < 2:
        return None
    lx = np.log([x for x, _ in pairs])
    ly = np.log([y for _, y in pairs])
    return float(np.polyfit(lx, ly, 1)[0])


FIGURES = ("cpu_s", "events", "replicated_bytes", "replicated_messages", "peak_rss_kb")


def exponents(points: list[dict[str, Any]], axis: str) -> dict[str, float | None]:
    """Scaling exponent of each figure along ``axis`` (``users``, ``regions``, ``writes``)."""
    xs = [float(p[axis]) for p in points]
    return {name: slope(xs, [float(p[name]) for p in points]) for name in FIGURES}


def bare_reference(seed: int, repeat: int) -> float:
    """Best CPU seconds of ``sim_throughput.py``'s bare heapq loop on its 200,000 requests."""
    sys.path.insert(0, str(HERE))
    import sim_throughput as ref

    cfg = edgekv.default_config().replace(
        lag="lognormal:300ms,0.5", batch_window="0ms", client_delay="lognormal:15ms,0.6"
    )
    w = ref.workload(200_000, seed, cfg)
    return min(ref.bare_heapq(cfg, w, clock=time.process_time)["elapsed"] for _ in range(repeat))


def event_path(seed: int, repeat: int) -> float:
    """Best CPU seconds of ``sim_throughput.py``'s reference model on the edgekv kernel (the
    event path the bare loop is the floor of), on the same 200,000 requests."""
    sys.path.insert(0, str(HERE))
    import sim_throughput as ref

    cfg = edgekv.default_config().replace(
        lag="lognormal:300ms,0.5", batch_window="0ms", client_delay="lognormal:15ms,0.6"
    )
    w = ref.workload(200_000, seed, cfg)
    best = math.inf
    for _ in range(repeat):
        kernel = Kernel()
        best = min(
            best, ref.simulate(kernel, kernel.run, cfg, w, clock=time.process_time)["elapsed"]
        )
    return best


def fast_path(users: int, seed: int) -> dict[str, Any]:
    """``fastpath.py``'s side-by-side figures (event path, fast path, numpy floor) at
    ``users``, in a fresh interpreter."""
    cmd = [sys.executable, str(HERE / "fastpath.py"), "--users", str(users)]
    cmd += ["--seed", str(seed), "--repeat", "3", "--json", "-"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"fastpath.py failed:\n{done.stderr}")
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def fmt_exp(value: float | None) -> str:
    """An exponent for the table."""
    return "-" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--point", nargs=2, type=int, metavar=("USERS", "REGIONS"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", help="comma-separated user counts at 9 regions")
    parser.add_argument("--regions", help="comma-separated region counts")
    parser.add_argument("--region-users", type=int, default=2_000, help="users per region point")
    parser.add_argument("--full", action="store_true", help="users 20k and 200k")
    parser.add_argument("--writes", help="background writes per user per minute (2k users)")
    parser.add_argument("--writes-per-min", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--fast-users", type=int, default=20_000, help="users of the fast path")
    parser.add_argument("--repeat", type=int, default=3, help="bare-loop runs (best counts)")
    parser.add_argument(
        "--no-fast-path", action="store_true", help="every column of every point on the event path"
    )
    add_json_option(parser)
    parser.add_argument(
        "--trace-memory", action="store_true", help="live memory by source file (slower)"
    )
    args = parser.parse_args()
    if args.point:
        users, regions = args.point
        fast = not args.no_fast_path
        print(
            json.dumps(
                point(users, regions, args.seed, args.trace_memory, args.writes_per_min, fast)
            )
        )
        return
    with json_report(args.json) as report:
        _run(args, report)


def _run(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """Every point, the yardsticks and the ratios; printed and put in ``report``."""
    default_users = "20000,200000" if args.full else "2000,5000,20000"
    users = [int(u) for u in (args.users or default_users).split(",")]
    regions = [int(r) for r in (args.regions or "3,9,30").split(",")]
    fast, trace, ru = not args.no_fast_path, args.trace_memory, args.region_users
    by_users = [run_point(u, 9, args.seed, trace, None, fast) for u in users]
    by_regions = [run_point(ru, r, args.seed, trace, None, fast) for r in regions]
    writes = [float(w) for w in (args.writes or "0.5,2,8").split(",")]
    by_writes = [run_point(ru, 9, args.seed, False, w, fast) for w in writes]
    bare = bare_reference(args.seed, args.repeat)
    event = event_path(args.seed, args.repeat)
    vectorised = fast_path(args.fast_users, args.seed)
    lo, hi = by_users[0], by_users[-1]
    added = hi["users"] - lo["users"]
    per_user = (hi["peak_rss_kb"] - lo["peak_rss_kb"]) * 1024 / added if added else None
    default = next((p for p in by_users if p["users"] == DEFAULT_USERS), None)
    report.update(
        seed=args.seed,
        by_users=by_users,
        by_regions=by_regions,
        by_writes=by_writes,
        users_exponents=exponents(by_users, "users"),
        regions_exponents=exponents(by_regions, "regions"),
        writes_exponents=exponents(by_writes, "writes"),
        rss_bytes_per_user=per_user,
        bare_heapq_cpu_s=bare,
        default_bench_over_bare=None if default is None else default["cpu_s"] / bare,
        event_path_cpu_s=event,
        event_path_over_bare=event / bare,
        fast_path=vectorised,
    )
    header = (
        f"{'users':>8} {'regions':>7} {'ops':>9} {'CPU s':>7} {'events':>10} {'events/CPU-s':>12}"
        f" {'repl MB':>8} {'repl msgs':>10} {'dup ops':>9} {'peak RSS MB':>11}"
    )
    paths = sorted({f"{path}" for p in by_users + by_regions + by_writes for path in p["paths"]})
    print(
        f"edge-flags, default scenario, seed {args.seed}; each point in a fresh process; "
        f"column paths: {', '.join(paths)} (events count the event path only)"
    )
    print(header)
    for p in by_users + by_regions + by_writes:
        print(
            f"{p['users']:>8,} {p['regions']:>7} {p['ops']:>9,} {p['cpu_s']:>7.2f} "
            f"{p['events']:>10,} {p['events'] / p['cpu_s']:>12,.0f} "
            f"{p['replicated_bytes'] / 1e6:>8.2f} {p['replicated_messages']:>10,} "
            f"{p['duplicate_ops_received']:>9,} {p['peak_rss_kb'] / 1024:>11.0f}"
        )
    for axis, exps in (
        ("users", report["users_exponents"]),
        ("regions", report["regions_exponents"]),
        ("writes", report["writes_exponents"]),
    ):
        print(
            f"exponents vs {axis}: CPU {fmt_exp(exps['cpu_s'])}, events {fmt_exp(exps['events'])}, "
            f"replicated bytes {fmt_exp(exps['replicated_bytes'])}, messages "
            f"{fmt_exp(exps['replicated_messages'])}, peak RSS {fmt_exp(exps['peak_rss_kb'])}"
        )
    if per_user is not None:
        print(
            f"peak RSS growth {lo['users']:,} -> {hi['users']:,} users: "
            f"{per_user:,.0f} bytes per user"
        )
    if args.trace_memory:
        top = by_users[-1]
        files = list(top["live_bytes_per_user_by_file"].items())[:8]
        shown = ", ".join(f"{name} {size:,.0f}" for name, size in files)
        total = sum(top["live_bytes_per_user_by_file"].values())
        print(
            f"live at the end of the replicated run, {top['users']:,} users: {total:,.0f} "
            f"bytes per user; by file: {shown}"
        )
    print(f"bare heapq reference loop (sim_throughput.py, 200,000 requests): {bare:.2f} CPU-s")
    print(
        f"event path, the same model on the kernel: {event:.2f} CPU-s = "
        f"{event / bare:.1f}x the bare loop (target: at most 2x)"
    )
    print(
        f"fast path ({vectorised['users']:,} users): {vectorised['cpu_s']['fast']:.3f} CPU-s = "
        f"{vectorised['fast_over_floor']:.1f}x the numpy floor (target: within 3x), "
        f"{vectorised['event_over_fast']:.1f}x faster than the event path; "
        f"identical: {vectorised['identical']}"
    )
    if default is not None:
        print(
            f"default bench ({DEFAULT_USERS:,} users, 9 regions, 3 systems, "
            f"paths {'/'.join(default['paths'])}): "
            f"{default['cpu_s']:.2f} CPU-s = {default['cpu_s'] / bare:.1f}x the bare loop "
            "(target: at most 10x)"
        )


if __name__ == "__main__":
    main()
