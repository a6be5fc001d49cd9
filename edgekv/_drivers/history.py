"""What a test can assert on after the fact: every write (who wrote what, when) with the time
it became visible in each region, and the replication messages still in flight.

Recording hooks into :meth:`Mesh.on_write` and :meth:`Mesh.on_apply`, so a cluster that does
not record pays nothing; a recording one pays O(pending writes of the key) per applied change.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .._core.mesh import Mesh
from .._core.replication import OpsBatch

__all__ = ["Message", "VisibleWrite", "WriteHistory", "messages_in_flight"]


@dataclass(slots=True)
class VisibleWrite:
    """One committed write: ``region`` wrote ``key`` at ``at`` (seconds since the cluster
    started), leaving ``doc`` there (None for a delete) with version ``version``.
    ``visible[name]`` is when region ``name`` first held this write or a newer one."""

    region: str
    key: str
    doc: dict[str, Any] | None
    version: int
    at: float
    visible: dict[str, float] = field(default_factory=dict)

    def lag(self, region: str) -> float | None:
        """Seconds from commit to visibility in ``region`` (None while not visible there)."""
        seen = self.visible.get(region)
        return None if seen is None else seen - self.at

    def describe(self) -> str:
        """One line: when, where, what, and where it became visible after how long."""
        what = "delete" if self.doc is None else repr(self.doc)
        seen = ", ".join(
            f"{name} +{t - self.at:.3f}s"
            for name, t in sorted(self.visible.items(), key=lambda item: item[1])
            if name != self.region
        )
        return (
            f"t={self.at:.3f}s {self.region}: {self.key} = {what} (v{self.version}); "
            f"visible: {seen or 'nowhere else yet'}"
        )


class WriteHistory:
    """Every write committed since recording started, in commit order, with visibility."""

    def __init__(self, mesh: Mesh, names: Sequence[str]) -> None:
        self._mesh = mesh
        self._names = tuple(names)
        self.writes: list[VisibleWrite] = []
        """Writes in commit order."""
        self._pending: dict[str, list[VisibleWrite]] = {}
        mesh.on_write(self._on_write)
        mesh.on_apply(self._on_apply)

    def _on_write(self, region: int, key: str, version: int) -> None:
        doc = self._mesh.nodes[region].peek(key)
        now = self._mesh.now()
        name = self._names[region]
        write = VisibleWrite(
            name, key, None if doc is None else dict(doc), version, now, {name: now}
        )
        self.writes.append(write)
        if len(self._names) > 1:
            self._pending.setdefault(key, []).append(write)

    def _on_apply(self, region: int, key: str, version: int) -> None:
        pending = self._pending.get(key)
        if not pending:
            return
        name = self._names[region]
        now = self._mesh.now()
        everywhere = len(self._names)
        for write in pending:
            if write.version <= version and name not in write.visible:
                write.visible[name] = now
        self._pending[key] = [w for w in pending if len(w.visible) < everywhere]

    def __iter__(self) -> Iterator[VisibleWrite]:
        return iter(self.writes)

    def __len__(self) -> int:
        return len(self.writes)

    def for_key(self, key: str) -> list[VisibleWrite]:
        """The writes of one key, in commit order."""
        return [w for w in self.writes if w.key == key]

    def last(self, key: str) -> VisibleWrite:
        """The most recently committed write of ``key``; ``KeyError`` if it was never written."""
        for write in reversed(self.writes):
            if write.key == key:
                return write
        raise KeyError(f"no recorded write of {key!r}")

    def describe(self) -> str:
        """The whole history, one write per line (what a failing test report shows)."""
        return "\n".join(w.describe() for w in self.writes) or "(no writes)"


class Message(NamedTuple):
    """A replication message on its way: from ``src`` to ``dst``, arriving at ``arrives``
    (cluster seconds; None while held on a paused link), carrying ``keys`` (empty for an
    anti-entropy digest)."""

    src: str
    dst: str
    arrives: float | None
    kind: str
    keys: tuple[str, ...]


def messages_in_flight(mesh: Mesh, names: Sequence[str]) -> list[Message]:
    """Scheduled deliveries, soonest first, then the held ones, from the mesh's own list
    (:meth:`Mesh.list_scheduled`, which the cluster turns on at start). O(in flight)."""
    if mesh.scheduled is None:
        raise TypeError("the mesh does not list its deliveries; call mesh.list_scheduled() first")
    found = sorted(mesh.scheduled.values(), key=lambda m: m[2])
    out = [_message(names, src, dst, when, msg) for src, dst, when, msg in found]
    out.extend(_message(names, args[2].sender, args[0], None, args[2]) for args in mesh.held)
    return out


def _message(names: Sequence[str], src: int, dst: int, when: float | None, msg: Any) -> Message:
    if isinstance(msg, OpsBatch):
        return Message(names[src], names[dst], when, "ops", tuple(op.key for op in msg.ops))
    return Message(names[src], names[dst], when, "digest", ())
