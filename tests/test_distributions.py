"""Distribution specs parse in both spellings, sample with the right moments, reject nonsense."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from edgekv import ConfigError
from edgekv import lowlevel as dists
from edgekv.lowlevel import DelayStream, parse_distribution, parse_duration, parse_duration_list

SPECS = [
    ("const:50ms", 0.05),
    ("uniform:10ms,30ms", 0.02),
    ("exp:100ms", 0.1),
    ("normal:100ms,20ms", 0.1),
    ("lognormal:300ms,0.5", 0.3 * np.exp(0.125)),
    ("pareto:10ms,3", 0.015),
    (
        {
            "dist": "mixture",
            "components": [
                {"weight": 3, "dist": "constant", "value": "10ms"},
                {"weight": 1, "dist": "exponential", "mean": "50ms"},
            ],
        },
        0.75 * 0.01 + 0.25 * 0.05,
    ),
    ({"dist": "empirical", "samples": [0.01, 0.02, "30ms"]}, 0.02),
]


@pytest.mark.parametrize(("spec", "mean"), SPECS, ids=[str(s)[:30] for s, _ in SPECS])
def test_sample_mean_matches_the_declared_mean(spec: object, mean: float) -> None:
    dist = parse_distribution(spec, "lag")
    assert dist.mean == pytest.approx(mean, rel=1e-6)
    draws = dist.sample(np.random.default_rng(1), 200_000)
    assert (draws >= 0).all()
    # 200k draws: the sample mean is within 2% for all of these (the Pareto has finite variance).
    assert draws.mean() == pytest.approx(mean, rel=0.02), f"n=200000, {dist.describe()}"


def test_normal_is_truncated_not_clipped() -> None:
    draws = parse_distribution("normal:0ms,10ms", "x").sample(np.random.default_rng(2), 50_000)
    assert (draws > 0).all(), "redrawn, so no mass piles up at exactly 0"


def test_stream_gives_the_same_draws_as_the_vector() -> None:
    dist = parse_distribution("exp:5ms", "x")
    stream = DelayStream(dist, np.random.default_rng(3), block=64)
    drawn = [stream() for _ in range(200)]
    rng = np.random.default_rng(3)
    expected = np.concatenate([dist.sample(rng, 64) for _ in range(4)])[:200]
    assert drawn == expected.tolist()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("300ms", 0.3), ("0.3s", 0.3), ("2m", 120.0), (0.25, 0.25), ("15us", 15e-6), ("0", 0.0)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text, "x") == pytest.approx(seconds)


@pytest.mark.parametrize("bare", [250, 0.3, "250", "1e3"])
def test_text_and_yaml_durations_need_a_unit(bare: object) -> None:
    """One unit rule: Python numbers are seconds; YAML and the command line state units."""
    with pytest.raises(ConfigError, match="^lag: a duration needs a unit"):
        parse_duration(bare, "lag", bare="error")
    assert parse_duration(0, "lag", bare="error") == 0.0


def test_a_unit_after_a_list_applies_to_its_bare_numbers() -> None:
    assert parse_duration_list("0,1,5,10ms", "--t") == pytest.approx([0, 1e-3, 5e-3, 0.01])
    assert parse_duration_list("0.5s,300ms", "--t") == pytest.approx([0.5, 0.3])
    with pytest.raises(ConfigError, match="needs a unit"):
        parse_duration_list("1,2", "--t")


@pytest.mark.parametrize("bad", ["fast", "-1ms", None, True, "1h", "nanms"])
def test_bad_durations_name_the_field(bad: object) -> None:
    with pytest.raises(ConfigError, match="^lag.median"):
        parse_duration(bad, "lag.median")


@pytest.mark.parametrize(
    "spec",
    [
        "lognormal:300ms",
        "exp:0ms",
        "uniform:30ms,10ms",
        {"dist": "pareto", "scale": "1ms", "alpha": 0},
        7j,
    ],
)
def test_bad_specs_raise_config_error(spec: object) -> None:
    with pytest.raises(ConfigError):
        parse_distribution(spec, "replication.lag")


@pytest.mark.parametrize("spec", ["lognormal:300ms,0.5", "normal:1ms,10ms", "pareto:10ms,2.5"])
def test_stream_holds_little_while_idle_and_draws_whole_pages(spec: str) -> None:
    dist = parse_distribution(spec, "x")
    stream = DelayStream(dist, np.random.default_rng(5), block=4096)
    first = [stream() for _ in range(10)]
    assert len(stream._buf) == 64  # a window of the page, not the page
    drawn = first + [stream() for _ in range(3 * 4096 - 10)]
    rng = np.random.default_rng(5)
    expected = np.concatenate([dist.sample(rng, 4096) for _ in range(3)])
    assert drawn == expected.tolist()


BUILT_BADLY = [
    (lambda: dists.LogNormal(-2.0, 0.5), "LogNormal.median"),
    (lambda: dists.LogNormal(0.3, 0.0), "LogNormal.sigma"),
    (lambda: dists.Normal(-1.0, 0.1), "Normal.mu"),
    (lambda: dists.Uniform(2.0, 1.0), "Uniform.high"),
    (lambda: dists.Exponential(float("nan")), "Exponential.mean_s"),
    (lambda: dists.Constant("300ms"), "Constant.value"),  # type: ignore[arg-type]
    (lambda: dists.Pareto(1e12, 2.0), "Pareto.scale"),
    (lambda: dists.Pareto(0.01, float("inf")), "Pareto.alpha"),
    (lambda: dists.Empirical(()), "Empirical.samples"),
    (lambda: dists.Empirical((0.1, -0.2)), "Empirical.samples[1]"),
    (lambda: dists.Mixture((dists.Constant(1.0),), (0.5,)), "Mixture.weights"),
    (lambda: dists.Mixture((1.0,), (1.0,)), "Mixture.components[0]"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("build", "field"), BUILT_BADLY, ids=[f for _, f in BUILT_BADLY])
def test_a_distribution_built_in_python_is_checked_when_built(
    build: Callable[[], object], field: str
) -> None:
    """A distribution made directly (not parsed from a spec) fails where it is made, naming
    its field, rather than with "math domain error" at its first draw or, for a negative
    normal mean, redrawing for ever."""
    with pytest.raises(ConfigError) as info:
        build()
    assert info.value.path == field


def test_numpy_parameters_are_stored_as_floats() -> None:
    dist = dists.LogNormal(np.float64(0.3), np.int64(1))  # type: ignore[arg-type]
    assert type(dist.median) is float and type(dist.sigma) is float
    assert dist == dists.LogNormal(0.3, 1.0)


def test_the_path_is_optional_in_python() -> None:
    assert parse_distribution(0.3) == dists.Constant(0.3)
    assert parse_duration("5ms") == 0.005
    with pytest.raises(ConfigError, match=r"^distribution\.median: expected a positive"):
        parse_distribution("lognormal:-1s,0.5")
