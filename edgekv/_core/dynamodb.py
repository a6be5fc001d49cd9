"""DynamoDB global tables in their two consistency modes, as two :class:`~edgekv.Store`
classes sharing one replica layer: ``dynamodb-mrec`` (multi-Region eventual consistency) and
``dynamodb-mrsc`` (multi-Region strong consistency).

Sources (AWS documentation and one AWS talk, read 2026):

* [HIW] https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html
  ("How DynamoDB global tables work"): MREC is the default mode; item changes in an MREC
  replica are replicated asynchronously to every other replica "typically within a second or
  less"; concurrent updates of one item in several Regions are resolved per item by the
  modification with the latest internal timestamp ("last writer wins") and every replica
  converges to it; a strongly consistent read returns the latest version only if the item
  was last updated in the Region of the read, otherwise it may return stale data; data not
  yet replicated from an isolated or impaired replica replicates once it is healthy.
* [PG] https://docs.aws.amazon.com/prescriptive-guidance/latest/dynamodb-global-tables/overview.html
  ("Overview of global tables", key facts about MREC): items are replicated individually
  (items updated in one transaction may not be replicated together); each partition
  replicates its writes in parallel with every other, so the order of writes at a remote
  Region may not match the source; newly written items usually reach every replica within a
  second, nearby Regions faster; a write in another Region within the ReplicationLatency
  window loses to the later one by timestamp, and no metric records the loss. Calls should
  not cross Regions: an application uses its Region's endpoint.
* [MRSC] https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/multi-region-strong-consistency-gt.html
  ("Multi-Region strong consistency"): a strongly consistent read on an MRSC table always
  returns the latest version of an item, whichever Region serves it; in MREC such a read
  may be stale when the item was updated in another Region.
* [WIT] https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-dynamodb-globaltable-globaltablewitness.html
  (GlobalTableWitness): an MRSC global table has either three replicas, or two replicas and
  one witness; the witness is in a different Region within the same Region set (US: N.
  Virginia, Ohio, Oregon; EU: Ireland, London, Paris, Frankfurt; AP: Tokyo, Seoul, Osaka).
* [RWC] https://docs.aws.amazon.com/botocore/latest/reference/services/dynamodb/client/exceptions/ReplicatedWriteConflictException.html:
  "The request was rejected because one or more items in the request are being modified
  by a request in another Region" (retry-safe).
* [DAT440] AWS re:Invent 2025 talk "Multi-Region strong consistency with Amazon DynamoDB
  global tables" by DynamoDB engineers, transcript at
  https://dev.to/kazuya_dev/aws-reinvent-2025-multi-region-strong-consistency-with-amazon-dynamodb-global-tables-dat440-2j1c:
  MRSC writes go to a multi-Region journal that needs a quorum of Regions; reads are
  serializable from any Region; under a network partition MRSC reaches its quorum through
  the witness; MREC replicates asynchronously, per item, last writer wins.

What the model does:

* MREC (:class:`GlobalTableMREC`): every configured region holds a replica; clients use
  their own region ([PG]). A write commits locally (a patch is a read-modify-write of the
  whole item at the writing region, one item-level version from that region's hybrid clock)
  and replicates to each other region on its own, one draw of ``lag`` plus the one-way
  network delay per item and destination, so nearby regions see it sooner and items
  arrive in no particular order ([PG]). Replicas keep the item with the newest version
  (last writer wins, [HIW]): of two concurrent updates of different fields from two
  regions, one is lost. Levels ``eventual`` and ``strong`` both read the local replica:
  a strong read is consistent only within its region ([HIW], [MRSC]). Replication over a
  cut link waits and resumes when the link heals ([HIW]: unreplicated data replicates
  once the replica recovers).
* MRSC (:class:`GlobalTableMRSC`): three member regions (``regions``), or two plus a
  ``witness`` that holds the journal but no replica ([WIT]). A client outside the members
  pays the round trip to the nearest replica member. A write, and a strong read, pay the
  round trip from that member to a majority ([DAT440]): requests go to every other member
  and the first answer completes it (normally the nearest; the other, e.g. the witness,
  when a link is cut). The model keeps each item's latest committed record as what a
  majority holds; a write commits, is applied at its member and reaches the other replicas
  one one-way delay later (eventual reads there see it then). A write arriving while a
  write to the same item from another member is in flight fails with
  ``ReplicatedWriteConflictException`` after the same majority round trip ([RWC]); writes
  to one item through the same member queue. ``strong`` reads never miss a committed write
  ([MRSC]); ``eventual`` reads the member's local replica.

Left out: capacity and throttling, transactions, conditional writes, TTL, streams, secondary
indexes, the mapping of configured regions onto AWS Region sets (any configured regions may
be members), retries of conflicted writes (the client sees the error), the acknowledging
peer's replica receiving a write before the commit notice, and failover when a member is
cut off (its writes and strong reads fail as ``unavailable`` after ``request_timeout``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .config import Config
from .distributions import DelayStream, Distribution, LogNormal, parse_distribution
from .errors import ConfigError
from .store import (
    Level,
    OnDone,
    Op,
    OpKind,
    OpRecord,
    Outcome,
    Pending,
    Route,
    Scheduler,
    check_op,
)
from .storebase import StoreBase, applied
from .versions import EPOCH_MS, HybridClock

__all__ = ["GlobalTableMREC", "GlobalTableMRSC"]

Item = tuple[dict[str, Any] | None, int]
"""A replica's copy of one item: the document (None: deleted) and its version."""

STREAM_MREC = 120
"""Generator stream of MREC delays (the network uses 0)."""
STREAM_MRSC = 121
"""Generator stream of MRSC request delays."""

DEFAULT_LAG: Distribution = LogNormal(median=0.5, sigma=0.5)
"""MREC replication lag before the one-way network delay: median 500 ms, 92% under 1 s, our
reading of "typically within a second or less" ([HIW]) and "usually within a second" ([PG])."""

RETRY = 1.0
"""Seconds before replication over a cut or paused link is tried again."""

CONFLICT = "ReplicatedWriteConflictException"
"""The error of an MRSC write refused because another member is writing the item ([RWC])."""


class _Op(Pending):
    """One operation in flight (slotted)."""

    __slots__ = ("latest", "entry", "acked", "arrived")

    def __init__(self, op: Op, on_done: OnDone, start: float, latest: int, entry: int) -> None:
        super().__init__(op, on_done, start)
        self.latest = latest
        """The oracle's newest version of the key when a read started (0 for writes)."""
        self.entry = entry
        """The member region that serves it."""
        self.acked = False
        self.arrived = start


class _GlobalTable(StoreBase):
    """What both modes share: per-region replicas with last-writer-wins install, replication
    that survives cuts, the request path and the scoring of reads against the oracle."""

    system = ""
    levels: tuple[Level, ...] = ()

    def __init__(self, cfg: Config, seed: int, scheduler: Scheduler, *, stream: int) -> None:
        super().__init__(cfg, seed, scheduler, stream)
        self.seed = seed
        self._clocks = [HybridClock(r.index, r.clock_skew * 1e3) for r in cfg.regions]
        n = len(cfg.regions)
        self._items: list[dict[str, Item]] = [{} for _ in range(n)]
        self.replicating = 0
        """Replication messages sent and not applied yet."""
        self.served = [0] * n
        """Operations served per region."""
        self.counts: dict[str, int] = {}
        """Reads per ``"level/route"`` and ``"level/stale"``, writes per kind, failures per
        ``"kind/outcome"``."""
        self._closed = False

    def quiet(self) -> bool:
        """True when no operation and no replication is in flight."""
        return not self.in_flight and not self.replicating

    def close(self) -> None:
        """Stop replication: deliveries and retries already scheduled become no-ops."""
        self._closed = True

    def documents(self, region: int) -> Mapping[str, Mapping[str, Any]]:
        """The live documents of a region's replica (empty where there is none)."""
        return {key: doc for key, (doc, _) in self._items[region].items() if doc is not None}

    def stats(self) -> dict[str, Any]:
        """Counters per region, per kind and level, and of requests."""
        return {
            "regions": {
                name: {"items": len(self.documents(i)), "served": self.served[i]}
                for i, name in enumerate(self.cfg.names)
            },
            "counts": dict(sorted(self.counts.items())),
            "requests": {"lost": self.requests.lost, "timed_out": self.requests.timed_out},
            "replicating": self.replicating,
            "in_flight": self.in_flight,
        }

    def _start(self, op: Op, on_done: OnDone, entry: int) -> _Op:
        check_op(op, len(self._items), self.levels)
        latest = self.oracle.latest(op.key) if op.kind == OpKind.GET else 0
        self.in_flight += 1
        return _Op(op, on_done, self.now(), latest, entry)

    def _written(self, base: Item | None, op: Op, clock: HybridClock, now: float) -> Item:
        """The whole item after ``op`` applied to ``base`` (a read-modify-write): a version
        newer than ``base``'s from ``clock``."""
        if base is not None:
            clock.observe(base[1])
        version = clock.now(EPOCH_MS + now * 1e3)
        return applied(None if base is None else base[0], op), version

    def _install(self, region: int, key: str, item: Item) -> None:
        """Last writer wins: keep ``item`` unless the replica holds a newer version."""
        items = self._items[region]
        held = items.get(key)
        if held is None or held[1] < item[1]:
            items[key] = item

    def _ship(self, src: int, dst: int, key: str, item: Item, delay: float) -> None:
        """Replicate ``item`` to ``dst`` after ``delay``; over a cut link, try again after
        :data:`RETRY` until it gets through."""
        self.replicating += 1
        self._send_copy(src, dst, key, item, delay)

    def _send_copy(self, src: int, dst: int, key: str, item: Item, delay: float) -> None:
        if self._closed:
            return
        if not self.requests.send(src, dst, delay, self._deliver, dst, key, item):
            self._later(RETRY, self._send_copy, src, dst, key, item, delay)

    def _deliver(self, dst: int, key: str, item: Item) -> None:
        if self._closed:
            return
        self.replicating -= 1
        self._install(dst, key, item)

    def _finish(self, pending: _Op, item: Item | None, served: int, route: Route) -> None:
        """Answer ``pending`` at its client with ``item`` (a read) or its version (a write),
        scoring a read's staleness against the oracle as of the read's start."""
        if pending.done:
            return
        now = self.now()
        op = pending.op
        version = 0 if item is None else item[1]
        doc = None
        behind, seconds = 0, 0.0
        if op.kind == OpKind.GET:
            if item is not None and item[0] is not None:
                doc = dict(item[0])
            if version < pending.latest:
                score = self.oracle.score_version
                behind, seconds = score(op.key, version, pending.latest, pending.start)
        self.in_flight -= 1
        self.served[served] += 1
        level = op.level if op.kind == OpKind.GET else self.levels[0]
        record = pending.complete(now, doc, version, served, level, route, behind, seconds)
        if record is not None:
            self._count(record)

    def _refuse(self, pending: _Op, error: str, served: int) -> None:
        """Complete ``pending`` as refused by the system (an error, not unavailability)."""
        if pending.done:
            return
        self.in_flight -= 1
        op = pending.op
        level = op.level if op.kind == OpKind.GET else self.levels[0]
        record = pending.fail(self.now(), Outcome.ERROR, error, level, served)
        if record is not None:
            self._count(record)

    def _count(self, record: OpRecord) -> None:
        counts = self.counts
        if not record.ok:
            name = f"{record.kind}/{record.outcome}"
        elif record.kind == OpKind.GET:
            name = f"{record.consistency}/{record.route}"
            if record.stale_versions:
                stale = f"{record.consistency}/stale"
                counts[stale] = counts.get(stale, 0) + 1
        else:
            name = str(record.kind)
        counts[name] = counts.get(name, 0) + 1


class GlobalTableMREC(_GlobalTable):
    """DynamoDB global table in multi-Region eventual consistency: local writes, per-item
    asynchronous replication after ``lag``, item-level last writer wins. An operation costs
    O(1) events plus one replication message per other region for a write."""

    system = "dynamodb-mrec"
    levels: tuple[Level, ...] = (Level.EVENTUAL, Level.STRONG)
    distribution_options = ("lag",)
    """Options that YAML spells as a distribution, durations with their unit."""

    def __init__(
        self,
        cfg: Config,
        seed: int,
        scheduler: Scheduler,
        *,
        lag: Any = DEFAULT_LAG,
        stream: int = STREAM_MREC,
    ) -> None:
        self.lag = parse_distribution(lag, "systems.dynamodb-mrec.lag")
        """Replication delay added to the one-way network delay, per item and destination
        (seconds, or a distribution spec such as ``"lognormal:500ms,0.5"``)."""
        super().__init__(cfg, seed, scheduler, stream=stream)
        self._lag = DelayStream(self.lag, np.random.default_rng([seed, stream, 1]))

    def submit(self, op: Op, on_done: OnDone) -> None:
        """Serve ``op`` at the client's region: a read from its replica (``strong`` too, which
        is consistent only within the region), a write committed there and replicated."""
        pending = self._start(op, on_done, op.region)
        region = op.region
        key = op.key
        if op.kind == OpKind.GET:
            self._later(
                self.service,
                self._finish,
                pending,
                self._items[region].get(key),
                region,
                Route.LOCAL,
            )
            return
        now = self.now()
        item = self._written(self._items[region].get(key), op, self._clocks[region], now)
        self._items[region][key] = item
        self.oracle.commit(key, item[1], now)
        one_way = self.latency.one_way
        for dst in range(len(self._items)):
            if dst != region:
                self._ship(region, dst, key, item, one_way(region, dst) + self._lag())
        self._later(self.service, self._finish, pending, item, region, Route.LOCAL)


def _member_names(cfg: Config, regions: Any, witness: Any) -> tuple[tuple[str, ...], str | None]:
    path = "systems.dynamodb-mrsc"
    if witness is not None and not isinstance(witness, str):
        raise ConfigError(f"{path}.witness", f"expected a region name or null, got {witness!r}")
    if regions is None:
        if len(cfg.regions) < 3:
            raise ConfigError(f"{path}.regions", "MRSC needs three configured regions")
        first = max(cfg.regions, key=lambda r: r.weight).name
        near = sorted((n for n in cfg.names if n != first), key=lambda n: cfg.rtt[(first, n)])
        names = (first, near[0]) if witness is not None else (first, near[0], near[1])
        if witness in names:
            names = (first, next(n for n in near if n != witness))
        return names, witness
    if isinstance(regions, str) or not isinstance(regions, Sequence):
        raise ConfigError(f"{path}.regions", f"expected a list of region names, got {regions!r}")
    names = tuple(regions)
    want = 2 if witness is not None else 3
    if len(names) != want:
        shape = "plus the witness" if witness is not None else "(or two plus a witness)"
        raise ConfigError(f"{path}.regions", f"expected {want} regions {shape}, got {len(names)}")
    for i, name in enumerate((*names, witness) if witness is not None else names):
        where = f"{path}.witness" if i == want else f"{path}.regions[{i}]"
        if not isinstance(name, str) or name not in cfg.names:
            raise ConfigError(where, f"unknown region {name!r}; known: {', '.join(cfg.names)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}.regions", f"expected distinct regions, got {list(names)}")
    if witness in names:
        raise ConfigError(f"{path}.witness", f"must be a region other than the replicas {names}")
    return names, witness


class GlobalTableMRSC(_GlobalTable):
    """DynamoDB global table in multi-Region strong consistency: writes and strong reads pay
    the round trip to a majority of three members; concurrent writes to one item from two
    members conflict. An operation costs O(members) events."""

    system = "dynamodb-mrsc"
    levels: tuple[Level, ...] = (Level.STRONG, Level.EVENTUAL)

    def __init__(
        self,
        cfg: Config,
        seed: int,
        scheduler: Scheduler,
        *,
        regions: Sequence[str] | None = None,
        witness: str | None = None,
        stream: int = STREAM_MRSC,
    ) -> None:
        names, witness_name = _member_names(cfg, regions, witness)
        super().__init__(cfg, seed, scheduler, stream=stream)
        self.replicas = tuple(cfg.region(n).index for n in names)
        """Member regions holding a replica (three, or two with a witness). Default: the
        region with the largest client share and its nearest by RTT (East US, West US and
        UK South in the default topology, which has no third US region)."""
        self.witness = None if witness_name is None else cfg.region(witness_name).index
        """The witness region (journal only, serves no client), or None."""
        self.members = self.replicas if self.witness is None else (*self.replicas, self.witness)
        rtt = self.latency.rtt
        self.entry = [
            r if r in self.replicas else min((rtt[r][m], m) for m in self.replicas)[1]
            for r in range(len(cfg.regions))
        ]
        """The replica member serving each region's clients (itself, or the nearest)."""
        self.peers = {m: tuple(p for p in self.members if p != m) for m in self.replicas}
        self._committed: dict[str, Item] = {}
        self._writing: dict[str, _Op] = {}
        self._queued: dict[str, deque[_Op]] = {}
        self.conflicts = 0
        """Writes refused with ReplicatedWriteConflictException."""

    def stats(self) -> dict[str, Any]:
        """Counters, plus the members and conflicts."""
        out = super().stats()
        names = self.cfg.names
        out["members"] = [names[m] for m in self.replicas]
        out["witness"] = None if self.witness is None else names[self.witness]
        out["conflicts"] = self.conflicts
        return out

    def submit(self, op: Op, on_done: OnDone) -> None:
        """Send ``op`` to the client's member (its own region or the nearest member); a write
        or strong read then reaches a majority before it answers."""
        check_op(op, len(self._items), self.levels)
        region = op.region
        entry = self.entry[region]
        pending = self._start(op, on_done, entry)
        if op.kind == OpKind.GET and op.level == Level.EVENTUAL and entry == region:
            item = self._items[region].get(op.key)
            self._later(self.service, self._finish, pending, item, region, Route.LOCAL)
            return
        self.requests.guard(pending, self._level(op), self._expired)
        if entry == region:
            self._arrive(pending)
        else:
            delay = self.latency.one_way(region, entry)
            self.requests.send(region, entry, delay, self._arrive, pending)

    def _level(self, op: Op) -> str:
        return op.level if op.kind == OpKind.GET else Level.STRONG

    def _arrive(self, pending: _Op) -> None:
        if pending.done:
            return
        op = pending.op
        if op.kind == OpKind.GET:
            if op.level == Level.EVENTUAL:
                self._answer(pending, self._items[pending.entry].get(op.key))
            else:
                self._majority(pending, self._read_answer)
            return
        holder = self._writing.get(op.key)
        if holder is None:
            self._writing[op.key] = pending
            self._majority(pending, self._commit)
        elif holder.entry == pending.entry:
            pending.arrived = self.now()
            self._queued.setdefault(op.key, deque()).append(pending)
        else:
            self.conflicts += 1
            self._majority(pending, self._conflict)

    def _majority(self, pending: _Op, then: Any) -> None:
        """Ask every other member; the first answer back (normally the nearest) runs
        ``then(pending, committed item)``."""
        entry = pending.entry
        one_way = self.latency.one_way
        for peer in self.peers[entry]:
            self.requests.send(
                entry, peer, one_way(entry, peer), self._at_peer, pending, peer, then
            )

    def _at_peer(self, pending: _Op, peer: int, then: Any) -> None:
        if pending.done:
            return
        entry = pending.entry
        item = self._committed.get(pending.op.key)
        delay = self.latency.one_way(entry, peer)
        self.requests.send(peer, entry, delay, self._majority_answer, pending, item, then)

    def _majority_answer(self, pending: _Op, item: Item | None, then: Any) -> None:
        if pending.done or pending.acked:
            return
        pending.acked = True
        then(pending, item)

    def _read_answer(self, pending: _Op, item: Item | None) -> None:
        self._answer(pending, item)

    def _commit(self, pending: _Op, _seen: Item | None) -> None:
        """A majority holds the write: commit it on the item's latest committed state."""
        op = pending.op
        key = op.key
        entry = pending.entry
        now = self.now()
        item = self._written(self._committed.get(key), op, self._clocks[entry], now)
        self._committed[key] = item
        self.oracle.commit(key, item[1], now)
        self._install(entry, key, item)
        one_way = self.latency.one_way
        for dst in self.replicas:
            if dst != entry:
                self._ship(entry, dst, key, item, one_way(entry, dst))
        self._release(key)
        self._answer(pending, item)

    def _conflict(self, pending: _Op, _seen: Item | None) -> None:
        """Refuse a write that met another member's write to the same item in flight."""
        entry = pending.entry
        region = pending.op.region
        error = f"{CONFLICT}: {pending.op.key!r} is being modified in another member region"
        if entry == region:
            self._later(self.service, self._refuse, pending, error, entry)
        else:
            delay = self.service + self.latency.one_way(region, entry)
            self.requests.send(entry, region, delay, self._refuse, pending, error, entry)

    def _release(self, key: str) -> None:
        """The item's write is over: start the next write queued at the same member."""
        del self._writing[key]
        queue = self._queued.get(key)
        while queue:
            nxt = queue.popleft()
            if not nxt.done:
                nxt.waited = self.now() - nxt.arrived
                self._writing[key] = nxt
                self._majority(nxt, self._commit)
                break
        if queue is not None and not queue:
            del self._queued[key]

    def _answer(self, pending: _Op, item: Item | None) -> None:
        """Send the answer from the member back to the client's region."""
        entry = pending.entry
        region = pending.op.region
        route = Route.FORWARDED if entry != region or pending.acked else Route.LOCAL
        if entry == region:
            self._later(self.service, self._finish, pending, item, entry, route)
        else:
            delay = self.service + self.latency.one_way(region, entry)
            self.requests.send(entry, region, delay, self._finish, pending, item, entry, route)

    def _expired(self, pending: Pending) -> None:
        self.in_flight -= 1
        op = pending.op
        name = f"{op.kind}/{Outcome.UNAVAILABLE}"
        self.counts[name] = self.counts.get(name, 0) + 1
        if self._writing.get(op.key) is pending:
            self._release(op.key)
