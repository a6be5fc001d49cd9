"""Reference workload on the discrete-event kernel, side by side with SimPy 4.

Nine default regions; 200,000 requests, Poisson arrivals at 2,000/s; keys Zipf(s=1) over
10,000; 10% writes (field patches); client-to-region one-way delay lognormal (median 15 ms,
sigma 0.6); replication lag lognormal (median 300 ms, sigma 0.5) per write per destination,
no batching. The same :class:`edgekv.Mesh` (the same region nodes, network and oracle) runs on
every kernel through the ``time()``/``call_at()`` scheduler interface and must give identical
results. SimPy runs it twice: as SimPy models are written (every request and message a
process) and as a bare callback queue. Then the edgekv run's event schedule is recorded and
replayed on each kernel with empty callbacks, which splits each run into kernel and model
cost (the model is the same code everywhere). Targets: at least 2x SimPy's throughput; the
edgekv run under 2 s.

Run: ``.venv/bin/python benchmarks/sim_throughput.py [--requests N] [--seed S]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import edgekv
from edgekv import Kernel, Mesh

RATE = 2000.0
KEYS = 10_000
WRITE_FRACTION = 0.1


class SimPyCallbacks:
    """SimPy as a bare event queue: each scheduled call is a timeout with a callback."""

    def __init__(self, env: Any) -> None:
        self.env = env

    def time(self) -> float:
        return float(self.env.now)

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> None:
        event = self.env.timeout(max(0.0, when - self.env.now))
        event.callbacks.append(lambda _event: fn(*args))


class SimPyProcesses(SimPyCallbacks):
    """SimPy as its users write models: every request and message is a process."""

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> None:
        self.env.process(self._proc(max(0.0, when - self.env.now), fn, args))

    def _proc(self, delay: float, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        yield self.env.timeout(delay)
        fn(*args)


class Recorder:
    """Wraps a scheduler and records the event tree: which events each event scheduled, and
    when. Replaying that tree with callbacks that do nothing else costs what the kernel
    costs on this model's exact schedule, and nothing of the model."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.children: list[list[tuple[float, int]]] = [[]]
        self._current = 0

    def time(self) -> float:
        return float(self.inner.time())

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> None:
        event = len(self.children)
        self.children.append([])
        self.children[self._current].append((when, event))
        self.inner.call_at(when, self._fire, event, fn, args)

    def _fire(self, event: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._current = event
        fn(*args)


def replay(
    scheduler: Any, run: Callable[[], None], children: list[list[tuple[float, int]]]
) -> float:
    """Seconds to run the recorded event tree on ``scheduler`` with empty callbacks."""
    call_at = scheduler.call_at

    def fire(event: int) -> None:
        for when, child in children[event]:
            call_at(when, fire, child)

    started = time.perf_counter()
    fire(0)
    run()
    return time.perf_counter() - started


def workload(n: int, seed: int, cfg: edgekv.Config) -> dict[str, np.ndarray]:
    """Every random draw of the model, made up front (vectorised) from the seed."""
    rng = np.random.default_rng([seed, 1])
    ranks = np.arange(1, KEYS + 1)
    zipf = (1.0 / ranks) / (1.0 / ranks).sum()
    weights = np.array([r.weight for r in cfg.regions])
    return {
        "arrival": np.cumsum(rng.exponential(1.0 / RATE, n)),
        "key": rng.choice(KEYS, size=n, p=zipf),
        "write": rng.random(n) < WRITE_FRACTION,
        "region": rng.choice(len(weights), size=n, p=weights / weights.sum()),
        "d_in": rng.lognormal(np.log(0.015), 0.6, n),
        "d_out": rng.lognormal(np.log(0.015), 0.6, n),
    }


def simulate(
    scheduler: Any, run: Callable[[], None], cfg: edgekv.Config, w: dict[str, Any]
) -> dict[str, Any]:
    """Run the model on ``scheduler``; ``run()`` drives it to completion."""
    mesh = Mesh(cfg, 7, scheduler)
    nodes = mesh.nodes
    oracle_latest = mesh.oracle.latest
    keys = [f"user:{k}" for k in range(KEYS)]
    key_of = w["key"].tolist()
    is_write = w["write"].tolist()
    region_of = w["region"].tolist()
    d_in = w["d_in"].tolist()
    d_out = w["d_out"].tolist()
    arrival = w["arrival"].tolist()
    service = cfg.service_time
    latencies: list[float] = []
    stale = 0
    reads = 0
    call_at = scheduler.call_at
    horizon = arrival[-1] + 5.0

    def serve(i: int) -> None:
        nonlocal stale, reads
        key = keys[key_of[i]]
        region = region_of[i]
        if is_write[i]:
            mesh.write(region, "patch", key, {"n": i})
        else:
            reads += 1
            if nodes[region].version_of(key) < oracle_latest(key):
                stale += 1
            latencies.append(d_in[i] + service + d_out[i])

    # Requests reach their region in this order; each arrival schedules the next, so the
    # heap holds only replication traffic and one pending request.
    at_region = [a + d for a, d in zip(arrival, d_in, strict=True)]
    order = sorted(range(len(arrival)), key=at_region.__getitem__)
    nxt = {order[j]: order[j + 1] for j in range(len(order) - 1)}

    def arrive(i: int) -> None:
        following = nxt.get(i)
        if following is not None:
            call_at(at_region[following], arrive, following)
        serve(i)

    call_at(at_region[order[0]], arrive, order[0])
    call_at(horizon, mesh.close)
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    lat = np.array(latencies) * 1000
    return {
        "elapsed": elapsed,
        "reads": reads,
        "stale": stale / reads,
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "bytes": sum(node.stats.bytes_sent for node in nodes),
        "delivered": mesh.network.stats.delivered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-simpy", action="store_true", help="skip the SimPy run")
    args = parser.parse_args()
    cfg = edgekv.default_config().replace(
        lag="lognormal:300ms,0.5", batch_window="0ms", client_delay="lognormal:15ms,0.6"
    )
    w = workload(args.requests, args.seed, cfg)

    kernel = Kernel()
    ours = simulate(kernel, kernel.run, cfg, w)
    ours["events"] = kernel.events
    rows = [("edgekv Kernel", ours)]
    adapters: list[tuple[str, Callable[[Any], Any]]] = []
    if not args.no_simpy:
        import simpy

        adapters = [("SimPy processes", SimPyProcesses), ("SimPy callbacks", SimPyCallbacks)]
        for name, adapter in adapters:
            env = simpy.Environment()
            theirs = simulate(adapter(env), env.run, cfg, w)
            theirs["events"] = ours["events"]
            rows.append((name, theirs))

    print(f"{args.requests:,} requests, 9 regions, 10% writes, seed {args.seed}")
    header = f"{'kernel':<16} {'wall s':>7} {'req/s':>10} {'events/s':>11} {'stale %':>8}"
    header += f" {'p50 ms':>7} {'p99 ms':>7} {'MB shipped':>10}"
    print(header)
    for name, r in rows:
        print(
            f"{name:<16} {r['elapsed']:7.2f} {args.requests / r['elapsed']:10,.0f} "
            f"{r['events'] / r['elapsed']:11,.0f} {100 * r['stale']:8.3f} {r['p50']:7.2f} "
            f"{r['p99']:7.2f} {r['bytes'] / 1e6:10.2f}"
        )
    for name, theirs in rows[1:]:
        same = all(ours[k] == theirs[k] for k in ("reads", "stale", "bytes", "delivered"))
        ratio = theirs["elapsed"] / ours["elapsed"]
        print(f"edgekv / {name}, model included: {ratio:.2f}x; identical results: {same}")
    if adapters:
        kernel_alone(cfg, w, adapters, ours["elapsed"])
    print(f"edgekv run under 2 s: {ours['elapsed'] < 2.0} ({ours['elapsed']:.2f} s)")


def kernel_alone(
    cfg: edgekv.Config,
    w: dict[str, Any],
    adapters: list[tuple[str, Callable[[Any], Any]]],
    full_run: float,
) -> None:
    """The kernels alone: the edgekv run's recorded event schedule replayed on each kernel
    with callbacks that only schedule the recorded children."""
    import simpy

    recorder = Recorder(Kernel())
    simulate(recorder, recorder.inner.run, cfg, w)
    children = recorder.children
    kernel = Kernel()
    ours = replay(kernel, kernel.run, children)
    print(f"kernels alone: the same {len(children) - 1:,} events replayed, callbacks empty")
    print(f"{'edgekv Kernel':<16} {ours:7.2f}")
    for name, adapter in adapters:
        env = simpy.Environment()
        theirs = replay(adapter(env), env.run, children)
        print(f"{name:<16} {theirs:7.2f}  edgekv / {name}, kernel alone: {theirs / ours:.2f}x")
    model = full_run - ours
    print(
        f"the edgekv run: kernel {ours:.2f} s + model {model:.2f} s ({model / full_run:.0%}); "
        "the model costs the same on every kernel"
    )


if __name__ == "__main__":
    main()
