"""The building blocks under :mod:`edgekv`'s public API, for people who assemble their own
runs: the discrete-event kernel, the mesh of region nodes, the network, CRDTs, hybrid logical
clocks, delay distributions, the stores themselves and the recording of histories."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._exports import lazy_namespace

_EXPORTS: dict[str, str] = {
    "PartitionWindow": "_config",
    "great_circle_km": "_config",
    "LEVELS": "_consistency",
    "ReplicatedStore": "_consistency",
    "FieldLWW": "_crdt",
    "ItemLWW": "_crdt",
    "crdt_for": "_crdt",
    "Constant": "_distributions",
    "Distribution": "_distributions",
    "Empirical": "_distributions",
    "Exponential": "_distributions",
    "LogNormal": "_distributions",
    "Mixture": "_distributions",
    "Normal": "_distributions",
    "Pareto": "_distributions",
    "Uniform": "_distributions",
    "parse_distribution": "_distributions",
    "parse_duration": "_distributions",
    "WriteHistory": "_history",
    "Message": "_history",
    "VisibleWrite": "_history",
    "Kernel": "_kernel",
    "LatencyModel": "_latency",
    "Mesh": "_mesh",
    "Network": "_network",
    "CompactRegionNode": "_node",
    "RegionNode": "_node",
    "Oracle": "_oracle",
    "Requests": "_requests",
    "SingleHome": "_singlehome",
    "Pending": "_store",
    "Route": "_store",
    "SyncCluster": "_sync",
    "SyncRegion": "_sync",
    "make_store": "_systems",
    "HybridClock": "_versions",
    "WallClock": "_versions",
    "make_version": "_versions",
    "split_version": "_versions",
    "VirtualTimeLoop": "_vloop",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_namespace("edgekv.lowlevel", _EXPORTS, globals())

if TYPE_CHECKING:
    from ._config import PartitionWindow, great_circle_km
    from ._consistency import LEVELS, ReplicatedStore
    from ._crdt import FieldLWW, ItemLWW, crdt_for
    from ._distributions import (
        Constant,
        Distribution,
        Empirical,
        Exponential,
        LogNormal,
        Mixture,
        Normal,
        Pareto,
        Uniform,
        parse_distribution,
        parse_duration,
    )
    from ._history import Message, VisibleWrite, WriteHistory
    from ._kernel import Kernel
    from ._latency import LatencyModel
    from ._mesh import Mesh
    from ._network import Network
    from ._node import CompactRegionNode, RegionNode
    from ._oracle import Oracle
    from ._requests import Requests
    from ._singlehome import SingleHome
    from ._store import Pending, Route
    from ._sync import SyncCluster, SyncRegion
    from ._systems import make_store
    from ._versions import HybridClock, WallClock, make_version, split_version
    from ._vloop import VirtualTimeLoop
