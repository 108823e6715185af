"""Crash test: kill -9 the server at random moments under concurrent load,
restart it on the same data dir, and check that nothing acknowledged was
lost and nothing unacknowledged was half-applied.

Each round starts the server, runs THREADS boto3 clients that create,
read and delete Greengrass groups as fast as they can (recording the
request id of every 2xx), and kills the server with SIGKILL after a random
0.2-1.5 s. After the last round the server is started once more and:
  - every 2xx request id is in LookupEvents exactly once;
  - the groups that exist are exactly those of CreateGroup records without
    errorCode minus those of DeleteGroup records without errorCode (a call
    cut by the kill is either wholly there, change and record, or not at
    all: no record of a change that was not made, no change unrecorded);
  - a trail with log file validation, delivering every second, delivers
    every acknowledged event to S3 (a duplicate only as the same eventID,
    never one request under two eventIDs), and `aws cloudtrail
    validate-logs` passes over the whole run.

Also a torn last write (torn_wal): with the server killed, the WAL's last
frame is cut short; on restart SQLite ignores the incomplete frame (and so
the transaction it belongs to), and the data is a consistent prefix of the
writes: groups g0..gk for some k, each with its record, none without.

Used by tests/e2e/test_reliability_short.py (short form) and tools/crash-test
(long form). Returns figures for docs/RELIABILITY.md."""
import os
import pathlib
import random
import signal
import sys
import threading
import time
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from botocore.exceptions import ClientError  # noqa: E402

from conftest import AWS_CLIS, Server  # noqa: E402
from trail_util import FAST, delivered_records, make_bucket, run_validate_logs, wait_for  # noqa: E402

THREADS = 3


def _worker(server, tid, stop, acked, lock):
    """Loop of CreateGroup / GetGroup / ListGroups / DeleteGroup until the
    server dies or `stop` is set. Every 2xx is appended to `acked` as
    (requestId, operation)."""
    gg = server.client("greengrass")
    mine = []
    n = 0
    while not stop.is_set():
        n += 1
        try:
            r = random.random()
            if r < 0.5 or not mine:
                out = gg.create_group(Name=f"t{tid}-{time.time_ns()}")
                mine.append(out["Id"])
                op = "CreateGroup"
            elif r < 0.7:
                out = gg.get_group(GroupId=random.choice(mine))
                op = "GetGroup"
            elif r < 0.8:
                out = gg.list_groups(MaxResults="5")
                op = "ListGroups"
            else:
                out = gg.delete_group(GroupId=mine.pop(random.randrange(len(mine))))
                op = "DeleteGroup"
        except ClientError as e:
            code = e.response["ResponseMetadata"].get("HTTPStatusCode", 0)
            if 200 <= code < 300:
                raise
            continue
        except Exception:   # connection refused/reset: the server was killed
            return
        with lock:
            acked.append((out["ResponseMetadata"]["RequestId"], op))


def run(tmp_path, rounds=5, validate=True, seed=None):
    rnd = random.Random(seed)
    data = os.path.join(str(tmp_path), "crash-data")
    s = Server(data, args=FAST).start()
    make_bucket(s, "crash-bkt")
    ct = s.client("cloudtrail")
    start = time.time() - 60
    trail = ct.create_trail(Name="crash", S3BucketName="crash-bkt", EnableLogFileValidation=True)["TrailARN"]
    ct.start_logging(Name="crash")
    acked, lock = [], threading.Lock()
    kill_after = []
    for _ in range(rounds):
        if s.proc is None:
            s.start()
        stop = threading.Event()
        ts = [threading.Thread(target=_worker, args=(s, i, stop, acked, lock)) for i in range(THREADS)]
        for t in ts:
            t.start()
        delay = rnd.uniform(0.2, 1.5)
        kill_after.append(delay)
        time.sleep(delay)
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        s.proc = None
        stop.set()
        for t in ts:
            t.join(timeout=60)
            assert not t.is_alive()
    s.start()
    try:
        return _check(s, acked, tmp_path, trail, start, validate, rounds, kill_after)
    finally:
        assert s.stop() == 0, s.output()


def _check(s, acked, tmp_path, trail, start, validate, rounds, kill_after):
    events = s.lookup()
    by_req = Counter(e_req(e) for e in events)
    missing = [r for r, _ in acked if by_req[r] == 0]
    dup = [r for r, _ in acked if by_req[r] > 1]
    assert not missing, f"{len(missing)} acknowledged calls not recorded: {missing[:5]}"
    assert not dup, f"recorded more than once: {dup[:5]}"
    # no change without its record, no record without its change
    import json
    created, deleted = set(), set()
    for e in events:
        rec = json.loads(e["CloudTrailEvent"])
        if rec.get("errorCode"):
            continue
        if rec["eventName"] == "CreateGroup":
            created.add(rec["responseElements"]["Id"])
        elif rec["eventName"] == "DeleteGroup":
            deleted.add(rec["requestParameters"]["GroupId"])
    gg = s.client("greengrass")
    listed, tok = set(), None
    while True:
        r = gg.list_groups(**({"NextToken": tok} if tok else {}))
        listed |= {g["Id"] for g in r["Groups"]}
        tok = r.get("NextToken")
        if not tok:
            break
    assert listed == created - deleted, (sorted(listed ^ (created - deleted)))[:10]
    # trail delivery: every acknowledged event delivered (the lookup above
    # and list_groups are recorded too; they need not be delivered yet)
    ackset = {r for r, _ in acked}
    want = {json.loads(e["CloudTrailEvent"])["eventID"] for e in events if e_req(e) in ackset}
    recs = wait_for(lambda: (lambda r: r if want <= {x["eventID"] for x in r} else None)(
        delivered_records(s, "crash-bkt")), timeout=90)
    ids_per_req = defaultdict(set)
    by_id = defaultdict(list)
    for x in recs:
        ids_per_req[x["requestID"]].add(x["eventID"])
        by_id[x["eventID"]].append(x)
    assert all(len(v) == 1 for v in ids_per_req.values())
    assert all(all(y == v[0] for y in v) for v in by_id.values())
    dup_delivered = sum(len(v) - 1 for v in by_id.values())
    results = {"rounds": rounds, "acked": len(acked), "acked_by_op": dict(Counter(op for _, op in acked)),
               "events": len(events), "groups": len(listed), "delivered": len(recs),
               "delivered_duplicates": dup_delivered,
               "kill_after_s": [round(k, 2) for k in kill_after]}
    if validate and AWS_CLIS:
        time.sleep(4)   # a digest after the last log file
        rc, out, err = run_validate_logs(s, AWS_CLIS[0][1], pathlib.Path(str(tmp_path)), trail, start)
        assert rc == 0, out + err
        assert "INVALID" not in out and "not found" not in out.lower(), out
        results["validate_logs"] = out.strip().splitlines()[-3:]
    return results


def e_req(e):
    import json
    return json.loads(e["CloudTrailEvent"]).get("requestID")


def torn_wal(tmp_path, writes=40, cut=100):
    """Sequential creates g0..g{writes-1}, kill -9, cut `cut` bytes off the
    end of the WAL, restart; the survivors must be g0..gk with records."""
    data = os.path.join(str(tmp_path), "torn-data")
    s = Server(data).start()
    gg = s.client("greengrass")
    ids = [gg.create_group(Name=f"g{i}")["Id"] for i in range(writes)]
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    s.proc = None
    wals = [os.path.join(dp, f) for dp, _, fs in os.walk(data) for f in fs if f.endswith("-wal")]
    wals = [w for w in wals if os.path.getsize(w) > 0]
    assert wals, "no WAL left after kill -9"
    before = {w: os.path.getsize(w) for w in wals}
    for w in wals:
        os.truncate(w, before[w] - cut)
    s.start()
    try:
        gg = s.client("greengrass")
        names = [g["Name"] for g in gg.list_groups(MaxResults="100")["Groups"]]
        got = sorted(int(n[1:]) for n in names)
        k = len(got)
        assert got == list(range(k)), got          # a prefix, no holes
        assert k < writes                           # the cut transaction is gone
        recs = s.records("CreateGroup")
        assert sorted(r["requestParameters"]["Name"] for r in recs) == sorted(names)
        # and the server takes writes again
        gg.create_group(Name="after")
        return {"writes": writes, "cut_bytes": cut, "wal_bytes": before, "survivors": k, "ids": len(ids)}
    finally:
        assert s.stop() == 0, s.output()


if __name__ == "__main__":
    import argparse
    import json
    import tempfile
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seed", type=int)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        print(json.dumps(run(d, rounds=a.rounds, seed=a.seed), indent=1))
        print(json.dumps(torn_wal(d), indent=1))
