"""The system under test: the :class:`Store` protocol every design implements, and the
vocabulary it speaks (operations, levels, outcomes, results).

A store is sans-IO: it takes an :class:`Op` at the scheduler's current time and completes it
exactly once, later, through a callback with an :class:`OpResult`. Drivers (the kernel, asyncio
in virtual or real time, the HTTP server) and applications (benchmark runner, pytest plugin,
history checks) are written once against it. Requests between regions cross the
:class:`~edgekv.lowlevel.Network`, so a cut or paused link stops them as it stops replication;
an operation that cannot complete within the config's ``request_timeout`` completes as
``unavailable`` after that timeout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from .crdt import CRDT, FieldLWW, ItemLWW, Record

if TYPE_CHECKING:
    from .config import Config
    from .network import Network
    from .oracle import Oracle

__all__ = [
    "LOCATION_HINTS",
    "Level",
    "OnDone",
    "Op",
    "OpKind",
    "OpRecord",
    "OpResult",
    "Outcome",
    "Pending",
    "Route",
    "Scheduler",
    "Session",
    "Store",
]


class OpKind(StrEnum):
    """What an operation does."""

    GET = "get"
    PUT = "put"
    PATCH = "patch"
    DELETE = "delete"


class Level(StrEnum):
    """Read consistency levels (a store lists those it supports in ``Store.levels``)."""

    EVENTUAL = "eventual"
    SESSION = "session"
    BOUNDED = "bounded"
    STRONG = "strong"


class Route(StrEnum):
    """How an operation was served."""

    LOCAL = "local"
    """By the client's edge region."""
    WAITED = "waited"
    """Locally, after waiting for replication."""
    FORWARDED = "forwarded"
    """By at least one other region."""


class Outcome(StrEnum):
    """Whether an operation succeeded."""

    OK = "ok"
    UNAVAILABLE = "unavailable"
    """Could not complete within ``request_timeout`` (a cut link, a lost request)."""
    ERROR = "error"
    """Refused by the system (a conflict, a rate limit); ``OpRecord.error`` says why."""


class Op(NamedTuple):
    """One client operation issued at ``region`` (an index)."""

    kind: OpKind
    region: int
    key: str
    value: Mapping[str, Any] | None = None
    """A put's document or a patch's fields; None for get and delete."""
    level: str = Level.EVENTUAL
    """Read level, a :class:`Level` (writes ignore it)."""
    session: Session | None = None
    max_staleness: float | None = None
    """Bound of a ``bounded`` read, seconds (None: the store's default)."""
    location_hint: int | str | None = None
    """Where a store that places keys should place a new one: a region index, or a name of
    :data:`LOCATION_HINTS` (Cloudflare's Durable Object hints)."""


class OpRecord(NamedTuple):
    """What one operation cost and what it saw. Times in seconds of the driver's clock."""

    kind: OpKind
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
    """The read level, or the system's name for systems with one level."""
    route: Route
    waited: float
    """Seconds spent waiting: for replication (session) or in the key's queue (single-home)."""
    version: int
    """Version read or written (0: never written, or not completed)."""
    stale_versions: int
    """Versions committed before the read started and newer than the one it returned."""
    stale_seconds: float
    """How long the first of those had been committed when the read started (0 if fresh)."""
    outcome: Outcome = Outcome.OK
    error: str = ""
    """Why an operation failed (empty when ok)."""

    @property
    def ok(self) -> bool:
        """True when the operation succeeded."""
        return self.outcome is _OK

    @property
    def forwarded(self) -> bool:
        """True when another region served (part of) the operation."""
        return self.route is Route.FORWARDED

    @property
    def stale(self) -> bool:
        """True when the read missed a version committed before it started."""
        return self.stale_versions > 0

    @property
    def stale_ms(self) -> float:
        """:attr:`stale_seconds` in milliseconds."""
        return self.stale_seconds * 1e3


class OpResult(NamedTuple):
    """The answer of an operation: the document (a private copy; ``None`` if absent, deleted
    or failed), its version and the :class:`OpRecord`."""

    doc: dict[str, Any] | None
    version: int
    record: OpRecord


OnDone = Callable[[OpResult], None]
"""Completion callback: called exactly once, from the scheduler, never from inside the call
that started the operation."""


class Scheduler(Protocol):
    """What a driver must offer a store: a clock and callbacks at a time (the
    :class:`~edgekv.lowlevel.Kernel`, or an asyncio loop)."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> Any: ...


class Store(Protocol):
    """A system under test. Contract for drivers: call :meth:`submit` at the scheduler's
    current time; ``on_done`` runs once, later, from the scheduler."""

    system: str
    """Its name, as ``edgekv bench --systems`` spells it."""
    levels: tuple[Level, ...]
    """Read levels it serves; the first is its default."""
    cfg: Config
    network: Network
    oracle: Oracle
    """Every committed version, to score reads."""
    in_flight: int
    """Operations submitted and not completed yet."""

    def now(self) -> float:
        """Seconds since the store started."""
        ...

    def submit(self, op: Op, on_done: OnDone) -> None:
        """Start ``op`` now; raises ``ValueError``/``TypeError`` before scheduling anything
        when the op is malformed (an unknown level, a bad session)."""
        ...

    def quiet(self) -> bool:
        """True when nothing is in flight, background work (replication) included."""
        ...

    def documents(self, region: int) -> Mapping[str, Mapping[str, Any]]:
        """The live documents a region holds (read-only view, for tests and inspection)."""
        ...

    def stats(self) -> dict[str, Any]:
        """Counters, as plain data."""
        ...

    def close(self) -> None:
        """Stop timers; scheduled callbacks become no-ops."""
        ...


class Session:
    """A client's session token: per key, the least state a replica must hold to serve this
    client, the join of every write it made and every record it read; and the newest version
    it has seen of anything (a D1-style bookmark).

    Carry it across regions (``Region.get(key, "session", session=s)``, ``put(..., session=s)``)
    to get read-your-writes and monotonic reads. :meth:`token` is plain data a client could
    keep in a cookie; ``Session(token)`` restores it.
    """

    __slots__ = ("_need", "bookmark")

    def __init__(self, token: Mapping[str, Sequence[Any]] | None = None) -> None:
        self._need: dict[str, Record] = {}
        self.bookmark = 0
        """The newest version this session wrote or read, of any key."""
        if token is not None and not isinstance(token, Mapping):
            raise TypeError(
                f"a session token is a mapping of keys to records, got {type(token).__name__}"
            )
        for key, rec in (token or {}).items():
            if not isinstance(key, str):
                raise TypeError(f"session token keys are strings, got {type(key).__name__}")
            # Checked as a replica checks records from the wire (a token may come back from
            # a cookie): a malformed one would otherwise fail inside a later session read.
            data = list(rec) if isinstance(rec, list | tuple) else []
            try:
                record = (_FIELD if len(data) > 2 else _ITEM).from_wire(data)
            except ValueError:
                raise ValueError(
                    f"session token entry of {key!r} must be a record [doc, version, ...]"
                ) from None
            self._need[key] = record
            self.bookmark = max(self.bookmark, record.version)

    def __repr__(self) -> str:
        return f"<Session {len(self._need)} keys>"

    def observe(self, crdt: CRDT, key: str, record: Record | None) -> None:
        """Note that this client wrote or read ``record`` of ``key``. O(fields)."""
        if record is not None:
            self._need[key] = crdt.join(self._need.get(key), record)
            if record.version > self.bookmark:
                self.bookmark = record.version

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
            return need.doc is None and need.version < stable
        return crdt.covers(record, need)

    def forget(self, key: str) -> None:
        """Drop ``key`` from the token: every region that wrote it has collected it."""
        self._need.pop(key, None)

    def version(self, key: str) -> int:
        """The newest version of ``key`` this session has written or read (0: none)."""
        need = self._need.get(key)
        return 0 if need is None else need.version

    def token(self) -> dict[str, list[Any]]:
        """The token as plain data (lists of msgpack/JSON-able values)."""
        return {key: list(rec) for key, rec in self._need.items()}


_ITEM, _FIELD = ItemLWW(), FieldLWW()
"""What a session token's records are checked with: two items, either granularity's form;
more, the field form's invariants."""

_new = tuple.__new__
"""Builds a NamedTuple from a tuple of all its fields at half the cost of calling its class
(which goes through a Python-level ``__new__``): used for the records of every operation."""
_OK = Outcome.OK
"""Enum members bound once: looking one up on its class costs ten times a global."""


class Pending:
    """An operation in flight: completes exactly once, with a result or as failed (slotted;
    the base of every store's operation state)."""

    __slots__ = ("op", "on_done", "start", "waited", "done")

    def __init__(self, op: Op, on_done: OnDone, start: float) -> None:
        self.op = op
        self.on_done = on_done
        self.start = start
        self.waited = 0.0
        self.done = False

    def complete(
        self,
        now: float,
        doc: dict[str, Any] | None,
        version: int,
        served: int,
        consistency: str,
        route: Route,
        stale_versions: int = 0,
        stale_seconds: float = 0.0,
    ) -> OpRecord | None:
        """Answer at ``now``, given by region ``served``; None (and nothing called) when the
        operation already completed, e.g. timed out. O(1)."""
        if self.done:
            return None
        self.done = True
        op = self.op
        start = self.start
        record: OpRecord = _new(
            OpRecord,
            (
                op.kind,
                op.key,
                op.region,
                served,
                start,
                now - start,
                consistency,
                route,
                self.waited,
                version,
                stale_versions,
                stale_seconds,
                _OK,
                "",
            ),
        )
        self.on_done(_new(OpResult, (doc, version, record)))
        return record

    def fail(
        self, now: float, outcome: Outcome, error: str, consistency: str, served: int = -1
    ) -> OpRecord | None:
        """Complete as ``unavailable`` or ``error`` at ``now``; None if already completed."""
        if self.done:
            return None
        self.done = True
        op = self.op
        route = Route.LOCAL if served in (-1, op.region) else Route.FORWARDED
        record = OpRecord(
            op.kind,
            op.key,
            op.region,
            op.region if served < 0 else served,
            self.start,
            now - self.start,
            consistency,
            route,
            self.waited,
            0,
            0,
            0.0,
            outcome,
            error,
        )
        self.on_done(OpResult(None, 0, record))
        return record


def check_op(op: Op, n_regions: int, levels: tuple[Level, ...]) -> None:
    """Raise ``ValueError``/``TypeError`` for an op no store may accept: an unknown kind or
    level, a region or hint out of range, a session of the wrong type, a bad bound."""
    if op.kind not in _KINDS:
        raise ValueError(f"unknown operation {op.kind!r}; allowed: {', '.join(_KINDS)}")
    if not 0 <= op.region < n_regions:
        raise ValueError(f"region index must be in 0..{n_regions - 1}, got {op.region!r}")
    if op.kind == _GET and op.level not in levels:
        allowed = ", ".join(levels)
        raise ValueError(f"unknown consistency {op.level!r}; allowed: {allowed}")
    if op.session is not None and not isinstance(op.session, Session):
        raise TypeError(f"session must be an edgekv Session, got {type(op.session).__name__}")
    hint = op.location_hint
    if hint is not None and not (
        hint in LOCATION_HINTS if isinstance(hint, str) else 0 <= hint < n_regions
    ):
        raise ValueError(
            f"location_hint must be a region index or one of {', '.join(LOCATION_HINTS)}, "
            f"got {hint!r}"
        )
    bound = op.max_staleness
    if bound is not None and (
        isinstance(bound, bool) or not isinstance(bound, int | float) or not 0 < bound < math.inf
    ):
        raise ValueError(f"max_staleness must be a positive number of seconds, got {bound!r}")


_KINDS = tuple(OpKind)
_GET = OpKind.GET

LOCATION_HINTS: dict[str, tuple[float, float]] = {
    "wnam": (37.8, -122.2),
    "enam": (39.1, -77.7),
    "sam": (-23.5, -46.6),
    "weur": (51.5, -0.1),
    "eeur": (52.2, 21.0),
    "apac": (1.35, 103.8),
    "oc": (-33.9, 151.2),
    "afr": (-26.2, 28.0),
    "me": (25.3, 55.3),
}
"""Cloudflare's Durable Object location hints (developers.cloudflare.com/durable-objects,
"Data location": wnam, enam, sam, weur, eeur, apac, oc, afr, me) and a reference point of
each area (latitude, longitude in degrees: San Francisco, Northern Virginia, Sao Paulo,
London, Warsaw, Singapore, Sydney, Johannesburg, Dubai). A hint places an object at the
configured host nearest that point, the documented fallback for an area without a location
of its own."""
