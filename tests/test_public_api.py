"""The public surface: exactly these names, each importable, and a cheap ``import edgekv``."""

from __future__ import annotations

import subprocess
import sys

import edgekv
import edgekv.lowlevel
import edgekv.pbs

EXPECTED = {
    "Cluster", "Config", "ConfigError", "EdgeDB", "EdgekvError", "Level", "Op", "OpKind",
    "OpResult", "Outcome", "Region", "SYSTEMS", "Session", "Store", "Unavailable",
    "__version__", "bench", "default_config", "load_config", "run", "sweep",
}  # fmt: skip


def test_exported_names() -> None:
    assert set(edgekv.__all__) == EXPECTED
    for name in edgekv.__all__:
        assert getattr(edgekv, name) is not None, name
    assert set(dir(edgekv)) >= EXPECTED


def test_exported_objects_show_their_public_module() -> None:
    assert edgekv.Cluster.__module__ == "edgekv"
    assert edgekv.run.__module__ == "edgekv"
    assert edgekv.lowlevel.Kernel.__module__ == "edgekv.lowlevel"
    assert edgekv.pbs.QuorumModel.__module__ == "edgekv.pbs"
    for name in edgekv.lowlevel.__all__:
        assert name not in edgekv.__all__, name  # no name in two places


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


def test_every_input_error_is_an_edgekv_error_with_path_and_reason() -> None:
    """Config, flag-config, user, HTTP-input and command-line errors share one base."""
    from edgekv.cli import UsageError
    from edgekv.flags import FlagConfigError, UserError

    for kind in (edgekv.ConfigError, FlagConfigError, UserError, UsageError):
        error = kind("a.b", "is wrong")
        assert isinstance(error, edgekv.EdgekvError)
        assert (error.path, error.reason, str(error)) == ("a.b", "is wrong", "a.b: is wrong")
