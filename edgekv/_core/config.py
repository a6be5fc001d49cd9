"""Validating a parsed ``regions.yaml`` into an immutable :class:`Config` (reading files is
:mod:`edgekv._drivers.files`'s job: the core does no I/O), and the changes
:meth:`Config.replace` makes, with the same check per field.

Every mistake raises :class:`ConfigError` naming the field path and what is allowed; a config
that loads is physically possible (no RTT below the fiber floor of the great-circle distance).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .cost import Prices, parse_prices
from .distributions import (
    Bare,
    Constant,
    Distribution,
    median,
    parse_distribution,
    parse_duration,
)
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
    """Each system's options (the YAML ``systems:`` section, or what :meth:`replace` was
    given), as written but frozen (lists become tuples); the system checks them when it is
    built (see :func:`edgekv.lowlevel.make_store`). A duration option is a string with its
    unit, or a number of seconds where :attr:`systems_need_units` allows it."""
    prices: Prices = field(default_factory=Prices)
    """USD list prices of the ``prices:`` section, for the cost model (:mod:`edgekv._core.cost`)."""
    source: str = ""
    systems_need_units: frozenset[tuple[str, str]] = field(default=frozenset(), repr=False)
    """The ``(system, option)`` pairs of :attr:`systems` read by the loader (YAML, or a
    mapping given to ``load_config``): a duration there must state its unit, as everywhere
    in YAML. Options given through :meth:`replace` (or a ``Config`` built in Python) are not
    listed: there, as everywhere in the Python API, a bare number is seconds."""
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
        """A copy with fields replaced, each checked by the validator the YAML loader uses for
        that field, and the result checked across fields as a loaded config is. Any mistake
        is a :class:`ConfigError` whose path starts with the keyword (``loss``,
        ``regions[2].lat``, ``rtt[('East US', 'Mars')]``, ``link_lag[('A', 'B')]``,
        ``partitions[0].end``, ``systems.single-home.hosts``); ``self`` is never changed and
        the copy shares no mutable container with the arguments.

        Every field but the derived ``rtt_measured`` and ``systems_need_units`` may be
        replaced (an unknown keyword names the ones that may). Values take the config's own
        types or the YAML's spellings, and numbers are seconds as everywhere in the Python
        API (``tombstone_grace=30.0``; strings with units work too):

        * ``lag``, ``jitter``, ``client_delay``: a :class:`Distribution`, a spec
          (``"exp:100ms"``) or a number (a constant); ``link_lag``: a mapping of ``(from,
          to)`` region pairs to those.
        * ``regions``: :class:`RegionSpec` items or mappings of their fields (``clock_skew``
          in seconds), in the new order (``index`` follows it). ``rtt`` keeps the measured
          RTTs among the regions kept; every other pair is derived from geography, as in
          YAML. A measured topology that gains a region needs ``rtt`` too, and ``link_lag``
          and ``partitions`` must name only the new regions (pass them too otherwise).
        * ``rtt``: a mapping of ``(from, to)`` pairs to seconds; the pairs given are measured
          (``rtt_measured``), the rest derived; as in ``rtt_ms``, a region lists all its
          destinations or none, both directions, never below the fiber floor. Replacing
          ``route_inflation`` re-derives the derived pairs.
        * ``partitions``: :class:`PartitionWindow` items or mappings like the YAML's
          (``between``, ``start``, ``end``).
        * ``systems``: the whole section (merge with ``{**cfg.systems, ...}``); a duration
          option may be a number of seconds here (``{"single-home": {"write_flush": 0.3}}``),
          except an option kept from a loaded file with an unchanged value, which still
          needs its unit (see :attr:`systems_need_units`).
        * ``prices``: a :class:`Prices` or a mapping like the YAML's section (prices left
          out take their defaults); ``source``: a string.
        """
        return _replaced(self, changes)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _api_seconds(value: Any, path: str, *, allow_zero: bool = True) -> float:
    """A duration from Python code: a number of seconds, or a string with units (at most
    a year either way)."""
    if _is_number(value) and (
        (isinstance(value, float) and not math.isfinite(value))
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise ConfigError(path, f"expected a {kind} number of seconds, got {value!r}")
    return parse_duration(value, path, allow_zero=allow_zero)


def _seconds(value: Any, path: str, bare: Bare, *, allow_zero: bool = True) -> float:
    """A duration field: with ``bare="error"`` (YAML) a string with its unit (or 0), with
    ``bare="seconds"`` (Python) also a number of seconds."""
    if bare == "seconds":
        return _api_seconds(value, path, allow_zero=allow_zero)
    return parse_duration(value, path, allow_zero=allow_zero, bare="error")


def _distribution(value: Any, path: str, bare: Bare) -> Distribution:
    """A distribution field (a :class:`Distribution`, a spec or a mapping); a number is a
    constant, of seconds with ``bare="seconds"`` and an error in YAML."""
    if bare == "seconds" and _is_number(value):
        return Constant(_api_seconds(value, path))
    return parse_distribution(value, path, bare=bare)


def _bounded(value: Any, path: str, low: float, high: float, what: str) -> float:
    """A number in ``low..high`` (NaN, infinities and ints beyond float range fail)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(path, f"expected {what} in {low:g}..{high:g}, got {value!r}")
    return float(value)


def _inflation(value: Any, path: str) -> float:
    return _bounded(value, path, 1, _MAX_INFLATION, "a number")


def _flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(path, f"expected true or false, got {value!r}")
    return value


def _check_anti_entropy(period: float, path: str) -> None:
    if period < MIN_ANTI_ENTROPY:
        raise ConfigError(
            path,
            f"{period * 1e3:g} ms is shorter than the minimum of {MIN_ANTI_ENTROPY * 1e3:g} ms"
            " (use null to turn anti-entropy off)",
        )


def _anti_entropy(value: Any, path: str, bare: Bare) -> float | None:
    """The digest period: None (off) or a positive duration of at least 10 ms."""
    if value is None:
        return None
    period = _seconds(value, path, bare, allow_zero=False)
    _check_anti_entropy(period, path)
    return period


def _grace(value: Any, path: str, bare: Bare) -> float | None:
    """``tombstone_grace``: None (keep tombstones until acknowledged) or a positive
    duration; :func:`_check_grace` compares it with the lags once they are known."""
    return None if value is None else _seconds(value, path, bare, allow_zero=False)


def _check_grace(
    grace: float | None, lag: Distribution, link_lag: Mapping[Any, Distribution], path: str
) -> None:
    """A tombstone_grace shorter than the largest lag median drops tombstones before most
    regions have them: replicas then diverge for good, without any partition."""
    if grace is None:
        return
    largest = max(median(d) for d in [lag, *link_lag.values()])
    if grace < largest:
        raise ConfigError(
            path,
            f"{grace * 1e3:g} ms is shorter than the largest replication lag median"
            f" ({largest * 1e3:.1f} ms): tombstones would be dropped before they replicate",
        )


def _systems(raw: Any) -> Mapping[str, Mapping[str, Any]]:
    """The ``systems:`` section: a mapping of system name to a mapping of options whose
    values are scalars or lists of scalars (frozen: lists become tuples)."""
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
        frozen: dict[str, Any] = {}
        for key, value in options.items():
            items = value if isinstance(value, list | tuple) else [value]
            if not isinstance(key, str) or not all(
                v is None or isinstance(v, str | int | float | bool) for v in items
            ):
                raise ConfigError(f"{path}.{key}", f"expected a scalar or a list, got {value!r}")
            frozen[key] = tuple(value) if isinstance(value, list) else value
        out[name] = MappingProxyType(frozen)
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
    before: Any = None
    for key in value:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            hint = ""
            if value[key] is None and isinstance(value.get(before), str):
                # {lag: lognormal:5s,0.5} in flow-style YAML: the comma split the value
                hint = (
                    f"; in flow-style YAML ({{...}}) quote a value that has a comma: "
                    f'{before}: "{value[before]},{key}"'
                )
            raise ConfigError(where, f"unknown field; allowed: {', '.join(allowed)}{hint}")
        before = key
    return value


def _list(value: Any, path: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ConfigError(path, f"expected a list, got {type(value).__name__}")
    return value


def _known(name: Any, path: str, names: set[str]) -> str:
    """``name`` if it is one of the regions ``names``; ConfigError listing them otherwise."""
    if not isinstance(name, str) or name not in names:
        raise ConfigError(path, f"unknown region {name!r}; known: {', '.join(sorted(names))}")
    return name


def _distinct(pair: tuple[str, str], path: str) -> tuple[str, str]:
    """A link or partition's two regions, which must differ (a region has no link to itself)."""
    if pair[0] == pair[1]:
        raise ConfigError(path, f"expected two different regions, got {pair[0]!r} twice")
    return pair


def _pair(key: Any, path: str, names: set[str]) -> tuple[str, str]:
    """A ``(from, to)`` key of ``rtt`` or ``link_lag`` given to :meth:`Config.replace`."""
    if not isinstance(key, tuple) or len(key) != 2:
        raise ConfigError(path, "expected a (from, to) pair of region names")
    return _known(key[0], path, names), _known(key[1], path, names)


def _coordinate(value: Any, path: str, limit: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not -limit <= value <= limit
    ):
        raise ConfigError(path, f"expected a number in -{limit:g}..{limit:g}, got {value!r}")
    return float(value)


def _signed_duration(value: Any, path: str, bare: Bare) -> float:
    if isinstance(value, str) and value.strip().startswith("-"):
        seconds = -parse_duration(value.strip()[1:], path, bare=bare)
    elif isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        seconds = -parse_duration(-value, path, bare=bare)
    else:
        seconds = parse_duration(value, path, bare=bare)
    if abs(seconds) > MAX_CLOCK_SKEW:
        raise ConfigError(path, f"expected at most {MAX_CLOCK_SKEW:g}s either way, got {value!r}")
    return seconds


_REGION_FIELDS = ("name", "city", "lat", "lon", "weight", "clock_skew")


def _regions(raw: Any, bare: Bare = "error") -> tuple[RegionSpec, ...]:
    """The ``regions`` list of mappings of :data:`_REGION_FIELDS`, indexed in order."""
    items = _list(raw, "regions")
    if not items:
        raise ConfigError("regions", "expected a non-empty list of regions")
    regions: list[RegionSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        path = f"regions[{i}]"
        spec = mapping_field(item, path, _REGION_FIELDS)
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
                clock_skew=_signed_duration(spec.get("clock_skew", 0), f"{path}.clock_skew", bare),
            )
        )
    if len(regions) > 255:
        raise ConfigError("regions", "at most 255 regions are supported")
    if sum(r.weight for r in regions) <= 0:
        raise ConfigError("regions[].weight", "at least one region needs a positive weight")
    return tuple(regions)


def _rtt_entry(
    src: str, dst: str, seconds: float, path: str, measured: dict[tuple[str, str], float]
) -> None:
    """Record a measured RTT; a region's RTT to itself must be 0 (and is not recorded)."""
    if dst == src:
        if seconds != 0:
            raise ConfigError(path, "a region's RTT to itself must be 0")
        return
    measured[(src, dst)] = seconds


def _rtt_rows(raw: Any, names: set[str]) -> dict[tuple[str, str], float]:
    """The YAML ``rtt_ms`` matrix (rows of destination -> ms) as measured seconds."""
    matrix = mapping_field(raw, "rtt_ms", sorted(names)) if raw is not None else {}
    measured: dict[tuple[str, str], float] = {}
    for src, row in matrix.items():
        rpath = f"rtt_ms.{src}"
        if not isinstance(row, Mapping):
            raise ConfigError(rpath, "expected a mapping of destination region to RTT in ms")
        for dst, value in row.items():
            path = f"{rpath}.{dst}"
            _known(dst, path, names)
            ms = _bounded(value, path, 0, _MAX_RTT_MS, "a number of ms")
            _rtt_entry(src, dst, ms * 1e-3, path, measured)
    return measured


def _rtt_pairs(raw: Any, names: set[str]) -> dict[tuple[str, str], float]:
    """``rtt`` given to :meth:`Config.replace`: ``(from, to)`` pairs -> measured seconds."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            "rtt", f"expected a mapping of (from, to) region pairs to RTTs in seconds, got {raw!r}"
        )
    measured: dict[tuple[str, str], float] = {}
    for key, value in raw.items():
        path = f"rtt[{key!r}]"
        src, dst = _pair(key, path, names)
        seconds = _bounded(value, path, 0, _MAX_RTT_MS * 1e-3, "a number of seconds")
        _rtt_entry(src, dst, seconds, path, measured)
    return measured


def _complete_rtt(
    measured: Mapping[tuple[str, str], float],
    regions: tuple[RegionSpec, ...],
    inflation: float,
    row_path: Callable[[str], str],
    pair_path: Callable[[str, str], str],
) -> tuple[dict[tuple[str, str], float], frozenset[tuple[str, str]]]:
    """Every ordered pair's RTT: the ``measured`` ones (a region gives all its destinations
    or none, both directions, never below the fiber floor), the others great-circle
    distance x ``inflation`` over the fiber speed. ``row_path``/``pair_path`` name a row or
    a pair in errors."""
    names = [r.name for r in regions]
    sources = {s for s, _ in measured}
    for src in (n for n in names if n in sources):
        missing = [d for d in names if d != src and (src, d) not in measured]
        if missing:
            raise ConfigError(
                row_path(src), f"row lists some regions but not {', '.join(sorted(missing))}"
            )
    rtt: dict[tuple[str, str], float] = {}
    for a in regions:
        for b in regions:
            if a.name == b.name:
                continue
            if (a.name, b.name) in measured and (b.name, a.name) not in measured:
                raise ConfigError(
                    row_path(b.name),
                    f"asymmetric region list: {a.name} -> {b.name} is given but not the reverse",
                )
            km = great_circle_km(a.lat, a.lon, b.lat, b.lon)
            floor = 2 * km / FIBER_KM_PER_S
            if (a.name, b.name) in measured:
                rtt[(a.name, b.name)] = measured[(a.name, b.name)]
                if rtt[(a.name, b.name)] + 1e-9 < floor:
                    raise ConfigError(
                        pair_path(a.name, b.name),
                        f"{rtt[(a.name, b.name)] * 1e3:g} ms is below the fiber floor of "
                        f"{floor * 1e3:.1f} ms for {km:.0f} km great-circle distance",
                    )
            else:
                rtt[(a.name, b.name)] = floor * inflation
        rtt[(a.name, a.name)] = 0.0
    return rtt, frozenset(measured)


def _partitions(
    raw: Any, names: set[str], path: str = "replication.partitions", bare: Bare = "error"
) -> tuple[PartitionWindow, ...]:
    """Scheduled partitions: mappings of ``between`` (two regions), ``start`` and ``end``."""
    out: list[PartitionWindow] = []
    for i, item in enumerate(_list(raw, path)):
        ipath = f"{path}[{i}]"
        spec = mapping_field(item, ipath, ("between", "start", "end"))
        pair = spec.get("between")
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise ConfigError(f"{ipath}.between", "expected a list of two region names")
        for j, name in enumerate(pair):
            _known(name, f"{ipath}.between[{j}]", names)
        _distinct((pair[0], pair[1]), f"{ipath}.between")
        start = _seconds(spec.get("start", 0), f"{ipath}.start", bare)
        end = _seconds(spec.get("end"), f"{ipath}.end", bare)
        if end <= start:
            raise ConfigError(f"{ipath}.end", "must be after start")
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
    inflation = _inflation(net.get("route_inflation", 2.0), "network.route_inflation")
    rtt, measured = _complete_rtt(
        _rtt_rows(top.get("rtt_ms"), names),
        regions,
        inflation,
        lambda src: f"rtt_ms.{src}",
        lambda src, dst: f"rtt_ms.{src}.{dst}",
    )
    rep = mapping_field(
        top.get("replication"),
        "replication",
        ("lag", "links", "batch_window", "loss", "duplicate", "anti_entropy", "partitions"),
    )
    links: dict[tuple[str, str], Distribution] = {}
    for i, item in enumerate(_list(rep.get("links"), "replication.links")):
        path = f"replication.links[{i}]"
        spec = mapping_field(item, path, ("from", "to", "lag"))
        src = _known(spec.get("from"), f"{path}.from", names)
        dst = _known(spec.get("to"), f"{path}.to", names)
        _distinct((src, dst), f"{path}.to")
        links[(src, dst)] = _distribution(spec.get("lag"), f"{path}.lag", "error")
    store = mapping_field(
        top.get("store"), "store", ("granularity", "clock", "tombstone_grace", "compact")
    )
    compact = _flag(store.get("compact", False), "store.compact")
    anti_entropy = _anti_entropy(rep.get("anti_entropy", "1s"), "replication.anti_entropy", "error")
    systems = _systems(top.get("systems"))
    lag = _distribution(rep.get("lag", "lognormal:300ms,0.5"), "replication.lag", "error")
    grace = _grace(store.get("tombstone_grace"), "store.tombstone_grace", "error")
    _check_grace(grace, lag, links, "store.tombstone_grace")
    return Config(
        regions=regions,
        rtt=MappingProxyType(rtt),
        rtt_measured=measured,
        route_inflation=inflation,
        jitter=_distribution(net.get("jitter", 0), "network.jitter", "error"),
        client_delay=_distribution(net.get("client_delay", 0), "network.client_delay", "error"),
        service_time=_seconds(net.get("service_time", "1ms"), "network.service_time", "error"),
        request_timeout=_seconds(
            net.get("request_timeout", "2s"), "network.request_timeout", "error", allow_zero=False
        ),
        lag=lag,
        link_lag=MappingProxyType(links),
        batch_window=_seconds(rep.get("batch_window", 0), "replication.batch_window", "error"),
        loss=_fraction(rep.get("loss", 0.0), "replication.loss"),
        duplicate=_fraction(rep.get("duplicate", 0.0), "replication.duplicate"),
        anti_entropy=anti_entropy,
        partitions=_partitions(rep.get("partitions"), names),
        granularity=_choice(store.get("granularity", "field"), "store.granularity", GRANULARITIES),
        clock=_choice(store.get("clock", "hlc"), "store.clock", CLOCKS),
        tombstone_grace=grace,
        compact=compact,
        systems=systems,
        prices=parse_prices(top.get("prices")),
        source=source,
        systems_need_units=frozenset((s, o) for s, options in systems.items() for o in options),
    )


def build_config(raw: Any, source: str) -> Config:
    """The validated :class:`Config` of an already-parsed mapping (``source`` names it in
    messages): every mistake, nesting too deep for the checks included, is a
    :class:`ConfigError` naming the field."""
    try:
        return _build_unchecked(raw, source)
    except RecursionError:
        raise ConfigError("", "nested too deeply") from None


# Config.replace: the keyword arguments in the Python API's spellings, checked by the
# loader's validators above (a number of seconds is a duration, bare="seconds").


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(path, f"expected a string, got {type(value).__name__}")
    return value


def _yaml_prices(value: Any) -> Any:
    """A :class:`Prices` as the YAML ``prices:`` mapping (anything else unchanged)."""
    if isinstance(value, Prices):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(Prices)}
    return value


_DERIVED = {
    "rtt_measured": "derived from rtt (the pairs given there are measured); replace rtt",
    "systems_need_units": "derived from systems (the options read from a file); replace systems",
}

_FIELD_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "route_inflation": _inflation,
    "jitter": lambda v, p: _distribution(v, p, "seconds"),
    "client_delay": lambda v, p: _distribution(v, p, "seconds"),
    "lag": lambda v, p: _distribution(v, p, "seconds"),
    "service_time": lambda v, p: _seconds(v, p, "seconds"),
    "request_timeout": lambda v, p: _seconds(v, p, "seconds", allow_zero=False),
    "batch_window": lambda v, p: _seconds(v, p, "seconds"),
    "loss": _fraction,
    "duplicate": _fraction,
    "anti_entropy": lambda v, p: _anti_entropy(v, p, "seconds"),
    "granularity": lambda v, p: _choice(v, p, GRANULARITIES),
    "clock": lambda v, p: _choice(v, p, CLOCKS),
    "tombstone_grace": lambda v, p: _grace(v, p, "seconds"),
    "compact": _flag,
    "prices": lambda v, p: parse_prices(_yaml_prices(v), p),
    "source": _string,
}
"""Each field whose check needs no other field -> its check ``(value, path)``."""

_REPLACEABLE = (
    "regions",
    "rtt",
    "route_inflation",
    "jitter",
    "client_delay",
    "service_time",
    "request_timeout",
    "lag",
    "link_lag",
    "batch_window",
    "loss",
    "duplicate",
    "anti_entropy",
    "partitions",
    "granularity",
    "clock",
    "tombstone_grace",
    "compact",
    "systems",
    "prices",
    "source",
)
"""The fields :meth:`Config.replace` takes."""


def _yaml_items(
    value: Any, path: str, kind: type, spelled: Callable[[Any], dict[str, Any]], what: str
) -> Sequence[Any]:
    """A list given to :meth:`Config.replace` in the YAML's spelling: each ``kind`` item
    ``spelled`` as its YAML mapping, mappings kept, anything else an error."""
    items = list(_list(value, path))
    for i, item in enumerate(items):
        if isinstance(item, kind):
            items[i] = spelled(item)
        elif not isinstance(item, Mapping):
            raise ConfigError(
                f"{path}[{i}]",
                f"expected a {kind.__name__} or a mapping of {what}, got {type(item).__name__}",
            )
    return items


def _region_yaml(r: RegionSpec) -> dict[str, Any]:
    return {name: getattr(r, name) for name in _REGION_FIELDS}


def _partition_yaml(p: PartitionWindow) -> dict[str, Any]:
    return {"between": [p.a, p.b], "start": p.start, "end": p.end}


def _link_lag(value: Any, names: set[str]) -> Mapping[tuple[str, str], Distribution]:
    """``link_lag`` given to :meth:`Config.replace`: ``(from, to)`` pairs -> lags."""
    if not isinstance(value, Mapping):
        raise ConfigError(
            "link_lag",
            f"expected a mapping of (from, to) region pairs to lag distributions, got {value!r}",
        )
    out: dict[tuple[str, str], Distribution] = {}
    for key, lag in value.items():
        path = f"link_lag[{key!r}]"
        out[_distinct(_pair(key, path, names), path)] = _distribution(lag, path, "seconds")
    return MappingProxyType(out)


@contextmanager
def _kept(name: str, kept: bool) -> Iterator[None]:
    """Blame ``regions`` when the config's current ``name`` (``kept``: not replaced) does
    not fit the new regions."""
    try:
        yield
    except ConfigError as exc:
        if not kept:
            raise
        raise ConfigError(
            "regions",
            f"the config's {name} does not fit the new regions ({exc}); pass {name}= too",
        ) from None


def _same(new: Any, old: Any) -> bool:
    return type(new) is type(old) and new == old


def _replaced(cfg: Config, changes: Mapping[str, Any]) -> Config:
    """:meth:`Config.replace`: check every change, then build the copy."""
    for key in changes:
        if key in _DERIVED:
            raise ConfigError(key, _DERIVED[key])
        if key not in _REPLACEABLE:
            raise ConfigError(
                key, f"not a field Config.replace takes; allowed: {', '.join(_REPLACEABLE)}"
            )
    new: dict[str, Any] = {
        k: _FIELD_CHECKS[k](v, k) for k, v in changes.items() if k in _FIELD_CHECKS
    }
    regions = cfg.regions
    if "regions" in changes:
        items = _yaml_items(changes["regions"], "regions", RegionSpec, _region_yaml, "its fields")
        regions = new["regions"] = _regions(items, bare="seconds")
    names = {r.name for r in regions}
    moved = "regions" in changes
    if "rtt" in changes or moved or "route_inflation" in changes:
        kept = "rtt" not in changes
        if kept:
            measured = {p: cfg.rtt[p] for p in cfg.rtt_measured if p[0] in names and p[1] in names}
        else:
            measured = _rtt_pairs(changes["rtt"], names)
        with _kept("rtt", kept):
            rtt, new["rtt_measured"] = _complete_rtt(
                measured,
                regions,
                new.get("route_inflation", cfg.route_inflation),
                lambda src: f"rtt[({src!r}, ...)]",
                lambda src, dst: f"rtt[{(src, dst)!r}]",
            )
        new["rtt"] = MappingProxyType(rtt)
    if "link_lag" in changes or moved:
        with _kept("link_lag", "link_lag" not in changes):
            new["link_lag"] = _link_lag(changes.get("link_lag", cfg.link_lag), names)
    if "partitions" in changes or moved:
        with _kept("partitions", "partitions" not in changes):
            items = _yaml_items(
                changes.get("partitions", cfg.partitions),
                "partitions",
                PartitionWindow,
                _partition_yaml,
                "between, start and end",
            )
            new["partitions"] = _partitions(items, names, "partitions", bare="seconds")
    if "systems" in changes:
        systems = new["systems"] = _systems(changes["systems"])
        new["systems_need_units"] = frozenset(
            (name, option)
            for name, option in cfg.systems_need_units
            if option in systems.get(name, {})
            and _same(systems[name][option], cfg.systems.get(name, {}).get(option))
        )
    _check_grace(
        new.get("tombstone_grace", cfg.tombstone_grace),
        new.get("lag", cfg.lag),
        new.get("link_lag", cfg.link_lag),
        "tombstone_grace",
    )
    return dataclasses.replace(cfg, **new)
