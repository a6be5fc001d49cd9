"""Merge laws of both LWW granularities, with tombstones, and the LWW winner semantics."""

from __future__ import annotations

from functools import reduce
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lww_reference import field_winner
from strategies import Op, op_lists

from edgekv.lowlevel import (
    CRDT,
    FieldLWW,
    FieldRecord,
    FlooredRecord,
    ItemLWW,
    OpsBatch,
    PlainRecord,
    Record,
    ShippedOp,
    decode,
    encode_ops,
    record_of,
)

CRDTS = [FieldLWW(), ItemLWW()]


def delta(crdt: CRDT, op: Op) -> Record:
    kind, version, payload = op
    if kind == "put":
        return crdt.put(None, payload, version)
    if kind == "patch":
        return crdt.patch(None, payload, version)
    return crdt.delete(version)


def state(crdt: CRDT, ops: list[Op]) -> Record:
    return reduce(crdt.join, (delta(crdt, op) for op in ops[1:]), delta(crdt, ops[0]))


@pytest.mark.parametrize("crdt", CRDTS, ids=lambda c: c.name)
@given(data=st.data())
def test_join_is_commutative(crdt: CRDT, data: st.DataObject) -> None:
    ops = data.draw(op_lists(min_size=2))
    k = data.draw(st.integers(1, len(ops) - 1))
    a, b = state(crdt, ops[:k]), state(crdt, ops[k:])
    assert crdt.join(a, b) == crdt.join(b, a)


@pytest.mark.parametrize("crdt", CRDTS, ids=lambda c: c.name)
@given(data=st.data())
def test_join_is_associative(crdt: CRDT, data: st.DataObject) -> None:
    ops = data.draw(op_lists(min_size=3))
    i = data.draw(st.integers(1, len(ops) - 2))
    j = data.draw(st.integers(i + 1, len(ops) - 1))
    a, b, c = state(crdt, ops[:i]), state(crdt, ops[i:j]), state(crdt, ops[j:])
    assert crdt.join(crdt.join(a, b), c) == crdt.join(a, crdt.join(b, c))


@pytest.mark.parametrize("crdt", CRDTS, ids=lambda c: c.name)
@given(ops=op_lists())
def test_join_is_idempotent(crdt: CRDT, ops: list[Op]) -> None:
    a = state(crdt, ops)
    assert crdt.join(a, a) == a
    for op in ops:  # re-merging any write already merged changes nothing
        assert crdt.join(a, delta(crdt, op)) == a


@pytest.mark.parametrize("crdt", CRDTS, ids=lambda c: c.name)
@given(data=st.data())
def test_covers_is_join_returning_its_first_argument(crdt: CRDT, data: st.DataObject) -> None:
    ops = data.draw(op_lists(min_size=2))
    k = data.draw(st.integers(1, len(ops) - 1))
    a, b = state(crdt, ops[:k]), state(crdt, ops[k:])
    for x, y in ((a, b), (b, a), (a, a), (a, crdt.join(a, b)), (crdt.join(a, b), b)):
        assert crdt.covers(x, y) is (crdt.join(x, y) is x)


@given(ops=op_lists(), order=st.randoms(use_true_random=False))
def test_field_state_is_the_lww_winner_of_every_field(ops: list[Op], order: Any) -> None:
    shuffled = list(ops)
    order.shuffle(shuffled)
    assert state(FieldLWW(), shuffled).doc == field_winner(ops)


@given(ops=op_lists(), order=st.randoms(use_true_random=False))
def test_item_state_is_the_newest_write(ops: list[Op], order: Any) -> None:
    shuffled = list(ops)
    order.shuffle(shuffled)
    kind, _, payload = max(ops, key=lambda op: op[1])
    assert state(ItemLWW(), shuffled).doc == (None if kind == "delete" else payload)


@pytest.mark.parametrize("crdt", CRDTS, ids=lambda c: c.name)
@given(ops=op_lists())
def test_wire_form_round_trips(crdt: CRDT, ops: list[Op]) -> None:
    s = state(crdt, ops)
    back = crdt.from_wire(crdt.to_wire(s))
    assert back == s and type(back) is type(s)


def test_item_patch_is_read_modify_write_and_loses_a_concurrent_field() -> None:
    item, field = ItemLWW(), FieldLWW()
    base_i, base_f = item.put(None, {"a": 0, "b": 0}, 1), field.put(None, {"a": 0, "b": 0}, 1)
    # Two regions patch different fields concurrently from the same base.
    i1, i2 = item.patch(base_i, {"a": 1}, 2), item.patch(base_i, {"b": 2}, 3)
    f1, f2 = field.patch(base_f, {"a": 1}, 2), field.patch(base_f, {"b": 2}, 3)
    assert item.join(i1, i2).doc == {"a": 0, "b": 2}
    assert field.join(field.join(base_f, f1), f2).doc == {"a": 1, "b": 2}


def test_records_are_named_tuples_of_the_shortest_form() -> None:
    field = FieldLWW()
    put = field.put(None, {"a": 1}, 5)
    assert type(put) is FlooredRecord and (put.doc, put.version, put.floor) == ({"a": 1}, 5, 5)
    patch = field.patch(put, {"b": 2}, 7)
    assert type(patch) is PlainRecord and (patch.doc, patch.version) == ({"b": 2}, 7)
    joined = field.join(put, patch)
    assert type(joined) is FieldRecord
    assert joined.field_versions == {"a": 5, "b": 7} and joined.floor == 5
    assert type(field.join(patch, field.delete(9))) is FlooredRecord


def test_named_records_and_ops_keep_the_plain_list_wire_form() -> None:
    field = FieldLWW()
    rec = field.join(field.put(None, {"a": 1}, 5), field.patch(None, {"b": 2}, 7))
    wire = field.to_wire(rec)
    payload = encode_ops(3, [ShippedOp(3, 1, "k", wire)])
    assert payload == msgpack.packb(
        [0, 3, [[3, 1, "k", [{"a": 1, "b": 2}, 7, 5, rec.field_versions]]]]
    )
    batch = decode(payload, field.from_wire)
    assert isinstance(batch, OpsBatch)
    (op,) = batch.ops
    assert (op.origin, op.seq, op.key) == (3, 1, "k") and op.delta == rec
    assert type(op.delta) is FieldRecord


@pytest.mark.parametrize("items", [[None], [None, 1, 2, {}, 5]])
def test_only_two_to_four_items_make_a_record(items: list[Any]) -> None:
    with pytest.raises(ValueError, match="2 to 4 items"):
        record_of(items)
