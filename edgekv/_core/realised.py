"""Realised replication lag: per link (origin region -> destination region), the commit-to-
apply times a mesh actually shows, beside the configured lag distribution.

They differ because a message never arrives before half the link's RTT, because batching
delays it, and because anti-entropy repairs an op as soon as a digest reveals it missing: a
digest period shorter than the lag's median quietly replaces most of the configured lag.
:func:`lag_warnings` says so for a config; :func:`probe` measures it on a short seeded run.
"""

from __future__ import annotations

import math
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import Config
from .distributions import (
    Distribution,
    median,
)

if TYPE_CHECKING:
    from .mesh import Mesh
    from .replication import OpsBatch

__all__ = [
    "LagTracker",
    "LagWarning",
    "LinkLag",
    "lag_report",
    "lag_warnings",
    "link_lags",
    "median",
    "probe",
]

_DRAWS = 200_000
"""Seeded draws behind the configured quantiles (and the median without a closed form)."""

WINDOW = 10_000
"""Realised samples kept per link (the newest): the realised quantiles and mean are of these."""


class LagWarning(UserWarning):
    """A configured lag that anti-entropy will mostly override (see :func:`lag_warnings`)."""


def lag_warnings(cfg: Config) -> list[str]:
    """One line per lag distribution (the default, then each ``links`` entry) whose median
    exceeds the anti-entropy period: repairs then deliver most ops before the lag does."""
    period = cfg.anti_entropy
    if period is None:
        return []
    out = []
    entries = [("replication.lag", cfg.lag)] + [
        (f"replication.links {a} -> {b}", dist) for (a, b), dist in cfg.link_lag.items()
    ]
    for where, dist in entries:
        m = median(dist)
        if m > period:
            out.append(
                f"{where}: median {m * 1e3:g} ms is longer than the anti-entropy period "
                f"({period * 1e3:g} ms), so digests repair most writes first and the realised "
                "lag is shorter than configured; set replication.anti_entropy longer (or null) "
                "to simulate this lag"
            )
    return out


@dataclass(frozen=True, slots=True)
class LinkLag:
    """Configured and realised commit-to-apply lag of one link, in seconds. The configured
    figures are of the link's lag with the network's floor (half the RTT) applied, from
    seeded draws; ``n`` ops were observed, and the realised figures are of the last
    :data:`WINDOW` of them (NaN when none)."""

    src: str
    dst: str
    configured: str
    configured_p50: float
    configured_p99: float
    configured_mean: float
    n: int
    p50: float
    p99: float
    mean: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, in milliseconds (None for a figure without samples)."""

        def ms(x: float) -> float | None:
            return None if math.isnan(x) else x * 1e3

        return {
            "from": self.src,
            "to": self.dst,
            "configured": self.configured,
            "configured_ms": {
                "p50": ms(self.configured_p50),
                "p99": ms(self.configured_p99),
                "mean": ms(self.configured_mean),
            },
            "realised_ms": {
                "n": self.n,
                "p50": ms(self.p50),
                "p99": ms(self.p99),
                "mean": ms(self.mean),
            },
        }


class _Commit:
    """A write's commit time and how many regions have yet to apply it."""

    __slots__ = ("at", "waiting")

    def __init__(self, at: float, waiting: int) -> None:
        self.at = at
        self.waiting = waiting


class LagTracker:
    """Records, per link, how long each write took from its commit at the origin to its
    first application at every other region (by replication or by anti-entropy repair).
    Attach with :meth:`Mesh.track_lag` before the writes to measure. Memory stays bounded for
    a long-running server: the last ``window`` samples per link are kept (``counts`` has
    them all), and a write's commit time is dropped once every region applied it. O(1) per op
    delivered."""

    __slots__ = ("_cfg", "_nodes", "_now", "_commits", "samples", "counts")

    def __init__(self, mesh: Mesh, window: int = WINDOW) -> None:
        n = len(mesh.nodes)
        self._cfg = mesh.cfg
        self._nodes = mesh.nodes
        self._now = weakref.WeakMethod(mesh.now)
        """The mesh's clock, held weakly: the mesh holds the tracker, so mesh and tracker
        form no reference cycle and a finished run is freed by reference counting (only the
        mesh itself calls :meth:`_written`, so the mesh is alive then)."""
        self._commits: list[dict[int, _Commit]] = [{} for _ in range(n)]
        """Per origin, ``seq ->`` its commit, until every region applied it."""
        self.samples: list[list[deque[float]]] = [
            [deque(maxlen=window) for _ in range(n)] for _ in range(n)
        ]
        """``samples[src][dst]``: commit-to-apply seconds of the last ops of ``src`` at ``dst``."""
        self.counts = [[0] * n for _ in range(n)]
        """``counts[src][dst]``: ops of ``src`` applied at ``dst`` since tracking began."""
        mesh.on_write(self._written)
        mesh.on_receive(self._receiving)

    def _written(self, region: int, key: str, version: int) -> None:
        nodes = self._nodes
        seq = nodes[region].repl.applied[region]
        if len(nodes) > 1:
            now = self._now()
            assert now is not None  # the mesh calls this
            self._commits[region][seq] = _Commit(now(), len(nodes) - 1)

    def _receiving(self, dst: int, batch: OpsBatch, now: float) -> None:
        holds = self._nodes[dst].repl.holds
        by_origin = self._commits
        for origin, seq, _key, _delta in batch.ops:
            commits = by_origin[origin]
            entry = commits.get(seq)
            if entry is None or holds(origin, seq):
                continue
            self.samples[origin][dst].append(now - entry.at)
            self.counts[origin][dst] += 1
            entry.waiting -= 1
            if not entry.waiting:
                del commits[seq]

    @property
    def tracking(self) -> int:
        """Writes whose commit time is still kept (some region has yet to apply them)."""
        return sum(map(len, self._commits))

    def summary(self) -> list[LinkLag]:
        """Every link's configured and realised lag, in config order. O(samples log)."""
        return link_lags(self._cfg, self.samples, self.counts)

    def report(self) -> dict[str, Any]:
        """:func:`lag_report` of what the tracker saw."""
        return lag_report(self._cfg, self.samples, self.counts)


def lag_report(
    cfg: Config, samples: Sequence[Sequence[Sequence[float]]], counts: Sequence[Sequence[int]]
) -> dict[str, Any]:
    """The realised lag pooled over every link (ops counted, samples kept, p50/p99/mean in
    seconds) and per link (:func:`link_lags`): the one report of the event and vectorised
    paths. O(samples log samples)."""
    pooled = np.concatenate(
        [np.asarray(link, dtype=float) for row in samples for link in row] or [np.empty(0)]
    )
    figures: dict[str, float | None] = {"p50": None, "p99": None, "mean": None}
    if len(pooled):
        p50, p99 = np.percentile(pooled, [50, 99]).tolist()
        figures = {"p50": p50, "p99": p99, "mean": float(pooled.mean())}
    return {
        "all": {"n": int(sum(map(sum, counts))), "sampled": len(pooled), **figures},
        "links": [link.as_dict() for link in link_lags(cfg, samples, counts)],
    }


def link_lags(
    cfg: Config, samples: Sequence[Sequence[Sequence[float]]], counts: Sequence[Sequence[int]]
) -> list[LinkLag]:
    """Each link's realised lag (``samples[src][dst]``, ``counts[src][dst]``) beside the lag
    ``cfg`` configures for it; the one summary every path (event, vectorised) reports.
    O(distributions x draws log draws + samples log samples)."""
    names = cfg.names
    realised = _realised(
        [
            np.asarray(samples[i][j], dtype=float)
            for i in range(len(names))
            for j in range(len(names))
        ]
    )
    out = []
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i == j:
                continue
            dist, floor = cfg.link_lag_for(a, b), cfg.rtt[(a, b)] / 2
            c50, c99, cmean = _drawn(dist).floored(floor)
            r50, r99, mean = realised[i * len(names) + j]
            out.append(
                LinkLag(a, b, dist.describe(), c50, c99, cmean, counts[i][j], r50, r99, mean)
            )
    return out


@lru_cache(maxsize=8)
def _drawn(dist: Distribution) -> _Drawn:
    """:data:`_DRAWS` seeded draws of ``dist``, the same for every floor and every run of a
    config: drawn and sorted once per distribution (memoised; about 3 MB each)."""
    return _Drawn(dist.sample(np.random.default_rng(0), _DRAWS))


class _Drawn:
    """Seeded draws of a lag distribution, sorted, with prefix sums: the configured p50, p99
    and mean with any floor applied in O(log draws)."""

    __slots__ = ("ordered", "sums", "unfloored")

    def __init__(self, raw: np.ndarray) -> None:
        self.ordered = np.sort(raw)
        self.sums = np.r_[0.0, np.cumsum(self.ordered)]
        self.unfloored = np.percentile(self.ordered, [50, 99])

    def floored(self, floor: float) -> tuple[float, float, float]:
        """p50, p99 and mean of ``max(draw, floor)``."""
        ordered = self.ordered
        # The floor keeps the order, so these are the floored draws' order statistics; a
        # floor below the order statistics under the median leaves them as drawn.
        if floor <= ordered[(len(ordered) - 1) // 2]:
            p50, p99 = self.unfloored
        else:
            p50, p99 = np.percentile(np.maximum(ordered, floor), [50, 99])
        below = int(np.searchsorted(ordered, floor, side="left"))
        mean = (floor * below + (self.sums[-1] - self.sums[below])) / len(ordered)
        return float(p50), float(p99), float(mean)


def _realised(links: list[np.ndarray]) -> list[tuple[float, float, float]]:
    """p50, p99 and mean of each link's samples (NaN for none); links with as many samples
    share one vectorised percentile call. O(samples log samples)."""
    out = [(math.nan, math.nan, math.nan)] * len(links)
    by_size: dict[int, list[int]] = {}
    for k, got in enumerate(links):
        if len(got):
            by_size.setdefault(len(got), []).append(k)
    for which in by_size.values():
        stacked = np.stack([links[k] for k in which])
        p50, p99 = np.percentile(stacked, [50, 99], axis=1)
        means = stacked.mean(axis=1)
        for k, a, b, m in zip(which, p50.tolist(), p99.tolist(), means.tolist(), strict=True):
            out[k] = (a, b, m)
    return out


def probe(cfg: Config, seed: int = 1, writes: int = 200, duration: float = 60.0) -> list[LinkLag]:
    """Realised lag on a seeded run of ``cfg``: each region patches ``writes`` fresh keys at
    uniformly random times over ``duration`` seconds, then the mesh runs until every op
    reached every region (or 600 s more). O(regions^2 x writes) deliveries."""
    from .kernel import Kernel
    from .mesh import Mesh

    kernel = Kernel()
    mesh = Mesh(cfg, seed, kernel)
    tracker = mesh.track_lag()
    rng = np.random.default_rng([seed, 17])
    for region in range(len(cfg.regions)):
        for k, when in enumerate(np.sort(rng.uniform(0.0, duration, writes)).tolist()):
            kernel.call_at(when, mesh.write, region, "patch", f"probe:{region}:{k}", {"n": k})
    t = duration
    kernel.run(until=t)
    while not mesh.quiet() and t < duration + 600.0:
        t += 1.0
        kernel.run(until=t)
    mesh.close()
    return tracker.summary()
