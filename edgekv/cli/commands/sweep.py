"""``edgekv sweep``: the ``edge-flags`` scenario at every point of a grid of any config,
scenario or system fields, points in parallel, as a table, JSON, CSV and plots."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from ..._bench.report import LazyProgress, flatten, save_figure, write_csv, write_json
from ..._bench.scenario import SCENARIO
from ..._bench.sweep import (
    PARAMS,
    Param,
    check_points,
    connect,
    figure,
    grid,
    is_duration,
    parse_param,
    run_sweep,
)
from ..._core.distributions import parse_duration
from ..._core.errors import ConfigError
from .. import UsageError
from .bench import (
    add_scenario_arguments,
    add_systems_argument,
    check_output,
    check_plot,
    scenario_from_args,
    systems_from_args,
)

__all__ = ["register", "run"]

EXAMPLE = (
    """\
example:
  edgekv sweep --param lag.median=0ms,25ms,50ms,100ms,300ms,1s,2s \\
      --json sweep.json --csv sweep.csv --plot sweep.png
  edgekv sweep --param replication.lag=lognormal:300ms,0.5 --param users=1000..4000/4
  edgekv sweep --param lag.median=0ms..1s/5 --param mobility=0,0.5,1 --plot grid.png
  edgekv sweep --param systems.workers-kv.cache_ttl=10s,60s,300s --systems workers-kv
  edgekv sweep --param store.granularity=field,item --param replication.loss=0,0.01,0.05
  edgekv sweep --param mobility --values 0,0.2,0.5,1 --users 2000 --duration 20s

PATH is any field of regions.yaml by its dotted path (replication.lag, replication.loss,
replication.anti_entropy, store.granularity, store.clock, network.request_timeout,
systems.SYSTEM.OPTION, ...; values as in YAML: 300ms, 0.01, item, null), a scenario field
(users, duration, mobility, sessions_per_min, reads_per_min, writes_per_min, seed, ...), or
lag.median / think.median (rescale the lag or think distribution to that median, keeping its
shape) and lag.sigma (a lognormal lag of the current median with that sigma).
VALUES is a comma-separated list whose items may be ranges: lo..hi/N is N evenly spaced
values from lo to hi (0ms..1s/5 = 0ms,250ms,500ms,750ms,1s), lo..hi/Nlog evenly spaced on a
log scale (10ms..1s/3log = 10ms,100ms,1s). Two --param options make a grid (every
combination). Every point runs the whole edge-flags scenario (see `edgekv bench --help`)
with the same seed, so points differ only by the parameters.

parameters with default values (--param NAME alone):
"""
    + "\n".join(f"  {name:13} {default}" for name, (_, default) in PARAMS.items())
    + "\n"
)


def register(subparsers: Any) -> None:
    """Add the ``sweep`` parser."""
    parser = subparsers.add_parser(
        "sweep",
        help="run the edge-flags scenario over a grid of any config or scenario fields",
        description=(
            "Vary one or two fields of the config, the scenario or a system and report, per "
            "point and system, stale reads, wrong flags, read latency and availability. "
            "Points run in parallel processes or on a Dask cluster."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--param",
        action="append",
        metavar="PATH=VALUES",
        help="a field and its values; repeat for a grid (default lag.median with its defaults)",
    )
    parser.add_argument(
        "--values", metavar="LIST", help="values of a single --param given without ="
    )
    add_systems_argument(parser)
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: CPU count, %(default)s)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the points on a Dask distributed cluster, e.g. tcp://HOST:8786 "
        "(needs the dask extra; --jobs is then ignored)",
    )
    add_scenario_arguments(parser, users=5_000, duration="30s")
    parser.add_argument(
        "--json", metavar="PATH", help="write every figure of every point ('-': stdout)"
    )
    parser.add_argument("--csv", metavar="PATH", help="write every figure as CSV (long form)")
    parser.add_argument(
        "--plot",
        metavar="PATH.png",
        help="1 parameter: stale %%, wrong-flag %%, p99 and availability (and cost) panels; "
        "2: heatmaps per system, one PNG per figure (PATH-stale.png, ...)",
    )
    parser.set_defaults(func=run)


METRICS = (
    ("stale", "stale reads (%)", "{:.3f}"),
    ("wrong", "wrong-flag logins (%)", "{:.3f}"),
    ("p99", "p99 read latency (ms)", "{:.1f}"),
    ("availability", "available operations (%)", "{:.3f}"),
)
"""Headline figures of a sweep: key of :func:`edgekv.lowlevel.figure`, label, format."""


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else spec.format(value)


def _table(params: list[str], systems: list[str], points: list[dict[str, Any]]) -> Table:
    reads = ", ".join(f"{n:,}" for n in sorted({p["workload"]["reads"] for p in points}))
    table = Table(
        title=f"edgekv sweep: {SCENARIO}, {' x '.join(params)}",
        title_justify="left",
        caption=(
            "stale % of reads, wrong-flag % of logins, p99 client read latency, available % "
            f"of operations; reads per point: {reads}"
        ),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for path in params:
        table.add_column(path, justify="right", no_wrap=True)
    table.add_column("system", no_wrap=True)
    for heading in ("stale%", "wrong%", "p99 ms", "avail%"):
        table.add_column(heading, justify="right")
    for p in points:
        for j, name in enumerate(systems):
            labels = [p["params"][path] if j == 0 else "" for path in params]
            cells = [_fmt(figure(p["systems"][name], m), spec) for m, _, spec in METRICS]
            table.add_row(*labels, name, *cells, end_section=j == len(systems) - 1)
    return table


def _axis(points: list[dict[str, Any]], path: str) -> tuple[list[float] | None, list[str]]:
    """A parameter's distinct labels in sweep order and, when every value is a number or a
    duration, their positions on a numeric axis (durations in ms); else None (categories)."""
    seen: dict[str, Any] = {}
    for p in points:
        seen.setdefault(p["params"][path], p["values"][path])
    labels = list(seen)
    timed = is_duration(path)
    xs: list[float] = []
    for label, value in seen.items():
        if isinstance(value, bool) or value is None:
            return None, labels
        if timed or isinstance(value, str):
            try:
                xs.append(1e3 * parse_duration(label, path, bare="error"))
            except ConfigError:
                return None, labels
            timed = True
        else:
            xs.append(float(value))
    return xs, labels


def _title(points: list[dict[str, Any]], params: list[str]) -> str:
    first = points[0]["scenario"]
    return (
        f"{SCENARIO} sweep of {' x '.join(params)}: {first['users']:,} users, "
        f"{first['duration_s']:g} s, seed {first['seed']}"
    )


def _plot_line(
    plt: Any, path: str, param: str, systems: list[str], points: list[dict[str, Any]]
) -> None:
    metrics = list(METRICS)
    if any(figure(p["systems"][n], "cost") is not None for p in points for n in systems):
        metrics.append(("cost", "cost ($ per million sessions)", "{:.2f}"))
    positions, labels = _axis(points, param)
    xs = positions if positions is not None else list(range(len(labels)))
    timed = positions is not None and any(isinstance(p["values"][param], str) for p in points)
    timed = timed or is_duration(param)
    positive = [x for x in xs if x > 0]
    cols = 2 if len(metrics) <= 4 else 3
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.0 * rows), squeeze=False)
    flat = axes.ravel()
    for ax, (metric, label, _) in zip(flat, metrics, strict=False):
        for name in systems:
            ys = [figure(p["systems"][name], metric) for p in points]
            ax.plot(xs, [float("nan") if v is None else v for v in ys], "o-", label=name)
        ax.set_ylabel(label)
        ax.set_xlabel(f"{param} (ms)" if timed else param)
        if positions is None:
            ax.set_xticks(xs, labels)
        elif timed and positive and max(positive) / min(positive) > 20:
            ax.set_xscale("symlog", linthresh=min(positive))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    for ax in flat[len(metrics) :]:
        ax.set_visible(False)
    fig.suptitle(_title(points, [param]), fontsize=10)
    save_figure(plt, fig, path)


def heatmap_paths(path: str) -> dict[str, str]:
    """The PNG of each metric of a 2-D sweep: ``grid.png`` -> ``grid-stale.png``, ..."""
    stem = Path(path)
    return {m: str(stem.with_name(f"{stem.stem}-{m}{stem.suffix}")) for m, _, _ in METRICS}


def _plot_grid(
    plt: Any, path: str, params: list[str], systems: list[str], points: list[dict[str, Any]]
) -> None:
    (_, ylabels), (_, xlabels) = _axis(points, params[0]), _axis(points, params[1])
    cols = min(3, len(systems))
    rows = -(-len(systems) // cols)
    for (metric, label, spec), out in zip(METRICS, heatmap_paths(path).values(), strict=True):
        fig, axes = plt.subplots(
            rows, cols, figsize=(4.6 * cols, 3.8 * rows), squeeze=False, layout="constrained"
        )
        cells = {name: [[float("nan")] * len(xlabels) for _ in ylabels] for name in systems}
        for p in points:
            i = ylabels.index(p["params"][params[0]])
            j = xlabels.index(p["params"][params[1]])
            for name in systems:
                v = figure(p["systems"][name], metric)
                cells[name][i][j] = float("nan") if v is None else v
        finite = [v for grid in cells.values() for row in grid for v in row if v == v]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        for ax, name in zip(axes.ravel(), systems, strict=False):
            image = ax.imshow(cells[name], origin="lower", aspect="auto", vmin=lo, vmax=hi)
            ax.set_xticks(range(len(xlabels)), xlabels, fontsize=7)
            ax.set_yticks(range(len(ylabels)), ylabels, fontsize=7)
            ax.set_xlabel(params[1])
            ax.set_ylabel(params[0])
            ax.set_title(name, fontsize=9)
            for i, row in enumerate(cells[name]):
                for j, v in enumerate(row):
                    text = "-" if v != v else spec.format(v)
                    light = v == v and hi > lo and (v - lo) / (hi - lo) > 0.6
                    colour = "black" if light else "white"
                    ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
        for ax in axes.ravel()[len(systems) :]:
            ax.set_visible(False)
        fig.colorbar(image, ax=axes.ravel().tolist(), label=label)
        fig.suptitle(f"{label}: {_title(points, params)}", fontsize=10)
        fig.savefig(out, dpi=120)
        plt.close(fig)


def _params(args: argparse.Namespace) -> list[Param]:
    """The ``--param``/``--values`` options as parameters; one-line errors naming the path."""
    texts = args.param or ["lag.median"]
    if len(texts) > 2:
        raise UsageError("--param", f"at most two parameters (a grid), got {len(texts)}")
    if args.values is not None and (len(texts) != 1 or "=" in texts[0]):
        raise UsageError("--values", "only with a single --param given without =")
    flag = "--values" if args.values is not None else "--param"
    try:
        return [parse_param(text, args.values) for text in texts]
    except ConfigError as exc:
        where = f"{flag} {exc.path}" if exc.path != "param" else flag
        raise UsageError(where, exc.reason) from None


def _label(point: dict[str, Any]) -> str:
    return " ".join(f"{path}={label}" for path, label in point.items())


def run(args: argparse.Namespace) -> int:
    """Validate every flag and value, run the points in parallel, print and write the
    results (the table on stderr when the JSON goes to stdout)."""
    params = _params(args)
    if args.jobs < 1:
        raise UsageError("--jobs", f"must be at least 1, got {args.jobs}")
    scenario = scenario_from_args(args)
    systems = systems_from_args(args)
    for flag in ("--json", "--csv"):
        if getattr(args, flag[2:]) != "-":
            check_output(flag, getattr(args, flag[2:]))
    if args.csv == "-":
        raise UsageError("--csv", "'-' is taken only by --json")
    plt = check_plot(args.plot)
    paths = [p.path for p in params]
    try:
        points = grid(params, scenario, args.config, args.lag, args.flags, systems)
        check_points(points)
    except ConfigError as exc:
        where = f"--param {exc.path}" if exc.path not in ("", "param") else "--param"
        raise UsageError(where, exc.reason) from None
    client = None
    if args.scheduler is not None:
        try:
            client = connect(args.scheduler)
        except ConfigError as exc:
            raise UsageError(f"--{exc.path}", exc.reason) from None
    err = Console(stderr=True)
    lines = not sys.stdout.isatty()
    bar = None if lines else LazyProgress(f"sweep {' x '.join(paths)}: {len(points)} points")

    def progress(done: int, index: int, seconds: float) -> None:
        if bar is not None:
            bar.update(done / len(points))
            return
        settings = {path: label for path, _, label in points[index].settings}
        err.print(
            f"point {index + 1}/{len(points)} {_label(settings)} done in {seconds:.1f} s",
            highlight=False,
            soft_wrap=True,
        )

    started = time.perf_counter()
    try:
        results = run_sweep(points, args.jobs, progress, client)
    finally:
        if bar is not None:
            bar.close()
        if client is not None:
            client.close()
    elapsed = time.perf_counter() - started

    # The table never wraps: wider than the terminal, it scrolls instead.
    needed = sum(len(path) + 3 for path in paths) + max(map(len, systems)) + 45
    console = Console(stderr=args.json == "-", width=max(Console().width, needed))
    console.print(_table(paths, systems, results))
    workers = min(args.jobs, len(points))
    where = (
        f"on {args.scheduler}"
        if client is not None
        else f"{workers} process{'es' if workers > 1 else ''}"
    )
    console.print(f"[dim]{len(points)} points, {where}, {elapsed:.1f} s[/dim]")
    data: dict[str, Any] = {"params": paths, "systems": systems, "points": results}
    if len(paths) == 1:
        data = {"param": paths[0], **data}
    if args.json == "-":
        sys.stdout.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
        sys.stdout.flush()
    elif args.json:
        write_json(args.json, data)
    if args.csv:
        header: list[str] = []
        for k in range(len(paths)):
            header += ["param", "value"] if k == 0 else [f"param{k + 1}", f"value{k + 1}"]
        rows = []
        for p in results:
            key = [x for path in paths for x in (path, p["values"][path])]
            for scope in ("scenario", "workload"):
                rows += [(*key, scope, m, v) for m, v in flatten(p[scope])]
            for name, figures in p["systems"].items():
                rows += [(*key, name, m, v) for m, v in flatten(figures)]
        write_csv(args.csv, (*header, "scope", "metric", "figure"), rows)
    if plt is not None:
        if len(paths) == 1:
            _plot_line(plt, args.plot, paths[0], systems, results)
        else:
            _plot_grid(plt, args.plot, paths, systems, results)
    return 0
