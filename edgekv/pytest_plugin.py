"""pytest plugin: the ``edgekv_cluster`` fixture, the ``edgekv`` marker and ``--edgekv-seed``.

Registered through the ``pytest11`` entry point, so it loads in every session of a project
that has edgekv installed: this module imports nothing but pytest at import time (edgekv,
numpy and asyncio load only when a test asks for the fixture).

```python
@pytest.mark.edgekv(regions=["East US", "UK South"], lag="300ms", seed=1)
async def test_login_sees_stars(edgekv_cluster):       # async: pytest-asyncio >= 1.4
    ...
def test_sync(edgekv_cluster):                          # sync: use edgekv_cluster.sync
    ...
```
Async tests run on a virtual-time loop handed to pytest-asyncio through its
``pytest_asyncio_loop_factories`` hook (auto or strict mode; in strict mode mark the test
``@pytest.mark.asyncio`` as usual). A failing test's report names the seed and shows the
recorded write history.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import asyncio

    from edgekv._core.config import Config
    from edgekv._drivers.cluster import Cluster
    from edgekv.check import CheckResult

__all__ = [
    "edgekv_cluster",
    "pytest_addoption",
    "pytest_asyncio_loop_factories",
    "pytest_configure",
    "pytest_runtest_makereport",
]

FIXTURE = "edgekv_cluster"
MARKER_HELP = (
    "edgekv(regions=None, config=None, seed=None, system='replicated', options=None, "
    "**overrides): configure the edgekv_cluster fixture: a subset of the default regions, a "
    "config path or mapping, a seed, the system under test and its options, and config "
    "overrides such as lag='300ms', granularity='item', loss=0.1"
)
# Config fields a marker may override (each validated by Config.replace).
OVERRIDES = (
    "lag",
    "jitter",
    "client_delay",
    "service_time",
    "batch_window",
    "loss",
    "duplicate",
    "granularity",
    "clock",
    "request_timeout",
)

_CLUSTER = pytest.StashKey["Cluster"]()
_OBSERVER = pytest.StashKey[Any]()
_SEED_FROM_MARKER = pytest.StashKey[bool]()


class _LoopBroker:
    """Hands one virtual-time loop to both the fixture (which starts the cluster on it
    before the test) and pytest-asyncio's runner (which then runs the test on it)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.adopted = False
        """Whether pytest-asyncio took the current loop (and so will close it)."""

    def _current(self) -> asyncio.AbstractEventLoop:
        if self.loop is None or self.loop.is_closed():
            from edgekv._drivers.vloop import VirtualTimeLoop

            self.loop = VirtualTimeLoop()
            self.adopted = False
        return self.loop

    def for_fixture(self) -> asyncio.AbstractEventLoop:
        """The loop the next edgekv async test will run on."""
        return self._current()

    def factory(self) -> asyncio.AbstractEventLoop:
        """pytest-asyncio's loop factory for edgekv tests."""
        loop = self._current()
        self.adopted = True
        return loop


_BROKER = pytest.StashKey[_LoopBroker]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--edgekv-seed``: the seed of every ``edgekv_cluster`` whose marker sets none."""
    group = parser.getgroup("edgekv")
    group.addoption(
        "--edgekv-seed",
        type=int,
        default=None,
        help="seed for edgekv_cluster fixtures without an explicit seed (default 0)",
    )
    group.addoption(
        "--edgekv-trace",
        metavar="DIR",
        default=None,
        help="on failure, draw a space-time diagram of the test's cluster into DIR "
        "(needs the plot extra)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line("markers", MARKER_HELP)
    config.stash[_BROKER] = _LoopBroker()


def _uses_edgekv(item: pytest.Item) -> bool:
    return FIXTURE in getattr(item, "fixturenames", ()) or bool(item.get_closest_marker("edgekv"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """An async test using edgekv (fixture or marker alone) on a pytest-asyncio that cannot
    give it virtual time fails at once in one line, instead of sleeping in real time."""
    function = getattr(item, "function", None)
    if (
        _uses_edgekv(item)
        and inspect.iscoroutinefunction(function)
        and not _pytest_asyncio_supports_loop_factories()
    ):
        pytest.fail(
            f"{item.nodeid}: async tests with edgekv need pytest-asyncio >= 1.4 (loop "
            f"factories give them virtual time); upgrade it, or write a sync test that uses "
            f"{FIXTURE}.sync",
            pytrace=False,
        )


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]] | None:
    """Virtual time for async tests using edgekv; other tests keep pytest-asyncio's default
    (left to any other implementation of this hook, else the policy's new loop)."""
    if _uses_edgekv(item):
        return {"edgekv": config.stash[_BROKER].factory}
    if len(config.hook.pytest_asyncio_loop_factories.get_hookimpls()) > 1:
        return None
    import asyncio

    return {"asyncio": asyncio.new_event_loop}


@pytest.fixture
def edgekv_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A replicated edgekv cluster in virtual time, configured by ``@pytest.mark.edgekv``.

    In an async test it runs on the test's (virtual-time) loop; in a sync test use
    ``edgekv_cluster.sync``. Its ``history`` records every write from the start, its
    recorder every operation; ``edgekv_cluster.check("session")`` (or any model of
    :func:`edgekv.check.check`) asserts the recorded history keeps that model.
    """
    item = request.node
    cluster = _cluster_for(item, request.config)
    if inspect.iscoroutinefunction(getattr(request, "function", None)):
        broker = request.config.stash[_BROKER]
        loop = broker.for_fixture()
    else:
        from edgekv._drivers.vloop import VirtualTimeLoop

        broker = None
        loop = VirtualTimeLoop()
    cluster.bind(loop)
    cluster.record()
    item.stash[_CLUSTER] = cluster
    if request.config.getoption("edgekv_trace"):
        from edgekv._drivers.trace import Observer

        item.stash[_OBSERVER] = Observer(cluster)
    item.user_properties.append(("edgekv_seed", cluster.seed))
    try:
        yield cluster
    finally:
        cluster.close()
        if broker is None or not broker.adopted:
            loop.close()


def _cluster_for(item: pytest.Item, config: pytest.Config) -> Cluster:
    """The cluster the item's marker describes; a marker mistake fails the test with a
    one-line message, never a traceback."""
    from edgekv._core.errors import ConfigError

    marker = item.get_closest_marker("edgekv")
    options = dict(marker.kwargs) if marker is not None else {}
    try:
        if marker is not None and marker.args:
            raise TypeError("takes keyword arguments only")
        seed = options.pop("seed", None)
        item.stash[_SEED_FROM_MARKER] = seed is not None
        if seed is None:
            seed = config.getoption("edgekv_seed")
        seed = 0 if seed is None else seed  # checked by the Cluster
        regions = options.pop("regions", None)
        source = options.pop("config", None)
        system = options.pop("system", "replicated")
        system_options = options.pop("options", None)
        unknown = sorted(set(options) - set(OVERRIDES))
        if unknown:
            raise TypeError(
                f"unknown argument {', '.join(unknown)}; allowed: regions, config, seed, "
                "system, options, " + ", ".join(OVERRIDES)
            )
        cfg = _config(source, regions)
        cluster = _asserting()(cfg, seed=seed, system=system, options=system_options, **options)
        cluster.item = item
        return cluster
    except (ConfigError, KeyError, TypeError, ValueError) as exc:
        reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        pytest.fail(f"{item.nodeid}: @pytest.mark.edgekv: {reason}", pytrace=False)


def _config(source: Any, regions: Any) -> Config:
    """The base config (default topology, a YAML path or a mapping), restricted to
    ``regions`` when given: a validated config of just those regions, in that order."""
    from edgekv._core.config import Config
    from edgekv._drivers.files import default_config, load_config

    if regions is None:
        return default_config() if source is None else load_config(source)
    if isinstance(regions, str) or not isinstance(regions, Sequence) or not regions:
        raise TypeError(f"regions must be a non-empty list of region names, got {regions!r}")
    if isinstance(source, Config):
        raise TypeError("regions= needs config= as a YAML path or mapping, not a Config")
    return load_config(_restricted(_raw(source), list(regions)))


def _raw(source: Any) -> Mapping[str, Any]:
    """The parsed mapping of a config source (the packaged one for None), validated first."""
    from importlib import resources

    from edgekv._drivers.files import load_config, read_yaml

    if isinstance(source, Mapping):
        return source
    if source is None:
        with resources.as_file(resources.files("edgekv") / "data" / "regions.yaml") as path:
            raw: Mapping[str, Any] = read_yaml(str(path), "config file")
        return raw
    load_config(source)  # validates the file and reports any mistake in it
    parsed: Mapping[str, Any] = read_yaml(os.fspath(source), "config file")
    return parsed


def _restricted(raw: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """A copy of a raw config mapping keeping only ``names``: their regions (in that order),
    RTT rows and columns, link lags and scheduled partitions."""
    by_name = {r.get("name"): r for r in raw.get("regions") or () if isinstance(r, Mapping)}
    for name in names:
        if name not in by_name:
            raise KeyError(f"unknown region {name!r}; known: {', '.join(map(str, by_name))}")
    if len(set(names)) != len(names):
        raise ValueError(f"regions lists a region twice: {names!r}")
    keep = set(names)
    out = {k: v for k, v in raw.items() if k not in ("regions", "rtt_ms", "replication")}
    out["regions"] = [by_name[name] for name in names]
    if raw.get("rtt_ms") is not None:
        out["rtt_ms"] = {
            src: {dst: ms for dst, ms in row.items() if dst in keep}
            for src, row in raw["rtt_ms"].items()
            if src in keep
        }
    replication = raw.get("replication")
    if isinstance(replication, Mapping):
        rep = dict(replication)
        rep["links"] = [
            link
            for link in replication.get("links") or ()
            if link.get("from") in keep and link.get("to") in keep
        ]
        rep["partitions"] = [
            window
            for window in replication.get("partitions") or ()
            if set(window.get("between") or ()) <= keep
        ]
        out["replication"] = rep
    elif replication is not None:
        out["replication"] = replication
    return out


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure, add the seed (and how to rerun with it) and the write history."""
    report = yield
    cluster = item.stash.get(_CLUSTER, None)
    if cluster is not None and report.failed:
        text = _failure_text(item, cluster)
        add_section = getattr(report.longrepr, "addsection", None)
        if callable(add_section):
            add_section("edgekv", text)
        else:
            report.sections.append(("edgekv", text))
    return report


def _pytest_asyncio_supports_loop_factories() -> bool:
    """True when the installed pytest-asyncio is 1.4 or newer (it calls loop factories)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(part) for part in version("pytest-asyncio").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (1, 4)


def _describe(record: Any) -> str:
    return (
        f"t={record.start:.3f}s region {record.region}: {record.kind} {record.key!r} -> "
        f"{record.outcome} v{record.version} in {record.latency * 1e3:.1f} ms"
    )


def _reproduce(item: pytest.Item, cluster: Cluster) -> str:
    """The seed and the command that reruns the test with it."""
    rerun = f"pytest '{item.nodeid}'"
    if not item.stash.get(_SEED_FROM_MARKER, False):
        rerun += f" --edgekv-seed={cluster.seed}"
    return f"seed={cluster.seed} (reproduce: {rerun})"


def _asserting() -> type[Any]:
    """The fixture's Cluster class: ``check`` raises AssertionError on a violation (built
    per fixture, from the edgekv modules loaded now, so importing the plugin imports none)."""
    from edgekv._drivers.cluster import Cluster

    class AssertingCluster(Cluster):
        """A Cluster whose ``check`` is an assertion."""

        item: pytest.Item

        def check(
            self,
            model: str,
            *,
            max_versions: int | None = None,
            max_seconds: float | None = None,
        ) -> CheckResult:
            """The verdict; AssertionError showing the counterexamples, the seed and the
            rerun command when the recorded history breaks ``model``."""
            result = super().check(model, max_versions=max_versions, max_seconds=max_seconds)
            if not result.ok:
                raise AssertionError(
                    f"{result.describe(limit=3)}\n\n{_reproduce(self.item, self)}; "
                    f"system: {self.system}"
                )
            return result

    return AssertingCluster


def _diagram(item: pytest.Item, cluster: Cluster) -> list[str]:
    """With ``--edgekv-trace DIR``: draw the run so far to DIR/<test>.png; the line to report."""
    observer = item.stash.get(_OBSERVER, None)
    folder = item.config.getoption("edgekv_trace")
    if observer is None or not folder:
        return []
    try:
        from edgekv._bench.report import load_pyplot

        plt = load_pyplot()
    except ModuleNotFoundError:
        return ["diagram: --edgekv-trace needs matplotlib: pip install 'edgekv[plot]'"]
    from edgekv._bench.diagram import draw
    from edgekv._drivers.trace import trace_of

    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in item.nodeid) + ".png"
    path = os.path.join(folder, name)
    try:
        os.makedirs(folder, exist_ok=True)
        draw(plt, trace_of(cluster, observer), path)
    except OSError as exc:
        return [f"diagram: cannot write {path}: {exc.strerror}"]
    return [f"diagram: {path}"]


def _failure_text(item: pytest.Item, cluster: Cluster) -> str:
    lines = [
        _reproduce(item, cluster),
        *_diagram(item, cluster),
        f"system: {cluster.system}; virtual time at failure: {cluster.now():.3f}s; "
        f"messages in flight: {len(cluster.in_flight())}",
    ]
    if cluster.system == "replicated":
        lines += ["writes:", cluster.history.describe()]
    else:
        lines += ["operations:", *(_describe(r) for r in cluster.records)]
    return "\n".join(lines)
