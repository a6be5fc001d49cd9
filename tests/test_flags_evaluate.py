"""Evaluator behaviour: the platinum-status story, reasons, users, EdgeDB merge, properties."""

from __future__ import annotations

import json
import random
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies_flags import (
    DAY_MS,
    config,
    configs,
    custom_filter,
    feature,
    group,
    iso,
    target,
    user_ids,
    variation,
)
from strategies_flags import users as user_bodies

from edgekv.flags import (
    DEFAULT,
    DISABLED,
    SPLIT,
    TARGETING_MATCH,
    Evaluator,
    User,
    UserError,
    merge_user,
)

NOW = 1_780_000_000_000.0


@pytest.fixture(scope="module")
def shop() -> Evaluator:
    return Evaluator(files("edgekv").joinpath("data/flags-example.json").read_text())


def test_platinum_status_turns_on_at_100_stars(shop: Evaluator) -> None:
    """The story: the shop PATCHes stars after each purchase; at 100 the flag turns on."""
    stored: dict[str, Any] | None = None
    seen = []
    for stars in (40, 99, 100, 130):
        stored = merge_user(stored, {"user_id": "shopper-7", "customData": {"stars": stars}})
        mobile = merge_user(stored, {"user_id": "shopper-7", "platform": "iOS", "country": "JP"})
        var = shop.variable(mobile, "platinum-status-feature", now_ms=NOW)
        assert var is not None
        seen.append((var.value, var.reason, var.details))
    standard = (False, TARGETING_MATCH, "All Users")
    platinum = (True, TARGETING_MATCH, "Custom Data -> stars")
    assert seen == [standard, standard, platinum, platinum]


def test_private_custom_data_overrides_custom_data_for_targeting(shop: Evaluator) -> None:
    body = {"user_id": "u", "customData": {"stars": 500}, "privateCustomData": {"stars": 5}}
    assert shop.variable(body, "platinum-status-feature", now_ms=NOW).value is False  # type: ignore[union-attr]
    body = {"user_id": "u", "customData": {"stars": 5}, "privateCustomData": {"stars": 500}}
    assert shop.variable(body, "platinum-status-feature", now_ms=NOW).value is True  # type: ignore[union-attr]


def test_stars_of_the_wrong_type_do_not_match(shop: Evaluator) -> None:
    for stars in ("150", True, None):
        body = {"user_id": "u", "customData": {"stars": stars}}
        assert shop.evaluate(body, now_ms=NOW)["platinum-status-feature"].value is False


def test_variable_reasons_when_not_served(shop: Evaluator) -> None:
    outside = shop.variable({"user_id": "u", "country": "FR"}, "checkout-flow", now_ms=NOW)
    assert outside is not None
    assert (outside.value, outside.reason, outside.details) == (None, DEFAULT, "User Not Targeted")
    assert outside.is_defaulted
    assert shop.variable({"user_id": "u"}, "no-such-variable") is None
    inside = shop.variable({"user_id": "u", "country": "US"}, "checkout-flow", now_ms=NOW)
    assert inside is not None and inside.reason == SPLIT
    assert inside.details == "Random Distribution | Country"
    assert inside.value in ("classic", "express") and not inside.is_defaulted


def test_variable_no_feature_sets_is_disabled() -> None:
    doc = config([], [("v1", "orphan", "String")])
    var = Evaluator(doc).variable({"user_id": "u"}, "orphan")
    assert var is not None and (var.reason, var.details) == (DISABLED, "Missing Feature")


def test_api_shapes(shop: Evaluator) -> None:
    body = {"user_id": "u", "email": "me@acme.example"}
    banner = shop.evaluate(body, now_ms=NOW)["holiday-banner"].to_dict()
    assert banner["value"]["dismissible"] is True
    assert banner["eval"] == {
        "reason": TARGETING_MATCH,
        "details": "Audience Match -> Email",
        "target_id": "6650f1a2c3d4e5f607182e05",
    }
    feature_dict = shop.features(body, now_ms=NOW)["holiday-banner"].to_dict()
    assert feature_dict["variationKey"] == "beta-banner"
    defaulted = shop.variable({"user_id": "u"}, "checkout-flow", now_ms=NOW)
    assert defaulted is not None and "value" not in defaulted.to_dict()


def test_values_and_value_take_a_user_mapping_as_the_other_entry_points_do(
    shop: Evaluator,
) -> None:
    """values() and value() used to fail with AttributeError on a mapping."""
    body = {"user_id": "u1", "customData": {"stars": 150}}
    user = User.from_dict(body)
    assert shop.values(body, NOW) == shop.values(user, NOW)
    assert shop.value(body, "platinum-status-feature", NOW) is True
    with pytest.raises(UserError, match="user_id"):
        shop.values({"customData": {}}, NOW)


@pytest.mark.parametrize(
    ("now_ms", "error", "match"),
    [
        ("1", TypeError, "now_ms must be a number of epoch milliseconds, got '1'"),
        (True, TypeError, "now_ms must be a number of epoch milliseconds, got True"),
        (float("nan"), ValueError, "now_ms must be a finite number of epoch milliseconds"),
        (float("inf"), ValueError, "now_ms must be a finite number of epoch milliseconds"),
    ],
)
def test_evaluation_time_must_be_a_finite_number(
    shop: Evaluator, now_ms: Any, error: type[Exception], match: str
) -> None:
    """A string used to fail comparing inside a rollout (and pass where none was
    reached); NaN silently decided every rollout stage."""
    body = {"user_id": "u1"}
    for evaluate in (
        lambda: shop.values(body, now_ms),
        lambda: shop.value(body, "dark-mode", now_ms),
        lambda: shop.evaluate(body, now_ms=now_ms),
        lambda: shop.features(body, now_ms=now_ms),
        lambda: shop.variable(body, "dark-mode", now_ms=now_ms),
    ):
        with pytest.raises(error, match=match):
            evaluate()


def test_dark_mode_rollout_follows_time(shop: Evaluator) -> None:
    """The example rolls dark-mode out from 10% (2026-01-05) to 100% (2026-02-05)."""
    start = json.loads(files("edgekv").joinpath("data/flags-example.json").read_text())
    assert start["features"][2]["configuration"]["targets"][0]["rollout"]["startPercentage"] == 0.1
    ids = [f"user-{i}" for i in range(2000)]
    before = 1_767_225_600_000.0  # 2026-01-01
    early = 1_767_657_600_000.0 + DAY_MS  # a day after the start
    after = 1_770_422_400_000.0 + DAY_MS
    shares = [
        sum("dark-mode" in shop.evaluate({"user_id": u}, now_ms=t) for u in ids) / len(ids)
        for t in (before, early, after)
    ]
    assert shares[0] == 0.0 and 0.08 < shares[1] < 0.16 and shares[2] == 1.0


def _rollout_config(disable_passthrough: bool) -> dict[str, Any]:
    rollout = {"type": "schedule", "startDate": iso(NOW + DAY_MS)}
    f = feature(
        "f1",
        "gated",
        [variation("a", {"v1": "first"}), variation("b", {"v1": "second"})],
        [
            target("t-future", group([{"type": "all"}]), [("a", 1)], rollout=rollout),
            target("t-everyone", group([{"type": "all"}]), [("b", 1)]),
        ],
    )
    return config(
        [f],
        [("v1", "gate", "String")],
        settings={"disablePassthroughRollouts": disable_passthrough},
    )


def test_passthrough_rollouts() -> None:
    """Failing a rollout passes through to the next target unless passthrough is disabled."""
    through = Evaluator(_rollout_config(False)).evaluate({"user_id": "u"}, now_ms=NOW)
    assert through["gate"].value == "second" and through["gate"].details == "All Users"
    held = Evaluator(_rollout_config(True)).evaluate({"user_id": "u"}, now_ms=NOW)
    assert held == {}


def test_bucketing_key_groups_users_by_custom_data() -> None:
    split = target("t", group([{"type": "all"}]), [("a", 0.5), ("b", 0.5)], bucketingKey="team")
    doc = config(
        [feature("f", "f", [variation("a", {"v": "A"}), variation("b", {"v": "B"})], [split])],
        [("v", "side", "String")],
    )
    evaluator = Evaluator(doc)
    teams = {
        team: {
            evaluator.evaluate({"user_id": f"u{i}", "customData": {"team": team}})["side"].value
            for i in range(50)
        }
        for team in ("red", "blue", "green", 7, None)
    }
    assert all(len(sides) == 1 for sides in teams.values())


def test_user_validation_names_the_field() -> None:
    cases = [
        ({}, "user_id"),
        ({"user_id": ""}, "user_id"),
        ({"user_id": 7}, "user_id"),
        ({"user_id": "u", "email": 3}, "email"),
        ({"user_id": "u", "customData": []}, "customData"),
        ({"user_id": "u", "customData": {"stars": [1]}}, "customData.stars"),
        ({"user_id": "u", "privateCustomData": {"x": {"y": 1}}}, "privateCustomData.x"),
        ({"user_id": "u", "customData": {"r": float("nan")}}, "customData.r"),
        ({"user_id": "u", "appBuild": "12"}, "appBuild"),
    ]
    for body, field in cases:
        with pytest.raises(UserError) as caught:
            User.from_dict(body)
        assert caught.value.path == field and str(caught.value).startswith(f"{field}: ")
    assert isinstance(UserError("f", "p"), ValueError)


def test_user_round_trip() -> None:
    body = {
        "user_id": "u",
        "email": "e@x",
        "appBuild": 12,
        "customData": {"a": 1},
        "sdkType": "server",
    }
    user = User.from_dict(body)
    assert user.to_dict() == {
        "user_id": "u",
        "email": "e@x",
        "appBuild": 12,
        "customData": {"a": 1},
    }


def test_merge_precedence() -> None:
    stored = {
        "user_id": "u",
        "email": "old@x",
        "country": "CA",
        "customData": {"stars": 90, "tier": "silver", "keep": True},
        "privateCustomData": {"secret": 1},
    }
    request = {
        "user_id": "u",
        "email": "new@x",
        "country": None,
        "appVersion": "2.0",
        "customData": {"stars": 101, "tier": None},
        "privateCustomData": {"ip": "1.2.3.4"},
    }
    before = json.dumps([stored, request], sort_keys=True)
    merged = merge_user(stored, request)
    assert merged == {
        "user_id": "u",
        "email": "new@x",
        "country": "CA",
        "appVersion": "2.0",
        "customData": {"stars": 101, "tier": None, "keep": True},
        "privateCustomData": {"ip": "1.2.3.4"},
    }
    assert json.dumps([stored, request], sort_keys=True) == before
    assert merge_user(None, {"user_id": "u"}) == {"user_id": "u"}


@given(stored=user_bodies(), request=user_bodies())
def test_merge_request_keys_always_win(stored: dict[str, Any], request: dict[str, Any]) -> None:
    merged = merge_user(stored, request)
    custom = merged.get("customData", {})
    for key, value in request.items():
        if key == "customData":
            assert custom.items() >= value.items()
        elif value is not None:
            assert merged[key] == value
    for key, value in stored.get("customData", {}).items():
        assert custom[key] == request.get("customData", {}).get(key, value)
    User.from_dict(merged)


SPLIT_DOC = config(
    [
        feature(
            "f",
            "ab",
            [variation("control", {"v": "control"}), variation("treatment", {"v": "treatment"})],
            [target("ab-target", group([{"type": "all"}]), [("control", 0.5), ("treatment", 0.5)])],
        )
    ],
    [("v", "arm", "String")],
)


@settings(max_examples=200, deadline=None)
@given(body=user_bodies(), now=st.floats(1.6e12, 1.9e12))
def test_evaluation_is_deterministic(body: dict[str, Any], now: float) -> None:
    """Same config, user and time: the same answer, from a fresh evaluator too."""
    doc = _rollout_config(False)
    first = Evaluator(doc).evaluate(body, now_ms=now)
    assert Evaluator(doc).evaluate(body, now_ms=now) == first
    arm = Evaluator(SPLIT_DOC).evaluate(body)["arm"]
    assert Evaluator(SPLIT_DOC).evaluate(dict(body))["arm"] == arm


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_fifty_fifty_split_over_100k_user_ids(seed: int) -> None:
    """100,000 random user ids: each side of a 50/50 split gets 50% +- 1%."""
    evaluator = Evaluator(SPLIT_DOC)
    rng = random.Random(seed)
    n = 100_000
    treatment = sum(
        evaluator.variable({"user_id": f"{rng.getrandbits(64):x}"}, "arm", now_ms=NOW).value
        == "treatment"  # type: ignore[union-attr]
        for _ in range(n)
    )
    assert abs(treatment / n - 0.5) <= 0.01


@given(user_id=user_ids)
def test_any_user_id_gets_one_arm(user_id: str) -> None:
    var = Evaluator(SPLIT_DOC).variable({"user_id": user_id}, "arm", now_ms=NOW)
    assert var is not None and var.value in ("control", "treatment") and var.reason == SPLIT


def test_custom_filter_comparators_on_numbers() -> None:
    doc = config(
        [
            feature(
                "f",
                "big",
                [variation("on", {"v": True})],
                [target("t", group([custom_filter("n", "Number", "!=", [1, 2])]), [("on", 1)])],
            )
        ],
        [("v", "big", "Boolean")],
    )
    evaluator = Evaluator(doc)
    got = {
        n: "big" in evaluator.evaluate({"user_id": "u", "customData": {"n": n}})
        for n in (1, 2, 3, 2.5)
    }
    assert got == {1: False, 2: False, 3: True, 2.5: True}
    assert "big" in evaluator.evaluate({"user_id": "u"})
    assert "big" not in evaluator.evaluate({"user_id": "u", "customData": {"n": None}})


SHARED_DOC = config(
    [
        feature(
            "f1",
            "first",
            [variation("a", {"v": "from-first", "w": 1}), variation("b", {"w": 2})],
            [target("t1", group([{"type": "all"}]), [("a", 0.5), ("b", 0.5)])],
        ),
        feature(
            "f2",
            "second",
            [variation("c", {"v": "from-second"}), variation("d", {"w": 3})],
            [
                target(
                    "t2",
                    group([custom_filter("stars", "Number", ">=", [100])]),
                    [("c", 0.3), ("d", 0.7)],
                )
            ],
        ),
    ],
    [("v", "shared", "String"), ("w", "number", "Number")],
)
"""Two features setting one variable, and variations without it: the later hit wins."""


@settings(max_examples=150, deadline=None)
@given(
    doc=st.one_of(st.just(SHARED_DOC), configs(NOW)),
    body=user_bodies(),
    now=st.floats(1.6e12, 1.9e12),
)
def test_one_variable_is_what_every_variable_gives(
    doc: dict[str, Any], body: dict[str, Any], now: float
) -> None:
    """``Evaluator.value`` (only the features that may set the variable) agrees with
    ``values`` (every feature) on every variable key, and on a key no feature sets."""
    evaluator = Evaluator(doc)
    user = User.from_dict(body)
    every = evaluator.values(user, now)
    keys = {v["key"] for v in doc["variables"]} | {"no-such-variable"}
    assert {key: evaluator.value(user, key, now) for key in keys} == {
        key: every.get(key) for key in keys
    }
