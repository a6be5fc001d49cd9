"""Session guarantees (Terry et al., "Session Guarantees for Weakly Consistent Replicated
Data", PDIS 1994) checked per process and key from LWW versions: a read returning version v
has seen every write of that key with version <= v, so each guarantee becomes an order on
versions. Within a session (operations in order of invocation, history order on ties), an
operation precedes a later one when it completed before that one was invoked (``precedes``)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from ._history import History, Operation, precedes
from ._result import CheckResult, Violation

__all__ = ["GUARANTEES", "check_session"]

MODEL = "session"
GUARANTEES = ("read-your-writes", "monotonic-reads", "monotonic-writes", "writes-follow-reads")


def _version(op: Operation) -> str:
    return f"v{op.version}" if op.version else "nothing (absent)"


def _explain(guarantee: str, first: Operation, then: Operation) -> str:
    """One paragraph on how ``first`` then ``then`` of one session break ``guarantee``."""
    p, key = first.process, first.key
    route = (
        f"(both in {first.region})"
        if first.region == then.region
        else f"({first.region} then {then.region})"
    )
    if guarantee == "read-your-writes":
        return (
            f"{p} wrote {key!r} at version v{first.version} (acknowledged at "
            f"{first.complete:.3f}s), then read it at {then.invoke:.3f}s and got "
            f"{_version(then)}, which does not include its own write. Read-your-writes requires "
            "a session's reads to reflect its earlier writes; this is the stale read a user "
            f"sees when the read is served by a replica the write has not reached yet {route}."
        )
    if guarantee == "monotonic-reads":
        return (
            f"{p} read {key!r} at version v{first.version} (at {first.invoke:.3f}s), then "
            f"read {_version(then)} at {then.invoke:.3f}s: the key went back in time. "
            "Monotonic reads requires a later read to see at least what an earlier one saw; "
            f"it breaks when successive reads hit replicas at different points {route}."
        )
    if guarantee == "monotonic-writes":
        return (
            f"{p} wrote {key!r} at version v{first.version}, then wrote it again at "
            f"{_version(then)}, a lower version: under last-writer-wins the earlier write "
            "beats the later one in every region. Monotonic writes requires a session's writes "
            f"to take effect in the order it issued them (clock skew between regions {route} "
            "is the usual cause)."
        )
    return (
        f"{p} read {key!r} at version v{first.version}, then wrote it at {_version(then)}, "
        "which is not newer: under last-writer-wins the write it was based on beats it. "
        "Writes-follow-reads requires a write to be ordered after the writes its session "
        f"had read {route}."
    )


def check_session(history: Iterable[Operation]) -> CheckResult:
    """Check read-your-writes, monotonic reads, monotonic writes and writes-follow-reads for
    every process, per key; each violation shows the two operations of the session that
    break it. Needs the version of every ok write (0 = none is a ConfigError)."""
    history = history if isinstance(history, History) else History(history)
    history.require_versions(MODEL)
    violations: list[Violation] = []
    checked = 0
    for ops in history.by_process().values():
        pending: list[tuple[float, bool, int, Operation]] = []  # begun earlier, by completion
        wrote: dict[str, Operation] = {}  # key -> this session's newest preceding write
        read: dict[str, Operation] = {}  # key -> this session's newest preceding read
        for n, op in enumerate(ops):
            while pending and precedes(pending[0][3], op):
                d = heapq.heappop(pending)[3]
                seen = wrote if d.kind == "write" else read
                if d.ok and (d.key not in seen or d.version > seen[d.key].version):
                    seen[d.key] = d
            heapq.heappush(pending, (op.complete, op.complete == op.invoke, n, op))
            if not op.ok:
                continue
            checked += 1
            w, r = wrote.get(op.key), read.get(op.key)
            found = []
            if op.kind == "read":
                if w is not None and op.version < w.version:
                    found.append(("read-your-writes", w))
                if r is not None and op.version < r.version:
                    found.append(("monotonic-reads", r))
            else:
                if w is not None and op.version <= w.version:
                    found.append(("monotonic-writes", w))
                if r is not None and op.version <= r.version:
                    found.append(("writes-follow-reads", r))
            for guarantee, first in found:
                violations.append(
                    Violation(guarantee, op.key, (first, op), _explain(guarantee, first, op))
                )
    return CheckResult(MODEL, checked, tuple(violations))
