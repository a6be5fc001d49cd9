"""edgekv: multi-region edge data stores, simulated in deterministic virtual time.

Regions serve reads locally, commit writes locally and replicate them after a configurable
lag; concurrent writes merge last-writer-wins on hybrid-logical-clock versions. Beside the
replicated store, the other systems a team weighs (a single-home, Durable-Object-style store,
...), each a :class:`Store`, a DevCycle-style flag evaluator, a benchmark CLI, an HTTP API and
a pytest plugin.

This namespace holds what a user needs; the building blocks (kernel, mesh, nodes, CRDTs,
distributions, clocks) are in :mod:`edgekv.lowlevel`, quorum experiments in :mod:`edgekv.pbs`.
Names are imported on first use (PEP 562), so ``import edgekv`` costs about a millisecond.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._core.exports import lazy_namespace

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "bench": "_bench.api",
    "sweep": "_bench.api",
    "Cluster": "_drivers.cluster",
    "Region": "_drivers.cluster",
    "Unavailable": "_drivers.cluster",
    "Config": "_core.config",
    "default_config": "_drivers.files",
    "load_config": "_drivers.files",
    "EdgeDB": "_edge.edgedb",
    "ConfigError": "_core.errors",
    "EdgekvError": "_core.errors",
    "Level": "_core.store",
    "Op": "_core.store",
    "OpKind": "_core.store",
    "OpResult": "_core.store",
    "Outcome": "_core.store",
    "Session": "_core.store",
    "Store": "_core.store",
    "SYSTEMS": "_core.systems",
    "run": "_drivers.vloop",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

__getattr__, __dir__ = lazy_namespace("edgekv", _EXPORTS, globals())

if TYPE_CHECKING:
    from ._bench.api import bench, sweep
    from ._core.config import Config
    from ._core.errors import ConfigError, EdgekvError
    from ._core.store import Level, Op, OpKind, OpResult, Outcome, Session, Store
    from ._core.systems import SYSTEMS
    from ._drivers.cluster import Cluster, Region, Unavailable
    from ._drivers.files import default_config, load_config
    from ._drivers.vloop import run
    from ._edge.edgedb import EdgeDB
