"""Last-writer-wins document CRDTs at two granularities.

A record is both a replica's state for one key and the delta a write ships, so replication,
anti-entropy and tests all use one operation, :meth:`join`, which is commutative, associative
and idempotent. Records are named tuples whose ``doc`` is the visible document (``None`` for a
tombstone) and whose ``version`` is the newest version merged into them, so a local read is one
dict lookup and one attribute.

* ``item``: :class:`PlainRecord` ``(doc, version)``; the whole document is one register
  (DynamoDB global tables): a patch is a read-modify-write, so concurrent patches of
  different fields lose one.
* ``field``: :class:`PlainRecord`, :class:`FlooredRecord` ``(doc, version, floor)`` or
  :class:`FieldRecord` ``(doc, version, floor, field_versions)``; each top-level field is its
  own register (Cassandra cells). ``version`` is the existence register (the newest put, patch
  or delete decides whether the document exists) and ``floor`` the newest put or delete, below
  which field values are gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

__all__ = [
    "CRDT",
    "FieldLWW",
    "FieldRecord",
    "FlooredRecord",
    "ItemLWW",
    "PlainRecord",
    "Record",
    "crdt_for",
    "record_of",
]

_MEMO_SIZE = 1 << 15
"""Joins :class:`FieldLWW` remembers per generation, at least (each entry keeps its inputs
and result alive, so an id is never reused while remembered): enough to span one delta's
deliveries to every region at ten times the default bench's write rate; a fixed few
megabytes, where a memo that no longer spans a delivery round would leave every region its
own copy of every record."""


class PlainRecord(NamedTuple):
    """A document and the newest version merged into it: every field holds ``version``."""

    doc: dict[str, Any] | None
    """The visible document, or None for a tombstone."""
    version: int


class FlooredRecord(NamedTuple):
    """A :class:`PlainRecord` with a put/delete ``floor``, below which field values are gone."""

    doc: dict[str, Any] | None
    version: int
    floor: int


class FieldRecord(NamedTuple):
    """A :class:`FlooredRecord` whose fields hold their own versions (``field_versions``)."""

    doc: dict[str, Any] | None
    version: int
    floor: int
    field_versions: dict[str, int]


Record = PlainRecord | FlooredRecord | FieldRecord
"""A replica's state for a key, or a write's delta. NamedTuples, so a record costs what a
tuple of its fields costs, and its wire form is the list of its fields."""

_new = tuple.__new__
"""Builds a NamedTuple from a tuple of its fields at half the cost of calling its class:
used where records are built once per write or delivery."""

_FORMS: tuple[Any, ...] = (None, None, PlainRecord, FlooredRecord, FieldRecord)
"""The record class of each length."""


class _Memo:
    """A bounded memo keyed by object ids (the second may be a value), in two generations:
    lookups see both, inserts go to the young one, and a full young generation replaces the
    old one. O(1) per call (evicting a dict's oldest entry one by one would scan the deleted
    slots at its front each time)."""

    __slots__ = ("_young", "_old")

    def __init__(self) -> None:
        self._young: dict[tuple[int, int], tuple[Record, Any, Record]] = {}
        self._old: dict[tuple[int, int], tuple[Record, Any, Record]] = {}

    def get(self, key: tuple[int, int], a: Record, b: Any) -> Record | None:
        """The result remembered for ``key``, if its inputs are ``a`` and ``b`` themselves."""
        hit = self._young.get(key) or self._old.get(key)
        if hit is not None and hit[0] is a and hit[1] is b:
            return hit[2]
        return None

    def put(self, key: tuple[int, int], a: Record, b: Any, out: Record) -> None:
        """Remember ``out`` for ``key`` (inputs kept alive with it)."""
        young = self._young
        if len(young) >= _MEMO_SIZE:
            self._old = young
            young = self._young = {}
        young[key] = (a, b, out)


class CRDT(Protocol):
    """The merge semantics a region node is parameterised with."""

    name: str

    def put(self, current: Record | None, doc: Mapping[str, Any], version: int) -> Record:
        """Delta of replacing the document."""
        ...

    def patch(self, current: Record | None, fields: Mapping[str, Any], version: int) -> Record:
        """Delta of merging ``fields`` into the document."""
        ...

    def delete(self, version: int) -> Record:
        """Delta of deleting the document (a tombstone)."""
        ...

    def join(self, a: Record | None, b: Record) -> Record:
        """Least upper bound of two states; returns ``a`` itself when ``b`` adds nothing."""
        ...

    def covers(self, a: Record, b: Record) -> bool:
        """Whether ``a`` already holds everything ``b`` does: ``join(a, b) is a``, decided
        without building (or remembering) the join."""
        ...

    def to_wire(self, record: Record) -> list[Any]:
        """A msgpack-able form of a record."""
        ...

    def from_wire(self, data: list[Any]) -> Record:
        """Inverse of :meth:`to_wire`; ``ValueError`` for anything that is not a record."""
        ...


class ItemLWW:
    """Whole-document LWW register. Join is O(1)."""

    name = "item"

    def put(self, current: Record | None, doc: Mapping[str, Any], version: int) -> Record:
        return _new(PlainRecord, (dict(doc), version))

    def patch(self, current: Record | None, fields: Mapping[str, Any], version: int) -> Record:
        base = current.doc if current is not None and current.doc is not None else {}
        return _new(PlainRecord, ({**base, **fields}, version))

    def delete(self, version: int) -> Record:
        return _new(PlainRecord, (None, version))

    def join(self, a: Record | None, b: Record) -> Record:
        if a is None or b.version > a.version:
            return b
        return a

    def covers(self, a: Record, b: Record) -> bool:
        return b.version <= a.version

    def to_wire(self, record: Record) -> list[Any]:
        return [record.doc, record.version]

    def from_wire(self, data: list[Any]) -> Record:
        rec = _as_record(data)
        if len(rec) != 2:
            raise ValueError(f"not an item record: {data!r}")
        return rec


class FieldLWW:
    """Per-field LWW registers with an existence register and a put/delete floor.

    Records take the shortest of three forms, to keep memory per key small: ``(doc, version)``
    when the floor is 0 and every field holds ``version`` (a patch), ``(doc, version, floor)``
    when every field holds ``version`` (a put or delete), and ``(doc, version, floor,
    field_versions)`` otherwise. Join is O(f) in the number of fields of the two records.

    Regions that hold the same record and merge the same delta get the same result object
    (a bounded memo of recent slow-path joins), so converged replicas share their records
    instead of holding equal copies: records are never mutated.
    """

    name = "field"

    def __init__(self) -> None:
        self._memo = _Memo()
        self._floored = _Memo()
        """Fast-path results that carry a floor, by ``(id(delta), floor)``: regions with the
        same floor merging the same delta share one record."""

    def put(self, current: Record | None, doc: Mapping[str, Any], version: int) -> Record:
        return _new(FlooredRecord, (dict(doc), version, version))

    def patch(self, current: Record | None, fields: Mapping[str, Any], version: int) -> Record:
        return _new(PlainRecord, (dict(fields), version))

    def delete(self, version: int) -> Record:
        return _new(FlooredRecord, (None, version, version))

    @staticmethod
    def expand(rec: Record) -> FieldRecord:
        """The long form of any record."""
        if len(rec) == 4:
            return rec
        doc, version = rec.doc, rec.version
        floor = rec.floor if len(rec) == 3 else 0
        return _new(FieldRecord, (doc, version, floor, dict.fromkeys(doc or (), version)))

    @staticmethod
    def _compress(
        doc: dict[str, Any] | None, version: int, floor: int, fv: dict[str, int]
    ) -> Record:
        for v in fv.values():
            if v != version:
                return _new(FieldRecord, (doc, version, floor, fv))
        if floor == 0:
            return _new(PlainRecord, (doc, version))
        return _new(FlooredRecord, (doc, version, floor))

    def join(self, a: Record | None, b: Record) -> Record:
        if a is None:
            return b
        # Fast path, the common replication case: a newer patch that rewrites every field
        # ``a`` has (all of b's fields hold b's version, which exceeds all of a's).
        a_doc, b_doc = a.doc, b.doc
        if len(b) == 2 and a_doc is not None and b_doc is not None:
            if b.version > a.version and a_doc.keys() <= b_doc.keys():
                return b if len(a) == 2 or a.floor == 0 else self._with_floor(b, a.floor)
            # An older patch of fields that ``a`` holds, all at its newer version: a no-op
            # (the common case of a late delivery).
            if b.version < a.version and len(a) < 4 and b_doc.keys() <= a_doc.keys():
                return a
        key = (id(a), id(b))
        out = self._memo.get(key, a, b)
        if out is None:
            out = self._join(a, b)
            self._memo.put(key, a, b, out)
        return out

    def covers(self, a: Record, b: Record) -> bool:
        """:meth:`join`'s cases, each answering whether it returns ``a`` itself. O(f)."""
        a_doc, b_doc = a.doc, b.doc
        if len(b) == 2 and a_doc is not None and b_doc is not None:
            if b.version > a.version and a_doc.keys() <= b_doc.keys():
                return False  # join returns b, or b with a's floor
            if b.version < a.version and len(a) < 4 and b_doc.keys() <= a_doc.keys():
                return True
        a_doc, a_ver, a_floor, a_fv = self.expand(a)
        b_ver = b.version
        b_floor = b[2] if len(b) > 2 else 0
        if (a_doc if a_ver >= b_ver else b_doc) is None:  # the join is a tombstone
            return a_doc is None and a_ver >= b_ver and a_floor >= b_floor
        if a_doc is None or b_ver > a_ver or b_floor > a_floor:
            return False  # a new version or floor
        # _join's "changed", with a's floor and version
        if len(b) == 4:
            b_fv = b[3]
            for name, ver in a_fv.items():
                if b_fv.get(name, -1) > ver or ver < a_floor:
                    return False
            return all(name in a_fv or ver < a_floor for name, ver in b_fv.items())
        fields = b_doc or {}  # each holds b's version: no field versions to build
        for name, ver in a_fv.items():
            if (b_ver > ver and name in fields) or ver < a_floor:
                return False
        return b_ver < a_floor or all(name in a_fv for name in fields)

    def _with_floor(self, b: Record, floor: int) -> Record:
        """``b`` with ``floor``, one shared record per ``(b, floor)`` while remembered."""
        key = (id(b), floor)
        out = self._floored.get(key, b, None)
        if out is None:
            out = _new(FlooredRecord, (b.doc, b.version, floor))
            self._floored.put(key, b, None, out)
        return out

    def _join(self, a: Record, b: Record) -> Record:
        """The general join (both records in long form)."""
        a_doc, a_ver, a_floor, a_fv = self.expand(a)
        b_doc, b_ver, b_floor, b_fv = self.expand(b)
        floor = a_floor if a_floor >= b_floor else b_floor
        version = a_ver if a_ver >= b_ver else b_ver
        if (a_doc if a_ver >= b_ver else b_doc) is None:
            if a_doc is None and a_ver >= b_ver and a_floor >= b_floor:
                return a
            return _new(FlooredRecord, (None, version, floor))
        doc: dict[str, Any] = {}
        fv: dict[str, int] = {}
        changed = False
        for name, ver in a_fv.items():
            other = b_fv.get(name, -1)
            if other > ver:
                changed = True
                if other >= floor:
                    doc[name] = b_doc[name]  # type: ignore[index]
                    fv[name] = other
            elif ver >= floor:
                doc[name] = a_doc[name]  # type: ignore[index]
                fv[name] = ver
            else:
                changed = True
        for name, ver in b_fv.items():
            if name not in a_fv and ver >= floor:
                changed = True
                doc[name] = b_doc[name]  # type: ignore[index]
                fv[name] = ver
        if not changed and a_doc is not None and version == a_ver and floor == a_floor:
            return a
        return self._compress(doc, version, floor, fv)

    def to_wire(self, record: Record) -> list[Any]:
        return list(record)

    def from_wire(self, data: list[Any]) -> Record:
        """Also checks the invariants of the three forms (a patch has a document, floor <=
        field versions <= version, one field version per field), which join relies on."""
        rec = _as_record(data)
        doc, version = rec.doc, rec.version
        ok = doc is not None or len(rec) > 2
        if ok and len(rec) > 2:
            floor = rec.floor
            ok = _is_version(floor) and floor <= version
            if ok and len(rec) == 4:
                fv = rec.field_versions
                ok = (
                    isinstance(fv, dict)
                    and doc is not None
                    and fv.keys() == doc.keys()
                    and all(_is_version(v) and floor <= v <= version for v in fv.values())
                )
        if not ok:
            raise ValueError(f"not a field record: {data!r}")
        return rec


def _is_version(value: Any) -> bool:
    return type(value) is int and value >= 0


def record_of(data: Sequence[Any]) -> Record:
    """The record class of ``data``'s length built from its items, unchecked (a session
    token's entries, say); ``ValueError`` if no record has that length."""
    form = _FORMS[len(data)] if len(data) < len(_FORMS) else None
    if form is None:
        raise ValueError(f"a record has 2 to 4 items, got {len(data)}")
    rec: Record = _new(form, data)
    return rec


def _as_record(data: Any) -> Record:
    """``data`` as a record of a document (dict) or None, a version (int >= 0) and whatever
    follows, up to four items; ``ValueError`` otherwise."""
    items = data if isinstance(data, list | tuple) else ()
    if not 2 <= len(items) <= 4 or not (items[0] is None or isinstance(items[0], dict)):
        raise ValueError(f"not a record: {data!r}")
    rec: Record = _new(_FORMS[len(items)], items)
    if not _is_version(rec.version):
        raise ValueError(f"not a record: {data!r}")
    return rec


def crdt_for(granularity: str) -> CRDT:
    """The CRDT for a config's ``store.granularity``."""
    if granularity == "field":
        return FieldLWW()
    if granularity == "item":
        return ItemLWW()
    raise ValueError(f"unknown granularity {granularity!r}; allowed: field, item")
