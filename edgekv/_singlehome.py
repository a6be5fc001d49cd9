"""The Durable-Object-style baseline: every key lives in one home region, the region of its
first write (or a location hint), and never moves unless ``migrate_after`` says so.

Every operation from another region pays the round trip to the home plus the service time;
operations on one key are served one at a time, first come first served, at the home, so
reads are linearizable (staleness always 0). :class:`SingleHome` is the callback core (any
scheduler with ``time()`` and ``call_at(when, fn, *args)``, e.g. the Kernel);
:class:`SingleHomeCluster` wraps it in the asyncio interface of :class:`~edgekv.Cluster`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

from ._cluster import ConfigSource, _check_seed, _document, _key, _resolve_config
from ._config import Config
from ._consistency import OnDone, OpRecord, OpResult, _Pending, resolve
from ._latency import LatencyModel
from ._mesh import Scheduler
from ._oracle import Oracle
from ._versions import EPOCH_MS, HybridClock
from ._vloop import current_seed

__all__ = ["HomeRegion", "SingleHome", "SingleHomeCluster"]

SINGLE_HOME = "single-home"
"""The ``consistency`` of single-home records (linearizable)."""

STREAM_SINGLEHOME = 102
"""Generator stream of single-home request delays (the network uses 0)."""

KINDS = ("get", "put", "patch", "delete")

_HISTORY = 10_000


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


class _Op(_Pending):
    """One operation on its way to, at, or back from the key's home."""

    __slots__ = ("value", "hops")

    def __init__(
        self,
        region: int,
        kind: str,
        key: str,
        value: Mapping[str, Any] | None,
        on_done: OnDone,
        start: float,
    ) -> None:
        super().__init__(region, kind, key, on_done, start)
        self.value = value
        self.hops = 0


class SingleHome:
    """Single-home store driven by callbacks.

    Contract for drivers: call :meth:`submit` at the scheduler's current time;
    ``on_done(OpResult)`` runs once, later, from the scheduler, when the answer is back at the
    client's edge region. An operation costs a handful of events and O(fields) work.

    An op travels to the key's home (``rtt/2`` + jitter), waits for the ops before it on the
    same key, is served (``service_time``) and travels back. An op that reaches a former home
    follows the object to its new one. With ``migrate_after=N``, after N consecutive
    operations on a key from the same other region the object moves there, taking a one-way
    delay during which operations on it queue.
    """

    def __init__(
        self,
        cfg: Config,
        seed: int,
        scheduler: Scheduler,
        *,
        migrate_after: int | None = None,
        history: int = 0,
        stream: int = STREAM_SINGLEHOME,
    ) -> None:
        _check_migrate_after(migrate_after)
        self.cfg = cfg
        self.seed = seed
        self.scheduler = scheduler
        self.migrate_after = migrate_after
        self.latency = LatencyModel(cfg, seed, stream=stream)
        self.service = cfg.service_time
        self.oracle = Oracle()
        self.objects: dict[str, _Object] = {}
        self.records: deque[OpRecord] = deque(maxlen=max(history, 1))
        self._keep = history > 0
        self._t0 = scheduler.time()
        self._clocks = [HybridClock(r.index, r.clock_skew * 1e3) for r in cfg.regions]
        n = len(cfg.regions)
        self.in_flight = 0
        self.migrations = 0
        self.served = [0] * n
        """Operations served per home region."""
        self.forwarded = [0] * n
        """Operations per client region that were served elsewhere."""

    def now(self) -> float:
        """Seconds since the store started."""
        return self.scheduler.time() - self._t0

    def _later(self, delay: float, fn: Any, *args: Any) -> None:
        self.scheduler.call_at(self.scheduler.time() + delay, fn, *args)

    def home_of(self, key: str) -> int | None:
        """Index of ``key``'s home region (None before its first write or hint)."""
        obj = self.objects.get(key)
        return None if obj is None else obj.home

    def submit(
        self,
        region: int,
        kind: str,
        key: str,
        value: Mapping[str, Any] | None,
        on_done: OnDone,
        *,
        location_hint: int | None = None,
    ) -> None:
        """Issue ``get``/``put``/``patch``/``delete`` of ``key`` from ``region`` now.

        A key without a home gets one at its first write, or at its first operation that
        carries ``location_hint`` (a region index); a get of a homeless key is answered
        locally (None). Raises ``ValueError`` for an unknown kind before scheduling anything.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown operation {kind!r}; allowed: {', '.join(KINDS)}")
        if location_hint is not None and not 0 <= location_hint < len(self._clocks):
            raise ValueError(f"location_hint must be a region index, got {location_hint!r}")
        obj = self.objects.get(key)
        if obj is None and (kind != "get" or location_hint is not None):
            obj = self.objects[key] = _Object(region if location_hint is None else location_hint)
        target = region if obj is None else obj.home
        self.in_flight += 1
        op = _Op(region, kind, key, value, on_done, self.now())
        if target == region:
            self._arrive(op, target)
        else:
            self._later(self.latency.one_way(region, target), self._arrive, op, target)

    def _arrive(self, op: _Op, at: int) -> None:
        obj = self.objects.get(op.key)
        now = self.now()
        if obj is None:
            self.served[at] += 1
            self._later(self.service, self._done, op, None, 0, at)
            return
        if obj.home != at:
            op.hops += 1
            self._later(self.latency.one_way(at, obj.home), self._arrive, op, obj.home)
            return
        begin = now if now >= obj.busy_until else obj.busy_until
        finish = begin + self.service
        obj.busy_until = finish
        op.waited = begin - now
        self.served[at] += 1
        kind = op.kind
        if kind != "get":
            clock = self._clocks[at]
            clock.observe(obj.version)
            obj.version = clock.now(EPOCH_MS + begin * 1e3)
            if kind == "put":
                obj.doc = dict(op.value or {})
            elif kind == "patch":
                obj.doc = {**(obj.doc or {}), **(op.value or {})}
            else:
                obj.doc = None
            self.oracle.commit(op.key, obj.version, begin)
        doc = dict(obj.doc) if kind == "get" and obj.doc is not None else None
        if self.migrate_after is not None:
            self._streak(obj, op.region, at, finish)
        self.scheduler.call_at(
            self._t0 + finish + self.latency.one_way(op.region, at),
            self._done,
            op,
            doc,
            obj.version,
            at,
        )

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

    def _done(self, op: _Op, doc: dict[str, Any] | None, version: int, served: int) -> None:
        self.in_flight -= 1
        local = served == op.region and op.hops == 0
        if not local:
            self.forwarded[op.region] += 1
        outcome = "local" if local else "forwarded"
        result = op.result(doc, version, served, self.now(), SINGLE_HOME, outcome)
        if self._keep:
            self.records.append(result.record)
        op.on_done(result)


class HomeRegion:
    """A client at one region of a :class:`SingleHomeCluster` (same calls as ``Region``)."""

    __slots__ = ("_cluster", "name", "index")

    def __init__(self, cluster: SingleHomeCluster, name: str, index: int) -> None:
        self._cluster = cluster
        self.name = name
        self.index = index

    def __repr__(self) -> str:
        return f"<HomeRegion {self.name!r} of {self._cluster!r}>"

    async def put(
        self, key: str, doc: Mapping[str, Any], *, location_hint: str | None = None
    ) -> int:
        """Replace ``key``'s document at its home; returns the version."""
        value = _document(doc, "doc")
        return (await self._op("put", key, value, location_hint)).version

    async def patch(
        self, key: str, fields: Mapping[str, Any], *, location_hint: str | None = None
    ) -> int:
        """Merge top-level ``fields`` into ``key``'s document at its home."""
        value = _document(fields, "fields")
        return (await self._op("patch", key, value, location_hint)).version

    async def delete(self, key: str, *, location_hint: str | None = None) -> int:
        """Delete ``key`` at its home; returns the version."""
        return (await self._op("delete", key, None, location_hint)).version

    async def get(self, key: str, *, location_hint: str | None = None) -> dict[str, Any] | None:
        """``key``'s document from its home (always the newest), or None."""
        return (await self._op("get", key, None, location_hint)).doc

    async def read(self, key: str, *, location_hint: str | None = None) -> OpResult:
        """Like :meth:`get`, returning ``(doc, version, record)``."""
        return await self._op("get", key, None, location_hint)

    async def _op(
        self, kind: str, key: str, value: Mapping[str, Any] | None, hint: str | None
    ) -> OpResult:
        cluster = self._cluster
        store = cluster.store
        hint_index = None if hint is None else cluster.config.region(hint).index
        future: asyncio.Future[OpResult] = asyncio.get_running_loop().create_future()
        store.submit(
            self.index,
            kind,
            _key(key),
            value,
            resolve(future),
            location_hint=hint_index,
        )
        return await future


class SingleHomeCluster:
    """Durable-Object-style store with the interface of :class:`~edgekv.Cluster`.

    ``SingleHomeCluster(cfg, seed=1, migrate_after=None, **overrides)``; regions by name:
    ``home["East US"]``; ``records`` keeps the newest 10,000 :class:`OpRecord`.
    """

    def __init__(
        self,
        config: ConfigSource = None,
        *,
        seed: int | None = None,
        migrate_after: int | None = None,
        **overrides: Any,
    ) -> None:
        self.seed = _check_seed(current_seed() if seed is None else seed)
        self.config = _resolve_config(config, overrides)
        _check_migrate_after(migrate_after)
        self.migrate_after = migrate_after
        self._store: SingleHome | None = None

    def __repr__(self) -> str:
        return f"<SingleHomeCluster {len(self.config.regions)} regions seed={self.seed}>"

    @property
    def store(self) -> SingleHome:
        """The callback core (started on first use inside a loop)."""
        if self._store is None:
            self._store = SingleHome(
                self.config,
                self.seed,
                asyncio.get_running_loop(),
                migrate_after=self.migrate_after,
                history=_HISTORY,
            )
        return self._store

    @property
    def records(self) -> deque[OpRecord]:
        """The newest operations' records."""
        return self.store.records

    async def __aenter__(self) -> SingleHomeCluster:
        _ = self.store
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing runs in the background; kept for parity with ``Cluster``."""

    def __getitem__(self, name: str) -> HomeRegion:
        return HomeRegion(self, name, self.config.region(name).index)

    def __iter__(self) -> Iterator[HomeRegion]:
        return (self[name] for name in self.config.names)

    @property
    def regions(self) -> tuple[str, ...]:
        """Region names in config order."""
        return self.config.names

    def home_of(self, key: str) -> str | None:
        """Name of ``key``'s home region (None before its first write)."""
        home = self.store.home_of(key)
        return None if home is None else self.config.names[home]

    def now(self) -> float:
        """Seconds since the store started (virtual under :func:`edgekv.run`)."""
        return self.store.now()

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of (virtual) time pass."""
        await asyncio.sleep(seconds)

    async def settle(self, timeout: float = 600.0, poll: float = 0.005) -> None:
        """Wait until no operation is in flight; ``TimeoutError`` after ``timeout``."""
        store = self.store
        deadline = store.now() + timeout
        while store.in_flight:
            if store.now() >= deadline:
                raise TimeoutError(
                    f"single-home store did not settle within {timeout:g}s (seed={self.seed}); "
                    f"{store.in_flight} operations in flight"
                )
            await asyncio.sleep(poll)

    def stats(self) -> dict[str, Any]:
        """Counters per region and in total."""
        store = self.store
        homes = [0] * len(self.config.regions)
        for obj in store.objects.values():
            homes[obj.home] += 1
        return {
            "regions": {
                name: {
                    "homes": homes[i],
                    "served": store.served[i],
                    "forwarded": store.forwarded[i],
                }
                for i, name in enumerate(self.config.names)
            },
            "keys": len(store.objects),
            "migrations": store.migrations,
            "in_flight": store.in_flight,
        }
