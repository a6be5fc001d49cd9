"""Replication on the vectorised fast path: when each write is first applied at every region,
with every link's lag stream consumed in the event path's order, anti-entropy included.

Writes, digests and repairs draw from one stream per directed link (the
:class:`~edgekv.lowlevel.Network`'s), in the order they are sent. A write's draw is its
position among its origin's writes plus the digests and repairs sent on the link before it.
Digests leave every region at the same ticks, one per anti-entropy period; repairs are few (a
region resends only ops it logged a whole period before a digest that lacks them), so each
moves the later writes of its link one draw on and only those are recomputed. Digests and
repairs are replayed in time order as :class:`~edgekv.lowlevel.RegionNode` runs them: a digest
carries its region's contiguous applied prefix per origin, the out-of-order ops older than a
fifth of a period and its clock bound; the receiver answers with the ops it logged before now
minus a period that the digest's sender lacks (:meth:`ReplicationLog.missing_for`); a repair
applies first whatever it brings before the write's own delivery. An instant two of these
share (a tie the kernel's insertion order would decide) makes :func:`replicate` return None.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.config import Config
from .._core.node import YOUNG_EXTRA
from .._core.realised import WINDOW
from .._core.replication import encode_digest, encode_ops
from .._core.versions import EPOCH_MS, HybridClock

__all__ = ["Replication", "replicate"]

_PAGE = 4096
"""Draws per page of a :class:`~edgekv.lowlevel.DelayStream` (its default block)."""
_TICK, _DIGEST, _REPAIR = 0, 1, 2
_Ranges = tuple[np.ndarray, np.ndarray]


class _Tie(Exception):
    """Two events at one instant: the kernel's insertion order would decide."""


@dataclass(frozen=True, slots=True)
class Replication:
    """What replication did in a run: ``arrival[w, r]``, when write ``w`` was first applied
    at region ``r`` (its commit time at its origin), the realised lag per link, and the
    bytes and messages of digests and repairs sent inside the counting window."""

    arrival: np.ndarray
    lags: list[list[np.ndarray]]
    """``lags[src][dst]``: commit-to-apply seconds of the newest ``WINDOW`` of ``src``'s
    writes applied at ``dst``, in the order they were applied there (what a
    :class:`LagTracker` keeps)."""
    applied: list[list[int]]
    """``applied[src][dst]``: how many of ``src``'s writes were applied at ``dst``."""
    extra_bytes: int
    extra_messages: int


class _Link:
    """A directed link ``src -> dst``: its lag stream drawn page by page, and the draw
    index and first-application time at ``dst`` of each of ``src``'s writes."""

    __slots__ = (
        "_dist",
        "_rng",
        "_draws",
        "floor",
        "commit",
        "index",
        "arrival",
        "sent_at",
        "repair",
        "sent",
        "shift",
        "done",
    )

    def __init__(self, cfg: Config, rng: np.random.Generator, src: int, dst: int) -> None:
        self._dist = cfg.link_lag_for(cfg.names[src], cfg.names[dst])
        self._rng = rng
        self._draws = np.empty(0)
        self.floor = cfg.rtt[(cfg.names[src], cfg.names[dst])] / 2
        self.commit = np.empty(0)
        self.index = np.empty(0, dtype=np.int64)
        self.arrival = np.empty(0)
        self.sent_at = np.empty(0)
        """When the message that first applied each write at ``dst`` was sent."""
        self.repair = np.empty(0, dtype=np.int64)
        """0, or the rank of the repair op that first applied the write (repairs sent at
        one instant are delivered at one instant in the order they were sent)."""
        self.sent = 0
        """Digests and repairs sent on the link so far."""
        self.shift = 0
        """Repairs sent on the link so far: the writes after them draw that much later."""
        self.done = 0
        """Writes whose :attr:`arrival` is computed (the others' draws may still move)."""

    def delays(self, index: np.ndarray) -> np.ndarray:
        """The link's delays (draws floored at half the RTT) at stream positions ``index``,
        drawing whole pages as :class:`DelayStream` does. O(len(index) + pages drawn)."""
        self._drawn(int(index.max()) + 1 if len(index) else 0)
        draw = self._draws[index]
        return np.where(draw > self.floor, draw, self.floor)

    def delay(self, index: int) -> float:
        """:meth:`delays` of one stream position, without numpy's per-call overhead."""
        self._drawn(index + 1)
        draw = float(self._draws[index])
        return draw if draw > self.floor else self.floor

    def _drawn(self, need: int) -> None:
        """Draw whole pages until the stream holds ``need`` draws."""
        if need > len(self._draws):
            pages = -(-(need - len(self._draws)) // _PAGE)
            fresh = [self._dist.sample(self._rng, _PAGE) for _ in range(pages)]
            self._draws = np.concatenate([self._draws, *fresh])

    def place(self, commit: np.ndarray, index: np.ndarray) -> None:
        """Set the writes' commit times and draw positions before any repair (their own
        place plus the digests sent before each)."""
        self.commit, self.index = commit, index
        self.arrival = np.empty(len(commit))
        self.sent_at = commit.copy()
        self.repair = np.zeros(len(commit), dtype=np.int64)

    def upto(self, count: int) -> np.ndarray:
        """:attr:`arrival` with the first ``count`` writes computed: writes committed since
        the link's last repair draw :attr:`shift` positions on. O(writes computed)."""
        done = self.done
        if count > done:
            index = self.index[done:count] + self.shift
            self.arrival[done:count] = self.commit[done:count] + self.delays(index)
            self.done = count
        return self.arrival

    def send(self, before: int, repair: bool) -> float:
        """A digest or repair sent after the link's first ``before`` writes: its delay. A
        repair moves the later writes' draws one position on."""
        delay = self.delay(before + self.sent)
        self.sent += 1
        if repair:
            self.upto(before)
            self.shift += 1
        return delay


def _ranges(seqs: np.ndarray) -> list[int]:
    """Sorted sequence numbers as inclusive ``[lo, hi, lo, hi, ...]`` runs."""
    breaks = np.flatnonzero(seqs[1:] - seqs[:-1] != 1)
    out = np.empty(2 * len(breaks) + 2, dtype=seqs.dtype)
    out[0], out[-1] = seqs[0], seqs[-1]
    out[2::2] = seqs[breaks + 1]  # (each run's low after the first)
    out[1:-1:2] = seqs[breaks]  # (each run's high before the last)
    return out.tolist()


def _before(times: np.ndarray, t: float) -> int:
    """How many of the sorted ``times`` are before ``t``; :class:`_Tie` if one is at ``t``."""
    k = int(np.searchsorted(times, t, side="left"))
    if k < len(times) and times[k] == t:
        raise _Tie
    return k


class _Replay:
    """The anti-entropy rounds of one run, replayed in time order over the links."""

    def __init__(
        self,
        cfg: Config,
        links: list[list[_Link]],
        commits: list[np.ndarray],
        last_version: Callable[[int, int], int],
        op_size: Callable[[int, int], int],
        window: tuple[float, float],
    ) -> None:
        n = len(commits)
        assert cfg.anti_entropy is not None
        self.period = cfg.anti_entropy
        self.links = links
        self.commits = commits
        self.last_version = last_version
        self.op_size = op_size
        self.window = window
        self.prefix = [[0] * n for _ in range(n)]
        """``prefix[d][o]``: ops of ``o`` applied at ``d`` in sequence order without a gap."""
        self.known = [[[0] * n for _ in range(n)] for _ in range(n)]
        """``known[r][d]``: the newest version vector ``r`` heard from ``d``."""
        self.heard = [[-1] * n for _ in range(n)]
        """``heard[r][d]``: the clock of ``d``'s newest digest ``r`` took its held ops from."""
        self.held: list[list[dict[int, _Ranges]]] = [[{} for _ in range(n)] for _ in range(n)]
        """``held[r][d]``: per origin, the out-of-order ops in ``d``'s newest digest heard
        by ``r`` (by clock), as inclusive ranges ``(lows, highs)``."""
        self.bytes = 0
        self.messages = 0
        self.events: list[tuple[float, int, int, tuple[Any, ...]]] = []
        self.order = 0
        self.repaired = 0
        self.commit_lists = [c.tolist() for c in commits]
        self.cursor = [0] * n

    def counted(self, t: float) -> bool:
        """Whether a message sent at ``t`` falls in the counting window (first op, last op]."""
        lo, hi = self.window
        if t in (lo, hi):
            raise _Tie
        return lo < t <= hi

    def push(self, at: float, kind: int, args: tuple[Any, ...]) -> None:
        self.order += 1
        heapq.heappush(self.events, (at, self.order, kind, args))

    def run(self, end: float) -> None:
        """Ticks and deliveries in the kernel's order (by time, then by when each was
        scheduled) until nothing later can change a first application or a counted byte."""
        for d in range(len(self.commits)):  # armed as the mesh starts, before any write
            self.push(self.period, _TICK, (d, -np.inf))
        events = self.events
        horizon = np.inf
        while events:
            if events[0][0] > end and horizon == np.inf:
                # Every write is committed: no repair moves a draw any more, so every
                # arrival is known, and none is later than the latest.
                horizon = max(
                    float(link.upto(len(link.commit)).max(initial=end))
                    for row in self.links
                    for link in row
                )
            if events[0][0] > max(end, horizon):
                return
            at, _, kind, args = heapq.heappop(events)
            if kind == _TICK:
                self.digest(args[0], at, args[1])
                self.push(at + self.period, _TICK, (args[0], at))  # re-armed after its sends
            elif kind == _DIGEST:
                self.on_digest(at, *args)
            else:
                self.on_repair(at, *args)

    def digest(self, d: int, now: float, armed: float) -> None:
        """Region ``d``'s tick, armed at ``armed``: its digest, sent to every peer."""
        n = len(self.commits)
        young = now - self.period * YOUNG_EXTRA
        applied = [0] * n
        extra: list[list[int]] = []
        own = _before(self.commits[d], now)
        applied[d] = own
        for o in range(n):
            if o == d:
                continue
            link = self.links[o][d]
            p = self.prefix[d][o]
            m = _before(self.commits[o], now)
            seg = link.upto(m)[p:m]
            if len(seg):
                # A delivery at the tick's instant ran first if it was scheduled first: a
                # repair that did, or a write committed before the tick was armed.
                late = (seg > now) | (
                    (seg == now) & (link.repair[p:m] == 0) & (link.commit[p:m] > armed)
                )
                late = np.flatnonzero(late)
                q = int(late[0]) if len(late) else len(seg)
                p += q
                self.prefix[d][o] = p
                old = np.flatnonzero(seg[q:] < young)
                if len(old):
                    extra.append([o, *_ranges(old + p + 1)])
            applied[o] = p
        hlc = HybridClock(d)  # the region's clock after its last local version
        hlc.observe(self.last_version(d, own))
        clock = hlc.peek(EPOCH_MS + now * 1000.0)
        size = len(encode_digest(d, applied, clock, extra))
        if self.counted(now):
            self.bytes += size * (n - 1)
            self.messages += n - 1
        held = {item[0]: (np.array(item[1::2]), np.array(item[2::2])) for item in extra}
        for r in range(n):
            if r != d:
                delay = self.links[d][r].send(own, repair=False)
                self.push(now + delay, _DIGEST, (r, d, applied, clock, held))

    def on_digest(
        self, now: float, r: int, d: int, vv: list[int], clock: int, held: dict[int, _Ranges]
    ) -> None:
        """Region ``r`` takes ``d``'s digest and resends what ``d`` lacks."""
        known = self.known[r][d]
        for i, seq in enumerate(vv):
            if seq > known[i]:
                known[i] = seq
        if clock >= self.heard[r][d]:
            self.heard[r][d] = clock
            self.held[r][d] = held
        holds = self.held[r][d]
        horizon = now - self.period
        ops: list[tuple[int, int]] = []
        cursor, commit_lists = self.cursor, self.commit_lists
        for o in range(len(cursor)):
            lo = known[o] + 1
            # Writes of o committed before the horizon (which only grows: digests are taken
            # in time order, so the search starts at the last answer).
            top = cursor[o] = bisect_left(commit_lists[o], horizon, cursor[o])
            if top < lo:
                continue
            if o == r:  # (all of them are logged at r)
                seqs = np.arange(lo, top + 1)
            else:
                logged = self.links[o][r].upto(top)[lo - 1 : top]
                seqs = np.flatnonzero(logged < horizon) + lo
            ranges = holds.get(o)
            if ranges is not None and len(seqs):
                lows, highs = ranges
                k = np.searchsorted(lows, seqs, side="right") - 1  # the range below or at
                seqs = seqs[(k < 0) | (seqs > highs[np.maximum(k, 0)])]
            ops.extend(zip([o] * len(seqs), seqs.tolist(), strict=True))
        if not ops:
            return
        if self.counted(now):
            header = len(encode_ops(r, [])) - 1
            count = len(ops)
            header += 1 if count < 16 else 3 if count < 65536 else 5
            self.bytes += header + sum(self.op_size(o, seq) for o, seq in ops)
            self.messages += 1
        link = self.links[r][d]
        delay = link.send(_before(self.commits[r], now), repair=True)
        self.push(now + delay, _REPAIR, (d, now, ops))

    def on_repair(self, now: float, d: int, sent: float, ops: list[tuple[int, int]]) -> None:
        """A repair sent at ``sent`` reaches ``d``: each op it did not hold yet is applied
        now (one already applied, at this instant too, is a duplicate)."""
        for o, seq in ops:
            if o == d:
                continue
            link = self.links[o][d]
            j = seq - 1
            if link.upto(seq)[j] > now:  # (its own delivery at this instant was sent first)
                self.repaired += 1
                link.arrival[j], link.sent_at[j], link.repair[j] = now, sent, self.repaired


def replicate(
    cfg: Config,
    seed: int,
    origin: np.ndarray,
    commit: np.ndarray,
    version: np.ndarray,
    op_size: Callable[[int], int],
    window: tuple[float, float],
) -> Replication | None:
    """When each write (``origin`` region, ``commit`` time, in commit order, with its
    ``version``) is first applied at every region, as a :class:`~edgekv.lowlevel.Mesh`
    seeded with ``seed`` replicates them under ``cfg`` (no loss, duplication, jitter,
    partition, batching or clock skew: the caller checks). ``op_size(w)`` is the msgpack
    length of write ``w`` as shipped; messages are counted when sent in ``window`` (first
    op, last op]. None on a tie. O(writes x regions + anti-entropy rounds x regions^2 +
    ops repaired x writes per link)."""
    n = len(cfg.names)
    streams = np.random.default_rng([seed, 0]).spawn(n * n + 2)  # as the Network's
    by_origin = [np.flatnonzero(origin == o) for o in range(n)]
    commits = [commit[idx] for idx in by_origin]
    period = cfg.anti_entropy if n > 1 else None
    end = max(float(commit.max(initial=0.0)), window[1])
    ticks = np.empty(0)
    if period is not None:
        t, values = period, []  # by repeated addition, as each region re-arms its timer
        while t <= end + period:
            values.append(t)
            t += period
        ticks = np.array(values)
    links = [[_Link(cfg, streams[s * n + d], s, d) for d in range(n)] for s in range(n)]
    try:
        for s in range(n):
            c = commits[s]
            ahead = np.searchsorted(ticks, c, side="left")
            if np.any(ahead < np.searchsorted(ticks, c, side="right")):
                return None  # a write at a tick
            for d in range(n):
                if d != s:
                    links[s][d].place(c, np.arange(len(c)) + ahead)
        extra_bytes = extra_messages = 0
        if period is not None:

            def last_version(d: int, count: int) -> int:
                return int(version[by_origin[d][count - 1]]) if count else 0

            def size(o: int, seq: int) -> int:
                return op_size(int(by_origin[o][seq - 1]))

            replay = _Replay(cfg, links, commits, last_version, size, window)
            replay.run(end)
            extra_bytes, extra_messages = replay.bytes, replay.messages
    except _Tie:
        return None
    arrival = np.empty((len(commit), n), order="F")  # (filled a region's column at a time)
    lags: list[list[np.ndarray]] = [[np.empty(0)] * n for _ in range(n)]
    applied = [[0] * n for _ in range(n)]
    for s in range(n):
        arrival[by_origin[s], s] = commits[s]
        for d in range(n):
            if d != s:
                link = links[s][d]
                arrival[by_origin[s], d] = link.upto(len(link.commit))
                # Applied in the kernel's order: by time, then by when the message was sent,
                # then (one repair, or repairs sent at one instant) in sending order.
                order = np.argsort(link.arrival)  # (any sort: arrivals that tie sort again)
                ties = bool(np.any(np.diff(link.arrival[order]) == 0))
                if ties and not link.repair.any():  # all sent at commit, in order: as sent
                    order = np.argsort(link.arrival, kind="stable")
                elif ties:
                    order = np.lexsort((link.repair, link.sent_at, link.arrival))
                    same = np.diff(link.arrival[order]) == 0
                    same &= np.diff(link.sent_at[order]) == 0
                    repair = link.repair[order] == 0
                    if np.any(same & (repair[1:] != repair[:-1])):
                        return None  # a delivery and a repair sent and applied at one instant
                kept = order[-WINDOW:]
                lags[s][d] = link.arrival[kept] - link.commit[kept]
                applied[s][d] = len(order)
    return Replication(arrival, lags, applied, extra_bytes, extra_messages)
