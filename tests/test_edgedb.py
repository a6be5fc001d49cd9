"""EdgeDB evaluation against a region, in virtual time: merge precedence, write-back,
namespacing, and local-only reads."""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any

import pytest

import edgekv
from edgekv import Cluster, EdgeDB
from edgekv.flags import Evaluator, UserError
from edgekv.lowlevel import SingleHomeCluster

EVALUATOR = Evaluator((resources.files("edgekv") / "data" / "flags-example.json").read_bytes())
FLAG = "platinum-status-feature"


def _run(coro: Any) -> Any:
    return edgekv.run(coro, seed=5)


def test_request_fields_win_and_custom_data_merges_key_by_key() -> None:
    async def main() -> None:
        async with Cluster(lag="300ms") as cluster:
            db = EdgeDB(cluster["East US"], EVALUATOR, namespace="shop")
            await cluster["East US"].put(
                "shop:ana",
                {"user_id": "ana", "country": "FR", "customData": {"stars": 150, "plan": "gold"}},
            )
            user = await db.user(
                {"user_id": "ana", "country": "US", "customData": {"plan": "silver"}}
            )
            assert user.country == "US"
            assert dict(user.customData) == {"stars": 150, "plan": "silver"}
            variables = await db.variables({"user_id": "ana"})
            assert variables[FLAG].value is True
            without = await db.variables({"user_id": "ana"}, enable_edgedb=False)
            assert without[FLAG].value is False

    _run(main())


def test_request_is_written_back_to_the_local_region_only() -> None:
    async def main() -> None:
        async with Cluster(lag="300ms") as cluster:
            db = EdgeDB(cluster["UK South"], EVALUATOR, namespace="shop")
            request = {
                "user_id": "bo",
                "email": "bo@acme.example",
                "customData": {"stars": 7},
                "privateCustomData": {"ssn": "secret"},
            }
            await db.features(request)
            stored = {"user_id": "bo", "email": "bo@acme.example", "customData": {"stars": 7}}
            assert await cluster["UK South"].get("shop:bo") == stored
            assert await cluster["East US"].get("shop:bo") is None
            await cluster.settle()
            assert await cluster["East US"].get("shop:bo") == stored
            # an identical request writes nothing
            assert await db.save({"user_id": "bo", "customData": {"stars": 7}}) == 0
            assert await db.save({"user_id": "bo", "customData": {"stars": 8}}) > 0

    _run(main())


def test_evaluation_never_waits_on_another_region() -> None:
    async def main() -> None:
        async with Cluster(lag="300ms", service_time="0ms") as cluster:
            east = EdgeDB(cluster["East US"], EVALUATOR)
            west = EdgeDB(cluster["West US"], EVALUATOR)
            await east.save({"user_id": "cy", "customData": {"stars": 200}})
            cluster.isolate("West US")
            start = cluster.now()
            assert (await west.variables({"user_id": "cy"}))[FLAG].value is False
            assert cluster.now() == start
            cluster.heal()
            await asyncio.sleep(5)
            assert (await west.variables({"user_id": "cy"}))[FLAG].value is True

    _run(main())


def test_single_home_store_pays_its_round_trip_but_is_always_fresh() -> None:
    async def main() -> None:
        async with SingleHomeCluster() as cluster:
            east = EdgeDB(cluster["East US"], EVALUATOR)
            tokyo = EdgeDB(cluster["Japan East"], EVALUATOR)
            await east.save({"user_id": "di", "customData": {"stars": 120}})
            start = asyncio.get_running_loop().time()
            assert (await tokyo.variables({"user_id": "di"}))[FLAG].value is True
            assert asyncio.get_running_loop().time() - start > 0.1  # the Pacific, twice

    _run(main())


def test_projects_are_namespaced() -> None:
    async def main() -> None:
        async with Cluster() as cluster:
            shop = EdgeDB(cluster["East US"], EVALUATOR, namespace="shop")
            labs = EdgeDB(cluster["East US"], EVALUATOR, namespace="labs")
            await shop.save({"user_id": "ana", "customData": {"stars": 500}})
            assert (await labs.variables({"user_id": "ana"}))[FLAG].value is False
            assert cluster["East US"].keys() == ["labs:ana", "shop:ana"]

    _run(main())


@pytest.mark.parametrize(
    "request_",
    [
        {"customData": {"stars": 1}},
        {"user_id": 3},
        {"user_id": "ana", "customData": {"stars": [1]}},
        {"user_id": "ana", "extra": 10**30},
    ],
)
def test_invalid_users_store_nothing(request_: dict[str, Any]) -> None:
    async def main() -> None:
        async with Cluster() as cluster:
            db = EdgeDB(cluster["East US"], EVALUATOR)
            with pytest.raises(UserError):
                await db.save(request_)
            with pytest.raises(UserError):
                await db.variables(request_)
            assert cluster["East US"].keys() == []

    _run(main())


def test_unknown_variable_and_sync_peek() -> None:
    async def main() -> None:
        async with Cluster() as cluster:
            db = EdgeDB(cluster["East US"], EVALUATOR)
            assert await db.variable({"user_id": "ana"}, "nope") is None
            assert cluster["East US"].keys() == []
            await db.save({"user_id": "ana", "customData": {"stars": 101}})
            peeked = db.peek_user({"user_id": "ana", "country": "US"})
            assert peeked.custom["stars"] == 101 and peeked.country == "US"
            home = EdgeDB(SingleHomeCluster()["East US"], EVALUATOR)
            with pytest.raises(TypeError):
                home.peek_user({"user_id": "ana"})

    _run(main())
