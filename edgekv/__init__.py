"""edgekv: a multi-region, asynchronously replicated key-value store simulator.

Regions serve reads locally, commit writes locally and replicate them after a configurable
lag; concurrent writes merge last-writer-wins on hybrid-logical-clock versions.
"""

from ._cluster import Cluster, Region
from ._config import Config, PartitionWindow, default_config, great_circle_km, load_config
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
from ._errors import ConfigError
from ._kernel import Kernel
from ._mesh import Mesh
from ._network import Network
from ._node import RegionNode
from ._oracle import Oracle
from ._versions import HybridClock, WallClock, make_version, split_version
from ._vloop import VirtualTimeLoop, run

__version__ = "0.1.0"

__all__ = [
    "Cluster",
    "Config",
    "ConfigError",
    "Constant",
    "Empirical",
    "Exponential",
    "FieldLWW",
    "HybridClock",
    "ItemLWW",
    "Kernel",
    "LogNormal",
    "Mesh",
    "Mixture",
    "Network",
    "Normal",
    "Oracle",
    "Pareto",
    "PartitionWindow",
    "Region",
    "RegionNode",
    "Uniform",
    "VirtualTimeLoop",
    "WallClock",
    "__version__",
    "crdt_for",
    "default_config",
    "great_circle_km",
    "load_config",
    "make_version",
    "parse_distribution",
    "parse_duration",
    "run",
    "split_version",
]
