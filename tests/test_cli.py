"""The command line as a user meets it: every command has help with an example, mistakes are
one line on stderr with exit code 2, and the anomaly scenarios are reachable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgekv.cli import COMMANDS, main


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_shows_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "example" in capsys.readouterr().out  # "example:" or "examples:"


def test_a_bad_config_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "regions.yaml"
    bad.write_text("regions:\n  - {name: A, lat: 0, lon: 0}\nstore: {granularity: cell}\n")
    out = subprocess.run(
        [sys.executable, "-m", "edgekv.cli", "regions", "--config", str(bad)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        f"edgekv regions: error: {bad}: store.granularity: got 'cell'; allowed: field, item"
    ]


def test_an_unknown_flag_is_one_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["bench", "--users", "many"])
    assert info.value.code == 2
    assert "invalid" in capsys.readouterr().err


def test_anomalies_command_shows_each_anomaly_and_its_fix(tmp_path: Path) -> None:
    path = tmp_path / "anomalies.json"
    assert main(["anomalies", "--json", str(path)]) == 0
    rows = json.loads(path.read_text())
    assert [r["name"] for r in rows] == ["clock skew", "item-level merge", "tombstone resurrection"]
    assert all(r["happened"] and r["prevented"] for r in rows)
    skew = rows[0]
    assert skew["observed"] != skew["expected"] == skew["observed_safe"]


@pytest.mark.parametrize("command", ["pbs", "serve", "anomalies", "bench", "sweep"])
def test_a_negative_seed_is_a_usage_error(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main([command, "--seed", "-1"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert "seed" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
        (["bench", "--users", "1e308"], "argument --users: invalid int value: '1e308'"),
        (["bench", "--json", "."], "--json: '.' is a directory, expected a file"),
        (["regions", "--probe", "1000000000000"], "--probe: must be between 0 and 100,000"),
        (["trace", "--system", "nope"], "argument --system: invalid choice: 'nope'"),
        # a value that starts like a negative number is the option's value, not an option
        (["bench", "--duration", "-5s"], "--duration: expected a positive duration, got '-5s'"),
        (["bench", "--duration", "-.5s"], "--duration: expected a positive duration"),
    ],
)
def test_bad_arguments_are_one_line_with_exit_code_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse's own errors too: one line naming the option, no usage block."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits from inside parse_args
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"edgekv {argv[0]}: error: ") and message in err and "\n" not in err
