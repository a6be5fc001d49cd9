"""What every store built on the request path shares (all but the replicated store, whose
mesh owns its network and oracle): the config, the scheduler's clock, the latency model, a
network that faults cut, the oracle, and :class:`~edgekv.lowlevel.Requests`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .config import Config
from .latency import LatencyModel
from .network import Network
from .oracle import Oracle
from .requests import Requests
from .store import Op, OpKind, Scheduler

__all__ = ["StoreBase", "applied"]


class StoreBase:
    """The wiring of a store: ``latency`` draws from stream ``stream`` of the seed, the
    network from stream 0 (as the replicated store's), ``in_flight`` counts operations."""

    def __init__(self, cfg: Config, seed: int, scheduler: Scheduler, stream: int) -> None:
        self.cfg = cfg
        self.scheduler = scheduler
        self.latency = LatencyModel(cfg, seed, stream=stream)
        self.network = Network(cfg, np.random.default_rng([seed, 0]))
        self.oracle = Oracle()
        self.service = cfg.service_time
        self._t0 = scheduler.time()
        self.requests = Requests(self.network, scheduler, self._t0, cfg.request_timeout)
        self.in_flight = 0
        """Operations submitted and not completed yet."""

    def now(self) -> float:
        """Seconds since the store started."""
        return self.scheduler.time() - self._t0

    def _later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        self.scheduler.call_at(self.scheduler.time() + delay, fn, *args)


def applied(doc: Mapping[str, Any] | None, op: Op) -> dict[str, Any] | None:
    """A whole document after a write (the stores that keep one document per key): a put
    replaces it, a patch merges top-level fields into it, a delete leaves None."""
    if op.kind == OpKind.PUT:
        return dict(op.value or {})
    if op.kind == OpKind.PATCH:
        return {**(doc or {}), **(op.value or {})}
    return None
