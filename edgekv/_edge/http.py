"""DevCycle-compatible HTTP API, one aiohttp application per region of a running cluster.

Each region serves DevCycle's bucketing API (``/v1/variables``, ``/v1/features``,
``/v1/track``, ``PATCH /v1/edgedb/{user_id}``) from its own replica, and the config CDN path
its local-bucketing SDKs poll (``/config/v2/server/{sdk_key}.json``), so an official SDK works
when pointed at a region's base URL. Bad input gets a 4xx ``{"statusCode", "message"}`` and
stores nothing (every check runs before the first write); any unexpected exception becomes
a logged 500 of the same shape. Resources are bounded by :class:`edgekv.lowlevel.Limits`:
body and document bytes, fields, nesting, users per project, connections per region, idle and
body-read timeouts.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import zlib
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import msgpack
from aiohttp import HttpVersion11, hdrs, http_exceptions, web

from .._core.mesh import Mesh
from .._core.singlehome import SingleHome
from .._core.store import Outcome
from .._drivers.cluster import Cluster, Unavailable
from ..flags import User, UserError
from .durable import DurableRegion, DurableStore, restore
from .edgedb import EdgeDB, RegionStore
from .inputs import InputError, Limits, check_json, check_user
from .keys import SERVER, Keys, ProjectKeys
from .live import LiveView

__all__ = ["MAX_BODY", "EdgeServer", "RegionMetrics", "UserQuota", "make_app", "openapi_document"]

MAX_BODY = Limits().max_body
"""Largest accepted request body in bytes (larger ones get 413)."""

_BAD_KEY = "Invalid SDK key, or not allowed to do this"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_JSON_HEADERS = {"Content-Type": "application/json"}
_UNMATCHED = "unmatched"
"""The route (its name, and its label in /metrics) of requests no endpoint takes."""
_METHODS = frozenset(hdrs.METH_ALL)
"""Methods counted under their own name in /metrics; any other is counted as ``other`` (the
pure-Python HTTP parser takes any token as a method, so names would add series without bound)."""

log = logging.getLogger("edgekv.http")


class ApiError(Exception):
    """A client mistake answered with ``{"statusCode": status, "message": message}``."""

    def __init__(self, status: int, message: str, data: Any = None, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data = data
        self.close = close  # close the connection after answering: the body was left unread


class Histogram:
    """A Prometheus histogram with fixed bounds; ``observe`` is O(log buckets)."""

    __slots__ = ("bounds", "counts", "total", "count")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Count one observation (seconds)."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def render(self, name: str, labels: str) -> Iterable[str]:
        """Exposition lines: cumulative buckets, ``+Inf``, sum and count."""
        cumulative = 0
        for bound, n in zip(self.bounds, self.counts, strict=False):
            cumulative += n
            yield f'{name}_bucket{{{labels},le="{bound:g}"}} {cumulative}'
        yield f'{name}_bucket{{{labels},le="+Inf"}} {self.count}'
        yield f"{name}_sum{{{labels}}} {self.total:.6f}"
        yield f"{name}_count{{{labels}}} {self.count}"


class RegionMetrics:
    """Counters of one region's API: requests by route and status, latency per route,
    replication lag of writes applied here, tracked events."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, Histogram] = {}
        self.lag = Histogram(_LAG_BUCKETS)
        self.events = 0

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request (a method outside :data:`_METHODS` as ``other``).
        O(1) amortised."""
        key = (route, method if method in _METHODS else "other", status)
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get(route)
        if hist is None:
            hist = self.latency[route] = Histogram(_LATENCY_BUCKETS)
        hist.observe(seconds)

    def render(self, node_counters: Mapping[str, Any]) -> str:
        """The Prometheus text exposition (format 0.0.4)."""
        region = f'region="{_escape(self.region)}"'
        lines = [
            "# HELP edgekv_http_requests_total HTTP requests answered, by route and status.",
            "# TYPE edgekv_http_requests_total counter",
        ]
        for (route, method, status), n in sorted(self.requests.items()):
            lines.append(
                f'edgekv_http_requests_total{{{region},route="{_escape(route)}",'
                f'method="{method}",status="{status}"}} {n}'
            )
        lines += [
            "# HELP edgekv_http_request_duration_seconds Time to answer a request.",
            "# TYPE edgekv_http_request_duration_seconds histogram",
        ]
        for route, hist in sorted(self.latency.items()):
            labels = f'{region},route="{_escape(route)}"'
            lines.extend(hist.render("edgekv_http_request_duration_seconds", labels))
        lines += [
            "# HELP edgekv_replication_lag_seconds Commit to apply here, for replicated writes"
            " that became a key's newest version here.",
            "# TYPE edgekv_replication_lag_seconds histogram",
            *self.lag.render("edgekv_replication_lag_seconds", region),
            "# HELP edgekv_track_events_total Events accepted by /v1/track.",
            "# TYPE edgekv_track_events_total counter",
            f"edgekv_track_events_total{{{region}}} {self.events}",
        ]
        for name, value in sorted(node_counters.items()):
            if isinstance(value, int):
                metric = f"edgekv_node_{name}_total"
                lines += [f"# TYPE {metric} counter", f"{metric}{{{region}}} {value}"]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _error(status: int, message: str, data: Any = None) -> web.Response:
    body: dict[str, Any] = {"statusCode": status, "message": message}
    if data is not None:
        body["data"] = data
    return web.Response(status=status, text=json.dumps(body), headers=_JSON_HEADERS)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class UserQuota:
    """How many users each project stores, over all regions, against ``limit`` per project.

    Counts user keys (``"{project}:{user_id}"``) written through the API; a write creating a
    user beyond the limit is refused with 429 before anything is stored.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._users: dict[str, set[str]] = {}

    def counts(self) -> dict[str, int]:
        """Users counted per project."""
        return {project: len(users) for project, users in self._users.items()}

    def admit(self, key: str, stored: Mapping[str, Any] | None) -> None:
        """Count a write to ``key``; raise ApiError(429) when it would add a user too many."""
        project = key.partition(":")[0]
        users = self._users.setdefault(project, set())
        if key in users:
            return
        if stored is None and len(users) >= self.limit:
            raise ApiError(429, f"project {project!r} already stores {self.limit} users, the limit")
        users.add(key)


class _RegionApi:
    """The handlers of one region: each project's :class:`EdgeDB` bound to this region."""

    def __init__(
        self,
        name: str,
        store: RegionStore,
        keys: Keys,
        metrics: RegionMetrics,
        node_counters: Callable[[], Mapping[str, Any]],
        limits: Limits,
        users: UserQuota,
        live: LiveView | None = None,
    ) -> None:
        self.name = name
        self.live = live
        self.keys = keys
        self.metrics = metrics
        self.node_counters = node_counters
        self.limits = limits
        self.users = users
        self.edgedb = {
            p.name: EdgeDB(store, p.evaluator, namespace=p.name, guard=self._guard)
            for p in keys.projects
        }

    def _guard(self, key: str, stored: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> None:
        """Refuse a write whose merged document would break the size limits or the quota."""
        doc = {**(stored or {}), **fields}
        custom = doc.get("customData")
        if isinstance(custom, Mapping) and len(custom) > self.limits.max_custom_fields:
            raise ApiError(
                413, f"customData: more than {self.limits.max_custom_fields} fields once merged"
            )
        size = len(msgpack.packb(doc))
        if size > self.limits.max_document:
            raise ApiError(
                413,
                f"user document of {size} bytes once merged exceeds {self.limits.max_document}",
            )
        self.users.admit(key, stored)

    # -- plumbing ------------------------------------------------------------------------

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Turn every error into JSON and record each request's route, status and latency."""
        start = time.perf_counter()
        aborted = False
        try:
            expect = request.headers.get(hdrs.EXPECT)
            if expect is not None and expect.lower() != "100-continue":
                raise ApiError(417, f"Expect {expect!r} cannot be met: only 100-continue can")
            response = await handler(request)
        except ApiError as exc:
            response = _error(exc.status, exc.message, exc.data)
            if exc.close:
                response.force_close()
        except InputError as exc:
            response = _error(exc.status, str(exc))
        except web.HTTPException as exc:
            text = exc.text or ""
            generic = not text or text.startswith(f"{exc.status}:")
            response = _error(exc.status, exc.reason if generic else text)
        except Unavailable as exc:
            # the system under test refused or could not reach where the data lives
            failed = exc.record.outcome == Outcome.UNAVAILABLE
            response = _error(503 if failed else 429, str(exc))
        except ConnectionError as exc:
            # the client went away mid-request: nothing to answer, one line to log
            log.info(
                "aborted %s %s from %s: %s",
                request.method,
                request.raw_path,
                request.remote,
                _one_line(str(exc)),
            )
            aborted = True
            response = _error(400, "connection aborted by the client")
        except Exception:
            log.exception("unexpected error answering %s %s", request.method, request.path)
            response = _error(500, "Internal server error")
        if response.status >= 400 and not aborted:
            log.info(
                "rejected %s %s from %s: %d %s",
                request.method,
                request.raw_path,
                request.remote,
                response.status,
                _one_line(_message(response)),
            )
        resource = request.match_info.route.resource
        known = resource is not None and resource.name != _UNMATCHED
        route = resource.canonical if known and resource is not None else _UNMATCHED
        self.metrics.record(route, request.method, response.status, time.perf_counter() - start)
        return response

    def _project(self, request: web.Request, *, write: bool = False) -> ProjectKeys:
        """The key's project; 401 alike for an unknown key and for a known key that may not
        do this (a client key writing without ``client_writes``), so no key's existence leaks."""
        key = request.headers.get("Authorization") or request.query.get("sdkKey")
        if not key:
            raise ApiError(401, "Missing SDK key: set the Authorization header or sdkKey query")
        if key.startswith("Bearer "):
            key = key[7:]
        project = self.keys.writer(key) if write else self._reader(key)
        if project is None:
            raise ApiError(401, _BAD_KEY)
        return project

    def _reader(self, key: str) -> ProjectKeys | None:
        hit = self.keys.lookup(key)
        return None if hit is None else hit[0]

    def _edgedb_flag(self, request: web.Request) -> bool:
        raw = request.query.get("enableEdgeDB", "false").lower()
        if raw not in ("true", "false"):
            raise ApiError(400, f"enableEdgeDB must be true or false, got {raw!r}")
        return raw == "true"

    def _evaluating(self, request: web.Request) -> tuple[ProjectKeys, bool]:
        """The project and enableEdgeDB of an evaluation (which writes back with EdgeDB)."""
        enable = self._edgedb_flag(request)
        project = self._project(request, write=enable)
        if enable and not project.edgedb_enabled:
            raise ApiError(403, f"EdgeDB is not enabled for project {project.name!r}")
        return project, enable

    async def _body(self, request: web.Request) -> dict[str, Any]:
        """The JSON object of the body, checked by :func:`check_json` (400/408/413)."""
        limit = self.limits.max_body
        length = request.content_length
        if length is not None and length > limit:
            raise ApiError(413, f"request body of {length} bytes exceeds {limit} bytes", close=True)
        expect = request.headers.get(hdrs.EXPECT, "").lower() == "100-continue"
        if expect and request.version >= HttpVersion11:
            # invited only now, past the key and size checks (see _expect_in_handler)
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # the interim answer is not the response's
        try:
            async with asyncio.timeout(self.limits.body_timeout):
                raw = await request.read()
        except TimeoutError:
            raise ApiError(
                408, f"body not received within {self.limits.body_timeout:g} s", close=True
            ) from None
        except (web.RequestPayloadError, http_exceptions.HttpProcessingError) as exc:
            problem = " ".join(str(exc).split())
            raise ApiError(400, f"unreadable body: {problem}", close=True) from None
        raw = _decoded(raw, request.headers.get("Content-Encoding", ""), limit)
        try:
            body = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, f"malformed JSON body: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, f"the body must be a JSON object, got {type(body).__name__}")
        check_json(body, self.limits)
        return body

    async def _user_body(self, request: web.Request) -> dict[str, Any]:
        """A body that is a user object (:func:`check_user`)."""
        body = await self._body(request)
        check_user(body, self.limits)
        return body

    # -- bucketing API -------------------------------------------------------------------

    async def variables(self, request: web.Request) -> web.Response:
        """``POST /v1/variables``: every variable the user gets, by key."""
        project, enable = self._evaluating(request)
        body = await self._user_body(request)
        try:
            result = await self.edgedb[project.name].variables(body, enable_edgedb=enable)
        except UserError as exc:
            raise ApiError(400, str(exc)) from None
        return web.json_response({k: v.to_dict() for k, v in result.items()})

    async def variable(self, request: web.Request) -> web.Response:
        """``POST /v1/variables/{key}``: one variable; 404 when unknown or not served."""
        project, enable = self._evaluating(request)
        body = await self._user_body(request)
        key = request.match_info["key"]
        try:
            result = await self.edgedb[project.name].variable(body, key, enable_edgedb=enable)
        except UserError as exc:
            raise ApiError(400, str(exc)) from None
        if result is None:
            raise ApiError(404, f"Variable not found for key: {key}")
        if result.is_defaulted:
            raise ApiError(404, f"Variable not served to this user: {key}", result.to_dict())
        return web.json_response(result.to_dict())

    async def features(self, request: web.Request) -> web.Response:
        """``POST /v1/features``: every feature the user is bucketed into, by key."""
        project, enable = self._evaluating(request)
        body = await self._user_body(request)
        try:
            result = await self.edgedb[project.name].features(body, enable_edgedb=enable)
        except UserError as exc:
            raise ApiError(400, str(exc)) from None
        return web.json_response({k: v.to_dict() for k, v in result.items()})

    async def track(self, request: web.Request) -> web.Response:
        """``POST /v1/track``: validate ``{"user", "events"}`` and count the events."""
        self._project(request)
        body = await self._body(request)
        check_user(body.get("user"), self.limits, "user")
        try:
            User.from_dict(body.get("user"))
        except UserError as exc:
            raise ApiError(400, str(exc)) from None
        events = body.get("events")
        if not isinstance(events, list) or not events:
            raise ApiError(400, "events: expected a non-empty list of events")
        for i, event in enumerate(events):
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                raise ApiError(400, f"events[{i}]: expected an object with a string 'type'")
        self.metrics.events += len(events)
        return web.json_response(
            {"message": f"Successfully received {len(events)} events."}, status=201
        )

    async def edgedb_patch(self, request: web.Request) -> web.Response:
        """``PATCH /v1/edgedb/{user_id}``: merge the body into the user stored here."""
        project = self._project(request, write=True)
        if not project.edgedb_enabled:
            raise ApiError(403, f"EdgeDB is not enabled for project {project.name!r}")
        body = await self._user_body(request)
        user_id = request.match_info["user_id"]
        if "user_id" in body and body["user_id"] != user_id:
            raise ApiError(
                400, f"user_id {body['user_id']!r} in the body differs from {user_id!r} in the path"
            )
        await self.save(project.name, body)
        return web.json_response({"message": "Successfully updated user data"})

    # -- config CDN and operations -------------------------------------------------------

    async def config(self, request: web.Request) -> web.Response:
        """``GET /config/v2/server/{sdk_key}.json`` with ETag / If-None-Match (304)."""
        hit = self.keys.lookup(request.match_info["sdk_key"])
        if hit is None or hit[1] != SERVER:  # a client key answers as an unknown one
            raise ApiError(401, _BAD_KEY)
        project = hit[0]
        headers = {"ETag": project.etag, "Last-Modified": project.last_modified}
        match = request.headers.get("If-None-Match")
        if match and (match.strip() == "*" or project.etag in _etags(match)):
            return web.Response(status=304, headers=headers)
        return web.Response(
            body=project.config_body, headers={**headers, "Content-Type": "application/json"}
        )

    async def live_page(self, request: web.Request) -> web.Response:
        """``GET /``: the live page (no key needed; it asks for one)."""
        assert self.live is not None
        return web.Response(body=self.live.page, content_type="text/html", charset="utf-8")

    async def live_state(self, request: web.Request) -> web.Response:
        """``GET /live/state?user=ID``: every region's copy of a user (a server key: the
        page shows user data from every region)."""
        assert self.live is not None
        project = self._project(request, write=True)
        user = request.query.get("user", "")
        if not user:
            raise ApiError(400, "user: expected a non-empty user_id")
        check_json({"user_id": user}, self.limits)
        return web.json_response(self.live.state(project.name, user))

    async def live_write(self, request: web.Request) -> web.Response:
        """``POST /live/write?region=NAME``: the body written as a PATCH at that region."""
        assert self.live is not None
        project = self._project(request, write=True)
        if not project.edgedb_enabled:
            raise ApiError(403, f"EdgeDB is not enabled for project {project.name!r}")
        region = request.query.get("region", "")
        writer = self.live.writers.get(region)
        if writer is None:
            known = ", ".join(self.live.writers)
            raise ApiError(400, f"region: unknown region {_one_line(region)!r}; known: {known}")
        await writer(project.name, await self._user_body(request))
        return web.json_response({"message": f"Successfully updated user data in {region}"})

    async def save(self, project: str, body: Mapping[str, Any]) -> None:
        """Store a user body here with the checks of ``PATCH /v1/edgedb``."""
        try:
            await self.edgedb[project].save(body)
        except UserError as exc:
            raise ApiError(400, str(exc)) from None

    async def unmatched(self, request: web.Request) -> web.Response:
        """Any request no other route takes: 405 where another route has its path, else 404,
        as aiohttp answers, but after this application's handling of ``Expect``."""
        allowed: set[str] = set()
        for resource in request.app.router.resources():
            if resource.name != _UNMATCHED:
                allowed |= (await resource.resolve(request))[1]
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, allowed)
        raise web.HTTPNotFound()

    async def openapi(self, request: web.Request) -> web.Response:
        """``GET /openapi.json``: the OpenAPI 3.1 description of this API."""
        return web.Response(body=openapi_document(), content_type="application/json")

    async def healthz(self, request: web.Request) -> web.Response:
        """``GET /healthz``: liveness, naming the region."""
        return web.json_response({"status": "ok", "region": self.name})

    async def metrics_text(self, request: web.Request) -> web.Response:
        """``GET /metrics``: Prometheus text."""
        return web.Response(
            text=self.metrics.render(self.node_counters()),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )


@cache
def openapi_document() -> bytes:
    """The OpenAPI 3.1 document shipped in the package (``edgekv/data/openapi.json``)."""
    return (resources.files("edgekv") / "data" / "openapi.json").read_bytes()


def _decoded(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body under its Content-Encoding (identity, gzip or deflate), at most ``limit``
    bytes once decoded (413 beyond: no decompression bomb); 400 when it does not decode,
    415 for another encoding."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise ApiError(
            415, f"unsupported Content-Encoding {encoding!r}; use gzip, deflate or identity"
        )
    # gzip and zlib streams are told apart by their headers; "deflate" may also come raw
    attempts = (
        (zlib.MAX_WBITS | 32,) if encoding != "deflate" else (zlib.MAX_WBITS, -zlib.MAX_WBITS)
    )
    for wbits in attempts:
        decoder = zlib.decompressobj(wbits)
        try:
            out = decoder.decompress(raw, limit + 1)
        except zlib.error:
            continue
        if len(out) > limit or decoder.unconsumed_tail:
            raise ApiError(413, f"request body exceeds {limit} bytes once decoded")
        if decoder.eof:
            return out
    raise ApiError(400, f"the body is not valid {encoding} data (Content-Encoding: {encoding})")


def _one_line(text: str, limit: int = 300) -> str:
    """``text`` for a log line: control characters escaped (no forged lines), shortened."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


def _message(response: web.StreamResponse) -> str:
    """The ``message`` of an error response, for the one-line log."""
    text = response.text if isinstance(response, web.Response) else None
    try:
        return str(json.loads(text or "{}").get("message", ""))
    except (ValueError, AttributeError):
        return ""


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


def make_app(
    name: str,
    store: RegionStore,
    keys: Keys,
    *,
    metrics: RegionMetrics | None = None,
    node_counters: Callable[[], Mapping[str, Any]] = dict,
    limits: Limits | None = None,
    users: UserQuota | None = None,
    live: LiveView | None = None,
) -> web.Application:
    """The aiohttp application of one region serving every project of ``keys``; ``users``
    is shared by the regions of one cluster (the user quota counts over all of them)."""
    limits = limits or Limits()
    api = _RegionApi(
        name,
        store,
        keys,
        metrics or RegionMetrics(name),
        node_counters,
        limits,
        users or UserQuota(limits.max_users),
        live,
    )
    app = web.Application(middlewares=[api.middleware], client_max_size=limits.max_body)
    routes = [
        web.patch("/v1/edgedb/{user_id}", api.edgedb_patch),
        web.post("/v1/variables", api.variables),
        web.post("/v1/variables/{key}", api.variable),
        web.post("/v1/features", api.features),
        web.post("/v1/track", api.track),
        web.get("/config/v2/server/{sdk_key}.json", api.config),
        web.get("/healthz", api.healthz),
        web.get("/metrics", api.metrics_text),
        web.get("/openapi.json", api.openapi),
    ]
    if live is not None:
        live.writers[name] = api.save
        routes += [
            web.get("/", api.live_page),
            web.get("/live/state", api.live_state),
            web.post("/live/write", api.live_write),
        ]
    # last, so that every request reaches a route of this app (and its Expect handling)
    routes.append(web.route("*", "/{path:.*}", api.unmatched, name=_UNMATCHED))
    expect = {"expect_handler": _expect_in_handler}
    app.add_routes(web.RouteDef(r.method, r.path, r.handler, r.kwargs | expect) for r in routes)
    return app


async def _expect_in_handler(request: web.Request) -> None:
    """``Expect`` is left to the handlers (aiohttp would answer an unknown expectation with
    plain text before any middleware, and invite every body with ``100 Continue``): the
    middleware refuses an unknown one as JSON (417), and a body is invited once the request's
    key and size are accepted, just before it is read."""


_BUSY = json.dumps({"statusCode": 503, "message": "too many connections, retry later"}).encode()
_BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nRetry-After: 1\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY), _BUSY)
)


ACCEPT_BATCH = 16
"""Connections a region accepts per event-loop wake-up (asyncio's default is 100)."""


class _Busy(asyncio.Protocol):
    """A connection past the cap: answered 503 at once, closed once the request's first
    bytes are read or after ``linger`` seconds (closing with the request unread would send a
    reset that can destroy the 503 before the client reads it)."""

    def __init__(self, region: str, linger: float) -> None:
        self.region = region
        self.linger = linger
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.BaseTransport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        log.info("refused connection from %s to %s: connection cap reached", peer, self.region)
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY_RESPONSE)
        self._transport = transport
        self._timer = asyncio.get_running_loop().call_later(self.linger, transport.close)

    def data_received(self, data: bytes) -> None:
        """Discard the request and close."""
        self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, counted in ``open`` from its creation until the
    connection is lost (``server.connections`` misses connections accepted in one batch).

    It is also closed once it has left the server unable to send for ``send_timeout``
    seconds: its write buffer limit is 0, so writing pauses as soon as the kernel takes no
    more bytes (the client does not read) and resumes only once everything is sent. aiohttp
    itself waits on that without a timeout, so a client pipelining requests without reading
    the answers, or leaving an answer unread when the connection is closed, would hold its
    connection and its place under the cap for ever."""

    __slots__ = ("inner", "open", "region", "send_timeout", "_transport", "_stalled")

    def __init__(
        self, inner: asyncio.Protocol, open_: dict[str, int], region: str, send_timeout: float
    ) -> None:
        self.inner = inner
        self.open = open_
        self.region = region
        self.send_timeout = send_timeout
        self._transport: asyncio.WriteTransport | None = None
        self._stalled: asyncio.TimerHandle | None = None
        open_[region] += 1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.set_write_buffer_limits(high=0)
        self._transport = transport
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        if self._stalled is None:
            loop = asyncio.get_running_loop()
            self._stalled = loop.call_later(self.send_timeout, self._abort)
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self._unstall()
        self.inner.resume_writing()

    def _unstall(self) -> None:
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None

    def _abort(self) -> None:
        self._stalled = None
        if self._transport is not None:
            log.info(
                "closed connection from %s to %s: answers unread for %g s",
                self._transport.get_extra_info("peername"),
                self.region,
                self.send_timeout,
            )
            self._transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._unstall()
        self._transport = None
        self.open[self.region] -= 1
        self.inner.connection_lost(exc)


class EdgeServer:
    """Serves every region of a running cluster on its own loopback port.

    ``port_base`` + region index is each region's port (0 picks free ports). Use inside the
    loop the cluster runs on: ``async with EdgeServer(cluster, keys) as server:``; then
    ``server.urls`` maps region names to base URLs. ``limits`` bounds what each region takes
    (connections, timeouts, sizes, users per project over all regions); ``access_log`` logs
    every request to the ``edgekv.access`` logger. With ``durable``, the users it holds are
    written back into the cluster on start, and every acknowledged write is committed to it.
    """

    def __init__(
        self,
        cluster: Cluster,
        keys: Keys,
        *,
        host: str = "127.0.0.1",
        port_base: int = 8600,
        limits: Limits | None = None,
        access_log: bool = False,
        durable: DurableStore | None = None,
    ) -> None:
        self.cluster = cluster
        self.durable = durable
        self.keys = keys
        self.host = host
        self.port_base = port_base
        self.limits = limits or Limits()
        self.access_log = access_log
        self.users = UserQuota(self.limits.max_users)
        self.live = LiveView(cluster)
        """The live page at ``/`` of every region."""
        self.metrics = {name: RegionMetrics(name) for name in cluster.regions}
        self.urls: dict[str, str] = {}
        self._runners: list[web.AppRunner] = []
        self._listeners: list[asyncio.Server] = []
        self._open = dict.fromkeys(cluster.regions, 0)

    async def start(self) -> dict[str, str]:
        """Bind every region's port; returns region name -> base URL."""
        self._watch_replication()
        self._bound_history()
        loop = asyncio.get_running_loop()
        if self.durable is not None:
            for key in await restore(self.cluster, self.durable):
                self.users.admit(key, {})
        try:
            for i, name in enumerate(self.cluster.regions):
                region: RegionStore = self.cluster[name]
                if self.durable is not None:
                    region = DurableRegion(region, name, self.durable)
                app = make_app(
                    name,
                    region,
                    self.keys,
                    metrics=self.metrics[name],
                    node_counters=functools.partial(self._node_counters, name),
                    limits=self.limits,
                    users=self.users,
                    live=self.live,
                )
                runner = web.AppRunner(
                    app,
                    access_log=logging.getLogger("edgekv.access") if self.access_log else None,
                    handle_signals=False,
                    keepalive_timeout=self.limits.idle_timeout,
                    # bodies are decoded by the handler, within the size limit (no bomb)
                    auto_decompress=False,
                    max_headers=64,
                )
                await runner.setup()
                self._runners.append(runner)
                port = self.port_base + i if self.port_base else 0
                # asyncio accepts up to ``backlog`` connections per wake-up: a small batch
                # lets refused ones be answered and closed before the next batch, so a
                # flood never holds more descriptors than the open-files limit allows.
                listener = await loop.create_server(
                    functools.partial(self._connection, runner, name),
                    self.host,
                    port,
                    backlog=ACCEPT_BATCH,
                )
                self._listeners.append(listener)
                bound = listener.sockets[0].getsockname()[1]
                self.urls[name] = f"http://{self.host}:{bound}"
        except BaseException:
            await self.stop()
            raise
        return dict(self.urls)

    def _connection(self, runner: web.AppRunner, region: str) -> asyncio.BaseProtocol:
        """A new connection's protocol: aiohttp's handler, or 503 past the cap."""
        server = runner.server
        assert server is not None
        if self._open[region] >= self.limits.max_connections:
            return _Busy(region, linger=0.2)
        return _Counted(server(), self._open, region, self.limits.send_timeout)

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, close every connection."""
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener.close()
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()

    async def __aenter__(self) -> EdgeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _node_counters(self, region: str) -> Mapping[str, Any]:
        regions = self.cluster.stats().get("regions", {})
        return regions.get(region, {}) if isinstance(regions, Mapping) else {}

    def _bound_history(self) -> None:
        """A server runs for days: the cluster's write history (``cluster.history``, a copy
        of every write's document) keeps only the newest ``limits.max_history`` writes,
        trimmed when it holds twice as many (amortised O(1) a write)."""
        store = self.cluster.store
        mesh = getattr(store, "mesh", None)
        source = mesh if isinstance(mesh, Mesh) else store
        if not isinstance(source, Mesh | SingleHome):
            return  # a system without a write history (see Cluster.history)
        writes = self.cluster.history.writes
        keep = self.limits.max_history

        def trim(*_: object) -> None:
            if len(writes) > 2 * keep:
                del writes[: len(writes) - keep]

        source.on_write(trim)

    def _watch_replication(self) -> None:
        """Feed each region's lag histogram from the mesh's apply events, when it has one."""
        mesh = getattr(self.cluster.store, "mesh", None)
        if not isinstance(mesh, Mesh):
            return  # a system without replication between regions
        by_index = [self.metrics[name] for name in self.cluster.regions]
        # A server runs for days: the oracle keeps only the recent versions of each key.
        mesh.oracle.max_history = 32

        def on_apply(region: int, key: str, version: int) -> None:
            # staleness() of a read that saw the version just before: time since it committed
            lag = mesh.oracle.staleness(key, version - 1, mesh.now())[1]
            by_index[region].lag.observe(lag)

        mesh.on_apply(on_apply)
