"""Probabilistically bounded staleness (Bailis et al., VLDB 2012): quorum t-visibility and
k-staleness, vectorised and event-driven, with the paper's latency profiles."""

from __future__ import annotations

from ._quorum import (
    CHUNK,
    PROFILES,
    LatencyProfile,
    QuorumDraws,
    QuorumModel,
    QuorumOutcomes,
    QuorumResult,
    k_staleness_closed_form,
)

__all__ = [
    "CHUNK",
    "PROFILES",
    "LatencyProfile",
    "QuorumDraws",
    "QuorumModel",
    "QuorumOutcomes",
    "QuorumResult",
    "k_staleness_closed_form",
]

for _name in __all__:
    _value = globals()[_name]
    if hasattr(_value, "__qualname__"):
        _value.__module__ = __name__
