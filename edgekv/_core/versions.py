"""Versions and the clocks that issue them.

A version is one Python ``int`` packing ``(physical ms, logical counter, region index)`` so
that integer order is the total order every replica uses to break ties, comparisons cost
one machine op, and a version costs 36 bytes in memory and 9 on the wire.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "clock_versions",
    "EPOCH_MS",
    "MAX_LOGICAL",
    "HybridClock",
    "WallClock",
    "make_version",
    "split_version",
]

EPOCH_MS = 1_700_000_000_000
"""Physical time of virtual time 0 (Nov 2023), so versions read like real timestamps."""

_REGION_BITS = 8
_LOGICAL_BITS = 14
_LOGICAL_SHIFT = _REGION_BITS
_MS_SHIFT = _REGION_BITS + _LOGICAL_BITS
MAX_LOGICAL = (1 << _LOGICAL_BITS) - 1


def make_version(ms: int, logical: int, region: int) -> int:
    """Pack a version; ``logical`` must fit 14 bits and ``region`` 8 bits."""
    return (ms << _MS_SHIFT) | (logical << _LOGICAL_SHIFT) | region


def split_version(version: int) -> tuple[int, int, int]:
    """Unpack ``(physical ms, logical, region index)``."""
    return (
        version >> _MS_SHIFT,
        (version >> _LOGICAL_SHIFT) & MAX_LOGICAL,
        version & ((1 << _REGION_BITS) - 1),
    )


class HybridClock:
    """Hybrid logical clock (Kulkarni et al. 2014) of one region.

    Versions it issues exceed every version it has issued or observed, so a write that
    causally follows another always wins LWW, whatever the physical clocks' skew.
    """

    __slots__ = ("_l", "_c", "region", "skew_ms")

    def __init__(self, region: int, skew_ms: float = 0.0) -> None:
        self.region = region
        self.skew_ms = skew_ms
        self._l = 0
        self._c = 0

    def _advance(self, l_new: int, c_new: int) -> int:
        if c_new > MAX_LOGICAL:
            l_new, c_new = l_new + 1, 0
        self._l, self._c = l_new, c_new
        return make_version(l_new, c_new, self.region)

    def now(self, physical_ms: float) -> int:
        """Issue a version for a local event at ``physical_ms`` (before skew)."""
        pt = int(physical_ms + self.skew_ms)
        if pt > self._l:
            return self._advance(pt, 0)
        return self._advance(self._l, self._c + 1)

    def observe(self, version: int) -> None:
        """Take a remote version into account (the receive rule, without issuing)."""
        ms = version >> _MS_SHIFT
        logical = (version >> _LOGICAL_SHIFT) & MAX_LOGICAL
        if ms > self._l or (ms == self._l and logical > self._c):
            self._l, self._c = ms, logical

    def peek(self, physical_ms: float) -> int:
        """The version the next local event would at least exceed, without issuing one."""
        pt = int(physical_ms + self.skew_ms)
        return make_version(max(pt, self._l), 0 if pt > self._l else self._c, self.region)


class WallClock(HybridClock):
    """A skewed wall clock without the HLC receive rule: a region whose clock runs behind
    issues versions older than writes it has already seen, so LWW drops its newer writes."""

    __slots__ = ()

    def observe(self, version: int) -> None:
        """Wall clocks ignore what they observe."""


def clock_versions(pt: np.ndarray, region: int) -> np.ndarray:
    """The versions a region's :class:`HybridClock` issues for local events at physical
    milliseconds ``pt`` (ints), in that order, when it observes nothing newer: a running
    maximum and a counter since it last rose. Vectorised; more than 16,384 events within one
    millisecond run the clock itself. O(len(pt))."""
    n = len(pt)
    high = np.maximum.accumulate(np.r_[0, pt])
    fresh = pt > high[:-1]
    logical = np.arange(n) - np.maximum.accumulate(np.where(fresh, np.arange(n), -1))
    if not n or logical.max() <= MAX_LOGICAL:
        return (high[1:] << _MS_SHIFT) | (logical << _LOGICAL_SHIFT) | region
    clock = HybridClock(region)
    return np.array([clock.now(p) for p in pt.tolist()], dtype=np.int64)
