"""Confidence intervals for the figures a run prints: rates, percentiles and across-seed means.

Pure functions on counts and samples (no I/O, no state). A rate gets the Wilson score interval
(Wilson 1927; good coverage even for rare events, unlike the normal approximation); a
percentile gets the distribution-free interval between two order statistics, whose ranks come
from the binomial distribution of the number of samples below the true percentile (e.g.
Hahn & Meeker, *Statistical Intervals*, 2nd ed., section 5.2); a mean over a few seeds gets
Student's t interval. The binomial and t quantiles come from SciPy, imported on first use:
``scipy.stats`` takes about half a second to import, which every ``edgekv`` command would
otherwise pay at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CONFIDENCE",
    "THIN_TAIL",
    "MeanInterval",
    "PercentileInterval",
    "RateInterval",
    "mean_interval",
    "percentile_interval",
    "percentile_ranks",
    "wilson",
]

CONFIDENCE = 0.95
"""Confidence level of every interval edgekv prints."""

THIN_TAIL = 10
"""A percentile with fewer samples than this beyond it is marked: it rests on a handful of
the most extreme samples and moves a lot from seed to seed."""


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


@dataclass(frozen=True, slots=True)
class RateInterval:
    """``count`` hits out of ``n`` trials: the observed rate and its Wilson interval, all
    fractions in 0..1."""

    count: int
    n: int
    rate: float
    lo: float
    hi: float


def wilson(count: int, n: int, confidence: float = CONFIDENCE) -> RateInterval:
    """The Wilson score interval of a binomial rate (``n`` >= 1, ``0 <= count <= n``)."""
    from scipy import stats

    _check_confidence(confidence)
    if not 0 <= count <= n or n < 1:
        raise ValueError(f"expected 0 <= count <= n and n >= 1, got count={count}, n={n}")
    ci = stats.binomtest(count, n).proportion_ci(confidence_level=confidence, method="wilson")
    return RateInterval(count, n, count / n, float(ci.low), float(ci.high))


@dataclass(frozen=True, slots=True)
class PercentileInterval:
    """The ``p``-th percentile of ``n`` samples: its estimate (linear interpolation, as
    :func:`numpy.percentile`), the interval between two order statistics (``None`` where the
    sample is too small to bound that side), and ``tail``, the samples beyond it. With a thin
    tail the interpolated estimate may lie below ``lo``: e.g. the true p99.9 of 50 samples
    exceeds their maximum with probability 0.999**50 = 95%."""

    p: float
    n: int
    value: float
    lo: float | None
    hi: float | None
    tail: int

    @property
    def thin(self) -> bool:
        """Fewer than :data:`THIN_TAIL` samples lie beyond the percentile."""
        return self.tail < THIN_TAIL


def percentile_ranks(n: int, p: float, confidence: float = CONFIDENCE) -> tuple[int, int]:
    """1-based ranks ``(l, u)`` with P(X(l) <= true percentile <= X(u)) >= ``confidence``
    for any continuous distribution; ``l`` = 0 or ``u`` = n + 1 means that side is unbounded.

    The number B of samples below the true ``p``-th percentile is Binomial(n, p/100); the
    interval covers it when l <= B < u, so l and u - 1 are the alpha/2 and 1 - alpha/2
    quantiles of B (each tail has probability below alpha/2: coverage at least the level).
    """
    from scipy import stats

    _check_confidence(confidence)
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be in 0..100, got {p!r}")
    q = p / 100.0
    alpha = 1.0 - confidence
    low = int(stats.binom.ppf(alpha / 2, n, q))
    high = int(stats.binom.ppf(1 - alpha / 2, n, q)) + 1
    # ppf(a) is the smallest k with CDF(k) >= a; P(B < low) = CDF(low - 1) < a as required.
    return low, high


def percentile_interval(
    values: np.ndarray | Sequence[float], p: float, confidence: float = CONFIDENCE
) -> PercentileInterval:
    """The ``p``-th percentile of ``values`` (at least one) with its distribution-free
    interval and tail size."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0:
        raise ValueError("percentile of an empty sample")
    low, high = percentile_ranks(n, p, confidence)
    q = p / 100.0
    # Samples beyond the percentile on its far side (above it for p >= 50, below for p < 50);
    # rounded to absorb float error in n * (1 - q), e.g. 1000 * 0.001.
    tail = math.floor(round(n * min(q, 1.0 - q), 9))
    return PercentileInterval(
        p=p,
        n=n,
        value=float(np.percentile(x, p)),
        lo=float(x[low - 1]) if low >= 1 else None,
        hi=float(x[high - 1]) if high <= n else None,
        tail=tail,
    )


@dataclass(frozen=True, slots=True)
class MeanInterval:
    """The mean of one figure over ``k`` runs (seeds), its sample standard deviation and its
    Student-t interval (``None`` bounds with fewer than two runs)."""

    k: int
    mean: float
    sd: float | None
    lo: float | None
    hi: float | None


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> MeanInterval:
    """Across-run mean of ``values`` (at least one) with a t interval: the runs are
    independent (distinct seeds), so the interval covers the expected figure of one run."""
    from scipy import stats

    _check_confidence(confidence)
    x = np.asarray(values, dtype=float)
    k = len(x)
    if k == 0:
        raise ValueError("mean of no values")
    mean = float(x.mean())
    if k < 2:
        return MeanInterval(k, mean, None, None, None)
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, k - 1)) * sd / math.sqrt(k)
    return MeanInterval(k, mean, sd, mean - half, mean + half)
