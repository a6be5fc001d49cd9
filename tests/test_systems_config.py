"""The ``systems:`` section of regions.yaml: each system's options, with units, checked by
the system it configures, errors naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edgekv import Config, ConfigError, load_config
from edgekv.lowlevel import Constant, Exponential, Kernel, make_store

ROOT = Path(__file__).resolve().parent.parent


def _with_systems(tmp_path: Path, systems: object) -> Path:
    raw = yaml.safe_load((ROOT / "regions.yaml").read_text())
    raw["systems"] = systems
    path = tmp_path / "regions.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_packaged_options_reach_every_system() -> None:
    cfg = load_config(ROOT / "regions.yaml")
    kv = make_store("workers-kv", cfg, 1, Kernel())
    assert kv.stats() is not None and getattr(kv, "cache_ttl", 60.0) == 60.0
    home = make_store("single-home", cfg, 1, Kernel())
    assert getattr(home, "write_flush") == pytest.approx(0.012)  # noqa: B009


def test_options_from_yaml_take_units_and_python_overrides_win(tmp_path: Path) -> None:
    cfg = load_config(_with_systems(tmp_path, {"single-home": {"write_flush": "30ms"}}))
    assert getattr(make_store("single-home", cfg, 1, Kernel()), "write_flush") == 0.03  # noqa: B009
    store = make_store("single-home", cfg, 1, Kernel(), write_flush=0.0)
    assert getattr(store, "write_flush") == 0.0  # noqa: B009


@pytest.mark.parametrize(
    ("systems", "message"),
    [
        ({"single-home": {"write_flush": 30}}, "systems.single-home.write_flush: .* needs a unit"),
        ({"single-home": {"colour": "red"}}, "systems.single-home.colour: unknown option"),
        ({"workers-kv": {"cache_ttl": "10s"}}, "systems.workers-kv.cache_ttl: .*at least 30"),
        ({"single-home": {"jurisdiction": "mars"}}, "systems.single-home: jurisdiction must be"),
        ({"single-home": [1]}, "systems.single-home: expected a mapping"),
        ({"single-home": {"hosts": [{"a": 1}]}}, "systems.single-home.hosts: expected a scalar"),
        ({"dynamodb-mrec": {"lag": 2}}, "systems.dynamodb-mrec.lag: .* needs a unit"),
        ({"dynamodb-mrec": {"lag": "lognormal:-1s,0.5"}}, "systems.dynamodb-mrec.lag.median: "),
    ],
)  # fmt: skip
def test_bad_options_name_the_field(tmp_path: Path, systems: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cfg = load_config(_with_systems(tmp_path, systems))
        name = next(iter(systems))  # type: ignore[call-overload]
        make_store(name, cfg, 1, Kernel())


def _option(cfg: Config, system: str, name: str) -> Any:
    return getattr(make_store(system, cfg, 1, Kernel()), name)


@pytest.mark.parametrize(
    ("system", "option", "given", "expected"),
    [
        ("single-home", "write_flush", 0.3, 0.3),
        ("single-home", "write_flush", 2.0**-7, 2.0**-7),
        ("single-home", "write_flush", "5ms", 0.005),
        ("replicated", "session_wait", 0.05, 0.05),
        ("workers-kv", "cache_ttl", 45, 45.0),
        ("dynamodb-mrec", "lag", 0.5, Constant(0.5)),
        ("dynamodb-mrec", "lag", "exp:100ms", Exponential(0.1)),
    ],
)
def test_options_given_to_replace_take_numbers_as_seconds(
    system: str, option: str, given: Any, expected: Any
) -> None:
    cfg = load_config(ROOT / "regions.yaml")
    replaced = cfg.replace(systems={**cfg.systems, system: {option: given}})
    assert (system, option) not in replaced.systems_need_units
    assert _option(replaced, system, option) == expected


def test_a_misspelt_system_section_is_an_error_not_ignored(tmp_path: Path) -> None:
    cfg = load_config(_with_systems(tmp_path, {"singel-home": {"write_flush": "30ms"}}))
    with pytest.raises(ConfigError, match="systems.singel-home: unknown system; known: replic"):
        make_store("replicated", cfg, 1, Kernel())


def test_a_bad_number_given_to_replace_names_the_option() -> None:
    cfg = load_config(ROOT / "regions.yaml").replace(systems={"single-home": {"write_flush": -1}})
    with pytest.raises(ConfigError, match="systems.single-home.write_flush: .*non-negative"):
        make_store("single-home", cfg, 1, Kernel())


def test_a_bare_number_read_from_yaml_still_needs_its_unit_after_replace(tmp_path: Path) -> None:
    cfg = load_config(_with_systems(tmp_path, {"single-home": {"write_flush": 30}}))
    other = cfg.replace(systems={**cfg.systems, "replicated": {"max_staleness": 1.0}})
    assert ("single-home", "write_flush") in other.systems_need_units
    with pytest.raises(ConfigError, match="systems.single-home.write_flush: .* needs a unit"):
        make_store("single-home", other, 1, Kernel())
    kept = other.replace(systems={**other.systems})
    assert kept.systems_need_units == cfg.systems_need_units
    fixed = other.replace(systems={**other.systems, "single-home": {"write_flush": 0.03}})
    assert _option(fixed, "single-home", "write_flush") == 0.03
