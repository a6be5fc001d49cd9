"""Quorum staleness experiments in the style of PBS (Bailis et al., VLDB 2012): the WARS model.

A coordinator sends a write to all N replicas (delay W_i), each acknowledges (delay A_i) and
the write commits at the W-th acknowledgement. A read started ``t`` after commit goes to all N
(delay R_i), each replica answers (delay S_i) and the read returns the newest of the first R
answers; replica ``i`` holds the write when the read reaches it iff ``W_i <= commit + t + R_i``.

Two paths compute the same per-trial outcomes from the same pre-drawn delays: a vectorized
numpy path (the model has no feedback, so whole blocks of trials are a few array operations)
and an event-driven path on :class:`~edgekv.lowlevel.Kernel` with every message a callback.
Event ties are broken exactly as the vectorized path breaks them (a write delivery before a
read arriving at the same instant; simultaneous answers in replica order), so the two agree
bit for bit. Delays are in seconds, reported figures in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .._core.distributions import Distribution, Exponential, Mixture, Pareto, parse_distribution
from .._core.errors import ConfigError
from .._core.kernel import Kernel

__all__ = [
    "PROFILES",
    "LatencyProfile",
    "QuorumDraws",
    "QuorumModel",
    "QuorumOutcomes",
    "QuorumResult",
    "k_staleness_closed_form",
]

CHUNK = 1 << 14
"""Trials drawn per block. Block ``c`` is always drawn whole from its own seeded streams, so
the first M trials of any run with the same seed are the same draws whatever the total."""

PERCENTILES = (50.0, 90.0, 99.0, 99.9)
"""Latency percentiles reported."""

MAX_K = 64
"""Largest k accepted for k-staleness (each version costs one extra write draw per trial)."""

Method = Literal["vectorized", "events"]

# Seed-stream purposes: np.random.default_rng([seed, purpose, version, block]).
_WRITE, _ACK, _READ, _RESPONSE, _WRITE_LOCAL, _READ_LOCAL = range(1, 7)


def _ms(value_ms: float) -> float:
    """Milliseconds (as the PBS paper gives its fits) to seconds."""
    return value_ms * 1e-3


def _fit(pareto_weight: float, xm_ms: float, alpha: float, exp_rate_per_ms: float) -> Mixture:
    """A PBS latency fit: Pareto(xm, alpha) with the given weight, else Exponential(rate)."""
    return Mixture(
        (Pareto(_ms(xm_ms), alpha), Exponential(_ms(1.0 / exp_rate_per_ms))),
        (pareto_weight, 1.0 - pareto_weight),
    )


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """Named per-message delay distributions (seconds) for the WARS model.

    ``remote_delay`` adds a one-way delay to every message between the coordinator and the
    replicas outside its datacenter: per write and per read one replica, drawn uniformly, is
    local (the PBS paper's multi-datacenter WAN model)."""

    name: str
    description: str
    write: Distribution
    ack: Distribution
    read: Distribution
    response: Distribution
    remote_delay: float = 0.0


_LNKD_SSD = _fit(0.9122, 0.235, 10.0, 1.66)
_LNKD_DISK_W = _fit(0.38, 1.05, 1.51, 0.183)
_YMMR_W = _fit(0.939, 3.0, 3.5, 0.0028)
"""YMMR writes with alpha 3.5, as in the authors' released simulator (class ``YammerDelayModel``
in nrw_solver/src/Simulator.java of github.com/pbailis/pbs-vldb-historical-paper-material),
not the 3.35 printed in the paper's Table 3: 3.5 reproduces the paper's 89.3% t-visibility at
t=0 for N=3, R=W=1 (89.29% at 1M trials, seed 1); 3.35 gives 88.72%."""
_YMMR_ARS = _fit(0.982, 1.5, 3.8, 0.0217)
_SOURCE = "fit from Bailis et al., PBS, VLDB 2012, Table 3 (Pareto/exponential mixtures)"

PROFILES: Mapping[str, LatencyProfile] = {
    p.name: p
    for p in (
        LatencyProfile(
            "lnkd-ssd",
            f"LinkedIn Voldemort on SSDs, {_SOURCE}",
            _LNKD_SSD,
            _LNKD_SSD,
            _LNKD_SSD,
            _LNKD_SSD,
        ),
        LatencyProfile(
            "lnkd-disk",
            f"LinkedIn Voldemort on spinning disks (slow writes), {_SOURCE}",
            _LNKD_DISK_W,
            _LNKD_SSD,
            _LNKD_SSD,
            _LNKD_SSD,
        ),
        LatencyProfile(
            "ymmr",
            f"Yammer Riak, {_SOURCE}; write Pareto alpha 3.5 as in the authors' simulator "
            "(the table prints 3.35), which reproduces the paper's 89.3% at t=0, N=3 R=W=1",
            _YMMR_W,
            _YMMR_ARS,
            _YMMR_ARS,
            _YMMR_ARS,
        ),
        LatencyProfile(
            "wan",
            "lnkd-disk with each replica in its own datacenter, 75 ms one-way between them "
            "(the PBS paper's WAN model)",
            _LNKD_DISK_W,
            _LNKD_SSD,
            _LNKD_SSD,
            _LNKD_SSD,
            remote_delay=_ms(75.0),
        ),
    )
}
"""Latency profiles by name. The fits (in ms) are those of the PBS paper; for YMMR writes alpha
is 3.5 as in the authors' released simulator (the paper's table prints 3.35; see ``_YMMR_W``)."""


def k_staleness_closed_form(n: int, r: int, w: int, k: int) -> float:
    """P(a read returns one of the last ``k`` versions) when each version sits on a uniformly
    random W-set of replicas and the read asks a random R-set: ``1 - (C(N-W,R)/C(N,R))^k``.
    ConfigError naming the argument unless 1 <= R, W <= N and K >= 1."""
    n = _positive_int(n, "n")
    r = _positive_int(r, "r", high=n)
    w = _positive_int(w, "w", high=n)
    k = _positive_int(k, "k")
    return 1.0 - (math.comb(n - w, r) / math.comb(n, r)) ** k


@dataclass(frozen=True, slots=True)
class QuorumDraws:
    """Pre-drawn message delays (seconds) for ``trials`` trials of an N-replica quorum.

    ``write``/``ack`` have shape ``(versions, trials, n)``: version 0 is the write whose
    visibility is measured, versions 1.. are the older ones k-staleness looks back over.
    ``read``/``response`` have shape ``(trials, n)``."""

    write: np.ndarray
    ack: np.ndarray
    read: np.ndarray
    response: np.ndarray

    @property
    def trials(self) -> int:
        """Number of trials drawn."""
        return int(self.read.shape[0])


@dataclass(frozen=True, slots=True)
class QuorumOutcomes:
    """Per-trial outcomes, the common output of both paths (compare with :meth:`equals`).

    ``consistent[j, i]``: the read started ``t[j]`` after commit in trial ``i`` returned the
    write. ``behind[i]``: how many versions older than the newest the probe read returned
    (``versions`` if none of the drawn versions). Latencies in seconds."""

    consistent: np.ndarray
    behind: np.ndarray
    read_latency: np.ndarray
    write_latency: np.ndarray

    def equals(self, other: QuorumOutcomes) -> bool:
        """True when every outcome of every trial is identical (bit for bit)."""
        return all(
            np.array_equal(getattr(self, name), getattr(other, name))
            for name in ("consistent", "behind", "read_latency", "write_latency")
        )


def _percentiles_ms(values: np.ndarray) -> tuple[tuple[float, float], ...]:
    points = np.percentile(values, PERCENTILES) * 1e3
    return tuple((p, float(v)) for p, v in zip(PERCENTILES, points, strict=True))


def _label(p: float) -> str:
    return f"p{p:g}"


@dataclass(frozen=True)
class QuorumResult:
    """Summary of a quorum experiment: t-visibility, k-staleness and latency percentiles.

    ``p_consistent[j]`` is P(read started ``t_ms[j]`` after commit returns the write);
    ``p_k[j]`` is P(read returns one of the last ``k[j]`` versions) with its closed form
    beside it. Every probability is a fraction of ``trials`` trials."""

    n: int
    r: int
    w: int
    trials: int
    seed: int
    method: str
    distributions: Mapping[str, str]
    t_ms: tuple[float, ...]
    p_consistent: tuple[float, ...]
    k: tuple[int, ...]
    p_k: tuple[float, ...]
    p_k_closed_form: tuple[float, ...]
    read_latency_ms: tuple[tuple[float, float], ...]
    write_latency_ms: tuple[tuple[float, float], ...]
    profile: str | None = field(default=None)

    def stderr(self, p: float) -> float:
        """Standard error of a probability estimated from ``trials`` Bernoulli trials."""
        return math.sqrt(p * (1.0 - p) / self.trials)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict: every figure, with the sample size and standard errors."""
        return {
            "model": "WARS (PBS, Bailis et al. VLDB 2012)",
            "n": self.n,
            "r": self.r,
            "w": self.w,
            "trials": self.trials,
            "seed": self.seed,
            "method": self.method,
            "profile": self.profile,
            "distributions": dict(self.distributions),
            "t_visibility": [
                {"t_ms": t, "p_consistent": p, "stderr": self.stderr(p)}
                for t, p in zip(self.t_ms, self.p_consistent, strict=True)
            ],
            "k_staleness": [
                {"k": k, "p_within_k": p, "stderr": self.stderr(p), "closed_form": c}
                for k, p, c in zip(self.k, self.p_k, self.p_k_closed_form, strict=True)
            ],
            "read_latency_ms": {_label(p): v for p, v in self.read_latency_ms},
            "write_latency_ms": {_label(p): v for p, v in self.write_latency_ms},
        }


def _positive_int(value: Any, path: str, *, low: int = 1, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(path, f"expected an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(path, f"must be {bound}, got {value}")
    return int(value)


@dataclass(frozen=True, slots=True)
class QuorumModel:
    """N replicas, write quorum W, read quorum R, and one delay distribution per message kind
    (write, ack, read request, read response), each in seconds."""

    n: int
    r: int
    w: int
    write: Distribution
    ack: Distribution
    read: Distribution
    response: Distribution
    remote_delay: float = 0.0
    profile: str | None = None

    def __post_init__(self) -> None:
        _positive_int(self.n, "n")
        _positive_int(self.r, "r", high=self.n)
        _positive_int(self.w, "w", high=self.n)
        for name in ("write", "ack", "read", "response"):
            object.__setattr__(self, name, parse_distribution(getattr(self, name), name))
        delay = self.remote_delay
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not delay >= 0:
            raise ConfigError("remote_delay", f"expected a non-negative number, got {delay!r}")
        if math.isinf(delay):
            raise ConfigError("remote_delay", "must be finite")

    @classmethod
    def from_profile(
        cls, profile: str | LatencyProfile, n: int, r: int, w: int, **overrides: Any
    ) -> QuorumModel:
        """A model with a named (see :data:`PROFILES`) or given profile's delays; keyword
        ``overrides`` (``write=``, ``ack=``, ``read=``, ``response=``, ``remote_delay=``)
        replace single entries and accept any :func:`parse_distribution` spelling."""
        if not isinstance(profile, str | LatencyProfile):
            raise ConfigError(
                "profile", f"expected a profile name or a LatencyProfile, got {profile!r}"
            )
        if isinstance(profile, str):
            if profile not in PROFILES:
                raise ConfigError(
                    "profile", f"unknown profile {profile!r}; known: {', '.join(PROFILES)}"
                )
            profile = PROFILES[profile]
        unknown = sorted(set(overrides) - {"write", "ack", "read", "response", "remote_delay"})
        if unknown:
            raise ConfigError(unknown[0], "not a quorum model parameter")
        fields: dict[str, Any] = {
            "write": profile.write,
            "ack": profile.ack,
            "read": profile.read,
            "response": profile.response,
            "remote_delay": profile.remote_delay,
        }
        fields.update(overrides)
        label = profile.name
        if overrides:
            label += f" with custom {', '.join(sorted(overrides))}"
        return cls(n, r, w, profile=label, **fields)

    def describe(self) -> dict[str, str]:
        """Human spelling of each message's delay distribution."""
        out = {
            "write": self.write.describe(),
            "ack": self.ack.describe(),
            "read": self.read.describe(),
            "response": self.response.describe(),
        }
        if self.remote_delay:
            out["remote_delay"] = f"{self.remote_delay * 1e3:g}ms one-way to non-local replicas"
        return out

    # -- drawing ---------------------------------------------------------------------------

    def _block(
        self, dist: Distribution, seed: int, purpose: int, version: int, block: int
    ) -> np.ndarray:
        """One block of draws from ``dist``, shape ``(CHUNK, n)``."""
        rng = np.random.default_rng([seed, purpose, version, block])
        return dist.sample(rng, CHUNK * self.n).reshape(CHUNK, self.n)

    def _remote(self, seed: int, purpose: int, version: int, block: int) -> np.ndarray:
        """Per-trial extra delay: ``remote_delay`` except at one uniformly drawn local replica."""
        rng = np.random.default_rng([seed, purpose, version, block])
        local = rng.integers(0, self.n, CHUNK)
        extra = np.full((CHUNK, self.n), self.remote_delay)
        extra[np.arange(CHUNK), local] = 0.0
        return extra

    def draw_block(self, seed: int, block: int, versions: int = 1) -> QuorumDraws:
        """Delays for trials ``[block * CHUNK, (block + 1) * CHUNK)``, one seeded stream per
        message kind, version and block. O(CHUNK * n * versions)."""
        writes, acks = [], []
        for v in range(versions):
            wd = self._block(self.write, seed, _WRITE, v, block)
            ad = self._block(self.ack, seed, _ACK, v, block)
            if self.remote_delay:
                extra = self._remote(seed, _WRITE_LOCAL, v, block)
                wd, ad = wd + extra, ad + extra
            writes.append(wd)
            acks.append(ad)
        rd = self._block(self.read, seed, _READ, 0, block)
        sd = self._block(self.response, seed, _RESPONSE, 0, block)
        if self.remote_delay:
            extra = self._remote(seed, _READ_LOCAL, 0, block)
            rd, sd = rd + extra, sd + extra
        return QuorumDraws(np.stack(writes), np.stack(acks), rd, sd)

    def draw(self, trials: int, seed: int, versions: int = 1) -> QuorumDraws:
        """Delays for ``trials`` trials: the concatenation of whole blocks, truncated."""
        _positive_int(trials, "trials")
        seed = _positive_int(seed, "seed", low=0)
        blocks = [self.draw_block(seed, b, versions) for b in range(-(-trials // CHUNK))]
        return QuorumDraws(
            np.concatenate([b.write for b in blocks], axis=1)[:, :trials],
            np.concatenate([b.ack for b in blocks], axis=1)[:, :trials],
            np.concatenate([b.read for b in blocks])[:trials],
            np.concatenate([b.response for b in blocks])[:trials],
        )

    # -- the two paths ---------------------------------------------------------------------

    def outcomes_vectorized(self, draws: QuorumDraws, t: Sequence[float]) -> QuorumOutcomes:
        """Outcomes of every trial with numpy: O(trials * n log n * (len(t) + versions))."""
        n, r, w = self.n, self.r, self.w
        trials = draws.trials
        rows = np.arange(trials)
        write_arrival = draws.write[0]
        acked = write_arrival + draws.ack[0]
        commit = np.partition(acked, w - 1, axis=1)[:, w - 1]
        consistent = np.empty((len(t), trials), dtype=bool)
        for j, tj in enumerate(t):
            arrive = (commit + tj)[:, None] + draws.read
            has = write_arrival <= arrive
            if r == n:
                consistent[j] = has.any(axis=1)
                continue
            answered = arrive + draws.response
            if r == 1:
                consistent[j] = has[rows, np.argmin(answered, axis=1)]
            else:
                first = np.argsort(answered, axis=1, kind="stable")[:, :r]
                consistent[j] = np.take_along_axis(has, first, axis=1).any(axis=1)
        probe = draws.read + draws.response
        order = np.argsort(probe, axis=1, kind="stable")
        read_latency = probe[rows, order[:, r - 1]]
        in_read = np.zeros((trials, n), dtype=bool)
        np.put_along_axis(in_read, order[:, :r], True, axis=1)
        versions = draws.write.shape[0]
        behind = np.full(trials, versions, dtype=np.int16)
        for v in range(versions - 1, -1, -1):
            quorum_order = np.argsort(draws.write[v] + draws.ack[v], axis=1, kind="stable")
            hit = np.take_along_axis(in_read, quorum_order[:, :w], axis=1).any(axis=1)
            behind[hit] = v
        return QuorumOutcomes(consistent, behind, read_latency, commit)

    def outcomes_events(self, draws: QuorumDraws, t: Sequence[float]) -> QuorumOutcomes:
        """Outcomes of every trial on a discrete-event :class:`Kernel`, one per trial, every
        message a callback: O(trials * n * (len(t) + versions) * log(events))."""
        trials = draws.trials
        versions = draws.write.shape[0]
        consistent = np.empty((len(t), trials), dtype=bool)
        behind = np.empty(trials, dtype=np.int16)
        read_latency = np.empty(trials)
        write_latency = np.empty(trials)
        wl, al = draws.write.tolist(), draws.ack.tolist()
        rl, sl = draws.read.tolist(), draws.response.tolist()
        ts = [float(x) for x in t]
        for i in range(trials):
            trial = _EventTrial(
                self.n,
                self.r,
                self.w,
                [wl[v][i] for v in range(versions)],
                [al[v][i] for v in range(versions)],
                rl[i],
                sl[i],
                ts,
            )
            consistent[:, i] = trial.consistent
            behind[i] = trial.behind
            read_latency[i] = trial.read_latency
            write_latency[i] = trial.commit
        return QuorumOutcomes(consistent, behind, read_latency, write_latency)

    # -- experiment ------------------------------------------------------------------------

    def outcomes(
        self,
        trials: int,
        seed: int,
        t: Sequence[float],
        versions: int = 1,
        method: Method = "vectorized",
        progress: Callable[[int], None] | None = None,
    ) -> QuorumOutcomes:
        """Per-trial outcomes, computed block by block (``progress(trials_done)`` after
        each); the same seed gives the same outcomes whichever ``method``."""
        _positive_int(trials, "trials")
        seed = _positive_int(seed, "seed", low=0)
        _positive_int(versions, "k", high=MAX_K)
        ts = _check_times(t)
        if method == "vectorized":
            run = self.outcomes_vectorized
        elif method == "events":
            run = self.outcomes_events
        else:
            raise ConfigError("method", f"expected 'vectorized' or 'events', got {method!r}")
        parts: list[QuorumOutcomes] = []
        done = 0
        for block in range(-(-trials // CHUNK)):
            draws = self.draw_block(seed, block, versions)
            take = min(CHUNK, trials - done)
            if take < CHUNK:
                draws = QuorumDraws(
                    draws.write[:, :take],
                    draws.ack[:, :take],
                    draws.read[:take],
                    draws.response[:take],
                )
            parts.append(run(draws, ts))
            done += take
            if progress is not None:
                progress(done)
        return QuorumOutcomes(
            np.concatenate([p.consistent for p in parts], axis=1),
            np.concatenate([p.behind for p in parts]),
            np.concatenate([p.read_latency for p in parts]),
            np.concatenate([p.write_latency for p in parts]),
        )

    def run(
        self,
        trials: int,
        seed: int,
        t: Sequence[float],
        k: Sequence[int] = (1,),
        method: Method = "vectorized",
        progress: Callable[[int], None] | None = None,
    ) -> QuorumResult:
        """t-visibility at each ``t`` (seconds after commit), k-staleness for each ``k`` and
        latency percentiles over ``trials`` trials seeded by ``seed``."""
        seed = _positive_int(seed, "seed", low=0)
        ks = tuple(_positive_int(x, "k", high=MAX_K) for x in _listed(k, "k"))
        if not ks:
            raise ConfigError("k", "expected at least one k")
        ts = _check_times(t)
        out = self.outcomes(trials, seed, ts, max(ks), method, progress)
        return self.summarize(out, seed, ts, ks, method)

    def summarize(
        self,
        out: QuorumOutcomes,
        seed: int,
        t: Sequence[float],
        k: Sequence[int],
        method: str,
    ) -> QuorumResult:
        """Probabilities and percentiles from per-trial outcomes."""
        trials = int(out.behind.shape[0])
        return QuorumResult(
            n=self.n,
            r=self.r,
            w=self.w,
            trials=trials,
            seed=seed,
            method=method,
            distributions=self.describe(),
            t_ms=tuple(float(x) * 1e3 for x in t),
            p_consistent=tuple(float(x) for x in out.consistent.mean(axis=1)),
            k=tuple(k),
            p_k=tuple(float(np.count_nonzero(out.behind < kk)) / trials for kk in k),
            p_k_closed_form=tuple(k_staleness_closed_form(self.n, self.r, self.w, kk) for kk in k),
            read_latency_ms=_percentiles_ms(out.read_latency),
            write_latency_ms=_percentiles_ms(out.write_latency),
            profile=self.profile,
        )


def _listed(values: Any, path: str) -> Iterable[Any]:
    """``values`` if it is a list of values (not a single one, nor a string)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ConfigError(path, f"expected a list, got {values!r}")
    return values


def _check_times(t: Sequence[float]) -> tuple[float, ...]:
    out = []
    for i, x in enumerate(_listed(t, "t")):
        if isinstance(x, bool) or not isinstance(x, int | float) or not (0 <= x < math.inf):
            raise ConfigError(f"t[{i}]", f"expected a non-negative finite time, got {x!r}")
        out.append(float(x))
    if not out:
        raise ConfigError("t", "expected at least one time")
    return tuple(out)


# Event priorities at equal times: a write reaches a replica before a read request arriving
# at the same instant (so W_i <= commit + t + R_i counts as visible); answers and acks at the
# coordinator run in replica order (priority _ANSWER + i), as the stable sort orders them.
_DELIVER, _REQUEST, _ANSWER = 0, 1, 2


class _EventTrial:
    """One trial as messages on a fresh :class:`Kernel`: version 0's write and its reads at
    each ``t`` after commit, the older versions' writes (acks only: which replicas form each
    write quorum) and a probe read started at 0 (read quorum and read latency)."""

    __slots__ = (
        "kernel",
        "n",
        "r",
        "w",
        "reads",
        "responses",
        "has",
        "acks",
        "quorums",
        "commit",
        "ts",
        "answers",
        "consistent",
        "probe",
        "read_latency",
        "behind",
    )

    def __init__(
        self,
        n: int,
        r: int,
        w: int,
        writes: list[list[float]],
        acks: list[list[float]],
        reads: list[float],
        responses: list[float],
        ts: list[float],
    ) -> None:
        self.kernel = kernel = Kernel()
        self.n, self.r, self.w = n, r, w
        self.reads, self.responses, self.ts = reads, responses, ts
        self.has = [False] * n
        self.acks = [0] * len(writes)
        self.quorums: list[list[int]] = [[] for _ in writes]
        self.commit = math.nan
        self.answers = [0] * len(ts)
        self.consistent = [False] * len(ts)
        self.probe: list[int] = []
        self.read_latency = math.nan
        for v, (wv, av) in enumerate(zip(writes, acks, strict=True)):
            for i in range(n):
                kernel.call_at(wv[i], self._deliver, v, i, av[i], priority=_DELIVER)
        for i in range(n):
            kernel.call_at(reads[i], self._probe_request, i, priority=_REQUEST)
        kernel.run()
        versions = len(writes)
        probe = set(self.probe)
        self.behind = next(
            (v for v, q in enumerate(self.quorums) if probe.intersection(q)), versions
        )

    def _deliver(self, version: int, i: int, ack_delay: float) -> None:
        if version == 0:
            self.has[i] = True
        k = self.kernel
        k.call_at(k.now + ack_delay, self._ack, version, i, priority=_ANSWER + i)

    def _ack(self, version: int, i: int) -> None:
        count = self.acks[version] + 1
        self.acks[version] = count
        if count <= self.w:
            self.quorums[version].append(i)
        if version == 0 and count == self.w:
            k = self.kernel
            self.commit = now = k.now
            for j, tj in enumerate(self.ts):
                k.call_at(now + tj, self._start_read, j, priority=_REQUEST)

    def _start_read(self, j: int) -> None:
        k = self.kernel
        now = k.now
        for i in range(self.n):
            k.call_at(now + self.reads[i], self._request, j, i, priority=_REQUEST)

    def _request(self, j: int, i: int) -> None:
        k = self.kernel
        k.call_at(k.now + self.responses[i], self._answer, j, self.has[i], priority=_ANSWER + i)

    def _answer(self, j: int, fresh: bool) -> None:
        count = self.answers[j] + 1
        self.answers[j] = count
        if count <= self.r and fresh:
            self.consistent[j] = True

    def _probe_request(self, i: int) -> None:
        k = self.kernel
        k.call_at(k.now + self.responses[i], self._probe_answer, i, priority=_ANSWER + i)

    def _probe_answer(self, i: int) -> None:
        if len(self.probe) < self.r:
            self.probe.append(i)
            if len(self.probe) == self.r:
                self.read_latency = self.kernel.now
