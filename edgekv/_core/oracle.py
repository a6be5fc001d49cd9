"""The global oracle: every committed write of every key, so a read can be scored as fresh
or stale (writes missed, and for how long the first of them had been committed).

A read misses a write when the record it returned does not reflect it. Under ``item``
granularity that is a version newer than the record's. Under ``field`` granularity a record
can hold a newer write to one field and still miss an older write to another, so a write is
reflected only when the record's floor (newest put or delete) is at least its version or,
for a patch, every field it wrote holds its version or a newer one."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from .crdt import FieldLWW, PlainRecord, Record

__all__ = ["Oracle"]


class Oracle:
    """Committed versions per key, sorted, with their commit times (seconds) and, under
    field granularity, the top-level fields each patch wrote."""

    __slots__ = ("_versions", "_times", "_fields", "max_history", "field_granularity", "missed")

    def __init__(self, max_history: int | None = None, *, granularity: str = "item") -> None:
        self._versions: dict[str, list[int]] = {}
        self._times: dict[str, list[float]] = {}
        self._fields: dict[str, list[tuple[str, ...] | None]] = {}
        self.max_history = max_history
        """Keep at most this many newest versions per key (None: all), so a long-running
        server's memory stays bounded; versions behind are then counted up to this cap."""
        self.field_granularity = granularity == "field"
        """Score reads field by field (records are :class:`FieldLWW` records)."""
        self.missed: list[tuple[int, float]] = []
        """``(version, commit time)`` of every write the last :meth:`score` found missed, for
        callers that judge a stale read further (e.g. against the physical floor)."""

    def commit(
        self, key: str, version: int, now: float, fields: Iterable[str] | None = None
    ) -> None:
        """Record a committed write; ``fields`` are the top-level fields a patch wrote (None
        for a put or delete, which decide every field). O(1) when versions arrive in order,
        O(k) otherwise."""
        written = tuple(fields) if fields is not None and self.field_granularity else None
        versions = self._versions.get(key)
        if versions is None:
            self._versions[key] = [version]
            self._times[key] = [now]
            self._fields[key] = [written]
            return
        if version > versions[-1]:
            versions.append(version)
            self._times[key].append(now)
            self._fields[key].append(written)
        else:
            i = bisect_right(versions, version)
            versions.insert(i, version)
            self._times[key].insert(i, now)
            self._fields[key].insert(i, written)
        cap = self.max_history
        if cap is not None and len(versions) > cap:
            del versions[:-cap]
            del self._times[key][:-cap]
            del self._fields[key][:-cap]

    def latest(self, key: str) -> int:
        """The LWW winner so far (0 if never written)."""
        versions = self._versions.get(key)
        return versions[-1] if versions else 0

    def staleness(self, key: str, seen: int, now: float) -> tuple[int, float]:
        """``(versions behind, seconds since the first newer version committed)`` for a read
        that saw version ``seen``; ``(0, 0.0)`` when it saw the newest. O(log k)."""
        versions = self._versions.get(key)
        if not versions or seen >= versions[-1]:
            return 0, 0.0
        i = bisect_right(versions, seen)
        return len(versions) - i, now - min(self._times[key][i:])

    def score(self, key: str, rec: Record | None, latest: int, start: float) -> tuple[int, float]:
        """``(writes missed, seconds the first of them had been committed at start)`` for a
        read that began at ``start``, when ``latest`` was the newest version, and returned
        ``rec``: the writes of versions up to ``latest`` committed by ``start`` that ``rec``
        does not reflect; ``(0, 0.0)`` when fresh. Also sets :attr:`missed`. O(log k) when
        fresh by floor, else O(writes above the record's floor x fields written)."""
        self.missed = []
        versions = self._versions.get(key)
        if not versions:
            return 0, 0.0
        fv: dict[str, int] | None = None
        if rec is None:
            floor = 0
        elif self.field_granularity:
            floor = rec[2] if len(rec) > 2 else 0  # a patch's short form has floor 0
        else:
            floor = rec.version
        if floor >= latest:
            return 0, 0.0
        if rec is not None and self.field_granularity:
            fv = FieldLWW.expand(rec).field_versions
        times, written = self._times[key], self._fields[key]
        missed = self.missed
        for i in range(bisect_right(versions, floor), bisect_right(versions, latest)):
            committed = times[i]
            if committed > start:
                continue
            version, fields = versions[i], written[i]
            if fv is not None and fields is not None:
                for f in fields:
                    if fv.get(f, -1) < version:
                        break
                else:  # the record holds every field the patch wrote at its version or newer
                    continue
            missed.append((version, committed))
        if not missed:
            return 0, 0.0
        return len(missed), start - min(t for _, t in missed)

    def score_version(self, key: str, version: int, latest: int, start: float) -> tuple[int, float]:
        """:meth:`score` for a store whose records are whole items: a read that returned
        ``version`` (0: nothing) of ``key``."""
        return self.score(key, PlainRecord(None, version) if version else None, latest, start)

    def history(self, key: str) -> list[tuple[int, float]]:
        """Every committed ``(version, commit time)`` of ``key`` in version order."""
        return list(zip(self._versions.get(key, ()), self._times.get(key, ()), strict=True))

    def keys(self) -> list[str]:
        """Every key ever written."""
        return list(self._versions)
