"""Flag evaluation speed: edgekv's evaluator against DevCycle's local-bucketing Python SDK.

Builds a config of 50 features x 4 targets with mixed filters (seeded), evaluates every
variable for each of a few thousand seeded users, and reports the median time per user. The
same config is served from a loopback HTTP server to `devcycle-python-server-sdk`, whose
`DevCycleLocalClient.all_variables` buckets in WebAssembly; every user must get identical
variable values from both. Then every user's values one at a time (`Evaluator.values`)
against all of them as columns (`Evaluator.values_column`), in CPU seconds, identical.
Run: `.venv/bin/python benchmarks/flags.py [--users N] [--seed S] [--json PATH]`;
`--json` (`-`: stdout) also writes every figure as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from _report import add_json_option, json_report

from edgekv.flags import Evaluator, User, UserColumns

SDK_KEY = "dvc_server_edgekv_benchmark"
DAY_MS = 86_400_000
COUNTRIES = ["US", "CA", "GB", "DE", "FR", "JP", "BR", "IN"]
DOMAINS = ["acme.example", "mail.example", "corp.example"]
PLANS = ["free", "pro", "team", "enterprise"]


def _iso(ms: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ms / 1000.0))


def _filter(rng: random.Random, platform_name: str) -> dict[str, Any]:
    """One filter of a mix close to what dashboards produce."""
    kind = rng.randrange(9)
    if kind == 0:
        return {
            "type": "user",
            "subType": "country",
            "comparator": "=",
            "values": rng.sample(COUNTRIES, 3),
        }
    if kind == 1:
        domain = rng.choice(DOMAINS)
        return {
            "type": "user",
            "subType": "email",
            "comparator": "endWith",
            "values": [f"@{domain}"],
        }
    if kind == 2:
        return {
            "type": "user",
            "subType": "customData",
            "dataKey": "stars",
            "dataKeyType": "Number",
            "comparator": rng.choice([">=", "<", "="]),
            "values": [rng.choice([10, 50, 100, 250])],
        }
    if kind == 3:
        return {
            "type": "user",
            "subType": "customData",
            "dataKey": "plan",
            "dataKeyType": "String",
            "comparator": rng.choice(["=", "!="]),
            "values": rng.sample(PLANS, 2),
        }
    if kind == 4:
        version = f"{rng.randint(1, 4)}.{rng.randint(0, 9)}.0"
        return {
            "type": "user",
            "subType": "appVersion",
            "comparator": rng.choice([">=", "<"]),
            "values": [version],
        }
    if kind == 5:
        return {
            "type": "user",
            "subType": "platform",
            "comparator": "=",
            "values": [platform_name, "iOS"],
        }
    if kind == 6:
        return {
            "type": "user",
            "subType": "customData",
            "dataKey": "beta",
            "dataKeyType": "Boolean",
            "comparator": "=",
            "values": [True],
        }
    if kind == 7:
        return {
            "type": "audienceMatch",
            "comparator": rng.choice(["=", "!="]),
            "_audiences": [f"aud{rng.randrange(3)}"],
        }
    return {
        "type": "user",
        "subType": "user_id",
        "comparator": "contain",
        "values": [f"{rng.randrange(16):x}"],
    }


def build_config(
    seed: int, platform_name: str, now_ms: float, features: int = 50, targets: int = 4
) -> dict[str, Any]:
    """A config v2 document of `features` x `targets` with mixed filters, splits and rollouts."""
    rng = random.Random(seed)
    audiences = {
        f"aud{i}": {
            "filters": {
                "operator": "or",
                "filters": [_filter(rng, platform_name) for _ in range(2)],
            }
        }
        for i in range(3)
    }
    variables = []
    feature_docs = []
    kinds = [
        ("Boolean", lambda i: bool(i % 2)),
        ("String", lambda i: f"value-{i}"),
        ("Number", float),
        ("JSON", lambda i: {"i": i}),
    ]
    for f in range(features):
        var_kinds = [rng.choice(kinds) for _ in range(rng.randint(1, 2))]
        var_ids = [f"{f:04x}{k:04x}aaaaaaaaaaaaaaaa" for k in range(len(var_kinds))]
        for k, (kind, _) in enumerate(var_kinds):
            variables.append({"_id": var_ids[k], "key": f"feature-{f}-var-{k}", "type": kind})
        variation_ids = [f"{f:04x}{v:04x}bbbbbbbbbbbbbbbb" for v in range(3)]
        variations = [
            {
                "_id": vid,
                "key": f"v{v}",
                "name": f"Variation {v}",
                "variables": [
                    {"_var": var_ids[k], "value": make(v)} for k, (_, make) in enumerate(var_kinds)
                ],
            }
            for v, vid in enumerate(variation_ids)
        ]
        target_docs = []
        for t in range(targets):
            filters = [_filter(rng, platform_name) for _ in range(rng.randint(1, 3))]
            if rng.random() < 0.2:
                filters = [{"operator": "or", "filters": filters}]
            operator = rng.choice(["and", "and", "or"])
            shares = rng.choice([[1.0], [0.5, 0.5], [0.2, 0.3, 0.5]])
            doc: dict[str, Any] = {
                "_id": f"{f:04x}{t:04x}cccccccccccccccc",
                "_audience": {
                    "_id": f"{f:04x}{t:04x}dddddddddddddddd",
                    "filters": {"operator": operator, "filters": filters},
                },
                "distribution": [
                    {"_variation": v, "percentage": p}
                    for v, p in zip(rng.sample(variation_ids, len(shares)), shares, strict=True)
                ],
            }
            if rng.random() < 0.25:
                doc["rollout"] = {
                    "type": "gradual",
                    "startPercentage": 0.2,
                    "startDate": _iso(now_ms - 10 * DAY_MS),
                    "stages": [
                        {"type": "linear", "percentage": 1.0, "date": _iso(now_ms + 30 * DAY_MS)}
                    ],
                }
            target_docs.append(doc)
        feature_docs.append(
            {
                "_id": f"{f:04x}eeeeeeeeeeeeeeeeeeee",
                "key": f"feature-{f}",
                "type": "release",
                "variations": variations,
                "configuration": {"_id": f"{f:04x}ffffffffffffffffffff", "targets": target_docs},
            }
        )
    return {
        "project": {
            "_id": "bench-project",
            "key": "bench",
            "a0_organization": "org_bench",
            "settings": {"edgeDB": {"enabled": True}},
        },
        "environment": {"_id": "bench-env", "key": "production"},
        "audiences": audiences,
        "features": feature_docs,
        "variables": variables,
    }


def build_users(seed: int, n: int) -> list[dict[str, Any]]:
    """Seeded user objects with the fields the config targets."""
    rng = random.Random(seed + 1)
    users = []
    for i in range(n):
        body: dict[str, Any] = {"user_id": f"user-{rng.getrandbits(48):012x}-{i}"}
        if rng.random() < 0.8:
            body["email"] = f"u{i}@{rng.choice(DOMAINS)}"
        if rng.random() < 0.9:
            body["country"] = rng.choice(COUNTRIES)
        if rng.random() < 0.7:
            body["appVersion"] = f"{rng.randint(1, 4)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}"
        custom: dict[str, Any] = {"stars": rng.choice([0, 5, 10, 50, 99, 100, 250, 400])}
        if rng.random() < 0.6:
            custom["plan"] = rng.choice(PLANS)
        if rng.random() < 0.3:
            custom["beta"] = rng.random() < 0.5
        body["customData"] = custom
        users.append(body)
    return users


def _median_us(fn: Callable[[Any], Any], items: list[Any]) -> tuple[float, list[Any]]:
    """Median wall time per call in microseconds, and the results."""
    times = []
    results = []
    clock = time.perf_counter_ns
    for item in items:
        start = clock()
        results.append(fn(item))
        times.append(clock() - start)
    return statistics.median(times) / 1000.0, results


class _ConfigServer:
    """Serves one config JSON at /config/v2/server/<key>.json on 127.0.0.1 (any port)."""

    def __init__(self, config: dict[str, Any]) -> None:
        body = json.dumps(config).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                ok = self.path.split("?")[0] == f"/config/v2/server/{SDK_KEY}.json"
                self.send_response(200 if ok else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("ETag", '"bench"')
                self.end_headers()
                if ok:
                    self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _ConfigServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def run(n_users: int, seed: int) -> dict[str, Any]:
    """Time both evaluators on the same config and users; compare every variable value."""
    from devcycle_python_sdk import DevCycleLocalClient, DevCycleLocalOptions
    from devcycle_python_sdk.models.user import DevCycleUser

    now_ms = time.time() * 1000.0
    # The SDK targets platform and platformVersion from its own platform data (Python);
    # give our users the same values so both see the same user.
    platform_name, platform_version = "Python", platform.python_version()
    config = build_config(seed, platform_name, now_ms)
    bodies = [
        {**b, "platform": platform_name, "platformVersion": platform_version}
        for b in build_users(seed, n_users)
    ]

    evaluator = Evaluator(config)
    users = [User.from_dict(b) for b in bodies]
    evaluate = evaluator.evaluate
    _median_us(evaluate, users[:200])  # warm up
    ours_us, ours = _median_us(evaluate, users)
    ours_parse_us, _ = _median_us(lambda b: evaluate(User.from_dict(b)), bodies)
    loop_s, column_s, column_agree = _columns(evaluator, users, now_ms)

    with _ConfigServer(config) as server:
        options = DevCycleLocalOptions(
            config_cdn_uri=server.url,
            events_api_uri=server.url,
            config_polling_interval_ms=3_600_000,
            disable_automatic_event_logging=True,
            disable_custom_event_logging=True,
            disable_realtime_updates=True,
        )
        client = DevCycleLocalClient(SDK_KEY, options)
        try:
            deadline = time.monotonic() + 30
            while not client.is_initialized():
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        "DevCycle SDK did not load the config from the loopback server"
                    )
                time.sleep(0.05)
            sdk_users = [DevCycleUser.from_json(b) for b in bodies]
            _median_us(client.all_variables, sdk_users[:200])
            sdk_us, theirs = _median_us(client.all_variables, sdk_users)
        finally:
            client.close()

    agree = sum(
        {k: v.value for k, v in mine.items()} == {k: v.value for k, v in other.items()}
        for mine, other in zip(ours, theirs, strict=True)
    )
    served = statistics.mean(len(v) for v in ours)
    return {
        "features": len(config["features"]),
        "targets_per_feature": 4,
        "variables": len(config["variables"]),
        "users": n_users,
        "mean_variables_served": served,
        "ours_median_us": ours_us,
        "ours_with_validation_median_us": ours_parse_us,
        "sdk_median_us": sdk_us,
        "ratio": sdk_us / ours_us,
        "ratio_with_validation": sdk_us / ours_parse_us,
        "agree": agree,
        "values_loop_cpu_s": loop_s,
        "values_column_cpu_s": column_s,
        "column_speedup": loop_s / column_s,
        "column_agree": column_agree,
    }


def _columns(evaluator: Evaluator, users: list[User], now_ms: float) -> tuple[float, float, int]:
    """CPU seconds of ``Evaluator.values`` for every user one at a time and of
    ``values_column`` for all of them at once (factorising them included), best of 3
    interleaved; and for how many users both give the same values."""
    loop_s = column_s = float("inf")
    for _ in range(3):
        started = time.process_time()
        one_by_one = [evaluator.values(u, now_ms) for u in users]
        loop_s = min(loop_s, time.process_time() - started)
        started = time.process_time()
        columns = evaluator.values_column(UserColumns.from_users(users), now_ms)
        column_s = min(column_s, time.process_time() - started)
    rows = {k: c.tolist() for k, c in columns.items()}
    agree = sum(
        {k: v[i] for k, v in rows.items() if v[i] is not None} == one
        for i, one in enumerate(one_by_one)
    )
    return loop_s, column_s, agree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    add_json_option(parser)
    args = parser.parse_args()
    with json_report(args.json) as report:
        r = run(args.users, args.seed)
        report.update(r, seed=args.seed)
        print(
            f"config: {r['features']} features x {r['targets_per_feature']} targets, "
            f"{r['variables']} variables; {r['users']} users, "
            f"{r['mean_variables_served']:.1f} variables served per user on average"
        )
        print(f"edgekv evaluator        median {r['ours_median_us'] / 1000:.4f} ms/user")
        print(
            "  incl. User.from_dict  median "
            f"{r['ours_with_validation_median_us'] / 1000:.4f} ms/user"
        )
        print(f"DevCycle SDK (WASM)     median {r['sdk_median_us'] / 1000:.4f} ms/user")
        print(
            f"ratio SDK/edgekv: {r['ratio']:.1f}x "
            f"({r['ratio_with_validation']:.1f}x incl. validation)"
        )
        print(f"identical variable values: {r['agree']}/{r['users']} users")
        print(
            f"every user's values, CPU s: one at a time {r['values_loop_cpu_s']:.3f}, as "
            f"columns (Evaluator.values_column) {r['values_column_cpu_s']:.3f} "
            f"({r['column_speedup']:.1f}x), identical for {r['column_agree']}/{r['users']} users"
        )
    if r["agree"] != r["users"] or r["column_agree"] != r["users"]:
        raise SystemExit("evaluators disagree")


if __name__ == "__main__":
    main()
