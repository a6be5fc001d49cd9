"""Command-line details a new user hits: `--json -` writes JSON (and only JSON) to stdout for
every command that has `--json`, a closed pipe ends quietly, and compact distribution
spellings work inside mixtures (with a hint to quote them in flow-style YAML)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from edgekv import load_config
from edgekv.cli import PIPE_CLOSED, main
from edgekv.lowlevel import Exponential, LogNormal, Mixture

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "examples" / "histories" / "login-after-purchase.edn"
PACKAGED = (resources.files("edgekv") / "data" / "regions.yaml").read_text()
PACKAGED_LAG = "  lag: {dist: lognormal, median: 300ms, sigma: 0.5}"


def _samples(tmp: Path) -> Path:
    path = tmp / "lag.csv"
    x = np.random.default_rng(1).lognormal(np.log(300.0), 0.5, size=500)
    path.write_text("".join(f"{v:.3f}\n" for v in x))
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "--users", "300", "--duration", "5s"],
        ["pbs", "--trials", "2000"],
        ["regions"],
        ["fit", "SAMPLES"],
        ["check", str(HISTORY), "--model", "session"],
        ["anomalies"],
    ],
    ids=lambda argv: argv[0],
)
def test_json_dash_writes_only_json_to_stdout(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = [str(_samples(tmp_path)) if a == "SAMPLES" else a for a in argv]
    assert main([*argv, "--json", "-"]) in (0, 1)  # check: 1 = the history violates it
    out = capsys.readouterr().out
    data = json.loads(out)  # the whole of stdout is one JSON document
    assert data and out.endswith(("}\n", "]\n"))
    assert not (tmp_path / "-").exists()


def test_bench_json_dash_is_the_json_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "--users", "300", "--duration", "5s", "--seed", "2"]
    assert main([*argv, "--json", str(tmp_path / "b.json")]) == 0
    capsys.readouterr()
    assert main([*argv, "--json", "-"]) == 0
    assert capsys.readouterr().out == (tmp_path / "b.json").read_text()


CLOSING = [
    ["regions"],
    ["bench", "--users", "300", "--duration", "5s"],
    ["pbs", "--trials", "500"],
    ["anomalies"],  # these print with print(), not rich: the OSError handler once caught it
    ["trace"],
]


@pytest.mark.parametrize("argv", CLOSING, ids=lambda argv: argv[0])
def test_a_closed_pipe_ends_quietly(argv: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # nobody will read: the first write fails with EPIPE
    try:
        out = subprocess.run(
            [sys.executable, "-m", "edgekv.cli", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write)
    assert out.returncode == PIPE_CLOSED
    assert out.stderr.strip() == ""  # (a progress bar, if shown, leaves a newline)


@pytest.mark.parametrize("argv", CLOSING[:2], ids=lambda argv: argv[0])
def test_piping_into_head_ends_quietly(argv: list[str]) -> None:
    command = " ".join([sys.executable, "-m", "edgekv.cli", *argv])
    out = subprocess.run(
        ["bash", "-c", f'{command} | head -1; echo "status ${{PIPESTATUS[0]}}"'],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and lines[1] in ("status 0", f"status {PIPE_CLOSED}")
    assert out.stderr.strip() == ""  # (a progress bar, if shown, leaves a newline)


def _config(tmp_path: Path, lag: str) -> Path:
    assert PACKAGED_LAG in PACKAGED
    path = tmp_path / "regions.yaml"
    path.write_text(PACKAGED.replace(PACKAGED_LAG, f"  lag: {lag}"))
    return path


def test_compact_spellings_inside_a_mixture(tmp_path: Path) -> None:
    lag = (
        '{dist: mixture, components: [{weight: 0.9, dist: "lognormal:300ms,0.5"}, '
        "{weight: 0.1, dist: exp:2s}]}"
    )
    cfg = load_config(_config(tmp_path, lag))
    assert cfg.lag == Mixture((LogNormal(0.3, 0.5), Exponential(2.0)), (0.9, 0.1))


def test_an_unquoted_comma_in_flow_yaml_says_to_quote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lag = "{dist: mixture, components: [{weight: 0.9, dist: lognormal:300ms,0.5}]}"
    assert main(["regions", "--config", str(_config(tmp_path, lag))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "replication.lag.components[0].0.5" in err
    assert 'quote a compact spelling that has a comma: dist: "lognormal:300ms,0.5"' in err
    lag = '{dist: mixture, components: [{weight: 1, dist: "gauss:3ms"}]}'
    assert main(["regions", "--config", str(_config(tmp_path, lag))]) == 2
    err = capsys.readouterr().err.strip()
    assert "replication.lag.components[0].dist" in err and "unknown distribution" in err


def test_an_unquoted_comma_in_a_link_says_to_quote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hint comes from the one check of every mapping's fields, so a flow-style link
    (not only a mixture component) gets it."""
    links = "  links: [{from: East US, to: UK South, lag: lognormal:5s,0.5}]"
    path = tmp_path / "regions.yaml"
    path.write_text(re.sub(r"(?m)^  links: .*$", links, PACKAGED))
    assert main(["regions", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "replication.links[0].0.5: unknown field; allowed: from, to, lag" in err
    assert 'quote a value that has a comma: lag: "lognormal:5s,0.5"' in err
