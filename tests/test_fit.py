"""``edgekv fit``: maximum-likelihood fits recover the parameters of samples drawn from each
family edgekv simulates and rank the true family first; the best fit is a regions.yaml entry
the config loader accepts; bad sample files are one-line errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import yaml

from edgekv import load_config
from edgekv.cli import main
from edgekv.lowlevel import (
    Distribution,
    Exponential,
    LogNormal,
    Normal,
    Pareto,
    Uniform,
    cdf,
    fit_all,
    ks_distance,
)

TRUE: list[tuple[str, Distribution, dict[str, float]]] = [
    ("exponential", Exponential(0.1), {"mean_s": 0.1}),
    ("lognormal", LogNormal(0.3, 0.5), {"median": 0.3, "sigma": 0.5}),
    ("normal", Normal(0.3, 0.2), {"mu": 0.3, "std": 0.2}),  # truncated: 7% redrawn
    ("normal", Normal(0.5, 0.05), {"mu": 0.5, "std": 0.05}),
    ("pareto", Pareto(0.02, 3.0), {"scale": 0.02, "alpha": 3.0}),
    ("uniform", Uniform(0.01, 0.9), {"low": 0.01, "high": 0.9}),
]


@pytest.mark.parametrize(("family", "dist", "params"), TRUE, ids=lambda v: str(v))
def test_fits_recover_known_parameters_and_rank_the_true_family_first(
    family: str, dist: Distribution, params: dict[str, float]
) -> None:
    x = dist.sample(np.random.default_rng(7), 20_000)
    fits, skipped = fit_all(x)
    assert skipped == {}
    assert fits[0].family == family, [(f.family, f.aic) for f in fits]
    assert [f.aic for f in fits] == sorted(f.aic for f in fits)
    for name, want in params.items():
        got = getattr(fits[0].dist, name)
        assert got == pytest.approx(want, rel=0.03), (name, got, want)
    assert fits[0].ks < 0.015
    assert fits[-1].ks > 5 * fits[0].ks


def test_the_truncated_normal_is_a_maximum_of_its_likelihood() -> None:
    """Nelder-Mead's answer beats every nearby (mean, std) on the truncated-normal
    log-likelihood, computed here independently from the density."""
    x = Normal(0.2, 0.3).sample(np.random.default_rng(3), 5_000)
    fit = next(f for f in fit_all(x)[0] if f.family == "normal")

    def loglik(mu: float, s: float) -> float:
        kept = 0.5 * math.erfc(-mu / (s * math.sqrt(2)))
        dens = np.exp(-0.5 * ((x - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi) * kept)
        return float(np.log(dens).sum())

    assert isinstance(fit.dist, Normal)
    mu, s = fit.dist.mu, fit.dist.std
    assert loglik(mu, s) == pytest.approx(fit.loglik, rel=1e-9)
    for dm, ds in ((0.01, 0), (-0.01, 0), (0, 0.01), (0, -0.01)):
        assert loglik(mu + dm, s + ds) < fit.loglik


def test_ks_distance_is_the_largest_gap_to_the_empirical_cdf() -> None:
    x = np.sort(LogNormal(0.3, 0.5).sample(np.random.default_rng(5), 500))
    dist = Exponential(0.3)
    f = cdf(dist, x)
    n = len(x)
    brute = max(max(abs((i + 1) / n - f[i]), abs(i / n - f[i])) for i in range(n))
    assert ks_distance(dist, x) == pytest.approx(brute, abs=1e-12)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_cli_prints_the_table_and_a_lag_entry_the_config_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = LogNormal(0.3, 0.5).sample(np.random.default_rng(1), 5_000)
    rows = "".join(f"2024-01-01T00:{i:05d},{v * 1e3:.4f}\n" for i, v in enumerate(x))
    path = _write(tmp_path, "lag.csv", "Timestamp,ReplicationLatency\n" + rows)
    plot = tmp_path / "fit.png"
    assert main(["fit", str(path), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "5,000 samples" in out and "ReplicationLatency" in out
    entry = out[out.index("replication:") :]
    lag = yaml.safe_load(entry)["replication"]["lag"]
    assert lag["dist"] == "lognormal"
    with resources.as_file(resources.files("edgekv") / "data" / "regions.yaml") as packaged:
        raw = yaml.safe_load(packaged.read_text())
    raw["replication"]["lag"] = lag
    cfg = load_config(raw)
    assert isinstance(cfg.lag, LogNormal)
    assert cfg.lag.median == pytest.approx(0.3, rel=0.03)
    assert cfg.lag.sigma == pytest.approx(0.5, rel=0.03)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert main(["fit", str(path), "--column", "ReplicationLatency", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["samples"]["n"] == 5_000
    assert [f["rank"] for f in data["fits"]] == [1, 2, 3, 4, 5]
    assert data["fits"][0]["family"] == "lognormal"
    assert data["best"] == entry


def test_cli_reads_seconds_and_durations_with_units(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = Exponential(0.2).sample(np.random.default_rng(2), 3_000)
    path = _write(tmp_path, "s.csv", "".join(f"{v:.6f}\n" for v in x[:-1]) + "150ms\n")
    assert main(["fit", str(path), "--unit", "s", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["samples"]["n"] == 3_000
    assert data["fits"][0]["family"] == "exponential"
    assert data["samples"]["mean_ms"] == pytest.approx(200, rel=0.05)


BAD = [
    ("missing.csv", None, [], "cannot read"),
    ("empty.csv", "", [], "no samples (the file is empty)"),
    ("text.csv", "lag\n120\nabc\n", [], "row 3, column 'lag': expected a number of ms"),
    ("negative.csv", "lag\n120\n-5\n", [], "row 3, column 'lag': expected a non-negative"),
    ("one.csv", "lag\n120\n", [], "need at least 2 samples in 'lag', got 1"),
    ("same.csv", "120\n120\n120\n", [], "all 3 samples are 120 ms: nothing to fit"),
    ("two.csv", "a,b\n1,2\n3,4\n", [], "choose the samples' column with --column"),
    ("col.csv", "a,b\n1,2\n3,4\n", ["--column", "c"], "--column 'c': not in"),
    ("nohead.csv", "1,2\n3,4\n", ["--column", "a"], "has no header row"),
]


@pytest.mark.parametrize(("name", "text", "flags", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_sample_files_are_one_line_errors(
    tmp_path: Path, name: str, text: str | None, flags: list[str], message: str
) -> None:
    path = tmp_path / name if text is None else _write(tmp_path, name, text)
    out = subprocess.run(
        [sys.executable, "-m", "edgekv.cli", "fit", str(path), *flags],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekv fit: error: "), out.stderr
    assert message in lines[0]
