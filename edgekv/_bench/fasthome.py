"""A vectorised fast path for the ``edge-flags`` scenario's ``single-home`` column: numpy
computes what the discrete-event run of :class:`~edgekv.lowlevel.SingleHome` would, identical
op by op.

Without jitter the store draws nothing: an op from another region reaches its key's home
after ``rtt / 2`` (the config's row of the client's region), every op waits for the ops that
reached the same key before it (first come, first served, ``service_time`` each: a running
maximum per key), a write takes its version from the home's hybrid clock (called in the
order ops reach the home, at the physical time its service begins) and answers after
``write_flush``, and the answer travels ``rtt / 2`` back. A read returns the document the
writes that reached its home before it left; the truth it is scored against is, per field,
the newest version acknowledged by then, as in the event path. Flag evaluation stays the
evaluator's, called where the event path calls it.

An op from another region whose answer is not back within ``request_timeout`` fails as
unavailable at that instant (a write still commits at the home, unacknowledged), as the
event path's guard fails it.

It refuses (:func:`home_refusal` names why; :func:`single_home` returns None and the runner
takes the event path) what it does not reproduce: jitter (delays drawn in event order),
partitions, ``migrate_after`` (objects move), several single-home columns in one run (their
reads queue behind each other), and orders the kernel's insertion order would decide: two
ops of a key, or two writes at one home, reaching it at the same instant (initial puts
excepted: the kernel serves them in user order), a read that starts when a write of its user
is acknowledged or fails or answers when one is issued or fails, two writes of a user
issued at once. (An acknowledgement at the instant a read answers is ordered as the kernel
orders it: both were scheduled when the ops reached the home.) ``hosts``, ``jurisdiction``,
``write_flush``, clock skew and padded documents are modelled.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, cast

import numpy as np

from .._core.config import Config
from .._core.kernel import Kernel
from .._core.singlehome import SingleHome
from .._core.systems import make_store
from .._core.versions import EPOCH_MS, clock_versions, make_version
from ..flags import Evaluator
from .scenario import (
    _DRAIN_LIMIT,
    LOGIN,
    OUTCOMES,
    PURCHASE,
    WRITE,
    Parts,
    SystemRun,
    Workload,
    score_logins,
)

__all__ = ["home_refusal", "single_home"]

SYSTEM = "single-home"
PUT = -1
"""Kind of a user's initial put in the arrays below (the workload's kinds are 0..3)."""
_FORWARDED = OUTCOMES.index("forwarded")
_MS = make_version(1, 0, 0)
_LOGICAL = make_version(0, 1, 0)
"""A version is ``ms * _MS + logical * _LOGICAL + region`` (bit fields)."""
_JOINED = ("put", "cd", "av")
"""Write classes a document is joined from: the put (``user_id``), the writes of
``customData`` (the put and purchases) and of ``appVersion`` (the put and background writes)."""
_MARGIN = 1.0
"""Seconds of slack around the float-encoded (user, time) window searches; the exact tests
run on the pairs inside."""
_CHUNK = 16_384
"""Ops computed at once (a block of whole users: a key's ops are never split): the fast
path's memory beyond its columns and its writes' versions grows with this, not with the run."""


def home_refusal(cfg: Config, work: Workload, levels: Sequence[str]) -> str | None:
    """Why the single-home columns ``levels`` of this run cannot take the fast path (a
    short reason), or None when they may (a time tie can still refuse it)."""
    options = cfg.systems.get(SYSTEM, {})
    checks = (
        (len(levels) != 1, "several single-home columns (their reads queue behind each other)"),
        (not work.ops, "no operations"),
        (cfg.jitter.mean > 0, "jitter (request delays drawn in event order)"),
        (bool(cfg.partitions), "scheduled partitions (lost requests)"),
        (options.get("migrate_after") is not None, "migrate_after (objects move)"),
    )
    return next((reason for bad, reason in checks if bad), None)


def _tied(group: np.ndarray, time: np.ndarray, window: np.ndarray) -> bool:
    """Whether two neighbours (sorted by group, then time) share both, one of them from the
    window (initial puts at one instant are served in user order)."""
    same = (group[1:] == group[:-1]) & (time[1:] == time[:-1])
    return bool(np.any(same & (window[1:] | window[:-1])))


def _fcfs(arrive: np.ndarray, first: np.ndarray, service: float) -> np.ndarray:
    """When each op's service begins at one server per key: ``arrive`` in serving order,
    ``first`` marks each key's first op. Each begin is ``max(arrival, previous begin +
    service)`` evaluated as the event path does (float by float), propagated along busy
    runs: O(ops x the longest run of ops that wait)."""
    begin = arrive.copy()
    todo = np.flatnonzero(~first)
    while len(todo):
        new = np.maximum(arrive[todo], begin[todo - 1] + service)
        moved = todo[new != begin[todo]] + 1
        begin[todo] = new
        moved = moved[moved < len(arrive)]
        todo = moved[~first[moved]]
    return begin


def _run_starts(group: np.ndarray) -> np.ndarray:
    """Per position, the first position of its run of equal ``group`` values."""
    n = len(group)
    starts = np.r_[True, group[1:] != group[:-1]] if n else np.zeros(0, dtype=bool)
    return np.maximum.accumulate(np.where(starts, np.arange(n), 0))


def _running_max(start: np.ndarray, value: np.ndarray, top: int) -> np.ndarray:
    """Running maximum of ``value`` (ints in -1..top-1) within runs (``start``: each
    position's run's first position, from :func:`_run_starts`)."""
    if not len(value):
        return value
    base = start * (top + 1)
    return np.maximum.accumulate(value + 1 + base) - base - 1


def _blocks(per_user: np.ndarray) -> np.ndarray:
    """User boundaries ``0 = b0 < b1 < ... = users`` of blocks of whole users holding about
    ``_CHUNK`` ops each (``per_user``: each user's ops; a user with more is a block alone)."""
    total = np.cumsum(per_user)
    cuts = np.searchsorted(total, np.arange(_CHUNK, int(total[-1]), _CHUNK), side="right")
    return np.unique(np.r_[0, cuts, len(per_user)])


class _Setup:
    """What every block shares: the workload, the model's constants, and the blocks of
    whole users with each user's window ops (in issue order)."""

    def __init__(self, work: Workload, cfg: Config, store: SingleHome, n_users: int) -> None:
        self.work, self.n_users = work, n_users
        self.service, self.flush = cfg.service_time, store.write_flush
        self.timeout = cfg.request_timeout
        homes = np.array([store.home_for(r, r) for r in range(len(cfg.names))], dtype=np.int64)
        self.user_home = homes[work.home]  # every op carries its user's home as location hint
        self.half = np.array([[cfg.rtt[(a, b)] for b in cfg.names] for a in cfg.names]) / 2
        self.skew = np.array([r.clock_skew * 1e3 for r in cfg.regions])
        per_user = np.bincount(work.user, minlength=n_users)
        self.starts = np.r_[0, np.cumsum(per_user)]
        index = np.int32 if n_users + work.ops < 2**31 else np.int64
        # By user, then issue order: one sort of distinct keys (faster than a stable sort).
        by_user = np.multiply(work.user, work.ops, dtype=np.int64) + np.arange(work.ops)
        self.by_user = np.argsort(by_user).astype(index)
        self.bounds = _blocks(per_user + 1)

    def blocks(self) -> Iterator[_Block]:
        """The blocks, in user order, each served (computed anew at every call)."""
        for u0, u1 in zip(self.bounds[:-1].tolist(), self.bounds[1:].tolist(), strict=True):
            yield _Block(self, u0, u1)


class _Block:
    """The ops of users ``u0 .. u1 - 1``, by user: each user's initial put, then its window
    ops in issue order; where and when each reaches its key's home, is served and ends (the
    first pass's work, which the second redoes: cheaper than keeping it for every op)."""

    def __init__(self, setup: _Setup, u0: int, u1: int) -> None:
        work, n = setup.work, u1 - u0
        self.setup, self.u0 = setup, u0
        first_op = setup.starts[u0]
        self.sel = sel = setup.by_user[first_op : setup.starts[u1]]
        """The window ops (their indices in the workload's arrays)."""
        m = n + len(sel)
        self.puts = puts = np.arange(n) + (setup.starts[u0:u1] - first_op)
        """Each user's initial put (its position here)."""
        is_put = np.zeros(m, dtype=bool)
        is_put[puts] = True
        self.window = np.flatnonzero(~is_put)
        """The window ops' positions here (``sel``'s order)."""
        self.user = user = np.repeat(np.arange(u0, u1), np.diff(setup.starts[u0 : u1 + 1]) + 1)
        self.index = self.spread(np.arange(u0, u1), setup.n_users + sel.astype(np.int64))
        """Each op's number in the run (initial puts first): ties in a sort follow it."""
        region = self.spread(work.home[u0:u1], work.region[sel]).astype(np.int64)
        self.t = t = self.spread(np.zeros(n), work.t_edge[sel])
        self.kind = kind = self.spread(np.full(n, PUT), work.kind[sel])
        self.write = write = (kind == PUT) | (kind == PURCHASE) | (kind == WRITE)
        self.at = at = setup.user_home[user]
        self.remote = remote = region != at
        leg = np.where(remote, setup.half[region, at], 0.0)
        self.arrive = arrive = t + leg
        # The order ops reach each key's home: by time; initial puts at one instant in user
        # order, a local one served within its submission, before any event. Ops are by
        # user here, so only users whose ops do not reach the home in issue order (or two
        # at once) are sorted.
        self.by_key = by_key = np.arange(m)
        late = (user[1:] == user[:-1]) & (arrive[1:] <= arrive[:-1])
        if late.any():
            moved = np.zeros(n, dtype=bool)
            moved[user[1:][late] - u0] = True
            ops = np.flatnonzero(moved[user - u0])
            by_key[ops] = ops[np.lexsort((self.index[ops], remote[ops], arrive[ops], user[ops]))]
        self.k_user = k_user = user[by_key]
        first = np.r_[True, k_user[1:] != k_user[:-1]]
        self.begin = begin = np.empty(m)
        begin[by_key] = _fcfs(arrive[by_key], first, setup.service)
        finish = begin + setup.service
        back = (finish + leg) - arrive
        done = arrive + np.where(write, back + setup.flush, back)
        # An op from another region fails as unavailable when its answer is not back within
        # the time-out (at the instant: its guard, scheduled first, runs first); it is served
        # (a write commits) all the same. ``end``: when the runner hears of it.
        self.expire = expire = t + setup.timeout
        self.failed = failed = remote & (done >= expire)
        self.end = np.where(failed, expire, done)

    def spread(self, put: np.ndarray, window: np.ndarray) -> np.ndarray:
        """One array of the block's ops from the puts' values and the window ops'."""
        out = np.empty(len(self.puts) + len(self.window), dtype=np.result_type(put, window))
        out[self.puts] = put
        out[self.window] = window
        return out

    def slot(self, ops: np.ndarray) -> np.ndarray:
        """The places of window ops (positions here) in ``sel``."""
        return ops - (self.user[ops] - self.u0) - 1

    def tied(self) -> bool:
        """Whether two ops of a key reach it at one instant (the kernel would decide)."""
        by_key = self.by_key
        return _tied(self.k_user, self.arrive[by_key], self.kind[by_key] != PUT)


class _Limits(NamedTuple):
    """Run-wide figures the second pass needs from the first."""

    reach: float
    """Seconds beyond the longest op: the (user, time) windows' half width."""
    span: float
    """Seconds per user in the float-encoded (user, time) keys."""
    stop: float
    """When the event path's runner stops the kernel."""
    pairs: int
    """How many more (read, write of its user) pairs may be tested (beyond: the event path)."""


def _put(out: np.ndarray, where: np.ndarray, values: np.ndarray) -> None:
    """``out[where] = values``, the nonzero entries only (``out`` is zeros: the pages of a
    mostly-zero array stay unwritten)."""
    set_ = values != 0
    out[where[set_]] = values[set_]


def single_home(
    work: Workload,
    cfg: Config,
    seed: int,
    keys: list[str],
    evaluator: Evaluator,
    label: str,
) -> SystemRun | None:
    """The ``single-home`` column computed in numpy, identical to the event path's, or None
    when :func:`home_refusal` or a time tie rules the fast path out. O(ops log ops), a
    numpy step per op of the longest run of ops queued behind each other at one key, the
    pairs of a read and a write of its user issued within the longest latency of each
    other, and logins' flags evaluated as columns (once per distinct document a target
    reads, per block). Two passes over blocks of whole users (``_CHUNK`` ops): the first
    serves every op and gives each write its version from its home's clock (run-wide), the
    second scores the block's reads into the preallocated columns; beyond the columns, memory is
    O(writes) plus O(block)."""
    if home_refusal(cfg, work, ["strong"]) is not None:
        return None
    store = cast(SingleHome, make_store(SYSTEM, cfg, seed, Kernel()))  # options, as built
    store.close()
    n_users = len(keys)
    setup = _Setup(work, cfg, store, n_users)
    served = _serve(setup, len(cfg.names))
    if served is None:
        return None
    version, limits = served
    out = SystemRun.blank(label, work.ops)
    pairs = lost = checked = 0
    first_write = 0
    for block in setup.blocks():
        n_w = int(np.count_nonzero(block.write))
        scored = _score(
            block,
            version[first_write : first_write + n_w],
            limits._replace(pairs=limits.pairs - pairs),
            keys,
            evaluator,
            out,
        )
        if scored is None:
            return None
        pairs, lost, checked = pairs + scored[0], lost + scored[1], checked + scored[2]
        first_write += n_w
    out.lost_updates, out.writes_checked = lost, checked
    return out


def _serve(setup: _Setup, n_reg: int) -> tuple[np.ndarray, _Limits] | None:
    """The first pass: every write's version (in block order: each block's writes as its
    ops list them) and the run-wide limits, or None on a tie or an op beyond the drain."""
    work, n_users = setup.work, setup.n_users
    n_w = n_users + int(np.count_nonzero((work.kind == PURCHASE) | (work.kind == WRITE)))
    w_at = np.empty(n_w, dtype=np.int32)
    w_arrive = np.empty(n_w)
    w_remote = np.empty(n_w, dtype=bool)
    w_index = np.empty(n_w, dtype=setup.by_user.dtype)
    pt = np.empty(n_w, dtype=np.int64)
    put_end = window_end = longest = -np.inf
    first = 0
    for block in setup.blocks():
        if block.tied():
            return None
        writes = np.flatnonzero(block.write)
        place = slice(first, first + len(writes))
        first += len(writes)
        at = block.at[writes]
        w_at[place], w_arrive[place] = at, block.arrive[writes]
        w_remote[place], w_index[place] = block.remote[writes], block.index[writes]
        pt[place] = (EPOCH_MS + block.begin[writes] * 1e3 + setup.skew[at]).astype(np.int64)
        end = block.end
        put_end = max(put_end, float(end[block.puts].max()))
        window_end = max(window_end, float(end[block.window].max(initial=-np.inf)))
        longest = max(longest, float((end - block.t).max()))
    if max(put_end, window_end) > float(work.t_edge[-1]) + _DRAIN_LIMIT - 1.0:
        return None  # the event path's drain limit decides
    # Versions: each home's clock, called in the order writes reach it. Two writes at a
    # home (its clock's order) at one instant: the kernel decides.
    w_home = np.lexsort((w_index, w_remote, w_arrive, w_at))
    if _tied(w_at[w_home], w_arrive[w_home], w_index[w_home] >= n_users):
        return None
    del w_remote, w_index
    bounds = np.searchsorted(w_at[w_home], np.arange(n_reg + 1))
    del w_at, w_arrive
    version = np.empty(n_w, dtype=np.int64)
    for h in range(n_reg):
        chunk = w_home[bounds[h] : bounds[h + 1]]
        version[chunk] = clock_versions(pt[chunk], h)
    reach = longest + _MARGIN
    limits = _Limits(
        reach=reach,
        span=max(0.0, float(work.t_edge.max())) + 2 * reach + 1.0,
        stop=_stop_time(float(work.t_edge[-1]), window_end, put_end),
        pairs=16 * (n_users + work.ops) + 1_000_000,
    )
    return version, limits


def _score(
    block: _Block,
    w_version: np.ndarray,
    limits: _Limits,
    keys: list[str],
    evaluator: Evaluator,
    out: SystemRun,
) -> tuple[int, int, int] | None:
    """The second pass on one block: its ops' figures into ``out`` (``w_version``: its
    writes' versions), and ``(pairs, lost, checked)``; None on a tie, or when the block's
    (read, write) pairs exceed ``limits.pairs``."""
    kind, user, t, end, by_key = block.kind, block.user, block.t, block.end, block.by_key
    failed = block.failed
    ok = ~failed
    m, window = len(t), block.window
    writes = np.flatnonzero(block.write)
    version = np.zeros(m, dtype=np.int64)
    version[writes] = w_version

    # What each op finds at the home: per class, the last write to reach the key before it.
    index = np.arange(m)
    rank = np.empty(m, dtype=np.int64)
    rank[by_key] = index  # a write's place in its key's serving (and version) order
    put = kind == PUT
    classes = {"put": put, "cd": put | (kind == PURCHASE), "av": put | (kind == WRITE)}
    k_first = _run_starts(block.k_user)
    reads = np.flatnonzero(~block.write)
    r_rank = rank[reads]
    seen = {
        c: _running_max(k_first, np.where(mask[by_key], index, -1), m)[r_rank]
        for c, mask in classes.items()
    }
    del k_first
    last_write = np.maximum(seen["cd"], seen["av"])
    r_failed = failed[reads]
    r_version = np.where(last_write >= 0, version[by_key[np.maximum(last_write, 0)]], 0)
    r_version[r_failed] = 0
    del last_write

    # The truth at a read's start and answer: the user's writes acknowledged by then. Writes
    # by user, then issue time; each read's window of writes is tested one by one.
    order = writes  # (by user here, each user's put first)
    o_user, o_t = user[order], t[order]
    if np.any((o_user[1:] == o_user[:-1]) & (o_t[1:] == o_t[:-1])):
        return None  # two writes of a user at once: the kernel's order would decide
    r_t, r_done, r_user = t[reads], end[reads], user[reads]
    reach, span = limits.reach, limits.span
    enc = o_user * span + o_t + reach
    r_enc = r_user * span + r_t
    # (The reads are by user and time here: sorted needles keep the searches in cache.)
    lo = np.searchsorted(enc, r_enc, side="left")
    hi = np.searchsorted(enc, r_enc + 2 * reach, side="right")
    seg_start = np.searchsorted(o_user, r_user, side="left")
    del enc, r_enc
    has_prefix = lo > seg_start
    prev = np.maximum(lo - 1, 0)
    n_r = len(reads)
    count = hi - lo
    n_pairs = int(count.sum())
    if n_pairs > limits.pairs:
        return None  # queues so long that the windows hold most of a user's ops: the event path
    pair_read = np.repeat(np.arange(n_r), count)
    pair_pos = np.repeat(lo - np.cumsum(np.r_[0, count[:-1]]), count) + np.arange(n_pairs)
    del lo, hi, seg_start, count
    pair_w = order[pair_pos]
    del pair_pos
    p_t, p_end, p_ok = t[pair_w], end[pair_w], ok[pair_w]
    q_start, q_done = r_t[pair_read], r_done[pair_read]
    if np.any((p_end == q_start) | (p_t == q_done) | (~p_ok & (p_end == q_done))):
        return None  # the kernel's insertion order would decide
    acked_start = p_ok & (p_end < q_start)
    # An acknowledgement at the instant the read answers: both were scheduled when the op
    # reached the home, so the kernel runs the one that reached it first (rank order).
    tied = (p_end == q_done) & (rank[pair_w] < r_rank[pair_read])
    acked_now = p_ok & ((p_end < q_done) | tied)
    unacked_now = (p_t < q_done) & np.where(p_ok, ~acked_now, p_end > q_done)
    del p_t, p_end, p_ok, q_start, q_done, tied
    o_first = _run_starts(o_user)

    def newest(mask: np.ndarray, pair_ok: np.ndarray) -> np.ndarray:
        """Per read, the serving rank of the newest write ``mask`` marks (-1: none) among
        the writes surely acknowledged before the window and the window's passing ``pair_ok``."""
        prefix = _running_max(o_first, np.where(mask[order], rank[order], -1), m)
        best = np.where(has_prefix, prefix[prev], -1)
        taken = pair_ok & mask[pair_w]
        np.maximum.at(best, pair_read[taken], rank[pair_w[taken]])
        return best

    truth_start = {c: newest(mask & ok, acked_start) for c, mask in classes.items()}
    truth_now = {c: newest(mask & ok, acked_now) for c, mask in classes.items()}
    own_rank = newest((kind == PURCHASE) & ok, acked_start)
    del acked_start, acked_now
    own = by_key[np.maximum(own_rank, 0)]
    required = np.where((own_rank >= 0) & ~r_failed, version[own], 0)
    since_own = np.where(own_rank >= 0, r_t - t[own], np.inf)

    # Read-your-writes, by content: the served stars reach the own purchase's total.
    # An op's value: the put's stars, a purchase's new total, a background write's build.
    work, sel = block.setup.work, block.sel
    values = block.spread(work.stars0[block.u0 : block.u0 + len(block.puts)], work.value[sel])
    values = values.astype(np.int64, copy=False)
    served_cd = by_key[np.maximum(seen["cd"], 0)]
    ryw = (required > 0) & ~((seen["cd"] >= 0) & (values[served_cd] >= values[own]))

    # The user's window writes issued but not acknowledged when the read answers, per kind
    # the last (the runner tracks no initial put as in flight).
    pending: dict[int, np.ndarray] = {}
    for k in (PURCHASE, WRITE):
        last = np.full(n_r, -1, dtype=np.int64)
        flying = unacked_now & (kind[pair_w] == k)
        np.maximum.at(last, pair_read[flying], pair_w[flying])
        pending[k] = last

    builds = np.where(kind == PUT, -1, values)  # appVersion (-1: the put's 5.0.0)
    docs = _Docs(keys, values, builds, by_key)
    platinum, wrong = docs.logins(
        evaluator,
        r_user,
        (kind[reads] == LOGIN) & ~r_failed,
        r_done,
        seen,
        truth_start,
        truth_now,
        pending,
    )
    slot = block.slot(reads)
    at = sel[slot]  # the reads' places in the columns
    out.latency[sel] = (work.d_in[sel] + (end[window] - t[window])) + work.d_out[sel]
    op_version = np.where(ok[window], version[window], 0)
    op_version[slot] = r_version
    out.version[sel] = op_version
    _put(out.ryw, at, ryw)
    _put(out.required, at, required)
    _put(out.wrong, at, wrong)
    _put(out.platinum, at, platinum)
    _put(out.outcome, at, np.where(block.remote[reads] & ~r_failed, _FORWARDED, 0))
    # A failed read waited only if it reached the home before its guard fired.
    r_arrive = block.arrive[reads]
    r_expire = block.expire[reads]
    _put(
        out.waited,
        at,
        np.where(r_failed & (r_arrive >= r_expire), 0.0, block.begin[reads] - r_arrive),
    )
    _put(out.failed, sel, failed[window])
    out.since_own[at] = since_own
    # A failed write still on its way when the runner stops the kernel never commits.
    kept = block.arrive <= limits.stop
    lost, checked = _lost_updates(
        user - block.u0, rank, by_key, classes, ok, kept, builds, values, block.puts
    )
    return n_pairs, lost, checked


def _stop_time(last_arrival: float, window_end: float, put_end: float) -> float:
    """When the event path's runner stops the kernel: at the last arrival, then in 0.1 s
    steps until every window op has ended, then in 0.5 s steps until no initial put is in
    flight (summed as the runner sums them)."""
    t = last_arrival
    while window_end > t:
        t += 0.1
    while put_end > t:
        t += 0.5
    return t


def _lost_updates(
    user: np.ndarray,
    rank: np.ndarray,
    by_key: np.ndarray,
    classes: dict[str, np.ndarray],
    ok: np.ndarray,
    kept: np.ndarray,
    builds: np.ndarray,
    stars: np.ndarray,
    put: np.ndarray,
) -> tuple[int, int]:
    """``(lost, checked)`` as :func:`edgekv._bench.scenario._lost_updates` counts them at the
    end: per field, the acknowledged (``ok``) write issued last (ops are in issue order)
    against the one the home served last among those it received (``kept``), by value
    (``builds`` stands for appVersion and the padding written with it); an acknowledged put
    (``put``: each user's, ``user`` counts from 0) is checked for ``user_id`` too, which
    nothing else writes."""
    n_users = len(put)
    put_ok = ok[put]
    lost = np.zeros(n_users, dtype=bool)
    apart_total = lost_total = 0
    for name, value in (("av", builds), ("cd", stars)):
        ops = np.flatnonzero(classes[name])
        acked = ops[ok[ops]]
        issued = np.full(n_users, -1, dtype=np.int64)
        np.maximum.at(issued, user[acked], acked)
        held = ops[kept[ops]]
        served = np.full(n_users, -1, dtype=np.int64)
        np.maximum.at(served, user[held], rank[held])
        gone = (served < 0) | (value[by_key[served]] != value[issued])
        apart = (issued >= 0) & (issued != put)
        lost |= (issued == put) & gone
        apart_total += int(apart.sum())
        lost_total += int((apart & gone).sum())
    return lost_total + int(lost.sum()), int(put_ok.sum()) + apart_total


class _Docs:
    """The documents a set of writes makes, as the event path's stores and truth hold them:
    from the newest put, build write and stars write (serving ranks, -1: none)."""

    def __init__(
        self, keys: list[str], values: np.ndarray, builds: np.ndarray, by_key: np.ndarray
    ) -> None:
        self.keys = keys
        self.values = values
        self.builds = builds
        self.by_key = by_key

    def parts(self, ranks: dict[str, np.ndarray], which: np.ndarray) -> Parts:
        """For the reads ``which``: the put's presence, the build (-2: none, -1: the put's)
        and the stars (-1: none) of the documents the classes' ``ranks`` make."""
        put, cd, av = (ranks[c][which] for c in _JOINED)
        build = np.where(av >= 0, self.builds[self.by_key[np.maximum(av, 0)]], -2)
        stars = np.where(cd >= 0, self.values[self.by_key[np.maximum(cd, 0)]], -1)
        return put >= 0, build, stars

    def logins(
        self,
        evaluator: Evaluator,
        r_user: np.ndarray,
        is_login: np.ndarray,
        r_done: np.ndarray,
        seen: dict[str, np.ndarray],
        truth_start: dict[str, np.ndarray],
        truth_now: dict[str, np.ndarray],
        pending: dict[int, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per read, ``(platinum, wrong)``: each login's flags evaluated on the served
        document at its answer, and scored as the event path's recorder scores them."""
        logins = np.flatnonzero(is_login)
        platinum_of = np.zeros(len(r_done), dtype=bool)
        wrong_of = np.zeros(len(r_done), dtype=bool)
        platinum_of[logins], wrong_of[logins] = score_logins(
            evaluator,
            self.keys,
            r_user[logins],
            r_done[logins],
            self.parts(seen, logins),
            (self.parts(truth_start, logins), self.parts(truth_now, logins)),
            (pending[PURCHASE][logins], pending[WRITE][logins]),
            self.values,
        )
        return platinum_of, wrong_of
