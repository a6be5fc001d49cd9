"""Validating a parsed ``regions.yaml`` into an immutable :class:`Config` (reading files is
:mod:`edgekv._drivers.files`'s job: the core does no I/O).

Every mistake raises :class:`ConfigError` naming the field path and what is allowed; a config
that loads is physically possible (no RTT below the fiber floor of the great-circle distance).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .cost import Prices, parse_prices
from .distributions import Constant, Distribution, median, parse_distribution, parse_duration
from .errors import ConfigError

__all__ = [
    "FIBER_KM_PER_S",
    "Config",
    "PartitionWindow",
    "RegionSpec",
    "build_config",
    "great_circle_km",
]

FIBER_KM_PER_S = 204_000.0
"""Speed of light in optical fiber (about 2/3 c): the physical floor for any delay."""

EARTH_RADIUS_KM = 6371.0
GRANULARITIES = ("field", "item")
CLOCKS = ("hlc", "wall")
MAX_CLOCK_SKEW = 86400.0
"""Largest accepted clock skew of a region (seconds): a day."""
MIN_ANTI_ENTROPY = 0.01
"""Shortest anti-entropy period (seconds): shorter ones flood the network with digests."""
_MAX_RTT_MS = 60_000.0
_MAX_WEIGHT = 1e9
_MAX_INFLATION = 100.0


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class RegionSpec:
    """One region: where it is, its share of clients and its clock skew (seconds)."""

    name: str
    index: int
    city: str
    lat: float
    lon: float
    weight: float
    clock_skew: float


@dataclass(frozen=True, slots=True)
class PartitionWindow:
    """Regions ``a`` and ``b`` cannot exchange messages during ``[start, end)`` seconds."""

    a: str
    b: str
    start: float
    end: float


@dataclass(frozen=True)
class Config:
    """A validated, immutable topology and model configuration.

    Times are seconds. ``rtt`` holds every ordered pair: measured where the YAML gives it,
    otherwise great-circle distance x ``route_inflation`` over the fiber speed.
    """

    regions: tuple[RegionSpec, ...]
    rtt: Mapping[tuple[str, str], float]
    rtt_measured: frozenset[tuple[str, str]]
    route_inflation: float
    jitter: Distribution
    client_delay: Distribution
    service_time: float
    lag: Distribution
    link_lag: Mapping[tuple[str, str], Distribution]
    batch_window: float
    loss: float
    duplicate: float
    anti_entropy: float | None
    partitions: tuple[PartitionWindow, ...]
    granularity: str
    clock: str
    tombstone_grace: float | None
    compact: bool = False
    request_timeout: float = 2.0
    """Seconds after which an operation that could not complete (a request lost on a cut or
    paused link) completes as ``unavailable``."""
    systems: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    """Each system's options from the YAML ``systems:`` section, as written (the system
    checks them when it is built: see :func:`edgekv.lowlevel.make_store`)."""
    prices: Prices = field(default_factory=Prices)
    """USD list prices of the ``prices:`` section, for the cost model (:mod:`edgekv._core.cost`)."""
    source: str = ""
    _by_name: Mapping[str, RegionSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", MappingProxyType({r.name: r for r in self.regions}))
        from .realised import LagWarning, lag_warnings  # it imports this module

        for message in lag_warnings(self):
            warnings.warn(message, LagWarning, stacklevel=3)

    @property
    def names(self) -> tuple[str, ...]:
        """Region names in config order."""
        return tuple(r.name for r in self.regions)

    def region(self, name: str) -> RegionSpec:
        """The region called ``name``; ``KeyError`` naming the known regions otherwise."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown region {name!r}; known: {', '.join(self.names)}") from None

    def link_lag_for(self, src: str, dst: str) -> Distribution:
        """The replication lag distribution from ``src`` to ``dst``."""
        return self.link_lag.get((src, dst), self.lag)

    def floor(self, a: str, b: str) -> float:
        """Physical minimum one-way delay between two regions (seconds)."""
        ra, rb = self.region(a), self.region(b)
        return great_circle_km(ra.lat, ra.lon, rb.lat, rb.lon) / FIBER_KM_PER_S

    def floors(self) -> list[list[float]]:
        """:meth:`floor` for every ordered pair of regions, by index (seconds). O(regions^2)."""
        return [[self.floor(a, b) for b in self.names] for a in self.names]

    def replace(self, **changes: Any) -> Config:
        """A copy with fields replaced, validated like the YAML. Distributions may be given
        as specs (``cfg.replace(lag="exp:100ms")``); durations as strings with units or, as
        everywhere in the Python API, numbers of seconds (``tombstone_grace=30.0``)."""
        for key in ("lag", "jitter", "client_delay"):
            if key in changes:
                value = changes[key]
                if _is_number(value):
                    value = Constant(_api_seconds(value, key))
                changes[key] = parse_distribution(value, key)
        for key in ("loss", "duplicate"):
            if key in changes:
                changes[key] = _fraction(changes[key], key)
        if "granularity" in changes:
            _choice(changes["granularity"], "store.granularity", GRANULARITIES)
        if "clock" in changes:
            _choice(changes["clock"], "store.clock", CLOCKS)
        for key in ("batch_window", "service_time"):
            if key in changes:
                changes[key] = _api_seconds(changes[key], key)
        for key in ("anti_entropy", "tombstone_grace", "request_timeout"):
            if changes.get(key) is not None:
                changes[key] = _api_seconds(changes[key], key, allow_zero=False)
        if changes.get("anti_entropy") is not None:
            _check_anti_entropy(changes["anti_entropy"], "anti_entropy")
        if "compact" in changes and not isinstance(changes["compact"], bool):
            raise ConfigError(
                "store.compact", f"expected true or false, got {changes['compact']!r}"
            )
        out = dataclasses.replace(self, **changes)
        _check_grace(out, "tombstone_grace")
        return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _api_seconds(value: Any, path: str, *, allow_zero: bool = True) -> float:
    """A duration from Python code: a number of seconds, or a string with units."""
    if _is_number(value):
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            kind = "non-negative" if allow_zero else "positive"
            raise ConfigError(path, f"expected a {kind} number of seconds, got {value!r}")
        return float(value)
    return parse_duration(value, path, allow_zero=allow_zero)


def _bounded(value: Any, path: str, low: float, high: float, what: str) -> float:
    """A number in ``low..high`` (NaN, infinities and ints beyond float range fail)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(path, f"expected {what} in {low:g}..{high:g}, got {value!r}")
    return float(value)


def _check_anti_entropy(period: float, path: str) -> None:
    if period < MIN_ANTI_ENTROPY:
        raise ConfigError(
            path,
            f"{period * 1e3:g} ms is shorter than the minimum of {MIN_ANTI_ENTROPY * 1e3:g} ms"
            " (use null to turn anti-entropy off)",
        )


def _check_grace(cfg: Config, path: str) -> None:
    """A tombstone_grace shorter than the largest lag median drops tombstones before most
    regions have them: replicas then diverge for good, without any partition."""
    grace = cfg.tombstone_grace
    if grace is None:
        return
    lags = [cfg.lag, *cfg.link_lag.values()]
    largest = max(median(d) for d in lags)
    if grace < largest:
        raise ConfigError(
            path,
            f"{grace * 1e3:g} ms is shorter than the largest replication lag median"
            f" ({largest * 1e3:.1f} ms): tombstones would be dropped before they replicate",
        )


def _systems(raw: Any) -> Mapping[str, Mapping[str, Any]]:
    """The ``systems:`` section: a mapping of system name to a mapping of options whose
    values are scalars or lists of scalars."""
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, Mapping):
        raise ConfigError("systems", f"expected a mapping of system options, got {raw!r}")
    out: dict[str, Mapping[str, Any]] = {}
    for name, options in raw.items():
        path = f"systems.{name}"
        if not isinstance(name, str):
            raise ConfigError("systems", f"system names are strings, got {name!r}")
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise ConfigError(path, f"expected a mapping of options, got {options!r}")
        for key, value in options.items():
            items = value if isinstance(value, list) else [value]
            if not isinstance(key, str) or not all(
                v is None or isinstance(v, str | int | float | bool) for v in items
            ):
                raise ConfigError(f"{path}.{key}", f"expected a scalar or a list, got {value!r}")
        out[name] = MappingProxyType(dict(options))
    return MappingProxyType(out)


def _fraction(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(path, f"expected a probability in 0..1, got {value!r}")
    return float(value)


def _choice(value: Any, path: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ConfigError(path, f"got {value!r}; allowed: {', '.join(allowed)}")
    return str(value)


def mapping_field(value: Any, path: str, allowed: Sequence[str]) -> Mapping[str, Any]:
    """A YAML mapping at ``path`` with only ``allowed`` keys ({} for null); ConfigError
    naming the field otherwise. Shared by every file edgekv reads."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"expected a mapping, got {type(value).__name__}")
    for key in value:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise ConfigError(where, f"unknown field; allowed: {', '.join(allowed)}")
    return value


def _list(value: Any, path: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ConfigError(path, f"expected a list, got {type(value).__name__}")
    return value


def _coordinate(value: Any, path: str, limit: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not -limit <= value <= limit
    ):
        raise ConfigError(path, f"expected a number in -{limit:g}..{limit:g}, got {value!r}")
    return float(value)


def _signed_duration(value: Any, path: str) -> float:
    if isinstance(value, str) and value.strip().startswith("-"):
        seconds = -parse_duration(value.strip()[1:], path, bare="error")
    elif isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        seconds = -parse_duration(-value, path, bare="error")
    else:
        seconds = parse_duration(value, path, bare="error")
    if abs(seconds) > MAX_CLOCK_SKEW:
        raise ConfigError(path, f"expected at most {MAX_CLOCK_SKEW:g}s either way, got {value!r}")
    return seconds


def _regions(raw: Any) -> tuple[RegionSpec, ...]:
    items = _list(raw, "regions")
    if not items:
        raise ConfigError("regions", "expected a non-empty list of regions")
    regions: list[RegionSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        path = f"regions[{i}]"
        spec = mapping_field(item, path, ("name", "city", "lat", "lon", "weight", "clock_skew"))
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{path}.name", "expected a non-empty string")
        if name in seen:
            raise ConfigError(f"{path}.name", f"duplicate region {name!r}")
        seen.add(name)
        weight = _bounded(spec.get("weight", 1.0), f"{path}.weight", 0, _MAX_WEIGHT, "a number")
        city = spec.get("city", name)
        if not isinstance(city, str):
            raise ConfigError(f"{path}.city", f"expected a string, got {type(city).__name__}")
        regions.append(
            RegionSpec(
                name=name,
                index=i,
                city=city,
                lat=_coordinate(spec.get("lat"), f"{path}.lat", 90),
                lon=_coordinate(spec.get("lon"), f"{path}.lon", 180),
                weight=float(weight),
                clock_skew=_signed_duration(spec.get("clock_skew", 0), f"{path}.clock_skew"),
            )
        )
    if len(regions) > 255:
        raise ConfigError("regions", "at most 255 regions are supported")
    if sum(r.weight for r in regions) <= 0:
        raise ConfigError("regions[].weight", "at least one region needs a positive weight")
    return tuple(regions)


def _rtt_matrix(
    raw: Any, regions: tuple[RegionSpec, ...], inflation: float
) -> tuple[dict[tuple[str, str], float], frozenset[tuple[str, str]]]:
    names = {r.name for r in regions}
    matrix = mapping_field(raw, "rtt_ms", sorted(names)) if raw is not None else {}
    rtt: dict[tuple[str, str], float] = {}
    measured: set[tuple[str, str]] = set()
    for src, row in matrix.items():
        rpath = f"rtt_ms.{src}"
        if not isinstance(row, Mapping):
            raise ConfigError(rpath, "expected a mapping of destination region to RTT in ms")
        for dst, value in row.items():
            path = f"{rpath}.{dst}"
            if dst not in names:
                raise ConfigError(
                    path, f"unknown region {dst!r}; known: {', '.join(sorted(names))}"
                )
            ms = _bounded(value, path, 0, _MAX_RTT_MS, "a number of ms")
            if dst == src:
                if ms != 0:
                    raise ConfigError(path, "a region's RTT to itself must be 0")
                continue
            rtt[(src, dst)] = ms * 1e-3
            measured.add((src, dst))
    sources = {s for s, _ in measured}
    for src in sources:
        missing = sorted(d for d in names - {src} if (src, d) not in measured)
        if missing:
            raise ConfigError(
                f"rtt_ms.{src}", f"row lists some regions but not {', '.join(missing)}"
            )
    for a in regions:
        for b in regions:
            if a.name == b.name:
                continue
            if (a.name, b.name) in measured and (b.name, a.name) not in measured:
                raise ConfigError(
                    f"rtt_ms.{b.name}",
                    f"asymmetric region list: {a.name} -> {b.name} is given but not the reverse",
                )
            km = great_circle_km(a.lat, a.lon, b.lat, b.lon)
            floor = 2 * km / FIBER_KM_PER_S
            if (a.name, b.name) in rtt:
                if rtt[(a.name, b.name)] + 1e-9 < floor:
                    raise ConfigError(
                        f"rtt_ms.{a.name}.{b.name}",
                        f"{rtt[(a.name, b.name)] * 1e3:g} ms is below the fiber floor of "
                        f"{floor * 1e3:.1f} ms for {km:.0f} km great-circle distance",
                    )
            else:
                rtt[(a.name, b.name)] = floor * inflation
        rtt[(a.name, a.name)] = 0.0
    return rtt, frozenset(measured)


def _partitions(raw: Any, names: set[str]) -> tuple[PartitionWindow, ...]:
    out: list[PartitionWindow] = []
    for i, item in enumerate(_list(raw, "replication.partitions")):
        path = f"replication.partitions[{i}]"
        spec = mapping_field(item, path, ("between", "start", "end"))
        pair = spec.get("between")
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise ConfigError(f"{path}.between", "expected a list of two region names")
        for j, name in enumerate(pair):
            if not isinstance(name, str) or name not in names:
                raise ConfigError(
                    f"{path}.between[{j}]",
                    f"unknown region {name!r}; known: {', '.join(sorted(names))}",
                )
        start = parse_duration(spec.get("start", 0), f"{path}.start", bare="error")
        end = parse_duration(spec.get("end"), f"{path}.end", bare="error")
        if end <= start:
            raise ConfigError(f"{path}.end", "must be after start")
        out.append(PartitionWindow(pair[0], pair[1], start, end))
    return tuple(out)


def _build_unchecked(raw: Any, source: str) -> Config:
    top = mapping_field(
        raw, "", ("regions", "rtt_ms", "network", "replication", "store", "systems", "prices")
    )
    regions = _regions(top.get("regions"))
    names = {r.name for r in regions}
    net = mapping_field(
        top.get("network"),
        "network",
        ("route_inflation", "jitter", "client_delay", "service_time", "request_timeout"),
    )
    inflation = _bounded(
        net.get("route_inflation", 2.0), "network.route_inflation", 1, _MAX_INFLATION, "a number"
    )
    rtt, measured = _rtt_matrix(top.get("rtt_ms"), regions, inflation)
    rep = mapping_field(
        top.get("replication"),
        "replication",
        ("lag", "links", "batch_window", "loss", "duplicate", "anti_entropy", "partitions"),
    )
    links: dict[tuple[str, str], Distribution] = {}
    for i, item in enumerate(_list(rep.get("links"), "replication.links")):
        path = f"replication.links[{i}]"
        spec = mapping_field(item, path, ("from", "to", "lag"))
        for end in ("from", "to"):
            if not isinstance(spec.get(end), str) or spec.get(end) not in names:
                raise ConfigError(
                    f"{path}.{end}",
                    f"unknown region {spec.get(end)!r}; known: {', '.join(sorted(names))}",
                )
        links[(spec["from"], spec["to"])] = parse_distribution(
            spec.get("lag"), f"{path}.lag", bare="error"
        )
    anti_entropy = rep.get("anti_entropy", "1s")
    store = mapping_field(
        top.get("store"), "store", ("granularity", "clock", "tombstone_grace", "compact")
    )
    grace = store.get("tombstone_grace")
    compact = store.get("compact", False)
    if not isinstance(compact, bool):
        raise ConfigError("store.compact", f"expected true or false, got {compact!r}")
    if anti_entropy is not None:
        anti_entropy = parse_duration(
            anti_entropy, "replication.anti_entropy", allow_zero=False, bare="error"
        )
        _check_anti_entropy(anti_entropy, "replication.anti_entropy")
    cfg = Config(
        regions=regions,
        rtt=MappingProxyType(rtt),
        rtt_measured=measured,
        route_inflation=inflation,
        jitter=parse_distribution(net.get("jitter", 0), "network.jitter", bare="error"),
        client_delay=parse_distribution(
            net.get("client_delay", 0), "network.client_delay", bare="error"
        ),
        service_time=parse_duration(
            net.get("service_time", "1ms"), "network.service_time", bare="error"
        ),
        request_timeout=parse_duration(
            net.get("request_timeout", "2s"),
            "network.request_timeout",
            allow_zero=False,
            bare="error",
        ),
        lag=parse_distribution(
            rep.get("lag", "lognormal:300ms,0.5"), "replication.lag", bare="error"
        ),
        link_lag=MappingProxyType(links),
        batch_window=parse_duration(
            rep.get("batch_window", 0), "replication.batch_window", bare="error"
        ),
        loss=_fraction(rep.get("loss", 0.0), "replication.loss"),
        duplicate=_fraction(rep.get("duplicate", 0.0), "replication.duplicate"),
        anti_entropy=anti_entropy,
        partitions=_partitions(rep.get("partitions"), names),
        granularity=_choice(store.get("granularity", "field"), "store.granularity", GRANULARITIES),
        clock=_choice(store.get("clock", "hlc"), "store.clock", CLOCKS),
        tombstone_grace=None
        if grace is None
        else parse_duration(grace, "store.tombstone_grace", allow_zero=False, bare="error"),
        compact=compact,
        systems=_systems(top.get("systems")),
        prices=parse_prices(top.get("prices")),
        source=source,
    )
    _check_grace(cfg, "store.tombstone_grace")
    return cfg


def build_config(raw: Any, source: str) -> Config:
    """The validated :class:`Config` of an already-parsed mapping (``source`` names it in
    messages): every mistake, nesting too deep for the checks included, is a
    :class:`ConfigError` naming the field."""
    try:
        return _build_unchecked(raw, source)
    except RecursionError:
        raise ConfigError("", "nested too deeply") from None
