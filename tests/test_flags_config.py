"""Config v2 parsing: the shipped example loads, and bad elements are named by JSON path."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import pytest

from edgekv.flags import FlagConfigError, parse_config


def example() -> dict[str, Any]:
    return json.loads(files("edgekv").joinpath("data/flags-example.json").read_text())


def test_example_config_parses_with_edgedb_enabled() -> None:
    parsed = parse_config(json.dumps(example()))
    assert parsed.project.edgedb_enabled
    assert not parsed.project.disable_passthrough_rollouts
    assert parsed.variables_by_key["platinum-status-feature"].type == "Boolean"
    platinum = parsed.feature_by_variable_id[parsed.variables_by_key["platinum-status-feature"].id]
    assert platinum.key == "platinum-status-feature"


def test_targets_precompute_seed_and_sorted_thresholds() -> None:
    """Thresholds run over the distribution sorted by variation id, descending."""
    parsed = parse_config(example())
    express = next(f for f in parsed.features if f.key == "express-checkout").targets[0]
    assert [v for _, v in express.thresholds] == sorted(
        (d.variation for d in express.distribution), reverse=True
    )
    assert [c for c, _ in express.thresholds] == [0.5, 1.0]


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for step in path[:-1]:
            node = node[step]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return mutate


T0 = ["features", 1, "configuration", "targets", 0]
P0 = "features[1].configuration.targets[0]"
F0 = ["features", 0, "configuration", "targets", 0, "_audience", "filters", "filters", 0]
ROLLOUT = ["features", 2, "configuration", "targets", 0, "rollout"]
VALUE = ["features", 0, "variations", 0, "variables", 0]
AUDIENCE = "6650f1a2c3d4e5f607182940"
IN_RANGE = "expected a number in 0..1"
BAD = [
    (
        _set([*T0, "distribution", 1, "percentage"], 1.5),
        f"{P0}.distribution[1].percentage: {IN_RANGE}",
    ),
    (
        _set([*T0, "distribution", 1, "percentage"], "half"),
        f"{P0}.distribution[1].percentage: {IN_RANGE}",
    ),
    (
        _set([*T0, "distribution", 1, "percentage"], 0.4),
        f"{P0}.distribution: percentages sum to 0.9",
    ),
    (_set([*T0, "distribution"], []), f"{P0}.distribution: expected at least one entry"),
    (
        _set([*T0, "distribution", 0, "_variation"], "x"),
        f"{P0}.distribution[0]._variation: unknown",
    ),
    (_set([*T0, "_id"], KeyError), f"{P0}._id: expected a non-empty string"),
    (_set([*T0, "_audience", "filters", "filters", 0, "values"], "US"), f"{P0}._audience.filters"),
    (
        _set([*T0, "_audience", "filters", "filters", 0, "values"], ["US", 1]),
        f"{P0}._audience.filters.filters[0].values[1]: expected values all of one type",
    ),
    (_set([*F0, "dataKeyType"], "Date"), "features[0].configuration.targets[0]._audience.filters"),
    (
        _set([*ROLLOUT, "startDate"], "soon"),
        "features[2].configuration.targets[0].rollout.startDate",
    ),
    (_set([*ROLLOUT, "type"], "sudden"), "features[2].configuration.targets[0].rollout.type"),
    (
        _set([*VALUE, "value"], "yes"),
        "features[0].variations[0].variables[0].value: expected a Boolean value for variable",
    ),
    (_set([*VALUE, "_var"], "x"), "features[0].variations[0].variables[0]._var: unknown variable"),
    (_set(["variables", 4, "type"], "Integer"), "variables[4].type: expected one of"),
    (_set(["variables", 4, "key"], "dark-mode"), "variables[4].key: duplicate variable key"),
    (_set(["project", "settings", "edgeDB", "enabled"], "yes"), "project.settings.edgeDB.enabled"),
    (_set(["environment"], None), "environment: expected an object, got null"),
    (
        _set(["audiences", AUDIENCE, "filters", "operator"], 3),
        f"audiences.{AUDIENCE}.filters.operator",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_elements_are_named_by_path(
    mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    doc = copy.deepcopy(example())
    mutate(doc)
    with pytest.raises(FlagConfigError) as caught:
        parse_config(doc)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(caught.value.path + ": ")


def test_not_json_and_not_an_object() -> None:
    with pytest.raises(FlagConfigError, match="not valid JSON"):
        parse_config("{")
    with pytest.raises(FlagConfigError, match="expected an object, got list"):
        parse_config("[]")
