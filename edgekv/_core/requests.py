"""Requests between regions on behalf of a store: priced by the
:class:`~edgekv.lowlevel.LatencyModel`, carried or lost by the :class:`~edgekv.lowlevel.Network`
(a cut or paused link loses them, as it loses replication), and bounded by the config's
``request_timeout``. The one request path every store uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .store import Outcome, Pending

if TYPE_CHECKING:
    from .network import Network
    from .store import Scheduler

__all__ = ["Requests"]


class Requests:
    """Sends callbacks across the network at a scheduler's clock. O(1) per request."""

    __slots__ = ("network", "timeout", "lost", "timed_out", "_time", "_call_at", "_t0")

    def __init__(self, network: Network, scheduler: Scheduler, t0: float, timeout: float) -> None:
        self.network = network
        self.timeout = timeout
        """Seconds after which a guarded operation fails as unavailable."""
        self.lost = 0
        """Requests lost on a cut or paused link."""
        self.timed_out = 0
        """Operations completed as unavailable."""
        self._time = scheduler.time
        self._call_at = scheduler.call_at
        self._t0 = t0

    def send(self, src: int, dst: int, delay: float, fn: Callable[..., Any], *args: Any) -> bool:
        """Run ``fn(*args)`` at ``dst`` after ``delay`` seconds unless the link ``src -> dst``
        is cut or paused now, in which case the request is lost (returns False)."""
        now = self._time()
        if self.network.blocked(src, dst, now - self._t0):
            self.lost += 1
            return False
        self._call_at(now + delay, fn, *args)
        return True

    def guard(self, pending: Pending, consistency: str, on_fail: Callable[[Pending], None]) -> None:
        """Fail ``pending`` as unavailable ``timeout`` seconds after it started unless it has
        completed by then; ``on_fail(pending)`` runs after it fails (to release what it
        held)."""
        when = self._t0 + pending.start + self.timeout
        self._call_at(when, self._expire, pending, consistency, on_fail)

    def _expire(
        self, pending: Pending, consistency: str, on_fail: Callable[[Pending], None]
    ) -> None:
        if pending.done:
            return
        self.timed_out += 1
        pending.fail(
            self._time() - self._t0,
            Outcome.UNAVAILABLE,
            f"no answer within the {self.timeout:g}s request timeout",
            consistency,
        )
        on_fail(pending)
