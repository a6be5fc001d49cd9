"""The HTTP API over real loopback sockets, with the cluster replicating in real time."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from edgekv import Cluster
from edgekv.cli import main
from edgekv.lowlevel import MAX_BODY, EdgeServer, load_keys, make_app

SHOP = "dvc_server_acme_shop_1"
SHOP_CLIENT = "dvc_client_acme_shop_1"
LABS = "dvc_server_acme_labs_1"
CLOSED = "dvc_server_closed_1"
LAG = 0.2
FLAG = "platinum-status-feature"
EXAMPLE_FLAGS = resources.files("edgekv") / "data" / "flags-example.json"


def _keys(tmp: Path) -> Any:
    """acme-shop and acme-labs (EdgeDB on) and closed (EdgeDB off), all on the example."""
    doc = json.loads(EXAMPLE_FLAGS.read_text())
    doc["project"]["settings"]["edgeDB"]["enabled"] = False
    (tmp / "closed.json").write_text(json.dumps(doc))
    (tmp / "example.json").write_text(EXAMPLE_FLAGS.read_text())
    return load_keys(
        {
            "projects": {
                "acme-shop": {"server_keys": [SHOP], "client_keys": [SHOP_CLIENT]},
                "acme-labs": {"server_keys": [LABS]},
                "closed": {"flags": "closed.json", "server_keys": [CLOSED]},
            }
        },
        flags=tmp / "example.json",
        base_dir=tmp,
    )


class Api:
    """A running server plus a client session; ``call`` returns (status, parsed body)."""

    def __init__(self, cluster: Cluster, server: EdgeServer, session: aiohttp.ClientSession):
        self.cluster = cluster
        self.server = server
        self.session = session

    async def call(
        self,
        method: str,
        region: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = SHOP,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        hdrs = {"Authorization": key} if key else {}
        hdrs.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        url = self.server.urls[region] + path
        async with self.session.request(method, url, data=data, headers=hdrs) as resp:
            text = await resp.text()
            ctype = resp.headers.get("Content-Type", "")
            return resp.status, json.loads(text) if "json" in ctype else text


@pytest_asyncio.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    keys = _keys(tmp_path)
    async with (
        Cluster(seed=3, lag=f"{LAG * 1000:g}ms") as cluster,
        EdgeServer(cluster, keys, port_base=0) as server,
        aiohttp.ClientSession() as session,
    ):
        yield Api(cluster, server, session)


@pytest.mark.asyncio
async def test_platinum_turns_on_in_another_region_only_after_the_lag(api: Api) -> None:
    status, body = await api.call(
        "PATCH", "East US", "/v1/edgedb/ana", {"user_id": "ana", "customData": {"stars": 150}}
    )
    written = time.monotonic()
    assert (status, body) == (200, {"message": "Successfully updated user data"})

    status, body = await api.call(
        "POST", "UK South", "/v1/variables?enableEdgeDB=true", {"user_id": "ana"}
    )
    assert status == 200 and body[FLAG]["value"] is False
    assert time.monotonic() - written < LAG

    seen = None
    while time.monotonic() - written < 3.0:
        status, body = await api.call(
            "POST", "UK South", "/v1/variables?enableEdgeDB=true", {"user_id": "ana"}
        )
        if body[FLAG]["value"] is True:
            seen = time.monotonic() - written
            break
        await asyncio.sleep(0.02)
    assert seen is not None and seen >= LAG - 0.002  # the PATCH answered after its 1 ms service
    assert body[FLAG] == {
        "_id": "6650f1a2c3d4e5f607182c01",
        "key": FLAG,
        "type": "Boolean",
        "value": True,
        "_feature": "6650f1a2c3d4e5f607182a01",
        "eval": {
            "reason": "TARGETING_MATCH",
            "details": "Custom Data -> stars",
            "target_id": "6650f1a2c3d4e5f607182e01",
        },
    }
    # the request's data was written back to the serving region, namespaced by project
    assert await api.cluster["UK South"].get("acme-shop:ana") == {
        "user_id": "ana",
        "customData": {"stars": 150},
    }
    # West US made no write of its own, so the PATCH became its newest version: one lag sample
    status, metrics = await api.call("GET", "West US", "/metrics", key=None)
    assert status == 200
    lag_count = next(
        line
        for line in metrics.splitlines()
        if line.startswith("edgekv_replication_lag_seconds_count")
    )
    assert int(lag_count.rsplit(" ", 1)[1]) >= 1
    assert 'edgekv_node_bytes_received_total{region="West US"}' in metrics
    status, metrics = await api.call("GET", "UK South", "/metrics", key=None)
    assert 'route="/v1/variables",method="POST",status="200"' in metrics


@pytest.mark.asyncio
async def test_single_variable_and_features_in_devcycle_shapes(api: Api) -> None:
    user = {"user_id": "bo", "country": "US", "customData": {"stars": 5}}
    status, body = await api.call("POST", "West US", "/v1/variables/checkout-flow", user)
    assert status == 200
    assert body["key"] == "checkout-flow" and body["value"] in ("classic", "express")
    assert body["eval"]["reason"] == "SPLIT"
    status, body = await api.call("POST", "West US", "/v1/features", user)
    assert status == 200
    assert body["platinum-status-feature"]["variationKey"] == "standard"
    assert body["express-checkout"]["_variation"] in (
        "6650f1a2c3d4e5f607182b03",
        "6650f1a2c3d4e5f607182b04",
    )
    status, body = await api.call("POST", "West US", "/v1/variables/max-cart-items", user)
    assert status == 404 and body["data"]["eval"]["reason"] == "DEFAULT"
    status, body = await api.call(
        "POST", "West US", "/v1/track", {"user": user, "events": [{"type": "purchase"}]}
    )
    assert status == 201 and body == {"message": "Successfully received 1 events."}
    status, body = await api.call("GET", "West US", "/healthz", key=None)
    assert body == {"status": "ok", "region": "West US"}


@pytest.mark.asyncio
async def test_projects_never_see_each_others_users(api: Api) -> None:
    await api.call(
        "PATCH", "East US", "/v1/edgedb/ana", {"user_id": "ana", "customData": {"stars": 500}}
    )
    status, body = await api.call(
        "POST", "East US", "/v1/variables?enableEdgeDB=true", {"user_id": "ana"}, key=LABS
    )
    assert status == 200 and body[FLAG]["value"] is False
    status, body = await api.call(
        "POST",
        "East US",
        f"/v1/variables?enableEdgeDB=true&sdkKey={SHOP}",
        {"user_id": "ana"},
        key=None,
    )
    assert status == 200 and body[FLAG]["value"] is True
    assert api.cluster["East US"].keys() == ["acme-labs:ana", "acme-shop:ana"]


@pytest.mark.asyncio
async def test_config_cdn_with_etag(api: Api) -> None:
    path = f"/config/v2/server/{SHOP}.json"
    async with api.session.get(api.server.urls["Japan East"] + path) as resp:
        assert resp.status == 200
        etag = resp.headers["ETag"]
        assert await resp.read() == EXAMPLE_FLAGS.read_bytes()
    async with api.session.get(
        api.server.urls["Japan East"] + path, headers={"If-None-Match": etag}
    ) as resp:
        assert resp.status == 304 and resp.headers["ETag"] == etag
    # a client key answers exactly as an unknown key: no oracle of which keys exist
    client = await api.call("GET", "Japan East", f"/config/v2/server/{SHOP_CLIENT}.json")
    unknown = await api.call("GET", "Japan East", "/config/v2/server/dvc_server_nope.json")
    assert client == unknown and client[0] == 401


BIG = {"user_id": "ana", "customData": {"pad": "x" * (MAX_BODY + 10)}}
BAD_INPUTS: list[tuple[str, str, str, Any, dict[str, Any], int]] = [
    # (name, method, path, body (bytes = raw), call options, status)
    ("malformed json", "PATCH", "/v1/edgedb/ana", b'{"user_id": "ana",', {}, 400),
    ("not an object", "PATCH", "/v1/edgedb/ana", ["ana"], {}, 400),
    ("user_id missing", "PATCH", "/v1/edgedb/ana", {"customData": {"stars": 1}}, {}, 400),
    ("user_id not a string", "PATCH", "/v1/edgedb/7", {"user_id": 7}, {}, 400),
    ("path differs from body", "PATCH", "/v1/edgedb/bob", {"user_id": "ana"}, {}, 400),
    (
        "customData list value",
        "PATCH",
        "/v1/edgedb/ana",
        {"user_id": "ana", "customData": {"a": [1]}},
        {},
        400,
    ),
    (
        "customData nested",
        "PATCH",
        "/v1/edgedb/ana",
        {"user_id": "ana", "customData": {"a": {"b": 1}}},
        {},
        400,
    ),
    (
        "customData not object",
        "PATCH",
        "/v1/edgedb/ana",
        {"user_id": "ana", "customData": "gold"},
        {},
        400,
    ),
    ("email not a string", "PATCH", "/v1/edgedb/ana", {"user_id": "ana", "email": 5}, {}, 400),
    ("unstorable integer", "PATCH", "/v1/edgedb/ana", {"user_id": "ana", "extra": 10**30}, {}, 400),
    ("NaN", "PATCH", "/v1/edgedb/ana", b'{"user_id": "ana", "customData": {"s": NaN}}', {}, 400),
    ("deep nesting", "POST", "/v1/variables", b"[" * 50_000, {}, 400),
    ("body over 64 KiB", "PATCH", "/v1/edgedb/ana", BIG, {}, 413),
    ("no key", "PATCH", "/v1/edgedb/ana", {"user_id": "ana"}, {"key": None}, 401),
    ("unknown key", "PATCH", "/v1/edgedb/ana", {"user_id": "ana"}, {"key": "dvc_server_x"}, 401),
    ("EdgeDB disabled", "PATCH", "/v1/edgedb/ana", {"user_id": "ana"}, {"key": CLOSED}, 403),
    (
        "EdgeDB disabled, variables",
        "POST",
        "/v1/variables?enableEdgeDB=true",
        {"user_id": "ana"},
        {"key": CLOSED},
        403,
    ),
    ("bad enableEdgeDB", "POST", "/v1/variables?enableEdgeDB=yes", {"user_id": "ana"}, {}, 400),
    (
        "unknown variable",
        "POST",
        "/v1/variables/nope?enableEdgeDB=true",
        {"user_id": "ana"},
        {},
        404,
    ),
    (
        "variables user_id missing",
        "POST",
        "/v1/variables?enableEdgeDB=true",
        {"email": "a@b.c"},
        {},
        400,
    ),
    (
        "features bad customData",
        "POST",
        "/v1/features?enableEdgeDB=true",
        {"user_id": "ana", "customData": {"a": []}},
        {},
        400,
    ),
    ("track without events", "POST", "/v1/track", {"user": {"user_id": "ana"}}, {}, 400),
    (
        "track bad user",
        "POST",
        "/v1/track",
        {"user": {"user_id": 1}, "events": [{"type": "x"}]},
        {},
        400,
    ),
    ("unknown route", "POST", "/v1/nothing", {"user_id": "ana"}, {}, 404),
    ("wrong method", "GET", "/v1/variables", None, {}, 405),
    ("wrong method, no body", "DELETE", "/v1/edgedb/ana", None, {}, 405),
    (
        "unknown expectation",
        "PATCH",
        "/v1/edgedb/ana",
        {"user_id": "ana", "name": "Ana"},
        {"headers": {"Expect": "200-ok"}},
        417,
    ),
    (
        "unknown expectation, unknown route",
        "GET",
        "/nothing",
        None,
        {"headers": {"Expect": "x"}},
        417,
    ),
]


@pytest.mark.asyncio
async def test_every_bad_input_gets_its_4xx_and_stores_nothing(api: Api) -> None:
    await api.call(
        "PATCH", "East US", "/v1/edgedb/ana", {"user_id": "ana", "customData": {"stars": 1}}
    )
    before = [region.snapshot() for region in api.cluster]
    for name, method, path, body, options, expected in BAD_INPUTS:
        raw = body if isinstance(body, bytes) else None
        status, reply = await api.call(
            method, "East US", path, None if raw is not None else body, raw=raw, **options
        )
        assert status == expected, (name, reply)
        assert reply["statusCode"] == expected and isinstance(reply["message"], str), name
        assert [region.snapshot() for region in api.cluster] == before, name

    # a chunked upload (no Content-Length) over the limit is refused too
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY // 1024 + 2):
            yield b" " * 1024

    url = api.server.urls["East US"] + "/v1/edgedb/ana"
    async with api.session.patch(url, data=chunks(), headers={"Authorization": SHOP}) as resp:
        assert resp.status == 413 and (await resp.json())["statusCode"] == 413
    status, metrics = await api.call("GET", "East US", "/metrics", key=None)
    assert 'status="5' not in metrics
    assert (await api.call("GET", "East US", "/healthz", key=None))[0] == 200


class _BrokenStore:
    async def get(self, key: str) -> None:
        raise RuntimeError("disk on fire")

    async def patch(self, key: str, fields: Any) -> int:
        raise RuntimeError("disk on fire")


@pytest.mark.asyncio
async def test_unexpected_errors_become_logged_json_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    app = make_app("Nowhere", _BrokenStore(), _keys(tmp_path))
    async with TestClient(TestServer(app)) as client:
        resp = await client.post(
            "/v1/variables?enableEdgeDB=true",
            json={"user_id": "ana"},
            headers={"Authorization": SHOP},
        )
        assert resp.status == 500
        assert await resp.json() == {"statusCode": 500, "message": "Internal server error"}
    assert "disk on fire" in caplog.text


def test_serve_rejects_bad_arguments_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--keys", "/nonexistent/keys.yaml"]) == 2
    assert "cannot read keys file" in capsys.readouterr().err
    assert main(["serve", "--keys", "examples/keys.yaml", "--lag", "fast"]) == 2
    assert main(["serve", "--keys", "examples/keys.yaml", "--port-base", "70000"]) == 2


# no `platform`: DevCycle's local SDK replaces it with its own ("Python") before bucketing
USERS = [
    {"user_id": "ana", "country": "US", "email": "ana@acme.example"},
    {"user_id": "bo", "country": "GB", "appVersion": "4.3.0"},
    {"user_id": "cy", "country": "FR", "customData": {"stars": 120, "beta": True}},
    {"user_id": "di", "country": "CA", "customData": {"stars": 99}},
]


@pytest.mark.asyncio
async def test_devcycle_cloud_sdk_reads_variables_and_features_through_edgedb(api: Api) -> None:
    from devcycle_python_sdk import DevCycleCloudClient, DevCycleCloudOptions
    from devcycle_python_sdk.models.event import DevCycleEvent
    from devcycle_python_sdk.models.user import DevCycleUser

    await api.call(
        "PATCH", "Japan East", "/v1/edgedb/ana", {"user_id": "ana", "customData": {"stars": 150}}
    )
    options = DevCycleCloudOptions(
        bucketing_api_uri=api.server.urls["Japan East"], enable_edge_db=True, request_retries=0
    )
    client = DevCycleCloudClient(SHOP, options)
    user = DevCycleUser(user_id="ana", country="US")

    def calls() -> tuple[Any, ...]:
        variable = client.variable(user, FLAG, False)
        missing = client.variable(user, "no-such-variable", "fallback")
        variables = client.all_variables(user)
        features = client.all_features(user)
        client.track(user, DevCycleEvent(type="purchase", value=3))
        return variable, missing, variables, features

    variable, missing, variables, features = await asyncio.to_thread(calls)
    assert variable.value is True and not variable.isDefaulted
    assert variable.eval.reason == "TARGETING_MATCH"
    assert missing.value == "fallback" and missing.isDefaulted
    assert variables[FLAG].value is True
    assert variables["checkout-flow"].value in ("classic", "express")
    assert features["platinum-status-feature"].variationKey == "platinum"
    assert api.server.metrics["Japan East"].events == 1
    # the SDK's request data (country, platform fields) was written back to the region
    stored = await api.cluster["Japan East"].get("acme-shop:ana")
    assert stored["country"] == "US" and stored["customData"] == {"stars": 150}


@pytest.mark.asyncio
async def test_devcycle_local_bucketing_sdk_loads_config_here_and_agrees(api: Api) -> None:
    from devcycle_python_sdk import DevCycleLocalClient, DevCycleLocalOptions
    from devcycle_python_sdk.models.user import DevCycleUser

    url = api.server.urls["Brazil South"]
    # The SDK reports itself initialised a moment before its WASM core holds the config
    # ("Config data is not set" under load); its callback comes after both.
    loaded = threading.Event()
    options = DevCycleLocalOptions(
        config_cdn_uri=url,
        events_api_uri=url,
        disable_realtime_updates=True,
        disable_automatic_event_logging=True,
        disable_custom_event_logging=True,
        on_client_initialized=loaded.set,
    )

    def local_answers() -> list[tuple[dict[str, Any], dict[str, str]]]:
        client = DevCycleLocalClient(SHOP, options)
        try:
            assert loaded.wait(timeout=300), "the local SDK never loaded the config"
            out = []
            for raw in USERS:
                user = DevCycleUser(**raw)
                variables = {k: v.value for k, v in client.all_variables(user).items()}
                features = {k: f.variationKey for k, f in client.all_features(user).items()}
                out.append((variables, features))
            return out
        finally:
            client.close()

    local = await asyncio.to_thread(local_answers)
    for raw, (variables, features) in zip(USERS, local, strict=True):
        status, served = await api.call("POST", "Brazil South", "/v1/variables", raw)
        assert status == 200
        assert variables == {k: v["value"] for k, v in served.items()}, raw
        status, served = await api.call("POST", "Brazil South", "/v1/features", raw)
        assert features == {k: f["variationKey"] for k, f in served.items()}, raw
    assert any(v.get(FLAG) for v, _ in local) and any(v.get(FLAG) is False for v, _ in local)


@pytest.mark.asyncio
async def test_serve_any_system_and_its_refusals_are_json(tmp_path: Path) -> None:
    """``edgekv serve --system workers-kv``: the same API on Workers KV's model; its 1 write
    per second per key answers 429 JSON, and nothing is stored by the refused write."""
    keys = _keys(tmp_path)
    async with (
        Cluster(seed=3, system="workers-kv") as cluster,
        EdgeServer(cluster, keys, port_base=0) as server,
        aiohttp.ClientSession() as session,
    ):
        api = Api(cluster, server, session)
        body = {"user_id": "ana", "customData": {"stars": 150}}
        status, _ = await api.call("PATCH", "East US", "/v1/edgedb/ana", body)
        assert status == 200
        body = {"user_id": "ana", "customData": {"stars": 7}}
        status, answer = await api.call("PATCH", "East US", "/v1/edgedb/ana", body)
        assert status == 429 and answer["statusCode"] == 429
        assert "1 write per second" in answer["message"]
        status, answer = await api.call(
            "POST", "East US", "/v1/variables?enableEdgeDB=true", {"user_id": "ana"}
        )
        assert status == 200 and answer[FLAG]["value"] is True  # 150 stars, not 7
