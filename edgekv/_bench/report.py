"""Figures, tables, files and plots of the ``edge-flags`` scenario.

:func:`summarize` turns a :class:`~edgekv.lowlevel.ScenarioResult` into plain data (every
figure with its sample size and 95% interval, see :mod:`edgekv._bench.stats`; ``None`` where a
sample is empty), which the bench and sweep commands print as rich tables and write as JSON
or CSV. Latencies in the summary are milliseconds, shares are percentages.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .._core.config import Config
from .._core.cost import Usage, format_usd, price
from .._core.systems import parse_system
from .scenario import (
    LOGIN,
    OUTCOMES,
    PURCHASE,
    READ,
    WRITE,
    ScenarioResult,
    SystemRun,
    _initial_doc,
)
from .stats import CONFIDENCE, THIN_TAIL, percentile_interval, wilson

__all__ = [
    "FOOTNOTE",
    "STDOUT",
    "LazyProgress",
    "faults",
    "flatten",
    "load_pyplot",
    "plot_latency_cdf",
    "save_figure",
    "summarize",
    "summary_rows",
    "summary_table",
    "text_table",
    "write_csv",
    "write_json",
]

PERCENTILES = (50.0, 95.0, 99.0, 99.9)


def _pct_label(p: float) -> str:
    return f"p{p:g}"


def _quantiles(values_ms: np.ndarray, ps: Sequence[float]) -> dict[str, Any]:
    """``{"p50": estimate, ..., "ci": {"p50": {"lo", "hi", "tail", "thin"}, ...}}``: each
    percentile with its distribution-free 95% interval (``None`` where the sample cannot
    bound a side) and the samples beyond it (``thin``: fewer than 10)."""
    if len(values_ms) == 0:
        return {**{_pct_label(p): None for p in ps}, "ci": {_pct_label(p): None for p in ps}}
    out: dict[str, Any] = {}
    ci: dict[str, Any] = {}
    for p in ps:
        est = percentile_interval(values_ms, p)
        out[_pct_label(p)] = est.value
        ci[_pct_label(p)] = {"lo": est.lo, "hi": est.hi, "tail": est.tail, "thin": est.thin}
    out["ci"] = ci
    return out


def _latency(values_s: np.ndarray, ps: Sequence[float] = PERCENTILES) -> dict[str, Any]:
    ms = values_s * 1e3
    out: dict[str, Any] = {"n": len(ms), "mean": float(ms.mean()) if len(ms) else None}
    out.update(_quantiles(ms, ps))
    return out


def _share(mask: np.ndarray, within: np.ndarray) -> dict[str, Any]:
    """The share of ``within`` that ``mask`` marks, as :func:`_rate`."""
    return _rate(int((mask & within).sum()), int(within.sum()))


def _rate(n: int, of: int) -> dict[str, Any]:
    """``{"n": hits, "of": sample size, "pct": 100 hits / size, "lo", "hi"}``: the share in
    percent with its 95% Wilson interval (all three None if the sample is empty)."""
    if not of:
        return {"n": n, "of": of, "pct": None, "lo": None, "hi": None}
    ci = wilson(n, of)
    return {"n": n, "of": of, "pct": 100.0 * n / of, "lo": 100.0 * ci.lo, "hi": 100.0 * ci.hi}


def faults(cfg: Config) -> list[str]:
    """Every fault the config injects, one line each (empty: none)."""
    out = []
    if cfg.loss:
        out.append(f"loss {cfg.loss:g}")
    if cfg.duplicate:
        out.append(f"duplicate {cfg.duplicate:g}")
    out += [f"partition {p.a} - {p.b} {p.start:g}s-{p.end:g}s" for p in cfg.partitions]
    out += [f"link {a} -> {b} lag {d.describe()}" for (a, b), d in cfg.link_lag.items()]
    skewed = [r for r in cfg.regions if r.clock_skew]
    out += [f"clock skew {r.name} {r.clock_skew * 1e3:+g}ms" for r in skewed]
    return out


def summarize(result: ScenarioResult) -> dict[str, Any]:
    """Every figure of a run as plain data: scenario, workload and, per system, read and
    write latencies (overall, at home, away), freshness and replication volume. O(ops)."""
    work = result.workload
    kind = work.kind
    reads = (kind == LOGIN) | (kind == READ)
    writes = (kind == PURCHASE) | (kind == WRITE)
    logins = kind == LOGIN
    away = work.away
    home = work.home[work.user]
    rtt = np.asarray(result.rtt)
    # A single-home away request pays the round trip to the home, as measured from its region.
    trip = rtt[work.region, home]
    away_reads = reads & away
    cfg = result.cfg
    scenario = result.scenario.as_dict()
    scenario.update(
        {
            "config": cfg.source,
            "regions": len(cfg.regions),
            "lag": cfg.lag.describe(),
            "client_delay_one_way": cfg.client_delay.describe(),
            "service_time_ms": cfg.service_time * 1e3,
            "granularity": cfg.granularity,
            "clock": cfg.clock,
            "request_timeout_s": cfg.request_timeout,
            "faults": faults(cfg),
        }
    )
    workload: dict[str, Any] = {"operations": work.ops, **work.counts()}
    workload["reads"] = int(reads.sum())
    workload["writes"] = int(writes.sum())
    workload["away_read_share_pct"] = (
        100.0 * away_reads.sum() / reads.sum() if reads.any() else None
    )
    workload["mean_rtt_to_home_of_away_reads_ms"] = (
        float(trip[away_reads].mean() * 1e3) if away_reads.any() else None
    )
    # Logins "within the lag window": less than the lag's 99th percentile after the user's own
    # purchase, when replication of it may still be in flight (a fixed generator: the same
    # window on every run).
    window = float(np.percentile(cfg.lag.sample(np.random.default_rng(0), 100_000), 99))
    scenario["lag_window_s"] = window
    systems: dict[str, Any] = {}
    for name, run in result.systems.items():
        lat = run.latency
        stale_ms = run.stale_s[reads & run.stale] * 1e3
        systems[name] = {
            "path": run.path,
            "reads": {
                "latency_ms": _latency(lat[reads]),
                "home_latency_ms": _latency(lat[reads & ~away]),
                "away_latency_ms": _latency(lat[reads & away]),
            },
            "logins": {
                "latency_ms": _latency(lat[logins]),
                "wrong_flag": _share(run.wrong, logins),
                "away_wrong_flag": _share(run.wrong, logins & away),
                "in_lag_window_wrong_flag": _share(run.wrong, logins & (run.since_own < window)),
                "in_lag_window_ryw": _share(run.ryw, logins & (run.since_own < window)),
                "platinum_served": _share(run.platinum, logins),
            },
            "writes": {"latency_ms": _latency(lat[writes], (50.0, 99.0))},
            "stale_reads": _share(run.stale, reads),
            "stale_beyond_floor": _share(run.beyond_floor, reads),
            "staleness_ms": {
                "n": len(stale_ms),
                "mean": float(stale_ms.mean()) if len(stale_ms) else None,
                **_quantiles(stale_ms, (50.0, 99.0)),
            },
            "ryw_violations": _share(run.ryw, reads),
            "away_ryw_violations": _share(run.ryw, reads & away),
            "lost_updates": _rate(run.lost_updates, run.writes_checked),
            "unavailable": {
                "reads": _share(run.failed, reads),
                "writes": _share(run.failed, writes),
                "logins": _share(run.failed, logins),
            },
            "outcomes": {
                name: _share(run.outcome == code, reads) for code, name in enumerate(OUTCOMES)
            },
            "replication": {
                "bytes": run.bytes_replicated,
                "messages": run.messages_replicated,
            },
            "realised_lag": run.realised_lag,
            "cost": price(_usage(result, name, run), cfg.prices),
        }
    return {"scenario": scenario, "workload": workload, "systems": systems}


def _usage(result: ScenarioResult, label: str, run: SystemRun) -> Usage:
    """What the column ``label`` did in the run, for the cost model: its reads, every
    write, its replication bytes, the size of a stored document (JSON) and the replicas
    holding it (DynamoDB: every region for MREC, two or three members for MRSC)."""
    work, cfg = result.workload, result.cfg
    system, level = parse_system(label)
    reads = int(((work.kind == LOGIN) | (work.kind == READ)).sum())
    width = len(str(max(len(work.home) - 1, 0)))
    doc = _initial_doc("u" * (width + 5), 100, work.padding_bytes)
    replicas = len(cfg.regions)
    if system == "dynamodb-mrsc":
        replicas = 2 if cfg.systems.get(system, {}).get("witness") else 3
    return Usage(
        system=system,
        level=level,
        reads=reads,
        writes=work.ops - reads,
        bytes_replicated=run.bytes_replicated,
        item_bytes=len(json.dumps(doc, separators=(",", ":"))),
        replicas=replicas,
        sessions=work.sessions,
        operations=work.ops,
    )


# -- files -------------------------------------------------------------------------------


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted.path, leaf)`` pairs of nested mappings, in insertion order."""
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            yield from flatten(value, path)
        else:
            yield path, value


STDOUT = "-"
"""The ``--json`` path that means standard output."""


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path``, or to standard output when ``path`` is
    ``-`` (a file named ``-``: ``./-``). Deterministic: same data, same bytes."""
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    if str(path) == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(path).write_text(text)


def write_csv(path: str | Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write a CSV file; ``None`` becomes an empty cell."""
    with Path(path).open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])


# -- tables ------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def _sig(value: float) -> str:
    """Three significant digits, never in exponent notation (``0.0757``, ``1.36``, ``34.9``)."""
    if value == 0:
        return "0"
    decimals = min(6, max(0, 2 - math.floor(math.log10(abs(value)))))
    return f"{value:,.{decimals}f}"


def _pct(share: Mapping[str, Any]) -> str:
    """``pct [lo, hi] (n)``: the share in percent, its 95% Wilson interval and the count (the
    denominator is the row that counts the sample)."""
    if share["pct"] is None:
        return "-"
    pct = share["pct"]
    value = "0" if share["n"] == 0 else f"{pct:.3f}" if pct < 10 else f"{pct:.2f}"
    return f"{value} [{_sig(share['lo'])}, {_sig(share['hi'])}] ({share['n']:,})"


def _mark(lat: Mapping[str, Any], key: str) -> str:
    """A percentile's estimate, with ``*`` when its tail is thin."""
    ci = lat.get("ci", {}).get(key)
    return _ms(lat[key]) + ("*" if ci and ci["thin"] else "")


def _percentile(lat: Mapping[str, Any], key: str) -> str:
    """``estimate [lo, hi]`` (``*``: thin tail; ``-``: a side the sample cannot bound)."""
    ci = lat["ci"][key]
    if ci is None:
        return "-"
    return f"{_mark(lat, key)} [{_ms(ci['lo'])}, {_ms(ci['hi'])}]"


def _pair(lat: Mapping[str, Any], a: str = "p50", b: str = "p99", n: bool = True) -> str:
    text = f"{_mark(lat, a)} / {_mark(lat, b)}"
    return f"{text} ({lat['n']:,})" if n else text


FOOTNOTE = (
    f"[lo, hi]: {CONFIDENCE:.0%} intervals (shares: Wilson score; percentiles: order "
    f"statistics, '-' where the sample cannot bound a side). * fewer than {THIN_TAIL} samples "
    "beyond this percentile: a few extreme samples set it."
)
"""The caption under a summary table."""


def _rows(s: Mapping[str, Any]) -> list[tuple[str, str]]:
    r, lg, w = s["reads"], s["logins"], s["writes"]
    lat = r["latency_ms"]
    outcomes = s["outcomes"]
    out = [("reads (n)", f"{lat['n']:,}")]
    out += [(f"read {_pct_label(p)} ms", _percentile(lat, _pct_label(p))) for p in PERCENTILES]
    out += [
        ("home reads p50/p99 ms (n)", _pair(r["home_latency_ms"])),
        ("away reads p50/p99 ms (n)", _pair(r["away_latency_ms"])),
        ("writes p50/p99 ms (n)", _pair(w["latency_ms"])),
        ("stale reads % (n)", _pct(s["stale_reads"])),
        ("stale beyond floor % (n)", _pct(s["stale_beyond_floor"])),
        ("staleness ms mean/p99", _pair(s["staleness_ms"], "mean", "p99", n=False)),
        ("RYW violations % (n)", _pct(s["ryw_violations"])),
        ("away reads RYW violations % (n)", _pct(s["away_ryw_violations"])),
        ("lost updates % (n)", _pct(s["lost_updates"])),
        ("unavailable reads % (n)", _pct(s["unavailable"]["reads"])),
        ("unavailable writes % (n)", _pct(s["unavailable"]["writes"])),
        ("logins (n)", f"{lg['latency_ms']['n']:,}"),
        ("login p50/p99 ms", _pair(lg["latency_ms"], n=False)),
        ("wrong-flag logins % (n)", _pct(lg["wrong_flag"])),
        ("wrong-flag away logins % (n)", _pct(lg["away_wrong_flag"])),
        ("wrong-flag logins in lag window % (n)", _pct(lg["in_lag_window_wrong_flag"])),
        ("platinum served % (n)", _pct(lg["platinum_served"])),
        ("reads waited % (n)", _pct(outcomes["waited"])),
        ("reads forwarded % (n)", _pct(outcomes["forwarded"])),
        ("realised lag p50/p99 ms (n)", _realised_row(s["realised_lag"])),
        (
            "replicated MB (msgs)",
            f"{s['replication']['bytes'] / 1e6:.2f} ({s['replication']['messages']:,})",
        ),
        (
            "model $/M sessions (M ops)",
            f"{format_usd(s['cost']['usd_per_million_sessions'])} "
            f"({format_usd(s['cost']['usd_per_million_operations'])})",
        ),
    ]
    return out


def _realised_row(realised: Mapping[str, Any] | None) -> str:
    """Pooled commit-to-apply lag over every link, or ``-`` for a system without one."""
    if realised is None or realised["all"]["p50"] is None:
        return "-"
    pooled = realised["all"]
    return f"{pooled['p50'] * 1e3:.0f} / {pooled['p99'] * 1e3:.0f} ({pooled['n']:,})"


def summary_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The summary table as text: the header (``figure``, then one column per system) and one
    row per figure; shared by the terminal table and the HTML report."""
    systems = summary["systems"]
    columns = [_rows(s) for s in systems.values()]
    rows = [[label, *(col[i][1] for col in columns)] for i, (label, _) in enumerate(columns[0])]
    return ["figure", *systems], rows


def summary_table(summary: Mapping[str, Any], title: str) -> Table:
    """One row per figure, one column per system (counts in parentheses, 95% intervals in
    brackets, thin-tailed percentiles starred)."""
    header, rows = summary_rows(summary)
    return text_table(title, header, rows, FOOTNOTE)


def text_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], note: str
) -> Table:
    """A rich table of plain text (no markup): the first column left, the others right."""
    table = Table(
        title=escape(title), title_justify="left", caption=escape(note), caption_justify="left"
    )
    table.add_column(escape(header[0]))
    for name in header[1:]:
        table.add_column(escape(name), justify="right")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


# -- plots -------------------------------------------------------------------------------


def load_pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend; ``ModuleNotFoundError`` if the ``plot`` extra
    is not installed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_latency_cdf(
    plt: Any, path: str | Path | BinaryIO, result: ScenarioResult, title: str
) -> None:
    """Read-latency distribution per system into a PNG: the CDF (left) and the tail,
    P(latency > x) on log axes (right), both in client-perceived milliseconds."""
    kind = result.workload.kind
    reads = (kind == LOGIN) | (kind == READ)
    fig, (cdf, tail) = plt.subplots(1, 2, figsize=(11, 4.6))
    for name, run in result.systems.items():
        ms = np.sort(run.latency[reads] * 1e3)
        if len(ms) == 0:
            continue
        below = np.arange(1, len(ms) + 1) / len(ms)
        cdf.plot(ms, below, label=f"{name} (n={len(ms):,})")
        tail.plot(ms[:-1], 1.0 - below[:-1], label=name)
    cdf.set_xscale("log")
    cdf.set_xlabel("read latency seen by the client (ms)")
    cdf.set_ylabel("fraction of reads")
    cdf.set_ylim(0, 1.0)
    cdf.legend(loc="lower right")
    tail.set_xscale("log")
    tail.set_yscale("log")
    tail.set_xlabel("read latency seen by the client (ms)")
    tail.set_ylabel("fraction of reads slower (tail)")
    for ax in (cdf, tail):
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(title, fontsize=10)
    save_figure(plt, fig, path)


def save_figure(plt: Any, fig: Any, path: str | Path | BinaryIO) -> None:
    """Lay out ``fig``, write it as a 120-dpi PNG at ``path`` (or into a binary file) and
    free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- progress ----------------------------------------------------------------------------


class LazyProgress:
    """A rich progress bar on stderr that appears only once a task has run for a second,
    then follows ``update(fraction)`` calls; :meth:`close` removes it."""

    def __init__(self, label: str, console: Console | None = None) -> None:
        self._label = label
        self._console = console or Console(stderr=True)
        self._start = time.perf_counter()
        self._bar: Progress | None = None
        self._task = TaskID(0)

    def update(self, fraction: float) -> None:
        """Report progress in 0..1."""
        if self._bar is None:
            if time.perf_counter() - self._start < 1.0 or fraction >= 1.0:
                return
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                console=self._console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self._label, total=1.0)
        self._bar.update(self._task, completed=min(max(fraction, 0.0), 1.0))

    def close(self) -> None:
        """Remove the bar, if it was shown."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
