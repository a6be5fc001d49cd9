"""Request latencies from geography: region-to-region delays from the config's RTT matrix
(measured where given, else great-circle distance x route inflation over the fiber speed,
never below that floor) plus jitter, and the client population with its client-to-edge delay.

Replication delays live in :class:`~edgekv.lowlevel.Network`; this model prices the requests
a client or a region forwards (single-home round trips, forwarded consistent reads). Every
draw flows from ``np.random.default_rng([seed, stream])``: same seed, same latencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import FIBER_KM_PER_S, Config, great_circle_km
from .distributions import DelayStream

__all__ = ["ClientGroup", "LatencyModel", "topology"]

STREAM_LATENCY = 100
"""Default ``stream`` of a :class:`LatencyModel`'s generator (the network uses 0)."""


@dataclass(frozen=True, slots=True)
class ClientGroup:
    """Clients of one city, served by the region of the same index; ``share`` sums to 1."""

    region: int
    name: str
    city: str
    lat: float
    lon: float
    share: float


class LatencyModel:
    """Seeded request delays between regions and from clients to their edge region.

    The config row is the source, so ``rtt[a][b]`` is the round trip as measured from ``a``:
    a request from ``a`` to ``b`` and its reply each take ``one_way(a, b)`` = ``rtt[a][b] / 2``
    plus a jitter draw (price both legs from the requester's side), and
    ``round_trip(a, b)`` is ``rtt[a][b]`` plus two draws. Both are 0 within a region. Draws
    are O(1) amortised.
    """

    __slots__ = ("rtt", "groups", "_jitter", "_has_jitter", "_client", "_who", "_cum")

    def __init__(self, cfg: Config, seed: int, *, stream: int = STREAM_LATENCY) -> None:
        names = cfg.names
        self.rtt: list[list[float]] = [[cfg.rtt[(a, b)] for b in names] for a in names]
        """Round-trip time in seconds, ``rtt[src][dst]``."""
        total = sum(r.weight for r in cfg.regions)
        self.groups = tuple(
            ClientGroup(r.index, r.name, r.city, r.lat, r.lon, r.weight / total)
            for r in cfg.regions
        )
        jitter_rng, client_rng, who_rng = np.random.default_rng([seed, stream]).spawn(3)
        self._jitter = DelayStream(cfg.jitter, jitter_rng)
        self._has_jitter = cfg.jitter.mean > 0
        self._client = DelayStream(cfg.client_delay, client_rng)
        self._who = who_rng
        self._cum = np.cumsum([g.share for g in self.groups])
        self._cum[-1] = 1.0

    def one_way(self, src: int, dst: int) -> float:
        """Seconds for one leg of a request from region ``src`` to ``dst`` (either way)."""
        if src == dst:
            return 0.0
        delay = self.rtt[src][dst] / 2
        return delay + self._jitter() if self._has_jitter else delay

    def round_trip(self, src: int, dst: int) -> float:
        """Seconds for a request from ``src`` to ``dst`` and its answer back (no service)."""
        if src == dst:
            return 0.0
        delay = self.rtt[src][dst]
        return delay + self._jitter() + self._jitter() if self._has_jitter else delay

    def client_delay(self) -> float:
        """One-way seconds from a client to its edge region (config ``client_delay``)."""
        return self._client()

    def client_regions(self, n: int) -> np.ndarray:
        """Home regions of ``n`` clients drawn from the population weights (int array)."""
        return np.searchsorted(self._cum, self._who.random(n), side="right").clip(
            0, len(self.groups) - 1
        )


def topology(cfg: Config) -> dict[str, Any]:
    """The topology as plain data: regions (with client share and clock skew in ms) and the
    RTT matrix in ms, each entry marked measured or geo-derived, with its fiber floor."""
    total = sum(r.weight for r in cfg.regions)
    regions = [
        {
            "name": r.name,
            "city": r.city,
            "lat": r.lat,
            "lon": r.lon,
            "weight": r.weight,
            "share": r.weight / total,
            "clock_skew_ms": r.clock_skew * 1e3,
        }
        for r in cfg.regions
    ]
    matrix = []
    for a in cfg.regions:
        row = []
        for b in cfg.regions:
            km = great_circle_km(a.lat, a.lon, b.lat, b.lon)
            row.append(
                {
                    "to": b.name,
                    "rtt_ms": cfg.rtt[(a.name, b.name)] * 1e3,
                    "measured": (a.name, b.name) in cfg.rtt_measured,
                    "km": km,
                    "floor_ms": 2 * km / FIBER_KM_PER_S * 1e3,
                }
            )
        matrix.append({"from": a.name, "to": row})
    return {
        "source": cfg.source,
        "route_inflation": cfg.route_inflation,
        "jitter": cfg.jitter.describe(),
        "client_delay": cfg.client_delay.describe(),
        "service_time_ms": cfg.service_time * 1e3,
        "regions": regions,
        "rtt_ms": matrix,
    }
