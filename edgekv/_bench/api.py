"""``edgekv.bench``: the benchmark of ``edgekv bench`` from Python, with its result object.

One call runs the packaged ``edge-flags`` workload on the chosen systems for one seed or,
with ``repeat=K``, for seeds ``seed .. seed+K-1``; the :class:`BenchResult` gives the
command's table, its JSON (:meth:`BenchResult.to_dict`) and a tidy pandas frame.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from .._core.config import Config
from .._core.distributions import Distribution, parse_distribution, parse_duration
from .._core.errors import ConfigError
from .html import Figure, HtmlTable, render_report
from .report import (
    FOOTNOTE,
    flatten,
    load_pyplot,
    plot_latency_cdf,
    summarize,
    summary_rows,
    text_table,
)
from .scenario import (
    DEFAULT_SYSTEMS,
    EdgeFlags,
    ScenarioResult,
    load_evaluator,
    parse_columns,
    run_edge_flags,
    scenario_config,
)
from .stats import CONFIDENCE, mean_interval
from .sweep import grid, parse_param, run_sweep
from .workload import PACKAGED, load_workload

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

__all__ = ["HEADLINE", "BenchResult", "SweepResult", "bench", "sweep"]

HEADLINE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("read_p50_ms", "read p50 ms", ("reads", "latency_ms", "p50")),
    ("read_p99_ms", "read p99 ms", ("reads", "latency_ms", "p99")),
    ("read_p99.9_ms", "read p99.9 ms", ("reads", "latency_ms", "p99.9")),
    ("away_read_p50_ms", "away read p50 ms", ("reads", "away_latency_ms", "p50")),
    ("login_p99_ms", "login p99 ms", ("logins", "latency_ms", "p99")),
    ("stale_reads_pct", "stale reads %", ("stale_reads", "pct")),
    ("ryw_violations_pct", "RYW violations %", ("ryw_violations", "pct")),
    ("wrong_flag_logins_pct", "wrong-flag logins %", ("logins", "wrong_flag", "pct")),
    ("unavailable_reads_pct", "unavailable reads %", ("unavailable", "reads", "pct")),
)
"""The figures ``--repeat`` reports across seeds: (JSON key, table label, path in a system's
summary)."""


def _get(figures: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        figures = figures[part]
    return figures


def _rate(share: dict[str, Any]) -> str:
    """``0.798% [0.745, 0.855] (801/100,353)``: a share, its 95% interval and its counts."""
    return (
        f"{share['pct']:.3f}% [{share['lo']:.3g}, {share['hi']:.3g}] "
        f"({share['n']:,}/{share['of']:,})"
    )


def _p99(lat: dict[str, Any]) -> str:
    """``92.9 [91.8, 94.1]``: the p99 and its 95% interval (``*``: thin tail)."""
    ci = lat["ci"]["p99"]
    bounds = ", ".join("-" if v is None else f"{v:.1f}" for v in (ci["lo"], ci["hi"]))
    return f"{lat['p99']:.1f}{'*' if ci['thin'] else ''} [{bounds}]"


def _headline(summary: dict[str, Any]) -> list[str]:
    """One run's findings in sentences, each figure with its interval and counts."""
    systems = summary["systems"]
    lines = []
    extra = summary["workload"]["mean_rtt_to_home_of_away_reads_ms"]
    home = systems.get("single-home", {}).get("reads")
    if home and home["away_latency_ms"]["n"] and home["home_latency_ms"]["n"]:
        lines.append(
            f"single-home: away reads p50 {home['away_latency_ms']['p50']:.1f} ms vs "
            f"{home['home_latency_ms']['p50']:.1f} ms at home (mean gap "
            f"{home['away_latency_ms']['mean'] - home['home_latency_ms']['mean']:.1f} ms; "
            f"mean RTT to home of away reads {extra:.1f} ms)."
        )
    for name, s in systems.items():
        if s["stale_reads"]["pct"] is None or s["reads"]["latency_ms"]["p99"] is None:
            continue
        wrong = s["logins"]["wrong_flag"]
        logins = (
            "no logins" if wrong["pct"] is None else f"{_rate(wrong)} of logins served a wrong flag"
        )
        failed = s["unavailable"]["reads"]
        lines.append(
            f"{name}: read p99 {_p99(s['reads']['latency_ms'])} ms; "
            f"{_rate(s['stale_reads'])} of reads stale, {logins}"
            + (f", {_rate(failed)} of reads failed." if failed["n"] else ".")
        )
    return lines


@dataclass(frozen=True, slots=True)
class BenchResult:
    """The runs of one :func:`bench` call, one per seed, in seed order."""

    results: tuple[ScenarioResult, ...]
    summaries: tuple[dict[str, Any], ...]

    @property
    def seeds(self) -> list[int]:
        """The seed of each run."""
        return [r.scenario.seed for r in self.results]

    @property
    def systems(self) -> list[str]:
        """The system columns, in the order asked."""
        return list(self.summaries[0]["systems"])

    def across_seeds(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Per system and headline figure: the runs' values, their mean and sample standard
        deviation and the Student-t 95% interval of the mean, clipped to the figure's range
        (0..100 for shares, >= 0 for latencies; bounds ``None`` for one run; every field
        ``None`` when some run has no sample for the figure)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for name in self.systems:
            figures: dict[str, dict[str, Any]] = {}
            for key, _, path in HEADLINE:
                values = [_get(s["systems"][name], path) for s in self.summaries]
                if any(v is None for v in values):
                    figures[key] = {"values": values, **dict.fromkeys(("mean", "sd", "lo", "hi"))}
                    continue
                m = mean_interval(values)
                lo, hi = m.lo, m.hi
                if lo is not None and hi is not None:  # clipped to the figure's range
                    lo, hi = max(lo, 0.0), min(hi, 100.0) if key.endswith("_pct") else hi
                figures[key] = {"values": values, "mean": m.mean, "sd": m.sd, "lo": lo, "hi": hi}
            out[name] = figures
        return out

    def to_dict(self) -> dict[str, Any]:
        """One run: the summary of :func:`edgekv.lowlevel.summarize` (scenario, workload,
        systems). Several: ``{"repeat", "seeds", "confidence", "across_seeds", "runs"}`` with
        every run's summary."""
        if len(self.summaries) == 1:
            return self.summaries[0]
        return {
            "repeat": len(self.summaries),
            "seeds": self.seeds,
            "confidence": CONFIDENCE,
            "across_seeds": self.across_seeds(),
            "runs": list(self.summaries),
        }

    def title(self) -> str:
        """The parameters of the run(s), as the table's title."""
        first = self.results[0]
        scenario, cfg = first.scenario, first.cfg
        seeds = self.seeds
        seed = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}..{seeds[-1]}"
        head = (
            f"edgekv bench: {scenario.name}, {len(cfg.regions)} regions, {scenario.users:,} users, "
            f"{scenario.duration:g}s, mobility {scenario.mobility:g}, lag {cfg.lag.describe()}, "
            f"think {scenario.think.describe()}, {seed}"
        )
        faults = "; ".join(self.summaries[0]["scenario"]["faults"]) or "none"
        faults += "\npaths: " + ", ".join(
            f"{name} {'/'.join(sorted({s['systems'][name]['path'] for s in self.summaries}))}"
            for name in self.systems
        )
        if len(seeds) > 1:
            return f"{head}\nfaults: {faults}"
        w = self.summaries[0]["workload"]
        return (
            f"{head}\n{w['operations']:,} operations: {w['purchase']:,} purchases, "
            f"{w['login']:,} logins ({w['away logins']:,} away), {w['background read']:,} "
            f"background reads, {w['background write']:,} background writes\nfaults: {faults}"
        )

    def tables(self) -> list[tuple[str, list[str], list[list[str]], str]]:
        """The tables as text, each ``(title, header, rows, note)``. One run: every figure per
        system with counts and intervals. Several: the headline figures' across-seed means
        with their t intervals, then each run's full table."""
        if len(self.summaries) == 1:
            return [(self.title(), *summary_rows(self.summaries[0]), FOOTNOTE)]
        across = self.across_seeds()
        rows = []
        for key, label, _ in HEADLINE:
            cells = [label]
            for name in self.systems:
                f = across[name][key]
                d = 3 if key.endswith("_pct") else 1
                cells.append(
                    "-"
                    if f["mean"] is None
                    else f"{f['mean']:.{d}f} [{f['lo']:.{d}f}, {f['hi']:.{d}f}]"
                )
            rows.append(cells)
        note = (
            f"mean over {len(self.summaries)} seeds [{CONFIDENCE:.0%} Student-t interval of "
            "the mean, clipped to the figure's range]"
        )
        out = [(self.title(), ["figure", *self.systems], rows, note)]
        for seed, summary in zip(self.seeds, self.summaries, strict=True):
            out.append((f"seed {seed}", *summary_rows(summary), FOOTNOTE))
        return out

    def plot_title(self) -> str:
        """The title of the latency plot, which shows the first run."""
        first = self.results[0]
        sc, cfg = first.scenario, first.cfg
        k = len(self.results)
        seeds = "" if k == 1 else f" (first of {k} seeds)"
        return (
            f"{sc.name}: {sc.users:,} users, {sc.duration:g} s, mobility {sc.mobility:g}, "
            f"seed {sc.seed}{seeds}\nlag {cfg.lag.describe()}, think {sc.think.describe()}"
        )

    def table(self) -> Table:
        """The first of :meth:`tables` as a rich table: one run's figures, or the across-seed
        means of several runs."""
        return text_table(*self.tables()[0])

    def headlines(self) -> list[str]:
        """One run's findings in sentences (none for several runs: see :meth:`table`)."""
        return _headline(self.summaries[0]) if len(self.summaries) == 1 else []

    def parameters(self) -> dict[str, Any]:
        """The run's parameters as flat ``dotted.name: value`` pairs (seeds, systems, the
        scenario and the topology's settings)."""
        out: dict[str, Any] = {"seeds": ", ".join(map(str, self.seeds))}
        out["systems"] = ", ".join(self.systems)
        out.update((k, v) for k, v in flatten(self.summaries[0]["scenario"]) if k not in ("seed",))
        if len(self.summaries) == 1:
            out.update((f"workload.{k}", v) for k, v in flatten(self.summaries[0]["workload"]))
        return out

    def to_html(self, plot: bool = True) -> str:
        """A self-contained HTML page: the tables, the read-latency plot of the first run
        inline (when ``plot`` and matplotlib, the ``plot`` extra, is installed) and the
        parameters; nothing is fetched when it opens."""
        figures = []
        notes = list(self.headlines())
        if plot:
            try:
                plt = load_pyplot()
            except ModuleNotFoundError:
                notes.append("No plot: matplotlib is not installed (pip install 'edgekv[plot]').")
            else:
                png = io.BytesIO()
                first = self.results[0]
                caption = (
                    f"Read latency seen by the client per system, seed {first.scenario.seed}: "
                    "the CDF (left) and the tail P(latency > x) (right)."
                )
                plot_latency_cdf(plt, png, first, self.plot_title())
                figures.append(Figure(png.getvalue(), caption))
        tables = [HtmlTable(*t) for t in self.tables()]
        return render_report(
            f"edgekv bench report: {self.results[0].scenario.name}",
            tables,
            self.parameters(),
            figures,
            notes,
            footer=f"edgekv {__version__}: simulated in virtual time; same seed, same page.",
        )

    def rows(self) -> Iterator[tuple[int, str, str, Any]]:
        """``(seed, system, metric, value)`` for every figure of every run (dotted metrics)."""
        for seed, summary in zip(self.seeds, self.summaries, strict=True):
            for name, figures in summary["systems"].items():
                for metric, value in flatten(figures):
                    yield seed, name, metric, value

    def to_pandas(self) -> pd.DataFrame:
        """Every figure as a tidy frame with columns seed, system, metric, value (needs the
        ``pandas`` extra)."""
        try:
            import pandas as pd
        except ModuleNotFoundError:
            raise ImportError(
                "BenchResult.to_pandas needs pandas: pip install 'edgekv[pandas]'"
            ) from None
        return pd.DataFrame(list(self.rows()), columns=["seed", "system", "metric", "value"])


def _stage(progress: Callable[[float], None], i: int, k: int, fraction: float) -> None:
    progress((i + fraction) / k)


def _duration(value: float | str) -> float:
    """Seconds: a number (Python's unit), or a string with its unit (``"30s"``), as on the
    command line, where a bare number is an error."""
    if isinstance(value, str):
        return parse_duration(value, "duration", allow_zero=False, bare="error")
    return value


def bench(
    workload: str | os.PathLike[str] | EdgeFlags | None = None,
    systems: Sequence[str] = DEFAULT_SYSTEMS,
    seed: int | None = None,
    users: int | None = None,
    duration: float | str | None = None,
    config: str | Path | Config | None = None,
    lag: str | Distribution | None = None,
    *,
    mobility: float | None = None,
    think: str | Distribution | None = None,
    flags: str | Path | None = None,
    repeat: int = 1,
    progress: Callable[[float], None] | None = None,
    record: str | os.PathLike[str] | None = None,
    fast_path: bool = True,
) -> BenchResult:
    """Run a workload (a packaged name such as ``"edge-flags"``, ``"cart"``,
    ``"profile-store"``, a workload file's path, or an :class:`EdgeFlags`; default
    edge-flags) on ``systems`` (``"replicated:session"``, ``"single-home"``, ...; see
    ``edgekv.SYSTEMS``) for seeds ``seed .. seed+repeat-1`` (default: the workload's seed).
    ``users``, ``duration`` (seconds or ``"30s"``), ``mobility`` and ``think`` override the
    workload's when given; ``config`` is a regions.yaml path or a :class:`Config`; ``lag``
    overrides its replication lag (``"lognormal:300ms,0.5"``). Bad values raise
    :class:`ConfigError` naming the parameter; ``progress(fraction)`` follows along; with
    ``record`` (a directory) each system's operations are kept as a history file
    ``DIR/seed-N/<system>.jsonl`` for ``edgekv check``; ``fast_path=False`` runs every
    column on the event path (by default a column the vectorised fast path computes
    identically takes it: ``systems.<column>.path``). Deterministic."""
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ConfigError("repeat", f"expected an integer >= 1, got {repeat!r}")
    if isinstance(systems, str):
        systems = [s for s in systems.split(",") if s.strip()]
    parse_columns(systems)
    if isinstance(workload, EdgeFlags):
        scenario = workload
    else:
        scenario = load_workload(PACKAGED if workload is None else workload)
    changes: dict[str, Any] = {}
    if seed is not None:
        changes["seed"] = seed
    if users is not None:
        changes["users"] = users
    if duration is not None:
        changes["duration"] = _duration(duration)
    if mobility is not None:
        changes["mobility"] = mobility
    if think is not None:
        changes["think"] = parse_distribution(think, "think") if isinstance(think, str) else think
    scenario = dataclasses.replace(scenario, **changes)
    seed = scenario.seed
    if isinstance(config, Config):
        cfg = config if lag is None else config.replace(lag=parse_distribution(lag, "lag"))
    else:
        cfg = scenario_config(None if config is None else str(config), lag)
    evaluator = load_evaluator(None if flags is None else str(flags))
    results = []
    for i in range(repeat):
        run = dataclasses.replace(scenario, seed=seed + i)
        tick = None if progress is None else partial(_stage, progress, i, repeat)
        where = None if record is None else Path(record) / f"seed-{run.seed}"
        results.append(
            run_edge_flags(run, cfg, evaluator, tick, list(systems), where, fast_path=fast_path)
        )
    return BenchResult(tuple(results), tuple(summarize(r) for r in results))


@dataclass(frozen=True, slots=True)
class SweepResult:
    """The points of one :func:`sweep` call, in grid order (the first parameter varying
    slowest): each point's settings and its full summary."""

    params: tuple[str, ...]
    points: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the swept paths and every point (``params``: path -> label)."""
        return {"params": list(self.params), "points": list(self.points)}

    def to_pandas(self) -> pd.DataFrame:
        """One row per point and system: the settings and every figure as dotted columns
        (needs the ``pandas`` extra)."""
        try:
            import pandas as pd
        except ModuleNotFoundError:
            raise ImportError("to_pandas needs pandas: pip install 'edgekv[pandas]'") from None
        rows = []
        for point in self.points:
            for name, figures in point["systems"].items():
                row: dict[str, Any] = dict(point["params"])
                row["system"] = name
                row.update(dict(flatten(figures)))
                rows.append(row)
        return pd.DataFrame(rows)


def sweep(
    *params: str,
    workload: str | os.PathLike[str] | EdgeFlags | None = None,
    systems: Sequence[str] = DEFAULT_SYSTEMS,
    seed: int | None = None,
    config: str | Path | None = None,
    lag: str | None = None,
    flags: str | Path | None = None,
    jobs: int = 1,
    client: Any = None,
) -> SweepResult:
    """Run a workload at every point of a grid of ``params`` (``"lag.median=100ms,1s"``,
    ``"mobility=0.1..0.5/3"``: any config, scenario or ``systems.<name>.<option>`` path, as
    ``edgekv sweep --param`` takes), in ``jobs`` local processes or on a
    ``dask.distributed`` ``client``; the same inputs give the same points, bit for bit."""
    if not params:
        raise ConfigError("param", "name at least one parameter, e.g. 'lag.median=100ms,1s'")
    if isinstance(systems, str):
        systems = [s for s in systems.split(",") if s.strip()]
    parse_columns(systems)
    scenario = workload if isinstance(workload, EdgeFlags) else load_workload(workload or PACKAGED)
    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    parsed = [parse_param(p) for p in params]
    points = grid(
        parsed,
        scenario,
        None if config is None else str(config),
        lag,
        None if flags is None else str(flags),
        systems,
    )
    results = run_sweep(points, jobs, None, client)
    return SweepResult(tuple(p.path for p in parsed), tuple(results))
