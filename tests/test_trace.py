"""``edgekv trace``: the space-time diagram's data (lanes, writes, replication arrows with the
lost ones, fresh and stale reads, the cut link) from a seeded run, and the PNG it draws."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekv import default_config
from edgekv.cli import main
from edgekv.lowlevel import LOGINS, PURCHASES, build_trace


def test_trace_data_of_the_story() -> None:
    trace = build_trace(seed=1)
    names = default_config().names
    assert trace.lanes == names and trace.window == (0.0, 3.0)
    assert [(w.region, w.at) for w in trace.writes] == [("East US", at) for at, _ in PURCHASES]
    for w in trace.writes:  # each commit is sent at once to every other region
        direct = [a for a in trace.arrows if a.src == "East US" and a.sent == w.at]
        assert sorted(a.dst for a in direct) == sorted(set(names) - {"East US"})
        assert all(w.version in a.versions and a.arrives > w.at for a in direct)  # type: ignore[operator]
    assert not any(a.lost for a in trace.arrows) and not trace.partitions
    assert [r.start for r in trace.reads] == list(LOGINS)
    assert not trace.reads[0].stale  # before any write: nothing to miss
    assert any(r.stale for r in trace.reads) and not trace.reads[-1].stale
    assert build_trace(seed=1) == trace


def test_trace_partition_loses_the_message_and_shades_the_link() -> None:
    trace = build_trace(seed=1, partition=("East US", "UK South"))
    (lost,) = [a for a in trace.arrows if a.lost]
    assert (lost.src, lost.dst, lost.sent) == ("East US", "UK South", PURCHASES[0][0])
    assert trace.partitions == (("East US", "UK South", 0.0, 1.5),)
    uk = [r for r in trace.reads if r.start < 1.5]
    assert all(r.version == 0 for r in uk) and sum(r.stale for r in uk) == len(uk) - 1


def test_trace_window_and_single_home() -> None:
    late = build_trace(seed=1, window=(1.0, 2.0))
    assert [r.start for r in late.reads] == [t for t in LOGINS if 1.0 <= t <= 2.0]
    assert [w.at for w in late.writes] == [1.6] and all(1 <= a.sent <= 2 for a in late.arrows)
    home = build_trace("single-home", seed=1)
    assert len(home.writes) == 2 and home.arrows == () and not any(r.stale for r in home.reads)
    with pytest.raises(ValueError, match="window"):
        build_trace(window=(2.0, 1.0))


def test_trace_command_writes_the_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "trace.png"
    assert main(["trace", "--plot", str(png), "--partition", "East US,UK South"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "2 writes, 24 replication messages (1 lost)" in out
    assert "link East US <-> UK South cut" in out and "read got nothing, stale by 1" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "3s,1s"], "--window: expected START < END"),
        (["--window", "1s"], "--window: expected START,END"),
        (["--partition", "East US,Mars"], "--partition: unknown region 'Mars'"),
        (["--plot", "out.txt"], "--plot: expected a .png path"),
    ],
)
def test_trace_command_errors_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(["trace", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
