"""An OpenFeature provider that evaluates DevCycle flags against one edgekv region.

    from openfeature import api
    api.set_provider(EdgeKVProvider(EdgeDB(cluster["UK South"], Evaluator(config))))
    value = await api.get_client().get_boolean_value_async("platinum-status-feature", False, ctx)

The targeting key is the DevCycle ``user_id``; context attributes named like DevCycle user
fields (email, country, appVersion...) fill those fields, ``customData`` and
``privateCustomData`` mappings are merged in, and every other scalar attribute becomes a
``customData`` key. The ``*_async`` resolvers run the full EdgeDB path (local read, merge,
write-back); the synchronous ones read the local replica without writing back, and need a
region that can be read synchronously (a replicated ``Cluster`` region can).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from ._edge.edgedb import EdgeDB
from .flags import DEFAULT, DISABLED, SPLIT, USER_ATTRIBUTES, EvaluatedVariable, UserError

__all__ = ["EdgeKVProvider", "context_to_user"]

_REASONS = {SPLIT: Reason.SPLIT, DEFAULT: Reason.DEFAULT, DISABLED: Reason.DISABLED}
_KINDS = {"Boolean": "boolean", "String": "string", "Number": "number", "JSON": "object"}


class _ContextError(ValueError):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def context_to_user(context: EvaluationContext | None) -> dict[str, Any]:
    """A DevCycle user object from an evaluation context (see the module docstring).

    Raises ``ValueError`` subclasses: TARGETING_KEY_MISSING when there is no targeting key
    (nor a ``user_id`` attribute), INVALID_CONTEXT for a nested non-mapping attribute.
    """
    attributes: Mapping[str, Any] = context.attributes if context else {}
    user_id = (context.targeting_key if context else None) or attributes.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise _ContextError(ErrorCode.TARGETING_KEY_MISSING, "the targeting key is missing")
    user: dict[str, Any] = {"user_id": user_id}
    custom: dict[str, Any] = {}
    for key, value in attributes.items():
        if key == "user_id":
            continue
        if key in USER_ATTRIBUTES:
            user[key] = value
        elif key in ("customData", "privateCustomData"):
            if not isinstance(value, Mapping):
                raise _ContextError(ErrorCode.INVALID_CONTEXT, f"{key} must be a mapping")
            if key == "customData":
                custom.update(value)
            else:
                user[key] = dict(value)
        elif isinstance(value, datetime):
            custom[key] = value.isoformat()
        elif value is None or isinstance(value, str | int | float | bool):
            custom[key] = value
        else:
            raise _ContextError(
                ErrorCode.INVALID_CONTEXT,
                f"attribute {key!r}: customData values are strings, numbers, booleans or null",
            )
    if custom:
        user["customData"] = custom
    return user


class EdgeKVProvider(AbstractProvider):
    """Resolves boolean, string, integer, float and object flags (DevCycle variables).

    Errors are reported, never raised: FLAG_NOT_FOUND for an undeclared variable key,
    TYPE_MISMATCH when the variable's type is not the one asked for, TARGETING_KEY_MISSING
    and INVALID_CONTEXT for a bad context. Reasons: TARGETING_MATCH, SPLIT, DEFAULT (user
    not targeted), DISABLED (no feature sets the variable), ERROR.
    """

    def __init__(self, edgedb: EdgeDB, *, enable_edgedb: bool = True, name: str = "edgekv"):
        super().__init__()
        self.edgedb = edgedb
        self.enable_edgedb = enable_edgedb
        self._metadata = Metadata(name=name)
        config = edgedb.evaluator.config
        self._variations: dict[tuple[str | None, str | None], str] = {
            (f.id, v.id): v.key for f in config.features for v in f.variations
        }

    def get_metadata(self) -> Metadata:
        """The provider's name."""
        return self._metadata

    # -- resolution ----------------------------------------------------------------------

    def _type_problem(self, flag_key: str, kind: str) -> str | None:
        """Why a declared variable cannot be read as ``kind`` (None if it can, or if unknown)."""
        var = self.edgedb.evaluator.config.variables_by_key.get(flag_key)
        if var is None:
            return None
        declared = _KINDS[var.type]
        if declared == kind or (declared == "number" and kind in ("integer", "float")):
            return None
        return f"variable {flag_key!r} is {var.type}, not {kind}"

    def _details(
        self, flag_key: str, default: Any, kind: str, result: EvaluatedVariable | None
    ) -> FlagResolutionDetails[Any]:
        if result is None:
            return _failure(
                default, ErrorCode.FLAG_NOT_FOUND, f"no variable {flag_key!r} in the flag config"
            )
        if result.is_defaulted:
            return FlagResolutionDetails(
                value=default,
                reason=_REASONS[result.reason],
                flag_metadata={"details": result.details},
            )
        value = result.value
        if kind == "integer":
            if isinstance(value, float) and not value.is_integer():
                return _failure(default, ErrorCode.TYPE_MISMATCH, f"{value!r} is not an integer")
            value = int(value)
        elif kind == "float":
            value = float(value)
        elif kind == "object" and not isinstance(value, Mapping | list):
            return _failure(default, ErrorCode.TYPE_MISMATCH, f"{value!r} is not an object")
        metadata: dict[str, str] = {"details": result.details}
        for name, item in (
            ("feature", result.feature),
            ("variation", result.variation),
            ("target", result.target_id),
        ):
            if item is not None:
                metadata[name] = item
        return FlagResolutionDetails(
            value=value,
            reason=_REASONS.get(result.reason, Reason.TARGETING_MATCH),
            variant=self._variations.get((result.feature, result.variation)),
            flag_metadata=metadata,
        )

    def _request(
        self, flag_key: str, default: Any, kind: str, context: EvaluationContext | None
    ) -> dict[str, Any] | FlagResolutionDetails[Any]:
        """The DevCycle user request of ``context``, or the failure to report instead
        (TYPE_MISMATCH for the variable, or a bad context)."""
        problem = self._type_problem(flag_key, kind)
        if problem is not None:
            return _failure(default, ErrorCode.TYPE_MISMATCH, problem)
        try:
            return context_to_user(context)
        except _ContextError as exc:
            return _failure(default, exc.code, str(exc))

    def _resolve(
        self, flag_key: str, default: Any, kind: str, context: EvaluationContext | None
    ) -> FlagResolutionDetails[Any]:
        """Synchronous resolution: a local read without write-back (O(one feature))."""
        request = self._request(flag_key, default, kind, context)
        if isinstance(request, FlagResolutionDetails):
            return request
        try:
            user = self.edgedb.peek_user(request, enable_edgedb=self.enable_edgedb)
        except UserError as exc:
            return _failure(default, ErrorCode.INVALID_CONTEXT, str(exc))
        except TypeError as exc:
            return _failure(default, ErrorCode.GENERAL, f"{exc}; use the async API")
        result = self.edgedb.evaluator.variable(user, flag_key, now_ms=self.edgedb.now_ms())
        return self._details(flag_key, default, kind, result)

    async def _resolve_async(
        self, flag_key: str, default: Any, kind: str, context: EvaluationContext | None
    ) -> FlagResolutionDetails[Any]:
        """Full EdgeDB resolution: local read, merge, write-back, evaluation."""
        request = self._request(flag_key, default, kind, context)
        if isinstance(request, FlagResolutionDetails):
            return request
        try:
            result = await self.edgedb.variable(request, flag_key, enable_edgedb=self.enable_edgedb)
        except UserError as exc:
            return _failure(default, ErrorCode.INVALID_CONTEXT, str(exc))
        return self._details(flag_key, default, kind, result)

    # -- the OpenFeature interface -------------------------------------------------------

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        """A Boolean variable."""
        return self._resolve(flag_key, default_value, "boolean", evaluation_context)

    async def resolve_boolean_details_async(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        """A Boolean variable, through EdgeDB."""
        return await self._resolve_async(flag_key, default_value, "boolean", evaluation_context)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        """A String variable."""
        return self._resolve(flag_key, default_value, "string", evaluation_context)

    async def resolve_string_details_async(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        """A String variable, through EdgeDB."""
        return await self._resolve_async(flag_key, default_value, "string", evaluation_context)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        """A Number variable with an integral value."""
        return self._resolve(flag_key, default_value, "integer", evaluation_context)

    async def resolve_integer_details_async(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        """A Number variable with an integral value, through EdgeDB."""
        return await self._resolve_async(flag_key, default_value, "integer", evaluation_context)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        """A Number variable, as a float."""
        return self._resolve(flag_key, default_value, "float", evaluation_context)

    async def resolve_float_details_async(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        """A Number variable, as a float, through EdgeDB."""
        return await self._resolve_async(flag_key, default_value, "float", evaluation_context)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        """A JSON variable."""
        return self._resolve(flag_key, default_value, "object", evaluation_context)

    async def resolve_object_details_async(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        """A JSON variable, through EdgeDB."""
        return await self._resolve_async(flag_key, default_value, "object", evaluation_context)


def _failure(default: Any, code: ErrorCode, message: str) -> FlagResolutionDetails[Any]:
    return FlagResolutionDetails(
        value=default, reason=Reason.ERROR, error_code=code, error_message=message
    )
