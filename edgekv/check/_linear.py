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

import json
import math
from collections.abc import Iterable, Sequence

from ._history import History, Operation, freeze
from ._result import CheckResult, Violation

__all__ = ["check_linearizable", "is_linearizable", "minimal_counterexample"]

MODEL = "linearizable"


def is_linearizable(ops: Sequence[Operation]) -> bool:
    """True when the operations on ONE register (key) have a linearization; reads that did not
    end ok are ignored, writes that did not end ok may or may not have taken effect."""
    ops = [op for op in ops if op.ok or op.kind == "write"]
    n = len(ops)
    if n == 0:
        return True
    # Entries 1..2n between sentinels 0 (head) and end; calls before returns at equal times,
    # so operations that touch at one instant count as concurrent (as in Porcupine).
    events = []
    for i, op in enumerate(ops):
        events.append((op.invoke, 0, i))
        events.append((op.complete if op.ok else math.inf, 1, i))
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
        if kind == 0:
            is_call[e] = True
            call_of[i] = e
        else:
            ret_of[call_of[i]] = e
    writes = [op.kind == "write" for op in ops]
    values = [freeze(op.value) for op in ops]
    maybe = [not op.ok for op in ops]

    cache: set[tuple[int, object]] = set()
    stack: list[tuple[int, object]] = []
    linearized = 0
    state: object = None
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
                return True  # only maybe-writes are left: they never took effect
            if not stack:
                return False
            e, state = stack.pop()
            linearized &= ~(1 << entry_op[e])
            r = ret_of[e]  # put them back, return first (the reverse of lifting)
            nxt[prv[r]] = r
            prv[nxt[r]] = r
            nxt[prv[e]] = e
            prv[nxt[e]] = e
            e = nxt[e]
    return True


def _could_source(w: Operation, r: Operation) -> bool:
    """True when write ``w`` could be the one ``r`` read: same value, begun before ``r`` ended."""
    return w.kind == "write" and w.invoke <= r.complete and freeze(w.value) == freeze(r.value)


def _sources(ops: Sequence[Operation]) -> dict[int, Operation]:
    """Each ok read (by ``id``) whose version names a write of the same value, mapped to
    that write."""
    by_version = {op.version: op for op in ops if op.kind == "write" and op.version}
    found = {}
    for r in ops:
        w = by_version.get(r.version) if r.kind == "read" and r.ok and r.version else None
        if w is not None and _could_source(w, r):
            found[id(r)] = w
    return found


def _grounded(ops: Sequence[Operation], sources: dict[int, Operation]) -> bool:
    """True when every ok read of a value keeps a write it could have read (its own, when
    versions say which), so a counterexample never blames a read for a dropped write."""
    kept = {id(op) for op in ops}
    for r in ops:
        if r.kind != "read" or not r.ok or r.value is None:
            continue
        w = sources.get(id(r))
        if w is not None and id(w) not in kept:
            return False
        if w is None and not any(_could_source(w, r) for w in ops):
            return False
    return True


def minimal_counterexample(ops: Sequence[Operation]) -> list[Operation]:
    """A 1-minimal non-linearizable subset of one key's non-linearizable operations: removing
    any single operation (keeping a write each read could have read) makes it linearizable."""
    current = sorted(
        (op for op in ops if op.ok or op.kind == "write"), key=lambda o: (o.invoke, o.complete)
    )
    if is_linearizable(current):
        raise ValueError("the operations are linearizable: there is no counterexample")
    ghosts = [
        r
        for r in current
        if r.kind == "read"
        and r.value is not None
        and not any(_could_source(w, r) for w in current)
    ]
    if ghosts:  # a read of a value nobody could have written is a counterexample alone
        return ghosts[:1]
    sources = _sources(current)

    def fails(trial: list[Operation]) -> bool:
        return bool(trial) and _grounded(trial, sources) and not is_linearizable(trial)

    lo, hi = 0, len(current)  # shortest failing prefix (lo passes or is empty, hi fails)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fails(current[:mid]):
            hi = mid
        else:
            lo = mid
    current = current[:hi]
    chunk = max(1, len(current) // 2)
    while True:  # delta debugging: drop chunks, then single operations, while it still fails
        i, before = 0, len(current)
        while i < len(current):
            trial = current[:i] + current[i + chunk :]
            if fails(trial):
                current = trial
            else:
                i += chunk
        if chunk == 1 and len(current) == before:
            return current  # no single operation can go: 1-minimal
        chunk = max(1, chunk // 2)


def _show(value: object) -> str:
    return "absent" if value is None else json.dumps(value, sort_keys=True)


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
                f"{r.process} read {_show(r.value)} from {key!r} (completed at "
                f"{r.complete:.3f}s), a value no write of this key had begun writing by then."
            )
        newer = [
            w
            for w in writes
            if w.ok
            and w.complete < r.invoke
            and freeze(w.value) != freeze(r.value)
            and all(s.complete < w.invoke for s in sources)
        ]
        if not newer:
            continue
        w2 = max(newer, key=lambda w: w.complete)
        if r.value is None and not sources:
            detail = (
                f"{r.process} read {key!r} as absent at {r.invoke:.3f}s, although "
                f"{w2.process}'s write of {_show(w2.value)} had completed at "
                f"{w2.complete:.3f}s, before that read began."
            )
        else:
            detail = (
                f"{r.process} read {_show(r.value)} (begun at {r.invoke:.3f}s), a value "
                f"already overwritten: {w2.process}'s write of {_show(w2.value)} began after "
                f"every write of {_show(r.value)} had completed and itself completed at "
                f"{w2.complete:.3f}s, before the read began: a stale read."
            )
        return f"{head} {detail}"
    reads = [op for op in ops if op.kind == "read" and op.ok]
    for r1 in reads:
        for r2 in reads:
            old = [w for w in writes if _could_source(w, r2)]
            new = [w for w in writes if _could_source(w, r1)]
            if (
                r1.complete < r2.invoke
                and old
                and new
                and all(o.complete < n.invoke for o in old for n in new)
            ):
                return (
                    f"{head} {r2.process} read {_show(r2.value)} (begun at {r2.invoke:.3f}s) "
                    f"after {r1.process}'s read had already returned the newer "
                    f"{_show(r1.value)} (completed at {r1.complete:.3f}s), written after "
                    f"{_show(r2.value)}: a later read went back in time."
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
        relevant = [op for op in ops if op.ok or op.kind == "write"]
        checked += len(relevant)
        if is_linearizable(relevant):
            continue
        shown = minimal_counterexample(relevant) if minimize else relevant
        violations.append(Violation("linearizability", key, tuple(shown), explain(key, shown)))
    return CheckResult(MODEL, checked, tuple(violations))
