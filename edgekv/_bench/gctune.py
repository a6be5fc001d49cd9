"""Garbage-collector settings for a simulation run, in one place so any runner can wrap
itself in them."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_tuned_for_run"]


@contextmanager
def gc_tuned_for_run() -> Iterator[None]:
    """Run the block with automatic cyclic collection off, then collect once and restore
    the caller's setting. A run allocates millions of long-lived records and log entries
    that hold no cycles, so automatic collections only rescan a growing heap (a third of the
    default bench's CPU time at CPython's thresholds). The runner breaks the cycles that
    would tie a finished run's structures together (its self-scheduling closure, the
    kernel's leftover events; the stores and meshes hold none), so reference counting frees
    the run and the one collection only sweeps the few left: a collection that finds the
    run itself in a cycle has to traverse every object of it (1.8 of the default bench's
    16 CPU seconds). Results do not depend on it: only when cycles are collected, never
    what runs. Measured with ``benchmarks/scale.py``."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect()
