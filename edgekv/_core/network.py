"""The network between regions: per-link delay distributions, loss, duplication and
partitions (manual or scheduled). Sans-IO: it decides when copies of a message arrive,
the driver delivers them."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .config import Config
from .distributions import DelayStream, Uniform

__all__ = ["Network", "NetworkStats"]


class NetworkStats:
    """Message counters of the whole network."""

    __slots__ = ("sent", "delivered", "lost", "duplicated", "partitioned")

    def __init__(self) -> None:
        self.sent = 0
        self.delivered = 0
        self.lost = 0
        self.duplicated = 0
        self.partitioned = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return {name: getattr(self, name) for name in self.__slots__}


class Network:
    """Decides each replication message's fate. A copy's delay is the link's lag draw, never
    below half the link's RTT (the physical floor), plus jitter."""

    def __init__(self, cfg: Config, rng: np.random.Generator) -> None:
        names = cfg.names
        n = len(names)
        self.names = names
        self._index = {name: i for i, name in enumerate(names)}
        children = rng.spawn(n * n + 2)
        self._lag = [
            [DelayStream(cfg.link_lag_for(a, b), children[i * n + j]) for j, b in enumerate(names)]
            for i, a in enumerate(names)
        ]
        self._floor = [[cfg.rtt[(a, b)] / 2 for b in names] for a in names]
        self._jitter = DelayStream(cfg.jitter, children[n * n])
        self._has_jitter = cfg.jitter.mean > 0
        self._coin = DelayStream(Uniform(0.0, 1.0), children[n * n + 1])
        self._loss = cfg.loss
        self._duplicate = cfg.duplicate
        self._scheduled = [
            (self._index[p.a], self._index[p.b], p.start, p.end) for p in cfg.partitions
        ]
        self._cut: set[tuple[int, int]] = set()
        self.paused: set[tuple[int, int]] = set()
        """Directed links whose deliveries the driver holds back until :meth:`resume`."""
        self._drop_next = 0
        self._dup_next = 0
        self.stats = NetworkStats()
        # No loss, duplication, jitter or scheduled partition: route() takes a short path.
        self._plain = not (self._loss or self._duplicate or self._has_jitter or self._scheduled)

    def index(self, region: str) -> int:
        """Index of a region name; ``KeyError`` listing the known names otherwise."""
        try:
            return self._index[region]
        except KeyError:
            raise KeyError(f"unknown region {region!r}; known: {', '.join(self.names)}") from None

    def _link(self, a: str, b: str, what: str) -> tuple[int, int]:
        """The indices of two distinct regions; ``ValueError`` for a region's link to itself."""
        i, j = self.index(a), self.index(b)
        if i == j:
            raise ValueError(f"cannot {what} a region's link to itself ({a!r})")
        return i, j

    def _some(self, a: str | None, b: str | None, what: str) -> tuple[int, int] | None:
        """The link named by two regions, or None for every link when called bare;
        ``TypeError`` for one region alone (which would otherwise act on every link)."""
        if a is None and b is None:
            return None
        if a is None or b is None:
            raise TypeError(f"{what}() takes two region names, or none to {what} every link")
        return self._link(a, b, what)

    def partition(self, a: str, b: str) -> None:
        """Cut the link between ``a`` and ``b`` both ways until :meth:`heal`."""
        i, j = self._link(a, b, "partition")
        self._cut |= {(i, j), (j, i)}

    def isolate(self, region: str) -> None:
        """Cut every link of ``region``."""
        i = self.index(region)
        for j in range(len(self.names)):
            if j != i:
                self._cut |= {(i, j), (j, i)}

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        """Restore the link between ``a`` and ``b``, or every manual cut when called bare."""
        link = self._some(a, b, "heal")
        if link is None:
            self._cut.clear()
        else:
            i, j = link
            self._cut -= {(i, j), (j, i)}

    def partitioned(self, src: int, dst: int, now: float) -> bool:
        """True while the link ``src -> dst`` is cut, manually or by the config's schedule."""
        if (src, dst) in self._cut:
            return True
        for a, b, start, end in self._scheduled:
            if start <= now < end and (a, b) in ((src, dst), (dst, src)):
                return True
        return False

    def blocked(self, src: int, dst: int, now: float) -> bool:
        """True when a request sent now from ``src`` to ``dst`` is lost: the link is cut
        (manually or by the schedule) or paused. Requests are never held: a client's
        time-out, not the link, decides how long it waits. O(scheduled partitions)."""
        if src == dst:
            return False
        if self.paused and (src, dst) in self.paused:
            return True
        return bool(self._cut or self._scheduled) and self.partitioned(src, dst, now)

    def any_partition(self, now: float) -> bool:
        """True while any link is cut."""
        return bool(self._cut) or any(s <= now < e for _, _, s, e in self._scheduled)

    def pause(self, a: str, b: str) -> None:
        """Hold back every delivery between ``a`` and ``b`` (both ways) until :meth:`resume`.
        Unlike a partition nothing is lost: messages wait and arrive on resume."""
        i, j = self._link(a, b, "pause")
        self.paused |= {(i, j), (j, i)}

    def resume(self, a: str | None = None, b: str | None = None) -> None:
        """Release the link between ``a`` and ``b``, or every paused link when called bare."""
        link = self._some(a, b, "resume")
        if link is None:
            self.paused.clear()
        else:
            i, j = link
            self.paused -= {(i, j), (j, i)}

    def drop_next(self, count: int) -> None:
        """Lose the next ``count`` messages, whatever their link."""
        self._drop_next += count

    def duplicate_next(self, count: int) -> None:
        """Deliver the next ``count`` messages twice."""
        self._dup_next += count

    def route(self, src: int, dst: int, now: float) -> Iterable[float]:
        """Delays (seconds) after which copies of a message sent now arrive; empty if lost."""
        stats = self.stats
        stats.sent += 1
        if self._plain and not (self._cut or self._drop_next or self._dup_next):
            delay = self._lag[src][dst]()
            floor = self._floor[src][dst]
            return (delay if delay > floor else floor,)
        if (self._cut or self._scheduled) and self.partitioned(src, dst, now):
            stats.partitioned += 1
            return ()
        if self._drop_next:
            self._drop_next -= 1
            stats.lost += 1
            return ()
        if self._loss and self._coin() < self._loss:
            stats.lost += 1
            return ()
        copies = 1
        if self._dup_next:
            self._dup_next -= 1
            copies = 2
        elif self._duplicate and self._coin() < self._duplicate:
            copies = 2
        if copies == 2:
            stats.duplicated += 1
        stream = self._lag[src][dst]
        floor = self._floor[src][dst]
        out = []
        for _ in range(copies):
            delay = stream()
            if delay < floor:
                delay = floor
            if self._has_jitter:
                delay += self._jitter()
            out.append(delay)
        return out
