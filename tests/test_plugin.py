"""The pytest plugin, run in-process with ``pytester``: fixture, marker, virtual time under
pytest-asyncio (strict and auto), seed in failure reports, marker mistakes, lazy import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import edgekv.pytest_plugin as plugin

pytest_plugins = ["pytester"]

ASYNC_TESTS = """
import asyncio
import time

import pytest

from edgekv.lowlevel import VirtualTimeLoop


@pytest.mark.asyncio
@pytest.mark.edgekv(regions=["UK South", "East US"], lag="300ms", seed=3, granularity="item")
async def test_virtual_time(edgekv_cluster):
    assert edgekv_cluster.regions == ("UK South", "East US")
    assert edgekv_cluster.seed == 3 and edgekv_cluster.config.granularity == "item"
    assert isinstance(asyncio.get_running_loop(), VirtualTimeLoop)
    started = time.perf_counter()
    await edgekv_cluster["East US"].put("k", {"v": 1})
    await asyncio.sleep(3600)
    assert edgekv_cluster.now() == pytest.approx(3600, abs=0.01)
    assert time.perf_counter() - started < 5
    assert edgekv_cluster.snapshot()["UK South"] == {"k": {"v": 1}}


@pytest.mark.asyncio
async def test_plain_async_test_keeps_a_real_loop():
    assert not isinstance(asyncio.get_running_loop(), VirtualTimeLoop)
"""


@pytest.fixture(autouse=True)
def _ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_async_tests_run_in_virtual_time(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(ASYNC_TESTS)
    result = pytester.runpytest_inprocess(
        "-o",
        f"asyncio_mode={mode}",
        "--strict-markers",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("uses", ["marker", "fixture"])
def test_an_old_pytest_asyncio_fails_in_one_line_instead_of_sleeping(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, uses: str
) -> None:
    """Before 1.4 pytest-asyncio calls no loop factory: the test would sleep in real time."""
    import importlib.metadata

    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata,
        "version",
        lambda name: "1.3.0" if name == "pytest-asyncio" else real(name),
    )
    argument = "edgekv_cluster" if uses == "fixture" else ""
    pytester.makepyfile(
        f"""
        import asyncio
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.edgekv
        async def test_waits_an_hour({argument}):
            await asyncio.sleep(3600)
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)  # failed in set-up, before any sleep
    result.stdout.fnmatch_lines(["*need pytest-asyncio >= 1.4*"])


def test_sync_test_uses_the_sync_facade(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.edgekv(regions=["East US", "UK South"], lag="300ms")
        def test_sync(edgekv_cluster):
            us, uk = edgekv_cluster.sync["East US"], edgekv_cluster.sync["UK South"]
            us["user:1"] = {"stars": 3}
            edgekv_cluster.sync.advance(0.2)
            assert "user:1" not in uk
            edgekv_cluster.sync.settle()
            assert uk["user:1"] == {"stars": 3}
            assert edgekv_cluster.history.last("user:1").lag("UK South") == pytest.approx(0.3)
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_failure_report_names_the_seed_and_the_history(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.edgekv(regions=["East US", "UK South"])
        def test_fails(edgekv_cluster):
            edgekv_cluster.sync["East US"].put("user:9", {"stars": 1})
            assert edgekv_cluster.seed == -1

        @pytest.mark.edgekv(seed=5)
        def test_fixed_seed_fails(edgekv_cluster):
            assert edgekv_cluster.seed == -1
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--edgekv-seed=7")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*seed=7 (reproduce: pytest 'test_failure_report*::test_fails' --edgekv-seed=7)",
            "*East US: user:9 = {'stars': 1}*",
            "*seed=5 (reproduce: pytest 'test_failure_report*::test_fixed_seed_fails')",
        ]
    )


def test_check_asserts_with_counterexample_seed_and_rerun(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import edgekv
        import pytest

        def story(cluster, level):
            s = edgekv.Session()
            cluster.sync.call(cluster["East US"].put, "user:1", {"stars": 3}, session=s)
            return cluster.sync.call(cluster["UK South"].get, "user:1", level, session=s)

        @pytest.mark.edgekv(regions=["East US", "UK South"], lag="300ms")
        def test_eventual_breaks_read_your_writes(edgekv_cluster):
            assert story(edgekv_cluster, "eventual") is None
            edgekv_cluster.check("session")

        @pytest.mark.edgekv(regions=["East US", "UK South"], lag="300ms")
        def test_session_keeps_it(edgekv_cluster):
            assert story(edgekv_cluster, "session") == {"stars": 3}
            assert edgekv_cluster.check("session").checked == 2
            edgekv_cluster.check("linearizable")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--edgekv-seed=4")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: session: 1 violation in 2 operations",
            "*read-your-writes violated on key 'user:1':",
            '*session-1 @ East US: wrote user:1 = {"stars": 3} (v*)',
            "*session-1 @ UK South: read user:1 = absent",
            "*seed=4 (reproduce: pytest '*::test_eventual_breaks_read_your_writes' "
            "--edgekv-seed=4); system: replicated",
        ]
    )


def test_failure_report_draws_the_run_with_edgekv_trace(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.edgekv(regions=["East US", "UK South", "Japan East"], lag="300ms")
        def test_login(edgekv_cluster):
            edgekv_cluster.sync["East US"]["user:1"] = {"stars": 3}
            edgekv_cluster.sync.advance(0.1)
            assert "user:1" in edgekv_cluster.sync["UK South"]
        """
    )
    folder = tmp_path / "diagrams"
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", f"--edgekv-trace={folder}")
    result.assert_outcomes(failed=1)
    (png,) = folder.glob("*.png")
    assert png.name == "test_failure_report_draws_the_run_with_edgekv_trace.py__test_login.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    result.stdout.fnmatch_lines([f"*diagram: {png}"])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('regions=["East US", "Mars"]', "unknown region 'Mars'; known: East US,*"),
        ("regions=[]", "regions must be a non-empty list*"),
        ('lag="fast"', "*lag*"),
        ("colour=1", "unknown argument colour; allowed: regions, config, seed,*"),
        ("seed=-2", "seed must be an int >= 0, got -2"),
        ('options={"colour": 1}', "systems.replicated.colour: unknown option; allowed:*"),
        ('system="single-home", options={"migrate_after": -1}', "*migrate_after must be None*"),
        ('options="fast"', "options must be a mapping of option names to values, got str"),
        ("config=5", "config must be a regions.yaml path, a mapping or a Config, got int"),
        ('"East US"', "takes keyword arguments only"),
    ],
)
def test_marker_mistakes_fail_with_one_line(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.edgekv({marker})
        def test_x(edgekv_cluster):
            pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*@pytest.mark.edgekv: {message}"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_marker_seed_takes_what_a_cluster_takes(pytester: pytest.Pytester) -> None:
    """The marker checked seeds itself, refusing numpy's integers that Cluster takes."""
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        @pytest.mark.edgekv(regions=["East US"], seed=np.int64(5))
        def test_x(edgekv_cluster):
            assert edgekv_cluster.seed == 5 and type(edgekv_cluster.seed) is int
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_region_subset_keeps_links_and_partitions_of_those_regions() -> None:
    raw = {
        "regions": [
            {"name": "A", "lat": 0, "lon": 0},
            {"name": "B", "lat": 0, "lon": 10},
            {"name": "C", "lat": 0, "lon": 20},
        ],
        "replication": {
            "links": [{"from": "A", "to": "B", "lag": "10ms"}, {"from": "A", "to": "C", "lag": 1}],
            "partitions": [{"between": ["C", "B"], "start": 0, "end": "1s"}],
        },
    }
    cfg = plugin._config(raw, ["C", "B"])
    assert cfg.names == ("C", "B")
    assert cfg.partitions[0].a == "C" and not cfg.link_lag
    assert plugin._config(raw, ["A", "B"]).link_lag_for("A", "B").mean == pytest.approx(0.01)


def test_plugin_module_imports_nothing_heavy() -> None:
    """Loaded on its own (not through the package), the plugin imports only pytest."""
    path = Path(plugin.__file__)
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('ekv_plugin_probe', {str(path)!r})\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mod)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('edgekv', 'numpy', 'yaml', 'msgpack', 'asyncio'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


PROJECT_TEST = """
import pytest


@pytest.mark.asyncio
@pytest.mark.edgekv(regions=["East US", "UK South"], lag="300ms", seed=1)
async def test_stale_inside_the_lag_then_fresh(edgekv_cluster):
    await edgekv_cluster["East US"].put("user:1", {"stars": 100})
    await edgekv_cluster.advance(0.2)
    assert await edgekv_cluster["UK South"].get("user:1") is None
    await edgekv_cluster.advance(0.2)
    assert await edgekv_cluster["UK South"].get("user:1") == {"stars": 100}


@pytest.mark.edgekv(regions=["East US", "UK South"])
def test_sync_mapping(edgekv_cluster):
    edgekv_cluster.sync["East US"]["k"] = {"v": 1}
    edgekv_cluster.sync.settle()
    assert edgekv_cluster.sync["UK South"]["k"] == {"v": 1}
"""


@pytest.mark.slow
def test_a_project_that_only_pip_installs_edgekv_can_use_the_fixture(tmp_path: Path) -> None:
    """Acceptance: a fresh venv, ``pip install`` of edgekv (from a copy of this checkout, so
    the build leaves the work tree alone) plus pytest, then a test with fixture and marker."""
    repo = Path(plugin.__file__).resolve().parents[1]
    src = tmp_path / "src"
    shutil.copytree(repo / "edgekv", src / "edgekv", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (repo / name).exists():
            shutil.copy(repo / name, src / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", str(src), "pytest", "pytest-asyncio>=1.4"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_app.py").write_text(PROJECT_TEST)
    (project / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "--strict-markers", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 passed" in result.stdout


def test_marker_selects_the_system_under_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.edgekv(regions=["East US", "UK South"], system="single-home", seed=1)
        def test_home(edgekv_cluster):
            sync = edgekv_cluster.sync
            sync["East US"].put("user:1", {"stars": 3})
            assert sync["UK South"].get("user:1") == {"stars": 3}  # no lag: one home
            assert edgekv_cluster.system == "single-home"
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
