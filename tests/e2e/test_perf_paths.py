"""The paths bench/run made fast keep their behaviour:

- keep-alive: a GET answered on a kept-alive connection (libmicrohttpd closes
  the connection when the answer is queued in the headers-only first call);
- read-only operations run on a reader snapshot and are still recorded, with
  read-your-writes, errors and concurrency;
- LookupEvents by ResourceType streams the resource index (no duplicates,
  complete paging);
- the retention pruner deletes old events (first seqs) and their resources.
"""
import concurrent.futures
import socket
import sqlite3
import time

import pytest


def _response(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a response"
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        body += sock.recv(65536)
    return head.decode(), body[:length]


def test_keep_alive_get(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        for _ in range(3):
            s.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
            head, body = _response(s)
            assert head.startswith("HTTP/1.1 200")
            assert "connection: close" not in head.lower()
            assert body == b'{"status":"ok"}'


def test_read_path_read_your_writes_and_records(server):
    gg = server.client("greengrass")

    def create_then_get(i):
        g = gg.create_group(Name=f"rp-{i}")
        got = gg.get_group(GroupId=g["Id"])
        assert got["Id"] == g["Id"] and got["Name"] == f"rp-{i}"
        return got["ResponseMetadata"]["RequestId"]

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        rids = list(ex.map(create_then_get, range(24)))
    with pytest.raises(gg.exceptions.ClientError) as ei:
        gg.get_group(GroupId="00000000-0000-0000-0000-000000000000")
    missing_rid = ei.value.response["ResponseMetadata"]["RequestId"]

    recs = server.records("GetGroup")
    by_rid = {r["requestID"]: r for r in recs}
    assert set(rids) <= set(by_rid)
    assert all("errorCode" not in by_rid[r] for r in rids)
    assert by_rid[missing_rid]["errorCode"] == "IdNotFoundException"
    assert len(recs) == 25
    # read-only calls of both services are recorded on the read path too
    gg.list_groups()
    server.lookup("GetGroup")
    assert len(server.records("ListGroups")) == 1
    assert len(server.records("LookupEvents")) >= 1


def test_lookup_by_resource_type_pages_without_duplicates(server):
    gg = server.client("greengrass")
    for i in range(7):
        g = gg.create_group(Name=f"rt-{i}")
        gg.get_group(GroupId=g["Id"])
    ct = server.client("cloudtrail")
    q = [{"AttributeKey": "ResourceType", "AttributeValue": "AWS::Greengrass::Group"}]
    ids, kw = [], {"LookupAttributes": q, "MaxResults": 3}
    while True:
        r = ct.lookup_events(**kw)
        assert len(r["Events"]) <= 3
        ids += [e["EventId"] for e in r["Events"]]
        if "NextToken" not in r:
            break
        kw["NextToken"] = r["NextToken"]
    assert len(ids) == len(set(ids))
    # the same set as filtering every event on its resources
    everything = server.lookup()
    want = {e["EventId"] for e in everything
            if any(x.get("ResourceType") == "AWS::Greengrass::Group" for x in e.get("Resources", []))}
    assert set(ids) == want and len(want) >= 14


@pytest.mark.sqlite_only
def test_pruner_deletes_old_events_and_their_resources(make_server, tmp_path):
    data = tmp_path / "prune"
    s = make_server(args=["--retention-days", "1"], data_dir=data)
    gg = s.client("greengrass")
    for i in range(5):
        gg.create_group(Name=f"g-{i}")
    assert s.stop() == 0
    path = str(data / "greentrail.db")
    db = sqlite3.connect(path)
    seqs = [r[0] for r in db.execute("SELECT seq FROM events ORDER BY seq")]
    old = seqs[:3]   # the oldest events come first in seq order, as in real life
    ten_days = 10 * 86400000
    for table in ("events", "event_resources"):
        db.executemany(f"UPDATE {table} SET time_ms = time_ms - ? WHERE seq = ?", [(ten_days, q) for q in old])
    db.commit()
    assert db.execute("SELECT count(*) FROM event_resources WHERE seq IN (?,?,?)", old).fetchone()[0] == 3
    db.close()
    s.start()   # the pruner runs at start
    marks = ",".join("?" * len(old))
    deadline = time.time() + 10
    while True:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        left = db.execute(f"SELECT count(*) FROM events WHERE seq IN ({marks})", old).fetchone()[0]
        res = db.execute(f"SELECT count(*) FROM event_resources WHERE seq IN ({marks})", old).fetchone()[0]
        kept = db.execute("SELECT count(*) FROM events WHERE seq > ?", (old[-1],)).fetchone()[0]
        db.close()
        if (left, res) == (0, 0) or time.time() > deadline:
            break
        time.sleep(0.1)
    assert (left, res) == (0, 0)
    assert kept >= len(seqs) - len(old)   # recent events stay
    assert len(s.records("CreateGroup")) == 2
    assert s.stop() == 0
