"""The live page ``edgekv serve`` shows at ``/``: every region's copy of one user, so a write
in one region can be watched reaching the others after the replication lag. This module holds
what the page reads (each region's local copy, straight from the store) and where it writes
(through a region's own EdgeDB, with every check a PATCH gets)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import Any

from .._drivers.cluster import Cluster

__all__ = ["LiveView"]

Writer = Callable[[str, Mapping[str, Any]], Awaitable[None]]
"""A region's ``write(project, user_body)``: the same validation and limits as a PATCH."""


class LiveView:
    """The page and its data for one cluster; each region registers its writer."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.writers: dict[str, Writer] = {}
        self.page = (resources.files("edgekv") / "data" / "live.html").read_bytes()

    def state(self, project: str, user_id: str) -> dict[str, Any]:
        """Every region's local copy of ``user_id`` of ``project`` and its version (0: none),
        at the cluster's current time. O(regions)."""
        store = self.cluster.store
        key = f"{project}:{user_id}"
        regions = []
        for region in self.cluster.config.regions:
            doc = store.documents(region.index).get(key)
            version = self.cluster[region.name].version(key) if hasattr(store, "mesh") else 0
            regions.append(
                {
                    "name": region.name,
                    "lat": region.lat,
                    "lon": region.lon,
                    "doc": None if doc is None else dict(doc),
                    "version": version,
                }
            )
        return {"user_id": user_id, "now": store.now(), "regions": regions}
