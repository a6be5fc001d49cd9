"""The discrete-event kernel: time order, priority and insertion order on ties, run limits."""

from __future__ import annotations

from edgekv.lowlevel import Kernel


def test_events_run_in_time_then_priority_then_insertion_order() -> None:
    kernel = Kernel()
    fired: list[str] = []
    kernel.call_at(2.0, fired.append, "late")
    kernel.call_at(1.0, fired.append, "b", priority=1)
    kernel.call_at(1.0, fired.append, "a", priority=0)
    kernel.call_at(1.0, fired.append, "c", priority=1)
    kernel.call_later(0.5, fired.append, "first")
    assert kernel.pending == 5
    kernel.run()
    assert fired == ["first", "a", "b", "c", "late"]
    assert kernel.now == 2.0 and kernel.events == 5 and kernel.pending == 0


def test_run_until_stops_the_clock_there_and_keeps_later_events() -> None:
    kernel = Kernel()
    fired: list[float] = []

    def tick() -> None:
        fired.append(kernel.time())
        kernel.call_later(1.0, tick)

    kernel.call_at(0.0, tick)
    kernel.run(until=3.5)
    assert fired == [0.0, 1.0, 2.0, 3.0]
    assert kernel.now == 3.5 and kernel.pending == 1


def test_an_event_in_the_past_runs_now() -> None:
    kernel = Kernel()
    kernel.run(until=5.0)
    seen: list[float] = []
    kernel.call_at(1.0, lambda: seen.append(kernel.now))
    kernel.run()
    assert seen == [5.0]
