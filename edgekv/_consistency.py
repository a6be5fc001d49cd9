"""Consistency levels for reads of a replicated :class:`~edgekv._mesh.Mesh`, written as
callbacks on the mesh's scheduler so the same logic runs on the discrete-event
:class:`~edgekv._kernel.Kernel` (benchmarks) and on asyncio (:class:`~edgekv.Cluster`).

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
* ``bounded``: staleness at most ``max_staleness`` seconds. Served locally when, for every
  other region, the local replica is known to hold every write that region issued up to
  ``max_staleness`` ago (:attr:`Mesh.heard`, fed by replication and anti-entropy messages);
  otherwise served like ``strong``.
* ``strong``: the read goes to every region that has ever written the key (normally just its
  origin) and joins their records, so it misses no write committed before it started.

Forwarded requests pay the geographic delays of :class:`~edgekv._latency.LatencyModel` and
are not subject to replication partitions. Every read pays ``service_time`` at each region
that serves it. Latencies are measured at the client's edge region: add
:meth:`LatencyModel.client_delay` twice for the client's own hops.

Staleness is judged against the :class:`~edgekv._oracle.Oracle` as of the read's start: how
many versions committed before the read began are newer than what it returned, and for how
long the first of them had been committed.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from ._crdt import CRDT, Record
from ._latency import LatencyModel
from ._mesh import Mesh

__all__ = [
    "BOUNDED",
    "EVENTUAL",
    "LEVELS",
    "SESSION",
    "STRONG",
    "Coordinator",
    "OpRecord",
    "OpResult",
    "Session",
]

EVENTUAL = "eventual"
SESSION = "session"
BOUNDED = "bounded"
STRONG = "strong"
LEVELS = (EVENTUAL, SESSION, BOUNDED, STRONG)
"""Consistency levels accepted by :meth:`Coordinator.read` and ``Region.get``."""

STREAM_COORDINATOR = 101
"""Generator stream of the coordinator's request delays (the network uses 0)."""

_REGION_MASK = 0xFF


class OpRecord(NamedTuple):
    """What one operation cost and what it saw. Times in seconds of the driver's clock."""

    kind: str
    """``get``, ``put``, ``patch`` or ``delete``."""
    key: str
    region: int
    """Index of the client's edge region."""
    served_by: int
    """Region that served it; for a read gathered from several regions, the origin of the
    version returned."""
    start: float
    latency: float
    """From issue to answer at the client's edge region."""
    consistency: str
    """A level of ``LEVELS``, or ``single-home``."""
    outcome: str
    """``local`` (served where issued), ``waited`` (local, after waiting for replication) or
    ``forwarded`` (served by at least one other region)."""
    waited: float
    """Seconds spent waiting: for replication (session) or in the key's queue (single-home)."""
    version: int
    """Version read or written (0: never written)."""
    stale_versions: int
    """Versions committed before the read started and newer than the one it returned."""
    stale_seconds: float
    """How long the first of those had been committed when the read started (0 if fresh)."""

    @property
    def forwarded(self) -> bool:
        """True when another region served (part of) the operation."""
        return self.outcome == "forwarded"

    @property
    def stale(self) -> bool:
        """True when the read missed a version committed before it started."""
        return self.stale_versions > 0

    @property
    def stale_ms(self) -> float:
        """:attr:`stale_seconds` in milliseconds."""
        return self.stale_seconds * 1e3


class OpResult(NamedTuple):
    """The answer of an operation: the document (a private copy; ``None`` if absent or
    deleted), its version and the :class:`OpRecord`."""

    doc: dict[str, Any] | None
    version: int
    record: OpRecord


OnDone = Callable[[OpResult], None]
"""Completion callback: called exactly once, from the scheduler, never from inside the call
that started the operation."""


def resolve(future: asyncio.Future[OpResult]) -> OnDone:
    """A completion callback that sets ``future`` (unless it was cancelled meanwhile)."""

    def done(result: OpResult) -> None:
        if not future.done():
            future.set_result(result)

    return done


class Session:
    """A client's session token: per key, the least state a replica must hold to serve this
    client, the join of every write it made and every record it read.

    Carry it across regions (``Region.get(key, "session", session=s)``, ``put(..., session=s)``)
    to get read-your-writes and monotonic reads. :meth:`token` is plain data a client could
    keep in a cookie; ``Session(token)`` restores it.
    """

    __slots__ = ("_need",)

    def __init__(self, token: Mapping[str, Sequence[Any]] | None = None) -> None:
        self._need: dict[str, Record] = {}
        for key, rec in (token or {}).items():
            if not isinstance(key, str):
                raise TypeError(f"session token keys are strings, got {type(key).__name__}")
            if (
                isinstance(rec, str | bytes)
                or not isinstance(rec, Sequence)
                or len(rec) < 2
                or isinstance(rec[1], bool)
                or not isinstance(rec[1], int)
                or rec[1] < 0
            ):
                raise ValueError(
                    f"session token entry of {key!r} must be a record [doc, version, ...]"
                )
            self._need[key] = tuple(rec)

    def __repr__(self) -> str:
        return f"<Session {len(self._need)} keys>"

    def observe(self, crdt: CRDT, key: str, record: Record | None) -> None:
        """Note that this client wrote or read ``record`` of ``key``. O(fields)."""
        if record is not None:
            self._need[key] = crdt.join(self._need.get(key), record)

    def satisfied_by(self, crdt: CRDT, key: str, record: Record | None, stable: int = 0) -> bool:
        """True if a replica holding ``record`` may serve this client's read of ``key``:
        it already holds everything the client wrote or saw. A replica without the key
        qualifies when the session needs only a tombstone older than ``stable`` (the
        replica's stable clock: such a tombstone was held everywhere, then collected).
        O(fields)."""
        need = self._need.get(key)
        if need is None:
            return True
        if record is None:
            return need[0] is None and need[1] < stable
        return crdt.join(record, need) is record

    def forget(self, key: str) -> None:
        """Drop ``key`` from the token: every region that wrote it has collected it."""
        self._need.pop(key, None)

    def version(self, key: str) -> int:
        """The newest version of ``key`` this session has written or read (0: none)."""
        need = self._need.get(key)
        return 0 if need is None else need[1]

    def token(self) -> dict[str, list[Any]]:
        """The token as plain data (lists of msgpack/JSON-able values)."""
        return {key: list(rec) for key, rec in self._need.items()}


class _Pending:
    """An operation in flight: what its :class:`OpRecord` will say of the client (slotted;
    the base of the coordinator's reads and of single-home operations)."""

    __slots__ = ("region", "kind", "key", "on_done", "start", "waited")

    def __init__(self, region: int, kind: str, key: str, on_done: OnDone, start: float) -> None:
        self.region = region
        self.kind = kind
        self.key = key
        self.on_done = on_done
        self.start = start
        self.waited = 0.0

    def result(
        self,
        doc: dict[str, Any] | None,
        version: int,
        served: int,
        now: float,
        consistency: str,
        outcome: str,
        stale_versions: int = 0,
        stale_seconds: float = 0.0,
    ) -> OpResult:
        """The answer, given at ``now`` by region ``served``, with its record. O(1)."""
        record = OpRecord(
            self.kind,
            self.key,
            self.region,
            served,
            self.start,
            now - self.start,
            consistency,
            outcome,
            self.waited,
            version,
            stale_versions,
            stale_seconds,
        )
        return OpResult(doc, version, record)


class _Read(_Pending):
    """One read in progress (slotted: no per-read closures on the hot path)."""

    __slots__ = ("level", "session", "latest", "rec", "pending", "outcome")

    def __init__(
        self,
        region: int,
        key: str,
        level: str,
        on_done: OnDone,
        session: Session | None,
        start: float,
        latest: int,
    ) -> None:
        super().__init__(region, "get", key, on_done, start)
        self.level = level
        self.session = session
        self.latest = latest
        self.rec: Record | None = None
        self.pending = 0
        self.outcome = "local"


class Coordinator:
    """Serves reads and writes of a :class:`Mesh` at a consistency level, by callbacks.

    Contract for drivers (Kernel or asyncio): build it right after the mesh, before any
    write (it learns which regions write each key and tracks :attr:`Mesh.heard`); call
    :meth:`read` / :meth:`write` at the current scheduler time; ``on_done(OpResult)`` is
    called once, later, from the scheduler. ``history`` > 0 keeps the last ``history``
    :class:`OpRecord` in :attr:`records`. A local read costs O(1) plus one event; a waiting
    or forwarded one a few events; a strong read one round trip per writer region.
    """

    def __init__(
        self,
        mesh: Mesh,
        *,
        session_wait: float | None = None,
        max_staleness: float = 2.0,
        history: int = 0,
        stream: int = STREAM_COORDINATOR,
    ) -> None:
        if session_wait is not None and not (
            isinstance(session_wait, int | float) and 0 <= session_wait < math.inf
        ):
            raise ValueError(f"session_wait must be None or seconds >= 0, got {session_wait!r}")
        self.mesh = mesh
        self.session_wait = session_wait
        """Longest wait for replication before a session read is forwarded (None: the RTT
        to the origin)."""
        self.max_staleness = _positive(max_staleness, "max_staleness")
        """Default bound of ``bounded`` reads, seconds (2 s: one anti-entropy period plus a
        typical lag)."""
        self.latency = LatencyModel(mesh.cfg, mesh.seed, stream=stream)
        self.service = mesh.cfg.service_time
        self.records: deque[OpRecord] = deque(maxlen=max(history, 1))
        self._keep = history > 0
        self._nodes = mesh.nodes
        self._crdt = mesh.nodes[0].crdt
        self._writers: dict[str, int] = {}
        self._waiting: dict[tuple[int, str], list[_Read]] = {}
        self._listening = False
        self.counts: dict[str, int] = {}
        """Reads per ``"level/outcome"`` and ``"level/stale"``; writes per kind."""
        mesh.track_heard()
        mesh.on_write(self._note_write)

    # -- writes --------------------------------------------------------------------------

    def _note_write(self, region: int, key: str, version: int) -> None:
        writers = self._writers
        writers[key] = writers.get(key, 0) | (1 << region)

    def write(
        self,
        region: int,
        kind: str,
        key: str,
        value: Mapping[str, Any] | None,
        on_done: OnDone,
        session: Session | None = None,
    ) -> int:
        """Commit a write at ``region`` now (returns its version); ``on_done`` follows after
        the service time with the write's record."""
        start = self.mesh.now()
        version = self.mesh.write(region, kind, key, value)
        if session is not None:
            self.note_write(session, region, kind, key, value, version)
        record = OpRecord(
            kind, key, region, region, start, self.service, EVENTUAL, "local", 0.0, version, 0, 0.0
        )
        self.mesh.call_later(self.service, self._write_done, on_done, record)
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

    def _write_done(self, on_done: OnDone, record: OpRecord) -> None:
        self._count(record)
        on_done(OpResult(None, record.version, record))

    # -- reads ---------------------------------------------------------------------------

    def read(
        self,
        region: int,
        key: str,
        level: str,
        on_done: OnDone,
        session: Session | None = None,
        max_staleness: float | None = None,
    ) -> None:
        """Read ``key`` at ``region`` with consistency ``level``; ``on_done(OpResult)`` later.
        Arguments are positional-friendly so a kernel can schedule the call directly:
        ``kernel.call_at(t, coordinator.read, region, key, "session", on_done, session)``.

        Raises ``ValueError`` (unknown level, bad bound) or ``TypeError`` (session) before
        anything is scheduled.
        """
        if session is not None and not isinstance(session, Session):
            raise TypeError(f"session must be an edgekv Session, got {type(session).__name__}")
        mesh = self.mesh
        now = mesh.now()
        op = _Read(region, key, level, on_done, session, now, mesh.oracle.latest(key))
        if level == EVENTUAL:
            self._local(op)
        elif level == SESSION:
            node = self._nodes[region]
            if session is None or session.satisfied_by(
                self._crdt, key, node.record(key), node.repl.stable_clock
            ):
                self._local(op)
            else:
                self._wait(op)
        elif level == BOUNDED:
            bound = (
                self.max_staleness
                if max_staleness is None
                else _positive(max_staleness, "max_staleness")
            )
            heard = mesh.heard
            assert heard is not None
            row = heard[region]
            oldest = now - bound
            if all(row[o] >= oldest for o in range(len(row)) if o != region):
                self._local(op)
            else:
                self._gather(op)
        elif level == STRONG:
            self._gather(op)
        else:
            raise ValueError(f"unknown consistency {level!r}; allowed: {', '.join(LEVELS)}")

    def _local(self, op: _Read) -> None:
        node = self._nodes[op.region]
        node.stats.reads += 1
        self.mesh.call_later(self.service, self._finish, op, node.record(op.key), op.region)

    def _wait(self, op: _Read) -> None:
        assert op.session is not None
        origin = op.session.version(op.key) & _REGION_MASK
        bound = (
            self.latency.rtt[op.region][origin]
            if self.session_wait is None
            else (self.session_wait)
        )
        if bound <= 0:
            self._gather(op)
            return
        if not self._listening:
            self._listening = True
            self.mesh.on_apply(self._applied, every_change=True)
        op.outcome = "waiting"
        self._waiting.setdefault((op.region, op.key), []).append(op)
        self.mesh.call_later(bound, self._wait_over, op)

    def _applied(self, region: int, key: str, version: int) -> None:
        waiters = self._waiting.get((region, key))
        if not waiters:
            return
        record = self._nodes[region].record(key)
        crdt = self._crdt
        ready = [
            op
            for op in waiters
            if op.session is not None and op.session.satisfied_by(crdt, key, record)
        ]
        if not ready:
            return
        now = self.mesh.now()
        for op in ready:
            waiters.remove(op)
            op.outcome = "waited"
            op.waited = now - op.start
            self._local(op)
        if not waiters:
            del self._waiting[(region, key)]

    def _wait_over(self, op: _Read) -> None:
        if op.outcome != "waiting":
            return
        waiters = self._waiting[(op.region, op.key)]
        waiters.remove(op)
        if not waiters:
            del self._waiting[(op.region, op.key)]
        op.waited = self.mesh.now() - op.start
        self._gather(op)

    def _gather(self, op: _Read) -> None:
        """Read the key at every region that ever wrote it (one round trip each, in parallel)
        and join: nothing committed before now is missed."""
        writers = self._writers.get(op.key, 0) & ~(1 << op.region)
        if not writers:
            self._local(op)
            return
        op.outcome = "forwarded"
        op.rec = self._nodes[op.region].record(op.key)
        one_way = self.latency.one_way
        call_later = self.mesh.call_later
        target = 0
        while writers:
            if writers & 1:
                op.pending += 1
                call_later(one_way(op.region, target), self._remote, op, target)
            writers >>= 1
            target += 1

    def _remote(self, op: _Read, target: int) -> None:
        node = self._nodes[target]
        node.stats.reads += 1
        delay = self.service + self.latency.one_way(op.region, target)
        self.mesh.call_later(delay, self._gathered, op, node.record(op.key), target)

    def _gathered(self, op: _Read, rec: Record | None, source: int) -> None:
        if rec is not None:
            op.rec = rec if op.rec is None else self._crdt.join(op.rec, rec)
        op.pending -= 1
        if op.pending == 0:
            served = source if op.rec is None else op.rec[1] & _REGION_MASK
            self._finish(op, op.rec, served)

    def _finish(self, op: _Read, rec: Record | None, served: int) -> None:
        now = self.mesh.now()
        key = op.key
        if rec is None:
            doc, version = None, 0
        else:
            doc = None if rec[0] is None else dict(rec[0])
            version = rec[1]
        behind, seconds = self.mesh.oracle.score(key, rec, op.latest, op.start)
        if op.session is not None:
            if rec is None and op.outcome == "forwarded":
                op.session.forget(key)  # gone at every region that wrote it
            else:
                op.session.observe(self._crdt, key, rec)
        result = op.result(doc, version, served, now, op.level, op.outcome, behind, seconds)
        self._count(result.record)
        op.on_done(result)

    def _count(self, record: OpRecord) -> None:
        counts = self.counts
        name = f"{record.consistency}/{record.outcome}" if record.kind == "get" else record.kind
        counts[name] = counts.get(name, 0) + 1
        if record.stale_versions:
            name = f"{record.consistency}/stale"
            counts[name] = counts.get(name, 0) + 1
        if self._keep:
            self.records.append(record)


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)
