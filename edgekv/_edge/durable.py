"""Durable regions for ``edgekv serve --data-dir``: every acknowledged write survives SIGKILL.

Each region keeps, in its own SQLite database (stdlib ``sqlite3``, WAL journal), the newest
value of every top-level field written through it, with the wall time it was acknowledged
at. A write is committed there after the in-memory replica took it and before the API answers,
so an acknowledged write is on disk (in the OS page cache with ``synchronous=NORMAL``: it
survives the process being killed, not a power cut). On restart every region's rows are read
back, each field keeps its newest value over all regions (last writer wins, as replication
would have merged them), and each user is written again at the region that last wrote it;
replication then spreads it to the others. Writes that were still replicating when the
process died are thereby delivered too.

SQLite because it ships with Python, is crash-safe with WAL, and a region's data (at most
``max_users`` documents of at most ``max_document`` bytes) fits it easily.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgpack

from .._core.errors import ConfigError
from .edgedb import RegionStore

__all__ = ["DurableRegion", "DurableStore", "restore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fields (
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    at REAL NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (key, field)
)
"""
_UPSERT = """
INSERT INTO fields (key, field, at, value) VALUES (?, ?, ?, ?)
ON CONFLICT (key, field) DO UPDATE SET at = excluded.at, value = excluded.value
WHERE excluded.at >= fields.at
"""


def _file_name(region: str) -> str:
    """A file name for a region: its name with anything but letters and digits as ``-``."""
    return re.sub(r"[^A-Za-z0-9]+", "-", region).strip("-").lower() + ".sqlite3"


class DurableStore:
    """One SQLite database per region under ``directory``."""

    def __init__(self, directory: str | Path, regions: list[str]) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(str(directory), f"cannot create data directory: {exc}") from None
        self.regions = list(regions)
        names = [_file_name(r) for r in self.regions]
        if len(set(names)) != len(names):
            raise ConfigError(str(directory), "two regions map to the same database file name")
        self._db: dict[str, sqlite3.Connection] = {}
        try:
            for region, name in zip(self.regions, names, strict=True):
                db = sqlite3.connect(self.directory / name, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(_SCHEMA)
                self._db[region] = db
        except sqlite3.Error as exc:
            self.close()
            raise ConfigError(str(directory), f"cannot open region database: {exc}") from None

    def record(self, region: str, key: str, fields: Mapping[str, Any], at: float) -> None:
        """Commit the fields of one acknowledged write at ``region`` (one transaction)."""
        rows = [(key, name, at, msgpack.packb(value)) for name, value in fields.items()]
        db = self._db[region]
        db.execute("BEGIN")
        try:
            db.executemany(_UPSERT, rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def newest(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Per key, the region that wrote it last and its fields' newest values over all
        regions (ties go to the region listed first)."""
        best: dict[str, dict[str, tuple[float, int, Any]]] = {}
        for index, region in enumerate(self.regions):
            for key, field, at, value in self._db[region].execute(
                "SELECT key, field, at, value FROM fields"
            ):
                slot = best.setdefault(key, {})
                seen = slot.get(field)
                if seen is None or (at, -index) > (seen[0], -seen[1]):
                    slot[field] = (at, index, msgpack.unpackb(value))
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for key, fields in best.items():
            last = max(fields.values(), key=lambda f: (f[0], -f[1]))
            out[key] = (self.regions[last[1]], {name: f[2] for name, f in fields.items()})
        return out

    def close(self) -> None:
        """Close every database (committed writes are already on disk)."""
        dbs, self._db = self._db, {}
        for db in dbs.values():
            db.close()


class DurableRegion:
    """A region whose acknowledged PATCHes are committed to its database before returning."""

    def __init__(self, region: RegionStore, name: str, store: DurableStore) -> None:
        self.region = region
        self.name = name
        self.store = store

    async def get(self, key: str) -> dict[str, Any] | None:
        """The local replica's document."""
        return await self.region.get(key)

    async def patch(self, key: str, fields: Mapping[str, Any]) -> int:
        """Write to the replica, then commit to disk; returns the replica's version."""
        version = await self.region.patch(key, fields)
        self.store.record(self.name, key, fields, time.time())
        return version


async def restore(cluster: Any, store: DurableStore) -> list[str]:
    """Write every stored user back into ``cluster`` at the region that wrote it last;
    returns the restored keys."""
    newest = store.newest()
    for key, (region, fields) in newest.items():
        await cluster[region].patch(key, fields)
    return list(newest)
