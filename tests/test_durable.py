"""``edgekv serve --data-dir``: acknowledged writes survive SIGKILL and SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest

from edgekv import Cluster, load_config
from edgekv.lowlevel import DurableStore, EdgeServer, load_keys

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SHOP = "dvc_server_acme_shop_1"
FLAG = "platinum-status-feature"
CODE = "import sys; from edgekv.cli import main; sys.exit(main(sys.argv[1:]))"


class Served:
    """``edgekv serve`` in a subprocess, with its banner parsed."""

    def __init__(self, data_dir: Path) -> None:
        args = ["serve", "--keys", str(EXAMPLES / "keys.yaml"), "--port-base", "0"]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CODE, *args, "--data-dir", str(data_dir), "--lag", "50ms"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        self.banner = ""
        self.urls: dict[str, str] = {}
        for line in self.proc.stdout:
            self.banner += line
            if line.startswith("Ctrl-C"):
                break
            if "http://" in line:
                name, url = line.rsplit(None, 1)
                self.urls[name.strip()] = url

    def call(self, region: str, method: str, path: str, body: Any) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.urls[region] + path,
            data=json.dumps(body).encode(),
            headers={"Authorization": SHOP, "Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request) as resp:
            return resp.status, json.load(resp)

    def end(self, sig: int) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait()


def _write_and_restart(tmp_path: Path, sig: int) -> tuple[int, int]:
    """200 acknowledged writes (every other user demoted later, from another region), then
    ``sig``; returns (acknowledged, found with the right value after the restart)."""
    server = Served(tmp_path)
    regions = list(server.urls)
    try:
        acknowledged = 0
        for i in range(200):
            home = regions[i % len(regions)]
            user = {"user_id": f"u{i}", "customData": {"stars": 150}}
            status, _ = server.call(home, "PATCH", f"/v1/edgedb/u{i}", user)
            acknowledged += status == 200
        for i in range(1, 200, 2):
            away = regions[(i + 1) % len(regions)]
            user = {"user_id": f"u{i}", "customData": {"stars": 5}}
            assert server.call(away, "PATCH", f"/v1/edgedb/u{i}", user)[0] == 200
    finally:
        code = server.end(sig)
    if sig == signal.SIGTERM:
        assert code == 0
    server = Served(tmp_path)
    try:
        assert "200 users restored" in server.banner
        found = 0
        for i in range(200):
            last = regions[(i + 1) % len(regions)] if i % 2 else regions[i % len(regions)]
            status, body = server.call(
                last, "POST", "/v1/variables?enableEdgeDB=true", {"user_id": f"u{i}"}
            )
            found += status == 200 and body[FLAG]["value"] is (i % 2 == 0)
    finally:
        server.end(signal.SIGTERM)
    return acknowledged, found


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_acknowledged_writes_survive_the_process(tmp_path: Path, sig: int) -> None:
    assert _write_and_restart(tmp_path, sig) == (200, 200)


def test_without_data_dir_the_banner_says_in_memory(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CODE, "serve", "--keys", str(EXAMPLES / "keys.yaml")]
        + ["--port-base", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    banner = "".join(line for line, _ in zip(proc.stdout, range(2), strict=False))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait() == 0
    assert "storage: in memory" in banner


def test_the_newest_field_wins_over_regions(tmp_path: Path) -> None:
    store = DurableStore(tmp_path, ["East US", "UK South"])
    store.record("East US", "p:a", {"name": "old", "country": "US"}, at=1.0, version=10)
    store.record("UK South", "p:a", {"name": "new"}, at=2.0, version=30)
    store.record("East US", "p:a", {"name": "stale"}, at=1.5, version=20)
    # acknowledged later by a wall clock that stepped back: the version still orders it
    store.record("East US", "p:a", {"country": "GB"}, at=0.5, version=40)
    assert store.newest() == {"p:a": ("East US", {"name": "new", "country": "GB"})}
    store.close()
    reopened = DurableStore(tmp_path, ["East US", "UK South"])
    assert reopened.newest()["p:a"][1] == {"name": "new", "country": "GB"}
    # versions start again after a restart: a later run's writes win whatever their version
    reopened.record("UK South", "p:a", {"country": "FR"}, at=0.1, version=1)
    assert reopened.newest()["p:a"] == ("UK South", {"name": "new", "country": "FR"})
    reopened.close()


def test_a_database_from_before_versions_opens_and_its_rows_come_first(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "east-us.sqlite3") as db:
        db.execute(
            "CREATE TABLE fields (key TEXT NOT NULL, field TEXT NOT NULL, at REAL NOT NULL,"
            " value BLOB NOT NULL, PRIMARY KEY (key, field))"
        )
        db.execute("INSERT INTO fields VALUES ('p:a', 'name', 5e9, ?)", (msgpack.packb("old"),))
    db.close()
    store = DurableStore(tmp_path, ["East US"])
    assert store.run == 1 and store.newest() == {"p:a": ("East US", {"name": "old"})}
    store.record("East US", "p:a", {"name": "new"}, at=1.0, version=1)
    assert store.newest() == {"p:a": ("East US", {"name": "new"})}
    store.close()


SKEWED = "lon: -0.13, weight: 0.1}"


@pytest.mark.asyncio
async def test_a_restart_keeps_the_values_every_region_served(tmp_path: Path) -> None:
    """UK South's clock runs 5 s behind, so its write made before East US's reached it loses
    last-writer-wins everywhere; the store ordered writes by wall time instead, and after a
    restart every region served UK South's value."""
    text = (resources.files("edgekv") / "data" / "regions.yaml").read_text()
    assert SKEWED in text
    (tmp_path / "regions.yaml").write_text(text.replace(SKEWED, SKEWED[:-1] + ", clock_skew: -5s}"))
    cfg = load_config(tmp_path / "regions.yaml")
    keys = load_keys(EXAMPLES / "keys.yaml")

    async def serve(*writes: tuple[str, str]) -> set[Any]:
        store = DurableStore(tmp_path / "data", list(cfg.names))
        try:
            async with (
                Cluster(cfg, seed=1, lag="50ms") as cluster,
                EdgeServer(cluster, keys, port_base=0, durable=store) as server,
                aiohttp.ClientSession() as session,
            ):
                cluster.isolate("UK South")
                for region, name in writes:
                    url = server.urls[region] + "/v1/edgedb/ana"
                    body = {"user_id": "ana", "name": name}
                    async with session.patch(url, json=body, headers={"Authorization": SHOP}) as r:
                        assert r.status == 200
                cluster.heal()
                await cluster.settle()
                return {(await region.get("acme-shop:ana") or {}).get("name") for region in cluster}
        finally:
            store.close()

    assert await serve(("East US", "first"), ("UK South", "second")) == {"first"}
    assert await serve() == {"first"}
