"""Parameter sweeps of the ``edge-flags`` scenario over any config, scenario or system
field: one full run per point of a grid (the cartesian product of the parameters' values),
in parallel across local processes or on a Dask distributed cluster.

Every point uses the same seed (common random numbers: the same users, sessions and
per-message draws, only the swept parameters differ), so differences between points are the
parameters' effect rather than sampling noise, and a point's result does not depend on how
many processes ran the sweep. Points are shipped to workers as plain inputs (config path,
lag spec, flags path, scenario, settings), since a loaded config is not picklable.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from .._core.config import Config
from .._core.distributions import (
    Distribution,
    LogNormal,
    median,
    parse_distribution,
    parse_duration,
    split_values,
)
from .._core.errors import ConfigError
from .._core.kernel import Kernel
from .._core.systems import make_store, parse_system
from .._drivers.files import load_config, read_yaml
from .report import summarize
from .scenario import (
    DEFAULT_SYSTEMS,
    EdgeFlags,
    load_evaluator,
    run_edge_flags,
    scenario_config,
    with_median,
)

__all__ = [
    "PARAMS",
    "Param",
    "SweepPoint",
    "canonical",
    "connect",
    "grid",
    "is_duration",
    "parse_param",
    "parse_values",
    "run_point",
    "run_sweep",
]

PARAMS: dict[str, tuple[str, str]] = {
    "lag.median": ("duration", "0ms,25ms,50ms,100ms,200ms,300ms,500ms,1s,2s"),
    "mobility": ("fraction", "0,0.1,0.2,0.4,0.6,0.8,1"),
    "think.median": ("duration", "100ms,250ms,500ms,1s,2s,5s,10s"),
}
"""Parameters with default values (``--param NAME`` alone): kind of value and defaults.
``lag.median`` rescales the replication lag (``--lag`` or the config's default lag) to each
median, keeping its shape; ``think.median`` does the same to the purchase-to-login delay."""

ALIASES = {"lag": "lag.median", "think": "think.median"}

YAML_SECTIONS = ("network", "replication", "store", "systems")
"""Top-level sections of ``regions.yaml`` whose fields a sweep may set by dotted path."""

DERIVED = {"lag.median": "duration", "lag.sigma": "sigma", "think.median": "duration"}
"""Parameters that reshape a distribution rather than set a field."""

SCENARIO_DURATIONS = ("duration", "warmup")
"""Scenario fields in seconds, written with units on the command line."""


def _scenario_fields() -> dict[str, str]:
    """Each scalar field of :class:`EdgeFlags` and its kind (int, float or duration)."""
    out = {}
    for f in dataclasses.fields(EdgeFlags):
        if f.name in SCENARIO_DURATIONS:
            out[f.name] = "duration"
        elif isinstance(f.default, bool):
            continue
        elif isinstance(f.default, int):
            out[f.name] = "int"
        elif isinstance(f.default, float):
            out[f.name] = "float"
    return out


def canonical(param: str) -> str:
    """The canonical dotted path of a parameter; ``ConfigError`` on ``param`` naming the
    three kinds of path otherwise (checked against the YAML when values are applied)."""
    name = ALIASES.get(param.strip(), param.strip())
    if name in DERIVED or name in _scenario_fields():
        return name
    section, _, rest = name.partition(".")
    if section in YAML_SECTIONS and rest and all(name.split(".")):
        if section == "systems" and len(name.split(".")) != 3:
            raise ConfigError("param", f"expected systems.SYSTEM.OPTION, got {param!r}")
        return name
    scenario = ", ".join(_scenario_fields())
    raise ConfigError(
        "param",
        f"unknown parameter {param!r}; allowed: lag.median, lag.sigma, think.median, a "
        f"scenario field ({scenario}) or a config path under {', '.join(YAML_SECTIONS)} "
        "(e.g. replication.loss, systems.workers-kv.cache_ttl)",
    )


def _kind(path: str) -> str:
    return DERIVED.get(path) or _scenario_fields().get(path) or "yaml"


def is_duration(path: str) -> bool:
    """Whether a parameter's values are durations parsed to seconds (``lag.median``, ...)."""
    return _kind(canonical(path)) == "duration"


def _format_number(value: float, kind: str) -> str:
    if kind == "duration":
        return f"{value * 1e3:.6g}ms" if value < 1 else f"{value:.6g}s"
    if kind == "int":
        return str(round(value))
    return f"{value:.6g}"


def _expand_range(path: str, item: str, kind: str) -> list[str]:
    """``lo..hi/n`` -> ``n`` evenly spaced labels from ``lo`` to ``hi`` (``/nlog``: evenly
    spaced on a log scale); durations keep their units, integers are rounded."""
    lo_text, _, rest = item.replace(" ", "").partition("..")
    hi_text, _, count = rest.rpartition("/")
    log = count.endswith("log")
    count = count.removesuffix("log")
    if not (lo_text and hi_text and count.isdigit()):
        raise ConfigError(path, f"expected a range lo..hi/N such as 0ms..1s/5, got {item!r}")
    n = int(count)
    if not 2 <= n <= 1000:
        raise ConfigError(path, f"a range needs 2..1000 points, got {n} in {item!r}")
    ends: list[float] = []
    timed = kind == "duration" or (kind == "yaml" and lo_text[-1:].isalpha())
    for text in (lo_text, hi_text):
        if timed:
            ends.append(parse_duration(text, path, bare="error"))
            continue
        try:
            ends.append(float(text))
        except ValueError:
            raise ConfigError(
                path, f"expected a number in the range {item!r}, got {text!r}"
            ) from None
    lo, hi = ends
    if log:
        if lo <= 0 or hi <= 0:
            raise ConfigError(path, f"a log range needs positive ends, got {item!r}")
        points = [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]
    else:
        points = [lo + (hi - lo) * i / (n - 1) for i in range(n)]
    labels = [_format_number(v, "duration" if timed else kind) for v in points]
    return list(dict.fromkeys(labels))


def _parse_one(path: str, item: str, kind: str) -> tuple[Any, str]:
    """``(value, label)`` of one value of ``path``; ``ConfigError`` naming ``path``."""
    if kind == "duration":
        return parse_duration(item, path, bare="error"), item
    if kind in ("int", "float", "sigma"):
        try:
            number: float = int(item) if kind == "int" else float(item)
        except ValueError:
            what = "an integer" if kind == "int" else "a number"
            raise ConfigError(path, f"expected {what}, got {item!r}") from None
        if kind == "sigma" and not (math.isfinite(number) and number > 0):
            raise ConfigError(path, f"expected a positive sigma, got {item!r}")
        return number, item
    try:
        value = yaml.safe_load(item)
    except yaml.YAMLError:
        value = item
    if isinstance(value, list | dict):
        raise ConfigError(path, f"expected a scalar value, got {item!r}")
    return value, item


def parse_values(param: str, text: str | None) -> list[tuple[Any, str]]:
    """``(value, label)`` pairs from a comma-separated list, where an item may be a range
    ``lo..hi/N`` (see :func:`_expand_range`): durations in seconds, numbers, or the YAML
    scalar for a config path (``null``, ``true``, ``item``, ``60s``); the defaults of
    :data:`PARAMS` when ``text`` is None. ``ConfigError`` naming the parameter's path."""
    path = canonical(param)
    kind = _kind(path)
    if text is None:
        if path not in PARAMS:
            raise ConfigError(path, "give its values: --param PATH=VALUES")
        text = PARAMS[path][1]
    items = split_values(text)
    if not all(items):
        raise ConfigError(path, f"expected a comma-separated list, got {text!r}")
    out: list[tuple[Any, str]] = []
    for item in items:
        labels = _expand_range(path, item, kind) if ".." in item else [item]
        out += [_parse_one(path, label, kind) for label in labels]
    if len({label for _, label in out}) != len(out):
        raise ConfigError(path, f"a value is given twice in {text!r}")
    if path == "mobility":
        for value, label in out:
            if not 0 <= value <= 1:
                raise ConfigError(path, f"expected a fraction in 0..1, got {label!r}")
    return out


@dataclass(frozen=True)
class Param:
    """One swept parameter: its canonical path and its ``(value, label)`` pairs."""

    path: str
    values: tuple[tuple[Any, str], ...]


def parse_param(text: str, values: str | None = None) -> Param:
    """``"PATH=VALUES"`` (or ``PATH`` with ``values``, or the defaults) as a :class:`Param`."""
    if not isinstance(text, str):
        raise ConfigError(
            "param", f"expected 'PATH=VALUES' such as 'lag.median=100ms,1s', got {text!r}"
        )
    path, sep, rest = text.partition("=")
    if sep and values is not None:
        raise ConfigError(canonical(path), "give values either after = or with --values")
    return Param(canonical(path), tuple(parse_values(path, rest if sep else values)))


@dataclass(frozen=True)
class SweepPoint:
    """One point's inputs, picklable: the scenario, where its config and flags come from,
    the base lag spec (None: the config's), the swept ``(path, value, label)`` settings and
    the system columns."""

    scenario: EdgeFlags
    config: str | None
    lag: str | None
    flags: str | None
    settings: tuple[tuple[str, Any, str], ...]
    systems: tuple[str, ...] = DEFAULT_SYSTEMS


def grid(
    params: Sequence[Param],
    scenario: EdgeFlags,
    config: str | None = None,
    lag: str | None = None,
    flags: str | None = None,
    systems: Sequence[str] = DEFAULT_SYSTEMS,
) -> list[SweepPoint]:
    """Every point of the cartesian product of ``params``' values, the first parameter
    varying slowest."""
    paths = [p.path for p in params]
    if len(set(paths)) != len(paths):
        raise ConfigError("param", f"a parameter is given twice: {', '.join(paths)}")
    return [
        SweepPoint(
            scenario,
            config,
            lag,
            flags,
            tuple((p.path, v, label) for p, (v, label) in zip(params, combo, strict=True)),
            tuple(systems),
        )
        for combo in itertools.product(*(p.values for p in params))
    ]


def _set(raw: dict[str, Any], path: str, value: Any) -> None:
    """Set the dotted ``path`` of a parsed ``regions.yaml``, creating missing sections."""
    *parents, leaf = path.split(".")
    node = raw
    for i, key in enumerate(parents):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            where = ".".join(parents[: i + 1])
            raise ConfigError(path, f"{where} is not a mapping in the config")
        node = child
    node[leaf] = value


def _config(point: SweepPoint) -> Config:
    """The point's config: the YAML with its config-path settings applied, then ``--lag``
    unless the lag itself is swept."""
    yaml_settings = [(p, v) for p, v, _ in point.settings if _kind(p) == "yaml"]
    if not yaml_settings:
        return scenario_config(point.config, point.lag)
    if point.config is None:
        with resources.as_file(resources.files("edgekv") / "data" / "regions.yaml") as file:
            raw, source = read_yaml(str(file), "config file"), str(file)
    else:
        raw, source = read_yaml(point.config, "config file"), point.config
    if not isinstance(raw, dict):
        raise ConfigError(source, "expected a mapping with regions")
    raw = copy.deepcopy(raw)
    for path, value in yaml_settings:
        _set(raw, path, value)
    cfg = dataclasses.replace(load_config(raw), source=source)
    if point.lag is not None and "replication.lag" not in dict(yaml_settings):
        cfg = cfg.replace(lag=parse_distribution(point.lag, "lag"))
    return cfg


def _point_inputs(point: SweepPoint) -> tuple[EdgeFlags, Config, Any]:
    cfg = _config(point)
    scenario = point.scenario
    for path, value, _ in point.settings:
        if path == "lag.sigma":
            cfg = cfg.replace(lag=LogNormal(median(cfg.lag), value))
    for path, value, _ in point.settings:
        if path == "lag.median":
            cfg = cfg.replace(lag=with_median(cfg.lag, value))
        elif path == "think.median":
            think: Distribution = with_median(scenario.think, value)
            scenario = dataclasses.replace(scenario, think=think)
        elif _kind(path) in ("int", "float", "duration"):
            scenario = dataclasses.replace(scenario, **{path: value})
    names = {parse_system(spec)[0] for spec in point.systems}
    for path, _, _ in point.settings:
        if path.startswith("systems."):
            system = path.split(".")[1]
            if system not in names:
                raise ConfigError(
                    path, f"{system} is not among the systems run ({', '.join(sorted(names))})"
                )
            make_store(system, cfg, scenario.seed, Kernel())
    return scenario, cfg, load_evaluator(point.flags)


def check_points(points: Sequence[SweepPoint]) -> None:
    """Build every point's inputs in this process: ``ConfigError`` naming the field of the
    first point that cannot run, before any worker starts."""
    for point in points:
        _point_inputs(point)


def run_point(point: SweepPoint) -> dict[str, Any]:
    """Run one point and return its summary (see :func:`edgekv.lowlevel.summarize`) after
    its settings: ``params`` (path -> label) and ``values`` (path -> value); a one-parameter
    point also carries ``param``, ``value`` and ``label``."""
    scenario, cfg, evaluator = _point_inputs(point)
    summary = summarize(run_edge_flags(scenario, cfg, evaluator, None, point.systems))
    head: dict[str, Any] = {
        "params": {p: label for p, _, label in point.settings},
        "values": {p: value for p, value, _ in point.settings},
    }
    if len(point.settings) == 1:
        ((param, value, label),) = point.settings
        head |= {"param": param, "value": value, "label": label}
    return {**head, **summary}


def _timed_point(point: SweepPoint) -> tuple[dict[str, Any], float]:
    """:func:`run_point` and the wall-clock seconds it took (for progress lines only)."""
    started = time.perf_counter()
    result = run_point(point)
    return result, time.perf_counter() - started


Progress = Callable[[int, int, float], None]
"""``progress(done, index, seconds)``: after point ``index`` finished in ``seconds``."""


def connect(address: str, timeout: float = 10.0) -> Any:
    """A ``dask.distributed.Client`` of the scheduler at ``address`` (``tcp://HOST:8786``);
    ``ConfigError`` on ``scheduler`` if the ``dask`` extra is missing or nobody answers."""
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(
            "scheduler", "needs dask.distributed: pip install 'edgekv[dask]'"
        ) from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError("scheduler", f"cannot reach {address!r}: {reason}") from None


def _on_cluster(
    client: Any, points: Sequence[SweepPoint], progress: Progress | None
) -> list[dict[str, Any]]:
    """Every point run as one task of ``client``'s cluster, results in the order given."""
    from distributed import as_completed

    futures = [client.submit(_timed_point, point, pure=False) for point in points]
    index = {future.key: i for i, future in enumerate(futures)}
    results: dict[int, dict[str, Any]] = {}
    try:
        for future in as_completed(futures):
            i = index[future.key]
            results[i], seconds = future.result()
            if progress is not None:
                progress(len(results), i, seconds)
    finally:
        client.cancel([f for f in futures if not f.done()])
    return [results[i] for i in range(len(points))]


def run_sweep(
    points: Sequence[SweepPoint],
    jobs: int,
    progress: Progress | None = None,
    client: Any = None,
) -> list[dict[str, Any]]:
    """Every point's summary, in the order given. With ``client`` (a
    ``dask.distributed.Client``) each point is a task on its cluster, whose workers need
    edgekv installed, and ``jobs`` is ignored; otherwise ``jobs`` > 1 runs points in that
    many local worker processes (spawned, so no thread of the caller is forked). Either
    way a point gives the same result as in this process: it depends only on its inputs.
    ``progress(done, index, seconds)`` after each point. Inputs are validated in this
    process first, so a bad value fails before any worker starts."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError("jobs", f"expected an integer >= 1, got {jobs!r}")
    check_points(points)
    if client is not None:
        return _on_cluster(client, points, progress)
    results: dict[int, dict[str, Any]] = {}
    if jobs <= 1 or len(points) <= 1:
        for i, point in enumerate(points):
            results[i], seconds = _timed_point(point)
            if progress is not None:
                progress(len(results), i, seconds)
        return [results[i] for i in range(len(points))]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(points)), mp_context=context) as pool:
        pending: dict[Future[tuple[dict[str, Any], float]], int] = {
            pool.submit(_timed_point, point): i for i, point in enumerate(points)
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                results[i], seconds = future.result()
                if progress is not None:
                    progress(len(results), i, seconds)
    return [results[i] for i in range(len(points))]


def figure(system: Mapping[str, Any], metric: str) -> float | None:
    """One headline figure of a system's summary: ``stale`` (% of reads), ``wrong`` (% of
    logins served a wrong flag), ``p99`` (client read latency, ms), ``availability`` (% of
    operations not unavailable) or ``cost`` (the summary's ``cost`` figure per million
    sessions, if the summary prices operations); None where it has no sample."""
    if metric == "stale":
        return system["stale_reads"]["pct"]
    if metric == "wrong":
        return system["logins"]["wrong_flag"]["pct"]
    if metric == "p99":
        return system["reads"]["latency_ms"]["p99"]
    if metric == "availability":
        shares = system["unavailable"].values()
        total = sum(s["of"] for s in shares)
        return None if total == 0 else 100.0 * (1 - sum(s["n"] for s in shares) / total)
    if metric == "cost":
        return _cost(system.get("cost"))
    raise ValueError(f"unknown metric {metric!r}")


def _cost(cost: Any) -> float | None:
    """The per-million-sessions figure of a ``cost`` entry (a number, or a mapping whose
    key names ``per_million``), else its first number."""
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        return float(cost)
    if isinstance(cost, Mapping):
        keys = sorted(cost, key=lambda k: "per_million" not in str(k))
        for key in keys:
            value = _cost(cost[key])
            if value is not None:
                return value
    return None
