"""Blocking access to a :class:`~edgekv.Cluster` for code that is not async.

``cluster.sync["East US"].get("user:1")`` runs the cluster's virtual-time loop just long
enough to finish the call; each region is also a ``MutableMapping`` (``region[key] = doc``,
``del region[key]``) to hand to application code that expects a dict-like store.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Coroutine, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar

from .._core.store import Session
from .vloop import VirtualTimeLoop

if TYPE_CHECKING:
    from .cluster import Cluster, Region

__all__ = ["SyncCluster", "SyncRegion"]

T = TypeVar("T")


class SyncCluster:
    """Blocking facade of a cluster: regions by name, ``advance``, ``settle``.

    The first use starts the cluster on a private :class:`VirtualTimeLoop` (closed when this
    facade is garbage-collected) unless it already runs on a loop that is not running now.
    """

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster

    def __repr__(self) -> str:
        return f"<SyncCluster of {self._cluster!r}>"

    def start(self) -> asyncio.AbstractEventLoop:
        """The loop the cluster runs on, starting the cluster on a private virtual-time loop
        if it has not started yet (``RuntimeError`` inside a running event loop, where that
        loop could not run)."""
        cluster = self._cluster
        if cluster.loop is None:
            _not_in_a_running_loop()
            loop = VirtualTimeLoop()
            weakref.finalize(self, loop.close)
            cluster.bind(loop)
        assert cluster.loop is not None
        return cluster.loop

    def call(self, fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any, **kwargs: Any) -> T:
        """Run ``await fn(*args, **kwargs)`` on the cluster's loop until it completes."""
        _not_in_a_running_loop()
        loop = self.start()
        if loop.is_closed():
            raise RuntimeError(f"the event loop of {self._cluster!r} is closed")
        return loop.run_until_complete(fn(*args, **kwargs))

    def __getitem__(self, name: str) -> SyncRegion:
        return SyncRegion(self, self._cluster[name])

    def __iter__(self) -> Iterator[SyncRegion]:
        return (self[name] for name in self._cluster.regions)

    def now(self) -> float:
        """Seconds since the cluster started."""
        self.start()
        return self._cluster.now()

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass (replication proceeds meanwhile)."""
        self.call(self._cluster.advance, seconds)

    def settle(self, timeout: float = 600.0) -> None:
        """Run until no replication is in flight (see :meth:`Cluster.settle`)."""
        self.call(self._cluster.settle, timeout)


def _not_in_a_running_loop() -> None:
    """``RuntimeError`` when called from inside a running event loop, which a blocking call
    cannot run another loop in (nor block)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "cluster.sync cannot block inside a running event loop; "
        "in async code await the Region methods instead"
    )


class SyncRegion(MutableMapping[str, dict[str, Any]]):
    """One region as a blocking, dict-like client: ``region["user:1"]`` reads the local
    replica (``KeyError`` if absent there), assignment puts, ``del`` deletes."""

    __slots__ = ("_sync", "region")

    def __init__(self, sync: SyncCluster, region: Region) -> None:
        self._sync = sync
        self.region = region
        """The async :class:`Region` underneath."""

    def __repr__(self) -> str:
        return f"<SyncRegion {self.region.name!r}>"

    @property
    def name(self) -> str:
        """The region's name."""
        return self.region.name

    def get(self, key: str, default: Any = None, **read_options: Any) -> dict[str, Any] | Any:
        """The local document (a copy) or ``default``; ``read_options`` go to
        :meth:`Region.get` (e.g. a consistency level)."""
        doc = self._sync.call(self.region.get, key, **read_options)
        return default if doc is None else doc

    def put(
        self,
        key: str,
        doc: Mapping[str, Any],
        *,
        session: Session | None = None,
        location_hint: str | None = None,
    ) -> int:
        """Replace ``key``'s document here; returns its version (options as
        :meth:`Region.put`)."""
        return self._sync.call(
            self.region.put, key, doc, session=session, location_hint=location_hint
        )

    def patch(
        self,
        key: str,
        fields: Mapping[str, Any],
        *,
        session: Session | None = None,
        location_hint: str | None = None,
    ) -> int:
        """Merge top-level ``fields`` into ``key``'s document here; returns its version."""
        return self._sync.call(
            self.region.patch, key, fields, session=session, location_hint=location_hint
        )

    def delete(
        self, key: str, *, session: Session | None = None, location_hint: str | None = None
    ) -> int:
        """Delete ``key`` here (a replicated tombstone); returns its version."""
        return self._sync.call(
            self.region.delete, key, session=session, location_hint=location_hint
        )

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every live document here, copied."""
        self._sync.start()
        return self.region.snapshot()

    def __getitem__(self, key: str) -> dict[str, Any]:
        doc = self.get(key)
        if doc is None:
            raise KeyError(key)
        return doc

    def __setitem__(self, key: str, doc: dict[str, Any]) -> None:
        self.put(key, doc)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.delete(key)

    def __contains__(self, key: object) -> bool:
        self._sync.start()
        return isinstance(key, str) and self.region.peek(key) is not None

    def __iter__(self) -> Iterator[str]:
        self._sync.start()
        return iter(self.region.keys())

    def __len__(self) -> int:
        self._sync.start()
        return len(self.region.keys())
