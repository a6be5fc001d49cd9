"""Builders and Hypothesis strategies for DevCycle config v2 documents and users.

Value pools are small on purpose, so that random filters and random users often match.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from edgekv.flags import config as flag_config

DAY_MS = 86_400_000

COUNTRIES = ["US", "CA", "GB", "DE", ""]
EMAILS = ["ann@acme.example", "bob@mail.example", "cy@acme.io", ""]
VERSIONS = ["1.0.0", "1.2", "1.2.3", "2.0.1", "v2.1.0-beta", "1.2.3ab", "10.0", "1..2", ""]
PLATFORMS = ["iOS", "Android", "Python"]
DEVICES = ["Pixel 8", "iPhone15,2", ""]
CUSTOM_KEYS = ["stars", "plan", "beta", "ratio"]
CUSTOM_VALUES: list[Any] = [0, 5, 100, 250, 2.5, 2.0, "gold", "silver", "", True, False, None]
STRING_VALUES = ["US", "CA", "acme", "ann", ".example", "@acme.example", "gold", "1.2.3", "2.0", ""]
COMPARATORS = sorted(flag_config.COMPARATORS)
"""Every comparator the evaluator accepts, in a fixed order so draws are reproducible."""


def iso(ms: float) -> str:
    """Milliseconds since the epoch as the ISO 8601 text DevCycle configs carry."""
    return (
        datetime.fromtimestamp(ms / 1000.0, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def user_filter(sub_type: str, comparator: str, values: list[Any], **extra: Any) -> dict[str, Any]:
    """A `user` filter."""
    return {
        "type": "user",
        "subType": sub_type,
        "comparator": comparator,
        "values": values,
        **extra,
    }


def custom_filter(key: str, kind: str, comparator: str, values: list[Any]) -> dict[str, Any]:
    """A `user`/`customData` filter on one key of the given dataKeyType."""
    return user_filter("customData", comparator, values, dataKey=key, dataKeyType=kind)


def group(filters: list[dict[str, Any]], operator: str = "and") -> dict[str, Any]:
    """An and/or filter group."""
    return {"operator": operator, "filters": filters}


def target(
    target_id: str,
    filters: dict[str, Any],
    distribution: list[tuple[str, float]],
    **extra: Any,
) -> dict[str, Any]:
    """A feature target with its audience filters and (variation id, share) distribution."""
    return {
        "_id": target_id,
        "_audience": {"_id": f"aud-{target_id}", "filters": filters},
        "distribution": [{"_variation": v, "percentage": p} for v, p in distribution],
        **extra,
    }


def variation(variation_id: str, values: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """A variation giving each variable id a value."""
    return {
        "_id": variation_id,
        "key": variation_id,
        "name": name or variation_id,
        "variables": [{"_var": k, "value": v} for k, v in values.items()],
    }


def feature(
    feature_id: str, key: str, variations: list[dict[str, Any]], targets: list[dict[str, Any]]
) -> dict[str, Any]:
    """A feature with variations and targets."""
    return {
        "_id": feature_id,
        "key": key,
        "type": "release",
        "variations": variations,
        "configuration": {"_id": f"cfg-{feature_id}", "targets": targets},
    }


def config(
    features: list[dict[str, Any]],
    variables: list[tuple[str, str, str]],
    *,
    audiences: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A config v2 document; variables are (id, key, type)."""
    return {
        "project": {
            "_id": "proj",
            "key": "proj",
            "a0_organization": "org",
            "settings": settings or {},
        },
        "environment": {"_id": "env", "key": "production"},
        "audiences": audiences or {},
        "features": features,
        "variables": [{"_id": i, "key": k, "type": t} for i, k, t in variables],
    }


#: User ids in the Basic Multilingual Plane without control characters: DevCycle's WASM JSON
#: decoder aborts on escapes such as "\f" and surrogate pairs, and then stays broken.
user_ids = st.text(
    st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs", "Cc"]), min_size=1, max_size=24
)

custom_data = st.dictionaries(
    st.sampled_from(CUSTOM_KEYS), st.sampled_from(CUSTOM_VALUES), max_size=4
)


@st.composite
def users(draw: st.DrawFn) -> dict[str, Any]:
    """A DevCycle user object drawn from the small pools above."""
    body: dict[str, Any] = {"user_id": draw(st.sampled_from(["u1", "u2", "ann", "bob"]) | user_ids)}
    for name, pool in (
        ("email", EMAILS),
        ("country", COUNTRIES),
        ("appVersion", VERSIONS),
        ("deviceModel", DEVICES),
    ):
        value = draw(st.none() | st.sampled_from(pool))
        if value is not None:
            body[name] = value
    body["customData"] = draw(custom_data)
    body["privateCustomData"] = draw(custom_data)
    return body


@st.composite
def leaf_filters(draw: st.DrawFn, audience_ids: list[str]) -> dict[str, Any]:
    """Any filter DevCycle knows, with values from the pools."""
    kind = draw(st.sampled_from(["all", "user", "user", "user", "custom", "custom", "audience"]))
    if kind == "all":
        return {"type": "all"}
    if kind == "audience" and audience_ids:
        return {
            "type": "audienceMatch",
            "comparator": draw(st.sampled_from(["=", "!="])),
            "_audiences": draw(st.lists(st.sampled_from(audience_ids), min_size=1, max_size=2)),
        }
    comparator = draw(st.sampled_from(COMPARATORS))
    if kind == "custom":
        data_type = draw(st.sampled_from(["String", "Number", "Boolean"]))
        pool: list[Any] = {
            "String": ["gold", "silver", "", "old"],
            "Number": [0, 5, 100, 2.5, 2],
            "Boolean": [True, False],
        }[data_type]
        values = draw(st.lists(st.sampled_from(pool), max_size=3))
        return custom_filter(draw(st.sampled_from(CUSTOM_KEYS)), data_type, comparator, values)
    sub_type = draw(
        st.sampled_from(
            [
                "user_id",
                "email",
                "country",
                "platform",
                "platformVersion",
                "appVersion",
                "deviceModel",
            ]
        )
    )
    pool = VERSIONS if sub_type.endswith("Version") else STRING_VALUES + PLATFORMS + ["u1", "ann"]
    return user_filter(sub_type, comparator, draw(st.lists(st.sampled_from(pool), max_size=3)))


def filter_groups(audience_ids: list[str], depth: int = 2) -> st.SearchStrategy[dict[str, Any]]:
    """Nested and/or groups of filters, up to `depth` levels."""
    items: st.SearchStrategy[dict[str, Any]] = leaf_filters(audience_ids)
    if depth > 1:
        items = items | filter_groups(audience_ids, depth - 1)
    return st.builds(group, st.lists(items, max_size=3), st.sampled_from(["and", "or"]))


@st.composite
def rollouts(draw: st.DrawFn, now_ms: float) -> dict[str, Any]:
    """A schedule, gradual or stepped rollout placed days away from `now_ms`."""
    kind = draw(st.sampled_from(["schedule", "gradual", "stepped"]))
    start = now_ms + draw(st.sampled_from([-3, -1, 2])) * DAY_MS
    out: dict[str, Any] = {"type": kind, "startDate": iso(start)}
    if kind == "schedule":
        return out
    out["startPercentage"] = draw(st.sampled_from([0.0, 0.25, 0.5, 1.0]))
    stage_type = "linear" if kind == "gradual" else "discrete"
    offsets = sorted(draw(st.lists(st.sampled_from([-2, -1, 1, 3]), max_size=2, unique=True)))
    out["stages"] = [
        {
            "type": stage_type,
            "date": iso(now_ms + d * DAY_MS + 3_600_000),
            "percentage": draw(st.sampled_from([0.1, 0.5, 0.9, 1.0])),
        }
        for d in offsets
    ]
    return out


@st.composite
def configs(draw: st.DrawFn, now_ms: float) -> dict[str, Any]:
    """A random valid config: 1-3 features, 1-3 targets each, audiences, rollouts, splits."""
    audience_ids = [f"aud{i}" for i in range(draw(st.integers(0, 2)))]
    audiences: dict[str, Any] = {}
    for i, audience_id in enumerate(audience_ids):
        audiences[audience_id] = {"filters": draw(filter_groups(audience_ids[:i], depth=1))}
    features = []
    variables = []
    for f in range(draw(st.integers(1, 3))):
        var_id = f"var{f}"
        variables.append((var_id, f"key-{f}", "String"))
        variation_ids = [f"f{f}-var-{c}" for c in "abc"]
        targets = []
        for t in range(draw(st.integers(1, 3))):
            shares = draw(st.sampled_from([[1.0], [0.5, 0.5], [0.25, 0.45, 0.3], [0.0, 1.0]]))
            chosen = draw(st.permutations(variation_ids))[: len(shares)]
            extra: dict[str, Any] = {}
            if draw(st.booleans()):
                extra["rollout"] = draw(rollouts(now_ms))
            if draw(st.integers(0, 4)) == 0:
                extra["bucketingKey"] = draw(st.sampled_from(CUSTOM_KEYS))
            targets.append(
                target(
                    f"t{f}-{t}-{draw(st.integers(0, 9))}",
                    draw(filter_groups(audience_ids)),
                    list(zip(chosen, shares, strict=True)),
                    **extra,
                )
            )
        features.append(
            feature(
                f"feat{f}",
                f"feature-{f}",
                [variation(v, {var_id: v}) for v in variation_ids],
                targets,
            )
        )
    settings = {"disablePassthroughRollouts": draw(st.booleans())}
    return config(features, variables, audiences=audiences, settings=settings)
