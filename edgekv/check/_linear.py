"""Linearizability of a read/write register, per key (P-compositionality: a history is
linearizable iff each key's sub-history is, Herlihy & Wing 1990).

The search is Wing & Gong's, with Lowe's memoisation of (linearized set, register state) as
Porcupine implements it (``checkSingle`` in anishathalye/porcupine): walk a linked list of call
and return entries, tentatively linearize the first calls whose step the register allows,
backtrack when a return is reached whose call is not linearized yet, and never revisit a
(set, state) pair already explored. Writes that did not end ok return at +infinity, so they
may take effect at any point after their invocation or never (Jepsen's ``:info``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ._history import History, Operation, freeze, precedes, shown
from ._result import CheckResult, Violation

__all__ = ["check_linearizable", "is_linearizable", "minimal_counterexample"]

MODEL = "linearizable"


def is_linearizable(ops: Sequence[Operation]) -> bool:
    """True when the operations on ONE register (key) have a linearization; reads that did not
    end ok are ignored, writes that did not end ok may or may not have taken effect."""
    ops = [op for op in ops if op.ok or op.kind == "write"]
    return _search(ops, [freeze(op.value) for op in ops]) is None


def _search(ops: Sequence[Operation], values: Sequence[object]) -> list[int] | None:
    """The search itself, on relevant operations with their values already frozen: None when
    linearizable, else the indices of the operations invoked before the furthest return the
    search got stuck at (no branch ever linearized another one, so they fail on their own)."""
    n = len(ops)
    if n == 0:
        return None
    # Entries 1..2n between sentinels 0 (head) and end, in the order of ``precedes``: at one
    # instant, returns of operations that took time, then calls, then zero-time returns.
    events = []
    for i, op in enumerate(ops):
        events.append((op.invoke, 1, i))
        zero = op.complete == op.invoke
        events.append((op.complete if op.ok else math.inf, 2 if zero else 0, i))
    events.sort()
    end = 2 * n + 1
    nxt = list(range(1, end + 1)) + [end]
    prv = [0, *range(0, end)]
    entry_op = [0] * (end + 1)
    is_call = [False] * (end + 1)
    ret_of = [0] * (end + 1)
    call_of = [0] * n
    for e, (_, kind, i) in enumerate(events, start=1):
        entry_op[e] = i
        if kind == 1:
            is_call[e] = True
            call_of[i] = e
        else:
            ret_of[call_of[i]] = e
    writes = [op.kind == "write" for op in ops]
    maybe = [not op.ok for op in ops]

    cache: set[tuple[int, object]] = set()
    stack: list[tuple[int, object]] = []
    linearized = 0
    state: object = None
    stuck = 0
    e = nxt[0]
    while e != end:
        i = entry_op[e]
        if is_call[e]:
            if writes[i] or values[i] == state:
                new_state = values[i] if writes[i] else state
                bits = linearized | (1 << i)
                if (bits, new_state) not in cache:
                    cache.add((bits, new_state))
                    stack.append((e, state))
                    state, linearized = new_state, bits
                    r = ret_of[e]  # lift the call and its return out of the list
                    nxt[prv[e]], prv[nxt[e]] = nxt[e], prv[e]
                    nxt[prv[r]], prv[nxt[r]] = nxt[r], prv[r]
                    e = nxt[0]
                    continue
            e = nxt[e]
        else:
            if maybe[i]:
                return None  # only maybe-writes are left: they never took effect
            stuck = max(stuck, e)
            if not stack:
                return [entry_op[p] for p in range(1, stuck) if is_call[p]]
            e, state = stack.pop()
            linearized &= ~(1 << entry_op[e])
            r = ret_of[e]  # put them back, return first (the reverse of lifting)
            nxt[prv[r]] = r
            prv[nxt[r]] = r
            nxt[prv[e]] = e
            prv[nxt[e]] = e
            e = nxt[e]
    return None


def _could_source(w: Operation, r: Operation) -> bool:
    """True when write ``w`` could be the one ``r`` read: same value, begun before ``r`` ended."""
    return w.kind == "write" and w.invoke <= r.complete and freeze(w.value) == freeze(r.value)


def minimal_counterexample(ops: Sequence[Operation]) -> list[Operation]:
    """A 1-minimal non-linearizable subset of one key's non-linearizable operations: removing
    any single operation (keeping a write each read could have read) makes it linearizable."""
    found = _check_key(ops)
    if found is None:
        raise ValueError("the operations are linearizable: there is no counterexample")
    return _minimize(*found)


def _check_key(
    ops: Sequence[Operation],
) -> tuple[list[Operation], dict[int, object], list[int]] | None:
    """None when one key's operations are linearizable, else what minimising needs: the
    relevant operations by invocation, their frozen values by ``id`` and where it got stuck."""
    current = sorted(
        (op for op in ops if op.ok or op.kind == "write"), key=lambda o: (o.invoke, o.complete)
    )
    frozen = {id(op): freeze(op.value) for op in current}
    stuck = _search(current, [frozen[id(op)] for op in current])
    return None if stuck is None else (current, frozen, stuck)


def _minimize(
    current: list[Operation], frozen: dict[int, object], stuck: list[int]
) -> list[Operation]:
    """Shrink a failing history (see :func:`minimal_counterexample`), starting from the part
    the search got stuck in."""
    by_version = {op.version: op for op in current if op.kind == "write" and op.version}
    sources: dict[int, Operation] = {}  # id of a read -> the write its version names
    for r in current:
        src = by_version.get(r.version) if r.kind == "read" and r.ok and r.version else None
        if src is not None and src.invoke <= r.complete and frozen[id(src)] == frozen[id(r)]:
            sources[id(r)] = src

    def unsourced(trial: Sequence[Operation]) -> Operation | None:
        """An ok read of a value no write kept in ``trial`` could have written (its own
        write, when versions say which), or None: a counterexample never blames a read for
        a write that minimisation dropped."""
        kept = {id(op) for op in trial}
        first: dict[object, float] = {}  # value -> earliest invocation of a write of it
        for w in trial:
            if w.kind == "write" and w.invoke < first.get(frozen[id(w)], math.inf):
                first[frozen[id(w)]] = w.invoke
        for r in trial:
            if r.kind != "read" or not r.ok or r.value is None:
                continue
            own = sources.get(id(r))
            if own is not None and id(own) not in kept:
                return r
            if first.get(frozen[id(r)], math.inf) > r.complete:
                return r
        return None

    ghost = unsourced(current)  # with every write kept, only a read nobody could have written
    if ghost is not None:
        return [ghost]  # a read of a value nobody could have written is a counterexample alone

    def fails(trial: list[Operation]) -> list[Operation]:
        """The part of ``trial`` the search got stuck in when it is a grounded failure (with
        every read's write: the search never linearizes past it), else []."""
        if not trial or unsourced(trial) is not None:
            return []
        stuck = _search(trial, [frozen[id(op)] for op in trial])
        if stuck is None:
            return []
        part = [trial[i] for i in sorted(stuck)]
        return part if unsourced(part) is None else trial

    part = [current[i] for i in sorted(stuck)]
    if unsourced(part) is None:
        current = part
    small = 1  # shortest failing suffix: grow it from the end, then bisect
    while small < len(current) and not fails(current[-small:]):
        small *= 2
    lo, hi = small // 2, min(small, len(current))  # a suffix of lo passes, one of hi fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fails(current[-mid:]):
            hi = mid
        else:
            lo = mid
    current = fails(current[-hi:])
    chunk = max(1, len(current) // 2)
    while True:  # delta debugging: drop chunks, then single operations, while it still fails
        i, before = 0, len(current)
        while i < len(current):
            trial = fails(current[:i] + current[i + chunk :])
            if trial:
                current = trial
            else:
                i += chunk
        if chunk == 1 and len(current) == before:
            return current  # no single operation can go: 1-minimal
        chunk = max(1, chunk // 2)


def explain(key: str, ops: Sequence[Operation]) -> str:
    """One paragraph on why these operations of ``key`` have no linearization."""
    head = (
        f"These {len(ops)} operations on {key!r} cannot be linearized: no single order of them, "
        "each taking effect at one instant between its invocation and completion, lets every "
        "read return the latest write before it."
    )
    writes = [op for op in ops if op.kind == "write"]
    for r in (op for op in ops if op.kind == "read" and op.ok):
        sources = [w for w in writes if _could_source(w, r)]
        if r.value is not None and not sources:
            return (
                f"{r.process} read {shown(r.value)} from {key!r} (completed at "
                f"{r.complete:.3f}s), a value no write of this key had begun writing by then."
            )
        newer = [
            w
            for w in writes
            if w.ok
            and precedes(w, r)
            and freeze(w.value) != freeze(r.value)
            and all(precedes(s, w) for s in sources)
        ]
        if not newer:
            continue
        w2 = max(newer, key=lambda w: w.complete)
        if r.value is None and not sources:
            detail = (
                f"{r.process} read {key!r} as absent at {r.invoke:.3f}s, although "
                f"{w2.process}'s write of {shown(w2.value)} had completed at "
                f"{w2.complete:.3f}s, before that read began."
            )
        else:
            detail = (
                f"{r.process} read {shown(r.value)} (begun at {r.invoke:.3f}s), a value "
                f"already overwritten: {w2.process}'s write of {shown(w2.value)} began after "
                f"every write of {shown(r.value)} had completed and itself completed at "
                f"{w2.complete:.3f}s, before the read began: a stale read."
            )
        return f"{head} {detail}"
    reads = [op for op in ops if op.kind == "read" and op.ok]
    for r1 in reads:
        for r2 in reads:
            old = [w for w in writes if _could_source(w, r2)]
            new = [w for w in writes if _could_source(w, r1)]
            if precedes(r1, r2) and old and new and all(precedes(o, n) for o in old for n in new):
                return (
                    f"{head} {r2.process} read {shown(r2.value)} (begun at {r2.invoke:.3f}s) "
                    f"after {r1.process}'s read had already returned the newer "
                    f"{shown(r1.value)} (completed at {r1.complete:.3f}s), written after "
                    f"{shown(r2.value)}: a later read went back in time."
                )
    return (
        f"{head} Each order that gives one read its value gives another read a different "
        "one: the reads saw the writes in orders no single timeline allows."
    )


def check_linearizable(history: Iterable[Operation], *, minimize: bool = True) -> CheckResult:
    """Check every key's register for linearizability; each non-linearizable key gives one
    violation whose operations are a 1-minimal counterexample (all of the key's operations
    when ``minimize`` is False)."""
    history = history if isinstance(history, History) else History(history)
    violations = []
    checked = 0
    for key, ops in history.by_key().items():
        found = _check_key(ops)
        checked += sum(1 for op in ops if op.ok or op.kind == "write")
        if found is None:
            continue
        shown = _minimize(*found) if minimize else found[0]
        violations.append(Violation("linearizability", key, tuple(shown), explain(key, shown)))
    return CheckResult(MODEL, checked, tuple(violations))
