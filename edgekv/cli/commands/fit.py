"""``edgekv fit``: fit measured replication-lag or RTT samples (a CSV column) with each
distribution family edgekv simulates, rank the fits and print the best as a regions.yaml
``lag:`` entry; optionally JSON and a plot of the empirical CDF against the fits."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from ..._bench.fit import Fit, cdf, fit_all, spec
from ..._bench.report import STDOUT, save_figure, write_json
from ..._core.distributions import parse_distribution, parse_duration
from ..._core.errors import ConfigError
from .. import UsageError
from .bench import check_output, check_plot

__all__ = ["read_samples", "register", "run", "snippet"]

EXAMPLE = """\
example:
  edgekv fit lag-samples.csv --column ReplicationLatency --unit ms --plot fit.png
  edgekv fit probes.csv --json -

SAMPLES.csv: one sample per row; a first row that is not numeric is a header. Cells are
numbers in --unit or durations with units (300ms, 0.3s); empty cells are skipped. Without
--column the file's only column holding numbers is used (e.g. the value column of a
CloudWatch export of DynamoDB's ReplicationLatency). Families: exponential, normal
(truncated at 0, as edgekv draws it), lognormal, pareto, uniform; ranked by AIC, with the
Kolmogorov-Smirnov distance (largest gap between the empirical and the fitted CDF) beside
it. The parameters are fitted to the same samples, so the KS distance compares fits; it is
not a test's p-value."""


def register(subparsers: Any) -> None:
    """Add the ``fit`` parser."""
    parser = subparsers.add_parser(
        "fit",
        help="fit lag or RTT samples with each distribution family (maximum likelihood)",
        description=(
            "Fit delay samples with every distribution family edgekv simulates by maximum "
            "likelihood, rank them by AIC beside a KS distance, and print the best as a "
            "regions.yaml lag: entry."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("samples", metavar="SAMPLES.csv", help="CSV file of delay samples")
    parser.add_argument("--column", metavar="NAME", help="header name of the samples' column")
    parser.add_argument(
        "--unit",
        default="ms",
        choices=("ms", "s"),
        help="unit of bare numbers in the file (default ms)",
    )
    parser.add_argument("--plot", metavar="PATH.png", help="empirical CDF against the fits")
    parser.add_argument("--json", metavar="PATH", help="write every fit as JSON ('-': stdout)")
    parser.set_defaults(func=run)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _is_sample(text: str) -> bool:
    text = text.strip()
    if not text or _number(text) is not None:
        return True
    try:
        parse_duration(text, "")
    except ConfigError:
        return False
    return True


def read_samples(path: str, column: str | None, unit: str) -> tuple[np.ndarray, str]:
    """The samples (seconds) of one column of a CSV file and that column's name; every
    mistake is a one-line :class:`UsageError` naming the file, row and column."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [
                (i, row) for i, row in enumerate(csv.reader(fh), 1) if any(c.strip() for c in row)
            ]
    except OSError as exc:
        raise UsageError(path, f"cannot read it: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(path, f"not a CSV text file ({exc})") from None
    if not rows:
        raise UsageError(path, "no samples (the file is empty)")
    width = max(len(row) for _, row in rows)
    header = None if all(_is_sample(c) for c in rows[0][1]) else [c.strip() for c in rows[0][1]]
    body = rows if header is None else rows[1:]
    names = header or [f"column {j + 1}" for j in range(width)]
    if column is not None:
        if header is None:
            raise UsageError(f"--column {column!r}", f"{path} has no header row")
        if column not in header:
            raise UsageError(f"--column {column!r}", f"not in {path}; columns: {', '.join(header)}")
        index = header.index(column)
    else:
        numeric = [
            j
            for j in range(len(names))
            if any(j < len(r) and r[j].strip() and _is_sample(r[j]) for _, r in body)
        ]
        if len(numeric) != 1:
            found = ", ".join(names[j] for j in numeric) or "none"
            raise UsageError(
                f"{path}", f"choose the samples' column with --column (numeric columns: {found})"
            )
        index = numeric[0]
    scale = 1e-3 if unit == "ms" else 1.0
    out: list[float] = []
    for line, row in body:
        cell = row[index].strip() if index < len(row) else ""
        if not cell:
            continue
        value = _number(cell)
        where = f"{path} row {line}, column {names[index]!r}"
        if value is None:
            try:
                seconds = parse_duration(cell, where)
            except ConfigError:
                raise UsageError(
                    f"{where}",
                    f"expected a number of {unit} or a duration such as 300ms, got {cell!r}",
                ) from None
        else:
            if not math.isfinite(value) or value < 0:
                raise UsageError(where, f"expected a non-negative delay, got {cell!r}")
            seconds = value * scale
        out.append(seconds)
    if len(out) < 2:
        raise UsageError(path, f"need at least 2 samples in {names[index]!r}, got {len(out)}")
    return np.array(out), names[index]


def snippet(fit: Fit) -> str:
    """The fit as a regions.yaml ``replication.lag`` entry, checked by parsing it back with
    the config's own parser (the same distribution, to six significant digits)."""
    text = f"replication:\n  lag: {spec(fit.dist)}\n"
    parsed = parse_distribution(yaml.safe_load(text)["replication"]["lag"], "replication.lag")
    want, got = _fields(fit.dist), _fields(parsed)
    if type(parsed) is not type(fit.dist) or not all(
        math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-12) for a, b in zip(want, got, strict=True)
    ):
        raise AssertionError(f"{text!r} parses as {parsed.describe()}, not {fit.dist.describe()}")
    return text


def _fields(dist: Any) -> tuple[float, ...]:
    return tuple(float(getattr(dist, name)) for name in dist.__slots__)


def _summary(x: np.ndarray, column: str, unit: str, path: str) -> dict[str, Any]:
    p50, p99 = np.percentile(x, [50, 99]) * 1e3
    return {
        "file": path,
        "column": column,
        "unit": unit,
        "n": int(len(x)),
        "mean_ms": float(x.mean() * 1e3),
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "min_ms": float(x.min() * 1e3),
        "max_ms": float(x.max() * 1e3),
    }


def _as_dict(fits: list[Fit], skipped: dict[str, str], summary: dict[str, Any]) -> dict[str, Any]:
    best = fits[0].aic
    return {
        "samples": summary,
        "fits": [
            {
                "rank": i + 1,
                "family": f.family,
                "lag": spec(f.dist),
                "describe": f.dist.describe(),
                "params": f.params,
                "loglik": f.loglik,
                "aic": f.aic,
                "delta_aic": f.aic - best,
                "ks": f.ks,
            }
            for i, f in enumerate(fits)
        ],
        "skipped": skipped,
        "best": snippet(fits[0]),
    }


def _print(console: Console, data: dict[str, Any]) -> None:
    s = data["samples"]
    console.print(
        f"[bold]{s['n']:,} samples[/bold] from {s['file']} ({s['column']}): mean "
        f"{s['mean_ms']:.4g} ms, p50 {s['p50_ms']:.4g} ms, p99 {s['p99_ms']:.4g} ms, "
        f"min {s['min_ms']:.4g} ms, max {s['max_ms']:.4g} ms"
    )
    table = Table(title="maximum-likelihood fits, best (lowest AIC) first")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("regions.yaml lag:")
    for name in ("log L", "AIC", "ΔAIC", "KS D"):
        table.add_column(name, justify="right", no_wrap=True)
    for f in data["fits"]:
        table.add_row(
            str(f["rank"]),
            f["lag"],
            f"{f['loglik']:.1f}",
            f"{f['aic']:.1f}",
            f"{f['delta_aic']:.1f}",
            f"{f['ks']:.4f}",
        )
    console.print(table)
    for family, reason in data["skipped"].items():
        console.print(f"  {family}: not fitted, {reason}")
    console.print("best fit as a regions.yaml entry (per link: replication.links[].lag):")
    console.print(data["best"], markup=False, highlight=False, end="")


def _plot(plt: Any, path: str, x: np.ndarray, fits: list[Fit], column: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ordered = np.sort(x)
    ax.step(
        ordered * 1e3,
        np.arange(1, len(x) + 1) / len(x),
        where="post",
        color="black",
        label=f"samples (n={len(x):,})",
    )
    grid = np.linspace(ordered[0], ordered[-1], 400)
    if ordered[0] > 0:
        grid = np.geomspace(ordered[0], ordered[-1], 400)
        ax.set_xscale("log")
    for f in fits:
        ax.plot(grid * 1e3, cdf(f.dist, grid), label=f"{f.family} (KS {f.ks:.3f})")
    ax.set_xlabel(f"{column} (ms)")
    ax.set_ylabel("P(delay <= x)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title("empirical CDF against the maximum-likelihood fits")
    save_figure(plt, fig, path)


def run(args: argparse.Namespace) -> int:
    """Read, fit, print (or write JSON), plot; returns the exit code."""
    plt = check_plot(args.plot or None)
    if args.json not in (None, STDOUT):
        check_output("--json", args.json)
    x, column = read_samples(args.samples, args.column, args.unit)
    try:
        fits, skipped = fit_all(x)
    except ValueError as exc:
        raise UsageError(args.samples, str(exc)) from None
    data = _as_dict(fits, skipped, _summary(x, column, args.unit, str(Path(args.samples))))
    if args.json == STDOUT:
        write_json(STDOUT, data)
    else:
        _print(Console(), data)
        if args.json is not None:
            write_json(args.json, data)
    if plt is not None:
        _plot(plt, args.plot, x, fits, column)
    return 0
