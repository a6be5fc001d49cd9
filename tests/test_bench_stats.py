"""`edgekv bench` prints and writes every rate with its count and Wilson interval, every
percentile with its sample size, interval and a mark where its tail is thin."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout
from typing import Any

import pytest

from edgekv.cli import main
from edgekv.lowlevel import THIN_TAIL, flatten, wilson

SMALL = ["--users", "1200", "--duration", "15s", "--mobility", "0.4"]


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("stats") / "b.json"
    buffer = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, redirect_stdout(buffer):
        mp.setenv("COLUMNS", "200")
        assert main(["bench", *SMALL, "--json", str(out)]) == 0
    return json.loads(out.read_text()), buffer.getvalue()


def _shares(figures: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path, _ in flatten(figures):
        if path.endswith(".pct"):
            node: Any = figures
            for part in path.split(".")[:-1]:
                node = node[part]
            found.append((path[: -len(".pct")], node))
    return found


def test_every_share_carries_its_wilson_interval(bench_run: tuple[dict[str, Any], str]) -> None:
    data, _ = bench_run
    seen = 0
    for figures in data["systems"].values():
        for path, share in _shares(figures):
            seen += 1
            assert set(share) == {"n", "of", "pct", "lo", "hi"}, path
            ci = wilson(share["n"], share["of"])
            assert share["lo"] == pytest.approx(100 * ci.lo) and share["hi"] == pytest.approx(
                100 * ci.hi
            )
            assert share["lo"] <= share["pct"] <= share["hi"], path
    assert seen >= 3 * 11


def test_every_percentile_carries_n_interval_and_tail(
    bench_run: tuple[dict[str, Any], str],
) -> None:
    data, _ = bench_run
    thin = 0
    for figures in data["systems"].values():
        for lat in (
            figures["reads"]["latency_ms"],
            figures["reads"]["away_latency_ms"],
            figures["logins"]["latency_ms"],
            figures["writes"]["latency_ms"],
            figures["staleness_ms"],
        ):
            for key, ci in lat["ci"].items():
                if lat["n"] == 0:
                    assert ci is None and lat[key] is None
                    continue
                q = float(key[1:]) / 100
                assert ci["tail"] == math.floor(round(lat["n"] * min(q, 1 - q), 9))
                assert ci["thin"] == (ci["tail"] < THIN_TAIL)
                thin += ci["thin"]
                assert ci["lo"] is None or ci["hi"] is None or ci["lo"] <= ci["hi"]
                if not ci["thin"]:  # a thin tail's estimate may fall below the lower bound
                    assert ci["lo"] <= lat[key] <= ci["hi"]
    assert thin > 0  # p99.9 of a few thousand reads rests on a handful of samples


def test_table_shows_intervals_counts_and_thin_marks(
    bench_run: tuple[dict[str, Any], str],
) -> None:
    data, out = bench_run
    eventual = data["systems"]["replicated:eventual"]
    stale = eventual["stale_reads"]
    # The headline line: rate, interval and both counts.
    assert (
        f"{stale['pct']:.3f}% [{stale['lo']:.3g}, {stale['hi']:.3g}] "
        f"({stale['n']:,}/{stale['of']:,}) of reads stale"
    ) in out
    reads = eventual["reads"]["latency_ms"]
    row = next(line for line in out.splitlines() if "read p99.9 ms" in line)
    assert reads["ci"]["p99.9"]["thin"] and f"{reads['p99.9']:.1f}*" in row
    row = next(line for line in out.splitlines() if "read p50 ms" in line)
    ci = reads["ci"]["p50"]
    assert f"{reads['p50']:.1f} [{ci['lo']:.1f}, {ci['hi']:.1f}]" in row
    assert "fewer than 10 samples beyond this percentile" in out
