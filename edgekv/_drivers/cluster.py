"""The asyncio API: :class:`Cluster` of regions with local reads and LWW replication.

It runs on whatever loop is current: under :func:`edgekv.run` in virtual time, or on an
ordinary asyncio loop in real time (replication lag then really elapses).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

from .._core.config import Config
from .._core.distributions import parse_duration
from .._core.errors import EdgekvError
from .._core.kernel import Kernel
from .._core.mesh import Mesh
from .._core.singlehome import SingleHome, _check_migrate_after
from .._core.store import LOCATION_HINTS, Op, OpKind, OpRecord, OpResult, Session, Store
from .._core.systems import SYSTEMS, make_store
from ..check import CheckResult, save_history
from .files import default_config, load_config
from .history import Message, WriteHistory, messages_in_flight
from .recorder import DEFAULT_LIMIT, Recorder, check_recorded
from .sync import SyncCluster
from .vloop import check_natural, check_seed, current_seed

__all__ = ["Cluster", "Diverged", "Region", "SingleHomeCluster", "Unavailable"]

_HISTORY = 10_000
"""Operation records a cluster keeps (the newest)."""

ConfigSource = Config | Mapping[str, Any] | str | os.PathLike[str] | None


class Unavailable(EdgekvError):
    """An operation failed: no answer within the request timeout, or refused by the system
    (``record`` tells which, and what it cost)."""

    def __init__(self, record: OpRecord) -> None:
        what = f"{record.kind} of {record.key!r}"
        super().__init__("", f"{what} failed ({record.outcome}): {record.error}")
        self.record = record


class Diverged(EdgekvError):
    """Replication settled (nothing in flight, every op log in sync) but regions hold
    different documents: state no repair will ever reconcile, e.g. a tombstone collected
    before a write it should have buried arrived."""

    def __init__(self, seed: int, keys: list[str]) -> None:
        shown = ", ".join(repr(k) for k in keys[:5]) + (" ..." if len(keys) > 5 else "")
        super().__init__("", f"settled but diverged on {len(keys)} keys (seed={seed}): {shown}")
        self.keys = keys


def _resolve_config(config: ConfigSource, overrides: Mapping[str, Any]) -> Config:
    cfg = default_config() if config is None else load_config(config)
    return cfg.replace(**overrides) if overrides else cfg


class Region:
    """A client bound to one region of a :class:`Cluster`: its operations start there."""

    __slots__ = ("_cluster", "name", "index")

    def __init__(self, cluster: Cluster, name: str, index: int) -> None:
        self._cluster = cluster
        self.name = name
        self.index = index

    def __repr__(self) -> str:
        return f"<Region {self.name!r} of {self._cluster!r}>"

    async def put(
        self,
        key: str,
        doc: Mapping[str, Any],
        *,
        session: Session | None = None,
        location_hint: str | None = None,
    ) -> int:
        """Replace ``key``'s document; returns its version (noted in ``session``)."""
        value = _document(doc, "doc")
        op = self._op(OpKind.PUT, key, value, session=session, location_hint=location_hint)
        return (await self._cluster.submit(op)).version

    async def patch(
        self,
        key: str,
        fields: Mapping[str, Any],
        *,
        session: Session | None = None,
        location_hint: str | None = None,
    ) -> int:
        """Merge top-level ``fields`` into ``key``'s document; returns the version."""
        value = _document(fields, "fields")
        op = self._op(OpKind.PATCH, key, value, session=session, location_hint=location_hint)
        return (await self._cluster.submit(op)).version

    async def delete(
        self, key: str, *, session: Session | None = None, location_hint: str | None = None
    ) -> int:
        """Delete ``key`` (a tombstone that replicates); returns its version."""
        op = self._op(OpKind.DELETE, key, None, session=session, location_hint=location_hint)
        return (await self._cluster.submit(op)).version

    async def get(
        self,
        key: str,
        consistency: str | None = None,
        *,
        session: Session | None = None,
        max_staleness: float | None = None,
        location_hint: str | None = None,
    ) -> dict[str, Any] | None:
        """``key``'s document (a copy), or None if absent or deleted, read at a consistency
        level (default: the system's first, ``eventual`` for the replicated store): see
        :mod:`edgekv._core.consistency`. Takes the config's service time, plus any wait or
        forwarding the level needs; raises :class:`Unavailable` when it fails."""
        result = await self.read(
            key,
            consistency,
            session=session,
            max_staleness=max_staleness,
            location_hint=location_hint,
        )
        return result.doc

    async def read(
        self,
        key: str,
        consistency: str | None = None,
        *,
        session: Session | None = None,
        max_staleness: float | None = None,
        location_hint: str | None = None,
    ) -> OpResult:
        """Like :meth:`get`, returning ``(doc, version, record)`` where the
        :class:`OpRecord` tells latency, serving region, wait/forward and staleness."""
        op = self._op(
            OpKind.GET,
            key,
            None,
            level=consistency,
            session=session,
            max_staleness=max_staleness,
            location_hint=location_hint,
        )
        return await self._cluster.submit(op)

    def _op(
        self,
        kind: OpKind,
        key: str,
        value: Mapping[str, Any] | None,
        *,
        level: str | None = None,
        session: Session | None = None,
        max_staleness: float | None = None,
        location_hint: str | None = None,
    ) -> Op:
        cluster = self._cluster
        store = cluster.store
        hint: int | str | None = location_hint
        if location_hint is not None and location_hint not in LOCATION_HINTS:
            hint = cluster.config.region(location_hint).index
        read_level = store.levels[0] if level is None else level
        key = _key(key, stored=kind is not OpKind.GET)
        return Op(kind, self.index, key, value, read_level, session, max_staleness, hint)

    def peek(self, key: str) -> Mapping[str, Any] | None:
        """Synchronous read of the local replica without counters; the returned dict must
        not be mutated. ``TypeError`` for a system without local replicas (single-home)."""
        return self._cluster.mesh.nodes[self.index].peek(_key(key))

    def version(self, key: str) -> int:
        """The newest version of ``key`` this region's replica holds (0 if none); replicated
        clusters only."""
        return self._cluster.mesh.nodes[self.index].version_of(_key(key))

    def keys(self) -> list[str]:
        """Keys with a live document here, sorted."""
        return sorted(self._cluster._started().documents(self.index))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every live document here, copied."""
        docs = self._cluster._started().documents(self.index)
        return {k: _clone(dict(docs[k])) for k in sorted(docs)}


def _key(key: Any, *, stored: bool = False) -> str:
    """``key`` if it is a string; one to be ``stored`` must also be valid Unicode (a lone
    surrogate cannot be replicated, and would fail after the write was applied)."""
    if not isinstance(key, str):
        raise TypeError(f"keys are strings, got {type(key).__name__}")
    if stored and not key.isascii() and (why := _not_unicode(key)):
        raise ValueError(f"key {key!r}: {why}")
    return key


def _not_unicode(text: str) -> str | None:
    """Why ``text`` cannot be encoded for replication (a lone surrogate), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not valid Unicode: a lone surrogate at position {exc.start}"
    return None


_MAX_DEPTH = 100
"""Deepest nesting of containers in a document (the HTTP API allows 8)."""


class _Refused(Exception):
    """A value a document cannot hold: ``where`` collects the path on the way out."""

    def __init__(self, error: type[Exception], reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason
        self.where: list[str] = []


def _document(value: Any, what: str) -> dict[str, Any]:
    """A private copy of a put's document or a patch's fields (``what`` names the argument
    in errors), as every region will hold it once replicated: mappings with string keys,
    lists (tuples become lists), strings (valid Unicode), ints of 64 bits, floats (not NaN,
    which never equals itself, so replicas holding it would never agree), bools, None and
    bytes. ``TypeError``/``ValueError`` naming the bad field otherwise, before anything is
    written; later changes to ``value`` do not reach the store. O(size of the document)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping with string keys, got {type(value).__name__}")
    try:
        copy: dict[str, Any] = _copy(value, 0)
    except _Refused as exc:
        raise exc.error(f"{what}{''.join(reversed(exc.where))}: {exc.reason}") from None
    return copy


def _copy(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str:
        if not value.isascii() and (why := _not_unicode(value)):
            raise _Refused(ValueError, why)
        return value
    if kind is int:
        if not -(2**63) <= value < 2**64:
            raise _Refused(ValueError, f"{value} does not fit in 64 bits")
        return value
    if kind is float:
        if value != value:
            raise _Refused(ValueError, "NaN cannot be stored: it never equals itself")
        return value
    if value is None or kind is bool or kind is bytes:
        return value
    if isinstance(value, Mapping | list | tuple):
        if depth >= _MAX_DEPTH:
            raise _Refused(ValueError, f"nested more than {_MAX_DEPTH} levels deep")
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if type(k) is not str:
                    if not isinstance(k, str):
                        raise _Refused(TypeError, f"keys must be strings, got {k!r}")
                    k = str.__str__(k)
                try:
                    if not k.isascii():
                        _copy(k, depth)
                    out[k] = _copy(v, depth + 1)
                except _Refused as exc:
                    exc.where.append(f"[{k!r}]")
                    raise
            return out
        items = []
        for i, v in enumerate(value):
            try:
                items.append(_copy(v, depth + 1))
            except _Refused as exc:
                exc.where.append(f"[{i}]")
                raise
        return items
    # subclasses (enums, numpy's float64...): the plain value, as replication carries it
    if isinstance(value, int):
        return _copy(int.__int__(value), depth)
    if isinstance(value, float):
        return _copy(float.__float__(value), depth)
    if isinstance(value, str):
        return _copy(str.__str__(value), depth)
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    raise _Refused(
        TypeError,
        f"cannot store a value of type {kind.__name__}; documents hold mappings with "
        "string keys, lists, strings, ints, floats, bools, None and bytes",
    )


def _clone(value: Any) -> Any:
    """A deep copy of a stored document's containers (its other values are immutable), so
    a caller changing what it read changes no replica."""
    kind = type(value)
    if kind is dict:
        return {k: _clone(v) for k, v in value.items()}
    if kind is list:
        return [_clone(v) for v in value]
    return value


def _count(count: Any) -> int:
    return check_natural(count, f"expected a message count >= 0, got {count!r}")


class Cluster:
    """Regions of one system under test, by default the replicated store with local reads and
    last-writer-wins merge.

    ``Cluster(cfg, seed=1, system="replicated")``; regions by name: ``cluster["East US"]``.
    ``system`` is any name of :data:`edgekv.SYSTEMS` (``"single-home"``, ...), ``options``
    that system's own parameters. Config overrides are keyword arguments, e.g.
    ``Cluster(lag="exp:100ms", granularity="item")``. ``seed`` is an int >= 0 (default: that
    of the enclosing :func:`edgekv.run`), else ``ValueError``.
    """

    def __init__(
        self,
        config: ConfigSource = None,
        *,
        seed: int | None = None,
        system: str = "replicated",
        options: Mapping[str, Any] | None = None,
        **overrides: Any,
    ):
        self.seed = check_seed(current_seed() if seed is None else seed)
        self.config = _resolve_config(config, overrides)
        if system not in SYSTEMS:
            raise ValueError(f"unknown system {system!r}; known: {', '.join(SYSTEMS)}")
        if options is not None and not isinstance(options, Mapping):
            raise TypeError(
                f"options must be a mapping of option names to values, got {type(options).__name__}"
            )
        self.system = system
        self.options = dict(options or {})
        # Every option checked now, by the store itself (built on a throwaway kernel), rather
        # than at the first operation.
        make_store(system, self.config, self.seed, Kernel(), **self.options).close()
        self._closed = False
        self._store: Store | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        """The loop the cluster runs on, once started."""
        self._history: WriteHistory | None = None
        self.records: deque[OpRecord] = deque(maxlen=_HISTORY)
        """The newest operations' records, every outcome included."""
        self.recorder: Recorder | None = None
        """Every operation with its value once :meth:`record` is called (None: off)."""

    def __repr__(self) -> str:
        return f"<Cluster {self.system} {len(self.config.regions)} regions seed={self.seed}>"

    # -- lifecycle -----------------------------------------------------------------------

    def _store_or_start(self) -> Store:
        if self._store is None:
            loop = asyncio.get_running_loop()
            store = make_store(self.system, self.config, self.seed, loop, **self.options)
            self._store, self.loop = store, loop
            mesh = getattr(store, "mesh", None)
            if isinstance(mesh, Mesh):
                mesh.track_lag()
                mesh.list_scheduled()
                self._history = WriteHistory.of_mesh(mesh, self.config.names)
            elif isinstance(store, SingleHome):
                self._history = WriteHistory.of_single_home(store, self.config.names)
        return self._store

    @property
    def store(self) -> Store:
        """The system under test (started on first use inside a loop)."""
        return self._store_or_start()

    def _running(self) -> Store:
        """The store, for something that runs on the current event loop: ``RuntimeError``
        once the cluster is closed, or when it started on another loop (its timers would
        never fire here, and a write would be applied before failing)."""
        if self._closed:
            raise RuntimeError(
                f"{self!r} is closed: it keeps its state for inspection but runs nothing more"
            )
        store = self._store_or_start()
        if asyncio.get_running_loop() is not self.loop:
            raise RuntimeError(
                f"{self!r} runs on the event loop it started on, not this one; "
                "make a Cluster per loop (per edgekv.run)"
            )
        return store

    @property
    def mesh(self) -> Mesh:
        """The replicated store's regions and network; ``TypeError`` for other systems."""
        mesh = getattr(self._started(), "mesh", None)
        if not isinstance(mesh, Mesh):
            raise TypeError(f"a {self.system} cluster has no replication mesh")
        return mesh

    async def submit(self, op: Op) -> OpResult:
        """Run ``op`` on the store and return its result; :class:`Unavailable` when it
        failed. Every operation is kept in :attr:`records`; a read's document is the
        caller's own copy. ``RuntimeError`` after :meth:`close`, or on another loop."""
        store = self._running()
        future: asyncio.Future[OpResult] = asyncio.get_running_loop().create_future()
        records, recorder = self.records, self.recorder

        def done(result: OpResult) -> None:
            records.append(result.record)
            if recorder is not None:
                recorder.record(op, result)
            if not future.done():
                future.set_result(result)

        store.submit(op, done)
        result = await future
        if not result.record.ok:
            raise Unavailable(result.record)
        if result.doc is not None:
            return result._replace(doc=_clone(result.doc))
        return result

    async def __aenter__(self) -> Cluster:
        self._running()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop background timers; the cluster keeps its state for inspection, and refuses
        operations, :meth:`advance` and :meth:`settle` from now on."""
        self._closed = True
        if self._store is not None:
            self._store.close()
        if self.recorder is not None:
            self.recorder.close()

    # -- histories (edgekv.check) --------------------------------------------------------

    def record(
        self, limit: int = DEFAULT_LIMIT, path: str | os.PathLike[str] | None = None
    ) -> Recorder:
        """Start recording every operation from now on (the newest ``limit`` kept, all of
        them also written to ``path`` as JSON lines when given); returns the recorder."""
        if self.recorder is not None:
            self.recorder.close()
        self.recorder = Recorder(self.config.names, limit=limit, path=path)
        return self.recorder

    def check(
        self, model: str, *, max_versions: int | None = None, max_seconds: float | None = None
    ) -> CheckResult:
        """Check the recorded operations against ``model`` (``linearizable``, ``session``,
        ``staleness`` with its bounds, ``convergence`` of the replicas now)."""
        store = self._started()
        mesh = getattr(store, "mesh", None)
        return check_recorded(
            self._recording(),
            model,
            mesh if isinstance(mesh, Mesh) else None,
            max_versions=max_versions,
            max_seconds=max_seconds,
        )

    def save_history(self, path: str | os.PathLike[str]) -> None:
        """Write the recorded operations as a Jepsen history (``.edn`` or ``.json``)."""
        save_history(self._recording().history(), os.fspath(path))

    def _recording(self) -> Recorder:
        if self.recorder is None:
            raise TypeError("nothing recorded: call cluster.record() before the operations")
        return self.recorder

    # -- regions -------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Region:
        return Region(self, name, self.config.region(name).index)

    def __iter__(self) -> Iterator[Region]:
        return (self[name] for name in self.config.names)

    @property
    def regions(self) -> tuple[str, ...]:
        """Region names in config order."""
        return self.config.names

    # -- time and faults -----------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the cluster started (virtual under :func:`edgekv.run`)."""
        return self._started().now()

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of (virtual) time pass: a number of seconds up to a year (or a
        string with its unit, ``"200ms"``); ``ConfigError`` naming ``seconds`` otherwise."""
        seconds = parse_duration(seconds, "seconds")
        self._running()
        await asyncio.sleep(seconds)

    async def settle(self, timeout: float = 600.0, poll: float = 0.005) -> None:
        """Wait until no operation or replication is in flight and every region has applied
        the same writes (anti-entropy repairs loss); ``TimeoutError`` after ``timeout``. A
        replicated cluster that then holds different documents in different regions (with
        anti-entropy on and no cut link) raises :class:`Diverged` naming the keys.
        ``timeout`` and ``poll`` are seconds (up to a year), ``poll`` positive."""
        timeout = parse_duration(timeout, "timeout")
        poll = parse_duration(poll, "poll", allow_zero=False)
        store = self._running()
        deadline = store.now() + timeout
        while not store.quiet():
            if store.now() >= deadline:
                raise TimeoutError(
                    f"{self.system} cluster did not settle within {timeout:g}s "
                    f"(seed={self.seed}); {store.in_flight} operations and "
                    f"{len(self.in_flight())} replication messages in flight"
                )
            await asyncio.sleep(poll)
        mesh = getattr(store, "mesh", None)
        cfg = self.config
        if (
            isinstance(mesh, Mesh)
            and cfg.anti_entropy is not None
            and not mesh.network.paused
            and not mesh.network.any_partition(mesh.now())
        ):
            differ = self._diverged_keys()
            if differ:
                raise Diverged(self.seed, differ)

    def _diverged_keys(self) -> list[str]:
        """Keys whose document differs between regions, sorted."""
        snaps = [region.snapshot() for region in self]
        keys = set().union(*snaps)
        return sorted(k for k in keys if any(s.get(k) != snaps[0].get(k) for s in snaps[1:]))

    def partition(self, a: str, b: str) -> None:
        """Cut the link between two regions (both ways) until :meth:`heal`: replication and
        requests across it are lost."""
        self._started().network.partition(a, b)

    def isolate(self, region: str) -> None:
        """Cut every link of one region."""
        self._started().network.isolate(region)

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        """Restore one link, or every manually cut link when called without arguments."""
        self._started().network.heal(a, b)

    # -- inspection ----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """The store's counters (per region, network, requests); for the replicated store
        also, per link, the realised commit-to-apply lag (ms, with its sample size) beside
        the configured one."""
        return self._started().stats()

    def converged(self) -> bool:
        """True when every region holds exactly the same documents."""
        first, *rest = self
        snap = first.snapshot()
        return all(r.snapshot() == snap for r in rest)

    # -- embedding in test suites (edgekv.pytest_plugin, cluster.sync) ------------------------
    # Controls and inspection a test author needs; they work in async code and, through
    # ``cluster.sync``, in plain synchronous code.

    def bind(self, loop: asyncio.AbstractEventLoop) -> Store:
        """Start the cluster on ``loop`` (which need not be running yet) unless started."""
        if self._store is None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                return self._store_or_start()

            async def start() -> Store:
                return self._store_or_start()

            return loop.run_until_complete(start())
        return self._store

    def _started(self) -> Store:
        """The store, started on the running loop or, outside async code, on
        :attr:`sync`'s private virtual-time loop."""
        if self._store is None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                self.sync.start()
        return self._store_or_start()

    @functools.cached_property
    def sync(self) -> SyncCluster:
        """Blocking facade for non-async code: ``cluster.sync["East US"].get("user:1")``;
        each ``cluster.sync[name]`` is also a ``MutableMapping`` to hand to application code."""
        return SyncCluster(self)

    @property
    def history(self) -> WriteHistory:
        """Every write from the first on (who wrote what, when, and when it became visible
        where); replicated and single-home clusters (the others' visibility lives in caches
        and replicas this does not follow: see :attr:`records`)."""
        self._started()
        if self._history is None:
            raise TypeError(f"a {self.system} cluster has no replication history; see .records")
        return self._history

    def pause(self, a: str, b: str) -> None:
        """Hold every replication message between two regions (both ways, in flight or
        sent later) until :meth:`resume`; unlike :meth:`partition` nothing is lost.
        Requests across it are lost (and time out)."""
        self._started().network.pause(a, b)

    def resume(self, a: str | None = None, b: str | None = None) -> int:
        """Release one paused link, or all of them when called bare; held messages arrive
        now, in order. Returns how many were released."""
        store = self._started()
        store.network.resume(a, b)
        mesh = getattr(store, "mesh", None)
        return mesh.release() if isinstance(mesh, Mesh) else 0

    def drop_next(self, count: int = 1) -> None:
        """Lose the next ``count`` replication messages (any link, digests included)."""
        self._started().network.drop_next(_count(count))

    def duplicate_next(self, count: int = 1) -> None:
        """Deliver the next ``count`` replication messages twice."""
        self._started().network.duplicate_next(_count(count))

    def in_flight(self) -> list[Message]:
        """Replication messages on their way, soonest first, then those held on paused
        links (``arrives`` None); empty for a system without replication."""
        store = self._started()
        mesh = getattr(store, "mesh", None)
        if not isinstance(mesh, Mesh):
            return []
        return messages_in_flight(mesh, self.config.names)

    def snapshot(self) -> dict[str, dict[str, dict[str, Any]]]:
        """What every region holds: ``{region: {key: document}}``, copied."""
        self._started()
        return {region.name: region.snapshot() for region in self}


class SingleHomeCluster(Cluster):
    """The Durable-Object-style baseline with the interface of :class:`Cluster`:
    ``Cluster(system="single-home")`` plus :meth:`home_of`. ``migrate_after=N`` moves an
    object after N consecutive operations from one other region."""

    def __init__(
        self,
        config: ConfigSource = None,
        *,
        seed: int | None = None,
        migrate_after: int | None = None,
        **overrides: Any,
    ) -> None:
        _check_migrate_after(migrate_after)
        options = {"migrate_after": migrate_after}
        super().__init__(config, seed=seed, system="single-home", options=options, **overrides)

    def home_of(self, key: str) -> str | None:
        """Name of ``key``'s home region (None before its first write)."""
        store = self._started()
        assert isinstance(store, SingleHome)
        home = store.home_of(_key(key))
        return None if home is None else self.config.names[home]
