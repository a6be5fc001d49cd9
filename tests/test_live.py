"""The live page of ``edgekv serve``, in a real headless browser: a user written in one
region shows there at once, and in another region once replication has carried it."""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from browser import browser_argv

from edgekv import Cluster
from edgekv.lowlevel import EdgeServer, load_keys

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SHOP = "dvc_server_acme_shop_1"


class _Rows(HTMLParser):
    """``data-stars`` of every ``row-<region>`` in a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.stars: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        row = found.get("id") or ""
        if tag == "tr" and row.startswith("row-") and "data-stars" in found:
            self.stars[row[4:]] = found["data-stars"] or ""


async def _dom(chromium: str, profile: Path, url: str) -> dict[str, str]:
    """The page after its first polls (virtual time in the browser; real time here)."""
    argv = browser_argv(chromium, profile, "--virtual-time-budget=2000", "--dump-dom", url)
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    rows = _Rows()
    rows.feed(out.decode())
    return rows.stars


@pytest.mark.asyncio
async def test_a_write_shows_where_it_was_made_then_everywhere(
    chromium: str, tmp_path: Path
) -> None:
    keys = load_keys(EXAMPLES / "keys.yaml")
    async with (
        Cluster(seed=5, lag="constant:300ms") as cluster,
        EdgeServer(cluster, keys, port_base=0) as server,
        aiohttp.ClientSession() as session,
    ):
        url = server.urls["UK South"]
        body = {"user_id": "ana", "customData": {"stars": 150}}
        write = f"{url}/live/write?region=East%20US&sdkKey={SHOP}"
        async with session.post(write, json=body) as resp:
            assert resp.status == 200, await resp.text()
        page = f"{url}/?user=ana&sdkKey={SHOP}"
        first = await _dom(chromium, tmp_path / "a", page)
        assert first["East US"] == "150"
        assert set(first) == set(cluster.regions)
        # Real time: wait for replication itself (no deadline), then look again.
        while cluster["UK South"].peek("acme-shop:ana") is None:
            await asyncio.sleep(0.05)
        later = await _dom(chromium, tmp_path / "b", page)
        assert later["UK South"] == "150" and later["Japan East"] == "150"


@pytest.mark.asyncio
async def test_the_live_endpoints_refuse_bad_input_as_json(tmp_path: Path) -> None:
    keys = load_keys(EXAMPLES / "keys.yaml")
    async with (
        Cluster(seed=5) as cluster,
        EdgeServer(cluster, keys, port_base=0) as server,
        aiohttp.ClientSession() as session,
    ):
        url = server.urls["East US"]
        cases = [
            ("GET", "/live/state?user=ana", 401),  # no key
            ("GET", f"/live/state?sdkKey={SHOP}", 400),  # no user
            ("POST", f"/live/write?region=Mars&sdkKey={SHOP}", 400),
            ("POST", "/live/write?region=East%20US&sdkKey=dvc_client_acme_shop_1", 401),
        ]
        for method, path, status in cases:
            body = {"user_id": "ana", "customData": {"stars": 1}}
            async with session.request(method, url + path, json=body) as resp:
                answer = await resp.json()
                assert (resp.status, answer["statusCode"]) == (status, status), path
        assert cluster.snapshot() == {name: {} for name in cluster.regions}
