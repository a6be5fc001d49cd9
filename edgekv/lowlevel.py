"""The building blocks under :mod:`edgekv`'s public API, for people who assemble their own
runs, grouped by layer: the sans-IO core (kernel, mesh, network, CRDTs, clocks, delay
distributions, the stores), the drivers (virtual-time loop, sync facade, recorder, traces),
the benchmark (workloads, scenario runner, statistics, reports, sweeps) and the edge HTTP
layer (server, keys, limits, durable storage). Names here are stable; module paths are not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._core.exports import lazy_namespace

_EXPORTS: dict[str, str] = {
    # the sans-IO core
    "FIBER_KM_PER_S": "_core.config",
    "great_circle_km": "_core.config",
    "PartitionWindow": "_core.config",
    "LEVELS": "_core.consistency",
    "ReplicatedStore": "_core.consistency",
    "format_usd": "_core.cost",
    "parse_prices": "_core.cost",
    "price": "_core.cost",
    "Prices": "_core.cost",
    "Usage": "_core.cost",
    "CRDT": "_core.crdt",
    "crdt_for": "_core.crdt",
    "FieldLWW": "_core.crdt",
    "FieldRecord": "_core.crdt",
    "FlooredRecord": "_core.crdt",
    "ItemLWW": "_core.crdt",
    "PlainRecord": "_core.crdt",
    "Record": "_core.crdt",
    "record_of": "_core.crdt",
    "BEHIND": "_core.d1",
    "D1Replicas": "_core.d1",
    "SESSION_STARTS": "_core.d1",
    "Constant": "_core.distributions",
    "DelayStream": "_core.distributions",
    "Distribution": "_core.distributions",
    "Empirical": "_core.distributions",
    "Exponential": "_core.distributions",
    "LogNormal": "_core.distributions",
    "median": "_core.distributions",
    "Mixture": "_core.distributions",
    "Normal": "_core.distributions",
    "Pareto": "_core.distributions",
    "parse_distribution": "_core.distributions",
    "parse_duration": "_core.distributions",
    "parse_duration_list": "_core.distributions",
    "Uniform": "_core.distributions",
    "CONFLICT": "_core.dynamodb",
    "GlobalTableMREC": "_core.dynamodb",
    "GlobalTableMRSC": "_core.dynamodb",
    "Kernel": "_core.kernel",
    "LatencyModel": "_core.latency",
    "topology": "_core.latency",
    "Mesh": "_core.mesh",
    "Network": "_core.network",
    "CompactRegionNode": "_core.node",
    "RegionNode": "_core.node",
    "Oracle": "_core.oracle",
    "lag_warnings": "_core.realised",
    "LagWarning": "_core.realised",
    "link_lags": "_core.realised",
    "probe": "_core.realised",
    "decode": "_core.replication",
    "Digest": "_core.replication",
    "encode_digest": "_core.replication",
    "encode_ops": "_core.replication",
    "OpsBatch": "_core.replication",
    "ShippedOp": "_core.replication",
    "Requests": "_core.requests",
    "SingleHome": "_core.singlehome",
    "WRITE_FLUSH": "_core.singlehome",
    "OpRecord": "_core.store",
    "Pending": "_core.store",
    "Route": "_core.store",
    "make_store": "_core.systems",
    "HybridClock": "_core.versions",
    "make_version": "_core.versions",
    "split_version": "_core.versions",
    "WallClock": "_core.versions",
    "RATE_LIMITED": "_core.workerskv",
    "WorkersKV": "_core.workerskv",
    # drivers
    "Diverged": "_drivers.cluster",
    "SingleHomeCluster": "_drivers.cluster",
    "Message": "_drivers.history",
    "VisibleWrite": "_drivers.history",
    "WriteHistory": "_drivers.history",
    "Recorder": "_drivers.recorder",
    "SyncCluster": "_drivers.sync",
    "SyncRegion": "_drivers.sync",
    "build_trace": "_drivers.trace",
    "LOGINS": "_drivers.trace",
    "PURCHASES": "_drivers.trace",
    "VirtualTimeLoop": "_drivers.vloop",
    # the benchmark
    "clock_skew": "_bench.anomalies",
    "item_merge": "_bench.anomalies",
    "resurrection": "_bench.anomalies",
    "BenchResult": "_bench.api",
    "SweepResult": "_bench.api",
    "home_refusal": "_bench.fasthome",
    "single_home": "_bench.fasthome",
    "op_entries": "_bench.fastpath",
    "refusal": "_bench.fastpath",
    "replicated_columns": "_bench.fastpath",
    "vectorised": "_bench.fastpath",
    "cdf": "_bench.fit",
    "fit_all": "_bench.fit",
    "ks_distance": "_bench.fit",
    "HtmlTable": "_bench.html",
    "render_report": "_bench.html",
    "flatten": "_bench.report",
    "summarize": "_bench.report",
    "summary_rows": "_bench.report",
    "build_workload": "_bench.scenario",
    "EdgeFlags": "_bench.scenario",
    "load_evaluator": "_bench.scenario",
    "LOGIN": "_bench.scenario",
    "OUTCOMES": "_bench.scenario",
    "PER_OP": "_bench.scenario",
    "PURCHASE": "_bench.scenario",
    "READ": "_bench.scenario",
    "run_edge_flags": "_bench.scenario",
    "run_system": "_bench.scenario",
    "scenario_config": "_bench.scenario",
    "ScenarioResult": "_bench.scenario",
    "SystemRun": "_bench.scenario",
    "with_median": "_bench.scenario",
    "Workload": "_bench.scenario",
    "WRITE": "_bench.scenario",
    "mean_interval": "_bench.stats",
    "percentile_interval": "_bench.stats",
    "percentile_ranks": "_bench.stats",
    "THIN_TAIL": "_bench.stats",
    "wilson": "_bench.stats",
    "connect": "_bench.sweep",
    "figure": "_bench.sweep",
    "grid": "_bench.sweep",
    "parse_param": "_bench.sweep",
    "parse_values": "_bench.sweep",
    "run_sweep": "_bench.sweep",
    "SweepPoint": "_bench.sweep",
    "load_workload": "_bench.workload",
    "packaged_workloads": "_bench.workload",
    "parse_workload": "_bench.workload",
    # the edge HTTP layer
    "DurableStore": "_edge.durable",
    "EdgeServer": "_edge.http",
    "make_app": "_edge.http",
    "MAX_BODY": "_edge.http",
    "openapi_document": "_edge.http",
    "Limits": "_edge.inputs",
    "Keys": "_edge.keys",
    "load_keys": "_edge.keys",
    "OneLine": "_edge.logs",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_namespace("edgekv.lowlevel", _EXPORTS, globals())

if TYPE_CHECKING:
    from ._bench.anomalies import clock_skew, item_merge, resurrection
    from ._bench.api import BenchResult, SweepResult
    from ._bench.fasthome import home_refusal, single_home
    from ._bench.fastpath import op_entries, refusal, replicated_columns, vectorised
    from ._bench.fit import cdf, fit_all, ks_distance
    from ._bench.html import HtmlTable, render_report
    from ._bench.report import flatten, summarize, summary_rows
    from ._bench.scenario import (
        LOGIN,
        OUTCOMES,
        PER_OP,
        PURCHASE,
        READ,
        WRITE,
        EdgeFlags,
        ScenarioResult,
        SystemRun,
        Workload,
        build_workload,
        load_evaluator,
        run_edge_flags,
        run_system,
        scenario_config,
        with_median,
    )
    from ._bench.stats import (
        THIN_TAIL,
        mean_interval,
        percentile_interval,
        percentile_ranks,
        wilson,
    )
    from ._bench.sweep import (
        SweepPoint,
        connect,
        figure,
        grid,
        parse_param,
        parse_values,
        run_sweep,
    )
    from ._bench.workload import load_workload, packaged_workloads, parse_workload
    from ._core.config import FIBER_KM_PER_S, PartitionWindow, great_circle_km
    from ._core.consistency import LEVELS, ReplicatedStore
    from ._core.cost import Prices, Usage, format_usd, parse_prices, price
    from ._core.crdt import (
        CRDT,
        FieldLWW,
        FieldRecord,
        FlooredRecord,
        ItemLWW,
        PlainRecord,
        Record,
        crdt_for,
        record_of,
    )
    from ._core.d1 import BEHIND, SESSION_STARTS, D1Replicas
    from ._core.distributions import (
        Constant,
        DelayStream,
        Distribution,
        Empirical,
        Exponential,
        LogNormal,
        Mixture,
        Normal,
        Pareto,
        Uniform,
        median,
        parse_distribution,
        parse_duration,
        parse_duration_list,
    )
    from ._core.dynamodb import CONFLICT, GlobalTableMREC, GlobalTableMRSC
    from ._core.kernel import Kernel
    from ._core.latency import LatencyModel, topology
    from ._core.mesh import Mesh
    from ._core.network import Network
    from ._core.node import CompactRegionNode, RegionNode
    from ._core.oracle import Oracle
    from ._core.realised import LagWarning, lag_warnings, link_lags, probe
    from ._core.replication import (
        Digest,
        OpsBatch,
        ShippedOp,
        decode,
        encode_digest,
        encode_ops,
    )
    from ._core.requests import Requests
    from ._core.singlehome import WRITE_FLUSH, SingleHome
    from ._core.store import OpRecord, Pending, Route
    from ._core.systems import make_store
    from ._core.versions import HybridClock, WallClock, make_version, split_version
    from ._core.workerskv import RATE_LIMITED, WorkersKV
    from ._drivers.cluster import Diverged, SingleHomeCluster
    from ._drivers.history import Message, VisibleWrite, WriteHistory
    from ._drivers.recorder import Recorder
    from ._drivers.sync import SyncCluster, SyncRegion
    from ._drivers.trace import LOGINS, PURCHASES, build_trace
    from ._drivers.vloop import VirtualTimeLoop
    from ._edge.durable import DurableStore
    from ._edge.http import MAX_BODY, EdgeServer, make_app, openapi_document
    from ._edge.inputs import Limits
    from ._edge.keys import Keys, load_keys
    from ._edge.logs import OneLine
