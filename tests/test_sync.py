"""The sync facade and mapping-like regions, and the test controls on Cluster: pause/resume,
drop/duplicate next, in-flight inspection, snapshots and the recorded history."""

from __future__ import annotations

from collections.abc import MutableMapping

import pytest

import edgekv.pytest_plugin as plugin
from edgekv import Cluster, run


def make(*regions: str) -> Cluster:
    cfg = plugin._config(None, list(regions)) if regions else None
    cluster = Cluster(cfg, seed=1, lag="300ms")
    cluster.history  # noqa: B018 - record from the start
    return cluster


def test_sync_region_is_a_mutable_mapping_over_the_local_replica() -> None:
    cluster = make()
    us, uk = cluster.sync["East US"], cluster.sync["UK South"]
    assert isinstance(us, MutableMapping)
    us["user:1"] = {"stars": 3}
    us.patch("user:1", {"tier": "gold"})
    assert us["user:1"] == {"stars": 3, "tier": "gold"}
    assert uk.get("user:1") is None and uk.get("user:1", {}) == {}
    with pytest.raises(KeyError):
        uk["user:1"]
    cluster.sync.advance(0.5)
    assert dict(uk) == {"user:1": {"stars": 3, "tier": "gold"}} and len(uk) == 1
    del uk["user:1"]
    with pytest.raises(KeyError):
        del uk["user:1"]
    cluster.sync.settle()
    assert "user:1" not in us and cluster.snapshot() == {name: {} for name in cluster.regions}


def test_sync_facade_refuses_to_block_inside_a_running_loop() -> None:
    async def main() -> None:
        cluster = Cluster()
        await cluster["East US"].put("k", {})
        with pytest.raises(RuntimeError, match="await the Region methods"):
            cluster.sync["East US"].get("k")

    run(main())


def test_pause_holds_messages_and_resume_delivers_them_in_order() -> None:
    cluster = make("East US", "UK South")  # no third region to relay through
    us, uk = cluster.sync["East US"], cluster.sync["UK South"]
    cluster.pause("East US", "UK South")
    us.put("k", {"n": 1})
    us.put("k", {"n": 2})
    cluster.sync.advance(5)
    assert uk.get("k") is None
    held = [m for m in cluster.in_flight() if m.arrives is None and m.kind == "ops"]
    assert [(m.src, m.dst, m.keys) for m in held] == [("East US", "UK South", ("k",))] * 2
    cluster.sync.settle(timeout=1)  # a paused link does not keep the cluster busy
    waiting = len([m for m in cluster.in_flight() if m.arrives is None])
    assert cluster.resume() == waiting and not cluster.mesh.held
    assert uk.get("k") == {"n": 2}
    writes = cluster.history.for_key("k")
    assert [w.doc for w in writes] == [{"n": 1}, {"n": 2}]
    assert writes[0].visible["UK South"] == writes[1].visible["UK South"] >= 5


def test_resume_needs_both_regions_or_none() -> None:
    cluster = make()
    with pytest.raises(TypeError, match="two region names"):
        cluster.resume("East US")
    with pytest.raises(KeyError, match="unknown region 'Mars'"):
        cluster.pause("East US", "Mars")


def test_in_flight_lists_deliveries_soonest_first() -> None:
    cluster = make()
    cluster.sync["East US"].put("k", {})
    ops = [m for m in cluster.in_flight() if m.kind == "ops"]
    assert len(ops) == len(cluster.regions) - 1
    assert all(m.src == "East US" and m.arrives == pytest.approx(0.3) for m in ops)
    arrivals = [m.arrives for m in cluster.in_flight()]
    assert arrivals == sorted(arrivals)


def test_drop_and_duplicate_next() -> None:
    cluster = make()
    cluster.drop_next(len(cluster.regions) - 1)
    cluster.sync["East US"].put("k", {"v": 1})
    assert not [m for m in cluster.in_flight() if m.kind == "ops"]
    cluster.sync.settle()  # anti-entropy repairs the loss
    assert cluster.converged()
    cluster.duplicate_next(1)
    cluster.sync["East US"].put("j", {"v": 2})
    assert len([m for m in cluster.in_flight() if m.keys == ("j",)]) == len(cluster.regions)
    with pytest.raises(ValueError, match="message count"):
        cluster.drop_next(-1)


def test_history_records_visibility_per_region() -> None:
    cluster = make()
    cluster.sync["UK South"].put("k", {"v": 1})
    cluster.sync.settle()
    write = cluster.history.last("k")
    assert write.region == "UK South" and write.at == 0.0
    assert set(write.visible) == set(cluster.regions)
    assert all(write.lag(name) == pytest.approx(0.3) for name in cluster.regions[:2])
    assert "UK South: k = {'v': 1}" in cluster.history.describe()
    with pytest.raises(KeyError):
        cluster.history.last("nope")


def test_a_write_is_visible_where_a_newer_one_of_its_key_was_written() -> None:
    """East US writes, UK South patches the key before the first write arrives: UK South
    holds a newer version from its own write on, so the first write is visible there then,
    and every write ends visible everywhere once settled."""
    cluster = make()
    cluster.sync["East US"].put("k", {"a": 1})
    cluster.sync.advance(0.001)
    cluster.sync["UK South"].patch("k", {"b": 2})
    first, second = cluster.history.for_key("k")
    assert first.visible["UK South"] == second.at
    cluster.sync.settle()
    assert all(set(w.visible) == set(cluster.regions) for w in cluster.history)
    assert cluster.sync["UK South"].get("k") == {"a": 1, "b": 2}


def test_async_controls_under_virtual_time() -> None:
    async def main() -> float:
        cluster = make()
        await cluster["East US"].put("k", {})
        await cluster.advance(0.2)
        assert cluster.in_flight()
        await cluster.settle()
        return cluster.now()

    assert run(main()) == pytest.approx(0.3, abs=0.05)
