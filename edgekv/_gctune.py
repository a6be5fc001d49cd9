"""Garbage-collector settings for a whole simulation run, in one place so any runner can
wrap itself in them."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RUN_YOUNG_THRESHOLD", "gc_tuned_for_run"]

RUN_YOUNG_THRESHOLD = 50_000
"""Allocations between young collections during a run (CPython's default is 700). A run
allocates millions of long-lived records and log entries that hold no cycles; at the
default, young collections every 700 of them escalate into repeated full collections of a
heap that only grows (a third of the default bench's CPU time). Measured with
``benchmarks/scale.py``."""


@contextmanager
def gc_tuned_for_run() -> Iterator[None]:
    """Raise the young-generation threshold for the block and restore the caller's after.
    Results do not depend on it: only when cycles are collected, never what runs."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, RUN_YOUNG_THRESHOLD), middle, old)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)
