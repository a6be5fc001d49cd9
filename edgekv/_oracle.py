"""The global oracle: every committed version of every key, so a read can be scored as fresh
or stale (versions behind, and for how long a newer version had already been committed)."""

from __future__ import annotations

from bisect import bisect_right

__all__ = ["Oracle"]


class Oracle:
    """Committed versions per key, sorted, with their commit times (seconds)."""

    __slots__ = ("_versions", "_times", "max_history")

    def __init__(self, max_history: int | None = None) -> None:
        self._versions: dict[str, list[int]] = {}
        self._times: dict[str, list[float]] = {}
        self.max_history = max_history
        """Keep at most this many newest versions per key (None: all), so a long-running
        server's memory stays bounded; versions behind are then counted up to this cap."""

    def commit(self, key: str, version: int, now: float) -> None:
        """Record a committed write. O(1) when versions arrive in order, O(k) otherwise."""
        versions = self._versions.get(key)
        if versions is None:
            self._versions[key] = [version]
            self._times[key] = [now]
            return
        if version > versions[-1]:
            versions.append(version)
            self._times[key].append(now)
        else:
            i = bisect_right(versions, version)
            versions.insert(i, version)
            self._times[key].insert(i, now)
        cap = self.max_history
        if cap is not None and len(versions) > cap:
            del versions[:-cap]
            del self._times[key][:-cap]

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

    def history(self, key: str) -> list[tuple[int, float]]:
        """Every committed ``(version, commit time)`` of ``key`` in version order."""
        return list(zip(self._versions.get(key, ()), self._times.get(key, ()), strict=True))

    def keys(self) -> list[str]:
        """Every key ever written."""
        return list(self._versions)
