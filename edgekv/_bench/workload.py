"""Workload files: a YAML description of who uses the store, from where and how, parsed into
the :class:`~edgekv.lowlevel.EdgeFlags` parameters that ``edgekv bench --workload`` runs.

Every mistake raises a one-line :class:`ConfigError` naming the field path
(``sessions.steps[1].op``) and what is allowed; durations need units (``300ms``, ``2s``); only
0 may go without one. The runner knows four operation kinds and a file maps onto them:

* ``purchase``: a PATCH of the user's ``customData.stars`` by the shop at the user's home region;
* ``login``: a read from the session's region, then every flag evaluated on the stored user;
* ``read``: a read from the session's region; ``write``: a PATCH of ``appVersion`` (and the
  padding) from the session's region.

The read level is not part of the file: each ``--systems`` column (``replicated:session``)
reads at its own level, so one workload is compared across levels.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from .._core.config import mapping_field
from .._core.distributions import Distribution, parse_distribution, parse_duration
from .._core.errors import ConfigError
from .._drivers.files import read_yaml
from .scenario import KINDS_BY_NAME, EdgeFlags

__all__ = [
    "DEFAULT_DECAY_KM",
    "PACKAGED",
    "load_workload",
    "packaged_workloads",
    "parse_workload",
]

DEFAULT_DECAY_KM = 2000.0
"""Default ``travel.decay_km``: an away region 2,000 km further than another, at equal
population, is e (2.7) times less likely (London to Frankfurt 640 km: weight 0.73; Virginia
to London 5,900 km: 0.05)."""

PACKAGED = "edge-flags"
"""The packaged workload ``edgekv bench`` runs without ``--workload``."""

MAX_USERS = 10_000_000
MAX_RATE = 10_000.0
"""Largest rate per user per minute."""
MAX_STEPS = 50
MAX_PADDING = 1 << 20
"""Largest document padding in bytes (1 MiB)."""
MAX_STARS = 1_000_000_000

_TOP = ("name", "description", "users", "duration", "warmup", "population", "travel")
_FIELDS = (*_TOP, "sessions", "background", "values")


def packaged_workloads() -> list[str]:
    """Names of the workloads shipped with edgekv (``edgekv/data/workloads/*.yaml``)."""
    folder = resources.files("edgekv") / "data" / "workloads"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_workload(source: str | os.PathLike[str], seed: int = 1) -> EdgeFlags:
    """The workload of a packaged name (``edge-flags``) or a YAML path, with ``seed``.
    :class:`ConfigError` naming the file and the field for any mistake."""
    text = os.fspath(source)
    if text in packaged_workloads():
        folder = resources.files("edgekv") / "data" / "workloads"
        with resources.as_file(folder / f"{text}.yaml") as path:
            return load_workload(path, seed)
    if not Path(text).exists():
        raise ConfigError(
            "workload",
            f"{text!r} is neither a file nor a packaged workload"
            f" ({', '.join(packaged_workloads())})",
        )
    raw = read_yaml(text, "workload file")
    try:
        return parse_workload(raw, seed, default_name=Path(text).stem)
    except ConfigError as exc:
        raise ConfigError(f"{text}: {exc.path}" if exc.path else text, exc.reason) from None


def parse_workload(raw: Any, seed: int = 1, default_name: str = "workload") -> EdgeFlags:
    """Validate a parsed workload mapping into :class:`EdgeFlags` (``ConfigError`` naming
    the field). Nesting too deep for the distribution parser is an error too."""
    try:
        return _parse(raw, seed, default_name)
    except RecursionError:
        raise ConfigError("", "nested too deeply") from None


def _parse(raw: Any, seed: int, default_name: str) -> EdgeFlags:
    if raw is None:
        raise ConfigError("", "the file is empty; expected a mapping (see edge-flags.yaml)")
    top = mapping_field(raw, "", _FIELDS)
    name = top.get("name", default_name)
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ConfigError(
            "name", f"expected a non-empty string of at most 100 characters, got {name!r}"
        )
    if not isinstance(top.get("description", ""), str):
        raise ConfigError("description", "expected a string")
    travel = mapping_field(top.get("travel"), "travel", ("away", "to", "decay_km"))
    to = travel.get("to", "nearby")
    if to not in ("nearby", "population"):
        raise ConfigError("travel.to", f"got {to!r}; allowed: nearby, population")
    if to == "population" and "decay_km" in travel:
        raise ConfigError("travel.decay_km", "applies only with to: nearby")
    decay = None
    if to == "nearby":
        decay = _number(travel.get("decay_km", DEFAULT_DECAY_KM), "travel.decay_km", 1.0, 1e6)
    sessions = mapping_field(
        top.get("sessions"), "sessions", ("per_user_per_min", "think", "steps")
    )
    think = _distribution(sessions.get("think", "lognormal:1s,1"), "sessions.think")
    background = mapping_field(
        top.get("background"),
        "background",
        ("reads_per_user_per_min", "writes_per_user_per_min", "zipf_s"),
    )
    values = mapping_field(
        top.get("values"), "values", ("initial_stars", "max_purchase", "padding_bytes")
    )
    defaults = EdgeFlags()
    fields: dict[str, Any] = {
        "name": name.strip(),
        "seed": seed,
        "users": _integer(top.get("users", defaults.users), "users", 1, MAX_USERS),
        "duration": _duration(top.get("duration", "60s"), "duration", allow_zero=False),
        "warmup": _duration(top.get("warmup", "5s"), "warmup", allow_zero=True),
        "population": _population(top.get("population", "config")),
        "mobility": _number(travel.get("away", defaults.mobility), "travel.away", 0.0, 1.0),
        "travel_decay_km": decay,
        "think": think,
        "sessions_per_min": _number(
            sessions.get("per_user_per_min", defaults.sessions_per_min),
            "sessions.per_user_per_min",
            0.0,
            MAX_RATE,
        ),
        "steps": _steps(sessions.get("steps", ["purchase", "login"])),
        "reads_per_min": _number(
            background.get("reads_per_user_per_min", defaults.reads_per_min),
            "background.reads_per_user_per_min",
            0.0,
            MAX_RATE,
        ),
        "writes_per_min": _number(
            background.get("writes_per_user_per_min", defaults.writes_per_min),
            "background.writes_per_user_per_min",
            0.0,
            MAX_RATE,
        ),
        "zipf_s": _number(background.get("zipf_s", 0), "background.zipf_s", 0.0, 10.0),
        "initial_stars": _integer(
            values.get("initial_stars", defaults.initial_stars),
            "values.initial_stars",
            1,
            MAX_STARS,
        ),
        "max_purchase": _integer(
            values.get("max_purchase", defaults.max_purchase), "values.max_purchase", 1, MAX_STARS
        ),
        "padding_bytes": _integer(
            values.get("padding_bytes", 0), "values.padding_bytes", 0, MAX_PADDING
        ),
    }
    return replace(defaults, **fields)


def _number(value: Any, path: str, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not low <= value <= high  # NaN fails too
    ):
        raise ConfigError(path, f"expected a number in {low:g}..{high:g}, got {value!r}")
    return float(value)


def _integer(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(path, f"expected an integer in {low:,}..{high:,}, got {value!r}")
    return value


def _duration(value: Any, path: str, *, allow_zero: bool) -> float:
    return parse_duration(value, path, allow_zero=allow_zero, bare="error")


def _distribution(value: Any, path: str) -> Distribution:
    dist = parse_distribution(value, path, bare="error")
    if not math.isfinite(dist.mean):
        raise ConfigError(path, f"expected a distribution with a finite mean, got {value!r}")
    return dist


def _population(value: Any) -> tuple[tuple[str, float], ...] | None:
    """``config`` (the regions.yaml weights) or a mapping of region name to weight."""
    if value == "config":
        return None
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(
            "population", f"expected 'config' or a mapping of region to weight, got {value!r}"
        )
    out = []
    for region, weight in value.items():
        if not isinstance(region, str):
            raise ConfigError("population", f"region names are strings, got {region!r}")
        out.append((region, _number(weight, f"population.{region}", 0.0, 1e9)))
    if not any(w > 0 for _, w in out):
        raise ConfigError("population", "expected at least one region with a positive weight")
    return tuple(out)


def _steps(value: Any) -> tuple[tuple[int, Distribution | None], ...]:
    """A session's steps: names (``login``) or mappings ``{op: login, think: 2s}``."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_STEPS:
        raise ConfigError(
            "sessions.steps", f"expected a list of 1..{MAX_STEPS} steps, got {value!r}"
        )
    out: list[tuple[int, Distribution | None]] = []
    for i, step in enumerate(value):
        path = f"sessions.steps[{i}]"
        if isinstance(step, str):
            step = {"op": step}
        spec = mapping_field(step, path, ("op", "think"))
        op = spec.get("op")
        if op not in KINDS_BY_NAME:
            raise ConfigError(f"{path}.op", f"got {op!r}; allowed: {', '.join(KINDS_BY_NAME)}")
        think = None
        if "think" in spec:
            if i == 0:
                raise ConfigError(f"{path}.think", "the first step starts the session; no think")
            think = _distribution(spec["think"], f"{path}.think")
        out.append((KINDS_BY_NAME[op], think))
    return tuple(out)
