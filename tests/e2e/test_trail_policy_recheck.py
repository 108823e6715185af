"""Delivery re-checks the bucket policy (src/cloudtrail/ct_deliver.c).

CreateTrail checks that the bucket policy lets cloudtrail.amazonaws.com
write; AWS also authorizes every PutObject at delivery, so a policy later
changed to keep CloudTrail out (or a deleted bucket) stops delivery. Then
nothing is written, the cursor stays (nothing lost), GetTrailStatus shows
S3's error code (LatestDeliveryError "AccessDenied"; AWS documents the field
as "any Amazon S3 error"), and the metrics count it; when the policy is
restored, delivery resumes in cursor order and every event is delivered
exactly once, and `aws cloudtrail validate-logs` still passes.
"""
import json
import re
import time
import urllib.request

import pytest

from conftest import ACCOUNT
from trail_util import CLI_PARAMS, FAST, keys, make_bucket, policy, read_gz, run_validate_logs, s3, wait_for

BUCKET = "recheck-bkt"
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/recheck"


def deny_policy():
    doc = json.loads(policy(BUCKET))
    doc["Statement"].append({"Sid": "NoCloudTrail", "Effect": "Deny",
                             "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
                             "Resource": f"arn:aws:s3:::{BUCKET}/*"})
    return json.dumps(doc)


def delivery_errors(server):
    with urllib.request.urlopen(server.url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for m in re.finditer(r'^greentrail_trail_delivery_errors_total\{file="(\w+)"\} (\d+)', text, re.M):
        out[m.group(1)] = int(m.group(2))
    return out


def records(server):
    recs = []
    for k in keys(server, BUCKET):
        if "/CloudTrail/" in k:
            recs += read_gz(server, BUCKET, k)[0]["Records"]
    return recs


def group_names(recs):
    return {r["requestParameters"]["Name"] for r in recs
            if r["eventName"] == "CreateGroup" and (r.get("requestParameters") or {}).get("Name")}


def test_policy_denial_at_delivery_then_resume(make_server, tmp_path):
    s = make_server(args=FAST)
    c = make_bucket(s, BUCKET)
    ct, gg = s.client("cloudtrail"), s.client("greengrass")
    start = time.time() - 60
    earlier = {e["EventId"] for e in s.lookup()}   # before the trail: not its to deliver
    ct.create_trail(Name="recheck", S3BucketName=BUCKET, EnableLogFileValidation=True)
    ct.start_logging(Name="recheck")
    for i in range(3):
        gg.create_group(Name=f"before-{i}")
    wait_for(lambda: {f"before-{i}" for i in range(3)} <= group_names(records(s)), timeout=40)

    errs0 = delivery_errors(s)
    c.put_bucket_policy(Bucket=BUCKET, Policy=deny_policy())
    for i in range(3):
        gg.create_group(Name=f"during-{i}")
    st = wait_for(lambda: (lambda x: x if x.get("LatestDeliveryError") else None)(
        ct.get_trail_status(Name="recheck")), timeout=40)
    assert st["LatestDeliveryError"] == "AccessDenied", st
    assert st.get("LatestDeliveryAttemptTime"), st
    wait_for(lambda: (ct.get_trail_status(Name="recheck").get("LatestDigestDeliveryError") or "")
             .startswith("AccessDenied"), timeout=40)
    assert delivery_errors(s).get("log", 0) > errs0.get("log", 0)
    assert delivery_errors(s).get("digest", 0) > errs0.get("digest", 0)
    # nothing is written while CloudTrail is kept out
    frozen = sorted(keys(s, BUCKET))
    time.sleep(3)
    assert sorted(keys(s, BUCKET)) == frozen
    assert not {f"during-{i}" for i in range(3)} & group_names(records(s))

    # the bucket owner still reads and writes: only CloudTrail's principal is denied
    c.put_object(Bucket=BUCKET, Key="other/owner.txt", Body=b"x")
    c.delete_object(Bucket=BUCKET, Key="other/owner.txt")

    c.put_bucket_policy(Bucket=BUCKET, Policy=policy(BUCKET))
    # back-off after the failures (doubling from the 1 s interval) may delay the retry
    wait_for(lambda: {f"during-{i}" for i in range(3)} <= group_names(records(s)), timeout=90, step=0.5)
    wait_for(lambda: "LatestDeliveryError" not in ct.get_trail_status(Name="recheck"), timeout=30)
    wait_for(lambda: "LatestDigestDeliveryError" not in ct.get_trail_status(Name="recheck"), timeout=60)

    ct.stop_logging(Name="recheck")
    wait_for(lambda: any(r["eventName"] == "StopLogging" for r in records(s)), timeout=60, step=0.5)
    time.sleep(2.5)   # the final digest
    recs = records(s)
    ids = [r["eventID"] for r in recs]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    # every call of the trail's account in the session is there exactly once
    looked = {e["EventId"] for e in s.lookup()
              if e["EventName"] in ("CreateGroup", "PutBucketPolicy") and e["EventId"] not in earlier}
    assert len(looked) == 8   # 6 CreateGroup, the denying and the restoring PutBucketPolicy
    delivered = {r["eventID"] for r in recs if r["eventName"] in ("CreateGroup", "PutBucketPolicy")}
    assert looked <= delivered, looked - delivered
    # cursor order: no file holding a record from the outage was delivered
    # before a file holding one from before it (by the objects' delivery
    # time; keys sort by minute and a random suffix, not by delivery)
    when = {}   # group name -> LastModified of the file that holds it
    for k in keys(s, BUCKET):
        if "/CloudTrail/" in k:
            body, resp = read_gz(s, BUCKET, k)
            for r in body["Records"]:
                if r["eventName"] == "CreateGroup":
                    when[r["requestParameters"]["Name"]] = resp["LastModified"]
    assert min(when[f"during-{i}"] for i in range(3)) >= max(when[f"before-{i}"] for i in range(3)), when

    rc, out, err = run_validate_logs(s, CLI_PARAMS[0], tmp_path, ARN, start)
    assert rc == 0, out + err
    assert "INVALID" not in out, out
    assert re.search(r"([1-9]\d*)/\1 digest files valid", out), out


def test_deleted_bucket_shows_no_such_bucket(make_server):
    s = make_server(args=FAST)
    c = make_bucket(s, BUCKET)
    ct, gg = s.client("cloudtrail"), s.client("greengrass")
    ct.create_trail(Name="recheck", S3BucketName=BUCKET)
    ct.start_logging(Name="recheck")
    gg.create_group(Name="first")
    wait_for(lambda: "first" in group_names(records(s)), timeout=40)
    for k in keys(s, BUCKET):
        c.delete_object(Bucket=BUCKET, Key=k)
    c.delete_bucket(Bucket=BUCKET)
    gg.create_group(Name="second")
    st = wait_for(lambda: (lambda x: x if x.get("LatestDeliveryError") else None)(
        ct.get_trail_status(Name="recheck")), timeout=40)
    assert st["LatestDeliveryError"] == "NoSuchBucket", st
    # the bucket comes back (same name, policy again): the waiting events arrive
    make_bucket(s, BUCKET)
    wait_for(lambda: "second" in group_names(records(s)), timeout=90, step=0.5)
