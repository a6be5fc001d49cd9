"""DevCycle config v2 model: validated, frozen, with what evaluation needs precomputed.

`parse_config` accepts the JSON a DevCycle SDK downloads from its config CDN
(`/config/v2/server/<key>.json`) and raises `FlagConfigError` naming the JSON path of the first
bad element. Parsing precomputes, per target, the murmur3 seed and the cumulative distribution
thresholds in DevCycle's order, and per config the variable lookups, so that evaluation does no
work that depends only on the config.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .._core.errors import EdgekvError
from .bucketing import murmur3

__all__ = [
    "COMPARATORS",
    "SUB_TYPES",
    "VARIABLE_TYPES",
    "Audience",
    "VariationShare",
    "Environment",
    "Feature",
    "Filter",
    "FilterGroup",
    "FlagConfig",
    "FlagConfigError",
    "Project",
    "Rollout",
    "RolloutStage",
    "Target",
    "Variable",
    "Variation",
    "parse_config",
]

#: User filter subTypes (`targetV2.ts` validSubTypes; `ip` is accepted and never matches).
SUB_TYPES = frozenset(
    {
        "user_id",
        "email",
        "ip",
        "country",
        "platform",
        "platformVersion",
        "appVersion",
        "deviceModel",
        "customData",
    }
)
#: User filter comparators (`targetV2.ts` validComparators); others never match.
COMPARATORS = frozenset(
    {
        "=",
        "!=",
        ">",
        ">=",
        "<",
        "<=",
        "exist",
        "!exist",
        "contain",
        "!contain",
        "startWith",
        "!startWith",
        "endWith",
        "!endWith",
    }
)
#: Variable types of config v2.
VARIABLE_TYPES = frozenset({"Boolean", "String", "Number", "JSON"})
_DATA_KEY_TYPES = frozenset({"String", "Boolean", "Number"})
_ROLLOUT_TYPES = frozenset({"schedule", "gradual", "stepped"})
_STAGE_TYPES = frozenset({"linear", "discrete"})
_SUM_TOLERANCE = 1e-6

Scalar = str | float | bool


class FlagConfigError(EdgekvError, ValueError):
    """A flag config failed validation: ``path`` is the JSON path of the bad element,
    ``reason`` what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Filter:
    """One leaf filter: `all`, `optIn`, `user` (subType/comparator/values) or `audienceMatch`.

    `values` are the filter's values of the type of its first value, as DevCycle compiles them.
    """

    type: str
    sub_type: str | None = None
    comparator: str | None = None
    values: tuple[Scalar, ...] = ()
    data_key: str | None = None
    data_key_type: str | None = None
    audiences: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FilterGroup:
    """A nested `and`/`or` group of filters and groups."""

    operator: str
    filters: tuple[Filter | FilterGroup, ...]


@dataclass(frozen=True, slots=True)
class Audience:
    """A reusable audience, referenced by `audienceMatch` filters."""

    id: str
    name: str | None
    filters: FilterGroup


@dataclass(frozen=True, slots=True)
class RolloutStage:
    """A rollout stage: reach `percentage` at `date_ms`, linearly or in one step."""

    type: str
    date_ms: float
    percentage: float


@dataclass(frozen=True, slots=True)
class Rollout:
    """A target's rollout: `schedule`, `gradual` or `stepped`, from `start_date_ms`."""

    type: str
    start_percentage: float
    start_date_ms: float
    stages: tuple[RolloutStage, ...]


@dataclass(frozen=True, slots=True)
class VariationShare:
    """A share of a target's users that gets a variation."""

    variation: str
    percentage: float


@dataclass(frozen=True, slots=True)
class Target:
    """A feature target, with its murmur3 seed and bucketing thresholds precomputed.

    `thresholds` lists (cumulative percentage, variation id) with the distribution sorted by
    variation id descending, as DevCycle's `TargetV2.decideTargetVariation` walks it.
    """

    id: str
    audience: FilterGroup
    distribution: tuple[VariationShare, ...]
    rollout: Rollout | None
    bucketing_key: str
    seed: int
    thresholds: tuple[tuple[float, str], ...]


@dataclass(frozen=True, slots=True)
class Variation:
    """A feature variation and the value it gives each variable id."""

    id: str
    key: str
    name: str
    variables: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Feature:
    """A feature, its variations and targets in evaluation order."""

    id: str
    key: str
    type: str
    variations: tuple[Variation, ...]
    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class Variable:
    """A variable declared by the config."""

    id: str
    key: str
    type: str


@dataclass(frozen=True, slots=True)
class Project:
    """The project, with the settings that change evaluation."""

    id: str
    key: str
    edgedb_enabled: bool
    disable_passthrough_rollouts: bool


@dataclass(frozen=True, slots=True)
class Environment:
    """The environment the config was built for."""

    id: str
    key: str


@dataclass(frozen=True, slots=True)
class FlagConfig:
    """A validated config v2 with variable lookups by key and id."""

    project: Project
    environment: Environment
    features: tuple[Feature, ...]
    variables: tuple[Variable, ...]
    audiences: Mapping[str, Audience]
    variables_by_key: Mapping[str, Variable]
    variables_by_id: Mapping[str, Variable]
    feature_by_variable_id: Mapping[str, Feature]


def parse_config(source: Mapping[str, Any] | str | bytes) -> FlagConfig:
    """Validate a config v2 document (a mapping or its JSON text) into a `FlagConfig`.

    Raises `FlagConfigError` whose message starts with the JSON path of the bad element.
    Bytes must be UTF-8, with or without a byte-order mark.
    """
    if isinstance(source, bytes | bytearray):
        try:
            source = bytes(source).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FlagConfigError("", f"not UTF-8 text (byte {exc.start})") from None
    try:
        return _parse(source)
    except RecursionError:
        raise FlagConfigError("", "nested too deeply") from None


def _parse(source: Mapping[str, Any] | str) -> FlagConfig:
    if isinstance(source, str):
        try:
            source = json.loads(source)
        except ValueError as exc:
            raise FlagConfigError("", f"not valid JSON: {exc}") from None
    root = _obj(source, "")
    project = _parse_project(root.get("project"), "project")
    env_obj = _obj(root.get("environment"), "environment")
    environment = Environment(
        _str(env_obj.get("_id"), "environment._id"), _str(env_obj.get("key"), "environment.key")
    )

    variables: list[Variable] = []
    by_key: dict[str, Variable] = {}
    by_id: dict[str, Variable] = {}
    for path, obj in _objects(root.get("variables", []), "variables"):
        var = Variable(
            _str(obj.get("_id"), f"{path}._id"),
            _str(obj.get("key"), f"{path}.key"),
            _choice(obj.get("type"), VARIABLE_TYPES, f"{path}.type"),
        )
        if var.key in by_key:
            raise FlagConfigError(f"{path}.key", f"duplicate variable key {var.key!r}")
        variables.append(var)
        by_key[var.key] = var
        by_id[var.id] = var

    audiences = _parse_audiences(root.get("audiences", {}))
    features: list[Feature] = []
    feature_by_var: dict[str, Feature] = {}
    for i, raw in enumerate(_list(root.get("features", []), "features")):
        feature = _parse_feature(raw, f"features[{i}]", by_id)
        features.append(feature)
        for variation in feature.variations:
            for var_id, _ in variation.variables:
                feature_by_var.setdefault(var_id, feature)
    return FlagConfig(
        project,
        environment,
        tuple(features),
        tuple(variables),
        audiences,
        by_key,
        by_id,
        feature_by_var,
    )


def _parse_project(raw: Any, path: str) -> Project:
    obj = _obj(raw, path)
    settings = _obj(obj.get("settings", {}), f"{path}.settings")
    edgedb = _obj(settings.get("edgeDB", {}), f"{path}.settings.edgeDB")
    return Project(
        _str(obj.get("_id"), f"{path}._id"),
        _str(obj.get("key"), f"{path}.key"),
        _bool(edgedb.get("enabled", False), f"{path}.settings.edgeDB.enabled"),
        _bool(
            settings.get("disablePassthroughRollouts", False),
            f"{path}.settings.disablePassthroughRollouts",
        ),
    )


def _parse_audiences(raw: Any) -> dict[str, Audience]:
    """Audiences as config v2 ships them (an object keyed by id) or as a list with `_id`s."""
    out: dict[str, Audience] = {}
    if isinstance(raw, list):
        items = [
            (_str(obj.get("_id"), f"{path}._id"), obj, path)
            for path, obj in _objects(raw, "audiences")
        ]
    else:
        items = [
            (k, _obj(v, f"audiences.{k}"), f"audiences.{k}")
            for k, v in _obj(raw, "audiences").items()
        ]
    for audience_id, obj, path in items:
        name = obj.get("name")
        if name is not None:
            _str(name, f"{path}.name")
        out[audience_id] = Audience(
            audience_id, name, _parse_group(obj.get("filters"), f"{path}.filters")
        )
    return out


def _parse_feature(raw: Any, path: str, variables_by_id: Mapping[str, Variable]) -> Feature:
    obj = _obj(raw, path)
    feature_id = _str(obj.get("_id"), f"{path}._id")
    variations: list[Variation] = []
    variation_ids: set[str] = set()
    for vpath, vobj in _objects(obj.get("variations"), f"{path}.variations"):
        values: list[tuple[str, Any]] = []
        for epath, eobj in _objects(vobj.get("variables", []), f"{vpath}.variables"):
            var_id = _str(eobj.get("_var"), f"{epath}._var")
            variable = variables_by_id.get(var_id)
            if variable is None:
                raise FlagConfigError(f"{epath}._var", f"unknown variable id {var_id!r}")
            if "value" not in eobj:
                raise FlagConfigError(f"{epath}.value", "missing")
            values.append((var_id, _typed_value(eobj["value"], variable, f"{epath}.value")))
        variation_id = _str(vobj.get("_id"), f"{vpath}._id")
        name = vobj.get("name", variation_id)
        variations.append(
            Variation(
                variation_id,
                _str(vobj.get("key", name), f"{vpath}.key"),
                _str(name, f"{vpath}.name"),
                tuple(values),
            )
        )
        variation_ids.add(variation_id)
    config_obj = _obj(obj.get("configuration"), f"{path}.configuration")
    targets = tuple(
        _parse_target(t, f"{path}.configuration.targets[{j}]", variation_ids)
        for j, t in enumerate(_list(config_obj.get("targets"), f"{path}.configuration.targets"))
    )
    return Feature(
        feature_id,
        _str(obj.get("key"), f"{path}.key"),
        _str(obj.get("type", "release"), f"{path}.type"),
        tuple(variations),
        targets,
    )


def _parse_target(raw: Any, path: str, variation_ids: set[str]) -> Target:
    obj = _obj(raw, path)
    target_id = _str(obj.get("_id"), f"{path}._id")
    audience_obj = _obj(obj.get("_audience"), f"{path}._audience")
    group = _parse_group(audience_obj.get("filters"), f"{path}._audience.filters")
    dist: list[VariationShare] = []
    dlist = _list(obj.get("distribution"), f"{path}.distribution")
    if not dlist:
        raise FlagConfigError(f"{path}.distribution", "expected at least one entry")
    for dpath, dobj in _objects(dlist, f"{path}.distribution"):
        variation = _str(dobj.get("_variation"), f"{dpath}._variation")
        if variation not in variation_ids:
            raise FlagConfigError(f"{dpath}._variation", f"unknown variation id {variation!r}")
        dist.append(
            VariationShare(variation, _fraction(dobj.get("percentage"), f"{dpath}.percentage"))
        )
    total = math.fsum(d.percentage for d in dist)
    if abs(total - 1.0) > _SUM_TOLERANCE:
        raise FlagConfigError(f"{path}.distribution", f"percentages sum to {total}, expected 1")
    rollout = None
    if obj.get("rollout") is not None:
        rollout = _parse_rollout(obj["rollout"], f"{path}.rollout")
    bucketing_key = obj.get("bucketingKey") or "user_id"
    _str(bucketing_key, f"{path}.bucketingKey")
    # DevCycle sorts by variation id descending, then adds percentages in that order.
    cumulative = 0.0
    thresholds: list[tuple[float, str]] = []
    for d in sorted(dist, key=lambda d: d.variation, reverse=True):
        cumulative += d.percentage
        thresholds.append((cumulative, d.variation))
    return Target(
        target_id,
        group,
        tuple(dist),
        rollout,
        bucketing_key,
        murmur3(target_id, 1),
        tuple(thresholds),
    )


def _parse_rollout(raw: Any, path: str) -> Rollout:
    obj = _obj(raw, path)
    kind = _choice(obj.get("type"), _ROLLOUT_TYPES, f"{path}.type")
    stages = []
    for spath, sobj in _objects(obj.get("stages", []), f"{path}.stages"):
        stages.append(
            RolloutStage(
                _choice(sobj.get("type"), _STAGE_TYPES, f"{spath}.type"),
                _date_ms(sobj.get("date"), f"{spath}.date"),
                _fraction(sobj.get("percentage"), f"{spath}.percentage"),
            )
        )
    start = obj.get("startPercentage", 1.0 if kind == "schedule" else None)
    return Rollout(
        kind,
        _fraction(start, f"{path}.startPercentage"),
        _date_ms(obj.get("startDate"), f"{path}.startDate"),
        tuple(stages),
    )


def _parse_group(raw: Any, path: str) -> FilterGroup:
    obj = _obj(raw, path)
    operator = _str(obj.get("operator"), f"{path}.operator")
    items: list[Filter | FilterGroup] = []
    for fpath, fobj in _objects(obj.get("filters"), f"{path}.filters"):
        items.append(
            _parse_group(fobj, fpath) if "operator" in fobj else _parse_filter(fobj, fpath)
        )
    return FilterGroup(operator, tuple(items))


def _parse_filter(obj: Mapping[str, Any], path: str) -> Filter:
    """A filter; unknown types, subTypes and comparators parse (and never match, as in SDKs)."""
    kind = _str(obj.get("type"), f"{path}.type")
    if kind == "audienceMatch":
        ids = tuple(
            _str(a, f"{path}._audiences[{k}]")
            for k, a in enumerate(_list(obj.get("_audiences"), f"{path}._audiences"))
        )
        return Filter(
            kind, comparator=_str(obj.get("comparator"), f"{path}.comparator"), audiences=ids
        )
    if kind != "user":
        return Filter(kind)
    sub_type = _str(obj.get("subType"), f"{path}.subType")
    comparator = _str(obj.get("comparator"), f"{path}.comparator")
    values = _filter_values(obj.get("values", []), f"{path}.values")
    data_key = data_key_type = None
    if sub_type == "customData":
        data_key = _str(obj.get("dataKey"), f"{path}.dataKey")
        data_key_type = _choice(obj.get("dataKeyType"), _DATA_KEY_TYPES, f"{path}.dataKeyType")
    return Filter(kind, sub_type, comparator, values, data_key, data_key_type)


def _filter_values(raw: Any, path: str) -> tuple[Scalar, ...]:
    """Values all of one scalar type (DevCycle compiles them by the first value's type)."""
    items = [v for v in _list(raw, path) if v is not None]
    if not items:
        return ()
    first = items[0]
    for k, value in enumerate(items):
        if not isinstance(value, str | bool | int | float) or (
            isinstance(value, bool) is not isinstance(first, bool)
            or isinstance(value, str) is not isinstance(first, str)
        ):
            raise FlagConfigError(
                f"{path}[{k}]", f"expected values all of one type like {first!r}, got {value!r}"
            )
        if not isinstance(value, str | bool) and not _finite(value):
            raise FlagConfigError(f"{path}[{k}]", f"expected a finite number, got {value!r}")
    if isinstance(first, bool | str):
        return tuple(items)
    return tuple(float(v) for v in items)


def _typed_value(value: Any, variable: Variable, path: str) -> Any:
    kind = variable.type
    ok = (
        (kind == "Boolean" and isinstance(value, bool))
        or (kind == "String" and isinstance(value, str))
        or (
            kind == "Number"
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and _finite(value)
        )
        or (kind == "JSON" and isinstance(value, dict | list))
    )
    if not ok:
        raise FlagConfigError(
            path, f"expected a {kind} value for variable {variable.key!r}, got {value!r}"
        )
    return value


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FlagConfigError(path, f"expected an object, got {_kind(value)}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise FlagConfigError(path, f"expected a list, got {_kind(value)}")
    return list(value)


def _objects(value: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(path[i], entry)`` for each entry of the list ``value``, each checked to be an object."""
    for i, entry in enumerate(_list(value, path)):
        item_path = f"{path}[{i}]"
        yield item_path, _obj(entry, item_path)


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise FlagConfigError(path, f"expected a non-empty string, got {_kind(value)}")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise FlagConfigError(path, f"expected a boolean, got {_kind(value)}")
    return value


def _finite(value: float) -> bool:
    """A finite float, or an int that becomes one."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _choice(value: Any, allowed: frozenset[str], path: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise FlagConfigError(path, f"expected one of {sorted(allowed)}, got {value!r}")
    return value


def _fraction(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise FlagConfigError(path, f"expected a number in 0..1, got {value!r}")
    return float(value)


def _date_ms(value: Any, path: str) -> float:
    """An ISO 8601 date (naive means UTC) as milliseconds since the epoch."""
    if not isinstance(value, str):
        raise FlagConfigError(path, f"expected an ISO 8601 date string, got {_kind(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FlagConfigError(path, f"expected an ISO 8601 date string, got {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return round(parsed.timestamp() * 1000.0)
    except (OverflowError, ValueError):
        raise FlagConfigError(path, f"date out of range: {value!r}") from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"string {value!r}" if value == "" else "a string"
    return type(value).__name__
