"""Batch evaluation by column: ``Evaluator.value_column`` and ``values_column`` agree with
``Evaluator.value`` and ``values`` user by user, on random configs (audiences, rollouts,
custom bucketing keys, passthrough on and off) and random users, repeated users among them,
and on users with every attribute in hand-built columns (fields left out, repeated values,
any integer dtype, subsets by mask, one time for all rows); its numpy hashes and variation
choice agree with the scalar ones. Columns that survive a copy or a pickle (as a process
pool or a dask worker receives them) still tell a missing custom key from a present one,
and hand-built columns whose codes do not index their values are refused naming the field."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies_flags import (
    CUSTOM_KEYS,
    DAY_MS,
    config,
    configs,
    custom_filter,
    feature,
    group,
    target,
    user_filter,
    variation,
)
from strategies_flags import users as user_bodies
from test_flags_evaluate import NOW, SHARED_DOC

from edgekv.flags import (
    MISSING,
    USER_ATTRIBUTES,
    Column,
    Evaluator,
    User,
    UserColumns,
    bounded_hash,
    bounded_hashes,
    decide_variation,
    decide_variations,
    parse_config,
)
from edgekv.flags.config import SUB_TYPES


def _typed(values: list[Any]) -> list[tuple[type, Any]]:
    """Values with their types, so that True, 1 and 1.0 differ."""
    return [(v.__class__, v) for v in values]


@given(
    doc=st.one_of(st.just(SHARED_DOC), configs(NOW)),
    pool=st.lists(user_bodies(), min_size=1, max_size=4),
    picks=st.lists(st.integers(0, 3), min_size=1, max_size=12),
    offsets=st.lists(st.sampled_from([-3, -1, 0, 1, 2, 40]), min_size=12, max_size=12),
)
def test_a_column_of_users_gets_what_each_user_gets(
    doc: dict[str, Any], pool: list[dict[str, Any]], picks: list[int], offsets: list[int]
) -> None:
    evaluator = Evaluator(doc)
    users = [User.from_dict(pool[k % len(pool)]) for k in picks]
    now = np.array([NOW + offsets[i] * 86_400_000.0 for i in range(len(users))])
    columns = UserColumns.from_users(users)
    for key in {v["key"] for v in doc["variables"]} | {"no-such-variable"}:
        got = evaluator.value_column(columns, key, now).tolist()
        want = [evaluator.value(u, key, t) for u, t in zip(users, now.tolist(), strict=True)]
        assert _typed(got) == _typed(want), key
    every = evaluator.values_column(columns, now)
    for row, (u, t) in enumerate(zip(users, now.tolist(), strict=True)):
        served = {k: c.tolist()[row] for k, c in every.items() if c.tolist()[row] is not None}
        want_all = evaluator.values(u, t)
        assert [(k, _typed([v])) for k, v in sorted(served.items())] == [
            (k, _typed([v])) for k, v in sorted(want_all.items())
        ]


def test_columns_left_out_are_absent_for_every_user() -> None:
    """Only the columns a caller has: others are None (attributes) or missing (custom)."""
    evaluator = Evaluator(SHARED_DOC)
    ids = Column(np.array([0, 1, 0]), ("ann", "bob"))
    stars = Column(np.array([0, 1, 1]), (250, MISSING))
    columns = UserColumns(ids, {"country": Column.constant("US", 3)}, {"stars": stars})
    users = [columns.user(r) for r in range(3)]
    assert users[0] == User("ann", country="US", customData={"stars": 250})
    assert users[1] == User("bob", country="US")
    for key in (v["key"] for v in SHARED_DOC["variables"]):
        got = evaluator.value_column(columns, key, NOW).tolist()
        assert _typed(got) == _typed([evaluator.value(u, key, NOW) for u in users])


def test_a_target_reading_two_fields_tells_every_combination_apart() -> None:
    """Users alike on each field alone but not on both get different answers."""
    both = [user_filter("country", "=", ["US"]), custom_filter("plan", "String", "=", ["gold"])]
    on = variation("on", {"v": True})
    doc = config(
        [feature("f", "f", [on], [target("t", group(both), [("on", 1.0)])])],
        [("v", "flag", "Boolean")],
    )
    evaluator = Evaluator(doc)
    country = Column(np.array([0, 1, 0, 1]), ("US", "CA"))
    plan = Column(np.array([1, 0, 0, 1]), ("silver", "gold"))
    columns = UserColumns(Column.of("abcd"), {"country": country}, {"plan": plan})
    assert evaluator.value_column(columns, "flag", NOW).tolist() == [True, None, None, None]


def test_factorising_tells_true_one_and_one_point_zero_apart() -> None:
    column = Column.of([1, True, 1.0, 1, "1"])
    assert _typed(column.tolist()) == _typed([1, True, 1.0, 1, "1"])
    assert len(column.values) == 4


@pytest.mark.parametrize(
    ("fields", "custom", "message"),
    [
        ({"plan": Column.constant("x", 2)}, {}, "fields.plan: not a user attribute"),
        ({"country": Column.constant("US", 3)}, {}, "fields.country: 3 rows, user_id has 2"),
        ({}, {"stars": Column.constant(5, 1)}, "custom.stars: 1 rows, user_id has 2"),
    ],
)
def test_bad_columns_name_the_field(
    fields: dict[str, Column], custom: dict[str, Column], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        UserColumns(Column.of(["a", "b"]), fields, custom)


@given(
    values=st.lists(
        st.text(max_size=12) | st.sampled_from(["", "\x00", "user-00042"]), max_size=30
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_hashes_in_numpy_are_the_reference_murmur3(values: list[str], seed: int) -> None:
    """Every length (blocks and tails), NUL bytes, non-ASCII strings, any seed."""
    assert bounded_hashes(values, seed).tolist() == [bounded_hash(v, seed) for v in values]


@given(
    doc=configs(NOW),
    hashes=st.lists(
        st.floats(0.0, 1.0) | st.sampled_from([0.0, 0.25, 0.5, 1.0, 1 - 2**-53]), max_size=20
    ),
)
def test_variations_in_numpy_are_the_scalar_choice(
    doc: dict[str, Any], hashes: list[float]
) -> None:
    """Hashes on a threshold, at 1.0 and past a sum a little under 1 pick as the loop does."""
    for parsed in parse_config(doc).features:
        for one in parsed.targets:
            drawn = np.array(hashes + [c for c, _ in one.thresholds])
            chosen = [one.thresholds[i][1] for i in decide_variations(one, drawn).tolist()]
            assert chosen == [decide_variation(one, h) for h in drawn.tolist()]


def _not_gold() -> Evaluator:
    """A flag for users whose plan is not "gold": true for a user without a plan (`!=`
    matches a missing key), not for a user with it."""
    not_gold = custom_filter("plan", "String", "!=", ["gold"])
    on = variation("on", {"v": True})
    doc = config(
        [feature("f", "f", [on], [target("t", group([not_gold]), [("on", 1.0)])])],
        [("v", "flag", "Boolean")],
    )
    return Evaluator(doc)


@pytest.mark.parametrize(
    "clone",
    [copy.deepcopy, lambda c: pickle.loads(pickle.dumps(c))],
    ids=["deepcopy", "pickle"],
)
def test_a_copied_or_pickled_column_still_marks_missing_keys(
    clone: Callable[[UserColumns], UserColumns],
) -> None:
    """MISSING is compared by identity: a copy must be the same object, else a user without
    the key reads as having a key of an unknown type (and buckets on "MISSING", not "null")."""
    evaluator = _not_gold()
    users = [User("a", customData={"plan": "gold"}), User("b")]
    columns = clone(UserColumns.from_users(users))
    assert columns.custom["plan"].values[1] is MISSING
    assert columns.user(1) == User("b")
    want = [evaluator.value(u, "flag", NOW) for u in users]
    assert want == [None, True]
    assert evaluator.value_column(columns, "flag", NOW).tolist() == want
    assert copy.deepcopy(MISSING) is MISSING
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING


def test_a_bucketing_key_missing_after_a_pickle_still_buckets_as_null() -> None:
    """A target bucketing on a custom key: a user without it hashes "null", as scalar."""
    on, off = variation("on", {"v": True}), variation("off", {"v": False})
    split = target("t", group([{"type": "all"}]), [("on", 0.5), ("off", 0.5)], bucketingKey="k")
    evaluator = Evaluator(config([feature("f", "f", [on, off], [split])], [("v", "v", "Boolean")]))
    users = [User(f"u{i}", customData={"k": i} if i % 2 else {}) for i in range(40)]
    columns = pickle.loads(pickle.dumps(UserColumns.from_users(users)))
    want = [evaluator.value(u, "v", NOW) for u in users]
    assert evaluator.value_column(columns, "v", NOW).tolist() == want


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (np.array([1, -1]), r"custom\.plan: codes must be in 0\.\.1"),
        (np.array([0, 2]), r"custom\.plan: codes must be in 0\.\.1"),
        (np.array([0.0, 1.0]), r"custom\.plan: codes must be a 1-D integer array"),
        (np.array([[0], [1]]), r"custom\.plan: codes must be a 1-D integer array"),
        ([0, 1], r"custom\.plan: codes must be a 1-D integer array"),
    ],
    ids=["negative", "past-the-end", "float", "2-D", "list"],
)
def test_codes_that_do_not_index_the_values_name_the_field(codes: Any, message: str) -> None:
    """Negative codes used to be accepted: ``user(row)`` read them Python-style (-1 is the
    last value) while ``combinations`` packed them into colliding keys, so that two users
    differing on (country, plan) shared one evaluation; codes past the end or not integers
    failed deep inside evaluation with IndexError/TypeError."""
    country = Column(np.array([0, 1]), ("US", "CA"))
    with pytest.raises(ValueError, match=message):
        UserColumns(Column.of("ab"), {"country": country}, {"plan": Column(codes, ("x", "y"))})


@pytest.mark.parametrize(
    "user_id",
    [Column(np.array([-1, 0]), ("a", "b")), Column(np.array([0, 5]), ("a", "b"))],
    ids=["negative", "past-the-end"],
)
def test_user_id_codes_are_checked_too(user_id: Column) -> None:
    with pytest.raises(ValueError, match=r"user_id: codes must be in 0\.\.1"):
        UserColumns(user_id)


def test_valid_codes_of_any_integer_dtype_and_no_rows_are_accepted() -> None:
    for dtype in (np.uint8, np.int16, np.int32, np.int64, np.uint64):
        ids = Column(np.array([1, 0, 1], dtype=dtype), ("a", "b"))
        assert [u.user_id for u in map(UserColumns(ids).user, range(3))] == ["b", "a", "b"]
    empty = UserColumns(Column(np.zeros(0, dtype=np.intp), ()))
    assert _not_gold().value_column(empty, "flag", NOW).tolist() == []


# Users with every attribute, and custom values whose bucketing strings collide or not.
_STRINGS = ["iOS", "Android", "", "1.2.3", "2.0", "u1", "ann", "é", "Pixel 8", "10"]
_CUSTOM: list[Any] = [0, 2, 2.0, 2.5, 1, 1.0, True, False, None, "", "2", "2.0", "true", "null"]
_SUB_TYPES = [*sorted(SUB_TYPES - {"customData"}), "appBuild", "name", "no-such-subtype"]
"""Every user subType DevCycle knows (ip included), and some it does not."""
_IDS = st.sampled_from(["u1", "u2", "é", "😀", "x" * 40]) | st.text(
    st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30
)


@st.composite
def _users(draw: st.DrawFn) -> User:
    attributes: dict[str, Any] = {
        name: draw(st.none() | st.sampled_from(_STRINGS))
        for name in sorted(USER_ATTRIBUTES - {"appBuild"})
    }
    data = st.dictionaries(st.sampled_from(CUSTOM_KEYS), st.sampled_from(_CUSTOM), max_size=3)
    return User(
        draw(_IDS),
        appBuild=draw(st.none() | st.sampled_from([1, 1.0, 2.5])),
        customData=draw(data),
        privateCustomData=draw(data),
        **attributes,
    )


@st.composite
def _configs(draw: st.DrawFn) -> dict[str, Any]:
    """configs(NOW) with one more target per feature filtering a field the strategy there
    leaves out (or an unknown subType), or bucketing on a custom key."""
    doc: dict[str, Any] = draw(configs(NOW))
    for f in doc["features"]:
        filters = [
            user_filter(
                draw(st.sampled_from(_SUB_TYPES)),
                draw(st.sampled_from(["=", "!=", "exist", "!exist", "contain", ">="])),
                draw(st.lists(st.sampled_from(_STRINGS), max_size=2)),
            ),
            custom_filter(
                draw(st.sampled_from(CUSTOM_KEYS)),
                "Number",
                draw(st.sampled_from(["=", "!=", "exist"])),
                [2],
            ),
        ]
        ids = sorted(v["_id"] for v in f["variations"])
        extra = {"bucketingKey": draw(st.sampled_from(CUSTOM_KEYS))} if draw(st.booleans()) else {}
        one = target(
            "extra",
            group(filters, draw(st.sampled_from(["and", "or"]))),
            [(ids[0], 0.5), (ids[1], 0.5)],
            **extra,
        )
        f["configuration"]["targets"].insert(draw(st.integers(0, 1)), one)
    return doc


def _repeat(column: Column, copies: list[int]) -> Column:
    """The column with its values listed twice and rows pointing into either copy."""
    k = len(column.values)
    extra = np.array([copies[i % len(copies)] for i in range(len(column))], dtype=np.intp)
    return Column((column.codes + k * extra).astype(np.int32), tuple(column.values) * 2)


@given(
    doc=_configs(),
    pool=st.lists(_users(), min_size=1, max_size=8),
    picks=st.lists(st.integers(0, 7), max_size=30),
    offsets=st.lists(st.sampled_from([-3, -2, -1, 0, 1, 2, 3, 40]), min_size=30, max_size=30),
    hours=st.sampled_from([0.0, 1.0, 3_600_000.0, -1.0]),
    left_out=st.sets(st.sampled_from(sorted(USER_ATTRIBUTES) + CUSTOM_KEYS)),
    copies=st.lists(st.integers(0, 1), min_size=1, max_size=5),
    subset=st.booleans(),
    one_time=st.booleans(),
)
def test_hand_built_columns_get_what_each_row_gets(
    doc: dict[str, Any],
    pool: list[User],
    picks: list[int],
    offsets: list[int],
    hours: float,
    left_out: set[str],
    copies: list[int],
    subset: bool,
    one_time: bool,
) -> None:
    evaluator = Evaluator(doc)
    users = [pool[k % len(pool)] for k in picks]
    full = UserColumns.from_users(users)
    columns = UserColumns(
        _repeat(full.user_id, copies),
        {k: _repeat(c, copies) for k, c in full.fields.items() if k not in left_out},
        {k: _repeat(c, copies) for k, c in full.custom.items() if k not in left_out},
    )
    times = np.array([NOW + offsets[i] * DAY_MS + hours for i in range(len(users))])
    if subset:
        mask = np.arange(len(users)) % 3 != 1
        columns, times = columns.take(mask), times[mask]
    now: Any = NOW + hours if one_time else times
    per_row = [NOW + hours] * len(columns) if one_time else times.tolist()
    rows = [columns.user(r) for r in range(len(columns))]
    for key in [v["key"] for v in doc["variables"]]:
        got = evaluator.value_column(columns, key, now).tolist()
        want = [evaluator.value(u, key, t) for u, t in zip(rows, per_row, strict=True)]
        assert _typed(got) == _typed(want), key
    every = {k: c.tolist() for k, c in evaluator.values_column(columns, now).items()}
    for r, (u, t) in enumerate(zip(rows, per_row, strict=True)):
        served = {k: _typed([c[r]]) for k, c in every.items() if c[r] is not None}
        assert served == {k: _typed([v]) for k, v in evaluator.values(u, t).items()}
