"""EdgeDB: flag evaluation against the user document stored in the local region.

DevCycle's EdgeDB keeps user data at the edge: a request with ``enableEdgeDB`` is evaluated
on the stored user overlaid by the request's user (:func:`edgekv.flags.merge_user`), and the
request's data is written back (PATCH) to the same region. Both the read and the write go to
the local region only, so under eventual consistency evaluation never waits on another region;
what it pays instead is staleness (a write made elsewhere is invisible until replicated).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import msgpack

from .flags import EvaluatedFeature, EvaluatedVariable, Evaluator, User, UserError, merge_user

__all__ = ["EdgeDB", "RegionStore"]


class RegionStore(Protocol):
    """What EdgeDB needs of a region: ``cluster[name]`` of a Cluster or SingleHomeCluster."""

    def get(self, key: str) -> Awaitable[dict[str, Any] | None]: ...

    def patch(self, key: str, fields: Mapping[str, Any]) -> Awaitable[int]: ...


class EdgeDB:
    """Evaluates one project's flag config for users whose data lives in one region.

    ``namespace`` prefixes every stored key (``f"{namespace}:{user_id}"``), so two projects
    sharing a cluster never see each other's users. ``clock`` returns epoch milliseconds for
    rollouts (wall time by default; pass a virtual clock for deterministic runs).
    """

    __slots__ = ("region", "evaluator", "namespace", "_prefix", "_clock")

    def __init__(
        self,
        region: RegionStore,
        evaluator: Evaluator,
        *,
        namespace: str = "",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.region = region
        self.evaluator = evaluator
        self.namespace = namespace
        self._prefix = f"{namespace}:" if namespace else ""
        self._clock = clock or _wall_ms

    def now_ms(self) -> float:
        """The evaluation clock, in epoch milliseconds."""
        return self._clock()

    def key(self, user_id: str) -> str:
        """The store key of a user of this project."""
        return self._prefix + user_id

    async def stored(self, user_id: str) -> dict[str, Any] | None:
        """The user's document as the local region holds it (None if unknown here)."""
        return await self.region.get(self.key(user_id))

    async def save(self, data: Mapping[str, Any]) -> int:
        """Validate a user object and PATCH it into the local region; returns the version
        (0 when the local replica already holds these values, so nothing is written).

        Top-level fields that are not null replace the stored ones; ``customData`` is merged
        key by key into the stored one (a read-modify-write of the local replica, so a
        concurrent write of another customData key in another region can be lost by LWW);
        ``privateCustomData`` is never persisted. Raises :class:`UserError` (nothing stored)
        for an invalid user or a value the store cannot encode.
        """
        User.from_dict(data)
        stored = await self.stored(data["user_id"])
        return await self._write_back(stored, data)

    async def user(self, request: Mapping[str, Any], *, enable_edgedb: bool = True) -> User:
        """The user to evaluate: the request's, or with EdgeDB the stored one merged with it
        (request fields win) after writing the request's data back to the local region."""
        user = User.from_dict(request)
        if not enable_edgedb:
            return user
        stored = await self.stored(user.user_id)
        merged = User.from_dict(merge_user(stored, request))
        await self._write_back(stored, request)
        return merged

    def peek_user(self, request: Mapping[str, Any], *, enable_edgedb: bool = True) -> User:
        """Synchronous :meth:`user` without the write-back, for regions offering ``peek``.

        Raises ``TypeError`` when the region only reads asynchronously (a single-home store
        must pay its round trip, which a synchronous call cannot wait for).
        """
        user = User.from_dict(request)
        if not enable_edgedb:
            return user
        peek = getattr(self.region, "peek", None)
        if peek is None:
            raise TypeError(f"{type(self.region).__name__} cannot be read synchronously")
        return User.from_dict(merge_user(peek(self.key(user.user_id)), request))

    async def variables(
        self, request: Mapping[str, Any], *, enable_edgedb: bool = True
    ) -> dict[str, EvaluatedVariable]:
        """Every variable the user gets (see :meth:`Evaluator.evaluate`)."""
        user = await self.user(request, enable_edgedb=enable_edgedb)
        return self.evaluator.evaluate(user, now_ms=self._clock())

    async def variable(
        self, request: Mapping[str, Any], key: str, *, enable_edgedb: bool = True
    ) -> EvaluatedVariable | None:
        """One variable (None when the config declares no such key; nothing is written)."""
        if key not in self.evaluator.config.variables_by_key:
            User.from_dict(request)
            return None
        user = await self.user(request, enable_edgedb=enable_edgedb)
        return self.evaluator.variable(user, key, now_ms=self._clock())

    async def features(
        self, request: Mapping[str, Any], *, enable_edgedb: bool = True
    ) -> dict[str, EvaluatedFeature]:
        """Every feature the user is bucketed into."""
        user = await self.user(request, enable_edgedb=enable_edgedb)
        return self.evaluator.features(user, now_ms=self._clock())

    async def _write_back(
        self, stored: Mapping[str, Any] | None, request: Mapping[str, Any]
    ) -> int:
        """PATCH the request's fields that differ from the stored ones (O(fields))."""
        fields = {
            k: v
            for k, v in request.items()
            if v is not None and k not in ("customData", "privateCustomData")
        }
        custom = request.get("customData")
        if custom:
            fields["customData"] = {**((stored or {}).get("customData") or {}), **custom}
        if stored is not None:
            fields = {k: v for k, v in fields.items() if stored.get(k, _MISSING) != v}
            if not fields:
                return 0
        try:
            msgpack.packb(fields)
        except (ValueError, TypeError, OverflowError) as exc:
            raise UserError("user", f"cannot be stored: {exc}") from None
        return await self.region.patch(self.key(request["user_id"]), fields)


_MISSING = object()


def _wall_ms() -> float:
    return time.time() * 1000.0
