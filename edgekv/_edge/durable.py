"""Durable regions for ``edgekv serve --data-dir``: every acknowledged write survives SIGKILL.

Each region keeps, in its own SQLite database (stdlib ``sqlite3``, WAL journal), the newest
value of every top-level field written through it, with the version the store gave the write,
the server run it was made in and the wall time it was acknowledged at. A write is committed
there after the in-memory replica took it and before the API answers, so an acknowledged write
is on disk (in the OS page cache with ``synchronous=NORMAL``: it survives the process being
killed, not a power cut). On restart every region's rows are read back, each field keeps its
newest value over all regions, and each user is written again at the region that last wrote
it; replication then spreads it to the others. Writes that were still replicating when the
process died are thereby delivered too. "Newest" is the order the store itself merged them in
(last writer wins on versions, so clock skew or a wall clock stepping back cannot change
after a restart what the regions served); versions start again in every run, so runs are
numbered and a later run's writes come after an earlier run's.

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
    run INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, field)
)
"""
_ADDED = ("run", "version")
"""Columns a database written before they existed lacks (its rows: run 0, ordered by ``at``)."""
_UPSERT = """
INSERT INTO fields (key, field, at, value, run, version) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (key, field) DO UPDATE
SET at = excluded.at, value = excluded.value, run = excluded.run, version = excluded.version
WHERE (excluded.run, excluded.version, excluded.at) >= (fields.run, fields.version, fields.at)
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
                columns = {row[1] for row in db.execute("PRAGMA table_info(fields)")}
                for column in _ADDED:
                    if column not in columns:
                        db.execute(
                            f"ALTER TABLE fields ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
                        )
                self._db[region] = db
            last_run = max(
                (db.execute("SELECT MAX(run) FROM fields").fetchone()[0] or 0)
                for db in self._db.values()
            )
        except sqlite3.Error as exc:
            self.close()
            raise ConfigError(str(directory), f"cannot open region database: {exc}") from None
        self.run: int = last_run + 1
        """This server run's number: one more than any run with a row on disk."""

    def record(
        self, region: str, key: str, fields: Mapping[str, Any], at: float, version: int
    ) -> None:
        """Commit the fields of one acknowledged write at ``region``, acknowledged at wall
        time ``at`` with the store's ``version`` (one transaction)."""
        run = self.run
        rows = [
            (key, name, at, msgpack.packb(value), run, version) for name, value in fields.items()
        ]
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
        regions: by run, then version, then acknowledgement time (for rows written before
        versions were kept); ties go to the region listed first."""
        best: dict[str, dict[str, tuple[tuple[int, int, float, int], int, Any]]] = {}
        for index, region in enumerate(self.regions):
            for key, field, run, version, at, value in self._db[region].execute(
                "SELECT key, field, run, version, at, value FROM fields"
            ):
                order = (run, version, at, -index)
                slot = best.setdefault(key, {})
                seen = slot.get(field)
                if seen is None or order > seen[0]:
                    slot[field] = (order, index, msgpack.unpackb(value))
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for key, fields in best.items():
            last = max(fields.values(), key=lambda f: f[0])
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
        self.store.record(self.name, key, fields, time.time(), version)
        return version


async def restore(cluster: Any, store: DurableStore) -> list[str]:
    """Write every stored user back into ``cluster`` at the region that wrote it last, and
    record it there with its version of this run (so this run's later writes are ordered
    against it as the store orders them); returns the restored keys."""
    newest = store.newest()
    for key, (region, fields) in newest.items():
        await DurableRegion(cluster[region], region, store).patch(key, fields)
    return list(newest)
