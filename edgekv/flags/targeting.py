"""Audience targeting compiled to closures, with the semantics of DevCycle's WASM bucketing.

`compile_group` turns a `FilterGroup` into a function `user -> details | None`: None when the
user does not match, otherwise the eval-reason details DevCycle reports ("Email AND Custom
Data -> stars"). The rules follow `lib/shared/bucketing-assembly-script/assembly/bucketing/
segmentation.ts` and `versionCompare.ts` in DevCycleHQ/js-sdks, the code DevCycle's server SDKs
run as WebAssembly, including its quirks (checked against that WASM):

- an empty group matches nothing; `or` returns the first match's details, `and` joins them;
- unknown operators, filter types, subTypes and comparators never match (forward
  compatibility), nor does an audienceMatch reaching an audience the config lacks;
- inside an `and`, a nested group decides the result alone once the filters before it passed;
- `optIn` never matches (opt-in state is not part of a server-side user);
- string comparators other than the listed ones (`>`, `<`...) always match a string field;
- versions (appVersion, platformVersion) compare numerically by dot-separated parts; for
  orderings each is first cleaned of one character that is not a digit, `.`, `-`, `(`, `)`
  or `|` and of what follows a `-`, by regexes whose state carries across the values (see
  `_cleaned`); `exist`-like comparators never match a version;
- privateCustomData keys override customData keys.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from operator import attrgetter

from .config import COMPARATORS, SUB_TYPES, Audience, Filter, FilterGroup, FlagConfigError
from .user import CustomValue, User

__all__ = ["DETAILS", "Matcher", "compare_versions", "compile_group", "reads"]

#: A compiled filter: the user's reason details when they match, else None.
Matcher = Callable[[User], str | None]

#: Eval-reason details per filter, as DevCycle's EVAL_REASON_DETAILS.
DETAILS: Mapping[str, str] = {
    "all": "All Users",
    "user_id": "User ID",
    "email": "Email",
    "country": "Country",
    "platform": "Platform",
    "platformVersion": "Platform Version",
    "appVersion": "App Version",
    "deviceModel": "Device Model",
    "customData": "Custom Data",
    "audienceMatch": "Audience Match",
    "notInAudience": "Not in Audience",
}

_MISSING = object()
_NUMBER = (int, float)
# segmentation.ts cleans versions with /[^(\d|.|\-)]/g then /-.*/g ("." stops at JS line ends).
_CLEANERS = (re.compile(r"[^(\d|.\-)]", re.ASCII), re.compile("-[^\n\r\u2028\u2029]*"))
_DIGITS = re.compile(r"\d+", re.ASCII)
_ORDERING = frozenset({">", ">=", "<", "<="})


def compile_group(group: FilterGroup, audiences: Mapping[str, Audience]) -> Matcher:
    """Compile a filter group, and the audiences it references, into one matcher."""
    return _Compiler(audiences).group(group)


def reads(
    group: FilterGroup, audiences: Mapping[str, Audience]
) -> tuple[frozenset[str], frozenset[str]]:
    """The user attributes and custom data keys the matcher of ``group`` may read (through
    the audiences it references): two users alike on these get the same answer, which lets
    a batch evaluate it once per distinct combination (O(filters))."""
    fields: set[str] = set()
    keys: set[str] = set()
    seen: set[str] = set()

    def walk(item: Filter | FilterGroup) -> None:
        if isinstance(item, FilterGroup):
            for sub in item.filters:
                walk(sub)
        elif item.type == "user" and item.sub_type == "customData":
            keys.add(item.data_key or "")
        elif item.type == "user" and item.sub_type is not None:
            fields.add(item.sub_type)
        elif item.type == "audienceMatch":
            for audience_id in item.audiences:
                if audience_id in audiences and audience_id not in seen:
                    seen.add(audience_id)
                    walk(audiences[audience_id].filters)

    walk(group)
    return frozenset(fields), frozenset(keys)


def _never(user: User) -> None:
    return None


class _Compiler:
    """Compiles filters once, sharing each referenced audience's matcher."""

    __slots__ = ("_audiences", "_compiled", "_busy")

    def __init__(self, audiences: Mapping[str, Audience]) -> None:
        self._audiences = audiences
        self._compiled: dict[str, Matcher] = {}
        self._busy: set[str] = set()

    def group(self, group: FilterGroup) -> Matcher:
        items = group.filters
        if not items or group.operator not in ("and", "or"):
            return _never
        if group.operator == "or":
            matchers = tuple(self.item(i) for i in items)
            return matchers[0] if len(matchers) == 1 else _any(matchers)
        # and: a nested group ends the evaluation and decides alone (segmentation.ts).
        for k, item in enumerate(items):
            if isinstance(item, FilterGroup):
                before = tuple(self.item(i) for i in items[:k])
                nested = self.group(item)
                return _then(before, nested) if before else nested
        matchers = tuple(self.item(i) for i in items)
        return matchers[0] if len(matchers) == 1 else _all(matchers)

    def item(self, item: Filter | FilterGroup) -> Matcher:
        if isinstance(item, FilterGroup):
            return self.group(item)
        kind = item.type
        if kind == "all":
            details = DETAILS["all"]
            return lambda user: details
        if kind == "audienceMatch" and item.comparator in ("=", "!="):
            return self.audience_match(item)
        if kind == "user" and item.sub_type in SUB_TYPES and item.comparator in COMPARATORS:
            return _user_filter(item)
        return _never  # optIn, and anything this version does not know

    def audience_match(self, item: Filter) -> Matcher:
        """Audiences in order; reaching an unknown audience id ends in no match."""
        matchers = tuple(self.audience(a) for a in item.audiences)
        prefix = DETAILS["audienceMatch"]
        if item.comparator == "=":

            def in_audience(user: User) -> str | None:
                for match in matchers:
                    if match is None:
                        return None
                    details = match(user)
                    if details is not None:
                        return f"{prefix} -> {details}" if details else prefix
                return None

            return in_audience
        not_in = DETAILS["notInAudience"]

        def not_in_audience(user: User) -> str | None:
            for match in matchers:
                if match is None or match(user) is not None:
                    return None
            return not_in

        return not_in_audience

    def audience(self, audience_id: str) -> Matcher | None:
        if audience_id not in self._audiences:
            return None
        matcher = self._compiled.get(audience_id)
        if matcher is None:
            if audience_id in self._busy:
                raise FlagConfigError(f"audiences.{audience_id}", "audienceMatch cycle")
            self._busy.add(audience_id)
            matcher = self.group(self._audiences[audience_id].filters)
            self._busy.discard(audience_id)
            self._compiled[audience_id] = matcher
        return matcher


def _any(matchers: tuple[Matcher, ...]) -> Matcher:
    def match_any(user: User) -> str | None:
        for match in matchers:
            details = match(user)
            if details is not None:
                return details
        return None

    return match_any


def _all(matchers: tuple[Matcher, ...]) -> Matcher:
    def match_all(user: User) -> str | None:
        parts = []
        for match in matchers:
            details = match(user)
            if not details:
                return None
            parts.append(details)
        return " AND ".join(parts)

    return match_all


def _then(before: tuple[Matcher, ...], nested: Matcher) -> Matcher:
    def match_then(user: User) -> str | None:
        for match in before:
            if not match(user):
                return None
        return nested(user)

    return match_then


def _user_filter(item: Filter) -> Matcher:
    sub_type = item.sub_type
    if sub_type == "ip":
        return _never
    if sub_type == "customData":
        return _custom_data_filter(item)
    details = DETAILS[sub_type]  # type: ignore[index]
    get = attrgetter(sub_type)  # type: ignore[arg-type]
    if sub_type in ("appVersion", "platformVersion") and item.comparator != "=":
        check = _version_check(item.comparator, _strings(item))  # type: ignore[arg-type]
    else:
        check = _string_check(item.comparator, _strings(item))  # type: ignore[arg-type]

    def user_filter(user: User) -> str | None:
        return details if check(get(user)) else None

    return user_filter


def _strings(item: Filter) -> tuple[str, ...]:
    return tuple(v for v in item.values if isinstance(v, str))


def _string_check(comparator: str, values: tuple[str, ...]) -> Callable[[str | None], bool]:
    """`_checkStringsFilter`: one predicate per comparator, over a nullable string."""
    members = frozenset(values)
    if comparator == "=":
        return lambda s: s is not None and s in members
    if comparator == "!=":
        return lambda s: s is not None and s not in members
    if comparator == "exist":
        return lambda s: s is not None and s != ""
    if comparator == "!exist":
        return lambda s: s is None or s == ""
    # findString returns the searched string itself, so an empty string never "contains".
    if comparator == "contain":
        return lambda s: _contains_any(s, values)
    if comparator == "!contain":
        return lambda s: not _contains_any(s, values)
    # An empty prefix or suffix matches nothing (as the WASM does).
    affixes = tuple(v for v in values if v)
    if comparator == "startWith":
        return lambda s: s is not None and s.startswith(affixes)
    if comparator == "!startWith":
        return lambda s: s is None or not s.startswith(affixes)
    if comparator == "endWith":
        return lambda s: s is not None and s.endswith(affixes)
    if comparator == "!endWith":
        return lambda s: s is None or not s.endswith(affixes)
    return lambda s: True


def _number_check(comparator: str, values: tuple[float, ...]) -> Callable[[float], bool]:
    """`_checkNumberFilter` for a present number: `!=` needs every value to differ."""
    if comparator == "exist":
        return lambda n: True
    if comparator == "!=":
        return lambda n: all(n != v for v in values)
    if comparator == "=":
        members = frozenset(values)
        return lambda n: n in members
    if comparator == ">":
        return lambda n: any(n > v for v in values)
    if comparator == ">=":
        return lambda n: any(n >= v for v in values)
    if comparator == "<":
        return lambda n: any(n < v for v in values)
    if comparator == "<=":
        return lambda n: any(n <= v for v in values)
    return lambda n: False


def _bool_check(comparator: str, values: tuple[bool, ...]) -> Callable[[bool], bool]:
    """`_checkBooleanFilter` for a present boolean."""
    if comparator in ("=", "contain"):
        return lambda b: b in values
    if comparator in ("!=", "!contain"):
        return lambda b: b not in values
    if comparator == "exist":
        return lambda b: True
    return lambda b: False


def _as_float(value: float) -> float:
    """A number as a float; an int beyond float range becomes an infinity of its sign."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _exists(value: CustomValue) -> bool:
    """`checkValueExists`: a non-empty string, a number or a boolean."""
    return value is not None and value != ""


def _custom_data_filter(item: Filter) -> Matcher:
    """`_checkCustomData` over customData overlaid by privateCustomData (O(values))."""
    key = item.data_key
    comparator = item.comparator
    details = f"{DETAILS['customData']} -> {key}"
    if comparator in ("exist", "!exist"):
        want = comparator == "exist"

        def exist_filter(user: User) -> str | None:
            value = user.custom.get(key, None)  # type: ignore[arg-type]
            return details if _exists(value) is want else None

        return exist_filter
    when_missing = details if comparator == "!=" else None
    kind = item.data_key_type
    if kind == "Number":
        nums = tuple(v for v in item.values if isinstance(v, float))
        check_num = _number_check(comparator, nums)  # type: ignore[arg-type]

        def number_filter(user: User) -> str | None:
            value = user.custom.get(key, _MISSING)  # type: ignore[arg-type]
            if value.__class__ in _NUMBER:
                return details if check_num(_as_float(value)) else None
            return when_missing if value is _MISSING else None

        return number_filter
    if kind == "Boolean":
        bools = tuple(v for v in item.values if isinstance(v, bool))
        check_bool = _bool_check(comparator, bools)  # type: ignore[arg-type]

        def bool_filter(user: User) -> str | None:
            value = user.custom.get(key, _MISSING)  # type: ignore[arg-type]
            if value.__class__ is bool:
                return details if check_bool(value) else None
            return when_missing if value is _MISSING else None

        return bool_filter
    check_str = _string_check(comparator, _strings(item))  # type: ignore[arg-type]

    def string_filter(user: User) -> str | None:
        value = user.custom.get(key, _MISSING)  # type: ignore[arg-type]
        if value is None or value.__class__ is str:
            return details if check_str(value) else None
        return when_missing if value is _MISSING else None

    return string_filter


def _version_check(comparator: str, values: tuple[str, ...]) -> Callable[[str | None], bool]:
    """`checkVersionFilter` for every comparator but `=` (a plain string match)."""
    if comparator == "!=":
        # No cleaning for !=: parts must already be digits.
        targets = tuple(p for p in map(_version_parts, values) if p is not None)

        def not_equal(version: str | None) -> bool:
            if not version:
                return False
            parts = _version_parts(_semantic(version))
            return parts is None or all(compare_versions(parts, t) != 0 for t in targets)

        return not_equal
    if comparator not in _ORDERING:
        return lambda version: False
    accept = frozenset(r for r, sym in ((0, "="), (1, ">"), (-1, "<")) if sym in comparator)

    def ordered(version: str | None) -> bool:
        if not version:
            return False
        parts, targets = _cleaned(version, values)
        return parts is not None and any(compare_versions(parts, t) in accept for t in targets)

    return ordered


def compare_versions(a: tuple[float, ...], b: tuple[float, ...]) -> int:
    """-1, 0 or 1 comparing dot-separated numeric versions, the shorter zero-extended."""
    if len(a) != len(b):
        width = max(len(a), len(b))
        a = a + (0.0,) * (width - len(a))
        b = b + (0.0,) * (width - len(b))
    return (a > b) - (a < b)


@lru_cache(maxsize=4096)
def _cleaned(
    version: str, values: tuple[str, ...]
) -> tuple[tuple[float, ...] | None, tuple[tuple[float, ...], ...]]:
    """The user's and the filter's versions as one ordering filter reads them (memoized).

    DevCycle cleans the user's version, then each filter value, with the same two global
    regexes, whose `lastIndex` carries from one string to the next (JS `exec` semantics), and
    removes the first occurrence of each match's text. Filter values that end up empty or not
    numeric are dropped; the user's version is padded to three parts.
    """
    state = [0, 0]
    user = _version_parts(_semantic(_clean(version, state)))
    targets = []
    for value in values:
        cleaned = _clean(value, state)
        parts = _version_parts(cleaned) if cleaned else None
        if parts is not None:
            targets.append(parts)
    return user, tuple(targets)


def _clean(text: str, state: list[int]) -> str:
    """Apply the two stateful cleaning regexes to `text`, updating their lastIndex in `state`."""
    for k, pattern in enumerate(_CLEANERS):
        start = state[k]
        match = pattern.search(text, start) if start <= len(text) else None
        if match is None:
            state[k] = 0
        else:
            state[k] = match.end()
            text = text.replace(match.group(), "", 1)
    return text


def _semantic(version: str) -> str:
    """`convertToSemanticVersion`: at least three parts, empty parts as 0."""
    parts = version.split(".")
    parts += ["0"] * (3 - len(parts))
    return ".".join(p or "0" for p in parts)


def _version_parts(version: str) -> tuple[float, ...] | None:
    """Numeric parts of a version, or None when a part is not all ASCII digits."""
    parts = version.split(".")
    if not all(_DIGITS.fullmatch(p) for p in parts):
        return None
    # float() of the digits, not of int(): a part too long for a float reads as inf, as in JS
    return tuple(float(p) for p in parts)


def _contains_any(s: str | None, values: tuple[str, ...]) -> bool:
    """``contain``: a non-empty string holding one of ``values``."""
    if not s:
        return False
    return any(v in s for v in values)
