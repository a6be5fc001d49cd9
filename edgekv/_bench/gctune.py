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
    default bench's CPU time at CPython's thresholds); the cycles a run does make tie its
    own structures together (closures, the mesh, sessions) and become garbage when it ends,
    which the one collection frees. Results do not depend on it: only when cycles are
    collected, never what runs. Measured with ``benchmarks/scale.py``."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect()
