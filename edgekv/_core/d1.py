"""Cloudflare D1 with read replication: a primary takes every write, read replicas apply its
log after the replication lag, and the Sessions API's bookmarks keep a session sequentially
consistent. :class:`D1Replicas` is a :class:`~edgekv.Store`;
``Cluster(system="d1-replicas", options={...})`` drives it under asyncio.

What it models, each from Cloudflare's documentation
(https://developers.cloudflare.com/d1/best-practices/read-replication/ unless said otherwise):

* One primary, in region ``primary`` (default: the config's first region): "the primary
  database instance ... only exists in one location in the world" (D1 glossary,
  https://developers.cloudflare.com/d1/reference/glossary/), and "All write queries are still
  forwarded to the primary database instance", so a write pays the round trip to it.
* Read replicas in ``replicas`` (default: every region; D1 "automatically creates a read replica
  in every supported region, including the region where the primary database instance is
  located"), which "asynchronously receive updates from the primary": each log entry reaches a
  replica after a draw of the config's replication lag on the link from the primary (the
  :class:`~edgekv.lowlevel.Network`, so loss, duplication and partitions apply), and a replica
  applies the log in order. An entry lost on the way is sent again after ``request_timeout``
  (the replica's pull retried; D1 does not publish its catch-up mechanism).
* ``session`` reads (the Sessions API): the session's bookmark (``Session.bookmark``, the
  newest version it has written or read; "Bookmarks are lexicographically sortable", here
  integers) must be covered by the copy that serves it: "the read replica will wait until it
  has been updated to be at least as up-to-date as the provided bookmark". A session's first
  read (bookmark 0) follows ``session_start``: ``"first-unconstrained"`` (the default, as
  ``withSession()``) goes to the nearest copy whatever its state, ``"first-primary"`` to the
  primary ("route the first query to the primary database instance"). A replica behind the
  bookmark sends the read to the primary when ``behind="primary"`` (the default: D1 "routes
  those requests to an appropriate copy of the database (either the primary or a replica)
  based on ... the query consistency needs", https://blog.cloudflare.com/d1-read-replication-beta/)
  or holds it until it catches up with ``behind="wait"`` (the documentation's diagram). The
  answer's bookmark is the serving copy's position, so a session reads its own writes and
  never reads backwards.
* ``eventual`` reads: each read is a new ``first-unconstrained`` session carrying no bookmark,
  so the nearest copy answers as is, whatever ``op.session`` says ("Your subsequent SQL read
  query goes to a read replica. The read replica has not yet been updated ... The returned
  results are inconsistent from your perspective."). Without the Sessions API at all, D1 runs
  every query on the primary ("otherwise all queries will continue to be executed only by the
  primary database"): that is ``session`` reads with ``session_start="first-primary"`` and no
  session.

A ``session`` read without a session, or whose session has not seen a write yet (bookmark 0),
is a first read. Left out: SQL (one document per key stands for a row), transactions and
batches, the queue of queries at each copy ("Each individual D1 database is inherently
single-threaded, and processes queries one at a time", https://developers.cloudflare.com/d1/platform/limits/;
here copies serve concurrently), replicas going inactive without traffic, the primary's
location hints and jurisdictions, Time Travel and pricing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .config import Config
from .errors import ConfigError
from .store import Level, OnDone, Op, OpKind, Pending, Route, Scheduler, check_op
from .storebase import StoreBase, applied
from .versions import EPOCH_MS, HybridClock

__all__ = ["D1Replicas"]

D1_REPLICAS = "d1-replicas"
"""The system's name, as ``edgekv bench --systems`` spells it."""

LEVELS = (Level.SESSION, Level.EVENTUAL)
"""``session``: the Sessions API; ``eventual``: the nearest copy as is."""

SESSION_STARTS = ("first-unconstrained", "first-primary")
"""Where a session's first read goes: the nearest copy, or the primary."""

BEHIND = ("primary", "wait")
"""What a replica behind a session's bookmark does with its read."""

STREAM_D1 = 122
"""Generator stream of D1 request delays (the network uses 0)."""

_Row = tuple[dict[str, Any] | None, int]
"""A key's document (None: absent or deleted) and version at one copy."""


def _choice(value: Any, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise ConfigError(option, f"must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def _region(cfg: Config, name: Any, option: str) -> int:
    if not isinstance(name, str) or name not in cfg.names:
        raise ConfigError(option, f"must be a region name ({', '.join(cfg.names)}), got {name!r}")
    return cfg.region(name).index


class _Copy:
    """The database at one region: the primary, or a replica applying its log in order."""

    __slots__ = ("rows", "position", "next_seq", "arrived", "waiting")

    def __init__(self) -> None:
        self.rows: dict[str, _Row] = {}
        self.position = 0
        """Version of the newest log entry applied (the copy's bookmark)."""
        self.next_seq = 0
        """Sequence number of the next log entry to apply."""
        self.arrived: set[int] = set()
        """Entries received out of order, waiting for the ones before them."""
        self.waiting: list[tuple[int, _Op]] = []
        """Session reads held until ``position`` reaches their bookmark."""


class _Op(Pending):
    """One operation on its way to, at, or back from the copy that serves it."""

    __slots__ = ("latest", "bookmark", "hops")

    def __init__(self, op: Op, on_done: OnDone, start: float, latest: int, bookmark: int) -> None:
        super().__init__(op, on_done, start)
        self.latest = latest
        """The oracle's newest version of the key when the operation started."""
        self.bookmark = bookmark
        """The least position a copy must have applied to serve this read (0: any)."""
        self.hops = 0


class D1Replicas(StoreBase):
    """Primary plus read replicas with the Sessions API, by callbacks: the
    :class:`~edgekv.Store` of D1 read replication.

    A write costs the round trip to the primary plus the service time; a read the service time
    at the nearest copy, plus the round trip to it when it is not local and to the primary
    when it is behind the session's bookmark (or the wait for replication). Every request
    crosses the network (a cut link fails the operation as ``unavailable`` after
    ``request_timeout``). O(1) events per operation; a write costs one message per replica.
    """

    system = D1_REPLICAS
    levels: tuple[Level, ...] = LEVELS

    def __init__(
        self,
        cfg: Config,
        seed: int,
        scheduler: Scheduler,
        *,
        primary: str | None = None,
        replicas: Sequence[str] | None = None,
        session_start: str = "first-unconstrained",
        behind: str = "primary",
        stream: int = STREAM_D1,
    ) -> None:
        self.primary = 0 if primary is None else _region(cfg, primary, "primary")
        """Index of the primary's region."""
        if isinstance(replicas, str) or not isinstance(replicas, Sequence | None):
            raise ConfigError("replicas", f"must be a list of region names, got {replicas!r}")
        names = cfg.names if replicas is None else replicas
        where = {_region(cfg, name, "replicas") for name in names} | {self.primary}
        self.session_start = _choice(session_start, SESSION_STARTS, "session_start")
        self.behind = _choice(behind, BEHIND, "behind")
        super().__init__(cfg, seed, scheduler, stream)
        region = cfg.regions[self.primary]
        self._clock = HybridClock(region.index, region.clock_skew * 1e3)
        n = len(cfg.regions)
        self._copies: list[_Copy | None] = [_Copy() if i in where else None for i in range(n)]
        self._replicas = sorted(where - {self.primary})
        rtt = self.latency.rtt
        self._nearest = [min(sorted(where), key=rtt[r].__getitem__) for r in range(n)]
        """Per client region, the region of the nearest copy (ties: the lowest index)."""
        self._log: dict[int, tuple[str, dict[str, Any] | None, int, int]] = {}
        """Log entries not yet applied everywhere: seq -> (key, doc, version, replicas left)."""
        self._seq = 0
        self._shipping = 0
        self._closed = False
        self.counts: list[dict[str, int]] = [
            dict.fromkeys(("local", "forwarded", "to_primary", "waited", "unavailable"), 0)
            for _ in range(n)
        ]
        """Per client region: reads served by the local copy, by another copy, sent to the
        primary because the replica was behind the bookmark, held for replication; and
        operations that failed for lack of an answer."""
        self.resent = 0
        """Log entries sent again after being lost."""

    def quiet(self) -> bool:
        """True when no operation and no log entry is in flight."""
        return not self.in_flight and not self._shipping

    def close(self) -> None:
        """Stop replication: entries in flight and resends become no-ops."""
        self._closed = True

    def documents(self, region: int) -> Mapping[str, Mapping[str, Any]]:
        """The live documents of a region's copy (none where D1 keeps no copy)."""
        copy = self._copies[region]
        if copy is None:
            return {}
        return {key: doc for key, (doc, _) in copy.rows.items() if doc is not None}

    def position(self, region: int) -> int:
        """Bookmark of a region's copy: the version of the newest write it has applied (0
        where there is no copy, or nothing applied)."""
        copy = self._copies[region]
        return 0 if copy is None else copy.position

    def stats(self) -> dict[str, Any]:
        """Counters per region, of replication and of requests."""
        return {
            "regions": {
                name: {**self.counts[i], "copy": self._copies[i] is not None}
                for i, name in enumerate(self.cfg.names)
            },
            "primary": self.cfg.names[self.primary],
            "replication": {
                "entries": self._seq,
                "pending": len(self._log),
                "resent": self.resent,
                "network": self.network.stats.as_dict(),
            },
            "requests": {"lost": self.requests.lost, "timed_out": self.requests.timed_out},
            "in_flight": self.in_flight,
        }

    # -- operations ----------------------------------------------------------------------

    def submit(self, op: Op, on_done: OnDone) -> None:
        """Start ``op`` now: a write at the primary, a read at the copy its level and session
        choose. Raises ``ValueError``/``TypeError`` for a malformed op before scheduling
        anything."""
        check_op(op, len(self._copies), LEVELS)
        region = op.region
        session = op.session
        bookmark = 0
        if op.kind == OpKind.GET and op.level == Level.SESSION and session is not None:
            bookmark = session.bookmark
        pending = _Op(op, on_done, self.now(), self.oracle.latest(op.key), bookmark)
        self.in_flight += 1
        first_primary = self.session_start == "first-primary" and bookmark == 0
        if op.kind != OpKind.GET or (op.level == Level.SESSION and first_primary):
            target = self.primary
        else:
            target = self._nearest[region]
        if target == region:
            self._arrive(pending, target)
        else:
            self._send(pending, region, target)

    def _send(self, pending: _Op, src: int, dst: int) -> None:
        if pending.hops == 0:
            self.requests.guard(pending, pending.op.level, self._expired)
        pending.hops += 1
        self.requests.send(src, dst, self.latency.one_way(src, dst), self._arrive, pending, dst)

    def _expired(self, pending: Pending) -> None:
        self.in_flight -= 1
        self.counts[pending.op.region]["unavailable"] += 1

    def _arrive(self, pending: _Op, at: int) -> None:
        if pending.done:
            return
        if pending.op.kind != OpKind.GET:
            self._commit(pending)
            return
        copy = self._copies[at]
        assert copy is not None
        if copy.position >= pending.bookmark or at == self.primary:
            self._serve(pending, at)
        elif self.behind == "primary":
            self.counts[pending.op.region]["to_primary"] += 1
            self._send(pending, at, self.primary)
        else:
            if pending.hops == 0:
                self.requests.guard(pending, pending.op.level, self._expired)
            copy.waiting.append((pending.bookmark, pending))

    def _serve(self, pending: _Op, at: int) -> None:
        copy = self._copies[at]
        assert copy is not None
        doc, version = copy.rows.get(pending.op.key, (None, 0))
        self._reply(pending, at, doc, version, copy.position)

    def _reply(
        self, pending: _Op, at: int, doc: dict[str, Any] | None, version: int, position: int
    ) -> None:
        region = pending.op.region
        delay = self.service + self.latency.one_way(region, at)
        if at == region:
            self._later(delay, self._done, pending, doc, version, position, at)
        else:
            self.requests.send(at, region, delay, self._done, pending, doc, version, position, at)

    def _done(
        self,
        pending: _Op,
        doc: dict[str, Any] | None,
        version: int,
        position: int,
        served: int,
    ) -> None:
        if pending.done:
            return
        self.in_flight -= 1
        now = self.now()
        op = pending.op
        session = op.session
        if session is not None and (op.kind != OpKind.GET or op.level == Level.SESSION):
            session.bookmark = max(session.bookmark, position)
        behind, seconds = 0, 0.0
        if op.kind == OpKind.GET and version < pending.latest:
            score = self.oracle.score_version
            behind, seconds = score(op.key, version, pending.latest, pending.start)
        if pending.hops:
            route = Route.FORWARDED
        elif pending.waited:
            route = Route.WAITED
        else:
            route = Route.LOCAL
        if op.kind == OpKind.GET:
            self.counts[op.region]["local" if served == op.region else "forwarded"] += 1
        copy = None if doc is None else dict(doc)
        pending.complete(now, copy, version, served, op.level, route, behind, seconds)

    # -- writes and replication ------------------------------------------------------------

    def _commit(self, pending: _Op) -> None:
        now = self.now()
        op = pending.op
        key = op.key
        primary = self._copies[self.primary]
        assert primary is not None
        old = primary.rows.get(key, (None, 0))[0]
        doc = applied(old, op)
        version = self._clock.now(EPOCH_MS + now * 1e3)
        primary.rows[key] = (doc, version)
        primary.position = version
        self.oracle.commit(key, version, now)
        seq = self._seq
        self._seq += 1
        if self._replicas:
            self._log[seq] = (key, doc, version, len(self._replicas))
            for dst in self._replicas:
                self._ship(dst, seq)
        self._reply(pending, self.primary, None, version, version)

    def _ship(self, dst: int, seq: int) -> None:
        """Send log entry ``seq`` to the replica at ``dst``; resend it after the request
        timeout if the network loses it."""
        if self._closed:
            return
        now = self.now()
        src = self.primary
        delays = () if self.network.blocked(src, dst, now) else self.network.route(src, dst, now)
        if not delays:
            self._shipping += 1
            self._later(self.cfg.request_timeout, self._resend, dst, seq)
            return
        for delay in delays:
            self._shipping += 1
            self._later(delay, self._deliver, dst, seq)

    def _resend(self, dst: int, seq: int) -> None:
        self._shipping -= 1
        self.resent += 1
        self._ship(dst, seq)

    def _deliver(self, dst: int, seq: int) -> None:
        self._shipping -= 1
        copy = self._copies[dst]
        if self._closed or copy is None or seq < copy.next_seq:
            return
        copy.arrived.add(seq)
        log = self._log
        while copy.next_seq in copy.arrived:
            applied = copy.next_seq
            copy.arrived.discard(applied)
            key, doc, version, left = log[applied]
            copy.rows[key] = (doc, version)
            copy.position = version
            copy.next_seq += 1
            if left == 1:
                del log[applied]
            else:
                log[applied] = (key, doc, version, left - 1)
        if copy.waiting:
            self._wake(copy, dst)

    def _wake(self, copy: _Copy, at: int) -> None:
        now = self.now()
        still = []
        for bookmark, pending in copy.waiting:
            if pending.done:
                continue
            if bookmark <= copy.position:
                pending.waited = now - pending.start
                self.counts[pending.op.region]["waited"] += 1
                self._serve(pending, at)
            else:
                still.append((bookmark, pending))
        copy.waiting = still
