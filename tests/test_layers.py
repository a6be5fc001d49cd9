"""The layer contract covers the whole package: every module of ``edgekv`` is named in the
import-linter contracts of pyproject.toml (core, driver or application), so a new module
cannot slip past them; and the contract itself holds (``lint-imports``)."""

from __future__ import annotations

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
PUBLIC_SHELLS = {"edgekv", "edgekv.lowlevel", "edgekv._exports"}
"""Namespaces that only re-export lazily (they import nothing at run time)."""


def _modules() -> set[str]:
    names = {"edgekv"}
    for info in pkgutil.walk_packages(edgekv.__path__, "edgekv."):
        names.add(info.name)
    return names


def _covered(name: str, listed: set[str]) -> bool:
    parts = name.split(".")
    return any(".".join(parts[:i]) in listed for i in range(2, len(parts) + 1))


def test_every_module_is_in_a_layer() -> None:
    core = set(CONTRACTS[0]["source_modules"])
    drivers = set(CONTRACTS[2]["source_modules"])
    applications = set(CONTRACTS[2]["forbidden_modules"])
    assert core == set(CONTRACTS[1]["source_modules"])
    layers = [core, drivers, applications]
    missing = [
        name
        for name in sorted(_modules() - PUBLIC_SHELLS)
        if sum(_covered(name, layer) for layer in layers) != 1
    ]
    assert missing == [], f"put each in exactly one layer of pyproject.toml: {missing}"


LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.mark.skipif(
    not LINT_IMPORTS.exists() and shutil.which("lint-imports") is None,
    reason="import-linter not installed",
)
def test_the_layer_contract_holds() -> None:
    exe = str(LINT_IMPORTS) if LINT_IMPORTS.exists() else "lint-imports"
    out = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:]
