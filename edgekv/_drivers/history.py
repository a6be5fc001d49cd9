"""What a test can assert on after the fact: every write (who wrote what, when) with the time
it became visible in each region, and the replication messages still in flight.

Recording hooks into :meth:`Mesh.on_write` and :meth:`Mesh.on_apply` (or the single-home
store's ``on_write``), so a cluster that does not record pays nothing; a recording one pays
O(pending writes of the key) per applied change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .._core.mesh import Mesh
from .._core.replication import OpsBatch
from .._core.singlehome import SingleHome

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
    """Every write committed since recording started, in commit order, with visibility.

    Fed by a store's hooks: :meth:`of_mesh` for a replicated store (visible where it has
    been applied), :meth:`of_single_home` for the single-home store (one copy, so a write is
    visible everywhere once its home committed it)."""

    def __init__(
        self,
        names: Sequence[str],
        now: Callable[[], float],
        peek: Callable[[int, str], Mapping[str, Any] | None],
    ) -> None:
        self._names = tuple(names)
        self._now = now
        self._peek = peek
        self.writes: list[VisibleWrite] = []
        """Writes in commit order."""
        self._pending: dict[str, list[VisibleWrite]] = {}

    @classmethod
    def of_mesh(cls, mesh: Mesh, names: Sequence[str]) -> WriteHistory:
        """The history of a replicated store's mesh, from its write and apply hooks."""
        history = cls(names, mesh.now, lambda region, key: mesh.nodes[region].peek(key))
        mesh.on_write(history._on_write)
        mesh.on_apply(history._on_apply)
        return history

    @classmethod
    def of_single_home(cls, store: SingleHome, names: Sequence[str]) -> WriteHistory:
        """The history of the single-home store: each write, visible in every region from
        its commit at home (every region reads that one copy)."""
        history = cls(names, store.now, lambda _region, key: store.peek(key))

        def written(region: int, key: str, version: int, at: float) -> None:
            history._on_write(region, key, version, at)
            for other in range(len(history._names)):
                history._on_apply(other, key, version, at)

        store.on_write(written)
        return history

    def _on_write(self, region: int, key: str, version: int, at: float | None = None) -> None:
        doc = self._peek(region, key)
        now = self._now() if at is None else at
        name = self._names[region]
        write = VisibleWrite(
            name, key, None if doc is None else dict(doc), version, now, {name: now}
        )
        self.writes.append(write)
        self._on_apply(region, key, version, now)  # this region now holds a newer version
        if len(self._names) > 1:
            self._pending.setdefault(key, []).append(write)

    def _on_apply(self, region: int, key: str, version: int, at: float | None = None) -> None:
        """Region ``region`` holds ``key`` at ``version``: every pending write of the key up
        to that version is visible there from now; writes visible everywhere are dropped."""
        pending = self._pending.get(key)
        if not pending:
            return
        name = self._names[region]
        now = self._now() if at is None else at
        everywhere = len(self._names)
        for write in pending:
            if write.version <= version and name not in write.visible:
                write.visible[name] = now
        left = [w for w in pending if len(w.visible) < everywhere]
        if left:
            self._pending[key] = left
        else:
            del self._pending[key]

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
