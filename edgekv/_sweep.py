"""Parameter sweeps of the ``edge-flags`` scenario: one full run per value, in parallel
across local processes or on a Dask distributed cluster.

Every point uses the same seed (common random numbers: the same users, sessions and
per-message draws, only the swept parameter differs), so differences between points are the
parameter's effect rather than sampling noise, and a point's result does not depend on how
many processes ran the sweep. Points are shipped to workers as plain inputs (config path,
lag spec, flags path, scenario), since a loaded config is not picklable.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ._distributions import Distribution, parse_duration
from ._errors import ConfigError
from ._report import summarize
from ._scenario import EdgeFlags, load_evaluator, run_edge_flags, scenario_config, with_median

__all__ = [
    "PARAMS",
    "SweepPoint",
    "canonical",
    "connect",
    "parse_values",
    "run_point",
    "run_sweep",
]

PARAMS: dict[str, tuple[str, str]] = {
    "lag.median": ("duration", "0ms,25ms,50ms,100ms,200ms,300ms,500ms,1s,2s"),
    "mobility": ("fraction", "0,0.1,0.2,0.4,0.6,0.8,1"),
    "think.median": ("duration", "100ms,250ms,500ms,1s,2s,5s,10s"),
}
"""Sweepable parameters: kind of value and default values. ``lag.median`` rescales the
replication lag (``--lag`` or the config's default lag) to each median, keeping its shape;
``think.median`` does the same to the purchase-to-login delay."""

ALIASES = {"lag": "lag.median", "think": "think.median"}


def canonical(param: str) -> str:
    """The canonical name of a sweepable parameter; ``ConfigError`` listing them otherwise."""
    name = ALIASES.get(param, param)
    if name not in PARAMS:
        raise ConfigError("param", f"unknown parameter {param!r}; allowed: {', '.join(PARAMS)}")
    return name


def parse_values(param: str, text: str | None) -> list[tuple[float, str]]:
    """``(value, label)`` pairs from a comma-separated list (durations in seconds for
    ``*.median``, fractions in 0..1 for ``mobility``); the defaults when ``text`` is None."""
    kind, default = PARAMS[canonical(param)]
    items = [s.strip() for s in (default if text is None else text).split(",")]
    if not all(items):
        raise ConfigError("values", f"expected a comma-separated list, got {text!r}")
    out = []
    for item in items:
        if kind == "duration":
            out.append((parse_duration(item, "values"), item))
            continue
        try:
            value = float(item)
        except ValueError:
            raise ConfigError("values", f"expected a fraction in 0..1, got {item!r}") from None
        if not 0 <= value <= 1:
            raise ConfigError("values", f"expected a fraction in 0..1, got {item!r}")
        out.append((value, item))
    return out


@dataclass(frozen=True)
class SweepPoint:
    """One point's inputs, picklable: the scenario, where its config and flags come from,
    the base lag spec (None: the config's) and the swept parameter's value."""

    scenario: EdgeFlags
    config: str | None
    lag: str | None
    flags: str | None
    param: str
    value: float
    label: str


def _point_inputs(point: SweepPoint) -> tuple[EdgeFlags, Any, Any]:
    cfg = scenario_config(point.config, point.lag)
    scenario = point.scenario
    param = canonical(point.param)
    if param == "lag.median":
        cfg = cfg.replace(lag=with_median(cfg.lag, point.value))
    elif param == "mobility":
        scenario = dataclasses.replace(scenario, mobility=point.value)
    else:
        think: Distribution = with_median(scenario.think, point.value)
        scenario = dataclasses.replace(scenario, think=think)
    return scenario, cfg, load_evaluator(point.flags)


def run_point(point: SweepPoint) -> dict[str, Any]:
    """Run one point and return its summary (see :func:`edgekv._report.summarize`)."""
    scenario, cfg, evaluator = _point_inputs(point)
    summary = summarize(run_edge_flags(scenario, cfg, evaluator))
    return {"param": point.param, "value": point.value, "label": point.label, **summary}


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
    client: Any, points: Sequence[SweepPoint], progress: Callable[[int], None] | None
) -> list[dict[str, Any]]:
    """Every point run as one task of ``client``'s cluster, results in the order given."""
    from distributed import as_completed

    futures = [client.submit(run_point, point, pure=False) for point in points]
    index = {future.key: i for i, future in enumerate(futures)}
    results: dict[int, dict[str, Any]] = {}
    try:
        for future in as_completed(futures):
            results[index[future.key]] = future.result()
            if progress is not None:
                progress(len(results))
    finally:
        client.cancel([f for f in futures if not f.done()])
    return [results[i] for i in range(len(points))]


def run_sweep(
    points: Sequence[SweepPoint],
    jobs: int,
    progress: Callable[[int], None] | None = None,
    client: Any = None,
) -> list[dict[str, Any]]:
    """Every point's summary, in the order given. With ``client`` (a
    ``dask.distributed.Client``) each point is a task on its cluster, whose workers need
    edgekv installed, and ``jobs`` is ignored; otherwise ``jobs`` > 1 runs points in that
    many local worker processes (spawned, so no thread of the caller is forked). Either
    way a point gives the same result as in this process: it depends only on its inputs.
    ``progress(done)`` after each point. Inputs are validated in this process first, so a
    bad value fails before any worker starts."""
    for point in points:
        _point_inputs(point)
    if client is not None:
        return _on_cluster(client, points, progress)
    if jobs <= 1 or len(points) <= 1:
        out = []
        for point in points:
            out.append(run_point(point))
            if progress is not None:
                progress(len(out))
        return out
    results: dict[int, dict[str, Any]] = {}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(points)), mp_context=context) as pool:
        pending: dict[Future[dict[str, Any]], int] = {
            pool.submit(run_point, point): i for i, point in enumerate(points)
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                results[pending.pop(future)] = future.result()
            if progress is not None:
                progress(len(results))
    return [results[i] for i in range(len(points))]
