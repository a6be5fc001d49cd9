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

from ..flags import EvaluatedFeature, EvaluatedVariable, Evaluator, User, UserError, merge_user

__all__ = ["EdgeDB", "RegionStore", "WriteGuard"]

WriteGuard = Callable[[str, "Mapping[str, Any] | None", "Mapping[str, Any]"], None]
"""Called as ``guard(user_id, stored, fields)`` before a write; raises to refuse it."""


class RegionStore(Protocol):
    """What EdgeDB needs of a region: ``cluster[name]`` of a Cluster or SingleHomeCluster."""

    def get(self, key: str) -> Awaitable[dict[str, Any] | None]: ...

    def patch(self, key: str, fields: Mapping[str, Any]) -> Awaitable[int]: ...


class EdgeDB:
    """Evaluates one project's flag config for users whose data lives in one region.

    ``namespace`` prefixes every stored key (``f"{namespace}:{user_id}"``), so two projects
    sharing a cluster never see each other's users. ``clock`` returns epoch milliseconds for
    rollouts (wall time by default; pass a virtual clock for deterministic runs). ``guard``
    sees every write before it is made and may refuse it by raising (size or user quotas).
    Every write comes after everything that can fail, so a refused request stores nothing.
    """

    __slots__ = ("region", "evaluator", "namespace", "_prefix", "_clock", "_guard")

    def __init__(
        self,
        region: RegionStore,
        evaluator: Evaluator,
        *,
        namespace: str = "",
        clock: Callable[[], float] | None = None,
        guard: WriteGuard | None = None,
    ) -> None:
        self.region = region
        self.evaluator = evaluator
        self.namespace = namespace
        self._prefix = f"{namespace}:" if namespace else ""
        self._clock = clock or _wall_ms
        self._guard = guard

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
        user, stored = await self._merged(request, enable_edgedb)
        if enable_edgedb:
            await self._write_back(stored, request)
        return user

    async def _merged(
        self, request: Mapping[str, Any], enable_edgedb: bool
    ) -> tuple[User, dict[str, Any] | None]:
        """The user to evaluate and the stored document it was merged with (no write)."""
        user = User.from_dict(request)
        if not enable_edgedb:
            return user, None
        stored = await self.stored(user.user_id)
        try:
            merged = User.from_dict(merge_user(stored, request))
        except UserError:
            # a stored field this version rejects (written by other code): evaluate without it
            merged = User.from_dict(merge_user(_valid_fields(stored), request))
        return merged, stored

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
        user, stored = await self._merged(request, enable_edgedb)
        result = self.evaluator.evaluate(user, now_ms=self._clock())
        if enable_edgedb:
            await self._write_back(stored, request)
        return result

    async def variable(
        self, request: Mapping[str, Any], key: str, *, enable_edgedb: bool = True
    ) -> EvaluatedVariable | None:
        """One variable (None when the config declares no such key; nothing is written)."""
        if key not in self.evaluator.config.variables_by_key:
            User.from_dict(request)
            return None
        user, stored = await self._merged(request, enable_edgedb)
        result = self.evaluator.variable(user, key, now_ms=self._clock())
        if enable_edgedb:
            await self._write_back(stored, request)
        return result

    async def features(
        self, request: Mapping[str, Any], *, enable_edgedb: bool = True
    ) -> dict[str, EvaluatedFeature]:
        """Every feature the user is bucketed into."""
        user, stored = await self._merged(request, enable_edgedb)
        result = self.evaluator.features(user, now_ms=self._clock())
        if enable_edgedb:
            await self._write_back(stored, request)
        return result

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
        if self._guard is not None:
            self._guard(self.key(request["user_id"]), stored, fields)
        return await self.region.patch(self.key(request["user_id"]), fields)


_MISSING = object()


def _valid_fields(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields (and customData entries) of a stored document that pass validation."""
    out: dict[str, Any] = {}
    for key, value in (stored or {}).items():
        if key == "customData" and isinstance(value, Mapping):
            custom = {}
            for name, item in value.items():
                try:
                    User.from_dict({"user_id": "u", "customData": {name: item}})
                except UserError:
                    continue
                custom[name] = item
            out[key] = custom
            continue
        try:
            User.from_dict({"user_id": "u", key: value})
        except UserError:
            continue
        out[key] = value
    return out


def _wall_ms() -> float:
    return time.time() * 1000.0
