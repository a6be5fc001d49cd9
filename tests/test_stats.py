"""The intervals edgekv prints cover what they claim: simulated Bernoulli processes and
samples from a known distribution, 2,000 seeds each, against the exact coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from edgekv.lowlevel import THIN_TAIL, mean_interval, percentile_interval, percentile_ranks, wilson

SEEDS = 2000


def _tolerance(coverage: float) -> float:
    """Four standard deviations of a coverage share measured over :data:`SEEDS` seeds."""
    return 4 * math.sqrt(coverage * (1 - coverage) / SEEDS)


def _exact_wilson_coverage(rate: float, n: int) -> float:
    ks = np.arange(n + 1)
    pmf = stats.binom.pmf(ks, n, rate)
    likely = ks[pmf > 1e-12]
    return float(
        sum(pmf[k] for k in likely if wilson(int(k), n).lo <= rate <= wilson(int(k), n).hi)
    )


@pytest.mark.parametrize(("rate", "n"), [(0.008, 10_000), (0.1, 60), (0.5, 400)])
def test_wilson_covers_the_true_rate_in_95_percent_of_seeds(rate: float, n: int) -> None:
    covered = 0
    for seed in range(SEEDS):
        count = int((np.random.default_rng(seed).random(n) < rate).sum())
        ci = wilson(count, n)
        covered += ci.lo <= rate <= ci.hi
    observed = covered / SEEDS
    exact = _exact_wilson_coverage(rate, n)
    # Wilson's coverage oscillates around the level with n and the rate; it stays close.
    assert abs(exact - 0.95) < 0.02
    assert abs(observed - exact) <= _tolerance(exact)
    assert abs(observed - 0.95) <= _tolerance(0.95) + 0.02


def test_wilson_bounds_are_ordered_and_clipped() -> None:
    zero = wilson(0, 1000)
    assert zero.lo == 0 and 0 < zero.hi < 0.005 and zero.rate == 0
    full = wilson(20, 20)
    assert full.hi == pytest.approx(1.0) and full.lo < 1
    mid = wilson(801, 100_353)
    assert mid.lo < mid.rate < mid.hi
    assert (mid.lo, mid.hi) == pytest.approx((0.00745, 0.00855), abs=1e-5)
    with pytest.raises(ValueError, match="count"):
        wilson(5, 4)
    with pytest.raises(ValueError, match="count"):
        wilson(0, 0)


@pytest.mark.parametrize(("p", "n"), [(90.0, 200), (50.0, 31), (99.0, 1000)])
def test_percentile_interval_covers_the_true_percentile(p: float, n: int) -> None:
    truth = -math.log(1 - p / 100)  # the p-th percentile of Exponential(1)
    covered = 0
    for seed in range(SEEDS):
        ci = percentile_interval(np.random.default_rng(seed).exponential(size=n), p)
        lo = -math.inf if ci.lo is None else ci.lo
        hi = math.inf if ci.hi is None else ci.hi
        covered += lo <= truth <= hi
    observed = covered / SEEDS
    low, high = percentile_ranks(n, p)
    exact = float(stats.binom.cdf(high - 1, n, p / 100) - stats.binom.cdf(low - 1, n, p / 100))
    assert exact >= 0.95  # order-statistic intervals are conservative
    assert exact < 0.98  # ... but not wastefully wide (discreteness only)
    assert abs(observed - exact) <= _tolerance(exact)


def test_percentile_interval_brackets_the_estimate_and_marks_thin_tails() -> None:
    x = np.random.default_rng(3).lognormal(size=100_353)
    p99 = percentile_interval(x, 99.0)
    assert p99.n == 100_353 and p99.tail == 1003 and not p99.thin
    assert p99.lo is not None and p99.hi is not None
    assert p99.lo <= p99.value <= p99.hi
    assert p99.value == pytest.approx(float(np.percentile(x, 99.0)))
    small = percentile_interval(x[:5000], 99.9)
    assert small.tail == 5 < THIN_TAIL and small.thin
    assert percentile_interval(x[:1000], 99.9).tail == 1
    assert percentile_interval(x[:1000], 0.1).tail == 1  # low percentiles: the lower tail
    # Three samples cannot bound the 99th percentile from above.
    assert percentile_interval([1.0, 2.0, 3.0], 99.0).hi is None
    assert percentile_ranks(3, 99.0) == (2, 4)
    with pytest.raises(ValueError, match="empty"):
        percentile_interval([], 50.0)
    with pytest.raises(ValueError, match="percentile"):
        percentile_ranks(10, 101.0)


def test_mean_interval_is_students_t() -> None:
    m = mean_interval([1.0, 2.0, 3.0])
    assert m.k == 3 and m.mean == 2.0 and m.sd == pytest.approx(1.0)
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2 df)
    assert (m.lo, m.hi) == pytest.approx((2.0 - half, 2.0 + half))
    one = mean_interval([5.0])
    assert one.mean == 5.0 and one.lo is None and one.hi is None and one.sd is None
    with pytest.raises(ValueError, match="no values"):
        mean_interval([])


def test_mean_interval_covers_the_expected_value_in_95_percent_of_seeds() -> None:
    covered = 0
    for seed in range(SEEDS):
        m = mean_interval(np.random.default_rng(seed).normal(10.0, 2.0, size=5).tolist())
        assert m.lo is not None and m.hi is not None
        covered += m.lo <= 10.0 <= m.hi
    assert abs(covered / SEEDS - 0.95) <= _tolerance(0.95)
