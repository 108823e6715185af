"""tools/bulkload --db (the fixture of bench/run's LookupEvents figures)
writes SQLite journal rows as the store does since schema 2: records
compressed together with its LookupEvents summary carrying the copy's own
EventId and EventTime, so LookupEvents serves them like the API's own
events (by attribute, paged, newest first). SQLite pass only."""
import datetime
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import evdict  # noqa: E402  (tools/evdict.py: the stored record blobs)

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


@pytest.mark.sqlite_only
def test_bulkload_sqlite_rows_serve_like_the_apis(make_server):
    s = make_server()
    gg = s.client("greengrass")
    g = gg.create_group(Name="bulk-tpl")
    for _ in range(3):
        gg.get_group(GroupId=g["Id"])
    gg.list_groups()
    s.stop()
    db_path = os.path.join(s.data_dir, "greentrail.db")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bulkload"), "--db", db_path,
                        "--count", "3000", "--days", "10"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    db = sqlite3.connect(db_path)
    rows = [r[0] for r in db.execute("SELECT json FROM events")]
    db.close()
    # compressed, each with its summary (the second length in the header)
    assert len(rows) >= 3000 and all(isinstance(b, bytes) and evdict.unpack(b)[1] for b in rows)
    # with the current preset dictionary (evpack's dictionary form)
    assert sum(1 for b in rows if b[3] == 0x80 | evdict.CURRENT) >= 3000
    s.start()
    ct = s.client("cloudtrail")
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    q = dict(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetGroup"}], EndTime=old, MaxResults=50)
    page = ct.lookup_events(**q)
    evs = page["Events"]
    assert len(evs) == 50 and "NextToken" in page
    for e in evs:
        rec = json.loads(e["CloudTrailEvent"])
        assert rec["eventID"] == e["EventId"] and e["EventName"] == "GetGroup" and e["Username"] == "admin"
        t = datetime.datetime.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        assert t == e["EventTime"]
    assert len({e["EventId"] for e in evs}) == 50
    times = [e["EventTime"] for e in evs]
    assert times == sorted(times, reverse=True)
    nxt = ct.lookup_events(NextToken=page["NextToken"], **q)["Events"]
    assert nxt and not {e["EventId"] for e in evs} & {e["EventId"] for e in nxt}
    one = evs[9]
    got = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": one["EventId"]}])["Events"]
    assert got == [one]


@pytest.mark.sqlite_only
def test_schema2_blobs_and_dictionary_blobs_serve_alike(make_server):
    """A store holding blobs of both forms (schema 2's, without a
    dictionary, from before; the dictionary form, written since schema 3)
    answers every one of them with the same record and summary fields."""
    s = make_server()
    gg = s.client("greengrass")
    g = gg.create_group(Name="mixed-tpl")
    gg.get_group(GroupId=g["Id"])
    s.stop()
    db_path = os.path.join(s.data_dir, "greentrail.db")
    for form in ("0", str(evdict.CURRENT)):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bulkload"), "--db", db_path,
                            "--count", "60", "--days", "1", "--blob-dict", form],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] >= 3
    forms = [b[3] & 0x80 for (b,) in db.execute("SELECT json FROM events")]
    db.close()
    assert forms.count(0) >= 60 and forms.count(0x80) >= 60
    s.start()
    ct = s.client("cloudtrail")
    evs, kw = [], dict(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetGroup"}],
                       MaxResults=50)
    while True:
        page = ct.lookup_events(**kw)
        evs += page["Events"]
        if "NextToken" not in page:
            break
        kw["NextToken"] = page["NextToken"]
    assert len(evs) >= 2 * 30
    for e in evs:
        rec = json.loads(e["CloudTrailEvent"])
        assert rec["eventID"] == e["EventId"] and rec["eventName"] == "GetGroup" and e["Username"] == "admin"
