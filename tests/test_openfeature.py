"""The OpenFeature provider: types, reasons, error codes, context mapping, EdgeDB path."""

from __future__ import annotations

from importlib import resources
from typing import Any

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

import edgekv
from edgekv import Cluster, EdgeDB
from edgekv.flags import Evaluator
from edgekv.lowlevel import SingleHomeCluster
from edgekv.openfeature import EdgeKVProvider, context_to_user

EVALUATOR = Evaluator((resources.files("edgekv") / "data" / "flags-example.json").read_bytes())
FLAG = "platinum-status-feature"


def _with_provider(test: Any) -> None:
    async def main() -> None:
        async with Cluster(lag="300ms") as cluster:
            db = EdgeDB(cluster["UK South"], EVALUATOR, namespace="shop")
            await test(cluster, EdgeKVProvider(db))

    edgekv.run(main(), seed=2)


def test_every_type_resolves_with_its_reason_and_variant() -> None:
    async def test(cluster: Cluster, provider: EdgeKVProvider) -> None:
        await provider.edgedb.save({"user_id": "ana", "customData": {"stars": 150}})
        ctx = EvaluationContext(
            "ana",
            {"country": "US", "email": "ana@acme.example", "appVersion": "4.5.0",
             "platform": "iOS"},
        )  # fmt: skip
        res = await provider.resolve_boolean_details_async(FLAG, False, ctx)
        assert (res.value, res.reason, res.variant) == (True, Reason.TARGETING_MATCH, "platinum")
        assert res.flag_metadata["details"] == "Custom Data -> stars"
        res = await provider.resolve_string_details_async("checkout-flow", "none", ctx)
        assert res.value in ("classic", "express") and res.reason == Reason.SPLIT
        res = await provider.resolve_integer_details_async("max-cart-items", 10, ctx)
        assert (res.value, type(res.value)) == (50, int)
        res = await provider.resolve_float_details_async("max-cart-items", 1.5, ctx)
        assert (res.value, type(res.value)) == (50.0, float)
        res = await provider.resolve_object_details_async("holiday-banner", {}, ctx)
        assert res.value["dismissible"] is True and res.reason == Reason.TARGETING_MATCH
        assert res.error_code is None

    _with_provider(test)


def test_error_codes_and_default_reasons() -> None:
    async def test(cluster: Cluster, provider: EdgeKVProvider) -> None:
        ctx = EvaluationContext("bo", {"country": "FR"})
        res = await provider.resolve_boolean_details_async("no-such-flag", True, ctx)
        assert (res.value, res.reason, res.error_code) == (
            True,
            Reason.ERROR,
            ErrorCode.FLAG_NOT_FOUND,
        )
        res = await provider.resolve_boolean_details_async("checkout-flow", False, ctx)
        assert (res.value, res.error_code) == (False, ErrorCode.TYPE_MISMATCH)
        res = await provider.resolve_string_details_async(FLAG, "x", ctx)
        assert res.error_code == ErrorCode.TYPE_MISMATCH
        res = await provider.resolve_boolean_details_async(FLAG, True, EvaluationContext())
        assert (res.value, res.error_code) == (True, ErrorCode.TARGETING_KEY_MISSING)
        res = provider.resolve_boolean_details(FLAG, True, None)
        assert res.error_code == ErrorCode.TARGETING_KEY_MISSING
        bad = EvaluationContext("bo", {"email": 5})
        res = await provider.resolve_boolean_details_async(FLAG, False, bad)
        assert res.error_code == ErrorCode.INVALID_CONTEXT
        res = await provider.resolve_boolean_details_async(
            FLAG, False, EvaluationContext("bo", {"tags": ["a"]})
        )
        assert res.error_code == ErrorCode.INVALID_CONTEXT
        assert cluster["UK South"].keys() == []  # no failed resolution wrote anything
        res = await provider.resolve_string_details_async("checkout-flow", "none", ctx)
        assert (res.value, res.reason, res.error_code) == ("none", Reason.DEFAULT, None)
        assert cluster["UK South"].keys() == ["shop:bo"]

    _with_provider(test)


def test_async_path_writes_back_and_sync_path_only_reads() -> None:
    async def test(cluster: Cluster, provider: EdgeKVProvider) -> None:
        ctx = EvaluationContext("cy", {"stars": 120, "customData": {"plan": "gold"}})
        assert context_to_user(ctx) == {
            "user_id": "cy",
            "customData": {"plan": "gold", "stars": 120},
        }
        res = provider.resolve_boolean_details(FLAG, False, ctx)
        assert res.value is True
        assert cluster["UK South"].keys() == []
        res = await provider.resolve_boolean_details_async(FLAG, False, ctx)
        assert res.value is True
        assert await cluster["UK South"].get("shop:cy") == {
            "user_id": "cy",
            "customData": {"plan": "gold", "stars": 120},
        }
        # now stored, a context with the targeting key alone gets platinum, sync and async
        bare = EvaluationContext("cy")
        assert provider.resolve_boolean_details(FLAG, False, bare).value is True
        client = _client(provider)
        assert await client.get_boolean_value_async(FLAG, False, bare) is True
        assert client.get_boolean_value(FLAG, False, bare) is True

    _with_provider(test)


def test_sync_resolution_against_a_single_home_region_reports_an_error() -> None:
    async def main() -> None:
        async with SingleHomeCluster() as cluster:
            provider = EdgeKVProvider(EdgeDB(cluster["East US"], EVALUATOR))
            res = provider.resolve_boolean_details(FLAG, False, EvaluationContext("di"))
            assert (res.value, res.error_code) == (False, ErrorCode.GENERAL)
            res = await provider.resolve_boolean_details_async(FLAG, False, EvaluationContext("di"))
            assert (res.value, res.reason) == (False, Reason.TARGETING_MATCH)

    edgekv.run(main())


def _client(provider: EdgeKVProvider) -> Any:
    api.set_provider(provider, domain="edgekv-tests")
    return api.get_client(domain="edgekv-tests")
