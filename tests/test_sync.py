"""The sync facade and mapping-like regions, and the test controls on Cluster: pause/resume,
drop/duplicate next, in-flight inspection, snapshots and the recorded history."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import numpy as np
import pytest

import edgekv.pytest_plugin as plugin
from edgekv import Cluster, ConfigError, run


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


def test_sync_facade_inside_a_running_loop_refuses_before_starting_anything() -> None:
    """An unstarted cluster used to get asyncio's "Cannot run the event loop while another
    loop is running" (and a private loop left behind), not the facade's own message."""
    cluster = Cluster(seed=1)

    async def main() -> None:
        for use in (
            lambda: cluster.sync["East US"].get("k"),
            lambda: cluster.sync["East US"].put("k", {}),
            lambda: "k" in cluster.sync["East US"],
            cluster.sync.start,
        ):
            with pytest.raises(RuntimeError, match="await the Region methods"):
                use()

    run(main())
    assert cluster.loop is None
    cluster.sync["East US"].put("k", {"v": 1})  # outside a loop it still works
    assert cluster.sync["East US"]["k"] == {"v": 1}


@pytest.mark.parametrize("how", ["sync", "async"])
def test_a_closed_cluster_refuses_operations_and_keeps_its_state(how: str) -> None:
    """After close() a write used to be applied (and, after `async with`, then fail with
    asyncio's "Event loop is closed", leaving it half done); settle() timed out."""
    if how == "sync":
        cluster = make()
        cluster.sync["East US"].put("k", {"v": 1})
        cluster.close()
        attempts = [
            lambda: cluster.sync["East US"].put("k", {"v": 2}),
            lambda: cluster.sync["East US"].get("k"),
            lambda: cluster.sync.advance(1),
            lambda: cluster.sync.settle(),
        ]
    else:

        async def session() -> Cluster:
            async with Cluster(seed=1) as cluster:
                await cluster["East US"].put("k", {"v": 1})
            return cluster

        cluster = run(session())

        async def put() -> None:
            await cluster["East US"].put("k", {"v": 2})

        async def reenter() -> None:
            async with cluster:
                pass

        attempts = [lambda: run(put()), lambda: run(reenter())]
    for attempt in attempts:
        with pytest.raises(RuntimeError, match="is closed|loop of .* is closed"):
            attempt()
    assert cluster.snapshot()["East US"] == {"k": {"v": 1}}
    assert [r.kind for r in cluster.records] == ["put"]


def test_a_cluster_refuses_a_loop_other_than_its_own() -> None:
    """A cluster started by its sync facade, used from edgekv.run, used to hang: its
    timers live on the other loop."""
    cluster = make()
    cluster.sync["East US"].put("k", {"v": 1})

    async def elsewhere() -> None:
        await cluster["East US"].put("k", {"v": 2})

    with pytest.raises(RuntimeError, match="runs on the event loop it started on"):
        run(elsewhere(), idle_timeout=1)
    assert cluster.sync["East US"].get("k") == {"v": 1}


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.sync.advance(float("nan")), "seconds: expected a non-negative duration"),
        (lambda c: c.sync.advance(-1), "seconds: expected a non-negative duration"),
        (lambda c: c.sync.advance(float("inf")), "seconds: expected a non-negative duration"),
        (lambda c: c.sync.advance(1e300), r"seconds: expected a duration of at most 3.1536e\+07s"),
        (lambda c: c.sync.advance(None), "seconds: expected a duration such as"),
        (lambda c: c.sync.advance("1"), "seconds: a duration needs a unit"),
        (lambda c: c.sync.settle(float("nan")), "timeout: expected a non-negative duration"),
        (lambda c: c.sync.settle("soon"), "timeout: expected a duration such as"),
        (lambda c: run(c.settle(poll=0)), "poll: expected a positive duration"),
    ],
)
def test_advance_and_settle_take_seconds_up_to_a_year(call: Any, match: str) -> None:
    """advance(inf) or advance(1e300) used to run digests forever; NaN moved the clock to
    the next timer; None and strings failed inside asyncio."""
    cluster = make()
    with pytest.raises(ConfigError, match=match):
        call(cluster)
    cluster.sync.advance("250ms")
    assert cluster.sync.now() == pytest.approx(0.25)


def test_one_region_alone_heals_or_resumes_nothing() -> None:
    """heal("East US") used to heal every cut link; a region's link to itself is no link."""
    cluster = make("East US", "UK South")  # no third region to relay through
    cluster.partition("East US", "UK South")
    with pytest.raises(TypeError, match=r"heal\(\) takes two region names, or none"):
        cluster.heal("East US")
    with pytest.raises(TypeError, match=r"resume\(\) takes two region names, or none"):
        cluster.resume(None, "East US")
    with pytest.raises(ValueError, match="cannot partition a region's link to itself"):
        cluster.partition("UK South", "UK South")
    cluster.sync["East US"].put("k", {})
    cluster.sync.advance(5)
    assert cluster.sync["UK South"].get("k") is None  # still cut
    cluster.heal("East US", "UK South")
    cluster.heal()
    cluster.sync.settle()
    assert cluster.converged()


def test_inspection_outside_async_code_starts_the_cluster() -> None:
    """Region.peek/version (through Cluster.mesh) used to need a running event loop."""
    cluster = Cluster(seed=1)
    assert cluster["East US"].peek("k") is None and cluster["East US"].version("k") == 0
    with pytest.raises(TypeError, match="keys are strings, got int"):
        cluster["East US"].peek(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="has no replication mesh"):
        Cluster(seed=1, system="single-home")["East US"].peek("k")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"options": "fast"}, TypeError, "options must be a mapping of option names"),
        ({"options": {"colour": 1}}, ConfigError, r"replicated.colour: unknown option"),
        (
            {"system": "single-home", "options": {"migrate_after": 0}},
            ConfigError,
            "migrate_after must be None or an int >= 1",
        ),
        ({"system": "workers-kv", "options": {"cache_ttl": 5}}, ConfigError, "cache_ttl"),
    ],
)
def test_system_options_are_checked_when_the_cluster_is_made(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    """Unknown or bad options used to pass the constructor and fail at the first operation
    (in the pytest fixture: a traceback from fixture setup)."""
    with pytest.raises(error, match=match):
        Cluster(seed=1, **kwargs)


def test_message_counts_take_numpy_integers() -> None:
    cluster = make()
    cluster.drop_next(np.int64(2))
    with pytest.raises(ValueError, match=r"expected a message count >= 0, got 2.0"):
        cluster.drop_next(2.0)  # type: ignore[arg-type]
