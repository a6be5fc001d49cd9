"""The checkers on histories a real edgekv cluster records in virtual time (``cluster.record``,
``cluster.check``): users carrying sessions write and read one key from random regions.
Eventual reads break linearizability and read-your-writes; session reads keep every session
guarantee; strong reads and the single-home store are linearizable; the settled replicated
cluster converges to the LWW winner. Also the recorder itself: ring, file sink, naming."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

import edgekv
from edgekv.check import CheckResult, load_history
from edgekv.cli import main as cli
from edgekv.lowlevel import Recorder

REGIONS = ("East US", "UK South", "Japan East")
KEY = "user:1"


async def _users(
    cluster: edgekv.Cluster, level: str | None, seed: int, users: int, ops: int
) -> None:
    """Each user (a Session) writes unique documents or reads KEY at ``level`` from a random
    region, thinking 0-400 ms between operations; a refused or timed-out operation is
    recorded as such and the user carries on."""

    async def user(name: str, rng: random.Random) -> None:
        session = edgekv.Session()
        for n in range(ops):
            node = cluster[rng.choice(REGIONS)]
            with contextlib.suppress(edgekv.Unavailable):  # recorded as failed
                if rng.random() < 0.4:
                    await node.put(KEY, {"by": name, "n": n}, session=session)
                else:
                    await node.read(KEY, level, session=session)
            await asyncio.sleep(rng.uniform(0.0, 0.4))

    rng = random.Random(seed)
    await asyncio.gather(*(user(f"u{i}", random.Random(rng.random())) for i in range(users)))


def run(
    level: str | None,
    seed: int,
    system: str = "replicated",
    models: tuple[str, ...] = ("linearizable", "session", "convergence"),
    users: int = 3,
    ops: int = 40,
) -> dict[str, CheckResult]:
    """Record a run of the users on ``system`` and check it against each model."""
    results: dict[str, CheckResult] = {}

    async def main() -> None:
        async with edgekv.Cluster(seed=seed, system=system) as cluster:
            cluster.record()
            await _users(cluster, level, seed, users, ops)
            await cluster.settle()
            assert cluster.recorder is not None and len(cluster.recorder) == users * ops
            for model in models:
                results[model] = cluster.check(model)

    edgekv.run(main(), seed=seed)
    return results


def test_eventual_reads_break_linearizability_and_read_your_writes() -> None:
    results = run("eventual", seed=1)
    lin = results["linearizable"]
    assert not lin.ok and len(lin.violations[0].operations) <= 4
    assert "read-your-writes" in {v.guarantee for v in results["session"].violations}
    assert results["convergence"].ok


def test_session_reads_keep_every_session_guarantee() -> None:
    results = run("session", seed=2)
    assert results["session"].ok and results["session"].checked == 120
    assert results["convergence"].ok


def test_strong_reads_are_linearizable() -> None:
    results = run("strong", seed=3)
    assert results["linearizable"].ok, results["linearizable"].describe()
    assert results["session"].ok and results["convergence"].ok


def test_single_home_is_linearizable() -> None:
    results = run(None, seed=4, system="single-home", models=("linearizable", "session"))
    assert results["linearizable"].ok, results["linearizable"].describe()
    assert results["session"].ok


def test_dynamodb_strong_reads_by_mode() -> None:
    """MRSC strong reads are linearizable, the conflicting writes it refuses recorded as
    errors; MREC strong reads are strong only for writes of the reader's own region ("How
    DynamoDB global tables work", docs.aws.amazon.com/amazondynamodb/latest/developerguide/
    V2globaltables_HowItWorks.html), so across regions they are not."""
    mrsc = run("strong", seed=3, system="dynamodb-mrsc", models=("linearizable", "session"))
    assert mrsc["linearizable"].ok and mrsc["session"].ok
    mrec = run("strong", seed=3, system="dynamodb-mrec", models=("linearizable", "session"))
    assert not mrec["linearizable"].ok and not mrec["session"].ok


def test_recorder_values_processes_and_file_sink(tmp_path: Path) -> None:
    sink = tmp_path / "ops.jsonl"

    async def main() -> Recorder:
        async with edgekv.Cluster(seed=5, lag="300ms") as cluster:
            recorder = cluster.record(path=sink)
            alice, bob = edgekv.Session(), edgekv.Session()
            await cluster["East US"].put(KEY, {"stars": 3}, session=bob)
            await cluster["UK South"].get(KEY, session=alice)
            await cluster["UK South"].patch(KEY, {"plan": "pro"})
            await cluster["UK South"].delete("user:2")
            cluster.partition("East US", "UK South")
            with pytest.raises(edgekv.Unavailable):
                await cluster["UK South"].get(KEY, "strong")
            await cluster["UK South"].get(KEY, session=bob)
            cluster.heal()
            cluster.save_history(tmp_path / "h.edn")
            return recorder

    recorder = edgekv.run(main(), seed=5)
    ops = list(recorder)
    assert [(o.process, o.kind, o.value, o.outcome) for o in ops] == [
        ("session-1", "write", {"stars": 3}, "ok"),
        ("session-2", "read", None, "ok"),  # the put has not reached UK South yet
        ("UK South", "write", {"plan": "pro"}, "ok"),
        ("UK South", "write", None, "ok"),
        ("UK South", "read", None, "unavailable"),
        ("session-1", "read", {"stars": 3, "plan": "pro"}, "ok"),  # waited for its write
    ]
    assert ops[0].version > 0 and ops[0].complete > ops[0].invoke
    assert load_history(sink) == recorder.history()
    assert cli(["check", str(sink), "--model", "session"]) == 0  # bob read his own write
    assert load_history(tmp_path / "h.edn") == recorder.history()
    assert recorder.dropped == 0


def test_ring_is_bounded_and_checks_refuse_a_truncated_history() -> None:
    async def main() -> None:
        async with edgekv.Cluster(seed=6) as cluster:
            with pytest.raises(TypeError, match="record"):
                cluster.check("session")
            recorder = cluster.record(limit=3)
            for n in range(5):
                await cluster["East US"].put(KEY, {"n": n})
            assert len(recorder) == 3 and recorder.dropped == 2
            assert [o.value for o in recorder] == [{"n": 2}, {"n": 3}, {"n": 4}]
            assert cluster.check("session").ok
            with pytest.raises(edgekv.ConfigError, match="limit: the recorder dropped its 2"):
                cluster.check("linearizable")

    edgekv.run(main(), seed=6)
    with pytest.raises(edgekv.ConfigError, match="limit"):
        Recorder(REGIONS, limit=0)


def test_recorder_file_sink_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(edgekv.ConfigError, match="path: cannot write"):
        Recorder(REGIONS, path=tmp_path / "missing" / "ops.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"process": "p"}) + "\n")
    with pytest.raises(edgekv.ConfigError, match=r"bad\.jsonl: line 1: expected an object of"):
        load_history(bad)
    fields = dict(process="p", region="r", key="k", kind="read", value=None, version=0)
    bad.write_text("\n" + json.dumps({**fields, "invoke": 1, "complete": 0, "outcome": "ok"}))
    with pytest.raises(edgekv.ConfigError, match=r"line 2\.complete: 0 is before invoke"):
        load_history(bad)


def test_same_seed_same_history() -> None:
    def history() -> str:
        async def main() -> str:
            async with edgekv.Cluster(seed=7) as cluster:
                cluster.record()
                await _users(cluster, "eventual", 7, 2, 10)
                return json.dumps([o.describe() for o in cluster.recorder or ()])

        return edgekv.run(main(), seed=7)

    assert history() == history()


def test_named_sessions_and_the_readme_example() -> None:
    recorder = Recorder(REGIONS)
    alice, bob = edgekv.Session(), edgekv.Session()
    recorder.name(alice, "alice")
    assert recorder.process(bob) == "session-1" and recorder.process(alice) == "alice"
    with pytest.raises(ValueError, match="already recorded as 'session-1'"):
        recorder.name(bob, "bob")
    with pytest.raises(edgekv.ConfigError, match="process"):
        recorder.name(edgekv.Session(), "")
    example = Path(__file__).parent.parent / "examples" / "check_cluster.py"
    out = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, check=True
    ).stdout
    eventual, session = out.split("--- session ---")
    assert "read-your-writes violated on key 'user:42':" in eventual
    assert "alice @ UK South: read user:42 = absent" in eventual
    assert "linearizability violated" in eventual
    assert "session: ok (2 operations checked)" in session
    assert "linearizable: ok (2 operations checked)" in session
