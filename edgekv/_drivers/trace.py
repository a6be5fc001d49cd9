"""The data of a space-time (Lamport) diagram of a short scripted run of the edge-flags
story: a purchase in East US, later a plan change there, and logins in UK South at several
times, optionally with the link between two regions cut for the first half of the window.

Plain data (:class:`Trace`), so a test checks it without drawing and ``edgekv trace --plot``
draws it. Replication messages are observed as the mesh sends them (each copy's send time,
destination and arrival, or its loss) by wrapping the mesh's dispatch and the network's
route on this private cluster; systems without a replication mesh show no messages.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .._core.mesh import Mesh
from .._core.replication import OpsBatch, decode
from .._core.store import OpKind
from .cluster import Cluster, Unavailable
from .vloop import run

__all__ = [
    "LOGINS",
    "PURCHASES",
    "Arrow",
    "Observer",
    "Read",
    "Trace",
    "TraceWrite",
    "build_trace",
    "trace_of",
]

SHOP, LOGIN = "East US", "UK South"
KEY = "user:42"
PURCHASES = ((0.1, {"plan": "pro", "stars": 3}), (1.6, {"plan": "team", "stars": 5}))
"""(seconds, document) of each write in East US."""
LOGINS = (0.05, 0.25, 0.5, 1.0, 1.7, 2.1, 2.8)
"""Seconds at which a user logs in (reads the key) in UK South."""


@dataclass(frozen=True, slots=True)
class TraceWrite:
    """A committed write: where, when (commit), which version."""

    region: str
    at: float
    version: int


@dataclass(frozen=True, slots=True)
class Arrow:
    """One copy of a replication message carrying ``versions`` of the key from ``src`` to
    ``dst``: sent at ``sent``, arriving at ``arrives`` (None: lost)."""

    src: str
    dst: str
    sent: float
    arrives: float | None
    versions: tuple[int, ...]

    @property
    def lost(self) -> bool:
        """True when the network dropped this copy (a cut link, random loss)."""
        return self.arrives is None


@dataclass(frozen=True, slots=True)
class Read:
    """A read: where, when it started and ended, what version it got, how many committed
    versions it missed (0: fresh), or ``failed`` when it got no answer."""

    region: str
    start: float
    end: float
    version: int
    stale_versions: int
    failed: bool = False

    @property
    def stale(self) -> bool:
        """True when it missed a version committed before it started."""
        return self.stale_versions > 0


@dataclass(frozen=True, slots=True)
class Trace:
    """Everything the diagram shows, for ``window`` (seconds) of one seeded run."""

    system: str
    seed: int
    window: tuple[float, float]
    lanes: tuple[str, ...]
    writes: tuple[TraceWrite, ...]
    arrows: tuple[Arrow, ...]
    reads: tuple[Read, ...]
    partitions: tuple[tuple[str, str, float, float], ...]
    """(region, region, from, to): a cut link, both ways."""
    key: str | None = None
    """The one key traced (None: every key)."""


def build_trace(
    system: str = "replicated",
    seed: int = 1,
    window: tuple[float, float] = (0.0, 3.0),
    partition: tuple[str, str] | None = None,
    **overrides: Any,
) -> Trace:
    """Run the story on ``system`` with ``seed`` until the window's end and collect what
    happened inside the window; ``partition`` cuts that link for its first half."""
    start, end = window
    if not 0 <= start < end:
        raise ValueError(f"window must be 0 <= start < end seconds, got {window!r}")
    cluster = Cluster(seed=seed, system=system, **overrides)
    for name in partition or ():
        cluster.config.region(name)  # KeyError naming the known regions
    cuts: list[tuple[str, str, float, float]] = []

    async def main() -> Trace:
        async with cluster:
            observer = Observer(cluster, key=KEY)
            if partition is not None:
                cut_end = start + (end - start) / 2
                cuts.append((*partition, start, cut_end))
                asyncio.get_running_loop().call_later(start, cluster.partition, *partition)
                asyncio.get_running_loop().call_later(cut_end, cluster.heal)
            tasks = [_later(at, cluster[SHOP].put(KEY, doc)) for at, doc in PURCHASES]
            tasks += [_later(at, _login(cluster)) for at in LOGINS]
            await asyncio.gather(*tasks)
            if cluster.now() < end:
                await cluster.advance(end - cluster.now())
            return trace_of(cluster, observer, window, tuple(cuts))

    return run(main(), seed=seed)


def trace_of(
    cluster: Cluster,
    observer: Observer,
    window: tuple[float, float] | None = None,
    partitions: tuple[tuple[str, str, float, float], ...] = (),
) -> Trace:
    """The trace of ``cluster`` within ``window`` (default: from 0 to now): the observer's
    writes and messages, and the reads among the cluster's newest records (of the
    observer's key, if it has one). Writes come from the records on a system without a
    replication mesh."""
    start, end = (0.0, cluster.now()) if window is None else window
    names = cluster.config.names
    key = observer.key

    def inside(t: float) -> bool:
        return start <= t <= end

    records = [r for r in cluster.records if key is None or r.key == key]
    reads = [
        Read(names[r.region], r.start, r.start + r.latency, r.version, r.stale_versions, not r.ok)
        for r in records
        if r.kind is OpKind.GET
    ]
    writes = observer.writes
    if observer.mesh is None:
        writes = [
            TraceWrite(names[r.region], r.start + r.latency, r.version)
            for r in records
            if r.kind is not OpKind.GET and r.ok
        ]
    return Trace(
        cluster.system,
        cluster.seed,
        (start, end),
        names,
        tuple(w for w in writes if inside(w.at)),
        tuple(a for a in observer.arrows if inside(a.sent)),
        tuple(r for r in reads if inside(r.start)),
        partitions,
        key,
    )


async def _later(at: float, coro: Any) -> Any:
    """Await ``coro`` once the clock reads ``at`` (the cluster starts at 0)."""
    await asyncio.sleep(at)
    return await coro


async def _login(cluster: Cluster) -> None:
    """One login in UK South: read the key at the store's default level (a failed one is in
    the cluster's records too)."""
    with contextlib.suppress(Unavailable):
        await cluster[LOGIN].read(KEY)


class Observer:
    """Commits (``on_write``) and every copy of every replication batch a started cluster's
    mesh sends from now on (of ``key`` only, when given): the dispatch wrapper asks the
    network's route for each copy's fate first, then lets the mesh dispatch with those same
    answers replayed in order. Without a replication mesh it observes nothing."""

    def __init__(self, cluster: Cluster, key: str | None = None) -> None:
        self.key = key
        self.writes: list[TraceWrite] = []
        self.arrows: list[Arrow] = []
        mesh = getattr(cluster.store, "mesh", None)
        self.mesh = mesh if isinstance(mesh, Mesh) else None
        if self.mesh is not None:
            self._attach(self.mesh, cluster.config.names)

    def _attach(self, mesh: Mesh, names: tuple[str, ...]) -> None:
        key = self.key
        writes, arrows = self.writes, self.arrows
        dispatch: Callable[[int, list[Any], float], None] = mesh._dispatch
        route: Callable[[int, int, float], Iterable[float]] = mesh.network.route
        replay: deque[tuple[float, ...]] = deque()

        def on_write(region: int, written: str, version: int) -> None:
            if key is None or written == key:
                writes.append(TraceWrite(names[region], mesh.now(), version))

        def observed_dispatch(src: int, sends: list[Any], now: float) -> None:
            for dsts, payload in sends:
                message = decode(payload, mesh._from_wire)
                versions: tuple[int, ...] = ()
                if type(message) is OpsBatch:
                    versions = tuple(
                        op.delta.version for op in message.ops if key in (None, op.key)
                    )
                for dst in dsts:
                    delays = tuple(route(src, dst, now))
                    replay.append(delays)
                    if versions:
                        for delay in delays or (None,):
                            at = None if delay is None else now + delay
                            arrows.append(Arrow(names[src], names[dst], now, at, versions))
            dispatch(src, sends, now)

        def replayed_route(src: int, dst: int, now: float) -> Iterable[float]:
            return replay.popleft() if replay else route(src, dst, now)

        mesh.on_write(on_write)
        mesh._dispatch = observed_dispatch  # type: ignore[method-assign]
        mesh.network.route = replayed_route  # type: ignore[method-assign]
