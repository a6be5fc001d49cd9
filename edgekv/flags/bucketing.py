"""DevCycle's bucketing: murmur3 hashes, rollout percentages, variation choice.

As `lib/shared/bucketing-assembly-script/assembly/bucketing/bucketing.ts` (DevCycleHQ/js-sdks):
the target hash is murmur3_x86_32(target `_id`, seed 1); a user's bucketing hash is
murmur3(bucketing value, seed target hash) / (2**32 - 1) and their rollout hash the same of
bucketing value + "_rollout". A user passes a rollout when its current percentage is non-zero
and the rollout hash is at most that percentage; the variation is the first, in variation-id
descending order, whose cumulative percentage exceeds the bucketing hash.

Hashed strings are ASCII bytes as usual, but, as DevCycle's WASM (`helpers/murmurhash.ts`)
does, every UTF-16 code unit above 127 hashes as one backslash byte: "\u00f7" -> b"\\".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import mmh3
import numpy as np

if TYPE_CHECKING:
    from .config import Rollout, Target
    from .user import CustomValue

__all__ = [
    "MAX_HASH",
    "bounded_hash",
    "bounded_hashes",
    "murmur3",
    "bucketing_value",
    "decide_variation",
    "decide_variations",
    "passes_rollout",
    "rollout_percentage",
]

#: Largest murmur3 x86 32-bit value, the divisor that bounds hashes to [0, 1].
MAX_HASH = 4294967295.0
_DEFAULT_BUCKETING_VALUE = "null"


def murmur3(value: str, seed: int) -> int:
    """DevCycle's murmur3_x86_32 of a string: unsigned, non-ASCII as above (O(len(value)))."""
    if value.isascii():
        return mmh3.hash(value, seed, signed=False)
    # JS strings are UTF-16 code units: a lone surrogate is one unit, passed through as such
    units = value.encode("utf-16-le", "surrogatepass")
    key = bytes(
        lo if hi == 0 and lo < 128 else 0x5C for lo, hi in zip(units[::2], units[1::2], strict=True)
    )
    return mmh3.hash(key, seed, signed=False)


def bounded_hash(value: str, seed: int) -> float:
    """murmur3(value, seed) / (2**32 - 1), in [0, 1] (O(len(value)))."""
    return murmur3(value, seed) / MAX_HASH


def bounded_hashes(values: Sequence[str], seed: int) -> np.ndarray:
    """:func:`bounded_hash` of each value, as float64: murmur3 in numpy over the ASCII values
    of each length at once, the others one by one. O(total length)."""
    out = np.empty(len(values))
    if not "".join(values).isascii():
        for k, v in enumerate(values):
            if not v.isascii():
                out[k] = bounded_hash(v, seed)
        rows = np.array([k for k, v in enumerate(values) if v.isascii()], dtype=np.intp)
        out[rows] = bounded_hashes([values[k] for k in rows.tolist()], seed)
        return out
    lengths = np.fromiter(map(len, values), dtype=np.intp, count=len(values))
    data = np.frombuffer("".join(values).encode("ascii"), dtype=np.uint8)
    if len(values) and np.all(lengths == lengths[0]):  # (user ids often are)
        return _murmur3_rows(data.reshape(len(values), int(lengths[0])), seed) / MAX_HASH
    starts = np.cumsum(lengths) - lengths
    for length in np.unique(lengths).tolist():
        same = lengths == length
        block = data[starts[same][:, None] + np.arange(length)]
        out[same] = _murmur3_rows(block, seed) / MAX_HASH
    return out


def _murmur3_rows(data: np.ndarray, seed: int) -> np.ndarray:
    """murmur3_x86_32 (Appleby's reference, as mmh3) of each row of a (rows, length) uint8
    array, as uint32: uint32 arithmetic wraps as the reference's does. O(rows x length)."""
    c1, c2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
    rows, length = data.shape
    h: np.ndarray = np.full(rows, seed, dtype=np.uint32)
    n_blocks = length // 4
    blocks = np.ascontiguousarray(data[:, : 4 * n_blocks]).view("<u4").reshape(rows, n_blocks)
    for i in range(n_blocks):
        h ^= _rotl(blocks[:, i] * c1, 15) * c2
        h = _rotl(h, 13) * np.uint32(5) + np.uint32(0xE6546B64)
    tail = data[:, 4 * n_blocks :].astype(np.uint32)
    if length & 3:
        k = np.zeros(rows, dtype=np.uint32)
        for i in reversed(range(length & 3)):
            k ^= tail[:, i] << np.uint32(8 * i)
        h ^= _rotl(k * c1, 15) * c2
    h ^= np.uint32(length & 0xFFFFFFFF)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    """32-bit rotate left of uint32 values."""
    out: np.ndarray = (x << np.uint32(r)) | (x >> np.uint32(32 - r))
    return out


def bucketing_value(target: Target, user_id: str, custom: Mapping[str, CustomValue]) -> str:
    """The string a target buckets on: user_id, or the customData value its bucketingKey names.

    A missing or null value buckets as "null"; numbers and booleans as their JSON text, with
    integral floats keeping their ".0" as in AssemblyScript ("2.0").
    """
    key = target.bucketing_key
    if key == "user_id":
        return user_id
    value = custom.get(key)
    if value is None:
        return _DEFAULT_BUCKETING_VALUE
    if value.__class__ is str:
        return value
    if value.__class__ is bool:
        return "true" if value else "false"
    if value.__class__ is float and value.is_integer():
        return f"{int(value)}.0"
    try:
        return repr(value)
    except ValueError:  # an int of more than 4300 digits: in JS, beyond float range
        return "-Infinity" if isinstance(value, int) and value < 0 else "Infinity"


def rollout_percentage(rollout: Rollout, now_ms: float) -> float:
    """The share of users a rollout admits at `now_ms` (O(stages)).

    `schedule` admits everyone from its start date. Otherwise the current stage is the last
    stage dated at or before now (or the start, once passed); before a `linear` next stage the
    percentage interpolates between the two, else it holds.
    """
    start_ms = rollout.start_date_ms
    if rollout.type == "schedule":
        return 1.0 if now_ms >= start_ms else 0.0
    current = None
    following = None
    for stage in rollout.stages:
        if stage.date_ms <= now_ms:
            current = stage
        elif following is None:
            following = stage
    if current is not None:
        current_pct, current_ms = current.percentage, current.date_ms
    elif start_ms < now_ms:
        current_pct, current_ms = rollout.start_percentage, start_ms
    else:
        return 0.0
    if following is None or following.type == "discrete":
        return current_pct
    progress = (now_ms - current_ms) / (following.date_ms - current_ms)
    if progress == 0:
        return 0.0
    return current_pct + (following.percentage - current_pct) * progress


def passes_rollout(rollout: Rollout, rollout_hash: float, now_ms: float) -> bool:
    """Whether a user with this rollout hash is inside the rollout at `now_ms`."""
    percentage = rollout_percentage(rollout, now_ms)
    return percentage != 0 and rollout_hash <= percentage


def decide_variations(target: Target, bucketing_hashes: np.ndarray) -> np.ndarray:
    """Per hash, the index into ``target.thresholds`` of :func:`decide_variation`'s choice:
    the first cumulative percentage above the hash (at least it, for a hash of 1.0), else
    the last. O(hashes x log distribution)."""
    cumulative = np.array([c for c, _ in target.thresholds])
    above = np.searchsorted(cumulative, bucketing_hashes, side="right")
    at_one = np.searchsorted(cumulative, 1.0, side="left")
    index = np.where(bucketing_hashes == 1.0, np.minimum(above, at_one), above)
    out: np.ndarray = np.minimum(index, len(cumulative) - 1)
    return out


def decide_variation(target: Target, bucketing_hash: float) -> str:
    """The variation id a bucketing hash falls into (O(distribution)).

    parse_config admits only distributions summing to 1 within 1e-6, so the float residue of
    that sum is the only way to fall past the end; the last variation takes it.
    """
    thresholds = target.thresholds
    for cumulative, variation in thresholds:
        if bucketing_hash < cumulative or (cumulative == 1.0 and bucketing_hash == 1.0):
            return variation
    return thresholds[-1][1]
