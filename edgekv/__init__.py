"""edgekv: a multi-region, asynchronously replicated key-value store simulator.

Regions serve reads locally, commit writes locally and replicate them after a configurable
lag; concurrent writes merge last-writer-wins on hybrid-logical-clock versions. Beside it, a
single-home (Durable-Object-style) baseline, a DevCycle-style flag evaluator, PBS quorum
experiments, a benchmark CLI, an HTTP API and a pytest plugin.

Names are imported on first use (PEP 562), so ``import edgekv`` (and the pytest plugin, for
a session that does not use it) costs about a millisecond.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> private module that defines it.
_EXPORTS: dict[str, str] = {
    "Cluster": "_cluster",
    "Region": "_cluster",
    "Config": "_config",
    "PartitionWindow": "_config",
    "default_config": "_config",
    "great_circle_km": "_config",
    "load_config": "_config",
    "BOUNDED": "_consistency",
    "EVENTUAL": "_consistency",
    "LEVELS": "_consistency",
    "SESSION": "_consistency",
    "STRONG": "_consistency",
    "Coordinator": "_consistency",
    "OpRecord": "_consistency",
    "OpResult": "_consistency",
    "Session": "_consistency",
    "FieldLWW": "_crdt",
    "ItemLWW": "_crdt",
    "crdt_for": "_crdt",
    "Constant": "_distributions",
    "Empirical": "_distributions",
    "Exponential": "_distributions",
    "LogNormal": "_distributions",
    "Mixture": "_distributions",
    "Normal": "_distributions",
    "Pareto": "_distributions",
    "Uniform": "_distributions",
    "parse_distribution": "_distributions",
    "parse_duration": "_distributions",
    "EdgeDB": "_edgedb",
    "ConfigError": "_errors",
    "History": "_history",
    "Message": "_history",
    "Write": "_history",
    "Kernel": "_kernel",
    "LatencyModel": "_latency",
    "Mesh": "_mesh",
    "Network": "_network",
    "CompactRegionNode": "_node",
    "RegionNode": "_node",
    "Oracle": "_oracle",
    "PROFILES": "_quorum",
    "LatencyProfile": "_quorum",
    "QuorumDraws": "_quorum",
    "QuorumModel": "_quorum",
    "QuorumOutcomes": "_quorum",
    "QuorumResult": "_quorum",
    "k_staleness_closed_form": "_quorum",
    "SingleHomeCluster": "_singlehome",
    "SyncCluster": "_sync",
    "SyncRegion": "_sync",
    "HybridClock": "_versions",
    "WallClock": "_versions",
    "make_version": "_versions",
    "split_version": "_versions",
    "VirtualTimeLoop": "_vloop",
    "run": "_vloop",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'edgekv' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"edgekv.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from ._cluster import Cluster, Region
    from ._config import Config, PartitionWindow, default_config, great_circle_km, load_config
    from ._consistency import (
        BOUNDED,
        EVENTUAL,
        LEVELS,
        SESSION,
        STRONG,
        Coordinator,
        OpRecord,
        OpResult,
        Session,
    )
    from ._crdt import FieldLWW, ItemLWW, crdt_for
    from ._distributions import (
        Constant,
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
    from ._edgedb import EdgeDB
    from ._errors import ConfigError
    from ._history import History, Message, Write
    from ._kernel import Kernel
    from ._latency import LatencyModel
    from ._mesh import Mesh
    from ._network import Network
    from ._node import CompactRegionNode, RegionNode
    from ._oracle import Oracle
    from ._quorum import (
        PROFILES,
        LatencyProfile,
        QuorumDraws,
        QuorumModel,
        QuorumOutcomes,
        QuorumResult,
        k_staleness_closed_form,
    )
    from ._singlehome import SingleHomeCluster
    from ._sync import SyncCluster, SyncRegion
    from ._versions import HybridClock, WallClock, make_version, split_version
    from ._vloop import VirtualTimeLoop, run
