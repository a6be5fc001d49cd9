"""The simulator against closed forms: with exponential lag of mean m, a read at another region
t after a write sees it with probability 1 - exp(-t/m)."""

from __future__ import annotations

import math

import pytest

from edgekv import load_config
from edgekv.lowlevel import Kernel, Mesh

MEAN = 0.1
N = 20_000


def twin_regions(lag: str) -> Mesh:
    cfg = load_config(
        {
            # Same site: no RTT floor, so the lag distribution alone decides visibility.
            "regions": [{"name": "A", "lat": 0, "lon": 0}, {"name": "B", "lat": 0, "lon": 0}],
            "replication": {"lag": lag, "anti_entropy": None},
        }
    )
    kernel = Kernel()
    return Mesh(cfg, 42, kernel)


@pytest.mark.parametrize("t", [0.01, 0.05, 0.1, 0.2, 0.4])
def test_exponential_lag_visibility_matches_the_closed_form(t: float) -> None:
    mesh = twin_regions(f"exp:{MEAN * 1000:g}ms")
    kernel = mesh.scheduler
    assert isinstance(kernel, Kernel)
    seen = 0

    def read(key: str) -> None:
        nonlocal seen
        seen += mesh.nodes[1].peek(key) is not None

    for i in range(N):
        kernel.call_at(i * 1e-3, mesh.write, 0, "put", f"k{i}", {"v": i})
        kernel.call_at(i * 1e-3 + t, read, f"k{i}")
    kernel.run()
    expected = 1 - math.exp(-t / MEAN)
    sigma = math.sqrt(expected * (1 - expected) / N)
    observed = seen / N
    assert abs(observed - expected) < 4 * sigma, (
        f"P(visible at t={t * 1000:g}ms) = {observed:.4f} over n={N} reads; closed form "
        f"1-exp(-t/m) = {expected:.4f}; allowed sampling error 4 sigma = {4 * sigma:.4f}"
    )


def test_constant_lag_is_a_step() -> None:
    mesh = twin_regions("const:100ms")
    kernel = mesh.scheduler
    assert isinstance(kernel, Kernel)
    mesh.write(0, "put", "k", {"v": 1})
    kernel.run(until=0.0999)
    assert mesh.nodes[1].peek("k") is None
    kernel.run(until=0.1)
    assert mesh.nodes[1].peek("k") == {"v": 1}
