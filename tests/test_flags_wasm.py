"""Differential test: our evaluator against DevCycle's own bucketing WebAssembly.

The oracle is `bucketing-lib.release.wasm` shipped in `devcycle-python-server-sdk` (built from
DevCycleHQ/js-sdks `lib/shared/bucketing-assembly-script`), driven through the SDK's
`LocalBucketing` wrapper exactly as `DevCycleLocalClient.all_variables` drives it. Random configs
(nested groups, every subType and comparator, audiences, rollouts, splits, bucketing keys,
passthrough on and off) and random users must give the same variables, values, reasons,
details and targets. Skipped when the SDK (a `bench` extra) is not installed.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies_flags import configs, users

from edgekv.flags import Evaluator, User

local_bucketing = pytest.importorskip("devcycle_python_sdk.api.local_bucketing")
sdk_user = pytest.importorskip("devcycle_python_sdk.models.user")

NOW_MS = time.time() * 1000.0


class Wasm:
    """DevCycle's WASM bucketing for one SDK key, fed JSON as the local SDK feeds it.

    The instance is renewed every few hundred calls: driven this hard, the WASM's own JSON
    parsing eventually aborts on valid input (an issue of the module, not of the data).
    """

    def __init__(self) -> None:
        self.instances: dict[str, Any] = {}
        self.calls = 0

    def bucket(self, config: dict[str, Any], user: dict[str, Any], platform: dict[str, str]) -> Any:
        self.calls += 1
        if self.calls % 200 == 0:
            self.instances.clear()
        data = json.dumps({"sdkType": "server", "sdkVersion": "1", **platform})
        lb = self.instances.get(data)
        if lb is None:
            # One instance per platform data: the SDK sets it once, at start.
            lb = self.instances[data] = local_bucketing.LocalBucketing("dvc_server_conformance")
            lb.set_platform_data(data)
        lb.store_config(json.dumps(config))
        body = json.dumps(sdk_user.DevCycleUser.from_json(user).to_json()).encode()
        with lb.wasm_lock:
            address = lb._new_assembly_script_byte_array(body)
            result = lb.generateBucketedConfigForUserUTF8(lb.wasm_store, lb.sdk_key_addr, address)
            return json.loads(lb._read_assembly_script_byte_array(result).decode())


@pytest.fixture(scope="module")
def wasm() -> Wasm:
    return Wasm()


def ours(config: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    evaluator = Evaluator(config)
    user = User.from_dict(body)
    now = time.time() * 1000.0
    variables = {
        k: {"value": v.value, "reason": v.reason, "details": v.details, "target": v.target_id}
        for k, v in evaluator.evaluate(user, now_ms=now).items()
    }
    features = {k: f.variation for k, f in evaluator.features(user, now_ms=now).items()}
    return {"variables": variables, "features": features}


def theirs(result: dict[str, Any]) -> dict[str, Any]:
    variables = {
        k: {
            "value": v["value"],
            "reason": v["eval"]["reason"],
            "details": v["eval"]["details"],
            "target": v["eval"]["target_id"],
        }
        for k, v in result["variables"].items()
    }
    features = {k: f["_variation"] for k, f in result["features"].items()}
    return {"variables": variables, "features": features}


@pytest.mark.slow
@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    config=configs(NOW_MS),
    body=users(),
    platform=st.sampled_from(["iOS", "Android", "Python"]),
    platform_version=st.sampled_from(["1.2.3", "17.1", "3.11.7", "2"]),
)
def test_random_configs_bucket_as_devcycle_wasm(
    wasm: Wasm, config: dict[str, Any], body: dict[str, Any], platform: str, platform_version: str
) -> None:
    # Server-side, DevCycle's WASM takes platform and platformVersion from the SDK's platform
    # data; our evaluator serves the bucketing API and takes them from the user.
    body = {**body, "platform": platform, "platformVersion": platform_version}
    expected = theirs(
        wasm.bucket(config, body, {"platform": platform, "platformVersion": platform_version})
    )
    assert ours(config, body) == expected


def test_example_config_matches_wasm_for_the_story(wasm: Wasm) -> None:
    """The shipped example config, for a user before and after reaching 100 stars."""
    from importlib.resources import files

    config = json.loads(files("edgekv").joinpath("data/flags-example.json").read_text())
    platform = {"platform": "iOS", "platformVersion": "17.1"}
    for stars in (3, 99, 100, 250):
        body = {
            "user_id": "shopper-42",
            "email": "shopper@mail.example",
            "country": "CA",
            "appVersion": "4.2.0",
            "customData": {"stars": stars},
            **platform,
        }
        result = ours(config, body)
        assert result == theirs(wasm.bucket(config, body, platform))
        assert result["variables"]["platinum-status-feature"]["value"] is (stars >= 100)
