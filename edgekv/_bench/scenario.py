"""The ``edge-flags`` scenario: DevCycle-style EdgeDB user data on a replicated store versus a
single-home one, driven by one seeded workload on the discrete-event :class:`Kernel`.

The story: a shop backend PATCHes a user's ``customData.stars`` after each purchase; later the
same user logs in on the phone and asks for variables, which the flag :class:`Evaluator`
computes on the stored user merged with the request; ``platinum-status-feature`` turns on at
``stars >= 100``.

Users and documents. Each user has a home region (drawn by the config's population weights)
and a stored document, the DevCycle user object ``{"user_id", "appVersion", "customData":
{"stars": n}}``, under the key ``user_id``. With ``field`` granularity each top-level field is
one LWW register, so ``customData`` is a single register: a purchase PATCHes the whole
``{"customData": {"stars": total}}``, the total the shop's own database holds (it owns the
counter; no read-modify-write at the edge).

Workload (all per user, Poisson, times uniform in the window):

* sessions (``sessions_per_min``): a purchase at the user's home region, then after a think
  time a login from the session's region: home, or with probability ``mobility`` another
  region drawn by population weight (travel, or web and phone in different places). The login
  reads the document and evaluates every variable; its EdgeDB write-back is left out, so all
  writes are the ones listed here.
* background reads (``reads_per_min``): the user's app refreshing variables, from home or
  (``mobility``) away; they carry the user's session token like logins.
* background writes (``writes_per_min``): other services PATCHing ``appVersion``, from home or
  away; they are not the user's own writes, so no session token covers them.

A workload file (:mod:`edgekv._bench.workload`, ``edgekv bench --workload``) sets the population,
the travel model (away regions by population or also by distance), a session's steps (any
sequence of purchase, login, read and write, each after its think time), the popularity of
users for background operations (Zipf) and the documents' padding; the packaged
``edge-flags.yaml`` is the story above.

Before the window every user's document is written once at home (``warmup`` seconds of
replication before the first operation). Each op's client-to-edge and edge-to-client delays
are drawn once and shared by every system, so the systems see the identical workload.

Systems: ``eventual`` and ``session`` (reads of the replicated :class:`Mesh` through one
:class:`Coordinator`; the two levels share one mesh, each read issued at both levels at the
same instant, since reads never change replica state) and ``single-home`` (every key homed at
its user's home region through ``location_hint``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .._core.config import Config, great_circle_km
from .._core.consistency import SESSION
from .._core.distributions import (
    MAX_DURATION,
    Constant,
    Distribution,
    Empirical,
    Exponential,
    LogNormal,
    Mixture,
    Normal,
    Pareto,
    Uniform,
    median,
    parse_distribution,
)
from .._core.errors import ConfigError
from .._core.kernel import Kernel
from .._core.mesh import Mesh
from .._core.oracle import Oracle
from .._core.store import Level, Op, OpKind, OpResult, Session, Store
from .._core.systems import make_store, parse_system
from .._core.versions import EPOCH_MS, split_version
from .._drivers.files import default_config, load_config, read_text
from .._drivers.recorder import Recorder
from ..flags import MISSING, Column, Evaluator, FlagConfigError, User, UserColumns, merge_user
from .gctune import gc_tuned_for_run

__all__ = [
    "LOGIN",
    "PURCHASE",
    "READ",
    "SCENARIO",
    "DEFAULT_SYSTEMS",
    "WRITE",
    "EdgeFlags",
    "ScenarioResult",
    "SystemRun",
    "Workload",
    "build_workload",
    "load_evaluator",
    "run_edge_flags",
    "run_system",
    "scenario_config",
    "with_median",
]

SCENARIO = "edge-flags"

PURCHASE, LOGIN, READ, WRITE = 0, 1, 2, 3
"""Operation kinds of a :class:`Workload`."""
KIND_NAMES = ("purchase", "login", "background read", "background write")
STEP_NAMES = ("purchase", "login", "read", "write")
"""A session step's name per kind (a workload file's ``sessions.steps``)."""
KINDS_BY_NAME = {name: kind for kind, name in enumerate(STEP_NAMES)}

OUTCOMES = ("local", "waited", "forwarded")
"""Outcome codes of :attr:`SystemRun.outcome` (index = code)."""

STREAM_WORKLOAD = 200
"""First generator stream of the workload (the mesh and latency models use 0..102)."""

PLATINUM = "platinum-status-feature"
"""The variable whose value the story is about (reported as the share of logins served true)."""

LOGIN_PLATFORM = "iOS"
"""What the phone sends with a login besides ``user_id``."""

_DRAIN_LIMIT = 600.0
"""Virtual seconds after the last arrival within which every operation must have finished."""


@dataclass(frozen=True, slots=True)
class EdgeFlags:
    """Parameters of the ``edge-flags`` scenario (rates are per user). Validated on creation:
    a bad value raises :class:`ConfigError` naming the parameter."""

    users: int = 20_000
    duration: float = 60.0
    """Seconds of workload (session starts and background operations)."""
    mobility: float = 0.2
    """Fraction of sessions (and background operations) started away from home."""
    think: Distribution = field(default_factory=lambda: LogNormal(1.0, 1.0))
    """Delay before each session step after the first that gives none (the purchase to the
    login in edge-flags)."""
    sessions_per_min: float = 1.0
    reads_per_min: float = 4.0
    writes_per_min: float = 0.5
    initial_stars: int = 120
    """Stars before the window: uniform on ``0 .. initial_stars - 1``."""
    max_purchase: int = 40
    """Stars a purchase adds: uniform on ``1 .. max_purchase``."""
    warmup: float = 5.0
    """Seconds between the initial documents' writes and the first operation."""
    seed: int = 1
    name: str = SCENARIO
    """The workload's name (a workload file's ``name``)."""
    population: tuple[tuple[str, float], ...] | None = None
    """Users' home regions by weight, ``(region, weight)`` pairs; None: the config's weights."""
    travel_decay_km: float | None = None
    """Away regions weighted by population x ``exp(-km / travel_decay_km)`` from home; None:
    by population weight alone (any distance)."""
    steps: tuple[tuple[int, Distribution | None], ...] = ((PURCHASE, None), (LOGIN, None))
    """A session's operations in order, ``(kind, think)``: ``think`` is the delay after the
    previous step (None: :attr:`think`; the first step starts the session)."""
    zipf_s: float = 0.0
    """Popularity of users for background operations: rank ``k`` drawn with weight
    ``1 / k**zipf_s`` (0: uniform)."""
    padding_bytes: int = 0
    """Bytes of padding in each document, rewritten by every background write."""

    def __post_init__(self) -> None:
        _int(self.users, "users", 1)
        _int(self.initial_stars, "initial_stars", 1)
        _int(self.max_purchase, "max_purchase", 1)
        _int(self.seed, "seed", 0)
        for name in ("duration", "sessions_per_min", "reads_per_min", "writes_per_min", "warmup"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(name, f"expected a finite number >= 0, got {value!r}")
        for name in ("duration", "warmup"):
            if getattr(self, name) > MAX_DURATION:
                raise ConfigError(
                    name,
                    f"expected a duration of at most {MAX_DURATION:g}s (a year), "
                    f"got {getattr(self, name)!r}",
                )
        if self.duration <= 0:
            raise ConfigError("duration", f"expected a positive duration, got {self.duration!r}")
        m = self.mobility
        if isinstance(m, bool) or not isinstance(m, int | float) or not 0 <= m <= 1:
            raise ConfigError("mobility", f"expected a fraction in 0..1, got {m!r}")
        if not isinstance(self.think, Distribution):
            object.__setattr__(self, "think", parse_distribution(self.think, "think"))
        _int(self.padding_bytes, "padding_bytes", 0)
        decay = self.travel_decay_km
        if decay is not None and (not isinstance(decay, int | float) or not decay > 0):
            raise ConfigError("travel.decay_km", f"expected a positive number, got {decay!r}")
        for region, weight in self.population or ():
            if not isinstance(weight, int | float) or not 0 <= weight < math.inf:
                raise ConfigError(f"population.{region}", f"expected a weight >= 0, got {weight!r}")
        z = self.zipf_s
        if isinstance(z, bool) or not isinstance(z, int | float) or not 0 <= z <= 10:
            raise ConfigError("zipf_s", f"expected a number in 0..10, got {self.zipf_s!r}")
        if not self.steps or any(k not in KINDS_BY_NAME.values() for k, _ in self.steps):
            raise ConfigError("steps", f"expected one or more of {', '.join(KINDS_BY_NAME)}")

    def as_dict(self) -> dict[str, Any]:
        """The parameters as plain data (distributions described)."""
        return {
            "name": self.name,
            "seed": self.seed,
            "users": self.users,
            "duration_s": self.duration,
            "warmup_s": self.warmup,
            "mobility": self.mobility,
            "think": self.think.describe(),
            "sessions_per_user_per_min": self.sessions_per_min,
            "background_reads_per_user_per_min": self.reads_per_min,
            "background_writes_per_user_per_min": self.writes_per_min,
            "initial_stars": f"uniform 0..{self.initial_stars - 1}",
            "stars_per_purchase": f"uniform 1..{self.max_purchase}",
            "population": "config" if self.population is None else dict(self.population),
            "travel": (
                "by population"
                if self.travel_decay_km is None
                else f"by population x exp(-km / {self.travel_decay_km:g})"
            ),
            "session_steps": [
                {"op": STEP_NAMES[k], "think": (t or self.think).describe()}
                if j
                else {"op": STEP_NAMES[k]}
                for j, (k, t) in enumerate(self.steps)
            ],
            "background_zipf_s": self.zipf_s,
            "padding_bytes": self.padding_bytes,
        }


def _int(value: Any, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(name, f"expected an integer >= {low}, got {value!r}")


@dataclass(frozen=True, slots=True, eq=False)
class Workload:
    """Every random choice of one run, drawn up front from the seed. Per user: ``home`` and
    ``stars0``; per operation, sorted by arrival at the edge: ``kind``, ``user``, ``region``,
    ``t_edge`` (arrival at the edge region, seconds of the run's clock), ``d_in`` / ``d_out``
    (client-to-edge and back, seconds) and ``value`` (a purchase's new stars total, a
    background write's app build). :func:`build_workload` stores the integer columns as
    narrow as their values allow (``kind`` int8, ``region`` and ``home`` int16, ``user`` and
    ``value`` int32, int64 beyond): 35 bytes per operation."""

    home: np.ndarray
    stars0: np.ndarray
    kind: np.ndarray
    user: np.ndarray
    region: np.ndarray
    t_edge: np.ndarray
    d_in: np.ndarray
    d_out: np.ndarray
    value: np.ndarray
    padding_bytes: int = 0
    """Bytes of padding in each document (:attr:`EdgeFlags.padding_bytes`)."""
    sessions: int = 0
    """Number of user sessions."""

    @property
    def ops(self) -> int:
        """Number of operations."""
        return len(self.kind)

    @property
    def away(self) -> np.ndarray:
        """True for operations issued away from the user's home region."""
        return self.region != self.home[self.user]

    def counts(self) -> dict[str, int]:
        """Operations per kind, and logins away from home."""
        out = {name: int((self.kind == k).sum()) for k, name in enumerate(KIND_NAMES)}
        out["away logins"] = int(((self.kind == LOGIN) & self.away).sum())
        return out


def _away_regions(rng: np.random.Generator, home: np.ndarray, pull: np.ndarray) -> np.ndarray:
    """For each home ``h``, another region drawn by the weights ``pull[h]`` (uniform among
    the others if they all weigh 0; the home itself when it is the only region).
    O(n x regions)."""
    n_regions = len(pull)
    u = rng.random(len(home))
    out = home.copy()
    if n_regions == 1:
        return out
    for h in range(n_regions):
        mask = home == h
        if not mask.any():
            continue
        w = pull[h].astype(float).copy()
        w[h] = 0.0
        if w.sum() <= 0:
            w = np.ones(n_regions)
            w[h] = 0.0
        out[mask] = _draw(w, u[mask])
    return out


def _draw(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Region indices by ``weights`` for the uniform draws ``u`` (inverse CDF). O(n log regions)."""
    cum = np.cumsum(weights / weights.sum())
    cum[-1] = 1.0
    return np.searchsorted(cum, u, side="right").clip(0, len(cum) - 1)


def _op_regions(
    rng: np.random.Generator, home: np.ndarray, mobility: float, pull: np.ndarray
) -> np.ndarray:
    """Where each operation of a user at ``home`` is issued: home, or with probability
    ``mobility`` another region drawn by ``pull[home]``. O(n x regions)."""
    away = rng.random(len(home)) < mobility
    return np.where(away, _away_regions(rng, home, pull), home)


def _population(scenario: EdgeFlags, cfg: Config) -> np.ndarray:
    """Home-region weights in the config's order: the scenario's ``population`` (regions it
    does not name weigh 0; ``ConfigError`` for a region the config lacks), else the config's."""
    if scenario.population is None:
        return np.array([r.weight for r in cfg.regions], dtype=float)
    weights = np.zeros(len(cfg.regions))
    index = {name: i for i, name in enumerate(cfg.names)}
    for name, weight in scenario.population:
        if name not in index:
            raise ConfigError(
                f"population.{name}", f"no such region in the config; known: {', '.join(index)}"
            )
        weights[index[name]] = weight
    if weights.sum() <= 0:
        raise ConfigError("population", "expected at least one region with a positive weight")
    return weights


def _pull(scenario: EdgeFlags, cfg: Config, weights: np.ndarray) -> np.ndarray:
    """Away-region weights per home region (rows): population, times the distance decay
    ``exp(-km / travel_decay_km)`` when the scenario sets one."""
    n = len(weights)
    if scenario.travel_decay_km is None:
        return np.tile(weights, (n, 1))
    regions = cfg.regions
    km = np.array([[great_circle_km(a.lat, a.lon, b.lat, b.lon) for b in regions] for a in regions])
    return weights[None, :] * np.exp(-km / scenario.travel_decay_km)


def _popular_users(rng: np.random.Generator, n_users: int, zipf_s: float, n: int) -> np.ndarray:
    """``n`` users for background operations: uniform, or Zipf with exponent ``zipf_s``
    (user ``k`` weighs ``1 / (k + 1) ** zipf_s``). O(users + n log users)."""
    if zipf_s == 0:
        return rng.integers(0, n_users, n)
    weights = 1.0 / np.arange(1, n_users + 1, dtype=float) ** zipf_s
    return _draw(weights, rng.random(n))


def _int_type(bound: int, narrow: type[np.signedinteger[Any]]) -> type[np.signedinteger[Any]]:
    """``narrow`` if it holds ``0 .. bound``, else int64: a workload column's item type, as
    small as what it must hold (its memory is per operation)."""
    return narrow if bound <= np.iinfo(narrow).max else np.int64


def _joined(
    dtype: type[np.generic], parts: Sequence[np.ndarray | int], spans: Sequence[tuple[int, int]]
) -> np.ndarray:
    """The parts (an int fills its whole span) one after the other in one new ``dtype`` array:
    ``np.concatenate`` without a widened copy of each part first."""
    out = np.empty(spans[-1][1] if spans else 0, dtype=dtype)
    for (a, b), part in zip(spans, parts, strict=True):
        out[a:b] = part
    return out


def build_workload(scenario: EdgeFlags, cfg: Config) -> Workload:
    """Draw the scenario's operations for ``cfg``'s regions. Vectorised: O(ops log ops). Each
    column is filled in place from its parts and sorted on its own, so the transient peak stays
    near the result's size plus the sort order."""
    rngs = np.random.default_rng([scenario.seed, STREAM_WORKLOAD]).spawn(4)
    users_rng, sess_rng, bg_rng, delay_rng = rngs
    weights = _population(scenario, cfg)
    pull = _pull(scenario, cfg, weights)
    n_users = scenario.users
    region_type = _int_type(len(cfg.regions) - 1, np.int16)
    user_type = _int_type(n_users - 1, np.int32)
    home = _draw(weights, users_rng.random(n_users)).astype(region_type)
    stars0 = users_rng.integers(0, scenario.initial_stars, n_users)
    window = scenario.duration
    minutes = window / 60.0

    n_sess = int(sess_rng.poisson(scenario.sessions_per_min * minutes * n_users))
    s_time = np.sort(sess_rng.uniform(0.0, window, n_sess))
    s_user = sess_rng.integers(0, n_users, n_sess).astype(user_type)
    s_region = _op_regions(sess_rng, home[s_user], scenario.mobility, pull)
    steps = scenario.steps
    start = np.zeros(n_sess)
    at = [start]
    for _, think in steps[1:]:
        start = start + (think or scenario.think).sample(sess_rng, n_sess)
        at.append(start)
    kinds = [k for k, _ in steps]
    n_buy = kinds.count(PURCHASE)
    gained = sess_rng.integers(1, scenario.max_purchase + 1, n_sess * n_buy).reshape(n_sess, n_buy)
    n_write = kinds.count(WRITE)
    builds = sess_rng.integers(0, 1000, (n_sess, n_write)) if n_write else None
    stars = stars0.copy()
    totals = np.empty((n_sess, n_buy), dtype=np.int64)
    for j, (u, gains) in enumerate(zip(s_user.tolist(), gained.tolist(), strict=True)):
        for b, g in enumerate(gains):
            stars[u] += g
            totals[j, b] = stars[u]
    del stars, gained

    # Each part's columns in concatenation order (a scalar fills its whole part), its times
    # as the terms of a sum; every column is then built and sorted one at a time.
    part_kind: list[int] = []
    part_user: list[np.ndarray] = []
    part_region: list[np.ndarray] = []
    part_time: list[tuple[np.ndarray, ...]] = []
    part_value: list[np.ndarray | int] = []
    s_home = home[s_user]
    buys = writes = 0
    for step, k in enumerate(kinds):
        value: np.ndarray | int = 0
        if k == PURCHASE:
            value = totals[:, buys]
            buys += 1
        elif k == WRITE and builds is not None:
            value = builds[:, writes]
            writes += 1
        part_kind.append(k)
        part_user.append(s_user)
        part_region.append(s_home if k == PURCHASE else s_region)
        part_time.append((s_time, at[step]))
        part_value.append(value)
    del s_user, s_home, s_region, s_time, at, start
    for bg_kind, per_min in ((READ, scenario.reads_per_min), (WRITE, scenario.writes_per_min)):
        n = int(bg_rng.poisson(per_min * minutes * n_users))
        user = _popular_users(bg_rng, n_users, scenario.zipf_s, n).astype(user_type)
        part_kind.append(bg_kind)
        part_user.append(user)
        part_region.append(_op_regions(bg_rng, home[user], scenario.mobility, pull))
        part_value.append(bg_rng.integers(0, 1000, n) if bg_kind == WRITE else 0)
        part_time.append((bg_rng.uniform(0.0, window, n),))
        del user
    sizes = [len(u) for u in part_user]
    n_ops = sum(sizes)
    spans = list(itertools.pairwise(itertools.accumulate(sizes, initial=0)))
    biggest = max(
        (int(v.max(initial=0)) for v in part_value if isinstance(v, np.ndarray)), default=0
    )

    t_edge = np.empty(n_ops)
    for (a, b), terms in zip(spans, part_time, strict=True):
        if len(terms) == 2:
            np.add(*terms, out=t_edge[a:b])
        else:
            t_edge[a:b] = terms[0]
    del part_time
    t_edge += scenario.warmup
    d_in = cfg.client_delay.sample(delay_rng, n_ops)
    t_edge += d_in
    order = np.argsort(t_edge, kind="stable")
    t_edge = t_edge[order]
    d_in = d_in[order]
    d_out = cfg.client_delay.sample(delay_rng, n_ops)[order]
    kind = _joined(np.int8, part_kind, spans)[order]
    user_col = _joined(user_type, part_user, spans)[order]
    del part_user
    region = _joined(region_type, part_region, spans)[order]
    del part_region
    value_col = _joined(_int_type(biggest, np.int32), part_value, spans)[order]
    return Workload(
        home=home,
        stars0=stars0,
        kind=kind,
        user=user_col,
        region=region,
        t_edge=t_edge,
        d_in=d_in,
        d_out=d_out,
        value=value_col,
        padding_bytes=scenario.padding_bytes,
        sessions=n_sess,
    )


@dataclass(eq=False)
class SystemRun:
    """Per-operation outcomes of one system, aligned with the :class:`Workload`'s operations.

    ``latency`` is client-perceived (client-to-edge + service side + edge-to-client), seconds.
    For reads: ``version`` seen, ``stale`` (missed a version committed before the read began,
    per the oracle), ``stale_s`` (how long the first missed one had been committed),
    ``beyond_floor`` (missed a write committed long enough before the read that it would
    have arrived at the physical floor, light in fiber over the great-circle distance from
    its origin: staleness due to the lag, not to the speed of light), ``ryw`` (does not
    show the user's own last purchase committed before the read began, nor a newer one;
    ``required`` is that purchase's version, 0 if none), ``outcome`` (code into ``OUTCOMES``),
    ``waited``; for logins ``wrong`` (the variables served differ from what the newest
    committed user data gives, both at the read's start and at its answer) and ``platinum``
    (served ``platinum-status-feature`` true).
    """

    name: str
    latency: np.ndarray
    version: np.ndarray
    stale: np.ndarray
    stale_s: np.ndarray
    beyond_floor: np.ndarray
    ryw: np.ndarray
    required: np.ndarray
    wrong: np.ndarray
    platinum: np.ndarray
    outcome: np.ndarray
    waited: np.ndarray
    failed: np.ndarray
    """The operation did not succeed (unavailable or refused)."""
    since_own: np.ndarray
    """For reads: seconds since the user's own last acknowledged purchase (inf: none)."""
    bytes_replicated: int
    messages_replicated: int
    lost_updates: int = 0
    """Acknowledged writes whose effect no region holds once replication settled, although
    no write to the same field started after them: what LWW under skew or item granularity
    throws away."""
    writes_checked: int = 0
    """Acknowledged writes that were the last to start on at least one field."""
    realised_lag: Mapping[str, Any] | None = None
    """For a replicated store: the commit-to-apply lag observed over every link (``all``,
    seconds: n, p50, p99, mean) and per link beside the configured one (``links``, ms)."""
    path: str = "event"
    """How the run was computed: ``"event"`` (the discrete-event kernel) or ``"vectorised"``
    (:mod:`edgekv._bench.fastpath`, identical figures)."""

    @classmethod
    def blank(cls, name: str, n_ops: int) -> SystemRun:
        """A vectorised run of ``n_ops`` operations to fill in place, block by block: latency
        and version unset, every other per-op array at its value for an operation nothing
        happened to (``np.zeros``: pages never written cost no memory), totals 0."""
        return cls(
            name=name,
            latency=np.empty(n_ops),
            version=np.empty(n_ops, dtype=np.int64),
            stale=np.zeros(n_ops, dtype=bool),
            stale_s=np.zeros(n_ops),
            beyond_floor=np.zeros(n_ops, dtype=bool),
            ryw=np.zeros(n_ops, dtype=bool),
            required=np.zeros(n_ops, dtype=np.int64),
            wrong=np.zeros(n_ops, dtype=bool),
            platinum=np.zeros(n_ops, dtype=bool),
            outcome=np.zeros(n_ops, dtype=np.int8),
            waited=np.zeros(n_ops),
            failed=np.zeros(n_ops, dtype=bool),
            since_own=np.full(n_ops, np.inf),
            bytes_replicated=0,
            messages_replicated=0,
            path="vectorised",
        )


PER_OP: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(SystemRun) if f.type == "np.ndarray"
)
"""The names of a :class:`SystemRun`'s per-operation arrays, in declaration order."""


@dataclass(frozen=True, eq=False)
class ScenarioResult:
    """A run of the scenario: parameters, the config's lag, the workload and every system."""

    scenario: EdgeFlags
    cfg: Config
    workload: Workload
    systems: Mapping[str, SystemRun]
    rtt: list[list[float]]
    """Round-trip seconds ``rtt[src][dst]`` of the config."""


def _packed(dtype: type[np.generic], values: np.ndarray) -> memoryview:
    """A workload column as a flat view of ``dtype`` items: indexing yields Python numbers,
    as a list's would, without a Python object per op kept alive (no copy when the column
    already has that type)."""
    return np.ascontiguousarray(values, dtype=dtype).data


def _packed_ints(values: np.ndarray) -> memoryview:
    """An integer workload column as :func:`_packed` views it, in its own item type (int8 to
    int64 alike yield Python ints), so a narrow column is not widened into a copy."""
    return _packed(values.dtype.type if values.dtype.kind == "i" else np.int64, values)


def _floats(n: int, fill: float = 0.0) -> array[float]:
    """``n`` doubles in one buffer: 8 bytes per op instead of a list slot and a float object."""
    return array("d", [fill]) * n


def _ints(n: int) -> array[int]:
    """``n`` signed 64-bit integers in one buffer (versions fit: 63-bit hybrid clocks)."""
    return array("q", [0]) * n


def _flags(n: int) -> array[int]:
    """``n`` one-byte integers in one buffer (booleans and outcome codes)."""
    return array("b", [0]) * n


class _Recorder:
    """Per-op outcomes of one system in compact typed arrays (a few bytes per op), filled by
    completion callbacks (O(1) each, plus two flag evaluations for a login, and a scan of
    the missed writes for a stale read)."""

    __slots__ = (
        "name",
        "ctx",
        "latency",
        "version",
        "stale",
        "stale_s",
        "beyond_floor",
        "ryw",
        "required",
        "wrong",
        "platinum",
        "outcome",
        "waited",
        "failed",
    )

    def __init__(self, name: str, ctx: _Context) -> None:
        n = ctx.n_ops
        self.name = name
        self.ctx = ctx
        self.latency = _floats(n, math.nan)
        self.version = _ints(n)
        self.stale = _flags(n)
        self.stale_s = _floats(n)
        self.beyond_floor = _flags(n)
        self.ryw = _flags(n)
        self.required = _ints(n)
        self.wrong = _flags(n)
        self.platinum = _flags(n)
        self.outcome = _flags(n)
        self.waited = _floats(n)
        self.failed = _flags(n)

    def write_done(self, i: int, result: OpResult) -> None:
        ctx = self.ctx
        self.latency[i] = ctx.d_in[i] + result.record.latency + ctx.d_out[i]
        self.version[i] = result.version
        self.failed[i] = not result.record.ok
        ctx.pending -= 1

    def read_done(
        self, i: int, truth_start: dict[str, Any] | None, own: int, total: int, res: OpResult
    ) -> None:
        ctx = self.ctx
        rec = res.record
        self.latency[i] = ctx.d_in[i] + rec.latency + ctx.d_out[i]
        version = res.version
        self.version[i] = version
        self.outcome[i] = _OUTCOME_CODE[rec.route]
        self.waited[i] = rec.waited
        if not rec.ok:
            self.failed[i] = True
            ctx.pending -= 1
            return
        if rec.stale_versions:
            self.stale[i] = True
            self.stale_s[i] = rec.stale_seconds
            self.beyond_floor[i] = ctx.beyond_floor(i, rec.start)
        self.required[i] = own
        if own and not ctx.reflects(res.doc, total):
            self.ryw[i] = True
        if ctx.kind[i] == LOGIN:
            doc = res.doc
            served = ctx.variables(i, doc)
            self.platinum[i] = served.get(PLATINUM) is True
            if doc != truth_start and served != ctx.variables(i, truth_start):
                u = ctx.user[i]
                now = ctx.truth(u)
                ahead = ctx.truth_ahead(u)
                self.wrong[i] = (
                    doc != now
                    and served != ctx.variables(i, now)
                    and (ahead is now or served != ctx.variables(i, ahead))
                )
        ctx.pending -= 1

    def finish(
        self,
        bytes_replicated: int,
        messages: int,
        lost: tuple[int, int],
        realised: Mapping[str, Any] | None,
    ) -> SystemRun:
        return SystemRun(
            name=self.name,
            latency=np.array(self.latency, dtype=float),
            version=np.array(self.version, dtype=np.int64),
            stale=np.array(self.stale, dtype=bool),
            stale_s=np.array(self.stale_s, dtype=float),
            beyond_floor=np.array(self.beyond_floor, dtype=bool),
            ryw=np.array(self.ryw, dtype=bool),
            required=np.array(self.required, dtype=np.int64),
            wrong=np.array(self.wrong, dtype=bool),
            platinum=np.array(self.platinum, dtype=bool),
            outcome=np.array(self.outcome, dtype=np.int8),
            waited=np.array(self.waited, dtype=float),
            failed=np.array(self.failed, dtype=bool),
            since_own=np.array(self.ctx.since_own, dtype=float),
            bytes_replicated=bytes_replicated,
            messages_replicated=messages,
            lost_updates=lost[0],
            writes_checked=lost[1],
            realised_lag=realised,
        )


_OUTCOME_CODE = {name: code for code, name in enumerate(OUTCOMES)}
GET, PATCH, EVENTUAL = OpKind.GET, OpKind.PATCH, Level.EVENTUAL
_new = tuple.__new__
"""Builds an :class:`Op` from all its fields, skipping its Python-level ``__new__`` (one per
operation and column)."""


class _Context:
    """What every callback of one run shares: the workload as typed arrays (fast indexing,
    8 bytes or less per op), the clock and the truth per user."""

    def __init__(
        self,
        work: Workload,
        keys: list[str],
        kernel: Kernel,
        evaluator: Evaluator,
        floor: list[list[float]],
    ) -> None:
        self.n_ops = work.ops
        self.kind = _packed_ints(work.kind)
        self.user = _packed_ints(work.user)
        self.region = _packed_ints(work.region)
        self.d_in = _packed(np.float64, work.d_in)
        self.d_out = _packed(np.float64, work.d_out)
        self.keys = keys
        self.kernel = kernel
        self.evaluator = evaluator
        self.floor = floor
        """One-way fiber floor seconds ``floor[origin][reader]`` (great-circle distance)."""
        self.oracle: Oracle | None = None
        """The replicated system's oracle, whose :attr:`Oracle.missed` names a stale read's
        missed writes (single-home reads are never stale)."""
        self.pending = 0
        self.since_own = _floats(self.n_ops, math.inf)
        """Per read: seconds since the user's own last acknowledged purchase."""
        self._seen_at: tuple[int, float] = (-1, 0.0)
        self._seen: list[tuple[Mapping[str, Any] | None, dict[str, Any]]] = []
        """The documents :meth:`variables` evaluated for op and instant ``_seen_at``, with
        their variables."""
        self.truth: Callable[[int], dict[str, Any] | None] = _no_truth
        self.truth_ahead: Callable[[int], dict[str, Any] | None] = _no_truth
        """The truth with the user's writes still unacknowledged applied in issue order: a
        store may have committed them already (a single home answers after its flush)."""

    def variables(self, i: int, doc: Mapping[str, Any] | None) -> dict[str, Any]:
        """Every variable's value for a login of op ``i`` served ``doc`` (O(features); neither
        is modified afterwards). A login answered at one instant in several columns (eventual
        and session reads) asks about the same documents: each is evaluated once, remembered
        by op and instant and compared by content (O(documents remembered))."""
        now_ms = EPOCH_MS + self.kernel.now * 1e3
        if self._seen_at != (i, now_ms):
            self._seen_at = (i, now_ms)
            self._seen = []
        for seen, values in self._seen:
            if seen == doc:
                return values
        request = {"user_id": self.keys[self.user[i]], "platform": LOGIN_PLATFORM}
        user = User.from_dict(merge_user(doc, request))
        values = self.evaluator.values(user, now_ms)
        self._seen.append((doc, values))
        return values

    def beyond_floor(self, i: int, start: float) -> bool:
        """Whether the read of op ``i`` that started at ``start``, just scored stale by the
        oracle, missed a write that would have reached its region at the speed of light in
        fiber over the great-circle distance. O(writes missed)."""
        assert self.oracle is not None
        reader, floor = self.region[i], self.floor
        return any(
            committed + floor[split_version(version)[2]][reader] < start
            for version, committed in self.oracle.missed
        )

    @staticmethod
    def reflects(doc: Mapping[str, Any] | None, total: int) -> bool:
        """Whether ``doc`` shows the user's own purchase that brought the stars to ``total``,
        or a newer purchase: by content, not by version, since with field granularity a
        replica can hold a newer version of another field and still miss the purchase. A
        user's purchase totals only grow, so a total at least that purchase's shows it (or a
        newer one, acknowledged or not yet). O(1)."""
        custom = None if doc is None else doc.get("customData")
        stars = custom.get("stars") if isinstance(custom, Mapping) else None
        return isinstance(stars, int) and stars >= total


def _no_truth(user: int) -> dict[str, Any] | None:
    raise AssertionError("truth function not installed")


def _initial_doc(key: str, stars: int, padding: int = 0) -> dict[str, Any]:
    doc = {"user_id": key, "appVersion": "5.0.0", "customData": {"stars": stars}}
    if padding:
        doc["profile"] = "x" * padding
    return doc


def login_users(
    keys: Sequence[str], user: np.ndarray, build: np.ndarray, stars: np.ndarray
) -> UserColumns:
    """The users logins make: each request (``user_id``, :data:`LOGIN_PLATFORM`) over a
    document of this ``build`` (-2: no appVersion, -1: the put's, b: ``5.1.b``) and
    ``stars`` (-1: none), as :meth:`Recorder.variables` merges them one at a time. O(logins
    log logins)."""
    builds, build_code = np.unique(build, return_inverse=True)
    versions = [None if b == -2 else "5.0.0" if b == -1 else f"5.1.{b}" for b in builds.tolist()]
    totals, stars_code = np.unique(stars, return_inverse=True)
    counts = [MISSING if t == -1 else t for t in totals.tolist()]
    return UserColumns(
        Column(user, keys),
        {
            "appVersion": Column(build_code.reshape(-1), versions),
            "platform": Column.constant(LOGIN_PLATFORM, len(user)),
        },
        {"stars": Column(stars_code.reshape(-1), counts)},
    )


def platinum_logins(evaluator: Evaluator, users: UserColumns, done: np.ndarray) -> np.ndarray:
    """Per login of ``users`` (:func:`login_users`) answered at ``done`` seconds, whether
    :data:`PLATINUM` is true: the fast paths' logins evaluated as a column. O(logins log
    logins)."""
    return platinum(evaluator.value_column(users, PLATINUM, EPOCH_MS + done * 1e3))


def platinum(served: Column) -> np.ndarray:
    """Per login, whether its :data:`PLATINUM` value (a column of :func:`login_values`) is
    true."""
    is_true = np.array([v is True for v in served.values], dtype=bool)
    out: np.ndarray = is_true[served.codes]
    return out


def login_values(evaluator: Evaluator, users: UserColumns, done: np.ndarray) -> dict[str, Column]:
    """Every variable's value (None: not served) per login of ``users`` answered at ``done``
    seconds: :meth:`Evaluator.values` as columns, :data:`PLATINUM` among them. O(features x
    logins log logins)."""
    out = evaluator.values_column(users, EPOCH_MS + done * 1e3)
    if PLATINUM not in out:
        out[PLATINUM] = Column.constant(None, len(users))
    return out


Parts = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Login documents by parts, one row per login: the put's presence, the build (-2: no
appVersion, -1: the put's) and the stars (-1: none), as :func:`login_users` reads them."""


def score_logins(
    evaluator: Evaluator,
    keys: Sequence[str],
    user: np.ndarray,
    done: np.ndarray,
    served: Parts,
    truths: tuple[Parts, Parts],
    flying: tuple[np.ndarray, np.ndarray],
    values: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per login answered at ``done`` seconds, ``(platinum, wrong)`` as :class:`Recorder`
    scores them: its flags evaluated on the ``served`` document; wrong unless that document
    is the truth's at its start or at its answer (``truths``), or gives their values or those
    of the truth ahead: the truth at the answer with its user's newest purchase and
    background write in flight (``flying``: indices into ``values``, the stars or build each
    sets; -1: none) applied. Each truth is evaluated only for the logins still wrong.
    O(features x logins log logins)."""
    users = login_users(keys, user, served[1], served[2])
    start, now = truths
    same = (served[0] == start[0]) & (served[1] == start[1]) & (served[2] == start[2])
    # Logins served the truth at their start: right, and only their platinum counts.
    platinum_of = np.zeros(len(user), dtype=bool)
    platinum_of[same] = platinum_logins(evaluator, users.take(same), done[same])
    left = np.flatnonzero(~same)
    got = login_values(evaluator, users.take(left), done[left])
    platinum_of[left] = platinum(got[PLATINUM])
    purchase, write = flying
    stars = np.where(purchase >= 0, values[np.maximum(purchase, 0)], now[2])
    ahead = (now[0], np.where(write >= 0, values[np.maximum(write, 0)], now[1]), stars)
    mine = np.arange(len(left))  # (rows of got still wrong)
    for k, truth in enumerate((start, now, ahead)):
        if not len(left):
            break
        alike = np.zeros(len(left), dtype=bool)
        if k == 1:  # (the same document: right without evaluating it)
            alike = (served[0][left] == truth[0][left]) & (served[1][left] == truth[1][left])
            alike &= served[2][left] == truth[2][left]
        ask, rows = left[~alike], mine[~alike]
        asked = login_users(keys, user[ask], truth[1][ask], truth[2][ask])
        theirs = login_values(evaluator, asked, done[ask])
        ours = {key: Column(c.codes[rows], c.values) for key, c in got.items()}
        alike[~alike] = same_values(ours, theirs, len(ask))
        left, mine = left[~alike], mine[~alike]
    wrong = np.zeros(len(user), dtype=bool)
    wrong[left] = True
    return platinum_of, wrong


def same_values(a: Mapping[str, Column], b: Mapping[str, Column], n: int) -> np.ndarray:
    """Per row of ``n``, whether two :func:`login_values` are equal as
    :meth:`Evaluator.values` dicts (a variable not served is None in both; values are
    compared with ``==``, once per distinct pair). O(variables x rows log rows)."""
    out = np.ones(n, dtype=bool)
    for key, left in a.items():
        right = b[key]
        width = len(right.values)
        pairs = left.codes.astype(np.int64) * width + right.codes
        distinct, inverse = np.unique(pairs, return_inverse=True)
        equal = np.array(
            [left.values[c // width] == right.values[c % width] for c in distinct.tolist()],
            dtype=bool,
        )
        out &= equal[inverse.reshape(-1)]
    return out


def _write_value(kind: int, value: int, padding: int = 0) -> dict[str, Any]:
    if kind == PURCHASE:
        return {"customData": {"stars": value}}
    if padding:
        return {"appVersion": f"5.1.{value}", "profile": f"{value:03d}{'x' * padding}"[:padding]}
    return {"appVersion": f"5.1.{value}"}


def _drive(
    kernel: Kernel,
    ctx: _Context,
    work: Workload,
    issue: Callable[[int], None],
    tick: Callable[[float], None] | None,
) -> None:
    """Chain the arrivals (each schedules the next, so the heap holds one pending arrival
    plus in-flight work) and run until every operation has answered."""
    t_edge = _packed(np.float64, work.t_edge)
    n = len(t_edge)

    def arrive(i: int, chain: Callable[[int, Any], None]) -> None:
        # ``chain`` is this function, handed along rather than named: a closure naming
        # itself is a reference cycle, which would keep the whole run alive until a
        # garbage collection traverses it.
        if i + 1 < n:
            kernel.call_at(t_edge[i + 1], chain, i + 1, chain)
        ctx.pending += 1
        issue(i)

    if n:
        kernel.call_at(t_edge[0], arrive, 0, arrive)
    end = t_edge[-1] if n else 0.0
    t = 0.0
    while t < end:
        t = min(t + 1.0, end)
        kernel.run(until=t)
        if tick is not None:
            tick(t / end)
    limit = end + _DRAIN_LIMIT
    while ctx.pending:
        if t >= limit:
            raise ConfigError(
                "network.service_time",
                f"{ctx.pending:,} operations still pending {_DRAIN_LIMIT:g}s after the last "
                "arrival: a key's operations arrive faster than the store serves them; lower "
                "service_time (or write_flush) or the workload's rates on a hot key",
            )
        t += 0.1
        kernel.run(until=t)


DEFAULT_SYSTEMS = ("replicated:eventual", "replicated:session", "single-home")
"""The columns of ``edgekv bench`` without ``--systems``."""


def run_system(
    work: Workload,
    cfg: Config,
    seed: int,
    keys: list[str],
    evaluator: Evaluator,
    system: str,
    columns: list[tuple[str, str]],
    tick: Callable[[float], None] | None,
    record: Path | None = None,
) -> dict[str, SystemRun]:
    """Run the workload on one store of ``system``, each read issued at every level of
    ``columns`` (``(label, level)`` pairs) at the same instant (reads change no replica
    state, so the levels share one store and its writes). Every user's document is put once
    at home (``location_hint``: home) before the window.

    The truth a read is scored against is every acknowledged write: per top-level field, the
    value of the newest version acknowledged so far (what a store losing no update holds).
    """
    kernel = Kernel()
    store = make_store(system, cfg, seed, kernel)
    if record is not None:
        store = _Recorded(store, Recorder(cfg.names, path=record / f"{system}.jsonl"))
    mesh = getattr(store, "mesh", None)
    tracker = mesh.track_lag() if isinstance(mesh, Mesh) else None
    ctx = _Context(work, keys, kernel, evaluator, cfg.floors())
    ctx.oracle = store.oracle
    recorders = [(_Recorder(label, ctx), level) for label, level in columns]
    session_levels = {level for _, level in columns if level == SESSION}
    n_users = len(keys)
    fields: list[dict[str, tuple[int, Any]]] = [{} for _ in range(n_users)]
    truth_doc: list[dict[str, Any] | None] = [None] * n_users
    own = [0] * n_users
    own_total = [0] * n_users
    own_at = [-math.inf] * n_users
    last: list[dict[str, tuple[float, int, Any]]] = [{} for _ in range(n_users)]
    """Per user and field, the acknowledged write that started last: ``(start, write, value)``
    (``write`` numbers the acknowledgements; on equal starts the later one wins)."""
    acks = itertools.count()

    def effect(u: int, start: float, value: Mapping[str, Any]) -> None:
        held = last[u]
        write = next(acks)
        for name, field_value in value.items():
            old = held.get(name)
            if old is None or start >= old[0]:
                held[name] = (start, write, field_value)

    unacked: dict[int, list[Mapping[str, Any]]] = {}
    """Per user with writes in flight, their values in issue order."""
    tokens = [Session() for _ in range(n_users)] if session_levels else None
    home = work.home.tolist()
    kinds, users, regions, values = ctx.kind, ctx.user, ctx.region, _packed_ints(work.value)

    def truth(u: int) -> dict[str, Any] | None:
        return truth_doc[u]

    ctx.truth = truth

    def truth_ahead(u: int) -> dict[str, Any] | None:
        doc = truth_doc[u]
        if u not in unacked:
            return doc
        out = dict(doc or {})
        for value in unacked[u]:
            out.update(value)
        return out

    ctx.truth_ahead = truth_ahead

    def acknowledged(u: int, value: Mapping[str, Any], version: int) -> None:
        held = fields[u]
        changed = False
        for name, field_value in value.items():
            old = held.get(name)
            if old is None or version > old[0]:
                held[name] = (version, field_value)
                changed = True
        if changed:
            truth_doc[u] = {name: v for name, (_, v) in held.items()}

    def loaded(u: int, value: Mapping[str, Any], result: OpResult) -> None:
        if result.record.ok:
            acknowledged(u, value, result.version)
            effect(u, result.record.start, value)

    for u, stars in enumerate(work.stars0.tolist()):
        doc = _initial_doc(keys[u], stars, work.padding_bytes)
        op = Op(OpKind.PUT, home[u], keys[u], doc, location_hint=home[u])
        store.submit(op, partial(loaded, u, doc))

    def write_done(i: int, u: int, value: Mapping[str, Any], result: OpResult) -> None:
        waiting = unacked[u]
        # This write's own value (by identity): an earlier write of an equal value stays.
        del waiting[next(k for k, pending in enumerate(waiting) if pending is value)]
        if not waiting:
            del unacked[u]
        rec = result.record
        if rec.ok:
            acknowledged(u, value, result.version)
            stars = values[i] if kinds[i] == PURCHASE else None
            if stars is not None and result.version > own[u]:
                own[u] = result.version
                own_total[u] = stars
                own_at[u] = rec.start
            effect(u, rec.start, value)
        first = True
        for recorder, _ in recorders:
            if not first:
                ctx.pending += 1
            first = False
            recorder.write_done(i, result)

    readers = [(recorder.read_done, level, level == SESSION) for recorder, level in recorders]
    """Per column, its recorder's callback, its level and whether it carries the token."""
    submit = store.submit

    def issue(i: int) -> None:
        kind, u, region = kinds[i], users[i], regions[i]
        key = keys[u]
        hint = home[u]
        if kind in (PURCHASE, WRITE):
            value = _write_value(kind, values[i], work.padding_bytes)
            token = tokens[u] if tokens is not None and kind == PURCHASE else None
            op = _new(Op, (PATCH, region, key, value, EVENTUAL, token, None, hint))
            unacked.setdefault(u, []).append(value)
            submit(op, partial(write_done, i, u, value))
            return
        truth_start = truth_doc[u]
        ctx.since_own[i] = kernel.now - own_at[u]
        ctx.pending += len(readers) - 1
        for read_done, level, session in readers:
            token = tokens[u] if session and tokens is not None else None
            op = _new(Op, (GET, region, key, None, level, token, None, hint))
            submit(op, partial(read_done, i, truth_start, own[u], own_total[u]))

    shipped = _Shipped(store)
    window = (float(work.t_edge[0]), float(work.t_edge[-1])) if work.ops else (0.0, 0.0)
    kernel.call_at(window[0], shipped.start)
    kernel.call_at(window[1], shipped.stop, priority=2)  # after every other event then
    _drive(kernel, ctx, work, issue, tick)
    sent, messages = shipped.shipped
    _settle(kernel, store)
    lost = _lost_updates(store, keys, last)
    realised = None if tracker is None else tracker.report()
    store.close()
    kernel.clear()  # the closed store's leftover timers would tie the heap to it in a cycle
    if isinstance(store, _Recorded):
        store.recorder.close()
    return {
        recorder.name: recorder.finish(sent, messages, lost, realised) for recorder, _ in recorders
    }


class _Recorded:
    """A store whose every completed operation also goes to a :class:`Recorder` (one
    history file per system: ``edgekv bench --record DIR``)."""

    def __init__(self, store: Store, recorder: Recorder) -> None:
        self.inner = store
        self.recorder = recorder

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def submit(self, op: Op, on_done: Callable[[OpResult], None]) -> None:
        record = self.recorder.record

        def done(result: OpResult) -> None:
            record(op, result)
            on_done(result)

        self.inner.submit(op, done)


def _settle(kernel: Kernel, store: Store) -> None:
    """Run until nothing is in flight, replication included (at most ``_DRAIN_LIMIT``)."""
    limit = kernel.now + _DRAIN_LIMIT
    while not store.quiet() and kernel.now < limit:
        kernel.run(until=kernel.now + 0.5)


def _lost_updates(
    store: Store, keys: list[str], last: list[dict[str, tuple[float, int, Any]]]
) -> tuple[int, int]:
    """``(lost, checked)``: of the acknowledged writes that were the last to start on some
    field of their user (``last``: per user and field, ``(start, write, value)``), those
    whose value for such a field no region holds. O(users x fields x regions)."""
    views = [store.documents(r) for r in range(len(store.cfg.regions))]
    lost = checked = 0
    for u, fields in enumerate(last):
        held = [view.get(keys[u]) for view in views]
        missing: dict[int, bool] = {}
        for name, (_, write, value) in fields.items():
            gone = not any(doc is not None and doc.get(name) == value for doc in held)
            missing[write] = missing.get(write, False) or gone
        checked += len(missing)
        lost += sum(missing.values())
    return lost, checked


class _Shipped:
    """Replication bytes and messages a store sends between :meth:`start` and :meth:`stop`
    (0 for a store that reports none): the run counts them from its first operation's start
    to its last's, whatever the levels beside it keep waiting for."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.at_start = (0, 0)
        self.shipped = (0, 0)
        """``(bytes, messages)`` once :meth:`stop` ran."""

    def _totals(self) -> tuple[int, int]:
        regions = self.store.stats().get("regions", {})
        sent = sum(r.get("bytes_sent", 0) for r in regions.values())
        messages = sum(r.get("messages_sent", 0) for r in regions.values())
        return sent, messages

    def start(self) -> None:
        self.at_start = self._totals()

    def stop(self) -> None:
        sent, messages = self._totals()
        self.shipped = (sent - self.at_start[0], messages - self.at_start[1])


def parse_columns(specs: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """``["replicated:eventual", "single-home", ...]`` -> per system its ``(label, level)``
    columns in order (a bare system name: its default level). ``ConfigError`` naming the
    spec for an unknown system or level, or a column given twice."""
    out: dict[str, list[tuple[str, str]]] = {}
    seen: set[str] = set()
    if isinstance(specs, str) or not isinstance(specs, Iterable):
        raise ConfigError("systems", f"expected a list of system names, got {specs!r}")
    for spec in specs:
        if not isinstance(spec, str):
            raise ConfigError(
                "systems", f"expected a system name such as 'replicated:session', got {spec!r}"
            )
        name, level = parse_system(spec)
        label = spec.strip()
        if label in seen:
            raise ConfigError("systems", f"{label!r} given twice")
        seen.add(label)
        out.setdefault(name, []).append((label, level))
    if not out:
        raise ConfigError("systems", "name at least one system")
    return out


def run_edge_flags(
    scenario: EdgeFlags,
    cfg: Config,
    evaluator: Evaluator,
    progress: Callable[[float], None] | None = None,
    systems: Sequence[str] = DEFAULT_SYSTEMS,
    record: str | os.PathLike[str] | None = None,
    fast_path: bool = True,
) -> ScenarioResult:
    """Run the scenario on every system of ``systems`` (specs such as
    ``"replicated:session"``); ``progress(fraction)`` follows along; with ``record`` (a
    directory) every operation of each system goes to ``DIR/<system>.jsonl``, a history
    ``edgekv check`` reads. Deterministic: same inputs, same result bit for bit. With
    ``fast_path`` (and no ``record``), a column the vectorised fast path computes identically
    (see :mod:`edgekv._bench.fastpath`) takes it; :attr:`SystemRun.path` says which path ran."""
    from .fastpath import vectorised  # it imports this module

    directory = None if record is None else Path(record)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    columns = parse_columns(systems)
    work = build_workload(scenario, cfg)
    width = len(str(scenario.users - 1))
    keys = [f"user-{u:0{width}d}" for u in range(scenario.users)]
    runs: dict[str, SystemRun] = {}
    n = len(columns)
    for j, (system, cols) in enumerate(columns.items()):
        tick = None if progress is None else partial(_stage, progress, j / n, (j + 1) / n)
        if fast_path and directory is None:
            fast = vectorised(work, cfg, scenario.seed, keys, evaluator, system, cols)
            runs.update(fast)
            cols = [col for col in cols if col[0] not in fast]
            if not cols:
                continue
        with gc_tuned_for_run():
            runs.update(
                run_system(work, cfg, scenario.seed, keys, evaluator, system, cols, tick, directory)
            )
    rtt = [[cfg.rtt[(a, b)] for b in cfg.names] for a in cfg.names]
    ordered = {label: runs[label] for cols in columns.values() for label, _ in cols}
    ordered = {spec.strip(): ordered[spec.strip()] for spec in systems}
    return ScenarioResult(scenario, cfg, work, ordered, rtt)


def _stage(progress: Callable[[float], None], lo: float, hi: float, fraction: float) -> None:
    progress(lo + (hi - lo) * fraction)


def _scaled(dist: Distribution, f: float) -> Distribution:
    if isinstance(dist, Constant):
        return Constant(dist.value * f)
    if isinstance(dist, Uniform):
        return Uniform(dist.low * f, dist.high * f)
    if isinstance(dist, Exponential):
        return Exponential(dist.mean_s * f)
    if isinstance(dist, Normal):
        return Normal(dist.mu * f, dist.std * f)
    if isinstance(dist, LogNormal):
        return LogNormal(dist.median * f, dist.sigma)
    if isinstance(dist, Pareto):
        return Pareto(dist.scale * f, dist.alpha)
    if isinstance(dist, Mixture):
        return Mixture(tuple(_scaled(c, f) for c in dist.components), dist.weights)
    if isinstance(dist, Empirical):
        return Empirical(tuple(s * f for s in dist.samples))
    raise TypeError(f"cannot rescale a {type(dist).__name__}")


def with_median(dist: Distribution, target: float) -> Distribution:
    """``dist`` rescaled so that its median is ``target`` seconds (same shape: every family
    here is a scale family). A target of 0 is the constant 0; a constant-0 base becomes the
    constant ``target``."""
    if target < 0 or not math.isfinite(target):
        raise ValueError(f"median must be a finite number of seconds >= 0, got {target!r}")
    if target == 0:
        return Constant(0.0)
    current = median(dist)
    if current <= 0:
        return Constant(target)
    return _scaled(dist, target / current)


def scenario_config(config: str | None = None, lag: str | Distribution | None = None) -> Config:
    """The topology (``config`` path, or the packaged default) with the replication lag
    replaced when ``lag`` is given. Raises :class:`ConfigError` naming the bad field."""
    cfg = default_config() if config is None else load_config(config)
    if lag is not None:
        cfg = cfg.replace(lag=parse_distribution(lag, "lag"))
    return cfg


def load_evaluator(path: str | None = None) -> Evaluator:
    """The flag evaluator for a DevCycle config v2 JSON file (the packaged example, with
    ``platinum-status-feature`` on ``customData.stars >= 100``, when ``path`` is None).
    Raises :class:`ConfigError` for an unreadable or invalid file."""
    if path is None:
        text = (resources.files("edgekv") / "data" / "flags-example.json").read_text("utf-8")
        return Evaluator(text)
    text = read_text(path, "the flags file")
    try:
        return Evaluator(text)
    except (FlagConfigError, ValueError) as exc:
        raise ConfigError("flags", f"{path}: {exc}") from None
