"""Short forms of the reliability tests (docs/RELIABILITY.md; the long
forms are tools/crash-test and friends). Each must stay quick: the whole
file runs in well under three minutes."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reliability"))

import crash  # noqa: E402


def test_kill9_under_load_loses_nothing(tmp_path):
    """5 rounds of kill -9 under 3 concurrent clients: every 2xx recorded
    once, no change without its record, the trail delivers it all and
    validate-logs passes."""
    r = crash.run(tmp_path, rounds=5)
    assert r["acked"] > 0 and r["delivered"] >= r["acked"]


@pytest.mark.skipif(bool(os.environ.get("GREENTRAIL_TEST_STORE")), reason="SQLite's WAL only")
def test_torn_wal_frame_leaves_a_consistent_prefix(tmp_path):
    r = crash.torn_wal(tmp_path)
    assert 0 < r["survivors"] < r["writes"]


import diskfull  # noqa: E402


@pytest.mark.skipif(bool(os.environ.get("GREENTRAIL_TEST_STORE")), reason="the data dir holds the SQLite store")
def test_disk_full_fails_closed_and_recovers(tmp_path):
    if not diskfull.available(tmp_path):
        pytest.skip("cannot mount a tmpfs here (needs root); the fault switch test in "
                    "test_durability.py covers the same path")
    r = diskfull.run(tmp_path)
    assert r["log_lines"] >= r["failed_writes"]


import targets  # noqa: E402


def test_api_destination_outage_loses_nothing_and_does_not_slow_calls(tmp_path):
    r = targets.api_destination(tmp_path, outage_calls=500)
    assert r["delivered"] == 500 + 200 + 100


def test_trail_bucket_deleted_then_recreated(tmp_path):
    r = targets.trail_bucket_deleted(tmp_path)
    assert r["error_shown"] == "NoSuchBucket"


@pytest.mark.skipif(bool(os.environ.get("GREENTRAIL_TEST_STORE")), reason="runs on the SQLite pass only")
def test_disk_pressure_warnings(tmp_path):
    if not diskfull.available(tmp_path):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    r = diskfull.pressure(tmp_path)
    assert "low" in r["log_lines"][0] and "critical" in r["log_lines"][1]


import simclock  # noqa: E402


def test_dead_targets_for_simulated_minutes(tmp_path):
    """SNS HTTP, an API destination and a trail's bucket dead for 8 minutes
    of the server's simulated clock (refused, hanging, 500, 503): back-offs
    follow their schedules, calls are not slowed, memory stays flat, the
    errors show, and everything is delivered (in order) once they are back.
    The long form (an hour) is tools/target-outage-test."""
    r = simclock.run(tmp_path, sim_minutes=8, speed=60)
    assert r["trail_error"] == "NoSuchBucket"
    assert r["distinct_delivered"] == r["calls"] and r["sns_delivered_after"] == r["sns_published"]
