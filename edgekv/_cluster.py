"""The asyncio API: :class:`Cluster` of regions with local reads and LWW replication.

It runs on whatever loop is current: under :func:`edgekv.run` in virtual time, or on an
ordinary asyncio loop in real time (replication lag then really elapses).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Mapping
from typing import Any

from ._config import Config, default_config, load_config
from ._mesh import Mesh
from ._vloop import current_seed

__all__ = ["Cluster", "Region"]

ConfigSource = Config | Mapping[str, Any] | str | os.PathLike[str] | None


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

    async def put(self, key: str, doc: Mapping[str, Any]) -> int:
        """Replace ``key``'s document here; returns its version."""
        return self._cluster._write(self.index, "put", key, _document(doc, "doc"))

    async def patch(self, key: str, fields: Mapping[str, Any]) -> int:
        """Merge top-level ``fields`` into ``key``'s document here; returns the version."""
        return self._cluster._write(self.index, "patch", key, _document(fields, "fields"))

    async def delete(self, key: str) -> int:
        """Delete ``key`` here (a tombstone that replicates); returns its version."""
        return self._cluster._write(self.index, "delete", key, None)

    async def get(self, key: str) -> dict[str, Any] | None:
        """The local replica's document (a copy), or None if absent or deleted here."""
        return self._cluster._mesh_or_start().nodes[self.index].read(_key(key))[0]

    def peek(self, key: str) -> dict[str, Any] | None:
        """Synchronous local read without counters; the returned dict must not be mutated."""
        return self._cluster._mesh_or_start().nodes[self.index].peek(key)

    def version(self, key: str) -> int:
        """The newest version of ``key`` this region holds (0 if none)."""
        return self._cluster._mesh_or_start().nodes[self.index].version_of(key)

    def keys(self) -> list[str]:
        """Keys with a live document here, sorted."""
        store = self._cluster._mesh_or_start().nodes[self.index].store
        return sorted(k for k, rec in store.items() if rec[0] is not None)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every live document here, copied."""
        store = self._cluster._mesh_or_start().nodes[self.index].store
        return {k: dict(rec[0]) for k, rec in sorted(store.items()) if rec[0] is not None}


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"keys are strings, got {type(key).__name__}")
    return key


def _document(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"{what} must be a mapping with string keys, got {type(value).__name__}")
    return value


class Cluster:
    """Replicated regions with local reads and last-writer-wins merge.

    ``Cluster(cfg, seed=1)``; regions by name: ``cluster["East US"]``. Config overrides are
    keyword arguments, e.g. ``Cluster(lag="exp:100ms", granularity="item")``.
    """

    def __init__(self, config: ConfigSource = None, *, seed: int | None = None, **overrides: Any):
        self.config = _resolve_config(config, overrides)
        self.seed = current_seed() if seed is None else seed
        self._mesh: Mesh | None = None

    def __repr__(self) -> str:
        return f"<Cluster {len(self.config.regions)} regions seed={self.seed}>"

    # -- lifecycle -----------------------------------------------------------------------

    def _mesh_or_start(self) -> Mesh:
        if self._mesh is None:
            self._mesh = Mesh(self.config, self.seed, asyncio.get_running_loop())
        return self._mesh

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
        """Counters per region and for the network."""
        mesh = self._mesh_or_start()
        return {
            "regions": {
                name: node.stats.as_dict()
                for name, node in zip(self.config.names, mesh.nodes, strict=True)
            },
            "network": mesh.network.stats.as_dict(),
            "in_flight": mesh.in_flight,
        }

    def converged(self) -> bool:
        """True when every region holds exactly the same documents."""
        first, *rest = self
        snap = first.snapshot()
        return all(r.snapshot() == snap for r in rest)
