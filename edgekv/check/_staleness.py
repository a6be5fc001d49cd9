"""Bounded staleness: every ok read is within K versions and T seconds of the newest write
completed before it was invoked (k-staleness and t-visibility in the sense of PBS, Bailis
et al., VLDB 2012), judged with the LWW versions of one key."""

from __future__ import annotations

import bisect
import numbers
import operator
from collections.abc import Iterable

from sortedcontainers import SortedList

from .._core.errors import ConfigError
from ._history import History, Operation, precedes
from ._result import CheckResult, Violation

__all__ = ["check_staleness"]

MODEL = "staleness"


def check_staleness(
    history: Iterable[Operation],
    *,
    max_versions: int | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """Check that no ok read misses more than ``max_versions`` acknowledged writes completed
    before it began, nor any acknowledged write completed more than ``max_seconds`` before it
    began. Each violation shows the read, the write it returned (when in the history) and the
    newest write it should have seen."""
    if max_versions is None and max_seconds is None:
        raise ConfigError("max_versions", "give max_versions, max_seconds or both")
    if max_versions is not None:
        try:
            bound = operator.index(max_versions)
        except TypeError:
            bound = -1
        if isinstance(max_versions, bool) or bound < 0:
            raise ConfigError("max_versions", f"expected an integer >= 0, got {max_versions!r}")
        max_versions = bound
    if max_seconds is not None and (
        isinstance(max_seconds, bool)
        or not isinstance(max_seconds, numbers.Real)
        or not max_seconds >= 0
    ):
        raise ConfigError("max_seconds", f"expected a number of seconds >= 0, got {max_seconds!r}")
    history = history if isinstance(history, History) else History(history)
    history.require_versions(MODEL)
    violations: list[Violation] = []
    checked = 0
    for key, ops in history.by_key().items():
        writes = sorted(
            (op for op in ops if op.kind == "write" and op.ok),
            key=lambda o: (o.complete, o.complete == o.invoke),
        )
        by_version = {w.version: w for w in writes}
        ends = [w.complete for w in writes]
        newest: list[Operation] = []  # newest[i]: highest-version write among writes[: i + 1]
        for w in writes:
            newest.append(w if not newest or w.version > newest[-1].version else newest[-1])
        reads = sorted((op for op in ops if op.kind == "read" and op.ok), key=lambda o: o.invoke)
        before = SortedList()
        done = 0
        for r in reads:
            checked += 1
            while done < len(writes) and precedes(writes[done], r):
                before.add(writes[done].version)
                done += 1
            missed = len(before) - before.bisect_right(r.version)
            problems = []
            if max_versions is not None and missed > max_versions:
                problems.append(
                    f"it missed {missed} acknowledged writes completed before it began "
                    f"(at most {max_versions} allowed)"
                )
            culprit = newest[done - 1] if done and missed else None
            if max_seconds is not None:
                cut = bisect.bisect_left(ends, r.invoke - max_seconds)
                old = newest[cut - 1] if cut else None
                if old is not None and old.version > r.version:
                    culprit = old
                    problems.append(
                        f"it missed the write of v{old.version}, completed "
                        f"{r.invoke - old.complete:.3f}s before it began (at most "
                        f"{max_seconds:g}s allowed)"
                    )
            if not problems or culprit is None:
                continue
            seen = by_version.get(r.version)
            shown = (*((seen,) if seen is not None else ()), culprit, r)
            got = f"v{r.version}" if r.version else "nothing (absent)"
            violations.append(
                Violation(
                    "bounded-staleness",
                    key,
                    shown,
                    f"{r.process} read {key!r} in {r.region} at {r.invoke:.3f}s and got {got}, "
                    f"but {' and '.join(problems)}; the newest write it should have seen is "
                    f"{culprit.process}'s v{culprit.version} in {culprit.region}.",
                )
            )
    return CheckResult(MODEL, checked, tuple(violations))
