"""Acceptance: `aws cloudtrail validate-logs` (both CLIs, unmodified) passes
against greentrail's digests and log files, with every call (CloudTrail and
S3) served locally (cloudtrail.md §3.5, §3.6); and tampering is reported as
AWS's validator reports it: a changed log file, a deleted log file, a
deleted digest, a changed digest."""
import gzip
import json
import re
import time

import pytest

from conftest import ACCOUNT
from trail_util import CLI_PARAMS, CLI_IDS, FAST, keys, make_bucket, read_gz, run_validate_logs, s3, wait_for

TRAILS = ["v-ok", "v-log-changed", "v-log-deleted", "v-digest-deleted", "v-digest-changed"]
DIGEST_KEY = re.compile(
    r"^(?P<pfx>[^/]+)/AWSLogs/(?P<acct>\d{12})/CloudTrail-Digest/(?P<src>[a-z0-9-]+)/\d{4}/\d{2}/\d{2}/"
    r"(?P=acct)_CloudTrail-Digest_(?P=src)_(?P<name>[^_]+)_(?P<home>[a-z0-9-]+)_\d{8}T\d{6}Z\.json\.gz$")
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/"


def digests(server, name):
    return sorted(k for k in keys(server, "val-bkt", name + "/") if "/CloudTrail-Digest/" in k)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One server, five trails with validation, each in its own prefix; logging
    ran long enough for several chained digests, then stopped. Each trail but
    v-ok then gets one kind of tampering."""
    from conftest import Server
    base = tmp_path_factory.mktemp("validate")
    s = Server(base / "data", args=FAST).start()
    c = s3(s)
    c.create_bucket(Bucket="val-bkt")
    c.put_bucket_policy(Bucket="val-bkt", Policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::val-bkt/*"}]}))
    ct = s.client("cloudtrail")
    start = time.time() - 60
    for n in TRAILS:
        ct.create_trail(Name=n, S3BucketName="val-bkt", S3KeyPrefix=n, EnableLogFileValidation=True)
        ct.start_logging(Name=n)
    gg = s.client("greengrass")
    for i in range(3):
        gg.create_group(Name=f"val-{i}")
        time.sleep(1.2)

    def listed(name):
        files = []
        for k in digests(s, name):
            files += [lf["s3Object"] for lf in read_gz(s, "val-bkt", k)[0]["logFiles"]]
        return files
    for n in TRAILS:
        wait_for(lambda: len(digests(s, n)) >= 3 and len(listed(n)) >= 2, timeout=40)
    for n in TRAILS:
        ct.stop_logging(Name=n)
    for n in TRAILS:   # the final digest lists the StopLogging delivery
        wait_for(lambda: any(
            any(r["eventName"] == "StopLogging" for r in read_gz(s, "val-bkt", f)[0]["Records"])
            for f in listed(n)), timeout=40)
    time.sleep(2.5)
    info = {}
    for n in TRAILS:
        ds = digests(s, n)
        chain = [read_gz(s, "val-bkt", k) for k in ds]
        with_logs = [(k, d) for k, (d, _) in zip(ds, chain) if d["logFiles"]]
        info[n] = {"digests": ds, "chain": chain, "with_logs": with_logs}
    # the tampering
    k, d = info["v-log-changed"]["with_logs"][0]
    victim = d["logFiles"][0]["s3Object"]
    body = json.loads(gzip.decompress(c.get_object(Bucket="val-bkt", Key=victim)["Body"].read()))
    body["Records"][0]["eventName"] = "Forged"
    c.put_object(Bucket="val-bkt", Key=victim, Body=gzip.compress(json.dumps(body).encode()))
    info["v-log-changed"]["victim"] = victim
    k, d = info["v-log-deleted"]["with_logs"][0]
    victim = d["logFiles"][0]["s3Object"]
    c.delete_object(Bucket="val-bkt", Key=victim)
    info["v-log-deleted"]["victim"] = victim
    victim = info["v-digest-deleted"]["digests"][1]
    c.delete_object(Bucket="val-bkt", Key=victim)
    info["v-digest-deleted"]["victim"] = victim
    victim = info["v-digest-changed"]["digests"][1]
    r = c.get_object(Bucket="val-bkt", Key=victim)
    dj = json.loads(gzip.decompress(r["Body"].read()))
    dj["logFiles"] = []
    c.put_object(Bucket="val-bkt", Key=victim, Body=gzip.compress(json.dumps(dj).encode()), Metadata=r["Metadata"])
    info["v-digest-changed"]["victim"] = victim
    yield s, start, info
    assert s.stop() == 0, s.output()


def test_digest_files(world):
    """Digest layout, JSON and chaining as §3.1-§3.4 say."""
    s, start, info = world
    keysets = {kk["Fingerprint"]: kk for kk in s.client("cloudtrail").list_public_keys()["PublicKeyList"]}
    chain = info["v-ok"]["chain"]
    ds = info["v-ok"]["digests"]
    assert len(ds) >= 3
    prev = None
    for k, (d, resp) in zip(ds, chain):
        m = DIGEST_KEY.match(k)
        assert m and m["name"] == "v-ok" and m["home"] == "us-east-1" and m["src"] == "us-east-1", k
        assert k[-24:-8] == d["digestEndTime"].replace("-", "").replace(":", "")
        assert list(d) == ["awsAccountId", "digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object",
                           "digestPublicKeyFingerprint", "digestSignatureAlgorithm", "newestEventTime",
                           "oldestEventTime", "previousDigestS3Bucket", "previousDigestS3Object",
                           "previousDigestHashValue", "previousDigestHashAlgorithm", "previousDigestSignature",
                           "logFiles"]
        assert d["digestS3Bucket"] == "val-bkt" and d["digestS3Object"] == k
        assert d["digestSignatureAlgorithm"] == "SHA256withRSA"
        assert d["digestPublicKeyFingerprint"] in keysets
        assert resp["Metadata"]["signature-algorithm"] == "SHA256withRSA"
        assert re.fullmatch(r"[0-9a-f]{512}", resp["Metadata"]["signature"])
        if prev is None:   # chain start
            assert d["previousDigestSignature"] is None and d["previousDigestS3Object"] is None
        else:
            pd, presp, praw = prev
            assert d["digestStartTime"] == pd["digestEndTime"]
            assert d["previousDigestSignature"] == presp["Metadata"]["signature"]
            assert d["previousDigestS3Object"] == pd["digestS3Object"]
            import hashlib
            assert d["previousDigestHashValue"] == hashlib.sha256(praw).hexdigest()
            assert d["previousDigestHashAlgorithm"] == "SHA-256"
        if not d["logFiles"]:   # empty periods still get a digest
            assert d["newestEventTime"] is None and d["oldestEventTime"] is None
        raw = gzip.decompress(s3(s).get_object(Bucket="val-bkt", Key=k)["Body"].read())
        prev = (d, resp, raw)
    assert any(not d["logFiles"] for d, _ in chain) or len(chain) >= 3
    st = s.client("cloudtrail").get_trail_status(Name="v-ok")
    assert "LatestDigestDeliveryTime" in st and "LatestDigestDeliveryError" not in st
    assert st["LatestDigestDeliveryTime"].timestamp() >= start


@pytest.mark.parametrize("cli", CLI_PARAMS, ids=CLI_IDS)
def test_validate_logs_passes(world, cli, tmp_path):
    s, start, info = world
    rc, out, err = run_validate_logs(s, cli, tmp_path, ARN + "v-ok", start)
    assert rc == 0, out + err
    n = len(info["v-ok"]["digests"])
    logs = sum(len(d["logFiles"]) for d, _ in info["v-ok"]["chain"])
    assert f"{n}/{n} digest files valid" in out, out
    assert f"{logs}/{logs} log files valid" in out, out
    assert "INVALID" not in out


@pytest.mark.parametrize("cli", CLI_PARAMS, ids=CLI_IDS)
@pytest.mark.parametrize("trail,expect", [
    ("v-log-changed", "Log file\ts3://val-bkt/{victim}\tINVALID: hash value doesn't match"),
    ("v-log-deleted", "Log file\ts3://val-bkt/{victim}\tINVALID: not found"),
    ("v-digest-deleted", "Digest file\ts3://val-bkt/{victim}\tINVALID: not found"),
    ("v-digest-changed", "Digest file\ts3://val-bkt/{victim}\tINVALID: signature verification failed"),
])
def test_validate_logs_detects_tampering(world, cli, tmp_path, trail, expect):
    s, start, info = world
    rc, out, err = run_validate_logs(s, cli, tmp_path, ARN + trail, start)
    assert rc == 1, out + err
    assert expect.format(victim=info[trail]["victim"]) in out + err, out + err
    assert "INVALID" in out + err


@pytest.mark.parametrize("cli", CLI_PARAMS, ids=CLI_IDS)
def test_multi_region_shadow_digests(make_server, cli, tmp_path):
    """A multi-region trail keeps one digest chain per source region, each
    under CloudTrail-Digest/<src-region>/ with the home region in the name
    (§3.1); validate-logs --region <src> checks the shadow region's chain."""
    s = make_server(args=FAST)
    make_bucket(s, "mr-bkt")
    ct = s.client("cloudtrail")
    ct.create_trail(Name="mr-trail", S3BucketName="mr-bkt", IsMultiRegionTrail=True, EnableLogFileValidation=True)
    start = time.time() - 60
    ct.start_logging(Name="mr-trail")
    s.client("greengrass", region="eu-west-1").create_group(Name="eu")

    def eu_digests_with_logs():
        ds = [k for k in keys(s, "mr-bkt") if "/CloudTrail-Digest/eu-west-1/" in k]
        return ds if any(read_gz(s, "mr-bkt", k)[0]["logFiles"] for k in ds) else None
    ds = wait_for(eu_digests_with_logs)
    assert all(k.split("/")[-1].startswith(f"{ACCOUNT}_CloudTrail-Digest_eu-west-1_mr-trail_us-east-1_") for k in ds)
    rc, out, err = run_validate_logs(s, cli, tmp_path, ARN + "mr-trail", start, region="eu-west-1")
    assert rc == 0, out + err
    assert "INVALID" not in out and "/CloudTrail/eu-west-1/" in out and "/CloudTrail/us-east-1/" not in out, out
    assert re.search(r"([1-9]\d*)/\1 log files valid", out), out
