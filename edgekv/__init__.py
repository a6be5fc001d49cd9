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

from ._exports import lazy_namespace

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "BenchResult": "_api",
    "bench": "_api",
    "SweepResult": "_api",
    "sweep": "_api",
    "Cluster": "_cluster",
    "Diverged": "_cluster",
    "Region": "_cluster",
    "SingleHomeCluster": "_cluster",
    "Unavailable": "_cluster",
    "Config": "_config",
    "default_config": "_config",
    "load_config": "_config",
    "EdgeDB": "_edgedb",
    "ConfigError": "_errors",
    "EdgekvError": "_errors",
    "Level": "_store",
    "Op": "_store",
    "OpKind": "_store",
    "OpRecord": "_store",
    "OpResult": "_store",
    "Outcome": "_store",
    "Session": "_store",
    "Store": "_store",
    "SYSTEMS": "_systems",
    "run": "_vloop",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

__getattr__, __dir__ = lazy_namespace("edgekv", _EXPORTS, globals())

if TYPE_CHECKING:
    from ._api import BenchResult, SweepResult, bench, sweep
    from ._cluster import Cluster, Diverged, Region, SingleHomeCluster, Unavailable
    from ._config import Config, default_config, load_config
    from ._edgedb import EdgeDB
    from ._errors import ConfigError, EdgekvError
    from ._store import Level, Op, OpKind, OpRecord, OpResult, Outcome, Session, Store
    from ._systems import SYSTEMS
    from ._vloop import run
