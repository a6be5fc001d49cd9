"""Recording a cluster's operations as a checkable history: every completed operation (ok,
unavailable or error) becomes an :class:`edgekv.check.Operation`, kept in a bounded ring and
optionally appended to a JSON-lines file.

Fed by :meth:`edgekv.Cluster.submit` with each :class:`Op` and its :class:`OpResult`; when no
recorder is attached the cluster pays one attribute test per operation. Values: a put records
the document written, a delete ``None`` (absent), a patch its fields (so linearizability, which
compares whole documents, cannot judge histories with patches: the version-based models,
session and staleness, can); a read records the document it returned.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterator, Sequence
from typing import IO, Any

from .._core.errors import ConfigError
from .._core.mesh import Mesh
from .._core.store import Op, OpKind, OpResult, Session
from ..check import CheckResult, History, Operation, check

__all__ = ["DEFAULT_LIMIT", "Recorder", "check_recorded"]

DEFAULT_LIMIT = 100_000
"""Operations a recorder's ring keeps (the newest)."""

_Row = tuple[str, int, str, str, Any, int, float, float, str]
"""What the ring holds per operation, converted to an Operation only when asked (cheaper):
process, region index, key, kind, value, version, invoke, complete, outcome."""


class Recorder:
    """The newest ``limit`` operations of one cluster, plus every one of them in ``path``
    (JSON lines, one Operation's fields per line, read back by ``load_history``) when given.

    Processes: an operation made with a :class:`Session` belongs to that session, named
    ``session-1``, ``session-2``, ... in the order the sessions were first seen (so the same
    seed gives the same names) unless :meth:`name` named it; any other operation to the
    client's region."""

    def __init__(
        self,
        regions: Sequence[str],
        *,
        limit: int = DEFAULT_LIMIT,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError("limit", f"expected an integer >= 1, got {limit!r}")
        self.regions = tuple(regions)
        self.limit = limit
        self._ring: deque[_Row] = deque(maxlen=limit)
        self._sessions: dict[int, tuple[Session, str]] = {}
        """id -> (the session, kept alive so its id is never reused; its process name)."""
        self._unnamed = 0
        self.recorded = 0
        """Operations recorded since the start (the ring keeps the newest ``limit``)."""
        self.path = None if path is None else os.fspath(path)
        self._file: IO[str] | None = None
        if self.path is not None:
            try:
                self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 -- closed by close()
            except OSError as exc:
                raise ConfigError("path", f"cannot write {self.path}: {exc.strerror}") from None

    def __repr__(self) -> str:
        return f"<Recorder {len(self._ring)}/{self.limit} operations, {self.recorded} recorded>"

    @property
    def dropped(self) -> int:
        """Operations that fell out of the ring (still in the file, if any)."""
        return self.recorded - len(self._ring)

    def process(self, session: Session) -> str:
        """The process name of ``session`` (named on first sight)."""
        known = self._sessions.get(id(session))
        if known is None:
            self._unnamed += 1
            known = (session, f"session-{self._unnamed}")
            self._sessions[id(session)] = known
        return known[1]

    def name(self, session: Session, process: str) -> None:
        """Call ``session`` ``process`` in the history (instead of ``session-N``); before
        its first operation, else ValueError (its operations would carry two names)."""
        if not isinstance(process, str) or not process:
            raise ConfigError("process", f"expected a non-empty string, got {process!r}")
        known = self._sessions.get(id(session))
        if known is not None:
            raise ValueError(f"this session is already recorded as {known[1]!r}")
        self._sessions[id(session)] = (session, process)

    def record(self, op: Op, result: OpResult) -> None:
        """Keep one completed operation. O(1), plus one JSON line with a file sink."""
        rec = result.record
        process = self.regions[op.region] if op.session is None else self.process(op.session)
        if op.kind is OpKind.GET:
            kind, value = "read", result.doc
        else:
            kind = "write"
            value = None if op.value is None else dict(op.value)
        row = (
            process,
            op.region,
            op.key,
            kind,
            value,
            rec.version,
            rec.start,
            rec.start + rec.latency,
            rec.outcome.value,
        )
        self._ring.append(row)
        self.recorded += 1
        if self._file is not None:
            self._file.write(json.dumps(self._fields(row), default=repr) + "\n")

    def _fields(self, row: _Row) -> dict[str, Any]:
        process, region, key, kind, value, version, invoke, complete, outcome = row
        return {
            "process": process,
            "region": self.regions[region],
            "key": key,
            "kind": kind,
            "value": value,
            "version": version,
            "invoke": invoke,
            "complete": complete,
            "outcome": outcome,
        }

    def __len__(self) -> int:
        return len(self._ring)

    def __iter__(self) -> Iterator[Operation]:
        return (Operation(**self._fields(row)) for row in self._ring)

    def history(self) -> History:
        """The operations in the ring, in completion order."""
        return History(self)

    def close(self) -> None:
        """Flush and close the file sink (the ring stays readable)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def check_recorded(
    recorder: Recorder,
    model: str,
    mesh: Mesh | None,
    *,
    max_versions: int | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """Check the recorded history against ``model`` (see :func:`edgekv.check.check`); for
    ``convergence`` the final states come from ``mesh``'s replicas. ConfigError when the ring
    dropped operations and the model could then blame a read on a write it no longer holds
    (linearizable, convergence); session and staleness only lose constraints."""
    if recorder.dropped and model in ("linearizable", "convergence"):
        raise ConfigError(
            "limit",
            f"the recorder dropped its {recorder.dropped} oldest operations, so {model} "
            f"cannot judge what is left; record with a larger limit than {recorder.limit}",
        )
    history = recorder.history()
    held: dict[str, dict[str, tuple[Any, int]]] | None = None
    if model == "convergence":
        if mesh is None:
            raise TypeError("the convergence model needs a replicated cluster (per-region state)")
        keys = set(history.keys())
        for node in mesh.nodes:
            keys.update(node.documents())
        held = {
            name: {key: (node.peek(key), node.version_of(key)) for key in sorted(keys)}
            for name, node in zip(recorder.regions, mesh.nodes, strict=True)
        }
    return check(history, model, max_versions=max_versions, max_seconds=max_seconds, states=held)
