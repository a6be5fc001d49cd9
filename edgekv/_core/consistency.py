"""The replicated store: a :class:`~edgekv.lowlevel.Mesh` of regions serving reads at a
consistency level, written as callbacks on the mesh's scheduler so the same logic runs on the
discrete-event :class:`~edgekv.lowlevel.Kernel` (benchmarks) and on asyncio
(:class:`~edgekv.Cluster`).

Levels (``LEVELS``):

* ``eventual``: the local replica, whatever it holds.
* ``session``: read-your-writes and monotonic reads. A :class:`Session` token carries, per
  key, the join of every write the client made and every record it read (a CRDT state). The
  local replica may serve the read only if its record dominates that state (joining the token
  adds nothing), which is exact under both granularities: a newer write to another field does
  not pass for the client's own. Otherwise the read waits for replication up to
  ``session_wait`` (default: the RTT to the region of the token's newest version, the
  ski-rental bound, so a read never costs more than twice forwarding at once), then gathers
  the key from every region that wrote it, whose join holds everything the token needs.
* ``bounded``: Cosmos DB's bounded staleness, at most ``max_staleness`` seconds and (with
  ``max_versions=K``) at most K writes of the key behind. Served locally when, for every
  other region, the local replica is known to hold every write that region issued up to
  ``max_staleness`` ago (:attr:`Mesh.heard`, fed by replication and anti-entropy messages)
  and misses at most K writes of the key (the simulator's oracle stands in for the version
  tracking Cosmos DB does); otherwise served like ``strong``.
* ``strong``: the read goes to every region that has ever written the key (normally just its
  origin) and joins their records, so it misses no write committed before it started.

Forwarded requests pay the geographic delays of :class:`~edgekv.lowlevel.LatencyModel` and
cross the same :class:`~edgekv.lowlevel.Network` as replication: a request over a cut or
paused link is lost, and the read completes as ``unavailable`` after ``request_timeout``.
Every read pays ``service_time`` at each region that serves it. Latencies are measured at
the client's edge region: add :meth:`LatencyModel.client_delay` twice for the client's own
hops.

Staleness is judged against the :class:`~edgekv.lowlevel.Oracle` as of the read's start: how
many versions committed before the read began are newer than what it returned, and for how
long the first of them had been committed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial
from typing import Any

from .config import Config
from .crdt import Record
from .latency import LatencyModel
from .mesh import Mesh
from .requests import Requests
from .store import (
    Level,
    OnDone,
    Op,
    OpKind,
    OpRecord,
    Pending,
    Route,
    Scheduler,
    Session,
    check_op,
)

__all__ = ["LEVELS", "ReplicatedStore"]

EVENTUAL = Level.EVENTUAL
SESSION = Level.SESSION
BOUNDED = Level.BOUNDED
STRONG = Level.STRONG
_GET, _LOCAL, _WAITED, _FORWARDED = OpKind.GET, Route.LOCAL, Route.WAITED, Route.FORWARDED
"""Enum members bound once: looking one up on its class costs ten times a global."""
LEVELS = (EVENTUAL, SESSION, BOUNDED, STRONG)
"""Consistency levels the replicated store serves."""

STREAM_COORDINATOR = 101
"""Generator stream of the store's request delays (the network uses 0)."""

_REGION_MASK = 0xFF


class _Read(Pending):
    """One read in progress (slotted: no per-read closures on the hot path)."""

    __slots__ = ("latest", "rec", "pending", "route", "waiting")

    def __init__(self, op: Op, on_done: OnDone, start: float, latest: int) -> None:
        # Pending's fields set here rather than through super(): one frame less per read.
        self.op = op
        self.on_done = on_done
        self.start = start
        self.waited = 0.0
        self.done = False
        self.latest = latest
        self.rec: Record | None = None
        self.pending = 0
        self.route = _LOCAL
        self.waiting = False


class ReplicatedStore:
    """Replicated regions (a :class:`Mesh`) serving reads at a consistency level, by
    callbacks: the :class:`~edgekv.Store` of the replicated design.

    Writes commit at the client's region and complete after the service time. A local read
    costs O(1) plus one event; a waiting or forwarded one a few events; a strong read one
    round trip per writer region, through the network (a cut link fails it after the
    config's ``request_timeout``). ``history`` > 0 keeps the last ``history``
    :class:`OpRecord` in :attr:`records`.
    """

    system = "replicated"
    levels: tuple[Level, ...] = LEVELS
    duration_options = ("session_wait", "max_staleness")
    """Options that YAML spells with a unit."""

    def __init__(
        self,
        cfg: Config,
        seed: int,
        scheduler: Scheduler,
        *,
        session_wait: float | None = None,
        max_staleness: float = 2.0,
        max_versions: int | None = None,
        stream: int = STREAM_COORDINATOR,
    ) -> None:
        if max_versions is not None and (
            isinstance(max_versions, bool) or not isinstance(max_versions, int) or max_versions < 0
        ):
            raise ValueError(f"max_versions must be None or an int >= 0, got {max_versions!r}")
        self.max_versions = max_versions
        """Cosmos DB's second bound of ``bounded`` reads: at most this many writes of the key
        behind (None: the time bound alone)."""
        if session_wait is not None and not (
            isinstance(session_wait, int | float) and 0 <= session_wait < math.inf
        ):
            raise ValueError(f"session_wait must be None or seconds >= 0, got {session_wait!r}")
        mesh = self.mesh = Mesh(cfg, seed, scheduler)
        self.cfg = cfg
        self.network = mesh.network
        self.oracle = mesh.oracle
        self.session_wait = session_wait
        """Longest wait for replication before a session read is forwarded (None: the RTT
        to the origin)."""
        self.max_staleness = _positive(max_staleness, "max_staleness")
        """Default bound of ``bounded`` reads, seconds (2 s: one anti-entropy period plus a
        typical lag)."""
        self.latency = LatencyModel(cfg, seed, stream=stream)
        self.requests = Requests(
            mesh.network, scheduler, scheduler.time() - mesh.now(), cfg.request_timeout
        )
        self.service = cfg.service_time
        self.in_flight = 0
        self._time = scheduler.time
        self._call_at = scheduler.call_at
        self._nodes = mesh.nodes
        self._crdt = mesh.nodes[0].crdt
        self._writers: dict[str, int] = {}
        self._waiting: dict[tuple[int, str], list[_Read]] = {}
        self._listening = False
        self.counts: dict[str, int] = {}
        """Reads per ``"level/route"``, ``"level/stale"`` and ``"level/unavailable"``; writes
        per kind."""
        self._names: dict[tuple[str, str, str], tuple[str, str]] = {}
        """:attr:`counts`' names (route or kind, stale) by kind, level and route."""
        mesh.track_heard()
        # A function of the writers map, not a method: the mesh then holds no reference back
        # to this store, so a finished run is freed by reference counting.
        mesh.on_write(partial(_note_write, self._writers))

    def now(self) -> float:
        """Seconds since the store started."""
        return self.mesh.now()

    def quiet(self) -> bool:
        """True when no operation and no replication is in flight (see :meth:`Mesh.quiet`)."""
        return not self.in_flight and self.mesh.quiet()

    def documents(self, region: int) -> Mapping[str, Mapping[str, Any]]:
        """The live documents of a region's replica."""
        return self._nodes[region].documents()

    def close(self) -> None:
        """Stop replication timers and deliveries."""
        self.mesh.close()

    def stats(self) -> dict[str, Any]:
        """Counters per region, of the network and of requests."""
        return {
            "regions": {
                name: node.stats.as_dict()
                for name, node in zip(self.cfg.names, self._nodes, strict=True)
            },
            "network": self.network.stats.as_dict(),
            "requests": {"lost": self.requests.lost, "timed_out": self.requests.timed_out},
            "in_flight": self.mesh.in_flight,
            "realised_lag": [link.as_dict() for link in self.mesh.track_lag().summary()],
        }

    def submit(self, op: Op, on_done: OnDone) -> None:
        """Start ``op`` now (see :class:`~edgekv.Store`)."""
        check_op(op, len(self._nodes), LEVELS)
        if op.kind == _GET:
            self.read(op, on_done)
        else:
            self.write(op, on_done)

    # -- writes --------------------------------------------------------------------------

    def write(self, op: Op, on_done: OnDone) -> int:
        """Commit a write at ``op.region`` now (returns its version); ``on_done`` follows
        after the service time with the write's record."""
        mesh = self.mesh
        pending = Pending(op, on_done, mesh.now())
        version = mesh.write(op.region, op.kind, op.key, op.value)
        if op.session is not None:
            self.note_write(op.session, op.region, op.kind, op.key, op.value, version)
        self.in_flight += 1
        self._call_at(self._time() + self.service, self._write_done, pending, version)
        return version

    def note_write(
        self,
        session: Session,
        region: int,
        kind: str,
        key: str,
        value: Mapping[str, Any] | None,
        version: int,
    ) -> None:
        """Add a write just committed at ``region`` to ``session``: its delta, which under
        item granularity (a read-modify-write) is the region's record right after it."""
        crdt = self._crdt
        if crdt.name == "item" or kind == "delete":
            delta = self._nodes[region].record(key) if kind != "delete" else crdt.delete(version)
        elif kind == "put":
            delta = crdt.put(None, value or {}, version)
        else:
            delta = crdt.patch(None, value or {}, version)
        session.observe(crdt, key, delta)

    def _write_done(self, pending: Pending, version: int) -> None:
        self.in_flight -= 1
        record = pending.complete(
            self.mesh.now(), None, version, pending.op.region, EVENTUAL, _LOCAL
        )
        if record is not None:
            self._count(record)

    # -- reads ---------------------------------------------------------------------------

    def read(self, op: Op, on_done: OnDone) -> None:
        """Read ``op.key`` at ``op.region`` with consistency ``op.level``."""
        mesh = self.mesh
        now = mesh.now()
        key = op.key
        region = op.region
        level = op.level
        read = _Read(op, on_done, now, mesh.oracle.latest(key))
        self.in_flight += 1
        if level == EVENTUAL:
            self._local(read)
        elif level == SESSION:
            node = self._nodes[region]
            session = op.session
            if session is None or session.satisfied_by(
                self._crdt, key, node.record(key), node.repl.stable_clock
            ):
                self._local(read)
            else:
                self._wait(read)
        elif level == BOUNDED:
            bound = self.max_staleness if op.max_staleness is None else op.max_staleness
            heard = mesh.heard
            assert heard is not None
            row = heard[region]
            oldest = now - bound
            if all(row[o] >= oldest for o in range(len(row)) if o != region) and (
                self.max_versions is None
                or mesh.oracle.score(key, self._nodes[region].record(key), read.latest, now)[0]
                <= self.max_versions
            ):
                self._local(read)
            else:
                self._gather(read)
        else:
            self._gather(read)

    def _local(self, read: _Read) -> None:
        region = read.op.region
        node = self._nodes[region]
        node.stats.reads += 1
        when = self._time() + self.service
        self._call_at(when, self._finish, read, node.record(read.op.key), region)

    def _wait(self, read: _Read) -> None:
        op = read.op
        assert op.session is not None
        origin = op.session.version(op.key) & _REGION_MASK
        bound = (
            self.latency.rtt[op.region][origin] if self.session_wait is None else self.session_wait
        )
        if bound <= 0:
            self._gather(read)
            return
        if not self._listening:
            self._listening = True
            self.mesh.on_apply(self._applied, every_change=True)
        read.waiting = True
        self._waiting.setdefault((op.region, op.key), []).append(read)
        self.mesh.call_later(bound, self._wait_over, read)

    def _applied(self, region: int, key: str, version: int) -> None:
        waiters = self._waiting.get((region, key))
        if not waiters:
            return
        record = self._nodes[region].record(key)
        crdt = self._crdt
        ready = [
            read
            for read in waiters
            if read.op.session is not None and read.op.session.satisfied_by(crdt, key, record)
        ]
        if not ready:
            return
        now = self.mesh.now()
        for read in ready:
            waiters.remove(read)
            read.waiting = False
            read.route = _WAITED
            read.waited = now - read.start
            self._local(read)
        if not waiters:
            self._emptied((region, key))

    def _emptied(self, where: tuple[int, str]) -> None:
        """Drop a waiting list just emptied; once no read waits, stop observing applies, so
        deliveries take the mesh's unobserved path (no per-key comparison) and the mesh
        keeps no reference to this store."""
        del self._waiting[where]
        if not self._waiting:
            self._listening = False
            self.mesh.off_apply(self._applied)

    def _wait_over(self, read: _Read) -> None:
        if not read.waiting:
            return
        read.waiting = False
        op = read.op
        waiters = self._waiting[(op.region, op.key)]
        waiters.remove(read)
        if not waiters:
            self._emptied((op.region, op.key))
        read.waited = self.mesh.now() - read.start
        self._gather(read)

    def _gather(self, read: _Read) -> None:
        """Read the key at every region that ever wrote it (one round trip each, in parallel,
        through the network) and join: nothing committed before now is missed."""
        op = read.op
        writers = self._writers.get(op.key, 0) & ~(1 << op.region)
        if not writers:
            self._local(read)
            return
        read.route = _FORWARDED
        read.rec = self._nodes[op.region].record(op.key)
        one_way = self.latency.one_way
        send = self.requests.send
        self.requests.guard(read, op.level, self._expired)
        target = 0
        while writers:
            if writers & 1:
                read.pending += 1
                send(op.region, target, one_way(op.region, target), self._remote, read, target)
            writers >>= 1
            target += 1

    def _expired(self, read: Pending) -> None:
        self.in_flight -= 1
        name = f"{read.op.level}/unavailable"
        self.counts[name] = self.counts.get(name, 0) + 1

    def _remote(self, read: _Read, target: int) -> None:
        if read.done:
            return
        node = self._nodes[target]
        node.stats.reads += 1
        region = read.op.region
        delay = self.service + self.latency.one_way(region, target)
        self.requests.send(
            target, region, delay, self._gathered, read, node.record(read.op.key), target
        )

    def _gathered(self, read: _Read, rec: Record | None, source: int) -> None:
        if rec is not None:
            read.rec = rec if read.rec is None else self._crdt.join(read.rec, rec)
        read.pending -= 1
        if read.pending == 0:
            served = source if read.rec is None else read.rec.version & _REGION_MASK
            self._finish(read, read.rec, served)

    def _finish(self, read: _Read, rec: Record | None, served: int) -> None:
        if read.done:
            return
        now = self.mesh.now()
        op = read.op
        key = op.key
        if rec is None:
            doc, version = None, 0
        else:
            doc = None if rec.doc is None else dict(rec.doc)
            version = rec.version
        behind, seconds = self.mesh.oracle.score(key, rec, read.latest, read.start)
        session = op.session
        if session is not None:
            if rec is None and read.route is _FORWARDED:
                session.forget(key)  # gone at every region that wrote it
            else:
                session.observe(self._crdt, key, rec)
        self.in_flight -= 1
        record = read.complete(now, doc, version, served, op.level, read.route, behind, seconds)
        if record is not None:
            self._count(record)

    def _count(self, record: OpRecord) -> None:
        kind, consistency, route = record.kind, record.consistency, record.route
        names = self._names.get((kind, consistency, route))
        if names is None:  # once per kind, level and route: no string built per operation
            name = f"{consistency}/{route}" if kind == _GET else str(kind)
            names = self._names[(kind, consistency, route)] = (name, f"{consistency}/stale")
        counts = self.counts
        name = names[0]
        counts[name] = counts.get(name, 0) + 1
        if record.stale_versions:
            name = names[1]
            counts[name] = counts.get(name, 0) + 1


def _note_write(writers: dict[str, int], region: int, key: str, version: int) -> None:
    """Add ``region`` to the bit set of regions that wrote ``key``."""
    writers[key] = writers.get(key, 0) | (1 << region)


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)
