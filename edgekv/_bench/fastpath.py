"""A vectorised fast path for the ``edge-flags`` scenario's ``replicated`` columns (eventual
here, session reads in :mod:`~edgekv._bench.fastsession`; single-home in
:mod:`~edgekv._bench.fasthome`): numpy computes what the discrete-event run would, identical
op by op.

It applies only when the event path is a pure function of the lag draws: field granularity,
no loss, duplication, jitter, partition, clock skew, batching or tombstone grace, and
documents without padding. Then a write's version is its region's hybrid clock over local
commits alone (checked: no remote version ever reaches a region within the millisecond it is
applied), its first application at each region is the commit time plus the link's lag draw,
or earlier when an anti-entropy repair beats it (:func:`~edgekv._bench.fastrepl.replicate`
replays digests and repairs on the :class:`~edgekv.lowlevel.Network`'s per-link streams, in
the event path's order), and a read returns the join of the writes applied before it. From
the same arrays come the truth at a read's start and answer (with the user's writes not yet
acknowledged, for wrong logins), read-your-writes by content, the lost updates once every
write has arrived everywhere, and the realised lag per link in delivery order. A read that
starts or ends exactly when a write of its user commits, arrives or is acknowledged, or two
writes of a user at once (orders the kernel's insertion order would decide), make it refuse:
:func:`replicated_columns` leaves the column out and the caller runs the event path. Flag evaluation
stays the evaluator's, called where the event path calls it.

Reads are computed ``_CHUNK`` at a time, in two passes (what each read's region held at its
start; then every column's figures, written into its :meth:`SystemRun.blank` arrays), so
beyond the results and a few arrays per write the memory does not grow with the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal, cast

import numpy as np

from .._core.config import Config
from .._core.consistency import EVENTUAL, SESSION, ReplicatedStore
from .._core.crdt import crdt_for
from .._core.kernel import Kernel
from .._core.realised import lag_report
from .._core.replication import ShippedOp, encode_ops
from .._core.systems import make_store
from .._core.versions import EPOCH_MS, clock_versions
from ..flags import Evaluator
from .fasthome import SYSTEM as SINGLE_HOME
from .fasthome import home_refusal, single_home
from .fastrepl import replicate
from .fastsession import SessionReads, session_reads
from .scenario import (
    _DRAIN_LIMIT,
    LOGIN,
    OUTCOMES,
    PURCHASE,
    WRITE,
    Parts,
    SystemRun,
    Workload,
    _initial_doc,
    score_logins,
)

__all__ = ["decline", "refusal", "replicated_columns", "vectorised"]

_JOINED = ("put", "cd", "av")
"""Write classes a record is joined from: the put (floor and every field), the writes of
``customData`` (the put and purchases) and of ``appVersion`` (the put and background writes)."""
_POWERS = 10 ** np.arange(19, dtype=np.int64)
"""1, 10, 100, ...: a non-negative int has as many decimal digits as powers it reaches."""
_MARGIN = 1.0
"""Seconds of slack around the float-encoded (user, time) window searches; the exact tests
run on the pairs inside."""


def refusal(cfg: Config) -> str | None:
    """Why the config rules the fast path out (a short reason), or None when it may apply."""
    checks = (
        (cfg.granularity != "field", "item granularity (patches read-modify-write)"),
        (bool(cfg.loss or cfg.duplicate), "loss or duplication"),
        (bool(cfg.partitions), "scheduled partitions"),
        (cfg.jitter.mean > 0, "jitter"),
        (any(r.clock_skew for r in cfg.regions), "clock skew"),
        (cfg.batch_window > 0, "batching window"),
        (cfg.tombstone_grace is not None, "tombstone grace"),
    )
    return next((reason for bad, reason in checks if bad), None)


def _versions(region: np.ndarray, t: np.ndarray, n_regions: int) -> np.ndarray:
    """Each write's version from its region's hybrid clock over local commits in order (the
    writes are in commit order). Vectorised; a region that issues more than 16,384 versions
    within one millisecond runs the clock's own rule in Python."""
    pt = (EPOCH_MS + t * 1000.0).astype(np.int64)
    out = np.empty(len(t), dtype=np.int64)
    for r in range(n_regions):
        idx = np.flatnonzero(region == r)
        out[idx] = clock_versions(pt[idx], r)
    return out


def _segmented_prefix_max(group: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Running maximum of ``value`` (ints >= -1) within runs of equal ``group`` (ascending)."""
    if not len(value):
        return value
    span = int(value.max()) + 2
    shifted = np.maximum.accumulate(group * span + value + 1)
    return shifted - group * span - 1


def _uint_len(x: np.ndarray) -> np.ndarray:
    """Bytes msgpack packs each non-negative int into (fixint, uint 8/16/32/64)."""
    return np.select([x < 128, x < 256, x < 65536, x < 2**32], [1, 2, 3, 5], 9)


def _str_len(n: np.ndarray) -> np.ndarray:
    """Bytes msgpack packs a UTF-8 string of ``n`` bytes into (fixstr, str 8/16/32)."""
    return n + np.select([n < 32, n < 256, n < 65536], [1, 2, 3], 5)


def op_entries(
    origin: np.ndarray,
    seq: np.ndarray,
    key_len: np.ndarray,
    purchase: np.ndarray,
    value: np.ndarray,
    version: np.ndarray,
) -> np.ndarray:
    """Per write, the length of its entry ``[origin, seq, key, [patch, version]]`` in a batch
    of :func:`~edgekv.lowlevel.encode_ops`, the patch ``{"customData": {"stars": value}}``
    for a purchase and ``{"appVersion": "5.1.<value>"}`` otherwise: msgpack's sizes in
    numpy (``key_len``: the keys' UTF-8 lengths)."""
    digits = np.searchsorted(_POWERS, value, side="right").clip(1)  # (values are >= 0)
    patch = 1 + _str_len(np.full(len(value), 10))  # fixmap(1), "customData" / "appVersion"
    patch += np.where(purchase, 1 + _str_len(np.full(len(value), 5)) + _uint_len(value), 0)
    patch += np.where(purchase, 0, _str_len(4 + digits))
    # fixarray(4) op, origin, seq, key; fixarray(2) record: the patch and its version.
    out: np.ndarray = 1 + _uint_len(origin) + _uint_len(seq) + _str_len(key_len) + 1
    return out + patch + _uint_len(version)


def _alone(entries: np.ndarray, origin: np.ndarray) -> int:
    """Total length of these :func:`op_entries` each sent in a batch of its own by region
    ``origin`` (fixarray(3), kind 0, the sender, fixarray(1), the entry)."""
    return int((entries + 3 + _uint_len(origin)).sum())


_CHUNK = 1 << 16
"""Reads computed at once: the per-read and per-pair arrays stay this short whatever the
run's size, so the fast path's memory beyond its results grows with writes, not reads."""


@dataclass(slots=True)
class _Pairs:
    """A block of reads (``reads[s]``, ops ``idx``) and the writes of each read's user in
    its time window, one row per (read, write) pair: ``read`` (the read's index in the
    block), ``pos`` (the write's place in user order) and ``w``, its commit time ``t`` and
    acknowledgement ``ack``; whether it committed or was acknowledged before the read
    started."""

    s: slice
    idx: np.ndarray
    r_t: np.ndarray
    r_user: np.ndarray
    r_reg: np.ndarray
    has_prefix: np.ndarray
    """The read's user has writes before the window (always done before the read)."""
    prev: np.ndarray
    """The last of them in user order (when ``has_prefix``)."""
    read: np.ndarray
    pos: np.ndarray
    w: np.ndarray
    t: np.ndarray
    ack: np.ndarray
    committed: np.ndarray
    acked_start: np.ndarray

    @property
    def n(self) -> int:
        """Reads in the block."""
        return len(self.idx)


@dataclass(slots=True)
class _Column:
    """One column being filled block by block: its run and, at the session level, the
    replay's per-read answers (None: eventual, answered at once)."""

    run: SystemRun
    session: SessionReads | None


_Samples = Sequence[Sequence[Sequence[float]]]
Side = Literal["left", "right"]


def _search(hay: np.ndarray, needles: np.ndarray, by: np.ndarray, side: Side) -> np.ndarray:
    """``np.searchsorted(hay, needles, side)``, searched in the order ``by`` (one that sorts
    the needles, which keeps the search in cache)."""
    out = np.empty(len(needles), dtype=np.int64)
    out[by] = np.searchsorted(hay, needles[by], side=side)
    return out


def _last_per_group(group: np.ndarray, mask: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the last position (in ``group``'s order) that ``mask`` marks (-1: none)."""
    out = np.full(n_groups, -1, dtype=np.int64)
    pos = np.flatnonzero(mask)
    g = group[pos]
    last = np.r_[g[1:] != g[:-1], True] if len(g) else np.zeros(0, dtype=bool)
    out[g[last]] = pos[last]
    return out


def _lost_updates(
    o_user: np.ndarray,
    o_rank: np.ndarray,
    o_version: np.ndarray,
    classes: Mapping[str, np.ndarray],
    keys_av: np.ndarray,
    keys_cd: np.ndarray,
    n_users: int,
) -> tuple[int, int]:
    """``(lost, checked)`` as :func:`edgekv._bench.scenario._lost_updates` counts them once every
    write reached every region (all regions then hold the same document: per field the
    newest version, none older than the put). The writes are sorted by user, then start
    time, each user's put first; ``keys_*`` identify a write's value of a field."""
    put = np.searchsorted(o_user, np.arange(n_users), side="left")
    last_av = _last_per_group(o_user, classes["av"], n_users)
    last_cd = _last_per_group(o_user, classes["cd"], n_users)
    final_av = _argmax_per_group(o_user, o_rank, classes["av"], n_users)
    final_cd = _argmax_per_group(o_user, o_rank, classes["cd"], n_users)
    floor = o_version[put]
    lost_av = (o_version[final_av] < floor) | (keys_av[final_av] != keys_av[last_av])
    lost_cd = (o_version[final_cd] < floor) | (keys_cd[final_cd] != keys_cd[last_cd])
    av_apart, cd_apart = last_av != put, last_cd != put
    lost_put = (~av_apart & lost_av) | (~cd_apart & lost_cd)
    lost = lost_put.sum() + (av_apart & lost_av).sum() + (cd_apart & lost_cd).sum()
    checked = n_users + av_apart.sum() + cd_apart.sum()
    return int(lost), int(checked)


def _argmax_per_group(
    group: np.ndarray, rank: np.ndarray, mask: np.ndarray, n_groups: int
) -> np.ndarray:
    """Per group, the position of the highest ``rank`` among those ``mask`` marks."""
    pos = np.flatnonzero(mask)
    best = np.full(n_groups, -1, dtype=np.int64)
    np.maximum.at(best, group[pos], rank[pos])
    where = np.empty(len(rank), dtype=np.int64)
    where[rank] = np.arange(len(rank))
    return where[best]


def decline(cfg: Config, work: Workload, system: str, levels: list[str]) -> str | None:
    """Why a column set of ``system`` cannot take the fast path (a short reason), or None."""
    if system == SINGLE_HOME:
        return home_refusal(cfg, work, levels)
    if system != "replicated" or any(level not in (EVENTUAL, SESSION) for level in levels):
        return "only replicated:eventual, replicated:session and single-home are vectorised"
    if work.padding_bytes:
        return "padded documents"
    if not work.ops:
        return "no operations"  # the event path's byte count then includes the initial puts
    return refusal(cfg)


def replicated_columns(
    work: Workload,
    cfg: Config,
    seed: int,
    keys: list[str],
    evaluator: Evaluator,
    columns: Sequence[tuple[str, str]],
) -> dict[str, SystemRun]:
    """The ``replicated`` columns (``(label, level)`` pairs, ``eventual`` or ``session``)
    computed in numpy, identical to the event path's, by label; a column the config or a
    time tie rules out is left out. Replication is computed once for all of them.
    O(ops log ops), logins' flags evaluated as columns (once per distinct document a
    target reads, per block); a session read that waits or asks other regions costs O(its user's
    writes x regions) in Python (:mod:`~edgekv._bench.fastsession`). Memory beyond the
    results: O(writes x regions) and O(``_CHUNK``) per block of reads."""
    columns = [
        (label, level) for label, level in columns if not decline(cfg, work, "replicated", [level])
    ]
    if not columns:
        return {}
    store = make_store("replicated", cfg, seed, Kernel())  # the options' errors, as built
    session_wait = cast(ReplicatedStore, store).session_wait
    store.close()
    n_reg = len(cfg.names)
    n_users = len(keys)
    service = cfg.service_time
    kind, user, region, t_edge = work.kind, work.user, work.region, work.t_edge
    is_write = (kind == PURCHASE) | (kind == WRITE)
    w_ops = np.flatnonzero(is_write)
    # Writes in commit order: every user's initial put at home at 0, then the window's.
    w_user = np.r_[np.arange(n_users), user[w_ops]]
    w_region = np.r_[work.home, region[w_ops]].astype(np.int64)
    w_t = np.r_[np.zeros(n_users), t_edge[w_ops]]
    w_kind = np.r_[np.full(n_users, -1), kind[w_ops]]  # -1: the put
    n_w = len(w_t)
    if np.any(np.diff(w_t) < 0):
        return {}
    version = _versions(w_region, w_t, n_reg)
    seq = np.empty(n_w, dtype=np.int64)
    for s in range(n_reg):
        idx = np.flatnonzero(w_region == s)
        seq[idx] = np.arange(1, len(idx) + 1)
    values = np.r_[work.stars0, work.value[w_ops]].astype(np.int64)
    crdt = crdt_for(cfg.granularity)

    window = slice(n_users, n_w)
    # UTF-8 lengths of the keys (their lengths when all are ASCII, as user ids usually are)
    utf8 = map(len, keys) if "".join(keys).isascii() else (len(k.encode()) for k in keys)
    key_bytes = np.fromiter(utf8, dtype=np.int64, count=len(keys))
    w_args = (w_region, seq, key_bytes[w_user], w_kind == PURCHASE, values, version)
    entries = op_entries(*(a[window] for a in w_args)).astype(np.int32)  # (bytes: small)

    @cache
    def put_size(w: int) -> int:
        """Bytes of initial put ``w`` in a batch, as replication ships it."""
        u, v, value = int(w_user[w]), int(version[w]), int(values[w])
        delta = crdt.put(None, _initial_doc(keys[u], value), v)
        op = ShippedOp(int(w_region[w]), int(seq[w]), keys[u], crdt.to_wire(delta))
        return len(encode_ops(0, [op])) - len(encode_ops(0, []))

    def op_size(w: int) -> int:
        """Bytes of write ``w`` in a batch (only repairs ask)."""
        return int(entries[w - n_users]) if w >= n_users else put_size(w)

    counted = (float(t_edge[0]), float(t_edge[-1]))  # as the event path counts bytes
    replicated = replicate(cfg, seed, w_region, w_t, version, op_size, counted)
    if replicated is None:
        return {}
    put_size.cache_clear()
    arrival, lags, applied = replicated.arrival, replicated.lags, replicated.applied
    extra_bytes, extra_messages = replicated.extra_bytes, replicated.extra_messages
    del replicated
    # The hybrid clock ignores remote versions only if each is older than the millisecond
    # of its delivery (then every later local commit there already exceeds it).
    if any(
        np.any(((version >> 22) >= (EPOCH_MS + arrival[:, r] * 1000.0).astype(np.int64)) & mine)
        for r in range(n_reg)
        for mine in (w_region != r,)  # (its origin commits it)
    ):
        return {}
    sent = _alone(entries, w_region[window])
    if n_w and float(arrival.max()) > float(t_edge[-1]) + _DRAIN_LIMIT / 2:
        return {}  # the runner may stop replicating first (it drains for _DRAIN_LIMIT)
    ack = w_t + service
    reads = np.flatnonzero(~is_write)
    n_r, n_ops = len(reads), work.ops
    r_t_max = float(np.max(t_edge, where=~is_write, initial=0.0))
    max_delay = float((arrival - w_t[:, None]).max()) if n_w else 0.0
    rtt = [[cfg.rtt[(a, b)] for b in cfg.names] for a in cfg.names]  # (the store's model)
    # The longest a read can take: a session read's wait, then one round trip and service.
    longest = 2 * max(map(max, rtt)) + (session_wait or 0.0) + 2 * service
    reach = max(max_delay, longest) + _MARGIN

    # Writes per user in commit order, and each read's window of writes to test one by one.
    order = np.argsort(w_user, kind="stable")
    o_user = w_user[order]
    user_start = np.searchsorted(o_user, np.arange(n_users))  # (each user's first write)
    o_t = w_t[order]
    if np.any((o_user[1:] == o_user[:-1]) & (o_t[1:] == o_t[:-1])):
        return {}  # two writes of a user at once: the kernel's order would decide
    span = max(float(w_t.max(initial=0.0)), r_t_max) + 2 * reach + 1.0
    enc = o_user * span + o_t + reach
    v_rank = np.empty(n_w, dtype=np.int64)
    by_version = np.argsort(version)
    v_rank[by_version] = np.arange(n_w)
    o_rank = v_rank[order]
    o_kind = w_kind[order]
    classes = {
        "put": o_kind == -1,
        "cd": (o_kind == -1) | (o_kind == PURCHASE),
        "av": (o_kind == -1) | (o_kind == WRITE),
        "own": o_kind == PURCHASE,
    }
    keys_av = np.where(w_kind == -1, -1, values)[order]
    lost = _lost_updates(o_user, o_rank, version[order], classes, keys_av, values[order], n_users)
    del keys_av
    rank_type = np.int32 if n_w < 2**31 else np.int64  # (a rank per read and class is kept)
    prefix = {
        name: _segmented_prefix_max(o_user, np.where(cls, o_rank, -1)).astype(rank_type)
        for name, cls in classes.items()
    }

    def pairs(s: slice) -> _Pairs:
        """The reads ``reads[s]`` and their window's writes."""
        idx = reads[s]
        r_t, r_user = t_edge[idx], user[idx]
        r_reg = region[idx].astype(np.int64)
        r_enc = r_user * span + r_t
        by_user = np.argsort(r_enc)  # (sorted needles: the searches below run 3x faster)
        lo = _search(enc, r_enc, by_user, "left")
        hi = _search(enc, r_enc + 2 * reach, by_user, "right")
        seg_start = user_start[r_user]
        count = hi - lo
        read = np.repeat(np.arange(len(idx)), count)
        pos = np.repeat(lo - np.cumsum(np.r_[0, count[:-1]]), count) + np.arange(count.sum())
        w = order[pos]
        t, start, acked = w_t[w], r_t[read], ack[w]
        return _Pairs(
            s, idx, r_t, r_user, r_reg, lo > seg_start, np.maximum(lo - 1, 0), read, pos, w, t,
            acked, t < start, acked < start,
        )  # fmt: skip

    def arrived(p: _Pairs, arrival: np.ndarray) -> np.ndarray | None:
        """Per pair of ``p``, whether the write was applied at the read's region before the
        read started; None on a tie: a read at the very time a write of its user commits,
        reaches its region or is acknowledged (the kernel's insertion order would decide)."""
        start = p.r_t[p.read]
        at = arrival[p.w, p.r_reg[p.read]]
        if np.any((p.t == start) | (at == start) | (p.ack == start)):
            return None
        return at < start

    def newest(p: _Pairs, name: str, pair_ok: np.ndarray) -> np.ndarray:
        """Per read of ``p``, the version rank of the newest write of a class (-1: none)
        among the writes surely done before the window and the window's writes passing
        ``pair_ok``."""
        cls, before = classes[name], prefix[name]
        best = np.where(p.has_prefix, before[p.prev], -1) if len(before) else np.full(p.n, -1)
        ok = pair_ok & cls[p.pos]
        np.maximum.at(best, p.read[ok], o_rank[p.pos[ok]])
        return best

    def ver(rank: np.ndarray) -> np.ndarray:
        return np.where(rank >= 0, version[by_version[np.maximum(rank, 0)]], -1)

    def parts_of(ranks: dict[str, np.ndarray], which: np.ndarray) -> Parts:
        """The documents the records ``ranks`` (per class: version ranks, -1: none) join
        for reads ``which`` hold, by parts: the put's presence, appVersion (-2: none, -1:
        the put's) and the stars (-1: none); fields older than the put are dropped."""
        put, cd, av = (ranks[c][which] for c in _JOINED)
        floor = np.maximum(ver(put), 0)
        cd_v, av_v = ver(cd), ver(av)
        cd_w, av_w = by_version[np.maximum(cd, 0)], by_version[np.maximum(av, 0)]
        app = np.where(w_kind[av_w] == -1, -1, values[av_w])
        av_key = np.where((av_v >= 0) & (av_v >= floor), app, -2)
        stars = np.where((cd_v >= 0) & (cd_v >= floor), values[cd_w], -1)
        return put >= 0, av_key, stars

    light = np.array(cfg.floors())

    def fill(
        col: _Column,
        p: _Pairs,
        truth_start: dict[str, np.ndarray],
        own_rank: np.ndarray,
    ) -> bool:
        """Write the column's figures for the reads of ``p``; False on a tie."""
        s, idx, r_t, pr = p.s, p.idx, p.r_t, p.read
        r_fin = r_t + service
        if col.session is None:
            served = {name: seen[name][s] for name in _JOINED}
        else:
            # What the replay answered, over what the region held and the answer at once.
            some = col.session.within(s.start, s.stop)
            mine = col.session.index[some] - s.start
            served = {name: seen[name][s].copy() for name in _JOINED}
            for name in _JOINED:
                served[name][mine] = col.session.served[name][some]
            r_fin[mine] = col.session.finish[some]
        pair_fin = r_fin[pr]
        if np.any((p.t == pair_fin) | (p.ack == pair_fin)):
            return False  # a read answering as a write of its user commits or is acknowledged
        acked_now = p.ack < pair_fin
        unacked_now = (p.t < pair_fin) & ~acked_now
        truth_now = {name: newest(p, name, acked_now) for name in _JOINED}

        floor_v = np.maximum(ver(served["put"]), 0)
        cd_v, av_v = ver(served["cd"]), ver(served["av"])
        cd_present = (cd_v >= 0) & (cd_v >= floor_v)
        av_present = (av_v >= 0) & (av_v >= floor_v)
        r_version = np.maximum(np.maximum(cd_v, av_v), floor_v).clip(0)
        fv_cd = np.where(cd_present, cd_v, -1)
        fv_av = np.where(av_present, av_v, -1)
        own_w = by_version[np.maximum(own_rank, 0)]
        own_v = np.where(own_rank >= 0, version[own_w], 0)

        # Stale: a write committed before the read that the record does not reflect.
        pv = version[p.w]
        pk = w_kind[p.w]
        covered = np.where(pk == PURCHASE, fv_cd[pr], np.where(pk == WRITE, fv_av[pr], -1))
        missed = p.committed & (pv > floor_v[pr]) & (pv > covered)
        stale = np.zeros(p.n, dtype=bool)
        stale[pr[missed]] = True
        first = np.full(p.n, np.inf)
        np.minimum.at(first, pr[missed], p.t[missed])
        beyond_pair = missed & (p.t + light[w_region[p.w], p.r_reg[pr]] < r_t[pr])
        beyond = np.zeros(p.n, dtype=bool)
        beyond[pr[beyond_pair]] = True

        # Read-your-writes, by content: the document's stars reach the own purchase's total.
        cd_w = by_version[np.maximum(served["cd"], 0)]
        ryw = (own_v > 0) & ~(cd_present & (values[cd_w] >= values[own_w]))

        # The user's writes issued but not acknowledged when the read answers, newest last.
        pending: dict[int, np.ndarray] = {}
        for k in (PURCHASE, WRITE):
            last = np.full(p.n, -1, dtype=np.int64)
            ok = unacked_now & (pk == k)
            np.maximum.at(last, pr[ok], p.w[ok])
            pending[k] = last

        logins = np.flatnonzero(kind[idx] == LOGIN)
        served_platinum, wrong = score_logins(
            evaluator,
            keys,
            p.r_user[logins],
            r_fin[logins],
            parts_of(served, logins),
            (parts_of(truth_start, logins), parts_of(truth_now, logins)),
            (pending[PURCHASE][logins], pending[WRITE][logins]),
            values,
        )

        at = idx[logins]
        run = col.run
        run.latency[idx] = (work.d_in[idx] + (r_fin - r_t)) + work.d_out[idx]
        run.version[idx] = r_version
        run.stale[idx] = stale
        run.stale_s[idx] = np.where(stale, r_t - first, 0.0)
        run.beyond_floor[idx] = beyond
        run.ryw[idx] = ryw
        run.required[idx] = own_v
        run.wrong[idx[logins[wrong]]] = True
        run.platinum[at] = served_platinum
        run.since_own[idx] = np.where(own_rank >= 0, r_t - w_t[own_w], np.inf)
        return True

    def second(p: _Pairs) -> None:
        """Fill every column's figures for the reads of ``p``, dropping a column on a tie."""
        truth_start = {name: newest(p, name, p.acked_start) for name in _JOINED}
        own_rank = newest(p, "own", p.acked_start)
        for label in list(states):
            if not fill(states[label], p, truth_start, own_rank):
                del states[label]

    slices = [slice(a, min(a + _CHUNK, n_r)) for a in range(0, n_r, _CHUNK)]
    # Per read, what its region held at its start; for the session level also whether that
    # covered every write of its user committed before it.
    levels = {level for _, level in columns}
    seen: dict[str, np.ndarray] = {name: np.empty(n_r, dtype=rank_type) for name in _JOINED}
    fresh = np.ones(n_r, dtype=bool)
    # Without the session level no read waits on what others held: each block is filled as
    # soon as it is seen (one search per block instead of two).
    fused = SESSION not in levels
    states: dict[str, _Column] = {}
    for label, level in columns:
        if level != SESSION:
            if n_r and r_t_max + service > float(t_edge[-1]) + _DRAIN_LIMIT / 2:
                continue
            states[label] = _Column(SystemRun.blank(label, n_ops), None)
    for block in slices:
        p = pairs(block)
        ok = arrived(p, arrival)
        if ok is None:
            return {}
        for name in _JOINED:
            seen[name][block] = held = newest(p, name, ok)
            if not fused:
                fresh[block] &= held >= newest(p, name, p.committed)
        if fused:
            second(p)
    for label, level in columns:
        if level == SESSION:
            # Every patch newer than its user's put: a record is then its newest write per class.
            if np.any(version[n_users:] <= version[w_user[n_users:]]):
                continue
            session = session_reads(
                r_user=user[reads],
                r_t=t_edge[reads],
                r_reg=region[reads].astype(np.int64),
                seen=seen,
                fresh=fresh,
                w_user=w_user,
                w_kind=w_kind,
                w_t=w_t,
                w_region=w_region,
                v_rank=v_rank,
                by_version=by_version,
                arrival=arrival,
                rtt=rtt,
                service=service,
                session_wait=session_wait,
            )
            if session is None:
                continue
            forwarded = session.outcome == OUTCOMES.index("forwarded")
            r_fwd = reads[session.index[forwarded]]
            if np.any(session.finish[forwarded] >= t_edge[r_fwd] + cfg.request_timeout):
                continue  # a forwarded read the request timeout would fail
            last = max(r_t_max + service, float(session.finish.max(initial=-np.inf)))
            if n_r and last > float(t_edge[-1]) + _DRAIN_LIMIT / 2:
                continue  # the runner gives up on reads pending that long
            states[label] = _Column(SystemRun.blank(label, n_ops), session)
    del arrival, fresh  # (what is left needs neither)
    states = {label: states[label] for label, _ in columns if label in states}
    if not states:
        return {}
    if not fused:
        for block in slices:
            second(pairs(block))

    # What does not depend on the level: writes' latency and version, the bytes sent, the
    # lost updates and the realised lag (computed above).
    w_latency = (work.d_in[w_ops] + ((t_edge[w_ops] + service) - t_edge[w_ops])) + work.d_out[w_ops]
    peers = n_reg - 1
    out: dict[str, SystemRun] = {}
    for label, col in states.items():
        run = col.run
        run.latency[w_ops] = w_latency
        run.version[w_ops] = version[n_users:]
        if col.session is not None:
            replayed = reads[col.session.index]
            run.outcome[replayed] = col.session.outcome
            run.waited[replayed] = col.session.waited
        run.bytes_replicated = sent * peers + extra_bytes
        run.messages_replicated = (n_w - n_users) * peers + extra_messages
        run.lost_updates, run.writes_checked = lost
        run.realised_lag = lag_report(cfg, cast(_Samples, lags), applied)
        out[label] = run
    return out


def vectorised(
    work: Workload,
    cfg: Config,
    seed: int,
    keys: list[str],
    evaluator: Evaluator,
    system: str,
    columns: list[tuple[str, str]],
) -> dict[str, SystemRun]:
    """The runner's hook: the columns of ``system`` (``(label, level)`` pairs) the fast path
    computes, by label (the others run on the event path; reads change no replica state, so
    a level's figures do not depend on the levels run beside it)."""
    if system == SINGLE_HOME:
        if decline(cfg, work, system, [level for _, level in columns]) is not None:
            return {}
        home = single_home(work, cfg, seed, keys, evaluator, columns[0][0])
        return {} if home is None else {home.name: home}
    if system != "replicated":
        return {}
    return replicated_columns(work, cfg, seed, keys, evaluator, columns)
