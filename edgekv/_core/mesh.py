"""Regions plus the network between them, wired to any scheduler that offers ``time()`` and
``call_at(when, fn, *args)``: the discrete-event :class:`~edgekv.lowlevel.Kernel` or an asyncio
loop (virtual or real time). The one place where node outputs become scheduled deliveries."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .config import Config
from .crdt import Record, crdt_for, record_of
from .network import Network
from .node import CompactRegionNode, RegionNode
from .oracle import Oracle
from .realised import WINDOW, LagTracker
from .replication import Digest, OpsBatch, Send, decode
from .store import Scheduler

__all__ = ["Mesh"]

_INF = float("inf")


class Mesh:
    """All regions of a config, replicating through a seeded :class:`Network`, with an
    :class:`Oracle` of every committed write."""

    def __init__(self, cfg: Config, seed: int, scheduler: Scheduler) -> None:
        self.cfg = cfg
        self.seed = seed
        self.scheduler = scheduler
        self._time = scheduler.time
        self._call_at = scheduler.call_at
        self._t0 = scheduler.time()
        n = len(cfg.regions)
        crdt = crdt_for(cfg.granularity)
        self._from_wire = record_of
        """How a payload's records are rebuilt at dispatch: unchecked, since this mesh's own
        nodes encoded them from records their CRDT built (payloads from outside go through
        :meth:`RegionNode.receive`, which checks them with :meth:`CRDT.from_wire`)."""
        node_cls = CompactRegionNode if cfg.compact else RegionNode
        self.nodes = [
            node_cls(
                r.index,
                n,
                crdt,
                clock=cfg.clock,
                clock_skew=r.clock_skew,
                batch_window=cfg.batch_window,
                anti_entropy=cfg.anti_entropy,
                tombstone_grace=cfg.tombstone_grace,
            )
            for r in cfg.regions
        ]
        self.network = Network(cfg, np.random.default_rng([seed, 0]))
        self.oracle = Oracle(granularity=cfg.granularity)
        self.in_flight = 0
        """Messages scheduled for delivery, digests included."""
        self.ops_in_flight = 0
        """Replication batches (writes) scheduled for delivery: what settling waits for."""
        self.closed = False
        self._armed = [_INF] * n
        self._listeners: list[tuple[Callable[[int, str, int], None], bool]] = []
        self._write_listeners: list[Callable[[int, str, int], None]] = []
        self._receive_listeners: list[Callable[[int, OpsBatch, float], None]] = []
        self.lag_tracker: LagTracker | None = None
        """With :meth:`track_lag`: realised commit-to-apply lag per link."""
        self.held: list[tuple[Any, ...]] = []
        """Deliveries held back on a paused link (see :meth:`Network.pause`), in arrival
        order, as the arguments of ``_deliver``; :meth:`release` sends them on."""
        self.scheduled: dict[int, tuple[int, int, float, OpsBatch | Digest]] | None = None
        """With :meth:`list_scheduled`: ``(src, dst, arrival, message)`` of every delivery on
        its way (mesh seconds), by a token in scheduling order."""
        self._tokens = itertools.count()
        self.heard: list[list[float]] | None = None
        """With :meth:`track_heard`: ``heard[dst][src]`` is the send time of the newest
        message from ``src`` after whose delivery ``dst`` held every write ``src`` had issued
        when sending it, so ``dst`` misses no write committed at ``src`` before that time."""
        for i in range(n):
            self._arm(i)

    def now(self) -> float:
        """Seconds since the mesh started."""
        return self.scheduler.time() - self._t0

    def index(self, region: str) -> int:
        """Index of a region name (``KeyError`` listing the known names otherwise)."""
        return self.network.index(region)

    def write(self, region: int, kind: str, key: str, value: Mapping[str, Any] | None) -> int:
        """Commit ``put``/``patch``/``delete`` at a region now; returns the version."""
        node = self.nodes[region]
        now = self.now()
        if kind == "put":
            version, sends = node.put(now, key, value or {})
        elif kind == "patch":
            version, sends = node.patch(now, key, value or {})
        elif kind == "delete":
            version, sends = node.delete(now, key)
        else:
            raise ValueError(f"unknown write kind {kind!r}; allowed: put, patch, delete")
        self.oracle.commit(key, version, now, value if kind == "patch" else None)
        for listener in self._write_listeners:
            listener(region, key, version)
        if sends:
            self._dispatch(region, sends, now)
        self._arm(region)
        return version

    def on_write(self, listener: Callable[[int, str, int], None]) -> None:
        """Call ``listener(region, key, version)`` after every write committed at a region."""
        self._write_listeners.append(listener)

    def on_receive(self, listener: Callable[[int, OpsBatch, float], None]) -> None:
        """Call ``listener(region, batch, now)`` just before a region merges a replication
        batch (so it can tell which ops are new there)."""
        self._receive_listeners.append(listener)

    def track_lag(self, window: int = WINDOW) -> LagTracker:
        """Start (once) recording the realised commit-to-apply lag of every later write per
        link, keeping the newest ``window`` samples per link; ``track_lag().summary()``
        reports it beside the configured lag."""
        if self.lag_tracker is None:
            self.lag_tracker = LagTracker(self, window)
        return self.lag_tracker

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` ``delay`` seconds from now on the mesh's scheduler."""
        self.scheduler.call_at(self.scheduler.time() + delay, callback, *args)

    def track_heard(self) -> None:
        """Start maintaining :attr:`heard` (bounded-staleness reads need it). Costs one list
        lookup per message. Before any write every region is complete; otherwise a pair is
        unknown (``-inf``) until the next message on it."""
        if self.heard is None:
            start = self.now() if not self.oracle.keys() else -_INF
            n = len(self.nodes)
            self.heard = [[start] * n for _ in range(n)]

    def on_apply(
        self, listener: Callable[[int, str, int], None], *, every_change: bool = False
    ) -> None:
        """Call ``listener(region, key, version)`` whenever a region's version of a key
        changes through replication (used to record visibility histories); with
        ``every_change``, also when an older write to another field changes the record but
        not its newest version (what a waiting session read needs to hear)."""
        self._listeners.append((listener, every_change))

    def off_apply(self, listener: Callable[[int, str, int], None]) -> None:
        """Stop calling ``listener`` (given to :meth:`on_apply`); with none left, deliveries
        skip the per-key comparison. O(listeners). The list is replaced, not changed in place,
        so a delivery calling the listeners in turn is not disturbed."""
        self._listeners = [entry for entry in self._listeners if entry[0] != listener]

    def _dispatch(self, src: int, sends: list[Send], now: float) -> None:
        route = self.network.route
        call_at = self._call_at
        at = self._t0 + now
        deliver = self._deliver
        listed = self.scheduled
        from_wire = self._from_wire
        extra = () if self.heard is None else (now, self.nodes[src].repl.applied[src])
        scheduled = ops_scheduled = 0
        for dsts, payload in sends:
            message = decode(payload, from_wire)
            ops = type(message) is OpsBatch
            for dst in dsts:
                for delay in route(src, dst, now):
                    scheduled += 1
                    ops_scheduled += ops
                    if listed is None:
                        call_at(at + delay, deliver, dst, payload, message, *extra)
                    else:
                        token = next(self._tokens)
                        listed[token] = (src, dst, now + delay, message)
                        args = (token, dst, payload, message, *extra)
                        call_at(at + delay, self._deliver_listed, *args)
        self.in_flight += scheduled
        self.ops_in_flight += ops_scheduled

    def list_scheduled(self) -> None:
        """Start keeping :attr:`scheduled`: every delivery on its way, listed by the mesh
        itself (a dict insert and pop per message), so a test can ask what is in flight
        without reading the scheduler's private queue."""
        if self.scheduled is None:
            self.scheduled = {}

    def _deliver_listed(
        self, token: int, dst: int, payload: bytes, message: OpsBatch | Digest, *extra: Any
    ) -> None:
        assert self.scheduled is not None
        del self.scheduled[token]
        self._deliver(dst, payload, message, *extra)

    def _deliver(
        self,
        dst: int,
        payload: bytes,
        message: OpsBatch | Digest,
        sent: float = -_INF,
        issued: int = -1,
    ) -> None:
        self.in_flight -= 1
        if type(message) is OpsBatch:
            self.ops_in_flight -= 1
        if self.closed:
            return
        network = self.network
        if network.paused and (message.sender, dst) in network.paused:
            self.held.append((dst, payload, message, sent, issued))
            return
        network.stats.delivered += 1
        node = self.nodes[dst]
        now = self._time() - self._t0
        if self._receive_listeners and type(message) is OpsBatch:
            for listener in self._receive_listeners:
                listener(dst, message, now)
        if self._listeners:
            replies = self._receive_observed(node, now, payload, message)
        else:
            replies = node.receive(now, payload, message)
        if issued >= 0 and self.heard is not None:
            src = message.sender
            row = self.heard[dst]
            if sent > row[src] and node.repl.applied[src] >= issued:
                row[src] = sent
        if replies:
            self._dispatch(dst, replies, now)
        if node.tombstone_grace is not None:  # only grace timers can move on a receive
            self._arm(dst)

    def _receive_observed(
        self, node: RegionNode, now: float, payload: bytes, message: OpsBatch | Digest
    ) -> list[Send]:
        """``node.receive`` plus a call to each :meth:`on_apply` listener per changed key."""
        if type(message) is not OpsBatch:  # a digest changes no record
            return node.receive(now, payload, message)
        get = node.store.get
        before: dict[str, Record | None] = {}
        for op in message.ops:  # a loop, not a comprehension: no frame for one op
            before[op.key] = get(op.key)
        replies = node.receive(now, payload, message)
        store = node.store
        for key, old in before.items():
            rec = store.get(key)
            if rec is old or rec is None:
                continue
            moved = old is None or rec.version != old.version
            for listener, every_change in self._listeners:
                if moved or every_change:
                    listener(node.index, key, rec.version)
        return replies

    def _arm(self, i: int) -> None:
        deadline = self.nodes[i].deadline
        if deadline < self._armed[i]:
            self._armed[i] = deadline
            self.scheduler.call_at(self._t0 + deadline, self._tick, i, deadline)

    def _tick(self, i: int, deadline: float) -> None:
        if self.closed or deadline != self._armed[i]:
            return
        self._armed[i] = _INF
        now = self.now()
        sends = self.nodes[i].tick(now)
        if sends:
            self._dispatch(i, sends, now)
        self._arm(i)

    def quiet(self) -> bool:
        """True when no write is in flight or buffered and, unless a partition makes it
        impossible or anti-entropy is off, every region has applied the same ops (digests,
        always in flight, do not count)."""
        if self.ops_in_flight or any(node.pending for node in self.nodes):
            return False
        if (
            self.cfg.anti_entropy is None
            or self.network.paused
            or self.network.any_partition(self.now())
        ):
            return True
        first = self.nodes[0].repl
        return all(node.repl.in_sync(first) for node in self.nodes[1:])

    def close(self) -> None:
        """Stop all timers and deliveries (scheduled callbacks become no-ops)."""
        self.closed = True

    def release(self) -> int:
        """Deliver at once, in the order they arrived, the held messages whose link is no
        longer paused; returns how many. O(held)."""
        held, self.held = self.held, []
        for args in held:
            self.in_flight += 1
            self.ops_in_flight += isinstance(args[2], OpsBatch)
            self._deliver(*args)
        return len(held) - len(self.held)
