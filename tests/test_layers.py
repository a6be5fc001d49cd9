"""The layer contract covers the whole package: every module of ``edgekv`` sits in exactly one
layer of the import-linter contract in pyproject.toml, so a new module cannot slip past it;
the contract holds (``lint-imports``), and it breaks when a layer is crossed."""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import edgekv

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "contracts"
]
PUBLIC_SHELLS = {"edgekv", "edgekv.lowlevel"}
"""Namespaces that only re-export lazily (they import nothing at run time)."""
LAYERS = next(c for c in CONTRACTS if c["type"] == "layers")["layers"]


def _modules() -> set[str]:
    names = {"edgekv"}
    for info in pkgutil.walk_packages(edgekv.__path__, "edgekv."):
        names.add(info.name)
    return names


def _covered(name: str, listed: set[str]) -> bool:
    parts = name.split(".")
    return any(".".join(parts[:i]) in listed for i in range(2, len(parts) + 1))


def test_every_module_is_in_a_layer() -> None:
    layers = [{part.strip() for part in layer.split("|")} for layer in LAYERS]
    missing = [
        name
        for name in sorted(_modules() - PUBLIC_SHELLS)
        if sum(_covered(name, layer) for layer in layers) != 1
    ]
    assert missing == [], f"put each in exactly one layer of pyproject.toml: {missing}"


def test_the_core_is_the_bottom_layer_and_has_no_event_loop() -> None:
    assert LAYERS[-1] == "edgekv._core"
    sans_io = next(c for c in CONTRACTS if c["type"] == "forbidden")
    assert "edgekv._core" in sans_io["source_modules"]
    assert {"asyncio", "aiohttp"} <= set(sans_io["forbidden_modules"])


LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.mark.skipif(
    not LINT_IMPORTS.exists() and shutil.which("lint-imports") is None,
    reason="import-linter not installed",
)
def test_the_layer_contract_holds() -> None:
    out = _lint_imports(ROOT)
    assert out.returncode == 0, out.stdout[-2000:]


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    exe = str(LINT_IMPORTS) if LINT_IMPORTS.exists() else "lint-imports"
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([exe], cwd=root, capture_output=True, text=True, env=env)


@pytest.mark.skipif(
    not LINT_IMPORTS.exists() and shutil.which("lint-imports") is None,
    reason="import-linter not installed",
)
@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("_core/kernel.py", "import asyncio", "imports no event loop"),
        ("_core/config.py", "import yaml", "no file format"),
        ("_core/store.py", "import aiohttp", "imports no event loop"),
        ("_core/mesh.py", "from edgekv._drivers import cluster", "Layers"),
        ("_drivers/sync.py", "from edgekv._bench import scenario", "Layers"),
    ],
)
def test_the_contract_fails_when_a_layer_is_crossed(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    """A copy of the package with one forbidden import added breaks the named contract."""
    shutil.copytree(ROOT / "edgekv", tmp_path / "edgekv")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / "edgekv" / module).open("a") as file:
        file.write(f"\n{line}  # noqa\n")
    out = _lint_imports(tmp_path)
    assert out.returncode != 0
    assert broken in out.stdout.split("Broken contracts")[-1]
