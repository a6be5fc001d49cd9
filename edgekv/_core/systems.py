"""Every system under test by name: what ``edgekv bench --systems``, the pytest marker's
``system=`` and ``Cluster(system=...)`` build. Each entry makes a :class:`~edgekv.Store`
from a config, a seed, a scheduler and the system's own options."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .config import Config
from .consistency import ReplicatedStore
from .d1 import D1Replicas
from .distributions import Bare, parse_distribution, parse_duration
from .dynamodb import GlobalTableMREC, GlobalTableMRSC
from .errors import ConfigError
from .singlehome import SingleHome
from .store import Scheduler, Store
from .workerskv import WorkersKV

__all__ = ["SYSTEMS", "make_store", "parse_system"]

SYSTEMS: dict[str, Callable[..., Store]] = {
    "replicated": ReplicatedStore,
    "single-home": SingleHome,
    "workers-kv": WorkersKV,
    "d1-replicas": D1Replicas,
    "dynamodb-mrec": GlobalTableMREC,
    "dynamodb-mrsc": GlobalTableMRSC,
}
"""System name -> ``factory(cfg, seed, scheduler, **options)``."""


def make_store(system: str, cfg: Config, seed: int, scheduler: Scheduler, **options: Any) -> Store:
    """A new store of ``system`` with the config's ``systems.<system>`` options, overridden
    by ``options`` (seconds for durations). A duration option of the config is a string with
    its unit, or a number of seconds unless it was read from a file (listed in
    :attr:`Config.systems_need_units <edgekv.Config.systems_need_units>`: YAML durations
    state their unit). ``ConfigError`` naming the system or the option for an unknown name,
    an option the system does not take or a bad value."""
    factory = SYSTEMS.get(system)
    if factory is None:
        raise ConfigError("system", f"unknown system {system!r}; known: {', '.join(SYSTEMS)}")
    for named in cfg.systems:  # a misspelt section would otherwise be ignored for good
        if named not in SYSTEMS:
            raise ConfigError(f"systems.{named}", f"unknown system; known: {', '.join(SYSTEMS)}")
    accepted = set(inspect.signature(factory).parameters) - {"cfg", "seed", "scheduler"}
    durations = set(getattr(factory, "duration_options", ()))
    distributions = set(getattr(factory, "distribution_options", ()))
    merged: dict[str, Any] = {}
    for name, value in cfg.systems.get(system, {}).items():
        path = f"systems.{system}.{name}"
        if name not in accepted:
            raise ConfigError(path, f"unknown option; allowed: {', '.join(sorted(accepted))}")
        bare: Bare = "error" if (system, name) in cfg.systems_need_units else "seconds"
        if name in durations:
            value = parse_duration(value, path, bare=bare)
        elif name in distributions:
            value = parse_distribution(value, path, bare=bare)
        merged[name] = value
    for name in options:
        if name not in accepted:
            allowed = ", ".join(sorted(accepted))
            raise ConfigError(f"systems.{system}.{name}", f"unknown option; allowed: {allowed}")
    merged.update(options)
    try:
        return factory(cfg, seed, scheduler, **merged)
    except ConfigError as exc:
        if exc.path.startswith("systems."):
            raise
        raise ConfigError(f"systems.{system}.{exc.path}".rstrip("."), exc.reason) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"systems.{system}", str(exc)) from None


def parse_system(spec: str) -> tuple[str, str]:
    """``"replicated:session"`` -> ``("replicated", "session")``; ``"single-home"`` ->
    ``("single-home", "strong")`` (the system's first level). ``ConfigError`` naming the spec
    for an unknown system or a level it does not serve."""
    if not isinstance(spec, str):
        raise ConfigError("systems", f"expected a system name such as 'replicated', got {spec!r}")
    name, _, level = spec.strip().partition(":")
    factory = SYSTEMS.get(name)
    if factory is None:
        raise ConfigError("systems", f"unknown system {name!r}; known: {', '.join(SYSTEMS)}")
    levels: tuple[str, ...] = getattr(factory, "levels", ())
    if level and level not in levels:
        raise ConfigError(
            "systems", f"{name} serves levels {', '.join(levels)}; got {level!r} in {spec!r}"
        )
    return name, level or levels[0]
