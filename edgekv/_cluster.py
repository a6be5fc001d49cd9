"""The asyncio API: :class:`Cluster` of regions with local reads and LWW replication.

It runs on whatever loop is current: under :func:`edgekv.run` in virtual time, or on an
ordinary asyncio loop in real time (replication lag then really elapses).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ._config import Config, default_config, load_config
from ._consistency import EVENTUAL, Coordinator, OpResult, Session, resolve
from ._history import History, Message, messages_in_flight
from ._mesh import Mesh
from ._sync import SyncCluster
from ._vloop import current_seed

__all__ = ["Cluster", "Region"]

_HISTORY = 10_000
"""Read records a cluster keeps (the newest)."""

ConfigSource = Config | Mapping[str, Any] | str | os.PathLike[str] | None


def _check_seed(seed: Any) -> int:
    """``seed`` as an int, or ``ValueError`` before numpy sees a negative or non-int one."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return int(seed)


def _resolve_config(config: ConfigSource, overrides: Mapping[str, Any]) -> Config:
    cfg = default_config() if config is None else load_config(config)
    return cfg.replace(**overrides) if overrides else cfg


class Region:
    """A client bound to one region of a :class:`Cluster`: it reads and writes there."""

    __slots__ = ("_cluster", "name", "index")

    def __init__(self, cluster: Cluster, name: str, index: int) -> None:
        self._cluster = cluster
        self.name = name
        self.index = index

    def __repr__(self) -> str:
        return f"<Region {self.name!r} of {self._cluster!r}>"

    async def put(self, key: str, doc: Mapping[str, Any], *, session: Session | None = None) -> int:
        """Replace ``key``'s document here; returns its version (noted in ``session``)."""
        return self._write("put", key, _document(doc, "doc"), session)

    async def patch(
        self, key: str, fields: Mapping[str, Any], *, session: Session | None = None
    ) -> int:
        """Merge top-level ``fields`` into ``key``'s document here; returns the version."""
        return self._write("patch", key, _document(fields, "fields"), session)

    async def delete(self, key: str, *, session: Session | None = None) -> int:
        """Delete ``key`` here (a tombstone that replicates); returns its version."""
        return self._write("delete", key, None, session)

    def _write(
        self, kind: str, key: str, value: Mapping[str, Any] | None, session: Session | None
    ) -> int:
        cluster = self._cluster
        version = cluster._write(self.index, kind, key, value)
        if session is not None:
            cluster.coordinator.note_write(session, self.index, kind, key, value, version)
        return version

    async def get(
        self,
        key: str,
        consistency: str = EVENTUAL,
        *,
        session: Session | None = None,
        max_staleness: float | None = None,
    ) -> dict[str, Any] | None:
        """``key``'s document (a copy), or None if absent or deleted, read at a consistency
        level: ``eventual`` (local replica), ``session``, ``bounded`` or ``strong`` (see
        :mod:`edgekv._consistency`). Takes the config's service time, plus any wait or
        forwarding the level needs."""
        return (await self.read(key, consistency, session=session, max_staleness=max_staleness)).doc

    async def read(
        self,
        key: str,
        consistency: str = EVENTUAL,
        *,
        session: Session | None = None,
        max_staleness: float | None = None,
    ) -> OpResult:
        """Like :meth:`get`, returning ``(doc, version, record)`` where the
        :class:`OpRecord` tells latency, serving region, wait/forward and staleness."""
        future: asyncio.Future[OpResult] = asyncio.get_running_loop().create_future()
        self._cluster.coordinator.read(
            self.index,
            _key(key),
            consistency,
            resolve(future),
            session=session,
            max_staleness=max_staleness,
        )
        return await future

    def peek(self, key: str) -> dict[str, Any] | None:
        """Synchronous local read without counters; the returned dict must not be mutated."""
        return self._cluster._mesh_or_start().nodes[self.index].peek(key)

    def version(self, key: str) -> int:
        """The newest version of ``key`` this region holds (0 if none)."""
        return self._cluster._mesh_or_start().nodes[self.index].version_of(key)

    def keys(self) -> list[str]:
        """Keys with a live document here, sorted."""
        return sorted(self._cluster._mesh_or_start().nodes[self.index].documents())

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every live document here, copied."""
        docs = self._cluster._mesh_or_start().nodes[self.index].documents()
        return {k: dict(docs[k]) for k in sorted(docs)}


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"keys are strings, got {type(key).__name__}")
    return key


def _document(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"{what} must be a mapping with string keys, got {type(value).__name__}")
    return value


def _count(count: Any) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"expected a message count >= 0, got {count!r}")
    return count


class Cluster:
    """Replicated regions with local reads and last-writer-wins merge.

    ``Cluster(cfg, seed=1)``; regions by name: ``cluster["East US"]``. Config overrides are
    keyword arguments, e.g. ``Cluster(lag="exp:100ms", granularity="item")``. ``seed`` is an
    int >= 0 (default: that of the enclosing :func:`edgekv.run`), else ``ValueError``.
    """

    def __init__(self, config: ConfigSource = None, *, seed: int | None = None, **overrides: Any):
        self.seed = _check_seed(current_seed() if seed is None else seed)
        self.config = _resolve_config(config, overrides)
        self._mesh: Mesh | None = None
        self._coordinator: Coordinator | None = None

    def __repr__(self) -> str:
        return f"<Cluster {len(self.config.regions)} regions seed={self.seed}>"

    # -- lifecycle -----------------------------------------------------------------------

    def _mesh_or_start(self) -> Mesh:
        if self._mesh is None:
            self._mesh = Mesh(self.config, self.seed, asyncio.get_running_loop())
            self._mesh.track_lag()
            self._coordinator = Coordinator(self._mesh, history=_HISTORY)
        return self._mesh

    @property
    def coordinator(self) -> Coordinator:
        """Routes reads by consistency level; its ``records`` keep the last reads'
        :class:`OpRecord` and ``counts`` tally outcomes."""
        self._mesh_or_start()
        assert self._coordinator is not None
        return self._coordinator

    @property
    def mesh(self) -> Mesh:
        """The running regions and network (started on first use inside a loop)."""
        return self._mesh_or_start()

    async def __aenter__(self) -> Cluster:
        self._mesh_or_start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop replication timers; the cluster keeps its state for inspection."""
        if self._mesh is not None:
            self._mesh.close()

    # -- regions -------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Region:
        return Region(self, name, self.config.region(name).index)

    def __iter__(self) -> Iterator[Region]:
        return (self[name] for name in self.config.names)

    @property
    def regions(self) -> tuple[str, ...]:
        """Region names in config order."""
        return self.config.names

    def _write(self, index: int, kind: str, key: str, value: Mapping[str, Any] | None) -> int:
        return self._mesh_or_start().write(index, kind, _key(key), value)

    # -- time and faults -----------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the cluster started (virtual under :func:`edgekv.run`)."""
        return self._mesh_or_start().now()

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of (virtual) time pass."""
        await asyncio.sleep(seconds)

    async def settle(self, timeout: float = 600.0, poll: float = 0.005) -> None:
        """Wait until no replication is in flight or buffered and every region has applied
        the same writes (anti-entropy repairs loss); ``TimeoutError`` after ``timeout``."""
        mesh = self._mesh_or_start()
        deadline = mesh.now() + timeout
        while not mesh.quiet():
            if mesh.now() >= deadline:
                raise TimeoutError(
                    f"cluster did not settle within {timeout:g}s (seed={self.seed}); "
                    f"{mesh.in_flight} messages in flight"
                )
            await asyncio.sleep(poll)

    def partition(self, a: str, b: str) -> None:
        """Cut replication between two regions (both ways) until :meth:`heal`."""
        self._mesh_or_start().network.partition(a, b)

    def isolate(self, region: str) -> None:
        """Cut every replication link of one region."""
        self._mesh_or_start().network.isolate(region)

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        """Restore one link, or every manually cut link when called without arguments."""
        self._mesh_or_start().network.heal(a, b)

    # -- inspection ----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters per region and for the network, and per link the realised commit-to-
        apply lag (ms, with its sample size) beside the configured one."""
        mesh = self._mesh_or_start()
        return {
            "regions": {
                name: node.stats.as_dict()
                for name, node in zip(self.config.names, mesh.nodes, strict=True)
            },
            "network": mesh.network.stats.as_dict(),
            "in_flight": mesh.in_flight,
            "realised_lag": [link.as_dict() for link in mesh.track_lag().summary()],
        }

    def converged(self) -> bool:
        """True when every region holds exactly the same documents."""
        first, *rest = self
        snap = first.snapshot()
        return all(r.snapshot() == snap for r in rest)

    # -- embedding in test suites (edgekv.pytest_plugin, cluster.sync) ------------------------
    # Controls and inspection a test author needs; they work in async code and, through
    # ``cluster.sync``, in plain synchronous code.

    def bind(self, loop: asyncio.AbstractEventLoop) -> Mesh:
        """Start the cluster on ``loop`` (which need not be running yet) unless started."""
        if self._mesh is None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                return self._mesh_or_start()

            async def start() -> Mesh:
                return self._mesh_or_start()

            return loop.run_until_complete(start())
        return self._mesh

    def _started(self) -> Mesh:
        """The mesh, started on the running loop or, outside async code, on
        :attr:`sync`'s private virtual-time loop."""
        if self._mesh is None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                self.sync.start()
        return self._mesh_or_start()

    @functools.cached_property
    def sync(self) -> SyncCluster:
        """Blocking facade for non-async code: ``cluster.sync["East US"].get("user:1")``;
        each ``cluster.sync[name]`` is also a ``MutableMapping`` to hand to application code."""
        return SyncCluster(self)

    @functools.cached_property
    def history(self) -> History:
        """Every write from the first access on (who wrote what, when, and when it became
        visible where). The pytest fixture touches it before the test starts."""
        return History(self._started(), self.config.names)

    def pause(self, a: str, b: str) -> None:
        """Hold every replication message between two regions (both ways, in flight or
        sent later) until :meth:`resume`; unlike :meth:`partition` nothing is lost."""
        self._started().network.pause(a, b)

    def resume(self, a: str | None = None, b: str | None = None) -> int:
        """Release one paused link, or all of them when called bare; held messages arrive
        now, in order. Returns how many were released."""
        if (a is None) != (b is None):
            raise TypeError("resume() takes two region names, or none to resume every link")
        mesh = self._started()
        mesh.network.resume(a, b)
        return mesh.release()

    def drop_next(self, count: int = 1) -> None:
        """Lose the next ``count`` replication messages (any link, digests included)."""
        self._started().network.drop_next(_count(count))

    def duplicate_next(self, count: int = 1) -> None:
        """Deliver the next ``count`` replication messages twice."""
        self._started().network.duplicate_next(_count(count))

    def in_flight(self) -> list[Message]:
        """Replication messages on their way, soonest first, then those held on paused
        links (``arrives`` None)."""
        return messages_in_flight(self._started(), self.config.names)

    def snapshot(self) -> dict[str, dict[str, dict[str, Any]]]:
        """What every region holds: ``{region: {key: document}}``, copied."""
        self._started()
        return {region.name: region.snapshot() for region in self}
