"""The Durable-Object-style baseline: every key lives in one home region, the region of its
first write (or a location hint), and never moves unless ``migrate_after`` says so.

Every operation from another region pays the round trip to the home plus the service time;
operations on one key are served one at a time, first come first served, at the home, so
reads are linearizable (staleness always 0). :class:`SingleHome` is a
:class:`~edgekv.Store` (any scheduler with ``time()`` and ``call_at(when, fn, *args)``,
e.g. the Kernel); ``Cluster(system="single-home")`` drives it under asyncio.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .config import Config, great_circle_km
from .store import (
    LOCATION_HINTS,
    Level,
    OnDone,
    Op,
    OpKind,
    Pending,
    Route,
    Scheduler,
    check_op,
)
from .storebase import StoreBase, applied
from .versions import EPOCH_MS, HybridClock

__all__ = ["SingleHome"]

SINGLE_HOME = "single-home"
"""The ``consistency`` of single-home records (linearizable)."""

STREAM_SINGLEHOME = 102
"""Generator stream of single-home request delays (the network uses 0)."""

LEVELS = (Level.STRONG,)
"""Every read is linearizable; a single-home store serves no other level."""
_ANY_LEVEL = tuple(Level)
"""The levels a read may ask for (each served linearizably)."""
_GET, _LOCAL, _FORWARDED = OpKind.GET, Route.LOCAL, Route.FORWARDED
"""Enum members bound once: looking one up on its class costs ten times a global."""

WRITE_FLUSH = 0.012
"""Seconds a write's answer waits for its storage flush: a public benchmark (Lumenize,
cited in shared/data/systems.md) measured a Durable Object's flush at about 10-13 ms."""

JURISDICTIONS: dict[str, tuple[str, ...]] = {
    "eu": ("Germany West Central", "North Europe", "West Europe", "France Central"),
    "us": ("East US", "East US 2", "West US", "West US 2", "Central US"),
    "fedramp": ("East US", "East US 2", "West US", "West US 2", "Central US"),
}
"""Regions (by the Azure names of the packaged topology) inside each Durable Object
jurisdiction (developers.cloudflare.com/durable-objects, "Data location": eu, fedramp, us);
any other config names its own list."""


def _allowed(
    cfg: Config, hosts: Sequence[str] | None, jurisdiction: str | Sequence[str] | None
) -> list[int]:
    """Region indexes an object may live in; ``ValueError`` naming the option when a name is
    unknown or nothing is left."""
    names = cfg.names
    allowed = set(range(len(names)))
    if hosts is not None:
        allowed &= {_region_index(cfg, name, "hosts") for name in hosts}
    if jurisdiction is not None:
        if isinstance(jurisdiction, str):
            if jurisdiction not in JURISDICTIONS:
                raise ValueError(
                    f"jurisdiction must be one of {', '.join(JURISDICTIONS)} or a list of "
                    f"region names, got {jurisdiction!r}"
                )
            inside = {i for i, name in enumerate(names) if name in JURISDICTIONS[jurisdiction]}
        else:
            inside = {_region_index(cfg, name, "jurisdiction") for name in jurisdiction}
        allowed &= inside
    if not allowed:
        raise ValueError(f"no configured region is both a host and inside {jurisdiction!r}")
    return sorted(allowed)


def _region_index(cfg: Config, name: Any, option: str) -> int:
    if not isinstance(name, str) or name not in cfg.names:
        raise ValueError(f"{option}: unknown region {name!r}; known: {', '.join(cfg.names)}")
    return cfg.region(name).index


def _check_migrate_after(value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"migrate_after must be None or an int >= 1, got {value!r}")


class _Object:
    """One key's object at its home: state, queue tail and the migration streak."""

    __slots__ = ("home", "doc", "version", "busy_until", "streak_region", "streak")

    def __init__(self, home: int) -> None:
        self.home = home
        self.doc: dict[str, Any] | None = None
        self.version = 0
        self.busy_until = 0.0
        self.streak_region = -1
        self.streak = 0


class _Op(Pending):
    """One operation on its way to, at, or back from the key's home."""

    __slots__ = ("hops",)

    def __init__(self, op: Op, on_done: OnDone, start: float) -> None:
        super().__init__(op, on_done, start)
        self.hops = 0


class SingleHome(StoreBase):
    """Single-home store driven by callbacks: the :class:`~edgekv.Store` of the
    Durable-Object-style design.

    An op travels to the key's home (``rtt/2`` + jitter), waits for the ops before it on the
    same key, is served (``service_time``) and travels back, each leg through the network (a
    cut link loses it and the op fails as ``unavailable`` after ``request_timeout``). An op
    that reaches a former home follows the object to its new one. With ``migrate_after=N``,
    after N consecutive operations on a key from the same other region the object moves
    there, taking a one-way delay during which operations on it queue. An operation costs a
    handful of events and O(fields) work.
    """

    system = SINGLE_HOME
    levels: tuple[Level, ...] = LEVELS
    duration_options = ("write_flush",)
    """Options that YAML spells with a unit."""

    def __init__(
        self,
        cfg: Config,
        seed: int,
        scheduler: Scheduler,
        *,
        migrate_after: int | None = None,
        hosts: Sequence[str] | None = None,
        jurisdiction: str | Sequence[str] | None = None,
        write_flush: float = WRITE_FLUSH,
        stream: int = STREAM_SINGLEHOME,
    ) -> None:
        _check_migrate_after(migrate_after)
        if (
            isinstance(write_flush, bool)
            or not isinstance(write_flush, int | float)
            or not 0 <= write_flush < 3600
        ):
            raise ValueError(f"write_flush must be seconds in 0..3600, got {write_flush!r}")
        self.write_flush = float(write_flush)
        self.allowed = _allowed(cfg, hosts, jurisdiction)
        """Indexes of the regions where an object may live: ``hosts`` within the
        ``jurisdiction`` (default: every region)."""
        super().__init__(cfg, seed, scheduler, stream)
        self.seed = seed
        self.migrate_after = migrate_after
        self.objects: dict[str, _Object] = {}
        self._clocks = [HybridClock(r.index, r.clock_skew * 1e3) for r in cfg.regions]
        n = len(cfg.regions)
        self._nearest = [self._place((r.lat, r.lon)) for r in cfg.regions]
        self.migrations = 0
        self.served = [0] * n
        """Operations served per home region."""
        self.forwarded = [0] * n
        """Operations per client region that were served elsewhere."""
        self.unavailable = [0] * n
        """Operations per client region that failed (no answer within the time-out)."""
        self._write_listeners: list[Callable[[int, str, int, float], None]] = []

    def on_write(self, listener: Callable[[int, str, int, float], None]) -> None:
        """Call ``listener(region, key, version, at)`` after every write its home commits:
        the client's region, the key, its new version, the commit time."""
        self._write_listeners.append(listener)

    def peek(self, key: str) -> Mapping[str, Any] | None:
        """The document as its home holds it (None if absent or deleted), without an op."""
        obj = self.objects.get(key)
        return None if obj is None else obj.doc

    def quiet(self) -> bool:
        """True when no operation is in flight (nothing runs in the background)."""
        return not self.in_flight

    def close(self) -> None:
        """Nothing runs in the background; operations in flight still complete."""

    def _place(self, point: tuple[float, float]) -> int:
        """The allowed region nearest ``point`` (latitude, longitude). O(regions)."""
        regions = self.cfg.regions
        return min(
            self.allowed,
            key=lambda i: (great_circle_km(*point, regions[i].lat, regions[i].lon), i),
        )

    def home_for(self, region: int, hint: int | str | None) -> int:
        """Where a new object first used from ``region`` lives: the allowed region nearest
        the hint's area (a hint name) or region (an index), else nearest the client; a
        jurisdiction always wins over a hint."""
        if isinstance(hint, str):
            return self._place(LOCATION_HINTS[hint])
        return self._nearest[region if hint is None else hint]

    def home_of(self, key: str) -> int | None:
        """Index of ``key``'s home region (None before its first write or hint)."""
        obj = self.objects.get(key)
        return None if obj is None else obj.home

    def documents(self, region: int) -> Mapping[str, Mapping[str, Any]]:
        """The live documents whose home is ``region``."""
        return {
            key: obj.doc
            for key, obj in self.objects.items()
            if obj.home == region and obj.doc is not None
        }

    def stats(self) -> dict[str, Any]:
        """Counters per region and in total."""
        homes = [0] * len(self.cfg.regions)
        for obj in self.objects.values():
            homes[obj.home] += 1
        return {
            "regions": {
                name: {
                    "homes": homes[i],
                    "served": self.served[i],
                    "forwarded": self.forwarded[i],
                    "unavailable": self.unavailable[i],
                }
                for i, name in enumerate(self.cfg.names)
            },
            "keys": len(self.objects),
            "migrations": self.migrations,
            "requests": {"lost": self.requests.lost, "timed_out": self.requests.timed_out},
            "in_flight": self.in_flight,
        }

    def submit(self, op: Op, on_done: OnDone) -> None:
        """Issue ``op`` now (any level reads linearizably).

        A key without a home gets one at its first write, or at its first operation that
        carries ``location_hint`` (a region index); a get of a homeless key is answered
        locally (None). Raises ``ValueError`` for a malformed op before scheduling anything.
        """
        check_op(op, len(self._clocks), _ANY_LEVEL)
        key = op.key
        region = op.region
        obj = self.objects.get(key)
        hint = op.location_hint
        if obj is None and (op.kind != _GET or hint is not None):
            obj = self.objects[key] = _Object(self.home_for(region, hint))
        target = region if obj is None else obj.home
        self.in_flight += 1
        pending = _Op(op, on_done, self.now())
        if target == region:
            self._arrive(pending, target)
        else:
            self.requests.guard(pending, SINGLE_HOME, self._expired)
            self.requests.send(
                region, target, self.latency.one_way(region, target), self._arrive, pending, target
            )

    def _expired(self, pending: Pending) -> None:
        self.in_flight -= 1
        self.unavailable[pending.op.region] += 1

    def _arrive(self, pending: _Op, at: int) -> None:
        op = pending.op
        obj = self.objects.get(op.key)
        now = self.now()
        if obj is None:
            self.served[at] += 1
            self._later(self.service, self._done, pending, None, 0, at)
            return
        if obj.home != at:
            pending.hops += 1
            delay = self.latency.one_way(at, obj.home)
            self.requests.send(at, obj.home, delay, self._arrive, pending, obj.home)
            return
        begin = now if now >= obj.busy_until else obj.busy_until
        finish = begin + self.service
        obj.busy_until = finish
        pending.waited = begin - now
        self.served[at] += 1
        kind = op.kind
        if kind != _GET:
            clock = self._clocks[at]
            clock.observe(obj.version)
            obj.version = clock.now(EPOCH_MS + begin * 1e3)
            obj.doc = applied(obj.doc, op)
            self.oracle.commit(op.key, obj.version, begin)
            for listener in self._write_listeners:
                listener(op.region, op.key, obj.version, begin)
        doc = dict(obj.doc) if kind == _GET and obj.doc is not None else None
        if self.migrate_after is not None:
            self._streak(obj, op.region, at, finish)
        back = finish + self.latency.one_way(op.region, at) - now
        if kind != _GET:
            back += self.write_flush  # the answer waits for the storage flush
        if op.region == at:
            self._later(back, self._done, pending, doc, obj.version, at)
        else:
            self.requests.send(at, op.region, back, self._done, pending, doc, obj.version, at)

    def _streak(self, obj: _Object, region: int, at: int, finish: float) -> None:
        if region == at:
            obj.streak = 0
            return
        if region == obj.streak_region:
            obj.streak += 1
        else:
            obj.streak_region, obj.streak = region, 1
        assert self.migrate_after is not None
        if obj.streak >= self.migrate_after:
            obj.home = region
            obj.busy_until = finish + self.latency.one_way(at, region)
            obj.streak = 0
            self.migrations += 1

    def _done(self, pending: _Op, doc: dict[str, Any] | None, version: int, served: int) -> None:
        if pending.done:
            return
        self.in_flight -= 1
        op = pending.op
        local = served == op.region and pending.hops == 0
        if not local:
            self.forwarded[op.region] += 1
        route = _LOCAL if local else _FORWARDED
        pending.complete(self.now(), doc, version, served, SINGLE_HOME, route)
