"""Batch evaluation by column: ``Evaluator.value_column`` and ``values_column`` agree with
``Evaluator.value`` and ``values`` user by user, on random configs (audiences, rollouts,
custom bucketing keys, passthrough on and off) and random users, repeated users among them;
its numpy hashes and variation choice agree with the scalar ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies_flags import (
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
