"""The public surface: exactly these names, each importable, and a cheap ``import edgekv``."""

from __future__ import annotations

import subprocess
import sys

import edgekv

EXPECTED = {
    "BOUNDED", "CompactRegionNode", "Cluster", "Config", "ConfigError", "Constant",
    "Coordinator", "EVENTUAL", "EdgeDB", "Empirical", "Exponential", "FieldLWW", "History",
    "HybridClock", "ItemLWW", "Kernel", "LEVELS", "LatencyModel", "LatencyProfile", "LogNormal",
    "Mesh", "Message", "Mixture", "Network", "Normal", "OpRecord", "OpResult", "Oracle",
    "PROFILES", "Pareto", "PartitionWindow", "QuorumDraws", "QuorumModel", "QuorumOutcomes",
    "QuorumResult", "Region", "RegionNode", "SESSION", "STRONG", "Session", "SingleHomeCluster",
    "SyncCluster", "SyncRegion", "Uniform", "VirtualTimeLoop", "WallClock", "Write",
    "__version__", "crdt_for", "default_config", "great_circle_km", "k_staleness_closed_form",
    "load_config", "make_version", "parse_distribution", "parse_duration", "run", "split_version",
}  # fmt: skip


def test_exported_names() -> None:
    assert set(edgekv.__all__) == EXPECTED
    for name in edgekv.__all__:
        assert getattr(edgekv, name) is not None, name
    assert set(dir(edgekv)) >= EXPECTED


def test_exported_objects_come_from_their_private_modules() -> None:
    assert edgekv.Cluster.__module__ == "edgekv._cluster"
    assert edgekv.run.__module__ == "edgekv._vloop"


def test_unknown_names_raise_attribute_error() -> None:
    try:
        edgekv.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_is_lazy() -> None:
    heavy = "('numpy', 'yaml', 'msgpack', 'aiohttp')"
    code = f"import sys, edgekv; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
