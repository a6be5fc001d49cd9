"""Hybrid logical clocks: monotone, causal despite skew; wall clocks are not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edgekv.lowlevel import HybridClock, WallClock, make_version, split_version


@given(st.integers(0, 2**40), st.integers(0, 16383), st.integers(0, 255))
def test_pack_round_trips_and_orders_like_the_tuple(ms: int, logical: int, region: int) -> None:
    v = make_version(ms, logical, region)
    assert split_version(v) == (ms, logical, region)
    assert (v < make_version(ms, logical, region + 1)) == (region < 255) or region == 255


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=50))
def test_hlc_versions_strictly_increase_even_if_physical_time_goes_back(times: list[float]) -> None:
    clock = HybridClock(1)
    issued = [clock.now(t) for t in times]
    assert issued == sorted(issued) and len(set(issued)) == len(issued)


def test_hlc_orders_a_reply_after_what_it_saw_despite_skew() -> None:
    fast, slow = HybridClock(0, skew_ms=500), HybridClock(1, skew_ms=-500)
    first = fast.now(1000)
    slow.observe(first)
    assert slow.now(1001) > first


def test_wall_clock_lets_a_later_write_lose() -> None:
    fast, slow = WallClock(0, skew_ms=500), WallClock(1, skew_ms=-500)
    first = fast.now(1000)
    slow.observe(first)
    assert slow.now(1001) < first, "a skewed wall clock issues an older version for a later write"


def test_logical_overflow_carries_into_the_millisecond() -> None:
    clock = HybridClock(0)
    versions = [clock.now(5) for _ in range(20_000)]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert split_version(versions[-1])[0] == 6
