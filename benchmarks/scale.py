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

Run: ``.venv/bin/python benchmarks/scale.py [--full] [--json]``; ``--users``/``--regions``
pick the points, ``--region-users`` the users per region point.
"""

from __future__ import annotations

import argparse
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

import edgekv
from edgekv import Config
from edgekv._bench import scenario as _scenario
from edgekv._core import consistency as _consistency
from edgekv.lowlevel import Kernel, Mesh

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


def point(users: int, regions: int, seed: int, trace: bool = False) -> dict[str, Any]:
    """Run one point in this process and measure it (``trace``: live memory by file)."""
    _scenario.Kernel = _CountingKernel  # type: ignore[misc]
    _consistency.Mesh = _CountingMesh  # type: ignore[misc]
    cfg = topology(regions)
    evaluator = _scenario.load_evaluator(None)
    scenario = _scenario.EdgeFlags(users=users, seed=seed)
    gc.collect()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    started = time.process_time()
    result = _scenario.run_edge_flags(scenario, cfg, evaluator)
    cpu = time.process_time() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    nodes = [node for mesh in _CountingMesh.made for node in mesh.nodes]
    eventual = result.systems["replicated:eventual"]
    live = sorted(_CountingMesh.live.items(), key=lambda item: -item[1])
    return {
        "users": users,
        "regions": regions,
        "ops": result.workload.ops,
        "cpu_s": cpu,
        "events": sum(k.events for k in _CountingKernel.made),
        "replicated_bytes": eventual.bytes_replicated,
        "replicated_messages": eventual.messages_replicated,
        "bytes_sent_total": sum(node.stats.bytes_sent for node in nodes),
        "messages_sent_total": sum(node.stats.messages_sent for node in nodes),
        "duplicate_ops_received": sum(node.stats.duplicates for node in nodes),
        "stale_reads": int(eventual.stale.sum()),
        "rss_start_kb": rss0,
        "peak_rss_kb": rss,
        "live_bytes_per_user_by_file": {name: size / users for name, size in live},
    }


def run_point(users: int, regions: int, seed: int, trace: bool) -> dict[str, Any]:
    """One point in a fresh interpreter (so its peak RSS is its own)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--point", str(users), str(regions)]
    cmd += ["--seed", str(seed), *(["--trace-memory"] if trace else [])]
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


FIGURES = ("cpu_s", "events", "replicated_bytes", "messages_sent_total", "peak_rss_kb")


def exponents(points: list[dict[str, Any]], axis: str) -> dict[str, float | None]:
    """Scaling exponent of each figure along ``axis`` (``users`` or ``regions``)."""
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
    parser.add_argument("--repeat", type=int, default=3, help="bare-loop runs (best counts)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--trace-memory", action="store_true", help="live memory by source file (slower)"
    )
    args = parser.parse_args()
    if args.point:
        print(json.dumps(point(*args.point, args.seed, args.trace_memory)))
        return
    default_users = "20000,200000" if args.full else "2000,5000,20000"
    users = [int(u) for u in (args.users or default_users).split(",")]
    regions = [int(r) for r in (args.regions or "3,9,30").split(",")]
    by_users = [run_point(u, 9, args.seed, args.trace_memory) for u in users]
    by_regions = [run_point(args.region_users, r, args.seed, args.trace_memory) for r in regions]
    bare = bare_reference(args.seed, args.repeat)
    lo, hi = by_users[0], by_users[-1]
    added = hi["users"] - lo["users"]
    per_user = (hi["peak_rss_kb"] - lo["peak_rss_kb"]) * 1024 / added if added else None
    default = next((p for p in by_users if p["users"] == DEFAULT_USERS), None)
    report = {
        "seed": args.seed,
        "by_users": by_users,
        "by_regions": by_regions,
        "users_exponents": exponents(by_users, "users"),
        "regions_exponents": exponents(by_regions, "regions"),
        "rss_bytes_per_user": per_user,
        "bare_heapq_cpu_s": bare,
        "default_bench_over_bare": None if default is None else default["cpu_s"] / bare,
    }
    if args.json:
        print(json.dumps(report))
        return
    header = (
        f"{'users':>8} {'regions':>7} {'ops':>9} {'CPU s':>7} {'events':>10} {'events/CPU-s':>12}"
        f" {'repl MB':>8} {'msgs sent':>10} {'dup ops':>9} {'peak RSS MB':>11}"
    )
    print(f"edge-flags, default scenario, seed {args.seed}; each point in a fresh process")
    print(header)
    for p in by_users + by_regions:
        print(
            f"{p['users']:>8,} {p['regions']:>7} {p['ops']:>9,} {p['cpu_s']:>7.2f} "
            f"{p['events']:>10,} {p['events'] / p['cpu_s']:>12,.0f} "
            f"{p['replicated_bytes'] / 1e6:>8.2f} {p['messages_sent_total']:>10,} "
            f"{p['duplicate_ops_received']:>9,} {p['peak_rss_kb'] / 1024:>11.0f}"
        )
    for axis, exps in (
        ("users", report["users_exponents"]),
        ("regions", report["regions_exponents"]),
    ):
        print(
            f"exponents vs {axis}: CPU {fmt_exp(exps['cpu_s'])}, events {fmt_exp(exps['events'])}, "
            f"replicated bytes {fmt_exp(exps['replicated_bytes'])}, messages "
            f"{fmt_exp(exps['messages_sent_total'])}, peak RSS {fmt_exp(exps['peak_rss_kb'])}"
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
    if default is not None:
        print(
            f"default bench ({DEFAULT_USERS:,} users, 9 regions, 3 systems): "
            f"{default['cpu_s']:.2f} CPU-s = {default['cpu_s'] / bare:.1f}x the bare loop"
        )


if __name__ == "__main__":
    main()
