"""Fit delay samples (replication lag or RTT, seconds) with each distribution family edgekv
can simulate, by maximum likelihood, and rank the fits by AIC beside a Kolmogorov-Smirnov
distance. Pure: no I/O.

Closed-form maximum-likelihood estimates: exponential (the mean), lognormal (mean and
standard deviation of the logs), Pareto type I (the minimum, then ``n / sum(log(x/xm))``) and
uniform (minimum and maximum). edgekv's normal is truncated at 0 (negative draws are
redrawn), whose likelihood has no closed form: it is maximised by Nelder-Mead over the mean
(kept >= 0, as the config requires) and the log standard deviation, from the sample moments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .._core.distributions import Distribution, Exponential, LogNormal, Normal, Pareto, Uniform

__all__ = ["FAMILIES", "Fit", "cdf", "fit_all", "fit_family", "ks_distance", "spec"]

FAMILIES = ("exponential", "normal", "lognormal", "pareto", "uniform")
"""Families fitted (constant is not: it has no spread to fit; mixtures and empirical
samples are not parametric families)."""

_SQRT2 = math.sqrt(2.0)
_LOG_2PI = math.log(2.0 * math.pi)
_erfc = np.frompyfunc(math.erfc, 1, 1)


@dataclass(frozen=True, slots=True)
class Fit:
    """One family's maximum-likelihood fit: the distribution, its log-likelihood, AIC
    (``2k - 2 log L``) and the KS distance (largest gap between the empirical and the fitted
    CDF)."""

    family: str
    dist: Distribution
    params: int
    loglik: float
    aic: float
    ks: float


def _phi_upper(z: np.ndarray | float) -> np.ndarray:
    """P(Z > z) for a standard normal, elementwise (erfc keeps the far tail accurate)."""
    return np.asarray(_erfc(np.asarray(z, dtype=float) / _SQRT2), dtype=float) * 0.5


def cdf(dist: Distribution, x: np.ndarray) -> np.ndarray:
    """Closed-form CDF of a fitted family at ``x`` (seconds). O(len(x))."""
    x = np.asarray(x, dtype=float)
    if isinstance(dist, Exponential):
        return -np.expm1(-np.maximum(x, 0.0) / dist.mean_s)
    if isinstance(dist, Uniform):
        width = dist.high - dist.low
        return np.clip((x - dist.low) / width, 0.0, 1.0)
    if isinstance(dist, Pareto):
        safe = np.maximum(x, dist.scale)
        return np.where(x < dist.scale, 0.0, -np.expm1(dist.alpha * np.log(dist.scale / safe)))
    if isinstance(dist, LogNormal):
        logs = np.log(np.maximum(x, np.finfo(float).tiny))
        out = 1.0 - _phi_upper((logs - math.log(dist.median)) / dist.sigma)
        return np.where(x > 0, out, 0.0)
    if isinstance(dist, Normal):
        kept = float(_phi_upper(-dist.mu / dist.std))
        below = 1.0 - _phi_upper((x - dist.mu) / dist.std) - (1.0 - kept)
        return np.where(x > 0, np.clip(below / kept, 0.0, 1.0), 0.0)
    raise TypeError(f"no closed-form CDF for {dist.describe()}")


def ks_distance(dist: Distribution, ordered: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between the empirical CDF of ``ordered`` (sorted) and
    ``dist``. O(n)."""
    n = len(ordered)
    f = cdf(dist, ordered)
    steps = np.arange(1, n + 1) / n
    return float(max(np.max(steps - f), np.max(f - (steps - 1.0 / n))))


def _nelder_mead(
    f: Callable[[np.ndarray], float], start: np.ndarray, step: np.ndarray, iters: int = 400
) -> np.ndarray:
    """Minimise ``f`` from ``start`` (standard coefficients 1, 2, 0.5, 0.5). O(iters)."""
    simplex = [start] + [start + np.eye(len(start))[i] * step[i] for i in range(len(start))]
    values = [f(p) for p in simplex]
    for _ in range(iters):
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        if abs(values[-1] - values[0]) <= 1e-12 * (abs(values[0]) + 1e-12):
            break
        centre = np.mean(simplex[:-1], axis=0)
        worst = simplex[-1]
        reflected = centre + (centre - worst)
        fr = f(reflected)
        if fr < values[0]:
            expanded = centre + 2.0 * (centre - worst)
            fe = f(expanded)
            simplex[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = reflected, fr
        else:
            contracted = centre + 0.5 * (worst - centre)
            fc = f(contracted)
            if fc < values[-1]:
                simplex[-1], values[-1] = contracted, fc
            else:
                best = simplex[0]
                simplex = [best] + [best + 0.5 * (p - best) for p in simplex[1:]]
                values = [values[0]] + [f(p) for p in simplex[1:]]
    return simplex[int(np.argmin(values))]


def _normal(x: np.ndarray) -> tuple[Distribution, float]:
    """Truncated-at-0 normal: maximum likelihood over (mean >= 0, log std)."""
    n, sx, sxx = len(x), float(x.sum()), float(np.dot(x, x))

    def nll(p: np.ndarray) -> float:
        mu, log_s = float(p[0]), float(p[1])
        if mu < 0 or not -50 < log_s < 50:
            return math.inf
        s = math.exp(log_s)
        kept = 0.5 * math.erfc(-mu / (s * _SQRT2))
        if kept <= 0:
            return math.inf
        squares = (sxx - 2 * mu * sx + n * mu * mu) / (s * s)
        return 0.5 * squares + n * (log_s + 0.5 * _LOG_2PI + math.log(kept))

    mean, std = sx / n, float(x.std())
    best = _nelder_mead(nll, np.array([mean, math.log(std)]), np.array([0.2 * std, 0.2]))
    return Normal(float(best[0]), math.exp(float(best[1]))), -nll(best)


def fit_family(family: str, samples: np.ndarray) -> tuple[Distribution, float] | str:
    """``(distribution, log-likelihood)`` of ``family``'s maximum-likelihood fit to
    ``samples`` (seconds, >= 0, at least two distinct values), or why it cannot be fitted."""
    x = np.asarray(samples, dtype=float)
    n = len(x)
    if family == "exponential":
        mean = float(x.mean())
        return Exponential(mean), -n * math.log(mean) - n
    if family == "uniform":
        low, high = float(x.min()), float(x.max())
        return Uniform(low, high), -n * math.log(high - low)
    if family == "normal":
        return _normal(x)
    if x.min() <= 0:
        return "needs every sample > 0"
    logs = np.log(x)
    if family == "lognormal":
        mu, sigma = float(logs.mean()), float(logs.std())
        if sigma == 0:
            return "needs samples with distinct values"
        ll = -float(logs.sum()) - n * (math.log(sigma) + 0.5 * _LOG_2PI) - 0.5 * n
        return LogNormal(math.exp(mu), sigma), ll
    if family == "pareto":
        scale = float(x.min())
        total = float(logs.sum())
        alpha = n / (total - n * math.log(scale))
        return Pareto(scale, alpha), n * math.log(alpha) + n * alpha * math.log(scale) - (
            alpha + 1
        ) * total
    raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")


_PARAMS = {"exponential": 1, "normal": 2, "lognormal": 2, "pareto": 2, "uniform": 2}


def fit_all(
    samples: Sequence[float] | np.ndarray, families: Sequence[str] = FAMILIES
) -> tuple[list[Fit], dict[str, str]]:
    """Every family's fit, best (lowest AIC, then lowest KS distance) first, and the families
    that could not be fitted with the reason. ``ValueError`` (one line) unless ``samples``
    are finite, non-negative and hold at least two distinct values. O(n log n) per family."""
    x = np.sort(np.asarray(samples, dtype=float))
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"need at least 2 samples, got {x.size}")
    if not np.isfinite(x).all():
        raise ValueError("samples must be finite numbers")
    if x[0] < 0:
        raise ValueError(f"samples are delays and must be >= 0, got {x[0] * 1e3:g} ms")
    if x[0] == x[-1]:
        raise ValueError(f"all {len(x)} samples are {x[0] * 1e3:g} ms: nothing to fit")
    fits, skipped = [], {}
    for family in families:
        got = fit_family(family, x)
        if isinstance(got, str):
            skipped[family] = got
            continue
        dist, ll = got
        k = _PARAMS[family]
        fits.append(Fit(family, dist, k, ll, 2 * k - 2 * ll, ks_distance(dist, x)))
    fits.sort(key=lambda f: (f.aic, f.ks))
    return fits, skipped


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.6g}ms"


def spec(dist: Distribution) -> str:
    """The distribution in regions.yaml's flow-mapping spelling, e.g. ``{dist: lognormal,
    median: 301.2ms, sigma: 0.498}`` (durations in ms, six significant digits)."""
    if isinstance(dist, Exponential):
        fields = f"mean: {_ms(dist.mean_s)}"
    elif isinstance(dist, Uniform):
        fields = f"low: {_ms(dist.low)}, high: {_ms(dist.high)}"
    elif isinstance(dist, Normal):
        fields = f"mean: {_ms(dist.mu)}, std: {_ms(dist.std)}"
    elif isinstance(dist, LogNormal):
        fields = f"median: {_ms(dist.median)}, sigma: {dist.sigma:.6g}"
    elif isinstance(dist, Pareto):
        fields = f"scale: {_ms(dist.scale)}, alpha: {dist.alpha:.6g}"
    else:
        raise TypeError(f"no regions.yaml spelling for {dist.describe()}")
    kind = type(dist).__name__.lower()
    return f"{{dist: {kind}, {fields}}}"
