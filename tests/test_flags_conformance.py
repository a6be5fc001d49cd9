"""Conformance cases from DevCycle's public bucketing tests, run against our evaluator.

Sources (DevCycleHQ/js-sdks):
- `lib/shared/bucketing-assembly-script/__tests__/bucketing/bucketing.test.ts` with its data
  `lib/shared/bucketing-test-data/json-data/testData.json` (config, users, expected variations;
  rollout logic; distribution shares);
- `lib/shared/bucketing-assembly-script/__tests__/bucketing/segmentation.test.ts` (operators,
  version filters, number filters);
- `lib/shared/bucketing-assembly-script/assembly/bucketing/bucketing.ts` (`_getEvalReasonDetails`)
  for reasons and details.
The test config is rebuilt here with the same ids (hashes depend on them) and filters.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from typing import Any

import pytest
from strategies_flags import DAY_MS, config, custom_filter, feature, group, iso, target, user_filter

from edgekv.flags import (
    Evaluator,
    Rollout,
    User,
    bounded_hash,
    compile_group,
    decide_variation,
    murmur3,
    parse_config,
    passes_rollout,
)

# testData.json: the feature1 rollout runs 0 -> 100% linearly from 04-10 to 04-12; the
# bucketing tests were written while it stood near 50%, so evaluate at its midpoint.
ROLLOUT_START = "2022-04-10T17:26:34.727Z"
ROLLOUT_END = "2022-04-12T17:26:34.728Z"
MIDPOINT_MS = datetime.fromisoformat(ROLLOUT_START).timestamp() * 1000 + DAY_MS

VAR_1 = "6153553b8cf4e45e0464268d"
VAR_2 = "615357cf7e9ebdca58446ed0"
VAR_AUD_2 = "615382338424cb11646d7667"
VAR_F2 = "615382338424cb11646d7668"
EMAILS = group([user_filter("email", "=", ["test@email.com", "test2@email.com"])])
ASUH_NOT_USA = group(
    [user_filter("user_id", "=", ["asuh"]), user_filter("country", "!=", ["U S AND A"])]
)
PIZZA_COFFEE = group(
    [
        user_filter("platformVersion", ">", ["1.1.1"]),
        custom_filter("favouriteFood", "String", "=", ["pizza"]),
        custom_filter("favouriteDrink", "String", "=", ["coffee"]),
    ]
)


def devcycle_test_config() -> dict[str, Any]:
    """testData.json's `config`, with dataKeyType added to its customData filters."""
    variations = [
        {
            "_id": VAR_1,
            "key": "variation-1-key",
            "name": "variation 1",
            "variables": [
                {"_var": "614ef6ea475129459160721a", "value": "scat"},
                {"_var": "615356f120ed334a6054564c", "value": "man"},
            ],
        },
        {
            "_id": VAR_2,
            "key": "variation-2-key",
            "name": "variation 2",
            "variables": [{"_var": "615356f120ed334a6054564c", "value": "YEEEEOWZA"}],
        },
    ]
    feature2_variations = [
        *variations,
        {
            "_id": VAR_AUD_2,
            "key": "variation-1-aud-2-key",
            "name": "variation 1 aud 2",
            "variables": [{"_var": "61538237b0a70b58ae6af71f", "value": "Var 1 aud 2"}],
        },
        {
            "_id": VAR_F2,
            "key": "variation-feature-2-key",
            "name": "feature 2 variation",
            "variables": [
                {"_var": "61538237b0a70b58ae6af71g", "value": "multivar first"},
                {"_var": "61538237b0a70b58ae6af71h", "value": "multivar last"},
            ],
        },
    ]
    rollout = {
        "type": "gradual",
        "startPercentage": 0,
        "startDate": ROLLOUT_START,
        "stages": [{"type": "linear", "percentage": 1, "date": ROLLOUT_END}],
    }
    feature1 = feature(
        "614ef6aa473928459060721a",
        "feature1",
        variations,
        [
            target("61536f3bc838a705c105eb62", EMAILS, [(VAR_1, 0.5), (VAR_2, 0.5)]),
            target("61536f468fd67f0091982533", ASUH_NOT_USA, [(VAR_2, 1)]),
            target("61536f468fd67f0091982534", PIZZA_COFFEE, [(VAR_2, 1)], rollout=rollout),
        ],
    )
    feature2 = feature(
        "614ef6aa475928459060721a",
        "feature2",
        feature2_variations,
        [
            target("61536f468fd67f0091982533", EMAILS, [(VAR_F2, 1), (VAR_F2, 0)]),
            target("61536f669c69b86cccc5f15e", PIZZA_COFFEE, [(VAR_AUD_2, 1)]),
        ],
    )
    return config(
        [feature1, feature2],
        [
            ("614ef6ea475129459160721a", "test", "String"),
            ("615356f120ed334a6054564c", "swagTest", "String"),
            ("61538237b0a70b58ae6af71f", "feature2Var", "String"),
            ("61538237b0a70b58ae6af71g", "feature2.cool", "String"),
            ("61538237b0a70b58ae6af71h", "feature2.hello", "String"),
        ],
    )


PRIVATE = {"favouriteDrink": "coffee", "favouriteNumber": 610, "favouriteBoolean": True}
CASES = [
    (
        "generates the correctly modified config from the example config",
        {"country": "canada", "user_id": "asuh", "email": "test"},
        {"feature1": VAR_2},
        {"swagTest": "YEEEEOWZA"},
    ),
    (
        "puts the user in the target for the first audience they match",
        {
            "country": "U S AND A",
            "user_id": "asuh",
            "customData": {"favouriteFood": "pizza"},
            "privateCustomData": PRIVATE,
            "platformVersion": "1.1.2",
            "email": "test@email.com",
        },
        {"feature1": VAR_1, "feature2": VAR_F2},
        {
            "feature2.cool": "multivar first",
            "feature2.hello": "multivar last",
            "swagTest": "man",
            "test": "scat",
        },
    ),
    (
        "holds user back if not in rollout",
        {
            "country": "U S AND A",
            "user_id": "asuh",
            "customData": {"favouriteFood": "pizza"},
            "privateCustomData": PRIVATE,
            "platformVersion": "1.1.2",
            "email": "test@notemail.com",
        },
        {"feature2": VAR_AUD_2},
        {"feature2Var": "Var 1 aud 2"},
    ),
    (
        "puts user through if in rollout",
        {
            "country": "U S AND A",
            "user_id": "pass_rollout",
            "customData": {"favouriteFood": "pizza"},
            "privateCustomData": {"favouriteDrink": "coffee"},
            "platformVersion": "1.1.2",
            "email": "test@notemail.com",
        },
        {"feature1": VAR_2, "feature2": VAR_AUD_2},
        {"swagTest": "YEEEEOWZA", "feature2Var": "Var 1 aud 2"},
    ),
]


@pytest.mark.parametrize(
    ("name", "body", "features", "variables"), CASES, ids=[c[0] for c in CASES]
)
def test_bucketing_test_ts_config_cases(
    name: str, body: dict[str, Any], features: dict[str, str], variables: dict[str, str]
) -> None:
    """bucketing.test.ts 'Config Parsing and Generating': variations and values per user."""
    evaluator = Evaluator(devcycle_test_config())
    got = evaluator.features(body, now_ms=MIDPOINT_MS)
    assert {k: f.variation for k, f in got.items()} == features
    assert {
        k: v.value for k, v in evaluator.evaluate(body, now_ms=MIDPOINT_MS).items()
    } == variables


def test_rollout_is_the_only_difference_between_the_two_rollout_cases() -> None:
    """'asuh' fails and 'pass_rollout' passes the 50% rollout at the midpoint (by rollout hash)."""
    seed = murmur3("61536f468fd67f0091982534", 1)
    assert bounded_hash("asuh_rollout", seed) > 0.5 >= bounded_hash("pass_rollout_rollout", seed)


def test_eval_reasons_and_details() -> None:
    """Reasons as _getEvalReasonDetails builds them: split prefixes, ' AND ' joined filters."""
    evaluator = Evaluator(devcycle_test_config())
    body = CASES[3][1]
    got = {
        k: (f.reason, f.details, f.target_id)
        for k, f in evaluator.features(body, now_ms=MIDPOINT_MS).items()
    }
    filters = "Platform Version AND Custom Data -> favouriteFood AND Custom Data -> favouriteDrink"
    assert got == {
        "feature1": ("SPLIT", f"Rollout | {filters}", "61536f468fd67f0091982534"),
        "feature2": ("TARGETING_MATCH", filters, "61536f669c69b86cccc5f15e"),
    }
    split = evaluator.features(CASES[1][1], now_ms=MIDPOINT_MS)["feature1"]
    assert (split.reason, split.details) == ("SPLIT", "Random Distribution | Email")


def test_distribution_shares_match_variation_percentages() -> None:
    """bucketing.test.ts: 30,000 uuid4 ids split 25/45/20/10 within one percentage point."""
    parsed = parse_config(
        config(
            [
                feature(
                    "f",
                    "f",
                    [
                        {"_id": v, "key": v, "name": v, "variables": []}
                        for v in ("var1", "var2", "var3", "var4")
                    ],
                    [
                        target(
                            "target",
                            group([]),
                            [("var1", 0.25), ("var2", 0.45), ("var4", 0.2), ("var3", 0.1)],
                        )
                    ],
                )
            ],
            [],
        )
    )
    tgt = parsed.features[0].targets[0]
    rng = random.Random(4)
    counts = dict.fromkeys(("var1", "var2", "var3", "var4"), 0)
    n = 30_000
    for _ in range(n):
        user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        counts[decide_variation(tgt, bounded_hash(user_id, tgt.seed))] += 1
    for name, share in (("var1", 0.25), ("var2", 0.45), ("var4", 0.2), ("var3", 0.1)):
        assert abs(counts[name] / n - share) < 0.01, (name, counts)


def _rollout(
    kind: str, start_days: float, start_pct: float | None, stages: list[tuple[str, float, float]]
) -> Rollout:
    now = 1_700_000_000_000.0
    raw: dict[str, Any] = {"type": kind, "startDate": iso(now + start_days * DAY_MS)}
    if start_pct is not None:
        raw["startPercentage"] = start_pct
    raw["stages"] = [
        {"type": t, "percentage": p, "date": iso(now + d * DAY_MS)} for t, p, d in stages
    ]
    variation = {"_id": "v", "key": "v", "name": "v", "variables": []}
    doc = config(
        [feature("f", "f", [variation], [target("t", group([]), [("v", 1)], rollout=raw)])], []
    )
    rollout = parse_config(doc).features[0].targets[0].rollout
    assert rollout is not None
    return rollout


NOW = 1_700_000_000_000.0
ROLLOUT_CASES = [
    (
        "gradual halfway",
        _rollout("gradual", -1, 0, [("linear", 1, 1)]),
        {0.35: True, 0.85: False, 0.2: True, 0.75: False},
    ),
    (
        "gradual halfway to 80%",
        _rollout("gradual", -1, 0, [("linear", 0.8, 1)]),
        {0.51: False, 0.95: False, 0.35: True},
    ),
    (
        "gradual starting tomorrow",
        _rollout("gradual", 1, 0, [("linear", 1, 2)]),
        dict.fromkeys((0, 0.25, 0.5, 0.75, 1), False),
    ),
    (
        "gradual ended yesterday",
        _rollout("gradual", -2, 0, [("linear", 1, -1)]),
        dict.fromkeys((0, 0.25, 0.5, 0.75, 1), True),
    ),
    (
        "gradual without stages",
        _rollout("gradual", -30 / 86400, 1, []),
        dict.fromkeys((0, 0.25, 0.4, 0.6, 0.9), True),
    ),
    (
        "gradual without stages, future",
        _rollout("gradual", 60 / 86400, 1, []),
        dict.fromkeys((0, 0.25, 0.4, 0.6, 0.9), False),
    ),
    (
        "schedule passed",
        _rollout("schedule", -60 / 86400, None, []),
        dict.fromkeys((0, 0.25, 0.4, 0.6, 0.9), True),
    ),
    (
        "schedule in the future",
        _rollout("schedule", 60 / 86400, None, []),
        dict.fromkeys((0, 0.25, 0.4, 0.6, 0.9), False),
    ),
    (
        "stepped uses the current step",
        _rollout(
            "stepped", -3, 0, [("discrete", 0.25, -2), ("discrete", 0.5, -1), ("discrete", 0.75, 1)]
        ),
        {0: True, 0.25: True, 0.4: True, 0.6: False, 0.9: False},
    ),
]


@pytest.mark.parametrize(
    ("name", "rollout", "expected"), ROLLOUT_CASES, ids=[c[0] for c in ROLLOUT_CASES]
)
def test_rollout_logic(name: str, rollout: Rollout, expected: dict[float, bool]) -> None:
    """bucketing.test.ts 'Rollout Logic': gradual, schedule and stepped rollouts."""
    assert {h: passes_rollout(rollout, h, NOW) for h in expected} == expected


def _matches(
    filters: list[dict[str, Any]],
    body: dict[str, Any],
    operator: str = "and",
    audiences: dict[str, Any] | None = None,
) -> bool:
    parsed = parse_config(
        config(
            [
                feature(
                    "f",
                    "f",
                    [{"_id": "v", "key": "v", "name": "v", "variables": []}],
                    [target("t", group(filters, operator), [("v", 1)])],
                )
            ],
            [],
            audiences=audiences,
        )
    )
    matcher = compile_group(parsed.features[0].targets[0].audience, parsed.audiences)
    return matcher(User.from_dict({"user_id": "some_user", **body})) is not None


DATA = {
    "country": "Canada",
    "email": "brooks@big.lunch",
    "platformVersion": "2.0.0",
    "platform": "iOS",
}


def test_evaluate_operator_cases() -> None:
    """segmentation.test.ts 'evaluateOperator': empty, all, optIn, unknown type and operator."""
    assert not _matches([], DATA)
    assert not _matches([], {}, "or")
    assert _matches([{"type": "all", "comparator": "=", "values": []}], DATA)
    assert not _matches([{"type": "optIn", "comparator": "=", "values": []}], DATA)
    assert not _matches([{"type": "myNewFilter", "comparator": "=", "values": []}], DATA)
    assert not _matches([user_filter("email", "=", ["brooks@big.lunch"])], DATA, "xylophone")


def test_audience_match_cases() -> None:
    """segmentation.test.ts 'evaluateOperator should handle audienceMatch filter'."""
    audience = group(
        [
            user_filter("country", "=", ["Canada"]),
            user_filter("email", "=", ["dexter@smells.nice", "brooks@big.lunch"]),
            user_filter("appVersion", ">", ["1.0.0"]),
        ]
    )
    audiences = {"test": {"_id": "test", "filters": audience}}
    data = {**DATA, "appVersion": "2.0.2"}
    match = {"type": "audienceMatch", "comparator": "=", "_audiences": ["test"]}
    no_match = {"type": "audienceMatch", "comparator": "!=", "_audiences": ["test"]}
    assert _matches([match], data, audiences=audiences)
    assert not _matches([no_match], data, audiences=audiences)
    assert _matches([group([match]), *audience["filters"]], data, audiences=audiences)
    assert _matches([no_match], {**data, "country": "Nope"}, audiences=audiences)


VERSION_CASES: list[tuple[str | None, str, str, bool]] = [
    # checkVersionFilters / checkVersionFilter, segmentation.test.ts
    (None, "=", "1.1.2", False),
    (None, ">=", "1.1.2", False),
    ("1.1.2", ">=", "1.1.2", True),
    ("1.1.2.12", "=", "1.1.2.12", True),
    ("1.1", "=", "1.1.1", False),
    ("1.1.", "=", "1.1.1", False),
    ("1", "!=", "1", False),
    ("1.1.", "!=", "1.1", False),
    ("1.1", "!=", "1.1.1", True),
    ("1.1.1", "!=", "1.1.", True),
    ("1.1.", ">", "1.1", False),
    ("1.2.", ">", "1.1", True),
    ("4.8.241.2", ">", "4.8.241.0", True),
    ("4.8.241.2", ">=", "4.8.242", False),
    ("1.2.2", ">=", "v1.2.1-2v3asda", True),
    ("1.2.2", ">", "v1.2.1-va1sda", True),
    ("1.2.0", ">=", "v1.2.1-vas1da", False),
    ("1.2.1", "<=", "v1.2.1- va34sda", True),
    ("1.2.2", "<", "1.2.", False),
    ("4.8.241.2", "<", "4.8.241", False),
    ("1.1.", "<=", "1.1.1", True),
]


@pytest.mark.parametrize(("version", "comparator", "value", "expected"), VERSION_CASES)
def test_version_filter_cases(
    version: str | None, comparator: str, value: str, expected: bool
) -> None:
    """segmentation.test.ts 'checkVersionFilter(s)', on appVersion."""
    body = {} if version is None else {"appVersion": version}
    assert _matches([user_filter("appVersion", comparator, [value])], body) is expected


NUMBER_CASES = [
    # checkNumbersFilter, segmentation.test.ts
    (0, ">=", [-1], True),
    (10, ">=", [10], True),
    (10, ">=", [11], False),
    (-1, "<", [0], True),
    (10, "<", [10], False),
    (10, "<=", [10], True),
    (11, "<=", [10], False),
]


@pytest.mark.parametrize(("number", "comparator", "values", "expected"), NUMBER_CASES)
def test_number_filter_cases(
    number: float, comparator: str, values: list[float], expected: bool
) -> None:
    """segmentation.test.ts 'checkNumbersFilter', on a Number customData key."""
    body = {"customData": {"key": number}}
    assert _matches([custom_filter("key", "Number", comparator, values)], body) is expected


def test_custom_filter_without_data_key_type_is_rejected_like_the_sdk() -> None:
    """CustomDataFilter requires a dataKeyType in String/Boolean/Number (targetV2.ts)."""
    bad = user_filter("customData", "=", [1], dataKey="k", dataKeyType="Date")
    with pytest.raises(ValueError, match=r"filters\[0\]\.dataKeyType"):
        _matches([bad], {})


def test_nested_group_in_and_decides_alone() -> None:
    """segmentation.ts quirk: in an `and`, a nested group's result is the group's result."""
    nested = group([{"type": "all"}], "or")
    assert _matches([nested, user_filter("email", "=", ["nobody"])], DATA)
    assert not _matches([user_filter("email", "=", ["nobody"]), nested], DATA)
