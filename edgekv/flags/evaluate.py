"""Evaluate a DevCycle config for a user: the variables and features they get, and why.

`Evaluator` follows `_generateBucketedConfig` of DevCycle's WASM bucketing (DevCycleHQ/js-sdks
`lib/shared/bucketing-assembly-script/assembly/bucketing/bucketing.ts`): features in config
order; per feature the first target whose rollout (unless passthrough rollouts are disabled)
and audience the user passes; then the variation by bucketing hash. Reasons are those of
DevCycle's newer SDKs: TARGETING_MATCH, or SPLIT when the target has a rollout or more than
one distribution entry, with details such as "Random Distribution | Rollout | Email"; a
variable the user does not get is DEFAULT ("User Not Targeted"). Time is a parameter
(`now_ms`) so that virtual-time drivers get deterministic rollouts.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bucketing import (
    bounded_hash,
    bounded_hashes,
    bucketing_value,
    decide_variation,
    decide_variations,
    passes_rollout,
)
from .columns import MISSING, Column, UserColumns
from .config import Feature, FlagConfig, Target, Variation, parse_config
from .targeting import Matcher, compile_group, reads
from .user import User, merge_user

__all__ = [
    "DEFAULT",
    "DISABLED",
    "SPLIT",
    "TARGETING_MATCH",
    "EvaluatedFeature",
    "EvaluatedVariable",
    "Evaluator",
]

TARGETING_MATCH = "TARGETING_MATCH"
SPLIT = "SPLIT"
DEFAULT = "DEFAULT"
DISABLED = "DISABLED"
_NOT_TARGETED = "User Not Targeted"
_MISSING_FEATURE = "Missing Feature"


@dataclass(frozen=True, slots=True)
class EvaluatedVariable:
    """A variable's value for a user; `feature`/`variation` are ids, None when defaulted."""

    key: str
    type: str
    value: Any
    feature: str | None
    variation: str | None
    reason: str
    details: str
    target_id: str | None = None
    variable_id: str | None = None

    @property
    def is_defaulted(self) -> bool:
        """True when the user got no value (the caller's default applies)."""
        return self.reason in (DEFAULT, DISABLED)

    def to_dict(self) -> dict[str, Any]:
        """As DevCycle's bucketing API returns a variable (`POST /v1/variables`)."""
        out: dict[str, Any] = {"_id": self.variable_id, "key": self.key, "type": self.type}
        if not self.is_defaulted:
            out["value"] = self.value
            out["_feature"] = self.feature
        evaluation: dict[str, Any] = {"reason": self.reason, "details": self.details}
        if self.target_id is not None:
            evaluation["target_id"] = self.target_id
        out["eval"] = evaluation
        return out


@dataclass(frozen=True, slots=True)
class EvaluatedFeature:
    """The variation of a feature a user is bucketed into, and why."""

    id: str
    key: str
    type: str
    variation: str
    variation_key: str
    variation_name: str
    reason: str
    details: str
    target_id: str

    def to_dict(self) -> dict[str, Any]:
        """As DevCycle's bucketing API returns a feature (`POST /v1/features`)."""
        return {
            "_id": self.id,
            "key": self.key,
            "type": self.type,
            "_variation": self.variation,
            "variationKey": self.variation_key,
            "variationName": self.variation_name,
            "eval": {"reason": self.reason, "details": self.details, "target_id": self.target_id},
        }


def _hashes(value: Column, rows: np.ndarray, seed: int, suffix: str) -> np.ndarray:
    """Per row of ``rows``, the bounded hash of its bucketing value plus ``suffix``, hashing
    each distinct value once."""
    used, inverse = np.unique(value.codes[rows], return_inverse=True)
    strings = value.values
    hashes = bounded_hashes([strings[c] + suffix for c in used.tolist()], seed)
    out: np.ndarray = hashes[inverse.reshape(-1)]
    return out


class _CompiledTarget:
    """A target with its matcher, seed and reason prefix bound for the hot loop."""

    __slots__ = (
        "target",
        "match",
        "seed",
        "rollout",
        "thresholds",
        "by_user_id",
        "reason",
        "prefix",
        "reads",
    )

    def __init__(
        self, target: Target, match: Matcher, reads: tuple[frozenset[str], frozenset[str]]
    ) -> None:
        self.target = target
        self.match = match
        self.reads = reads
        self.seed = target.seed
        self.rollout = target.rollout
        self.thresholds = target.thresholds
        self.by_user_id = target.bucketing_key == "user_id"
        split = len(target.distribution) != 1
        self.reason = SPLIT if split or target.rollout is not None else TARGETING_MATCH
        prefix = [
            p for p, on in (("Random Distribution", split), ("Rollout", target.rollout)) if on
        ]
        self.prefix = " | ".join(prefix) + " | " if prefix else ""


class _CompiledFeature:
    """A feature's targets in order and its variations by id."""

    __slots__ = ("feature", "targets", "variations")

    def __init__(self, feature: Feature, targets: tuple[_CompiledTarget, ...]) -> None:
        self.feature = feature
        self.targets = targets
        self.variations: dict[str, Variation] = {v.id: v for v in feature.variations}


class Evaluator:
    """Evaluates one config for many users; compiled once, then pure and thread-safe.

    Cost per user: O(targets tried x filters) filter checks plus two murmur3 hashes per
    served feature (three with a rollout).
    """

    __slots__ = ("config", "_features", "_by_feature_id", "_passthrough", "_setting")

    def __init__(self, config: FlagConfig | Mapping[str, Any] | str | bytes) -> None:
        if not isinstance(config, FlagConfig):
            config = parse_config(config)
        self.config = config
        self._passthrough = not config.project.disable_passthrough_rollouts
        audiences = config.audiences
        self._features = tuple(
            _CompiledFeature(
                f,
                tuple(
                    _CompiledTarget(
                        t, compile_group(t.audience, audiences), reads(t.audience, audiences)
                    )
                    for t in f.targets
                ),
            )
            for f in config.features
        )
        self._by_feature_id = {c.feature.id: c for c in self._features}
        setting: dict[str, list[_CompiledFeature]] = {}
        variables = config.variables_by_id
        for compiled in self._features:
            keys = {
                variables[v].key for var in compiled.feature.variations for v, _ in var.variables
            }
            for key in keys:
                setting.setdefault(key, []).append(compiled)
        self._setting = {key: tuple(features) for key, features in setting.items()}
        """Per variable key, the features that may set it, in config order."""

    def _bucket(
        self, compiled: _CompiledFeature, user: User, now_ms: float
    ) -> tuple[_CompiledTarget, Variation, str] | None:
        """The target, variation and reason details a user gets for one feature, if any."""
        passthrough = self._passthrough
        user_id = user.user_id
        for ct in compiled.targets:
            value = user_id if ct.by_user_id else bucketing_value(ct.target, user_id, user.custom)
            rollout = ct.rollout
            if (
                rollout is not None
                and passthrough
                and not passes_rollout(rollout, bounded_hash(value + "_rollout", ct.seed), now_ms)
            ):
                continue
            details = ct.match(user)
            if details is not None:
                break
        else:
            return None
        if (
            rollout is not None
            and not passthrough
            and not passes_rollout(rollout, bounded_hash(value + "_rollout", ct.seed), now_ms)
        ):
            return None
        variation_id = decide_variation(ct.target, bounded_hash(value, ct.seed))
        return ct, compiled.variations[variation_id], ct.prefix + details

    def evaluate(
        self, user: User | Mapping[str, Any], *, now_ms: float | None = None
    ) -> dict[str, EvaluatedVariable]:
        """Every variable the user gets, by key (O(features x targets x filters)).

        When two features set one variable, the later feature in the config wins, as in
        DevCycle's bucketed config.
        """
        user = _user(user)
        now_ms = _now(now_ms)
        bucket = self._bucket
        variables = self.config.variables_by_id
        out: dict[str, EvaluatedVariable] = {}
        for compiled in self._features:
            hit = bucket(compiled, user, now_ms)
            if hit is None:
                continue
            ct, variation, details = hit
            feature_id = compiled.feature.id
            reason = ct.reason
            target_id = ct.target.id
            for var_id, value in variation.variables:
                var = variables[var_id]
                out[var.key] = EvaluatedVariable(
                    var.key,
                    var.type,
                    value,
                    feature_id,
                    variation.id,
                    reason,
                    details,
                    target_id,
                    var_id,
                )
        return out

    def served(
        self, stored: Mapping[str, Any] | None, request: Mapping[str, Any], now_ms: float
    ) -> dict[str, Any]:
        """:meth:`values` for a request whose user data is merged over ``stored`` (what an
        edge serving that document answers). O(features x targets x filters)."""
        return self.values(User.from_dict(merge_user(stored, request)), now_ms)

    def values(self, user: User | Mapping[str, Any], now_ms: float) -> dict[str, Any]:
        """Every variable's value the user gets, by key, in :meth:`evaluate`'s order: its
        values without the records around them (a benchmark's logins need only these).
        O(features x targets x filters)."""
        user = _user(user)
        now_ms = _now(now_ms)
        bucket = self._bucket
        variables = self.config.variables_by_id
        out: dict[str, Any] = {}
        for compiled in self._features:
            hit = bucket(compiled, user, now_ms)
            if hit is not None:
                for var_id, value in hit[1].variables:
                    out[variables[var_id].key] = value
        return out

    def value(self, user: User | Mapping[str, Any], key: str, now_ms: float) -> Any:
        """``values(user, now_ms).get(key)``, evaluating only the features that may set the
        variable (the later one wins, as in :meth:`evaluate`): what a caller that needs one
        variable of many users pays. O(those features x targets x filters)."""
        user = _user(user)
        now_ms = _now(now_ms)
        bucket = self._bucket
        variables = self.config.variables_by_id
        out = None
        for compiled in self._setting.get(key, ()):
            hit = bucket(compiled, user, now_ms)
            if hit is not None:
                for var_id, value in hit[1].variables:
                    if variables[var_id].key == key:
                        out = value
        return out

    def value_column(self, users: UserColumns, key: str, now_ms: np.ndarray | float) -> Column:
        """:meth:`value` of every user of ``users`` (``now_ms`` one time or one per user),
        as a column. Each target's audience runs once per distinct combination of the fields
        it reads and hashes are computed in numpy, once per distinct bucketing value: O(rows
        log rows). Rollouts cost one Python call per user they decide."""
        return self._columns(users, now_ms, self._setting.get(key, ()), {key})[key]

    def values_column(self, users: UserColumns, now_ms: np.ndarray | float) -> dict[str, Column]:
        """:meth:`values` of every user of ``users`` as one column per variable some feature
        may set (None where a user does not get it), evaluating each feature once: what
        :meth:`value_column` gives for each of those keys. O(features x rows log rows)."""
        return self._columns(users, now_ms, self._features, set(self._setting))

    def _columns(
        self,
        users: UserColumns,
        now_ms: np.ndarray | float,
        features: tuple[_CompiledFeature, ...],
        keys: set[str],
    ) -> dict[str, Column]:
        """The values of ``keys`` these features give, per key a column (later features
        win where they set the variable, as in :meth:`values`)."""
        n = len(users)
        now = np.broadcast_to(np.asarray(now_ms, dtype=float), (n,))
        variables = self.config.variables_by_id
        codes = {key: np.zeros(n, dtype=np.intp) for key in sorted(keys)}
        built: dict[int, User] = {}  # (rows as Users, built once for every target)
        values: dict[str, list[Any]] = {key: [None] for key in codes}
        for compiled in features:
            for ct, rows, index in self._bucket_column(compiled, users, now, built):
                thresholds = ct.thresholds
                lookup = {key: np.full(len(thresholds), -1, dtype=np.intp) for key in codes}
                for i, (_, variation_id) in enumerate(thresholds):
                    for var_id, value in compiled.variations[variation_id].variables:
                        key = variables[var_id].key
                        if key in lookup:  # (the last one wins, as in values)
                            lookup[key][i] = len(values[key])
                            values[key].append(value)
                for key, table in lookup.items():
                    sets = table[index]
                    codes[key][rows] = np.where(sets >= 0, sets, codes[key][rows])
        return {key: Column(codes[key], tuple(values[key])) for key in codes}

    def _bucket_column(
        self,
        compiled: _CompiledFeature,
        users: UserColumns,
        now: np.ndarray,
        built: dict[int, User],
    ) -> list[tuple[_CompiledTarget, np.ndarray, np.ndarray]]:
        """:meth:`_bucket` for many users: per target, the rows it serves and each one's
        variation as an index into its thresholds (rows no target serves are left out)."""
        passthrough = self._passthrough
        is_open = np.ones(len(users), dtype=bool)  # (rows no target took yet)
        open_rows = np.arange(len(users))
        out = []
        for ct in compiled.targets:
            if not len(open_rows):
                break
            value = self._bucketing_column(ct, users)
            trying = open_rows
            if ct.rollout is not None and passthrough:
                trying = trying[self._in_rollout(ct, value, trying, now)]
            combos, inverse = users.combinations(trying, *ct.reads)
            match = ct.match
            hit = np.array(
                [
                    match(built.get(r) or built.setdefault(r, users.user(r))) is not None
                    for r in combos.tolist()
                ],
                dtype=bool,
            )
            matched = trying[hit[inverse]]
            if len(matched):
                is_open[matched] = False
                open_rows = open_rows[is_open[open_rows]]
                if ct.rollout is not None and not passthrough:
                    matched = matched[self._in_rollout(ct, value, matched, now)]
                hashes = _hashes(value, matched, ct.seed, "")
                out.append((ct, matched, decide_variations(ct.target, hashes)))
        return out

    @staticmethod
    def _bucketing_column(ct: _CompiledTarget, users: UserColumns) -> Column:
        """The strings a target buckets these users on (user_id, or a custom data value)."""
        if ct.by_user_id:
            return users.user_id
        target = ct.target
        custom = users.custom.get(target.bucketing_key)
        if custom is None:
            return Column.constant(bucketing_value(target, "", {}), len(users))
        strings = [
            bucketing_value(target, "", {} if v is MISSING else {target.bucketing_key: v})
            for v in custom.values
        ]
        return Column(custom.codes, strings)

    @staticmethod
    def _in_rollout(
        ct: _CompiledTarget, value: Column, rows: np.ndarray, now: np.ndarray
    ) -> np.ndarray:
        """Per row of ``rows``, whether the user is inside the target's rollout at its time."""
        rollout = ct.rollout
        assert rollout is not None
        hashes = _hashes(value, rows, ct.seed, "_rollout").tolist()
        times = now[rows].tolist()
        return np.array(
            [passes_rollout(rollout, h, t) for h, t in zip(hashes, times, strict=True)], bool
        )

    def features(
        self, user: User | Mapping[str, Any], *, now_ms: float | None = None
    ) -> dict[str, EvaluatedFeature]:
        """Every feature the user is bucketed into, by feature key."""
        user = _user(user)
        now_ms = _now(now_ms)
        out: dict[str, EvaluatedFeature] = {}
        for compiled in self._features:
            hit = self._bucket(compiled, user, now_ms)
            if hit is not None:
                ct, variation, details = hit
                f = compiled.feature
                out[f.key] = EvaluatedFeature(
                    f.id,
                    f.key,
                    f.type,
                    variation.id,
                    variation.key,
                    variation.name,
                    ct.reason,
                    details,
                    ct.target.id,
                )
        return out

    def variable(
        self, user: User | Mapping[str, Any], key: str, *, now_ms: float | None = None
    ) -> EvaluatedVariable | None:
        """One variable for a user, evaluating only the feature that sets it.

        None when the config declares no such variable; DISABLED ("Missing Feature", as
        DevCycleHQ/bucketing-rs) when no feature sets it; DEFAULT ("User Not Targeted") when
        the user is not served it.
        """
        var = self.config.variables_by_key.get(key)
        if var is None:
            return None
        user = _user(user)
        feature = self.config.feature_by_variable_id.get(var.id)
        if feature is None:
            return EvaluatedVariable(
                key, var.type, None, None, None, DISABLED, _MISSING_FEATURE, variable_id=var.id
            )
        hit = self._bucket(self._by_feature_id[feature.id], user, _now(now_ms))
        if hit is not None:
            ct, variation, details = hit
            for var_id, value in variation.variables:
                if var_id == var.id:
                    return EvaluatedVariable(
                        key,
                        var.type,
                        value,
                        feature.id,
                        variation.id,
                        ct.reason,
                        details,
                        ct.target.id,
                        var.id,
                    )
        return EvaluatedVariable(
            key, var.type, None, feature.id, None, DEFAULT, _NOT_TARGETED, variable_id=var.id
        )


def _user(user: User | Mapping[str, Any]) -> User:
    """``user`` as a :class:`User` (a mapping is validated: :class:`UserError`)."""
    return user if isinstance(user, User) else User.from_dict(user)


def _now(now_ms: float | None) -> float:
    """The evaluation time in epoch milliseconds: ``now_ms``, or the wall clock for None;
    ``TypeError``/``ValueError`` naming ``now_ms`` for anything but a finite number."""
    if now_ms is None:
        return time.time() * 1000.0
    if isinstance(now_ms, bool) or not isinstance(now_ms, numbers.Real):
        raise TypeError(f"now_ms must be a number of epoch milliseconds, got {now_ms!r}")
    if not math.isfinite(now_ms):
        raise ValueError(f"now_ms must be a finite number of epoch milliseconds, got {now_ms!r}")
    return now_ms
