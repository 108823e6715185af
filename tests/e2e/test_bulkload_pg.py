"""tools/bulkload --pg (the fixture of bench/scale's LookupEvents figures)
fills PostgreSQL's partitioned journal with records the API then serves
like its own: monthly partitions for the whole range (nothing in the
default partition), every partition indexed, realistic records (copies of
real ones with their own eventID/eventTime), LookupEvents by attribute and
paging over them. Runs on the PostgreSQL pass only (GREENTRAIL_TEST_STORE).
"""
import datetime
import json
import os
import subprocess
import sys

import pytest

from conftest import Server

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")

pytestmark = pytest.mark.skipif(not os.environ.get("GREENTRAIL_TEST_STORE"),
                                reason="PostgreSQL pass only (GREENTRAIL_TEST_STORE)")


def psql(url, sql):
    return subprocess.run(["psql", "-X", "-At", "-d", url, "-c", sql], check=True, capture_output=True,
                          text=True, timeout=60).stdout.strip()


def test_bulkload_pg_fills_partitions_and_lookup_serves_it(tmp_path):
    s = Server(tmp_path / "d").start()
    try:
        gg = s.client("greengrass")
        g = gg.create_group(Name="bulk-tpl")
        gid, garn = g["Id"], g["Arn"]
        for _ in range(3):
            gg.get_group(GroupId=gid)
        gg.list_groups()
        gg.create_function_definition(Name="f")
    finally:
        assert s.stop() == 0
    url = s.store_url
    n = 3000
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bulkload"), "--pg", url, "--count", str(n),
                        "--days", "90", "--chunk", "700"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert '"loaded": 3000' in r.stdout

    # every row in a monthly partition, none in the default one; each
    # partition of events has its primary key and the 8 lookup indexes
    assert psql(url, "SELECT count(*) FROM events WHERE seq <= 3000") == "3000"
    assert psql(url, "SELECT count(*) FROM events_pdefault") == "0"
    # each copy has its LookupEvents summary (schema 2), with its own EventId (checked below)
    assert psql(url, "SELECT count(*) FROM events WHERE seq <= 3000 AND summary IS NULL") == "0"
    assert psql(url, "SELECT count(*) FROM event_resources_pdefault") == "0"
    parts = psql(url, "SELECT relid::text FROM pg_partition_tree('events') WHERE isleaf").split()
    assert len([p for p in parts if p != "events_pdefault"]) >= 4   # 90 days touch 4 months at least
    for p in parts:
        assert psql(url, f"SELECT count(*) FROM pg_index WHERE indrelid = '{p}'::regclass AND indisvalid") == "9", p

    # a second load on the same store is refused (seqs 1..N are taken)
    r2 = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bulkload"), "--pg", url, "--count", "10"],
                        capture_output=True, text=True, timeout=120)
    assert r2.returncode == 1 and "already holds" in r2.stderr

    s2 = Server(tmp_path / "d", args=["--store", url]).start()
    try:
        ct = s2.client("cloudtrail")
        old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=60)
        page = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetGroup"}],
                                EndTime=old, MaxResults=50)
        evs = page["Events"]
        assert len(evs) == 50 and "NextToken" in page
        ids = set()
        for e in evs:
            assert e["EventName"] == "GetGroup" and e["EventTime"] <= old
            rec = json.loads(e["CloudTrailEvent"])
            # the copy carries its own identity and time, not the template's
            assert rec["eventID"] == e["EventId"]
            t = datetime.datetime.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc)
            assert abs((t - e["EventTime"]).total_seconds()) < 1
            ids.add(e["EventId"])
        assert len(ids) == 50
        times = [e["EventTime"] for e in evs]
        assert times == sorted(times, reverse=True)
        nxt = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetGroup"}],
                               EndTime=old, MaxResults=50, NextToken=page["NextToken"])["Events"]
        assert nxt and not ids & {e["EventId"] for e in nxt}
        # by resource name and by event id, through the indexes of the partitions
        one = evs[7]
        got = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": one["EventId"]}])
        assert [e["EventId"] for e in got["Events"]] == [one["EventId"]]
        byres = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": garn}],
                                 MaxResults=50)["Events"]
        assert len(byres) == 50
    finally:
        assert s2.stop() == 0
