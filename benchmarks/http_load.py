"""Loopback load on ``POST /v1/variables`` of one edgekv region, beside a minimal aiohttp handler.

Each server runs in its own subprocess (its own event loop and core); this process generates
the load with one keep-alive aiohttp client. Two phases per server, each bounded in requests
and time: a closed loop of CONCURRENCY workers finds the maximum requests/s; then an open
loop at half that rate measures latency from each request's scheduled start (so a stalled
server cannot hide its queueing), giving p50/p99. Target: edgekv at least 0.4 x the minimal
handler's requests/s.

    .venv/bin/python benchmarks/http_load.py [--seconds 3] [--concurrency 32] [--json PATH]

``--json PATH`` (``-``: stdout) also writes every figure as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import numpy as np
from _report import add_json_option, json_report
from aiohttp import web

KEY = "dvc_server_bench_1"
USER = {
    "user_id": "user-42",
    "country": "US",
    "email": "ana@acme.example",
    "customData": {"stars": 150, "beta": True},
}
BODY = json.dumps(USER).encode()
TARGET = 0.4


# -- servers (run in a subprocess) ----------------------------------------------------------


def _minimal_app() -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/v1/variables", handle)
    return app


async def _edgekv_app() -> web.Application:
    from edgekv import Cluster
    from edgekv.lowlevel import load_keys, make_app

    flags = Path(__file__).resolve().parent.parent / "edgekv" / "data" / "flags-example.json"
    keys = load_keys({"projects": {"bench": {"server_keys": [KEY]}}}, flags=flags)
    cluster = Cluster(seed=1)
    await cluster.__aenter__()
    return make_app("East US", cluster["East US"], keys)


def serve(kind: str, port: int) -> None:
    """Run one server until killed."""

    async def main() -> None:
        app = _minimal_app() if kind == "minimal" else await _edgekv_app()
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    asyncio.run(main())


# -- load generator ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_ready(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.post(url, data=BODY, headers={"Authorization": KEY}) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server at {url} never answered 200")
            await asyncio.sleep(0.1)


async def _closed_loop(url: str, seconds: float, concurrency: int, max_requests: int) -> float:
    """Maximum throughput (requests/s) with ``concurrency`` keep-alive workers."""
    headers = {"Authorization": KEY, "Content-Type": "application/json"}
    done = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        stop = start + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop and done < max_requests:
                async with session.post(url, data=BODY, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"HTTP {resp.status}")
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


async def _open_loop(url: str, rate: float, seconds: float, max_requests: int) -> np.ndarray:
    """Latencies (s) of requests started on a fixed schedule at ``rate`` per second."""
    headers = {"Authorization": KEY, "Content-Type": "application/json"}
    n = min(max_requests, int(rate * seconds))
    latencies = np.empty(n)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(i: int, scheduled: float) -> None:
            async with session.post(url, data=BODY, headers=headers) as resp:
                await resp.read()
            latencies[i] = loop.time() - scheduled

        start = loop.time() + 0.05
        tasks = []
        for i in range(n):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
    return latencies


def measure(kind: str, args: argparse.Namespace) -> tuple[float, np.ndarray]:
    """Start a server subprocess, load it, stop it; returns (max req/s, latencies at 50%)."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    url = f"http://127.0.0.1:{port}/v1/variables"
    try:

        async def run() -> tuple[float, np.ndarray]:
            await _wait_ready(url)
            await _closed_loop(url, 0.5, args.concurrency, args.max_requests)  # warm-up
            peak = await _closed_loop(url, args.seconds, args.concurrency, args.max_requests)
            lat = await _open_loop(url, peak / 2, args.seconds, args.max_requests)
            return peak, lat

        return asyncio.run(run())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each phase")
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop workers")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per phase")
    parser.add_argument("--serve", choices=("edgekv", "minimal"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    add_json_option(parser)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    with json_report(args.json) as report:
        rows = {kind: measure(kind, args) for kind in ("minimal", "edgekv")}
        servers: dict[str, dict[str, float | int]] = {}
        print(f"POST /v1/variables on loopback, {os.cpu_count()} cores, server in a subprocess")
        print(f"{'server':<10}{'max req/s':>12}{'p50 ms @50%':>14}{'p99 ms @50%':>14}{'n':>8}")
        for kind, (peak, lat) in rows.items():
            p50, p99 = np.percentile(lat, [50, 99]) * 1000
            print(f"{kind:<10}{peak:>12.0f}{p50:>14.2f}{p99:>14.2f}{len(lat):>8}")
            servers[kind] = {
                "max_requests_per_s": peak,
                "p50_ms": float(p50),
                "p99_ms": float(p99),
                "n": len(lat),
            }
        ratio = rows["edgekv"][0] / rows["minimal"][0]
        verdict = "meets" if ratio >= TARGET else "MISSES"
        print(f"edgekv / minimal requests/s: {ratio:.2f} ({verdict} the {TARGET} target)")
        report.update(
            cores=os.cpu_count(),
            seconds=args.seconds,
            concurrency=args.concurrency,
            max_requests=args.max_requests,
            servers=servers,
            edgekv_over_minimal=ratio,
            target=TARGET,
            meets_target=ratio >= TARGET,
        )


if __name__ == "__main__":
    main()
