"""Trails whose bucket lives on an external S3-compatible server
(--external-s3-*, s3/s3_target.c): the bucket check of CreateTrail and
UpdateTrail, delivery of log files and digests there, `greentrail validate
--s3-endpoint` reading them back (and catching tampering), and the same
against another greentrail's built-in S3, which verifies SigV4 signatures
and x-amz-content-sha256 as AWS S3 does."""
import gzip
import json
import os
import re
import subprocess
import time

import botocore.exceptions
import pytest

from conftest import ACCOUNT, BIN, Server
from s3rver_util import KEY, SECRET, S3rver, ext_args, refused_port
from trail_util import CLI_IDS, CLI_PARAMS, FAST, keys, make_bucket, run_validate_logs, s3, wait_for

BUCKET = "ext-bkt"
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/ext"
LOG_KEY = re.compile(r"^pp/AWSLogs/%s/CloudTrail/us-east-1/\d{4}/\d{2}/\d{2}/%s_CloudTrail_us-east-1_\d{8}T\d{4}Z_"
                     r"[A-Za-z0-9]{16}\.json\.gz$" % (ACCOUNT, ACCOUNT))
DIGEST_KEY = re.compile(r"^pp/AWSLogs/%s/CloudTrail-Digest/us-east-1/\d{4}/\d{2}/\d{2}/%s_CloudTrail-Digest_"
                        r"us-east-1_ext_us-east-1_\d{8}T\d{6}Z\.json\.gz$" % (ACCOUNT, ACCOUNT))


@pytest.fixture(scope="module")
def s3rver(tmp_path_factory):
    srv = S3rver(tmp_path_factory.mktemp("s3rver") / "data").start()
    yield srv
    srv.stop()


def ext_keys(c, bucket, prefix=""):
    out, token = [], None
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        r = c.list_objects_v2(**kw)
        out += [o["Key"] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"):
            return out
        token = r["NextContinuationToken"]


def get_json(c, bucket, key):
    r = c.get_object(Bucket=bucket, Key=key)
    return json.loads(gzip.decompress(r["Body"].read())), r


def validate(*args, env=None):
    p = subprocess.run([BIN, "validate", "--verbose"] + list(args), capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout + p.stderr


@pytest.fixture(scope="module")
def delivered(s3rver, tmp_path_factory):
    """A server delivering trail "ext" to s3rver's bucket, with validation;
    some Greengrass calls; logging stopped once every call is delivered and
    a digest chain covers them."""
    c = s3rver.client()
    c.create_bucket(Bucket=BUCKET)
    base = tmp_path_factory.mktemp("ext")
    s = Server(base / "data", args=FAST + ext_args(s3rver.url, f"other-bkt, {BUCKET}")).start()
    ct = s.client("cloudtrail")
    t = ct.create_trail(Name="ext", S3BucketName=BUCKET, S3KeyPrefix="pp", EnableLogFileValidation=True)
    ct.start_logging(Name="ext")
    gg = s.client("greengrass")
    ids = []
    for i in range(3):
        r = gg.create_group(Name=f"ext-{i}")
        ids.append(r["ResponseMetadata"]["RequestId"])
        time.sleep(1.1)

    def logs():
        return [k for k in ext_keys(c, BUCKET) if "/CloudTrail/" in k]

    def delivered_request_ids():
        return {r["requestID"] for k in logs() for r in get_json(c, BUCKET, k)[0]["Records"]}
    wait_for(lambda: set(ids) <= delivered_request_ids(), timeout=40)
    ct.stop_logging(Name="ext")
    wait_for(lambda: "LatestDigestDeliveryTime" in ct.get_trail_status(Name="ext") and
             ct.get_trail_status(Name="ext").get("LatestDigestDeliveryTime", 0) and time.sleep(3) is None, timeout=20)
    st = ct.get_trail_status(Name="ext")
    out = s.output()
    assert s.stop() == 0
    return {"server": s, "s3": c, "trail": t, "ids": ids, "status": st, "base": base, "output": out}


def test_create_trail_checks_the_external_bucket(s3rver, make_server):
    c = s3rver.client()
    c.create_bucket(Bucket="chk-bkt")
    dead = f"http://127.0.0.1:{refused_port()}"
    s = make_server(args=ext_args(s3rver.url, "*"))
    ct = s.client("cloudtrail")
    # a bucket only the built-in S3 has is not external's: with "*" it is missing there
    make_bucket(s, "local-only")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ct.create_trail(Name="trail1", S3BucketName="local-only")
    assert e.value.response["Error"]["Code"] == "S3BucketDoesNotExistException"
    assert "local-only" in e.value.response["Error"]["Message"]
    # no bucket policy is needed on a generic S3 (none can name CloudTrail there)
    t = ct.create_trail(Name="trail1", S3BucketName="chk-bkt")
    assert t["S3BucketName"] == "chk-bkt"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ct.update_trail(Name="trail1", S3BucketName="nope-bkt")
    assert e.value.response["Error"]["Code"] == "S3BucketDoesNotExistException"
    assert ct.get_trail(Name="trail1")["Trail"]["S3BucketName"] == "chk-bkt"
    # only the prefix changes: the bucket is not checked again
    assert ct.update_trail(Name="trail1", S3KeyPrefix="x")["S3KeyPrefix"] == "x"
    # the failed calls are recorded with their error
    recs = s.records("CreateTrail")
    assert any(r.get("errorCode") == "S3BucketDoesNotExistException" for r in recs)

    # an endpoint that does not answer: the call fails (and says why), quickly
    s2 = make_server(args=ext_args(dead, "*", extra=["--external-s3-connect-timeout-ms", "500"]))
    ct2 = s2.client("cloudtrail")
    t0 = time.time()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ct2.create_trail(Name="trail2", S3BucketName="chk-bkt")
    assert time.time() - t0 < 5
    assert e.value.response["Error"]["Code"] == "S3BucketDoesNotExistException"
    assert "could not be checked" in e.value.response["Error"]["Message"]
    assert "ConnectionRefused" in e.value.response["Error"]["Message"]


def test_log_files_and_digests_on_s3rver(delivered):
    c = delivered["s3"]
    all_keys = ext_keys(c, BUCKET)
    logs = [k for k in all_keys if "/CloudTrail/" in k]
    digests = [k for k in all_keys if "/CloudTrail-Digest/" in k]
    assert logs and digests
    assert all(LOG_KEY.match(k) for k in logs), logs
    assert all(DIGEST_KEY.match(k) for k in digests), digests
    recs = []
    for k in logs:
        body, r = get_json(c, BUCKET, k)
        assert r["ContentType"] == "application/x-gzip"
        recs += body["Records"]
    by_req = {r["requestID"]: r for r in recs}
    for rid in delivered["ids"]:
        r = by_req[rid]
        assert r["eventName"] == "CreateGroup" and r["eventSource"] == "greengrass.amazonaws.com"
        assert r["recipientAccountId"] == ACCOUNT
    # each digest names its own place, is signed (signature in S3 metadata), and lists delivered files
    listed = []
    for k in digests:
        d, r = get_json(c, BUCKET, k)
        assert d["digestS3Bucket"] == BUCKET and d["digestS3Object"] == k
        assert re.fullmatch(r"[0-9a-f]{512}", r["Metadata"]["signature"])
        assert r["Metadata"]["signature-algorithm"] == "SHA256withRSA"
        listed += [lf["s3Object"] for lf in d["logFiles"]]
    assert set(logs) == set(listed)
    st = delivered["status"]
    assert "LatestDeliveryError" not in st and "LatestDigestDeliveryError" not in st
    # the secret was never printed (s3rver's is also its key id: look for the option's value form)
    assert "--external-s3-secret-key" not in delivered["output"]
    assert "external S3: " + c.meta.endpoint_url in delivered["output"]


def test_validate_reads_s3rver_and_reports_tampering(delivered, s3rver):
    c = delivered["s3"]
    data = str(delivered["base"] / "data")
    env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
    args = ["--s3-endpoint", s3rver.url, "--bucket", BUCKET, "--trail-arn", ARN, "--s3-prefix", "pp",
            "--data-dir", data]
    rc, out = validate(*args, env=env)
    assert rc == 0, out
    digests = sorted(k for k in ext_keys(c, BUCKET) if "/CloudTrail-Digest/" in k)
    logs = [k for k in ext_keys(c, BUCKET) if "/CloudTrail/" in k]
    n = len(digests)
    assert f"{n}/{n} digest files valid" in out and f"{len(logs)}/{len(logs)} log files valid" in out
    # remotely the newest digest's signature is in its metadata: checked too
    assert "not checked offline" not in out
    assert f"s3://{BUCKET}/{digests[-1]}\tvalid" in out

    # tamper with a log file: same key, other records
    victim = logs[0]
    orig = c.get_object(Bucket=BUCKET, Key=victim)["Body"].read()
    body = json.loads(gzip.decompress(orig))
    body["Records"] = body["Records"][1:] + [{"eventName": "Forged"}]
    c.put_object(Bucket=BUCKET, Key=victim, Body=gzip.compress(json.dumps(body).encode()))
    rc, out = validate(*args, env=env)
    assert rc == 1, out
    assert f"s3://{BUCKET}/{victim}\tINVALID: hash value doesn't match" in out
    # delete it
    c.delete_object(Bucket=BUCKET, Key=victim)
    rc, out = validate(*args, env=env)
    assert rc == 1 and f"s3://{BUCKET}/{victim}\tINVALID: not found" in out, out
    c.put_object(Bucket=BUCKET, Key=victim, Body=orig)
    # a forged digest signature (metadata) is caught
    d = digests[-1]
    dbody = c.get_object(Bucket=BUCKET, Key=d)
    meta = dbody["Metadata"]
    raw = dbody["Body"].read()
    c.put_object(Bucket=BUCKET, Key=d, Body=raw, Metadata=dict(meta, signature="00" * 256))
    rc, out = validate(*args, env=env)
    assert rc == 1 and f"s3://{BUCKET}/{d}\tINVALID: signature verification failed" in out, out
    c.put_object(Bucket=BUCKET, Key=d, Body=raw, Metadata=meta)
    assert validate(*args, env=env)[0] == 0
    # wrong credentials or endpoint: an input error (2), not "valid"
    rc, out = validate("--s3-endpoint", f"http://127.0.0.1:{refused_port()}", "--bucket", BUCKET, "--trail-arn", ARN,
                       "--s3-prefix", "pp", "--data-dir", data, env=env)
    assert rc == 2 and "ConnectionRefused" in out, out


def test_external_is_another_greentrail(make_server, tmp_path):
    """The external S3 is a second greentrail: its built-in S3 verifies the
    SigV4 signature and x-amz-content-sha256 of every request, so this
    proves the client's signing. Wrong keys: a 403 on the bucket check and
    on delivery."""
    a = make_server()
    make_bucket(a, "gt-ext", with_policy=False)
    ak, sk = a.key()
    b = make_server(args=FAST + ext_args(a.url, "gt-ext", key=ak, secret=sk))
    ct = b.client("cloudtrail")
    ct.create_trail(Name="ext", S3BucketName="gt-ext", EnableLogFileValidation=True)
    ct.start_logging(Name="ext")
    r = b.client("greengrass").create_group(Name="via-gt")
    rid = r["ResponseMetadata"]["RequestId"]

    def got():
        out = set()
        for k in keys(a, "gt-ext"):
            if "/CloudTrail/" in k:
                body = gzip.decompress(s3(a).get_object(Bucket="gt-ext", Key=k)["Body"].read())
                out |= {x["requestID"] for x in json.loads(body)["Records"]}
        return rid in out
    wait_for(got, timeout=30)
    wait_for(lambda: any("/CloudTrail-Digest/" in k for k in keys(a, "gt-ext")), timeout=30)
    # A records B's writes as the admin user's PutObject calls? S3 object calls are not recorded
    # (data events); the objects are there with B's digest signature in metadata:
    dk = next(k for k in keys(a, "gt-ext") if "/CloudTrail-Digest/" in k)
    assert re.fullmatch(r"[0-9a-f]{512}", s3(a).get_object(Bucket="gt-ext", Key=dk)["Metadata"]["signature"])
    assert sk not in b.output()

    # validate against the built-in S3 of A (keys from the options)
    ct.stop_logging(Name="ext")
    wait_for(lambda: ct.get_trail_status(Name="ext").get("LatestDigestDeliveryTime"), timeout=20)
    time.sleep(3)
    rc, out = validate("--s3-endpoint", a.url, "--bucket", "gt-ext", "--access-key", ak, "--secret-key", sk,
                       "--trail-arn", f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/ext", "--data-dir", b.data_dir)
    assert rc == 0, out
    assert re.search(r"(\d+)/\1 digest files valid", out) and re.search(r"(\d+)/\1 log files valid", out), out
    assert sk not in out

    # wrong secret: the bucket check says our keys may not use the bucket, delivery shows the 403's code
    c = make_server(args=FAST + ext_args(a.url, "gt-ext", key=ak, secret="x" * 40))
    ct3 = c.client("cloudtrail")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ct3.create_trail(Name="bad", S3BucketName="gt-ext")
    assert e.value.response["Error"]["Code"] == "InsufficientS3BucketPolicyException"

    # a trail already on the external bucket, then the keys go wrong (restart
    # with a bad secret): delivery fails with S3's code in GetTrailStatus
    assert b.stop() == 0
    b2 = make_server(args=FAST + ext_args(a.url, "gt-ext", key=ak, secret="y" * 40), data_dir=b.data_dir)
    ct2 = b2.client("cloudtrail")
    ct2.start_logging(Name="ext")
    b2.client("greengrass").create_group(Name="after-bad-keys")
    st = wait_for(lambda: (lambda x: x if x.get("LatestDeliveryError") else None)(ct2.get_trail_status(Name="ext")),
                  timeout=20)
    assert st["LatestDeliveryError"] == "SignatureDoesNotMatch"
    assert "y" * 40 not in b2.output()


def test_sns_notified_for_each_external_file(s3rver, make_server):
    """SNS announces each log file delivered to the external bucket (§4.1),
    as for the built-in S3."""
    from events_util import Receiver
    from test_sns import messages, subscribe_confirmed, topic_policy
    c = s3rver.client()
    c.create_bucket(Bucket="sns-ext-bkt")
    rcv = Receiver().start()
    try:
        s = make_server(args=FAST + ext_args(s3rver.url, "sns-ext-bkt"))
        sns, ct = s.client("sns"), s.client("cloudtrail")
        topic = sns.create_topic(Name="ext-topic")["TopicArn"]
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=topic_policy(topic))
        subscribe_confirmed(sns, topic, rcv)
        ct.create_trail(Name="sns-ext", S3BucketName="sns-ext-bkt", SnsTopicName="ext-topic")
        ct.start_logging(Name="sns-ext")
        s.client("greengrass").create_group(Name="g")
        wait_for(lambda: messages(rcv, "Notification"), timeout=30)
        time.sleep(2.5)
        notified = [k for _, m in messages(rcv, "Notification") for k in json.loads(m["Message"])["s3ObjectKey"]]
        assert all(json.loads(m["Message"])["s3Bucket"] == "sns-ext-bkt" for _, m in messages(rcv, "Notification"))
        logs = [k for k in ext_keys(c, "sns-ext-bkt") if "/CloudTrail/" in k]
        assert notified and set(notified) <= set(logs) and len(notified) == len(set(notified))
    finally:
        rcv.stop()


@pytest.mark.parametrize("cli", CLI_PARAMS, ids=CLI_IDS)
def test_aws_validate_logs_accepts_external_delivery(cli, tmp_path, monkeypatch):
    """Unmodified `aws cloudtrail validate-logs` (v1 and v2) accepts what
    the external-S3 client wrote: the server's external S3 is its own S3
    service reached over HTTP (so the CLI needs one endpoint and one key
    pair), every object having gone through s3_remote's signed PUTs."""
    import conftest
    s = Server(tmp_path / "data", args=FAST).start()
    port = s.port
    ak, sk = s.key()
    make_bucket(s, "self-ext", with_policy=False)
    assert s.stop() == 0
    monkeypatch.setattr(conftest, "free_port", lambda: port)   # same address again: it is its own endpoint
    s.args += ext_args(f"http://127.0.0.1:{port}", "self-ext", key=ak, secret=sk)
    s.start()
    try:
        start = time.time() - 5
        ct = s.client("cloudtrail")
        ct.create_trail(Name="selfx", S3BucketName="self-ext", EnableLogFileValidation=True)
        ct.start_logging(Name="selfx")
        gg = s.client("greengrass")
        for i in range(2):
            gg.create_group(Name=f"sx-{i}")
            time.sleep(1.1)
        wait_for(lambda: sum(1 for k in keys(s, "self-ext") if "/CloudTrail-Digest/" in k) >= 2, timeout=30)
        ct.stop_logging(Name="selfx")
        time.sleep(3)
        assert "LatestDigestDeliveryError" not in ct.get_trail_status(Name="selfx")
        rc, out, err = run_validate_logs(s, cli, tmp_path, f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/selfx",
                                         start)
        assert rc == 0, out + err
        assert re.search(r"(\d+)/\1 digest files valid", out) and re.search(r"([1-9]\d*)/\1 log files valid", out), out
        assert "INVALID" not in out
    finally:
        assert s.stop() == 0
