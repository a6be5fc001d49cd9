"""The anomalies users must be able to see, each next to the setting that prevents it."""

from __future__ import annotations

from edgekv.lowlevel import clock_skew, item_merge, resurrection


def test_wall_clock_skew_loses_the_newer_write_and_hlc_keeps_it() -> None:
    result = clock_skew(seed=1)
    assert result.observed == {"stars": 1}
    assert result.observed_safe == {"stars": 2}
    assert result.happened and result.prevented


def test_item_merge_loses_a_concurrent_field_update_and_field_merge_keeps_both() -> None:
    result = item_merge(seed=1)
    assert result.observed in ({"stars": 1, "plan": "pro"}, {"stars": 5, "plan": "free"})
    assert result.observed_safe == {"stars": 5, "plan": "pro"}
    assert "anomaly" in result.describe()


def test_short_tombstone_grace_resurrects_and_no_grace_does_not() -> None:
    result = resurrection(seed=1, grace=2.0, partition=10.0)
    assert result.observed == {"badge": "gold"}
    assert result.observed_safe is None
    assert result.happened and result.prevented


def test_grace_longer_than_the_partition_does_not_resurrect() -> None:
    assert not resurrection(seed=1, grace=30.0, partition=10.0).happened
