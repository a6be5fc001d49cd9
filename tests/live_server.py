"""A live ``edgekv`` HTTP server for synchronous tests: a real-time cluster and its
EdgeServer on their own event loop, in a background thread, on free loopback ports."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from edgekv import Cluster
from edgekv.lowlevel import EdgeServer, load_keys

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class LiveServer:
    """A cluster and its HTTP server on their own event loop, in a background thread."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.cluster: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        keys = load_keys(EXAMPLES / "keys.yaml")
        async with (
            Cluster(seed=11, lag="20ms") as cluster,
            EdgeServer(cluster, keys, port_base=0) as server,
        ):
            self.cluster, self.urls = cluster, server.urls
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await self._stop.wait()

    def start(self) -> None:
        self._thread.start()
        while not self._ready.wait(0.05):
            if not self._thread.is_alive():
                raise RuntimeError("the server thread ended before serving")

    def snapshot(self, region: str) -> dict[str, Any]:
        """What ``region`` holds, read on the server's own loop."""
        assert self._loop is not None

        async def read() -> dict[str, Any]:
            return dict(self.cluster[region].snapshot())

        return asyncio.run_coroutine_threadsafe(read(), self._loop).result()

    def stop(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
