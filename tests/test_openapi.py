"""The shipped OpenAPI document against a live server: schemathesis fuzzes every operation,
with valid and invalid data; no answer may be a 5xx or break the document, and a refused
request must leave the serving region's replica as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from live_server import LiveServer
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from edgekv.lowlevel import openapi_document

SHOP = "dvc_server_acme_shop_1"
REGION = "East US"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_dict(
    json.loads(openapi_document()),
    config=schemathesis.Config.from_dict({"generation": {"mode": "all", "max-examples": 40}}),
)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    server = LiveServer()
    server.start()
    yield server
    server.stop()


def test_the_document_is_served_and_is_openapi_3_1(live: LiveServer) -> None:
    import urllib.request

    with urllib.request.urlopen(live.urls[REGION] + "/openapi.json") as resp:
        doc = json.load(resp)
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {
        "/v1/variables/{key}",
        "/v1/variables",
        "/v1/features",
        "/v1/track",
        "/v1/edgedb/{user_id}",
        "/config/v2/server/{sdk_key}.json",
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/",
        "/live/state",
        "/live/write",
    }


@schema.parametrize()
def test_no_5xx_no_schema_break_no_change_by_a_refused_request(case: Any, live: LiveServer) -> None:
    before = live.snapshot(REGION)
    response = case.call_and_validate(
        base_url=live.urls[REGION], headers={"Authorization": SHOP}, checks=CHECKS
    )
    if response.status_code >= 400:
        assert live.snapshot(REGION) == before


def test_after_the_fuzzing_the_region_counted_requests_and_no_5xx(live: LiveServer) -> None:
    import urllib.request

    with urllib.request.urlopen(live.urls[REGION] + "/metrics") as resp:
        metrics = resp.read().decode()
    counts = [
        int(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("edgekv_http_requests_total{")
    ]
    assert sum(counts) >= 100  # the fuzzing above went through this region
    assert 'status="5' not in metrics
