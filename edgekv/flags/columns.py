"""Many users by column, the input of :meth:`Evaluator.value_column`: each field factorised
into codes and values, so that a filter or a hash runs once per distinct value, not per user.

A :class:`Column` holds n rows as codes into a sequence of values (row i is
``values[codes[i]]``); :class:`UserColumns` holds n users as one column per field they carry.
The evaluator runs the same compiled matchers and bucketing functions a single user goes
through, on one user per distinct combination of the fields a target reads, and spreads the
answers over the rows with numpy: the semantics are those of :meth:`Evaluator.value` by
construction, and the cost is O(rows) numpy work plus Python work per distinct value.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .user import USER_ATTRIBUTES, User

__all__ = ["MISSING", "Column", "UserColumns"]


class _Missing:
    """The value of a custom data key a user does not have (unlike ``None``, a value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        # Copied and unpickled as the module's one instance, as it is compared by identity.
        return "MISSING"


#: A custom data column's value for a user without that key.
MISSING: Any = _Missing()


@dataclass(frozen=True, slots=True)
class Column:
    """n rows as integer ``codes`` into ``values``: row i holds ``values[codes[i]]`` (values
    may repeat; a row's value is what counts)."""

    codes: np.ndarray
    values: Sequence[Any]

    def __len__(self) -> int:
        return len(self.codes)

    @classmethod
    def constant(cls, value: Any, n: int) -> Column:
        """n rows of one value (O(n))."""
        return cls(np.zeros(n, dtype=np.intp), (value,))

    @classmethod
    def of(cls, items: Iterable[Any]) -> Column:
        """Factorise values, telling ``1``, ``1.0`` and ``True`` apart (O(n) dict lookups)."""
        index: dict[tuple[type, Hashable], int] = {}
        values: list[Any] = []
        codes: list[int] = []
        for item in items:
            key = (item.__class__, item)
            code = index.get(key)
            if code is None:
                code = index[key] = len(values)
                values.append(item)
            codes.append(code)
        return cls(np.array(codes, dtype=np.intp), tuple(values))

    def tolist(self) -> list[Any]:
        """Every row's value (O(n))."""
        values = self.values
        return [values[c] for c in self.codes.tolist()]


@dataclass(frozen=True, slots=True)
class UserColumns:
    """n DevCycle users by field: ``user_id``, User attributes by name (one left out is None
    for every user) and custom data by key (customData overlaid by privateCustomData;
    :data:`MISSING` where a user lacks the key, one left out is missing for every user).

    Raises ValueError for an unknown attribute, columns of different lengths or codes that
    are not a 1-D integer array indexing the column's values.
    """

    user_id: Column
    fields: Mapping[str, Column] = field(default_factory=dict)
    custom: Mapping[str, Column] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.fields) - USER_ATTRIBUTES)
        if unknown:
            raise ValueError(f"fields.{unknown[0]}: not a user attribute")
        named = [("fields." + k, c) for k, c in self.fields.items()]
        named += [("custom." + k, c) for k, c in self.custom.items()]
        for name, column in [("user_id", self.user_id), *named]:
            _check_codes(name, column)
        n = len(self.user_id)
        for name, column in named:
            if len(column) != n:
                raise ValueError(f"{name}: {len(column)} rows, user_id has {n}")

    def __len__(self) -> int:
        return len(self.user_id)

    @classmethod
    def from_users(cls, users: Sequence[User]) -> UserColumns:
        """The columns of these users (O(users x fields))."""
        keys = sorted({k for u in users for k in u.custom})
        return cls(
            Column.of(u.user_id for u in users),
            {name: Column.of(getattr(u, name) for u in users) for name in sorted(USER_ATTRIBUTES)},
            {k: Column.of(u.custom.get(k, MISSING) for u in users) for k in keys},
        )

    def take(self, rows: np.ndarray) -> UserColumns:
        """The users of ``rows`` (indices or a mask), sharing the values. O(rows x fields)."""
        return UserColumns(
            _take(self.user_id, rows),
            {name: _take(c, rows) for name, c in self.fields.items()},
            {k: _take(c, rows) for k, c in self.custom.items()},
        )

    def user(self, row: int) -> User:
        """Row ``row`` as a User (its custom data as customData) (O(fields))."""
        attrs = {name: c.values[c.codes[row]] for name, c in self.fields.items()}
        custom = {k: c.values[c.codes[row]] for k, c in self.custom.items()}
        data = {k: v for k, v in custom.items() if v is not MISSING}
        return User(self.user_id.values[self.user_id.codes[row]], customData=data, **attrs)

    def combinations(
        self, rows: np.ndarray, fields: Iterable[str], keys: Iterable[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Among ``rows``, one row per distinct combination of these attributes (``user_id``
        among them) and custom keys, and per row its combination's index into those
        (O(len(rows) log len(rows)))."""
        columns = [self.user_id if f == "user_id" else self.fields.get(f) for f in fields]
        columns += [self.custom.get(k) for k in keys]
        read = [c for c in columns if c is not None]  # (one left out is alike for all)
        if not read or not len(rows):
            return rows[:1], np.zeros(len(rows), dtype=np.intp)
        combined = read[0].codes[rows].astype(np.int64)
        for column in read[1:]:
            codes = column.codes[rows]
            width = int(codes.max(initial=0)) + 1
            combined = np.unique(combined, return_inverse=True)[1].reshape(-1) * width + codes
        _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
        return rows[first], inverse.reshape(-1)


def _check_codes(name: str, column: Column) -> None:
    """Codes must index the values, as numpy and ``combinations`` read them (O(rows))."""
    codes = column.codes
    if not isinstance(codes, np.ndarray) or codes.ndim != 1 or codes.dtype.kind not in "iu":
        raise ValueError(f"{name}: codes must be a 1-D integer array")
    if len(codes) and (codes.min() < 0 or codes.max() >= len(column.values)):
        raise ValueError(f"{name}: codes must be in 0..{len(column.values) - 1}")


def _take(column: Column, rows: np.ndarray) -> Column:
    return Column(column.codes[rows], column.values)
