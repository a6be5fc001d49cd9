"""What a run would cost on each provider: a **model** pricing the operations a bench run
counted with each provider's public list prices (USD, read 2026-12-02), for comparison
beside latency and freshness, never a bill.

Sources (defaults of :class:`Prices`, overridable in the config's ``prices:`` section):

* Workers KV, https://developers.cloudflare.com/kv/platform/pricing/ (Workers Paid): reads
  $0.50 and writes $5.00 per million. KV has no partial update, so a PATCH is a read plus a
  write of the whole value.
* Durable Objects, https://developers.cloudflare.com/durable-objects/platform/pricing/:
  requests $0.15 per million; duration ($12.50 per million GB-s, billed while an object is
  active) and storage are **not modelled**: only requests are priced.
* D1, https://developers.cloudflare.com/d1/platform/pricing/: rows read $0.001 and rows
  written $1.00 per million. A read by primary key reads one row; a PATCH (an UPDATE by
  primary key) reads one row and writes one.
* DynamoDB on-demand, https://aws.amazon.com/dynamodb/pricing/on-demand/ (US East, after the
  November 2024 reductions): $0.125 per million read request units (one per 4 KB for a
  strongly consistent read, half for an eventually consistent one) and $0.625 per million
  write request units (one per KB). Global tables
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/global-tables-billing.html)
  bill each write one replicated write request unit per KB in every replica, priced as a
  write request unit, plus cross-Region data transfer. An MRSC witness holds no replica
  and is not priced.
* Inter-region transfer, https://aws.amazon.com/ec2/pricing/on-demand/ ("Data Transfer"):
  $0.02 per GB between AWS Regions in North America and Europe (some Regions charge more).
  It prices the ``replicated`` mesh's measured replication bytes (its compute and storage
  are not modelled) and DynamoDB's replication of each written item.

Free tiers and monthly minimums are left out: the figures are marginal prices per operation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .errors import ConfigError

__all__ = ["Prices", "Usage", "format_usd", "parse_prices", "price"]

_MAX_PRICE = 1e6


@dataclass(frozen=True, slots=True)
class Prices:
    """USD list prices; see the module docstring for each source."""

    workers_kv_read_per_million: float = 0.50
    workers_kv_write_per_million: float = 5.00
    durable_object_request_per_million: float = 0.15
    d1_row_read_per_million: float = 0.001
    d1_row_written_per_million: float = 1.00
    dynamodb_read_unit_per_million: float = 0.125
    dynamodb_write_unit_per_million: float = 0.625
    """Also the price of a replicated write request unit (global tables)."""
    transfer_per_gb: float = 0.02


@dataclass(frozen=True, slots=True)
class Usage:
    """What one system column did in a run: ``reads`` and ``writes`` (PATCHes) issued,
    replication ``bytes`` it measured, the stored item's size, the number of replicas
    holding each item and the run's user sessions and operations."""

    system: str
    level: str
    reads: int
    writes: int
    bytes_replicated: int
    item_bytes: int
    replicas: int
    sessions: int
    operations: int


def parse_prices(raw: Any, path: str = "prices") -> Prices:
    """The config's ``prices:`` mapping (None: every default) as :class:`Prices`;
    ``ConfigError`` naming ``prices.<name>`` for an unknown name or a bad price."""
    if raw is None:
        return Prices()
    if not isinstance(raw, Mapping):
        raise ConfigError(path, f"expected a mapping of price names to USD, got {raw!r}")
    names = [f.name for f in fields(Prices)]
    values: dict[str, float] = {}
    for name, value in raw.items():
        where = f"{path}.{name}"
        if name not in names:
            raise ConfigError(where, f"unknown price; allowed: {', '.join(names)}")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= _MAX_PRICE
        ):
            raise ConfigError(where, f"expected USD in 0..{_MAX_PRICE:g}, got {value!r}")
        values[name] = float(value)
    return Prices(**values)


def price(usage: Usage, prices: Prices) -> dict[str, Any]:
    """The modelled cost of ``usage``: billed units, USD in total, per million sessions and
    per million operations, and the model in one line. O(1)."""
    p, u = prices, usage
    million = 1e6
    billed: dict[str, float]
    if u.system == "workers-kv":
        billed = {"reads": u.reads + u.writes, "writes": u.writes}
        usd = (
            billed["reads"] * p.workers_kv_read_per_million
            + billed["writes"] * p.workers_kv_write_per_million
        ) / million
        model = "Workers KV reads and writes; a PATCH is a read and a write"
    elif u.system == "single-home":
        billed = {"requests": u.reads + u.writes}
        usd = billed["requests"] * p.durable_object_request_per_million / million
        model = "Durable Object requests only (duration and storage not modelled)"
    elif u.system == "d1-replicas":
        billed = {"rows_read": u.reads + u.writes, "rows_written": u.writes}
        usd = (
            billed["rows_read"] * p.d1_row_read_per_million
            + billed["rows_written"] * p.d1_row_written_per_million
        ) / million
        model = "D1 rows read and written; a PATCH reads and writes one row"
    elif u.system.startswith("dynamodb-"):
        per_read = (0.5 if u.level == "eventual" else 1.0) * math.ceil(u.item_bytes / 4096)
        per_write = math.ceil(u.item_bytes / 1024) * u.replicas
        shipped = u.writes * (u.replicas - 1) * u.item_bytes
        billed = {
            "read_units": u.reads * per_read,
            "replicated_write_units": u.writes * per_write,
            "transfer_bytes": shipped,
        }
        usd = (
            billed["read_units"] * p.dynamodb_read_unit_per_million
            + billed["replicated_write_units"] * p.dynamodb_write_unit_per_million
        ) / million + shipped / 1e9 * p.transfer_per_gb
        model = (
            f"DynamoDB on-demand request units, {u.replicas} replicas, and the transfer of"
            " each written item to the other replicas"
        )
    else:
        billed = {"transfer_bytes": u.bytes_replicated}
        usd = u.bytes_replicated / 1e9 * p.transfer_per_gb
        model = "inter-region transfer of the measured replication bytes only"
    return {
        "model": model,
        "billed": billed,
        "usd": usd,
        "usd_per_million_sessions": usd / u.sessions * million if u.sessions else None,
        "usd_per_million_operations": usd / u.operations * million if u.operations else None,
    }


def format_usd(value: float | None) -> str:
    """Dollars for a table: two decimals from $1, else three significant digits."""
    if value is None:
        return "-"
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.3g}"
