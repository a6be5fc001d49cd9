"""Headless Chromium for the tests that check a page in a real browser: Debian's package,
installed once per session with apt-get when missing (the test set-up does it, never a
person)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def _install_chromium() -> str:
    """Install Debian's chromium with apt-get (refreshing the package lists if the first
    try fails); the reason it could not, or ''."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "chromium is not installed and installing it needs root"
    if shutil.which("apt-get") is None:
        return "chromium is not installed and there is no apt-get to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    out = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
        out = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        return f"apt-get install chromium failed: {out.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium executable, installed once per session if missing."""
    found = shutil.which("chromium")
    if found is None:
        reason = _install_chromium()
        found = shutil.which("chromium")
        if found is None:
            pytest.skip(reason or "chromium installed but not on PATH")
    return found


def browser_argv(chromium: str, profile: Path, *args: str) -> list[str]:
    """A headless chromium command line with its own profile directory."""
    argv = [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run"]
    return [*argv, f"--user-data-dir={profile}", "--disable-dev-shm-usage", *args]
