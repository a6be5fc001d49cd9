"""A region as a sans-IO state machine: client operations and arriving messages go in,
messages to send come out; timers are a deadline the driver reads. No clock, no loop: every
input carries ``now`` (seconds of the driver's time)."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from .crdt import CRDT, Record
from .replication import (
    Digest,
    OpsBatch,
    ReplicationLog,
    Send,
    ShippedOp,
    decode,
    encode_digest,
    encode_ops,
)
from .versions import EPOCH_MS, HybridClock, WallClock

__all__ = ["CompactRegionNode", "NodeStats", "RegionNode"]

_INF = float("inf")
YOUNG_EXTRA = 0.2
"""A digest leaves out the out-of-order ops that arrived within this fraction of the
anti-entropy period: a peer resends only ops it logged a whole period before the digest
reaches it, so those rarely matter, and in steady state they would make every digest bigger
than the duplicates it saves."""
_packb = msgpack.Packer(use_bin_type=True).pack
_unpackb = msgpack.unpackb


@dataclass(slots=True)
class NodeStats:
    """Counters of one region (all monotone)."""

    puts: int = 0
    patches: int = 0
    deletes: int = 0
    reads: int = 0
    messages_sent: int = 0
    bytes_sent: int = 0
    messages_received: int = 0
    bytes_received: int = 0
    ops_received: int = 0
    merges: int = 0
    duplicates: int = 0
    conflicts: int = 0
    """Incoming writes older than the version already held (LWW kept the newer)."""
    tombstones_collected: int = 0
    rejected_messages: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class _Timers:
    flush: float = _INF
    anti_entropy: float = _INF
    grace: deque[tuple[float, str, int]] = field(default_factory=deque)


def _ranges_fit(extra: Any, vv: list[int]) -> bool:
    """True if a digest's out-of-order ops are ``[origin, lo, hi, ...]`` items, origins
    ascending and in the mesh, ranges ascending, disjoint and above the vector."""
    if not isinstance(extra, list):
        return False
    last_origin = -1
    for item in extra:
        if not isinstance(item, list) or len(item) < 3 or len(item) % 2 == 0:
            return False
        if not all(type(v) is int for v in item):
            return False
        origin = item[0]
        if not last_origin < origin < len(vv):
            return False
        last_origin = origin
        floor = vv[origin]
        for k in range(1, len(item), 2):
            lo, hi = item[k], item[k + 1]
            if not floor < lo <= hi:
                return False
            floor = hi
    return True


class RegionNode:
    """One region's replica: local store, local commit, replication out and merge in.

    Reads are O(1) dict lookups; a local write is O(fields) plus one message per peer (or
    one per batch window); merging a batch is O(ops x fields).
    """

    def __init__(
        self,
        index: int,
        n_regions: int,
        crdt: CRDT,
        *,
        clock: str = "hlc",
        clock_skew: float = 0.0,
        batch_window: float = 0.0,
        anti_entropy: float | None = 1.0,
        tombstone_grace: float | None = None,
    ) -> None:
        self.index = index
        self.crdt = crdt
        self.store: dict[str, Record] = {}
        self.stats = NodeStats()
        self.repl = ReplicationLog(index, n_regions)
        clock_cls = HybridClock if clock == "hlc" else WallClock
        self.clock = clock_cls(index, clock_skew * 1000.0)
        self.peers = tuple(i for i in range(n_regions) if i != index)
        self.batch_window = batch_window
        self.anti_entropy = anti_entropy if n_regions > 1 else None
        self.tombstone_grace = tombstone_grace
        self._batch: list[ShippedOp[Sequence[Any]]] = []
        self._timers = _Timers()
        self._tombstones: list[tuple[int, str]] = []
        if self.anti_entropy is not None:
            self._timers.anti_entropy = self.anti_entropy
        self._observed = 0
        """Newest remote version merged, shown to the clock only before it issues one (the
        HLC receive rule is a max, so applying it late changes nothing)."""
        self._load, self._save = self._accessors()
        self._merge = (crdt.join, self.repl.accept)

    # -- reads ---------------------------------------------------------------------------

    def peek(self, key: str) -> dict[str, Any] | None:
        """The local document (shared, do not mutate) or None. O(1), no counters."""
        rec = self.store.get(key)
        return None if rec is None else rec.doc

    def record(self, key: str) -> Record | None:
        """The CRDT record of ``key`` here, ``(doc | None, version, ...)`` (do not mutate)."""
        return self.store.get(key)

    def documents(self) -> dict[str, dict[str, Any]]:
        """Every live document here, by key (shared, do not mutate). O(keys)."""
        out: dict[str, dict[str, Any]] = {}
        for key in self.store:
            doc = self.peek(key)
            if doc is not None:
                out[key] = doc
        return out

    def _accessors(
        self,
    ) -> tuple[Callable[[str], Record | None], Callable[[str, Record], None]]:
        """How the write and merge paths load and save records: the store dict's own
        methods here, bound once because merging is the simulator's hot path."""
        return self.store.get, self.store.__setitem__

    def read(self, key: str) -> tuple[dict[str, Any] | None, int]:
        """A counted local read: a copy of the document and its version (0 if never written)."""
        self.stats.reads += 1
        rec = self.record(key)
        if rec is None:
            return None, 0
        doc = rec.doc
        return (None if doc is None else dict(doc)), rec.version

    def version_of(self, key: str) -> int:
        """Newest version merged for ``key`` here (0 if none). O(1)."""
        rec = self.store.get(key)
        return 0 if rec is None else rec.version

    # -- local writes --------------------------------------------------------------------

    def put(self, now: float, key: str, doc: Mapping[str, Any]) -> tuple[int, list[Send]]:
        """Replace ``key``'s document; returns its version and the messages to send."""
        self.stats.puts += 1
        version = self._issue(now)
        return version, self._commit(now, key, self.crdt.put(self.record(key), doc, version))

    def patch(self, now: float, key: str, fields: Mapping[str, Any]) -> tuple[int, list[Send]]:
        """Merge top-level ``fields`` into ``key``'s document (creating it if absent)."""
        self.stats.patches += 1
        version = self._issue(now)
        return version, self._commit(now, key, self.crdt.patch(self.record(key), fields, version))

    def delete(self, now: float, key: str) -> tuple[int, list[Send]]:
        """Tombstone ``key``."""
        self.stats.deletes += 1
        version = self._issue(now)
        return version, self._commit(now, key, self.crdt.delete(version))

    def _issue(self, now: float) -> int:
        clock = self.clock
        clock.observe(self._observed)
        return clock.now(EPOCH_MS + now * 1000.0)

    def _commit(self, now: float, key: str, delta: Record) -> list[Send]:
        rec = self.crdt.join(self._load(key), delta)
        self._save(key, rec)
        if rec.doc is None:
            self._note_tombstone(now, key, rec.version)
        wire = self.crdt.to_wire(delta)
        seq = self.repl.next_local(now, key, wire)
        if not self.peers:
            return []
        op: ShippedOp[Sequence[Any]] = tuple.__new__(ShippedOp, (self.index, seq, key, wire))
        if self.batch_window > 0:
            if not self._batch:
                self._timers.flush = now + self.batch_window
            self._batch.append(op)
            return []
        return self._broadcast(encode_ops(self.index, [op]))

    def _broadcast(self, payload: bytes) -> list[Send]:
        return [self._send(self.peers, payload)]

    def _send(self, dsts: tuple[int, ...], payload: bytes) -> Send:
        stats = self.stats
        stats.messages_sent += len(dsts)
        stats.bytes_sent += len(payload) * len(dsts)
        return Send(dsts, payload)

    # -- incoming ------------------------------------------------------------------------

    def receive(
        self, now: float, payload: bytes, message: OpsBatch | Digest | None = None
    ) -> list[Send]:
        """Merge an arriving message; returns replies (anti-entropy repairs). Idempotent.

        A driver delivering one payload to many regions may pass ``message``, the payload
        already decoded with this CRDT (:func:`decode`), so it is parsed once; decoded
        messages are never mutated.
        """
        stats = self.stats
        stats.messages_received += 1
        stats.bytes_received += len(payload)
        if message is None:
            try:
                message = self._checked(decode(payload, self.crdt.from_wire))
            except ValueError:
                stats.rejected_messages += 1
                return []
        if isinstance(message, Digest):
            return self._on_digest(now, message)
        ops = message.ops
        stats.ops_received += len(ops)
        join, accept = self._merge
        load, save = self._load, self._save
        observed = self._observed
        for origin, seq, key, delta in ops:
            if not accept(now, origin, seq, key, delta):
                stats.duplicates += 1
                continue
            version = delta.version
            if version > observed:
                observed = version
            old = load(key)
            new = join(old, delta)
            if new is not old:
                stats.merges += 1
                save(key, new)
                if new.doc is None:  # a new tombstone, or a newer one than held
                    self._note_tombstone(now, key, new.version)
            if old is not None and version < old.version:
                stats.conflicts += 1
        self._observed = observed
        return []

    def _checked(self, message: OpsBatch | Digest) -> OpsBatch | Digest:
        """``message`` if it comes from another region of this mesh and its region indices,
        sequence numbers and keys fit, so a bad payload is rejected whole before anything
        is merged; ``ValueError`` otherwise. Messages are trusted to be honest, not
        well-formed: a forged vector or clock is not detected."""
        n = len(self.repl.applied)

        def region(i: Any) -> bool:  # another region of this mesh
            return type(i) is int and 0 <= i < n and i != self.index

        if isinstance(message, Digest):
            ok = (
                region(message.sender)
                and isinstance(message.vv, list)
                and len(message.vv) == n
                and all(type(v) is int and v >= 0 for v in message.vv)
                and type(message.clock) is int
                and _ranges_fit(message.extra, message.vv)
            )
        else:
            ok = region(message.sender) and all(
                region(origin) and type(seq) is int and seq > 0 and isinstance(key, str)
                for origin, seq, key, _ in message.ops
            )
        if not ok:
            raise ValueError("replication message does not fit this mesh")
        return message

    def _on_digest(self, now: float, msg: Digest) -> list[Send]:
        self.repl.on_digest(msg.sender, msg.vv, msg.clock, msg.extra)
        if self.anti_entropy is None:  # repairs are anti-entropy's; without it, just listen
            return []
        # The newest vector heard from the sender, not this digest's: digests can arrive
        # out of order, and a stale one would ask again for what a newer one acknowledged.
        missing = self.repl.missing_for(msg.sender, now - self.anti_entropy)
        if not missing:
            return []
        return [self._send((msg.sender,), encode_ops(self.index, missing))]

    # -- tombstones ----------------------------------------------------------------------

    def _note_tombstone(self, now: float, key: str, version: int) -> None:
        heapq.heappush(self._tombstones, (version, key))
        if self.tombstone_grace is not None:
            self._timers.grace.append((now + self.tombstone_grace, key, version))

    def _drop_tombstone(self, key: str, version: int) -> None:
        rec = self.store.get(key)
        if rec is not None and rec.doc is None and rec.version == version:
            del self.store[key]
            self.stats.tombstones_collected += 1

    def _collect_stable(self) -> None:
        stable = self.repl.stable_clock
        heap = self._tombstones
        while heap and heap[0][0] < stable:
            version, key = heapq.heappop(heap)
            self._drop_tombstone(key, version)

    # -- timers --------------------------------------------------------------------------

    @property
    def deadline(self) -> float:
        """When :meth:`tick` next has work (``inf`` if never)."""
        t = self._timers
        grace = t.grace[0][0] if t.grace else _INF
        return min(t.flush, t.anti_entropy, grace)

    def tick(self, now: float) -> list[Send]:
        """Run whatever timers are due at ``now``: flush the batch, broadcast a digest,
        collect tombstones whose grace period is over."""
        t = self._timers
        out: list[Send] = []
        if t.flush <= now:
            t.flush = _INF
            batch, self._batch = self._batch, []
            out.extend(self._broadcast(encode_ops(self.index, batch)))
        if t.anti_entropy <= now:
            assert self.anti_entropy is not None
            t.anti_entropy = now + self.anti_entropy
            self.clock.observe(self._observed)
            clock = self.clock.peek(EPOCH_MS + now * 1000.0)
            self.repl.report(clock)
            self.repl.advance()
            self._collect_stable()
            extra = self.repl.extra_ranges(now - self.anti_entropy * YOUNG_EXTRA)
            digest = encode_digest(self.index, self.repl.applied, clock, extra)
            out.extend(self._broadcast(digest))
        grace = t.grace
        while grace and grace[0][0] <= now:
            _, key, version = grace.popleft()
            self._drop_tombstone(key, version)
        return out

    @property
    def pending(self) -> int:
        """Writes buffered for the next batch."""
        return len(self._batch)


class CompactRegionNode(RegionNode):
    """A region that keeps documents msgpack-encoded: about 40% less memory per key with
    small documents, at the price of decoding on every read (O(document size)).
    Documents round-trip through msgpack, so tuples come back as lists."""

    def peek(self, key: str) -> dict[str, Any] | None:
        """A freshly decoded copy of the local document, or None."""
        rec = self.store.get(key)
        if rec is None or rec.doc is None:
            return None
        doc: dict[str, Any] = _unpackb(rec.doc)
        return doc

    def record(self, key: str) -> Record | None:
        rec = self.store.get(key)
        if rec is None or rec.doc is None:
            return rec
        return rec._replace(doc=_unpackb(rec.doc))

    def _accessors(
        self,
    ) -> tuple[Callable[[str], Record | None], Callable[[str, Record], None]]:
        return self.record, self._pack

    def _pack(self, key: str, rec: Record) -> None:
        doc = rec.doc
        self.store[key] = rec if doc is None else rec._replace(doc=_packb(doc))
