"""Three anomalies of asynchronous LWW replication, each run twice in virtual time: once in
the setting that shows it and once in the setting that prevents it.

* :func:`clock_skew`: a region whose wall clock runs 5 s behind writes after another region;
  under ``clock: wall`` its newer write loses LWW everywhere, under ``clock: hlc`` it wins.
* :func:`item_merge`: two regions patch different fields of one document at once; item-level
  merge keeps one patch, field-level keeps both.
* :func:`resurrection`: a region cut off by a partition patches a document that is deleted
  elsewhere; a tombstone grace period shorter than the partition lets the delete be forgotten
  and the patch brings the document back; without a grace period it stays deleted.

``python -c "import edgekv._bench.anomalies as a; print(a.report())"`` prints all three.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Any

from .._core.config import Config
from .._drivers.cluster import Cluster, Diverged
from .._drivers.files import default_config
from .._drivers.vloop import run

__all__ = ["Anomaly", "clock_skew", "item_merge", "report", "resurrection"]

KEY = "user:1"


@dataclass(frozen=True, slots=True)
class Anomaly:
    """What a scenario should end with, and what it ends with in each setting."""

    name: str
    story: str
    expected: dict[str, Any] | None
    setting: str
    observed: dict[str, Any] | None
    """Document read after convergence in the setting that shows the anomaly."""
    safe_setting: str
    observed_safe: dict[str, Any] | None
    """Document read after convergence in the setting that prevents it."""

    @property
    def happened(self) -> bool:
        """True when the anomalous setting lost or resurrected data."""
        return self.observed != self.expected

    @property
    def prevented(self) -> bool:
        """True when the safe setting ended as expected."""
        return self.observed_safe == self.expected

    def describe(self) -> str:
        """Three lines: the story, and what each setting ended with."""
        return (
            f"{self.name}: {self.story}\n"
            f"  expected {self.expected}\n"
            f"  {self.setting:<28} -> {self.observed}"
            f"{'   <- anomaly' if self.happened else ''}\n"
            f"  {self.safe_setting:<28} -> {self.observed_safe}"
        )


def clock_skew(seed: int = 1, skew: float = -5.0) -> Anomaly:
    """East US writes stars=1; a second after UK South has received it, UK South, whose clock
    is ``skew`` seconds off, sets stars=2. Read from East US after convergence."""
    base = default_config()
    regions = tuple(
        dataclasses.replace(r, clock_skew=skew) if r.name == "UK South" else r for r in base.regions
    )

    async def scenario(cfg: Config) -> dict[str, Any] | None:
        async with Cluster(cfg, seed=seed) as cluster:
            us, uk = cluster["East US"], cluster["UK South"]
            await us.put(KEY, {"stars": 1})
            while not uk.version(KEY):
                await cluster.advance(0.01)
            await cluster.advance(1.0)
            await uk.patch(KEY, {"stars": 2})
            await cluster.settle()
            return await us.get(KEY)

    return Anomaly(
        "clock skew",
        f"UK South's clock is {skew:+g} s off; it sets stars=2 after East US set stars=1",
        {"stars": 2},
        "clock: wall",
        run(scenario(base.replace(regions=regions, clock="wall")), seed=seed),
        "clock: hlc",
        run(scenario(base.replace(regions=regions, clock="hlc")), seed=seed),
    )


def item_merge(seed: int = 1) -> Anomaly:
    """East US patches stars while UK South patches plan, at the same instant."""

    async def scenario(granularity: str) -> dict[str, Any] | None:
        async with Cluster(seed=seed, granularity=granularity) as cluster:
            us, uk = cluster["East US"], cluster["UK South"]
            await us.put(KEY, {"stars": 1, "plan": "free"})
            await cluster.settle()
            await us.patch(KEY, {"stars": 5})
            await uk.patch(KEY, {"plan": "pro"})
            await cluster.settle()
            return await uk.get(KEY)

    return Anomaly(
        "item-level merge",
        "East US patches stars=5 while UK South patches plan=pro",
        {"stars": 5, "plan": "pro"},
        "granularity: item",
        run(scenario("item"), seed=seed),
        "granularity: field",
        run(scenario("field"), seed=seed),
    )


def resurrection(seed: int = 1, grace: float = 2.0, partition: float = 10.0) -> Anomaly:
    """Japan East is cut off for ``partition`` seconds; meanwhile it patches the document and
    East US deletes it afterwards. Read from East US once the partition heals."""

    async def scenario(tombstone_grace: float | None) -> dict[str, Any] | None:
        async with Cluster(seed=seed, tombstone_grace=tombstone_grace) as cluster:
            us, jp = cluster["East US"], cluster["Japan East"]
            await us.put(KEY, {"stars": 1})
            await cluster.settle()
            cluster.isolate("Japan East")
            await jp.patch(KEY, {"badge": "gold"})
            await cluster.advance(0.1)
            await us.delete(KEY)
            await cluster.advance(partition)
            cluster.heal()
            with contextlib.suppress(Diverged):  # a short grace leaves regions apart for good
                await cluster.settle()
            return await us.get(KEY)

    return Anomaly(
        "tombstone resurrection",
        f"a {partition:g} s partition; the delete is newer than the cut-off region's patch",
        None,
        f"tombstone_grace: {grace:g}s",
        run(scenario(grace), seed=seed),
        "tombstone_grace: null",
        run(scenario(None), seed=seed),
    )


def report(seed: int = 1) -> str:
    """All three anomalies, described."""
    return "\n\n".join(
        a.describe() for a in (clock_skew(seed), item_merge(seed), resurrection(seed))
    )
