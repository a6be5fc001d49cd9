"""The sans-IO region node on its own: outputs for inputs, batching, counters, bad messages."""

from __future__ import annotations

import msgpack
import pytest

from edgekv.lowlevel import (
    Digest,
    FieldLWW,
    ItemLWW,
    OpsBatch,
    Oracle,
    RegionNode,
    decode,
    encode_digest,
)


def test_a_write_commits_locally_and_emits_one_message_to_every_peer() -> None:
    node = RegionNode(0, 3, FieldLWW(), anti_entropy=None)
    version, sends = node.put(0.0, "k", {"a": 1})
    assert node.peek("k") == {"a": 1} and node.version_of("k") == version
    assert len(sends) == 1 and sends[0].dsts == (1, 2)
    msg = decode(sends[0].payload)
    assert isinstance(msg, OpsBatch) and msg.ops[0][:3] == (0, 1, "k")
    assert node.stats.messages_sent == 2 and node.stats.bytes_sent == 2 * len(sends[0].payload)


def test_merge_is_idempotent_and_counts_duplicates() -> None:
    a = RegionNode(0, 2, ItemLWW(), anti_entropy=None)
    b = RegionNode(1, 2, ItemLWW(), anti_entropy=None)
    _, sends = a.patch(0.0, "k", {"x": 1})
    for _ in range(3):
        b.receive(0.1, sends[0].payload)
    assert b.peek("k") == {"x": 1}
    assert (b.stats.merges, b.stats.duplicates, b.stats.ops_received) == (1, 2, 3)


def test_batch_window_buffers_until_the_timer() -> None:
    node = RegionNode(0, 2, FieldLWW(), batch_window=0.05, anti_entropy=None)
    assert node.put(0.0, "a", {"v": 1})[1] == []
    assert node.put(0.01, "b", {"v": 2})[1] == []
    assert node.pending == 2 and node.deadline == 0.05
    sends = node.tick(0.05)
    assert len(sends) == 1
    msg = decode(sends[0].payload)
    assert isinstance(msg, OpsBatch) and [op.key for op in msg.ops] == ["a", "b"]
    assert node.pending == 0 and node.deadline == float("inf")


def test_an_older_write_arriving_late_loses_and_counts_as_a_conflict() -> None:
    a = RegionNode(0, 3, FieldLWW(), anti_entropy=None)
    b = RegionNode(1, 3, FieldLWW(), anti_entropy=None)
    c = RegionNode(2, 3, FieldLWW(), anti_entropy=None)
    _, old = a.put(1.0, "k", {"v": "old"})
    _, new = b.put(2.0, "k", {"v": "new"})
    c.receive(2.1, new[0].payload)
    c.receive(2.2, old[0].payload)
    assert c.peek("k") == {"v": "new"} and c.stats.conflicts == 1


def test_garbage_is_rejected_without_touching_the_store() -> None:
    node = RegionNode(0, 2, FieldLWW(), anti_entropy=None)
    node.put(0.0, "k", {"v": 1})
    for junk in (b"", b"\xc1", msgpack.packb([9, 1, []]), msgpack.packb("hello")):
        assert node.receive(1.0, junk) == []
    assert node.stats.rejected_messages == 4 and node.peek("k") == {"v": 1}


BAD_OPS = [
    [0, 2, "j", [{"v": 2}]],  # a record without a version
    [0, 2, "j", ["doc", 7]],  # a document that is not a map
    [0, 2, "j", [{"v": 2}, True]],  # a version that is not an int
    [5, 1, "j", [{"v": 2}, 7]],  # an origin outside the mesh
    [-1, 1, "j", [{"v": 2}, 7]],
    [1, 1, "j", [{"v": 2}, 7]],  # the receiver's own writes, from elsewhere
    [0, 0, "j", [{"v": 2}, 7]],  # sequence numbers start at 1
    [0, 2, 3, [{"v": 2}, 7]],  # a key that is not a string
]
BAD_FIELD_RECORDS = [
    [None, 7],  # a patch without a document
    [{"x": 1}, 3, 5],  # a floor above the version
    [{}, 9, 0, {"x": 9}],  # a field version for a field the document lacks
    [None, 5, 0, {"x": 5}],
    [{"x": 1}, 9, 0, {"x": "s"}],  # a field version that is not an int
    [{"x": 1}, 9, 0, {"x": 10}],  # a field newer than the record
]
BAD_DIGESTS = [
    [1, 0, [0], 0],  # a vector of the wrong length
    [1, 0, [0, "x"], 0],
    [1, 0, [True, 0], 0],
    [1, 7, [0, 0], 0],  # a sender outside the mesh
    [1, 1, [7, 7], 0],  # the receiver itself
    [1, 0, [0, 0], None],
    [1, 0, [0, 0], 0, [[1, 0, 2]]],  # out-of-order ops inside the vector
    [1, 0, [0, 0], 0, [[1, 3, 2]]],  # a range upside down
    [1, 0, [0, 0], 0, [[1, 2, 4, 3, 5]]],  # overlapping ranges
    [1, 0, [0, 0], 0, [[1, 2, 3], [1, 5, 6]]],  # an origin twice
    [1, 0, [0, 0], 0, [[2, 2, 3]]],  # an origin outside the mesh
    [1, 0, [0, 0], 0, [[1, 2]]],
    [1, 0, [0, 0], 0, "x"],
]


@pytest.mark.parametrize("crdt", [FieldLWW(), ItemLWW()], ids=["field", "item"])
def test_a_batch_with_one_bad_op_is_rejected_whole(crdt: FieldLWW | ItemLWW) -> None:
    node = RegionNode(1, 2, crdt, anti_entropy=1.0)
    node.tick(1.0)
    good = [0, 1, "k", [{"v": 1}, 5 << 22]]
    bad_ops = BAD_OPS + [[0, 2, "j", r] for r in BAD_FIELD_RECORDS if crdt.name == "field"]
    for bad in bad_ops:
        assert node.receive(1.0, msgpack.packb([0, 0, [good, bad]])) == [], bad
    for digest in BAD_DIGESTS:
        assert node.receive(1.0, msgpack.packb(digest)) == [], digest
    assert node.stats.rejected_messages == len(bad_ops) + len(BAD_DIGESTS)
    assert node.record("k") is None and node.repl.applied == [0, 0]
    assert all(not entries for entries in node.repl.log)
    node.receive(2.0, msgpack.packb([0, 0, [good]]))
    assert node.peek("k") == {"v": 1} and node.put(2.0, "k", {"v": 3})[0] > 5 << 22


def test_a_node_without_anti_entropy_takes_a_digest_quietly() -> None:
    node = RegionNode(0, 2, ItemLWW(), anti_entropy=None)
    assert node.receive(1.0, msgpack.packb([1, 1, [0, 0], 0])) == []
    assert node.stats.rejected_messages == 0 and node.repl.known[1] == [0, 0]
    alone = RegionNode(0, 1, ItemLWW())  # no other region could have sent it
    assert alone.receive(1.0, msgpack.packb([1, 0, [0], 0])) == []
    assert alone.stats.rejected_messages == 1


def test_digest_triggers_a_resend_of_what_the_peer_lacks() -> None:
    a = RegionNode(0, 2, FieldLWW(), anti_entropy=1.0)
    b = RegionNode(1, 2, FieldLWW(), anti_entropy=1.0)
    a.put(0.0, "k", {"v": 1})  # the message to b is "lost": never delivered
    digest = b.tick(1.0)
    repair = a.receive(1.5, digest[0].payload)
    assert len(repair) == 1
    b.receive(1.6, repair[0].payload)
    assert b.peek("k") == {"v": 1}


def test_a_stale_digest_arriving_after_a_newer_one_asks_for_nothing() -> None:
    a = RegionNode(0, 2, FieldLWW(), anti_entropy=1.0)
    b = RegionNode(1, 2, FieldLWW(), anti_entropy=0.05)
    _, write = a.put(0.0, "k", {"v": 1})
    old = b.tick(0.05)  # b has nothing from a yet
    b.receive(0.1, write[0].payload)
    new = b.tick(0.1)  # b holds a's write
    assert a.receive(2.0, new[0].payload) == []
    assert a.receive(2.1, old[0].payload) == []  # reordered: a knows b holds the write
    assert a.stats.messages_sent == 1


def test_a_digest_names_out_of_order_ops_so_only_the_gap_is_resent() -> None:
    a = RegionNode(0, 2, FieldLWW(), anti_entropy=1.0)
    b = RegionNode(1, 2, FieldLWW(), anti_entropy=1.0)
    writes = [a.put(0.0, f"k{i}", {"v": i})[1][0].payload for i in range(5)]
    for payload in writes[:1] + writes[2:]:  # the second write is lost
        b.receive(0.3, payload)
    digest = b.tick(1.0)
    msg = decode(digest[0].payload)
    assert isinstance(msg, Digest) and msg.vv == [1, 0] and msg.extra == [[0, 3, 5]]
    repair = a.receive(1.3, digest[0].payload)
    ops = decode(repair[0].payload)
    assert isinstance(ops, OpsBatch) and [op.seq for op in ops.ops] == [2]
    b.receive(1.6, repair[0].payload)
    assert b.repl.applied == [5, 0] and b.stats.duplicates == 0
    after = decode(b.tick(2.0)[0].payload)
    assert isinstance(after, Digest) and (after.vv, after.extra) == ([5, 0], [])


def test_a_digest_leaves_out_ops_that_just_arrived_and_the_peer_resends_nothing_young() -> None:
    a = RegionNode(0, 2, FieldLWW(), anti_entropy=1.0)
    b = RegionNode(1, 2, FieldLWW(), anti_entropy=1.0)
    writes = [a.put(t, f"k{t}", {"v": t})[1][0].payload for t in (0.0, 0.1, 0.95)]
    b.receive(0.3, writes[0])
    b.receive(0.96, writes[2])  # arrived within the last fifth of the period
    msg = decode(b.tick(1.0)[0].payload)
    assert isinstance(msg, Digest) and msg.vv == [1, 0] and msg.extra == []
    repair = a.receive(1.5, encode_digest(1, msg.vv, msg.clock, msg.extra))
    ops = decode(repair[0].payload)
    assert isinstance(ops, OpsBatch) and [op.seq for op in ops.ops] == [2]  # seq 3 is young


def test_oracle_history_can_be_capped() -> None:
    oracle = Oracle(max_history=3)
    for v in range(1, 11):
        oracle.commit("k", v, v * 0.1)
    assert [v for v, _ in oracle.history("k")] == [8, 9, 10]
    assert oracle.staleness("k", 8, 2.0) == (2, pytest.approx(1.1))
