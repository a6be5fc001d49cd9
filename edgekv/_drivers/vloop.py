"""An asyncio event loop in virtual time: ``time()`` is a virtual clock and, where the loop
would sleep until its next timer, the clock jumps exactly to that timer instead. Timers fire
in the same order and at the same (virtual) instants as in real time, at no real cost."""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import math
import operator
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, TypeVarTuple, Unpack

__all__ = ["VirtualTimeLoop", "check_seed", "current_seed", "run"]

T = TypeVar("T")
_Ts = TypeVarTuple("_Ts")

_SEED: contextvars.ContextVar[int] = contextvars.ContextVar("edgekv_seed", default=0)


def current_seed() -> int:
    """The seed given to the innermost :func:`run` (0 outside one)."""
    return _SEED.get()


def check_natural(value: Any, message: str) -> int:
    """``value`` as an int >= 0 (numpy's integers too), or ``ValueError(message)`` for a
    negative, non-integer or bool one."""
    try:
        number = operator.index(value)
    except TypeError:
        number = -1
    if isinstance(value, bool) or number < 0:
        raise ValueError(message)
    return number


def check_seed(seed: Any) -> int:
    """``seed`` as an int, or ``ValueError`` before numpy sees a negative or non-integer one."""
    return check_natural(seed, f"seed must be an int >= 0, got {seed!r}")


def _check_idle_timeout(idle_timeout: Any) -> float:
    """``idle_timeout`` as a float, or ``ValueError`` for anything but a positive finite
    number of seconds."""
    if (
        isinstance(idle_timeout, bool)
        or not isinstance(idle_timeout, int | float)
        or not 0 < idle_timeout < math.inf
    ):
        raise ValueError(f"idle_timeout must be a positive number of seconds, got {idle_timeout!r}")
    return float(idle_timeout)


class _JumpingSelector(selectors.DefaultSelector):
    """Polls real I/O without blocking; instead of sleeping, advances the virtual clock."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if events or timeout == 0:
            return events
        loop = self.loop
        assert loop is not None
        if timeout is not None:  # a timer is due: asyncio asks to sleep until it
            loop._jump()
            return events
        events = super().select(loop.idle_timeout)
        if not events:
            raise RuntimeError(
                "virtual-time deadlock: nothing is scheduled and no I/O arrived; "
                "the program is awaiting something that never happens"
            )
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock is virtual and jumps to the next timer."""

    def __init__(self, idle_timeout: float = 10.0) -> None:
        idle_timeout = _check_idle_timeout(idle_timeout)
        selector = _JumpingSelector()
        super().__init__(selector)
        selector.loop = self
        self._vtime = 0.0
        self._timers: list[float] = []
        """When every timer was set for (cancelled ones too, until their time passes)."""
        self.idle_timeout = idle_timeout
        """Real seconds to wait for I/O (say a thread handing back a result) when no timer is
        scheduled, before concluding the program awaits something that never happens."""

    def time(self) -> float:
        """Virtual seconds since the loop was made."""
        return self._vtime

    def call_at(
        self,
        when: float,
        callback: Callable[[Unpack[_Ts]], object],
        *args: *_Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """Schedule as asyncio does (``call_later`` comes here too), noting ``when``."""
        heapq.heappush(self._timers, when)
        return super().call_at(when, callback, *args, context=context)

    def _jump(self) -> None:
        """Advance the clock to the earliest timer still ahead (a cancelled one's instant
        runs nothing, so results stay those of real time). O(log timers)."""
        timers, now = self._timers, self._vtime
        while timers and timers[0] <= now:
            heapq.heappop(timers)
        if timers:
            self._vtime = timers[0]


def run(coro: Coroutine[Any, Any, T], *, seed: int = 0, idle_timeout: float = 10.0) -> T:
    """Run ``coro`` to completion in virtual time; clusters made inside default to ``seed``.

    ``await asyncio.sleep(0.3)`` inside costs no real time, and the result is a pure
    function of the coroutine and the seed. ``idle_timeout`` is how many real seconds to wait
    for I/O when nothing is scheduled before raising a deadlock error.
    """
    try:
        seed = check_seed(seed)
        idle_timeout = _check_idle_timeout(idle_timeout)
    except ValueError:
        if asyncio.iscoroutine(coro):
            coro.close()  # never started: no "was never awaited" warning
        raise
    token = _SEED.set(seed)
    try:
        with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(idle_timeout)) as runner:
            return runner.run(coro)
    finally:
        _SEED.reset(token)
