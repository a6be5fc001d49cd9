"""Replication bookkeeping of one region: sequence numbers, version vectors, the op log that
anti-entropy repairs from, and causal stability for tombstone collection. No I/O.

Every write gets ``(origin, seq)``. A region applies each ``(origin, seq)`` at most once
(so duplicates and late copies are harmless), keeps each op in its log until every region is
known to hold it, and periodically broadcasts a digest (its version vector, the ops it holds
beyond it, plus a clock report) so peers can resend exactly what it misses: that repairs loss
and partitions without resending what arrived out of order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Generic, NamedTuple, TypeVar

import msgpack

from .crdt import Record, record_of

__all__ = [
    "Digest",
    "OpsBatch",
    "ReplicationLog",
    "Send",
    "ShippedOp",
    "decode",
    "encode_digest",
    "encode_ops",
]

D = TypeVar("D", covariant=True)

_OPS = 0
_DIGEST = 1


class Send(NamedTuple):
    """Output event: deliver ``payload`` (msgpack bytes) to each region index in ``dsts``;
    one event per payload, so a broadcast is built and decoded once."""

    dsts: tuple[int, ...]
    payload: bytes


class ShippedOp(NamedTuple, Generic[D]):
    """One write as replication ships it; a tuple, so its wire form is the msgpack array
    ``[origin, seq, key, delta]``."""

    origin: int
    """The region that issued the write."""
    seq: int
    """Its sequence number among ``origin``'s writes (from 1)."""
    key: str
    delta: D
    """The write's record: its wire form (a list) to be encoded, a CRDT record decoded."""


@dataclass(frozen=True, slots=True)
class OpsBatch:
    """Decoded replication batch."""

    sender: int
    ops: list[ShippedOp[Record]]


@dataclass(frozen=True, slots=True)
class Digest:
    """Decoded digest: the sender's version vector, its HLC lower bound for future writes and
    the ops it holds beyond the vector (out of order), as ``[origin, lo, hi, lo, hi, ...]``
    inclusive ranges per origin that has any."""

    sender: int
    vv: list[int]
    clock: int
    extra: list[list[int]]


_packb = msgpack.Packer(use_bin_type=True).pack


def encode_ops(sender: int, ops: Sequence[ShippedOp[Sequence[Any]]]) -> bytes:
    """Wire form of a replication batch."""
    return _packb([_OPS, sender, ops])


def encode_digest(sender: int, vv: list[int], clock: int, extra: list[list[int]]) -> bytes:
    """Wire form of an anti-entropy digest (``extra`` left out when empty)."""
    return _packb([_DIGEST, sender, vv, clock, extra] if extra else [_DIGEST, sender, vv, clock])


def decode(payload: bytes, from_wire: Callable[[Any], Record] = record_of) -> OpsBatch | Digest:
    """Parse a message, turning each op's wire record into a CRDT record with ``from_wire``
    (see :meth:`CRDT.from_wire`); raises ``ValueError`` for anything that is not one."""
    try:
        msg = msgpack.unpackb(payload, raw=False, strict_map_key=False)
        kind, sender = msg[0], msg[1]
        if kind == _OPS:
            new, shipped = tuple.__new__, ShippedOp
            ops = [new(shipped, (o, seq, key, from_wire(wire))) for o, seq, key, wire in msg[2]]
            return OpsBatch(sender, ops)
        if kind == _DIGEST:
            return Digest(sender, msg[2], msg[3], msg[4] if len(msg) > 4 else [])
    except Exception as exc:
        raise ValueError(f"malformed replication message: {exc}") from None
    raise ValueError(f"unknown replication message kind {kind!r}")


def _consume(calls: Iterator[Any]) -> None:
    """Run an iterator of calls for their effect, keeping none of the results."""
    deque(calls, maxlen=0)


class ReplicationLog:
    """Which ops a region holds, which its peers hold, and which are stable everywhere.

    ``applied[p]`` is the contiguous prefix of origin ``p``'s ops applied here; ``known[q]``
    the last version vector heard from region ``q``. An op is dropped from the log, and a
    tombstone may be collected, once every region's vector covers it.
    """

    __slots__ = (
        "me",
        "n",
        "applied",
        "_extra",
        "known",
        "_held",
        "_heard_clock",
        "log",
        "_top",
        "_tops",
        "_settled",
        "_pruned",
        "_reports",
        "stable_clock",
    )

    def __init__(self, me: int, n: int) -> None:
        self.me = me
        self.n = n
        self.applied = [0] * n
        self._extra: list[set[int]] = [set() for _ in range(n)]
        self.known: list[list[int]] = [[0] * n for _ in range(n)]
        self._held: list[dict[int, list[int]]] = [{} for _ in range(n)]
        """Per region, the out-of-order ops its newest digest said it holds: origin ->
        ``[lo, hi, lo, hi, ...]``."""
        self._heard_clock = [-1] * n
        self.log: list[dict[int, tuple[str, Sequence[Any], float]]] = [{} for _ in range(n)]
        self._top = [0] * n
        """Highest sequence number logged here per origin."""
        self._tops: list[deque[tuple[float, int]]] = [deque() for _ in range(n)]
        """Per origin, ``(time, seq)`` each time :attr:`_top` rose, oldest first, since the
        last :meth:`_settled_top` that passed them."""
        self._settled = [0] * n
        self._pruned = [0] * n
        self._reports: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        self.stable_clock = 0
        """Every op with a version below this has been applied by every region."""

    def next_local(self, now: float, key: str, wire: Sequence[Any]) -> int:
        """Assign the next local sequence number to a write and log it. O(1)."""
        seq = self.applied[self.me] + 1
        self.applied[self.me] = seq
        if self.n > 1:
            self.log[self.me][seq] = (key, wire, now)
            self._top[self.me] = seq
            self._tops[self.me].append((now, seq))
        return seq

    def accept(self, now: float, origin: int, seq: int, key: str, record: Sequence[Any]) -> bool:
        """Record a remote op (its record is logged as is: records and their wire forms
        encode alike); False if it was already applied (a duplicate). O(1) amortised."""
        applied = self.applied[origin]
        extra = self._extra[origin]
        if seq <= applied or seq in extra:
            return False
        if seq == applied + 1:
            applied = seq
            while applied + 1 in extra:
                applied += 1
                extra.remove(applied)
            self.applied[origin] = applied
        else:
            extra.add(seq)
        self.log[origin][seq] = (key, record, now)
        if seq > self._top[origin]:
            self._top[origin] = seq
            self._tops[origin].append((now, seq))
        return True

    def holds(self, origin: int, seq: int) -> bool:
        """Whether op ``seq`` of ``origin`` has been applied here. O(1)."""
        return seq <= self.applied[origin] or seq in self._extra[origin]

    def extra_ranges(self, logged_before: float) -> list[list[int]]:
        """The ops applied here beyond :attr:`applied` and logged before ``logged_before``,
        for a digest: ``[origin, lo, hi, lo, hi, ...]`` (inclusive ranges) per origin that
        has any. O(ops beyond :attr:`applied`)."""
        out: list[list[int]] = []
        for origin, extra in enumerate(self._extra):
            if not extra:
                continue
            entries = self.log[origin]
            seqs = sorted(seq for seq in extra if entries[seq][2] < logged_before)
            if not seqs:
                continue
            item = [origin]
            lo = prev = seqs[0]
            for seq in seqs[1:]:
                if seq != prev + 1:
                    item += (lo, prev)
                    lo = seq
                prev = seq
            item += (lo, prev)
            out.append(item)
        return out

    def _settled_top(self, origin: int, before: float) -> int:
        """Highest sequence number of ``origin`` logged here before ``before``. O(1)
        amortised while ``before`` does not decrease (an anti-entropy horizon never does; an
        earlier one gets a later answer, which :meth:`missing_for` filters anyway)."""
        tops = self._tops[origin]
        while tops and tops[0][0] < before:
            self._settled[origin] = tops.popleft()[1]
        return self._settled[origin]

    def missing_for(self, peer: int, logged_before: float) -> list[ShippedOp[Sequence[Any]]]:
        """Ops logged here before ``logged_before`` that region ``peer`` lacks according to
        its newest digest (vector and out-of-order ops), in sequence order. Younger ops are
        probably still in flight to it, so they are not resent, nor scanned: O(origins +
        ranges in the digest + sequence numbers ``peer`` lacks below the horizon)."""
        vv = self.known[peer]
        held = self._held[peer]
        out: list[ShippedOp[Sequence[Any]]] = []
        for origin, entries in enumerate(self.log):
            if not entries:
                continue
            top = self._settled_top(origin, logged_before)
            lo = vv[origin] + 1
            if lo > top:
                continue
            gaps: list[tuple[int, int]] = []
            ranges = held.get(origin, ())
            for k in range(0, len(ranges), 2):
                if ranges[k] > top:
                    break
                gaps.append((lo, ranges[k]))
                lo = max(lo, ranges[k + 1] + 1)
            gaps.append((lo, top + 1))
            for start, stop in gaps:
                for seq in range(start, stop):
                    entry = entries.get(seq)
                    if entry is not None and entry[2] < logged_before:
                        out.append(ShippedOp(origin, seq, entry[0], entry[1]))
        return out

    def report(self, clock: int) -> None:
        """Note this region's own clock bound at digest time (see :meth:`on_digest`)."""
        self._reports[self.me].append((self.applied[self.me], clock))

    def on_digest(
        self, sender: int, vv: list[int], clock: int, extra: list[list[int]] | None = None
    ) -> None:
        """Take a peer's digest: its vector, the out-of-order ops it holds (``extra``, see
        :class:`Digest`; kept from its newest digest, by ``clock``), and the bound that its
        future writes will all have versions >= ``clock`` once it has issued ``vv[sender]``
        writes."""
        known = self.known[sender]
        for i, seq in enumerate(vv):
            if seq > known[i]:
                known[i] = seq
        if clock >= self._heard_clock[sender]:
            self._heard_clock[sender] = clock
            self._held[sender] = {item[0]: item[1:] for item in extra or ()}
        self._reports[sender].append((vv[sender], clock))

    def advance(self) -> None:
        """Drop the ops every region holds from the log and move :attr:`stable_clock` on,
        from the digests taken since the last call. O(n^2 + ops dropped); a region calls it
        once per anti-entropy round rather than once per digest."""
        self.known[self.me] = self.applied
        bounds: list[int] = []
        for origin, covered in enumerate(map(min, zip(*self.known, strict=True))):
            dropped = range(self._pruned[origin] + 1, covered + 1)
            _consume(map(self.log[origin].pop, dropped, repeat(None)))  # a loop in C
            self._pruned[origin] = max(self._pruned[origin], covered)
            reports = self._reports[origin]
            usable = [i for i, (count, _) in enumerate(reports) if count <= covered]
            if usable:
                del reports[: usable[-1]]
                bounds.append(reports[0][1])
        if len(bounds) == self.n:
            self.stable_clock = max(self.stable_clock, min(bounds))

    def in_sync(self, other: ReplicationLog) -> bool:
        """True when both regions have applied exactly the same ops."""
        return self.applied == other.applied and not any(self._extra) and not any(other._extra)
