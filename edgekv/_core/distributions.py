"""Delay distributions (seconds) and the parser for their config and CLI spellings.

Every distribution is a frozen dataclass with a vectorised ``sample(rng, n)`` and a
closed-form ``cdf`` where one exists; :class:`DelayStream` hands out one draw at a time from
pre-sampled blocks so the simulator's hot path never calls numpy per message.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigError

__all__ = [
    "Constant",
    "DelayStream",
    "Distribution",
    "Empirical",
    "Exponential",
    "LogNormal",
    "Mixture",
    "Normal",
    "Pareto",
    "Uniform",
    "parse_distribution",
    "parse_duration",
    "parse_duration_list",
    "median",
    "split_values",
]


@runtime_checkable
class Distribution(Protocol):
    """A non-negative delay distribution in seconds; a value (frozen, hashable)."""

    def __hash__(self) -> int: ...

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` delays as a float64 array."""
        ...

    @property
    def mean(self) -> float:
        """Expected delay in seconds."""
        ...

    def describe(self) -> str:
        """A short human spelling, e.g. ``lognormal(median=300ms, sigma=0.5)``."""
        ...


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g}ms"


def _seconds(dist: object, name: str, *, positive: bool = False) -> float:
    """Check a distribution's duration field when it is built (so one made in Python fails
    there, naming the field, not at its first draw) and store it as a float; returns it."""
    value = _duration(getattr(dist, name), f"{type(dist).__name__}.{name}", positive=positive)
    object.__setattr__(dist, name, value)
    return value


def _shape(dist: object, name: str) -> None:
    """Check a distribution's positive shape parameter (sigma, alpha) and store it as a float."""
    value = _number(getattr(dist, name), f"{type(dist).__name__}.{name}", positive=True)
    object.__setattr__(dist, name, value)


def _duration(value: Any, path: str, *, positive: bool = False) -> float:
    """A number of seconds, checked as a config duration is (:func:`parse_duration`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(path, f"expected a number of seconds, got {value!r}")
    return parse_duration(float(value), path, allow_zero=not positive)


@dataclass(frozen=True, slots=True)
class Constant:
    """Always ``value`` seconds."""

    value: float

    def __post_init__(self) -> None:
        _seconds(self, "value")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    @property
    def mean(self) -> float:
        return self.value

    def describe(self) -> str:
        return f"constant({_ms(self.value)})"


@dataclass(frozen=True, slots=True)
class Uniform:
    """Uniform on ``[low, high]`` seconds."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if _seconds(self, "high") < _seconds(self, "low"):
            raise ConfigError("Uniform.high", f"must be at least low, got {self.high!r}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def describe(self) -> str:
        return f"uniform({_ms(self.low)}, {_ms(self.high)})"


@dataclass(frozen=True, slots=True)
class Exponential:
    """Exponential with the given mean; P(X <= t) = 1 - exp(-t / mean)."""

    mean_s: float

    def __post_init__(self) -> None:
        _seconds(self, "mean_s", positive=True)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_s, n)

    @property
    def mean(self) -> float:
        return self.mean_s

    def describe(self) -> str:
        return f"exponential(mean={_ms(self.mean_s)})"


@dataclass(frozen=True, slots=True)
class Normal:
    """Normal(mean, std) truncated at 0 (negative draws are redrawn, not clipped)."""

    mu: float
    std: float

    def __post_init__(self) -> None:
        _seconds(self, "mu")  # a negative mean would make redrawing negatives run for ever
        _seconds(self, "std")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = rng.normal(self.mu, self.std, n)
        bad = out < 0
        while bad.any():
            out[bad] = rng.normal(self.mu, self.std, int(bad.sum()))
            bad = out < 0
        return out

    @property
    def mean(self) -> float:
        if self.std == 0:
            return self.mu
        a = -self.mu / self.std
        phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
        tail = 0.5 * math.erfc(a / math.sqrt(2))
        return self.mu + self.std * phi / tail

    def describe(self) -> str:
        return f"normal({_ms(self.mu)}, {_ms(self.std)})"


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Log-normal with the given median (seconds) and shape ``sigma``."""

    median: float
    sigma: float

    def __post_init__(self) -> None:
        _seconds(self, "median", positive=True)
        _shape(self, "sigma")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(math.log(self.median), self.sigma, n)

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    def describe(self) -> str:
        return f"lognormal(median={_ms(self.median)}, sigma={self.sigma:g})"


@dataclass(frozen=True, slots=True)
class Pareto:
    """Pareto (type I) with minimum ``scale`` seconds and tail index ``alpha``."""

    scale: float
    alpha: float

    def __post_init__(self) -> None:
        _seconds(self, "scale", positive=True)
        _shape(self, "alpha")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.scale * (1.0 + rng.pareto(self.alpha, n))

    @property
    def mean(self) -> float:
        return math.inf if self.alpha <= 1 else self.alpha * self.scale / (self.alpha - 1)

    def describe(self) -> str:
        return f"pareto(scale={_ms(self.scale)}, alpha={self.alpha:g})"


@dataclass(frozen=True, slots=True)
class Mixture:
    """Draw from ``components[i]`` with probability ``weights[i]`` (weights sum to 1)."""

    components: tuple[Distribution, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        comps, weights = self.components, self.weights
        if not isinstance(comps, tuple) or not comps:
            raise ConfigError("Mixture.components", "expected a non-empty tuple of distributions")
        for i, comp in enumerate(comps):
            if not isinstance(comp, Distribution):
                raise ConfigError(f"Mixture.components[{i}]", f"not a distribution: {comp!r}")
        if not isinstance(weights, tuple) or len(weights) != len(comps):
            raise ConfigError("Mixture.weights", f"expected a tuple of {len(comps)} weights")
        for i, weight in enumerate(weights):
            _number(weight, f"Mixture.weights[{i}]", positive=True)
        if not math.isclose(sum(weights), 1.0, rel_tol=1e-9):
            raise ConfigError("Mixture.weights", f"must sum to 1, got {sum(weights)!r}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        which = rng.choice(len(self.components), size=n, p=self.weights)
        out = np.empty(n)
        for i, comp in enumerate(self.components):
            mask = which == i
            count = int(mask.sum())
            if count:
                out[mask] = comp.sample(rng, count)
        return out

    @property
    def mean(self) -> float:
        return sum(w * c.mean for c, w in zip(self.components, self.weights, strict=True))

    def describe(self) -> str:
        parts = ", ".join(
            f"{w:g}*{c.describe()}" for c, w in zip(self.components, self.weights, strict=True)
        )
        return f"mixture({parts})"


@dataclass(frozen=True, slots=True)
class Empirical:
    """Resample uniformly from measured ``samples`` (seconds)."""

    samples: tuple[float, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.samples, tuple) or not self.samples:
            raise ConfigError("Empirical.samples", "expected a non-empty tuple of seconds")
        for i, sample in enumerate(self.samples):
            _duration(sample, f"Empirical.samples[{i}]")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.asarray(self.samples)[rng.integers(0, len(self.samples), n)]

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples)

    def describe(self) -> str:
        return f"empirical({len(self.samples)} samples)"


class DelayStream:
    """One draw at a time from a distribution: O(1) amortised, memory in proportion to use.

    The stream is the distribution sampled ``block`` at a time (a page), whatever the pace
    of consumption. A page is handed out in windows that double (``block / 64``,
    ``block / 64``, ``block / 32``, ... ``block / 2``), each cut from the page redrawn from
    the generator state saved at its start, so a stream that is barely used (a link of a
    large mesh) holds a few dozen floats instead of a page of them, and the values are
    those of sampling whole pages. After its first page a stream draws whole pages.
    """

    __slots__ = ("_dist", "_rng", "_block", "_buf", "_i", "_start", "_offset", "_paged")

    def __init__(self, dist: Distribution, rng: np.random.Generator, block: int = 4096) -> None:
        self._dist = dist
        self._rng = rng
        self._block = block
        self._buf: list[float] = []
        self._i = 0
        self._start: Mapping[str, Any] | None = None
        """Generator state at the start of the current page, while it is handed out in
        windows."""
        self._offset = 0
        """Position in the current page of the next window."""
        self._paged = False
        """True once a whole page has been handed out: from then on, pages at once."""

    @property
    def dist(self) -> Distribution:
        """The distribution drawn from."""
        return self._dist

    def __call__(self) -> float:
        """Next delay in seconds."""
        i = self._i
        buf = self._buf
        if i >= len(buf):
            buf = self._buf = self._refill()
            i = 0
        self._i = i + 1
        return buf[i]

    def _refill(self) -> list[float]:
        """The next window of the stream (a whole page once the stream is busy)."""
        block, start, rng = self._block, self._offset, self._rng
        if self._paged:
            return self._dist.sample(rng, block).tolist()
        if start == 0:
            self._start = rng.bit_generator.state
            size = max(1, block // 64)
        else:
            assert self._start is not None
            rng.bit_generator.state = self._start
            size = min(start, block - start)
        page = self._dist.sample(rng, block)
        self._offset = (start + size) % block
        if self._offset == 0:
            self._paged = True
            self._start = None
        return page[start : start + size].tolist()


_DURATION = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(us|ms|s|m)?\s*$")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


MAX_DURATION = 365 * 86400.0
"""Longest accepted duration (seconds): a year; beyond it is a typo or an overflow."""

Bare = Literal["seconds", "error"]
"""What a number without a unit means: seconds (the Python API's rule), or an error (YAML
files and the command line, where every duration states its unit)."""


def parse_duration(
    value: Any, path: str = "duration", *, allow_zero: bool = True, bare: Bare = "seconds"
) -> float:
    """Parse ``300ms``, ``0.3s``, ``2m`` into seconds (at most :data:`MAX_DURATION`); a bare
    number is seconds, or with ``bare="error"`` a :class:`ConfigError` asking for a unit (0
    needs none)."""
    if isinstance(value, bool) or value is None:
        raise ConfigError(path, f"expected a duration such as 300ms or 0.3s, got {value!r}")
    if isinstance(value, int) and abs(value) > MAX_DURATION:
        raise ConfigError(path, f"expected a duration of at most {MAX_DURATION:g}s")
    if isinstance(value, int | float):
        if bare == "error" and value != 0:
            raise ConfigError(
                path, f"a duration needs a unit, e.g. {value:g}ms or {value:g}s; got {value!r}"
            )
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        if m.group(2) is None and float(m.group(1)) != 0:
            raise ConfigError(
                path,
                f"a duration needs a unit, e.g. {m.group(1)}ms or {m.group(1)}s; got {value!r}",
            )
        seconds = float(m.group(1)) * _UNITS.get(m.group(2) or "s", 1.0)
    else:
        raise ConfigError(path, f"expected a duration such as 300ms or 0.3s, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        allowed = "non-negative" if allow_zero else "positive"
        raise ConfigError(path, f"expected a {allowed} duration, got {value!r}")
    if seconds > MAX_DURATION:
        raise ConfigError(path, f"expected a duration of at most {MAX_DURATION:g}s, got {value!r}")
    return seconds


def parse_duration_list(text: str, path: str) -> list[float]:
    """``"0,1,5,10ms"`` -> seconds: comma-separated durations where the unit of the last one
    applies to every bare number before it (``"0.1s,300ms"`` mixes units)."""
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise ConfigError(path, f"expected a comma-separated list of durations, got {text!r}")
    last = _DURATION.match(items[-1])
    unit = last.group(2) if last else None
    if unit:
        items = [item + unit if re.fullmatch(r"[-+0-9.eE]+", item) else item for item in items]
    return [parse_duration(item, path, bare="error") for item in items]


_MAX_PARAMETER = 1e6
"""Largest shape parameter or mixture weight (sigma, alpha, weight)."""


def _number(value: Any, path: str, *, positive: bool = False) -> float:
    """A shape parameter or weight: a real number (numpy's too) in 0..1e6, as a float."""
    number = float(value) if isinstance(value, numbers.Real) else math.nan
    if isinstance(value, bool) or not -_MAX_PARAMETER <= number <= _MAX_PARAMETER:  # NaN fails
        raise ConfigError(path, f"expected a number up to {_MAX_PARAMETER:g}, got {value!r}")
    if number < 0 or (positive and number == 0):
        raise ConfigError(path, f"expected a {'positive' if positive else 'non-negative'} number")
    return number


_KINDS = (
    "constant",
    "uniform",
    "exponential",
    "normal",
    "lognormal",
    "pareto",
    "mixture",
    "empirical",
)
_ALIASES = {"const": "constant", "exp": "exponential", "lognorm": "lognormal", "fixed": "constant"}
# Positional parameters of the compact spelling ``kind:a,b``.
_POSITIONAL = {
    "constant": ("value",),
    "uniform": ("low", "high"),
    "exponential": ("mean",),
    "normal": ("mean", "std"),
    "lognormal": ("median", "sigma"),
    "pareto": ("scale", "alpha"),
}


def _from_fields(kind: str, spec: Mapping[str, Any], path: str, bare: Bare) -> Distribution:
    def need(name: str) -> Any:
        if name not in spec:
            raise ConfigError(f"{path}.{name}", f"required for a {kind} distribution")
        return spec[name]

    def dur(name: str) -> float:
        return parse_duration(need(name), f"{path}.{name}", bare=bare)

    def num(name: str) -> float:
        return _number(need(name), f"{path}.{name}", positive=True)

    allowed = set(_POSITIONAL.get(kind, ())) | {"dist"}
    if kind == "mixture":
        allowed |= {"components"}
    if kind == "empirical":
        allowed |= {"samples"}
    extra = sorted(set(spec) - allowed)
    if extra:
        raise ConfigError(
            f"{path}.{extra[0]}", f"unknown field for {kind}; allowed: {', '.join(sorted(allowed))}"
        )
    if kind == "constant":
        return Constant(dur("value"))
    if kind == "uniform":
        low, high = dur("low"), dur("high")
        if high < low:
            raise ConfigError(f"{path}.high", "must be at least low")
        return Uniform(low, high)
    if kind == "exponential":
        return Exponential(
            parse_duration(need("mean"), f"{path}.mean", allow_zero=False, bare=bare)
        )
    if kind == "normal":
        return Normal(dur("mean"), dur("std"))
    if kind == "lognormal":
        return LogNormal(
            parse_duration(need("median"), f"{path}.median", allow_zero=False, bare=bare),
            num("sigma"),
        )
    if kind == "pareto":
        return Pareto(
            parse_duration(need("scale"), f"{path}.scale", allow_zero=False, bare=bare),
            num("alpha"),
        )
    if kind == "empirical":
        samples = need("samples")
        if not isinstance(samples, Sequence) or isinstance(samples, str) or not samples:
            raise ConfigError(f"{path}.samples", "expected a non-empty list of durations")
        return Empirical(
            tuple(
                parse_duration(s, f"{path}.samples[{i}]", bare=bare) for i, s in enumerate(samples)
            )
        )
    comps = need("components")
    if not isinstance(comps, Sequence) or isinstance(comps, str) or not comps:
        raise ConfigError(f"{path}.components", "expected a non-empty list of {weight, dist...}")
    dists: list[Distribution] = []
    weights: list[float] = []
    for i, comp in enumerate(comps):
        cpath = f"{path}.components[{i}]"
        if not isinstance(comp, Mapping):
            raise ConfigError(cpath, "expected a mapping with weight and a distribution")
        weights.append(_number(comp.get("weight"), f"{cpath}.weight", positive=True))
        component = {k: v for k, v in comp.items() if k != "weight"}
        dists.append(parse_distribution(component, cpath, bare=bare))
    total = sum(weights)
    return Mixture(tuple(dists), tuple(w / total for w in weights))


def parse_distribution(
    spec: Any, path: str = "distribution", *, bare: Bare = "seconds"
) -> Distribution:
    """Build a distribution from a mapping (``{dist: lognormal, median: 300ms, sigma: 0.5}``),
    a compact string (``lognormal:300ms,0.5``, ``exp:100ms``, ``300ms`` for a constant) or a
    number of seconds (with ``bare="error"``, as in YAML and on the command line, a number
    without a unit is an error). Errors name ``path`` (``distribution`` unless given) and
    the allowed values."""
    if isinstance(spec, Distribution):
        return spec
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return Constant(parse_duration(spec, path, bare=bare))
    if isinstance(spec, str):
        kind, _, args = spec.partition(":")
        kind = _ALIASES.get(kind.strip().lower(), kind.strip().lower())
        if not args and kind not in _KINDS:
            return Constant(parse_duration(spec, path))
        if kind not in _POSITIONAL:
            raise ConfigError(
                path,
                f"unknown distribution {kind!r}; compact forms: "
                + ", ".join(f"{k}:{','.join(v)}" for k, v in _POSITIONAL.items()),
            )
        values = [a.strip() for a in args.split(",")] if args else []
        names = _POSITIONAL[kind]
        if len(values) != len(names):
            raise ConfigError(path, f"{kind} takes {len(names)} parameter(s): {', '.join(names)}")
        fields: dict[str, Any] = {"dist": kind}
        for name, raw in zip(names, values, strict=True):
            fields[name] = float(raw) if name in ("sigma", "alpha") and _is_float(raw) else raw
        return _from_fields(kind, fields, path, bare)
    if not isinstance(spec, Mapping):
        raise ConfigError(path, f"expected a distribution mapping or string, got {spec!r}")
    raw_kind = spec.get("dist")
    if isinstance(raw_kind, str) and ":" in raw_kind:
        return _compact_field(raw_kind, spec, path)
    kind = _ALIASES.get(str(raw_kind).lower(), str(raw_kind).lower())
    if kind not in _KINDS:
        raise ConfigError(
            f"{path}.dist", f"unknown distribution {raw_kind!r}; allowed: {', '.join(_KINDS)}"
        )
    return _from_fields(kind, spec, path, bare)


def split_values(text: str) -> list[str]:
    """A comma-separated list of values (stripped) in which a compact distribution spelling
    keeps its own commas: ``"exp:100ms,lognormal:300ms,0.5"`` -> ``["exp:100ms",
    "lognormal:300ms,0.5"]``. O(len(text))."""
    pieces = [piece.strip() for piece in text.split(",")]
    out: list[str] = []
    i = 0
    while i < len(pieces):
        kind, sep, _ = pieces[i].partition(":")
        kind = _ALIASES.get(kind.strip().lower(), kind.strip().lower())
        width = len(_POSITIONAL[kind]) if sep and kind in _POSITIONAL else 1
        out.append(",".join(pieces[i : i + width]))
        i += width
    return out


def _compact_field(text: str, spec: Mapping[str, Any], path: str) -> Distribution:
    """``{dist: "lognormal:300ms,0.5"}``, e.g. a mixture component ``{weight: 0.9, dist:
    "exp:2s"}``: the compact spelling as the ``dist`` field, alone. Unquoted in flow-style
    YAML, its comma splits it (``{dist: lognormal:300ms, 0.5: null}``): say to quote it."""
    extra = sorted((k for k in spec if k != "dist"), key=str)
    if extra:
        hint = ""
        if spec[extra[0]] is None:
            hint = (
                f"; in flow-style YAML ({{...}}) quote a compact spelling that has a comma: "
                f'dist: "{text},{extra[0]}"'
            )
        raise ConfigError(
            f"{path}.{extra[0]}", f"unexpected beside the compact distribution {text!r}{hint}"
        )
    return parse_distribution(text, f"{path}.dist")


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_MEDIAN_DRAWS = 200_000


def median(dist: Distribution) -> float:
    """The median of a delay distribution (seconds): closed form where there is one, else
    the median of 200,000 draws seeded with 0 (so always the same). Cached per value."""
    key: Any = dist
    return _median(key)


@functools.lru_cache(maxsize=256)
def _median(dist: Any) -> float:
    if isinstance(dist, Constant):
        return dist.value
    if isinstance(dist, Uniform):
        return (dist.low + dist.high) / 2
    if isinstance(dist, Exponential):
        return dist.mean_s * math.log(2)
    if isinstance(dist, LogNormal):
        return dist.median
    if isinstance(dist, Pareto):
        return dist.scale * 2 ** (1 / dist.alpha)
    if isinstance(dist, Empirical):
        return float(np.median(dist.samples))
    return float(np.median(dist.sample(np.random.default_rng(0), _MEDIAN_DRAWS)))
