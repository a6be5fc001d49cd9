"""Reference last-writer-wins semantics, written independently of edgekv's CRDTs."""

from __future__ import annotations

from typing import Any

Op = tuple[str, int, Any]


def field_winner(ops: list[Op]) -> dict[str, Any] | None:
    """Field granularity: the newest op decides existence; the newest put or delete is a
    floor below which fields vanish; each field takes its newest value at or above it."""
    latest = max(ops, key=lambda op: op[1])
    if latest[0] == "delete":
        return None
    floor = max((v for kind, v, _ in ops if kind in ("put", "delete")), default=0)
    best: dict[str, tuple[int, Any]] = {}
    for kind, version, payload in ops:
        if kind == "delete" or version < floor:
            continue
        for name, value in payload.items():
            if name not in best or version > best[name][0]:
                best[name] = (version, value)
    return {name: value for name, (_, value) in best.items()}


def item_winner(ops: list[Op]) -> dict[str, Any] | None:
    """Item granularity: the document written by the newest op (``payload`` is the whole
    document as committed, for a patch the read-modify-write result)."""
    kind, _, payload = max(ops, key=lambda op: op[1])
    return None if kind == "delete" else payload
