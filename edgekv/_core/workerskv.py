"""Cloudflare Workers KV: one central store, a read cache in every location, and a per-key
write limit. :class:`WorkersKV` is a :class:`~edgekv.Store`;
``Cluster(system="workers-kv", options={...})`` drives it under asyncio.

What it models, each from Cloudflare's documentation:

* Writes go to the central store. "When you write to KV, your data is written to central data
  stores. Your data is not sent automatically to every location's cache."
  (https://developers.cloudflare.com/kv/concepts/how-kv-works/). A write from another region
  pays the round trip to the ``central`` region (default: the config's first region; KV does
  not publish where its "small number of centralized data centers" are).
* Each region caches what it reads, for ``cache_ttl`` seconds (default 60, minimum 30): a read
  is served from the local cache when the entry was cached less than ``cache_ttl`` ago, else it
  fetches the key from the central store (a round trip) and caches the answer. "cacheTtl ...
  defines the length of time in seconds that a KV result is cached in the global network
  location it is accessed from" and defaults to 60 seconds
  (https://developers.cloudflare.com/kv/api/read-key-value-pairs/); "Minimum cacheTtl: 30
  seconds" (https://developers.cloudflare.com/kv/platform/limits/).
* Misses are cached too: "Negative lookups indicating that the key does not exist are also
  cached, so the same delay exists noticing a value is created as when a value is changed"
  (how KV works). So a write becomes visible at a location only once that location's cached
  copy (or cached miss) expires: "Changes may take up to 60 seconds or more to be visible in
  other global network locations as their cached versions of the data time out" (same page).
* "Changes are usually immediately visible in the Cloudflare global network location at which
  they are made" (same page): the writer's region caches what it wrote when the write is
  acknowledged.
* At most one write per key per ``key_write_interval`` seconds (default 1): "Writes to same
  key: 1 per second" (limits page); "Writes made to the same key within 1 second will cause
  rate limiting (429) errors to be thrown", e.g. "KV PUT failed: 429 Too Many Requests"
  (https://developers.cloudflare.com/kv/api/write-key-value-pairs/). The central store refuses
  an excess write, and the client gets ``Outcome.ERROR`` after the round trip.

Left out: the regional and central cache tiers between a location and the central store (one
round trip to the central region stands for them), the background refresh of hot cached keys
before they expire, expiring keys (``expiration``/``expirationTtl``), metadata, ``list()``,
value-size limits and pricing. KV has no partial update: a ``patch`` merges its fields into the
central document in one step, as a client's read-modify-write would without a concurrent write.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from .config import Config
from .errors import ConfigError
from .store import Level, OnDone, Op, OpKind, Outcome, Pending, Route, Scheduler, check_op
from .storebase import StoreBase, applied
from .versions import EPOCH_MS, HybridClock

__all__ = ["WorkersKV"]

WORKERS_KV = "workers-kv"
"""The system's name, and the ``consistency`` of its records (it serves one level)."""

LEVELS = (Level.EVENTUAL,)
"""Every read is served by the local cache or the central store, whichever is fresh."""

STREAM_WORKERSKV = 121
"""Generator stream of Workers KV request delays (the network uses 0)."""

MIN_CACHE_TTL = 30.0
"""Smallest ``cacheTtl`` KV accepts, seconds (limits page)."""

RATE_LIMITED = "429 Too Many Requests: Workers KV takes 1 write per second per key"
"""Error of a write refused by the per-key write limit."""


class _Entry(NamedTuple):
    """A cached answer."""

    doc: dict[str, Any] | None
    """The document; None when absent or deleted (a negative entry)."""
    version: int
    cached_at: float
    """Virtual seconds when it was cached."""


def _seconds(value: Any, name: str, low: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(name, f"must be a number of seconds, got {value!r}")
    if value < low:
        raise ConfigError(name, f"must be at least {low:g} seconds, got {value!r}")
    return float(value)


def _region(cfg: Config, name: Any, option: str) -> int:
    if name is None:
        return 0
    if not isinstance(name, str) or name not in cfg.names:
        raise ConfigError(option, f"must be a region name ({', '.join(cfg.names)}), got {name!r}")
    return cfg.region(name).index


class _Op(Pending):
    """One operation: on its way to the central store, or served from the local cache."""

    __slots__ = ("latest",)

    def __init__(self, op: Op, on_done: OnDone, start: float, latest: int) -> None:
        super().__init__(op, on_done, start)
        self.latest = latest
        """The oracle's newest version of the key when the operation started."""


class WorkersKV(StoreBase):
    """Central store plus per-region read caches with a TTL, by callbacks: the
    :class:`~edgekv.Store` of Workers KV.

    A cache hit costs the service time; a miss, or a write from another region, costs the
    round trip to the central region plus the service time there, each leg through the
    network (a cut link loses it and the operation fails as ``unavailable`` after
    ``request_timeout``). A write to a key written less than ``key_write_interval`` seconds
    before is refused (``error``). O(1) work and at most three events per operation.
    """

    system = WORKERS_KV
    levels: tuple[Level, ...] = LEVELS
    duration_options = ("cache_ttl", "key_write_interval")
    """Options that YAML spells with a unit."""

    def __init__(
        self,
        cfg: Config,
        seed: int,
        scheduler: Scheduler,
        *,
        central: str | None = None,
        cache_ttl: float = 60.0,
        key_write_interval: float = 1.0,
        stream: int = STREAM_WORKERSKV,
    ) -> None:
        self.central = _region(cfg, central, "central")
        """Index of the region holding the central store."""
        self.cache_ttl = _seconds(cache_ttl, "cache_ttl", MIN_CACHE_TTL)
        """Seconds a location serves a cached answer (a miss included) before refetching."""
        self.key_write_interval = _seconds(key_write_interval, "key_write_interval", 0.0)
        """Least seconds between two accepted writes to one key (0: no limit)."""
        super().__init__(cfg, seed, scheduler, stream)
        region = cfg.regions[self.central]
        self._clock = HybridClock(region.index, region.clock_skew * 1e3)
        self._store: dict[str, tuple[dict[str, Any] | None, int]] = {}
        self._last_write: dict[str, float] = {}
        n = len(cfg.regions)
        self._caches: list[dict[str, _Entry]] = [{} for _ in range(n)]
        self.counts: list[dict[str, int]] = [
            dict.fromkeys(("hits", "negative_hits", "fetches", "writes", "rate_limited"), 0)
            for _ in range(n)
        ]
        """Per region: reads served from the cache (of which cached misses), reads fetched
        from the central store, writes accepted and writes refused."""
        self.unavailable = [0] * n
        """Operations per client region that failed for lack of an answer."""

    def quiet(self) -> bool:
        """True when no operation is in flight (caches expire without background work)."""
        return not self.in_flight

    def close(self) -> None:
        """Nothing runs in the background; operations in flight still complete."""

    def documents(self, region: int) -> Mapping[str, Mapping[str, Any]]:
        """The live documents a region holds: what its cache would serve now without a
        fetch, and at the central region the central store itself (which wins)."""
        now = self.now()
        ttl = self.cache_ttl
        cached: dict[str, Mapping[str, Any]] = {
            key: doc
            for key, (doc, _, at) in self._caches[region].items()
            if doc is not None and now - at < ttl
        }
        if region == self.central:
            cached.update(self.central_documents())
        return cached

    def central_documents(self) -> Mapping[str, Mapping[str, Any]]:
        """The live documents of the central store."""
        return {key: doc for key, (doc, _) in self._store.items() if doc is not None}

    def stats(self) -> dict[str, Any]:
        """Counters per region, of the central store and of requests."""
        return {
            "regions": {
                name: {**self.counts[i], "unavailable": self.unavailable[i]}
                for i, name in enumerate(self.cfg.names)
            },
            "central": {"region": self.cfg.names[self.central], "keys": len(self._store)},
            "requests": {"lost": self.requests.lost, "timed_out": self.requests.timed_out},
            "in_flight": self.in_flight,
        }

    def submit(self, op: Op, on_done: OnDone) -> None:
        """Start ``op`` now: a read from the local cache or the central store, a write at the
        central store. Raises ``ValueError`` for a malformed op before scheduling anything."""
        check_op(op, len(self._caches), LEVELS)
        now = self.now()
        region = op.region
        pending = _Op(op, on_done, now, self.oracle.latest(op.key))
        self.in_flight += 1
        if op.kind == OpKind.GET:
            entry = self._caches[region].get(op.key)
            if entry is not None and now - entry.cached_at < self.cache_ttl:
                counts = self.counts[region]
                counts["hits"] += 1
                if entry.doc is None:
                    counts["negative_hits"] += 1
                self._later(self.service, self._finish, pending, entry.doc, entry.version, region)
                return
            self.counts[region]["fetches"] += 1
            self._to_central(pending, self._fetch)
        else:
            self._to_central(pending, self._write)

    def _to_central(self, pending: _Op, at_central: Any) -> None:
        region = pending.op.region
        central = self.central
        if region == central:
            at_central(pending)
            return
        self.requests.guard(pending, WORKERS_KV, self._expired)
        self.requests.send(
            region, central, self.latency.one_way(region, central), at_central, pending
        )

    def _expired(self, pending: Pending) -> None:
        self.in_flight -= 1
        self.unavailable[pending.op.region] += 1

    def _reply(self, pending: _Op, fn: Any, *args: Any) -> None:
        """Send the central store's answer back to the client's region after the service."""
        region = pending.op.region
        central = self.central
        delay = self.service + self.latency.one_way(region, central)
        if region == central:
            self._later(delay, fn, pending, *args)
        else:
            self.requests.send(central, region, delay, fn, pending, *args)

    def _fetch(self, pending: _Op) -> None:
        doc, version = self._store.get(pending.op.key, (None, 0))
        self._reply(pending, self._fetched, doc, version)

    def _fetched(self, pending: _Op, doc: dict[str, Any] | None, version: int) -> None:
        op = pending.op
        self._caches[op.region][op.key] = _Entry(doc, version, self.now())
        self._finish(pending, doc, version, self.central)

    def _write(self, pending: _Op) -> None:
        now = self.now()
        op = pending.op
        key = op.key
        last = self._last_write.get(key)
        if last is not None and now - last < self.key_write_interval:
            self._reply(pending, self._refused)
            return
        self._last_write[key] = now
        old = self._store.get(key, (None, 0))[0]
        doc = applied(old, op)
        version = self._clock.now(EPOCH_MS + now * 1e3)
        self._store[key] = (doc, version)
        self.oracle.commit(key, version, now)
        self._reply(pending, self._written, doc, version)

    def _written(self, pending: _Op, doc: dict[str, Any] | None, version: int) -> None:
        op = pending.op
        self._caches[op.region][op.key] = _Entry(doc, version, self.now())
        self.counts[op.region]["writes"] += 1
        self._finish(pending, None, version, self.central)

    def _refused(self, pending: _Op) -> None:
        if pending.done:
            return
        self.in_flight -= 1
        self.counts[pending.op.region]["rate_limited"] += 1
        pending.fail(self.now(), Outcome.ERROR, RATE_LIMITED, WORKERS_KV, self.central)

    def _finish(self, pending: _Op, doc: dict[str, Any] | None, version: int, served: int) -> None:
        if pending.done:
            return
        self.in_flight -= 1
        now = self.now()
        op = pending.op
        behind, seconds = 0, 0.0
        if op.kind == OpKind.GET and version < pending.latest:
            score = self.oracle.score_version
            behind, seconds = score(op.key, version, pending.latest, pending.start)
        route = Route.LOCAL if served == op.region else Route.FORWARDED
        copy = None if doc is None else dict(doc)
        pending.complete(now, copy, version, served, WORKERS_KV, route, behind, seconds)
