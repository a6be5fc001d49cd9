"""Session reads on the vectorised fast path: what ``replicated:session`` serves each read,
when it answers and how, replayed per user from the write arrivals the fast path computed.

A session token is the join of the user's purchases (noted as each commits) and of every
record its reads were served (noted as each answers). A read is served locally when its
region's record already holds the token; otherwise it waits for replication, for the RTT to
the region of the token's newest version (or the store's ``session_wait``), re-checking
whenever a write of the user is applied there; if the wait runs out it asks every other
region that wrote the key, one round trip each, and joins their records with its own
(:class:`~edgekv.lowlevel.ReplicatedStore`). With field granularity and every patch newer than
the user's put (checked), a record is the newest write of each class (the put, the writes of
``customData``, the writes of ``appVersion``), and one holds another exactly when it is
at least as new in each class. Each user's events run in time order; two at one instant
(an order the kernel's insertion order would decide) make :func:`session_reads` return None.
A token holds only writes committed before a read starts, so only users with a read whose
region missed one of those are replayed; every other read is served at once.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .scenario import OUTCOMES, PURCHASE

__all__ = ["SessionReads", "session_reads"]

_LOCAL, _WAITED, _FORWARDED = (OUTCOMES.index(name) for name in ("local", "waited", "forwarded"))
_PURCHASE, _START, _APPLIED, _TIMEOUT, _ANSWER = range(5)

Ranks = tuple[int, int, int]
"""The newest write's version rank per class (put, ``customData``, ``appVersion``; -1: none)."""


class _Tie(Exception):
    """Two events of a user at one instant."""


@dataclass(frozen=True, slots=True)
class SessionReads:
    """The reads of the users replayed (``index``: read indices, ascending): the version
    ranks of the record each was served (``put``, ``cd``, ``av``), when it answered, its
    outcome code (into ``OUTCOMES``) and how long it waited. Every other read was served
    what its region held at its start, locally, at its start plus the service time."""

    index: np.ndarray
    served: dict[str, np.ndarray]
    finish: np.ndarray
    outcome: np.ndarray
    waited: np.ndarray

    def within(self, start: int, stop: int) -> slice:
        """Where the reads ``start <= j < stop`` sit in the arrays. O(log reads)."""
        lo, hi = np.searchsorted(self.index, (start, stop)).tolist()
        return slice(lo, hi)


class _User:
    """One user's writes (commit order) and what a region holds of them at a time."""

    __slots__ = ("writes", "ranks", "arrival")

    def __init__(self, writes: list[int], ranks: list[Ranks], arrival: np.ndarray) -> None:
        self.writes = writes
        self.ranks = ranks
        """Per write, its rank in each class it belongs to (-1 where it does not)."""
        self.arrival = arrival
        """``arrival[k, r]``: when the user's ``k``-th write was first applied at ``r``."""

    def held(self, region: int, at: float) -> Ranks:
        """The record at ``region`` at ``at``; :class:`_Tie` for a write applied then."""
        before, after = self.around(region, at)
        if before != after:
            raise _Tie
        return before

    def around(self, region: int, at: float) -> tuple[Ranks, Ranks]:
        """The record at ``region`` just before and just after what is applied at ``at``."""
        p = c = a = -1
        q = d = b = -1
        for k, (rp, rc, ra) in enumerate(self.ranks):
            when = self.arrival[k, region]
            if when <= at:
                q, d, b = max(q, rp), max(d, rc), max(b, ra)
                if when < at:
                    p, c, a = max(p, rp), max(c, rc), max(a, ra)
        return (p, c, a), (q, d, b)


def _holds(record: Ranks, need: Ranks) -> bool:
    return record[0] >= need[0] and record[1] >= need[1] and record[2] >= need[2]


def _join(x: Ranks, y: Ranks) -> Ranks:
    return max(x[0], y[0]), max(x[1], y[1]), max(x[2], y[2])


class _Replay:
    """The session logic of one run, one user at a time, noting every answer."""

    def __init__(
        self,
        seen: dict[str, np.ndarray],
        r_t: np.ndarray,
        r_reg: np.ndarray,
        w_kind: np.ndarray,
        w_t: np.ndarray,
        w_region: np.ndarray,
        v_rank: np.ndarray,
        by_version: np.ndarray,
        rtt: Sequence[Sequence[float]],
        service: float,
        session_wait: float | None,
    ) -> None:
        self.put, self.cd, self.av = (seen[name] for name in ("put", "cd", "av"))
        self.answered: dict[int, tuple[Ranks, float, int, float]] = {}
        """Per read answered: its record, answer time, outcome code and wait."""
        self.w_kind, self.w_t, self.w_region, self.v_rank = w_kind, w_t, w_region, v_rank
        self.by_version = by_version
        self.r_t, self.r_reg = r_t, r_reg
        self.is_put = w_kind == -1
        self.is_cd = self.is_put | (w_kind == PURCHASE)
        # The user being replayed: its writes' rank, kind, commit time and region, its reads'
        # start and region, by global index (filled per user: O(its writes and reads)).
        self.rank: dict[int, int] = {}
        self.kind: dict[int, int] = {}
        self.t: dict[int, float] = {}
        self.region: dict[int, int] = {}
        self.t_read: dict[int, float] = {}
        self.reg_read: dict[int, int] = {}
        self.rtt = rtt
        self.service = service
        self.session_wait = session_wait
        self.events: list[tuple[float, int, int, int, int]] = []
        self.order = 0
        self.answers: dict[int, Ranks] = {}

    def push(self, at: float, kind: int, owner: int, data: int = 0) -> None:
        self.order += 1
        heapq.heappush(self.events, (at, self.order, kind, owner, data))

    def user(self, w_idx: np.ndarray, r_idx: np.ndarray, arrival: np.ndarray) -> None:
        """Replay one user's purchases and reads (``arrival``: its writes' rows)."""
        writes, reads = w_idx.tolist(), r_idx.tolist()
        rank = self.rank = dict(zip(writes, self.v_rank[w_idx].tolist(), strict=True))
        self.kind = dict(zip(writes, self.w_kind[w_idx].tolist(), strict=True))
        self.t = dict(zip(writes, self.w_t[w_idx].tolist(), strict=True))
        self.region = dict(zip(writes, self.w_region[w_idx].tolist(), strict=True))
        self.t_read = dict(zip(reads, self.r_t[r_idx].tolist(), strict=True))
        self.reg_read = dict(zip(reads, self.r_reg[r_idx].tolist(), strict=True))
        is_put, is_cd = self.is_put[w_idx].tolist(), self.is_cd[w_idx].tolist()
        ranks = [
            (rank[w] if p else -1, rank[w] if c else -1, rank[w] if p or not c else -1)
            for w, p, c in zip(writes, is_put, is_cd, strict=True)
        ]
        user = _User(writes, ranks, arrival)
        for w in writes:
            if self.kind[w] == PURCHASE:
                self.push(self.t[w], _PURCHASE, -1 - w, w)
        for j in reads:
            self.push(self.t_read[j], _START, j)
        need: Ranks = (-1, -1, -1)
        waiting: set[int] = set()
        last_at, last_owner, last_kind = -np.inf, 0, _START
        events, pop = self.events, heapq.heappop
        while events:
            at, _, kind, owner, data = pop(events)
            # Two reads woken by one delivery, or answering at one instant, run in the
            # order they started waiting (a token's joins commute); other pairs are ties.
            shared = kind == last_kind and kind in (_APPLIED, _ANSWER)
            if at == last_at and owner != last_owner and not shared:
                raise _Tie
            last_at, last_owner, last_kind = at, owner, kind
            if kind == _PURCHASE:
                need = (need[0], max(need[1], rank[data]), need[2])
            elif kind == _START:
                self.start(user, owner, at, need, waiting)
            elif kind == _APPLIED:
                if owner in waiting:
                    before, record = user.around(self.reg_read[owner], at)
                    # Re-checked only when the delivery changed the record.
                    if record != before and _holds(record, need):
                        waiting.discard(owner)
                        wait = at - self.t_read[owner]
                        self.answer(owner, at + self.service, record, _WAITED, wait)
            elif kind == _TIMEOUT:
                if owner in waiting:
                    waiting.discard(owner)
                    self.ask(user, owner, at, at - self.t_read[owner])
            else:
                need = _join(need, self.answers.pop(owner))

    def start(self, user: _User, j: int, at: float, need: Ranks, waiting: set[int]) -> None:
        """Read ``j`` starts: served at once, or it waits for replication."""
        record = (int(self.put[j]), int(self.cd[j]), int(self.av[j]))
        if _holds(record, need):
            self.answer(j, at + self.service, record, _LOCAL, 0.0)
            return
        region = self.reg_read[j]
        origin = self.region[int(self.by_version[max(need)])]
        bound = self.rtt[region][origin] if self.session_wait is None else self.session_wait
        if bound <= 0:
            self.ask(user, j, at, 0.0)
            return
        waiting.add(j)
        until = at + bound
        self.push(until, _TIMEOUT, j)
        for k, w in enumerate(user.writes):  # (its own region's commits: no check)
            when = float(user.arrival[k, region])
            if self.region[w] != region and at < when < until:
                self.push(when, _APPLIED, j)

    def ask(self, user: _User, j: int, at: float, wait: float) -> None:
        """Read ``j`` asks every other region that wrote the key, at ``at``."""
        region = self.reg_read[j]
        writers = set()
        for w in user.writes:
            if self.t[w] == at:
                raise _Tie
            if self.t[w] < at:
                writers.add(self.region[w])
        writers.discard(region)
        record = user.held(region, at)
        if not writers:
            self.answer(j, at + self.service, record, _LOCAL, wait)
            return
        done = -np.inf
        for target in sorted(writers):
            there = at + self.rtt[region][target] / 2
            record = _join(record, user.held(target, there))
            done = max(done, there + (self.service + self.rtt[region][target] / 2))
        self.answer(j, done, record, _FORWARDED, wait)

    def answer(self, j: int, at: float, record: Ranks, code: int, wait: float) -> None:
        """Read ``j`` answers at ``at`` with ``record``; the token takes it then."""
        self.answered[j] = record, at, code, wait
        self.answers[j] = record
        self.push(at, _ANSWER, j)


def session_reads(
    *,
    r_user: np.ndarray,
    r_t: np.ndarray,
    r_reg: np.ndarray,
    seen: dict[str, np.ndarray],
    fresh: np.ndarray,
    w_user: np.ndarray,
    w_kind: np.ndarray,
    w_t: np.ndarray,
    w_region: np.ndarray,
    v_rank: np.ndarray,
    by_version: np.ndarray,
    arrival: np.ndarray,
    rtt: Sequence[Sequence[float]],
    service: float,
    session_wait: float | None,
) -> SessionReads | None:
    """Replay the reads at the session level; None on a tie. ``seen``: the ranks each read's
    region held at its start (``-1`` none); ``fresh``: the reads whose region held every
    write of their user committed before they started. A token holds only such writes, so a
    user whose reads are all fresh is served at once everywhere and is not replayed: the
    result holds the replayed users' reads only. O(reads + writes) plus, per user replayed,
    O((its reads + writes) log) and per read that waits or asks, O(its user's writes x
    regions)."""
    replay = _Replay(
        seen, r_t, r_reg, w_kind, w_t, w_region, v_rank, by_version, rtt, service, session_wait
    )
    replayed = np.unique(r_user[~fresh])
    w_by_user = np.lexsort((w_t, w_user))
    r_by_user = np.lexsort((r_t, r_user))
    w_sorted, r_sorted = w_user[w_by_user], r_user[r_by_user]
    bounds = (
        np.searchsorted(w_sorted, replayed, "left").tolist(),
        np.searchsorted(w_sorted, replayed, "right").tolist(),
        np.searchsorted(r_sorted, replayed, "left").tolist(),
        np.searchsorted(r_sorted, replayed, "right").tolist(),
    )
    try:
        for w_lo, w_hi, r_lo, r_hi in zip(*bounds, strict=True):
            writes = w_by_user[w_lo:w_hi]
            replay.user(writes, r_by_user[r_lo:r_hi], arrival[writes])
    except _Tie:
        return None
    index = sorted(replay.answered)
    answers = [replay.answered[j] for j in index]
    records = [record for record, _, _, _ in answers]
    return SessionReads(
        np.array(index, dtype=np.int64),
        {
            name: np.array([record[k] for record in records], dtype=np.int64)
            for k, name in enumerate(("put", "cd", "av"))
        },
        np.array([at for _, at, _, _ in answers], dtype=float),
        np.array([code for _, _, code, _ in answers], dtype=np.int8),
        np.array([wait for _, _, _, wait in answers], dtype=float),
    )
