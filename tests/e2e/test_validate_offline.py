"""`greentrail validate`: offline validation of a trail in a local copy of
its bucket, with the same checks and wording as `aws cloudtrail
validate-logs` (cloudtrail.md §3.5)."""
import gzip
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import ACCOUNT, BIN, Server
from trail_util import FAST, keys, make_bucket, read_gz, s3, wait_for

ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/offline"


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    base = tmp_path_factory.mktemp("offline")
    s = Server(base / "data", args=FAST).start()
    make_bucket(s, "off-bkt", prefix="pp")
    ct = s.client("cloudtrail")
    ct.create_trail(Name="offline", S3BucketName="off-bkt", S3KeyPrefix="pp", EnableLogFileValidation=True)
    ct.start_logging(Name="offline")
    gg = s.client("greengrass")
    for i in range(3):
        gg.create_group(Name=f"off-{i}")
        time.sleep(1.1)

    def digests():
        return sorted(k for k in keys(s, "off-bkt") if "/CloudTrail-Digest/" in k)
    wait_for(lambda: len(digests()) >= 4 and sum(len(read_gz(s, "off-bkt", k)[0]["logFiles"]) for k in digests()) >= 2,
             timeout=40)
    ct.stop_logging(Name="offline")
    time.sleep(3)
    c = s3(s)
    bucket = base / "bucket"
    meta = {}
    for k in keys(s, "off-bkt"):
        r = c.get_object(Bucket="off-bkt", Key=k)
        p = bucket / k
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(r["Body"].read())
        meta[k] = r["Metadata"]
    (base / "keys.json").write_text(json.dumps({"PublicKeyList": [
        {"Value": __import__("base64").b64encode(k["Value"]).decode(), "Fingerprint": k["Fingerprint"]}
        for k in ct.list_public_keys()["PublicKeyList"]]}))
    assert s.stop() == 0
    ds = sorted(k for k in meta if "/CloudTrail-Digest/" in k)
    return {"base": base, "bucket": bucket, "data": base / "data", "digests": ds, "meta": meta}


def run(copy, bucket=None, *extra):
    p = subprocess.run([BIN, "validate", "--dir", str(bucket or copy["bucket"]), "--trail-arn", ARN,
                        "--s3-prefix", "pp", "--verbose"] + list(extra), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def tampered(copy, name):
    d = copy["base"] / name
    if d.exists():
        shutil.rmtree(d)
    shutil.copytree(copy["bucket"], d)
    return d


def listed_logs(copy, bucket):
    out = []
    for k in copy["digests"]:
        out += [lf["s3Object"] for lf in json.loads(gzip.decompress((bucket / k).read_bytes()))["logFiles"]]
    return out


def test_valid(copy):
    rc, out = run(copy, None, "--data-dir", str(copy["data"]))
    n = len(copy["digests"])
    logs = len(listed_logs(copy, copy["bucket"]))
    assert rc == 0, out
    assert f"{n}/{n} digest files valid" in out and f"{logs}/{logs} log files valid" in out, out
    assert "not checked offline" in out   # the newest digest's signature is only in S3 metadata
    rc, out2 = run(copy, None, "--public-keys", str(copy["base"] / "keys.json"))
    assert rc == 0 and f"{n}/{n} digest files valid" in out2, out2


def test_newest_signature_sidecar(copy):
    d = tampered(copy, "sidecar")
    newest = copy["digests"][-1]
    (d / (newest + ".sig")).write_text(copy["meta"][newest]["signature"])
    rc, out = run(copy, d, "--data-dir", str(copy["data"]))
    assert rc == 0 and "not checked offline" not in out, out
    (d / (newest + ".sig")).write_text(copy["meta"][copy["digests"][0]]["signature"])
    rc, out = run(copy, d, "--data-dir", str(copy["data"]))
    assert rc == 1 and f"{newest}\tINVALID: signature verification failed" in out, out


def test_changed_and_deleted_log(copy):
    d = tampered(copy, "logs")
    logs = listed_logs(copy, d)
    changed, deleted = logs[0], logs[1]
    body = json.loads(gzip.decompress((d / changed).read_bytes()))
    body["Records"][0]["eventName"] = "Forged"
    (d / changed).write_bytes(gzip.compress(json.dumps(body).encode()))
    os.unlink(d / deleted)
    rc, out = run(copy, d, "--data-dir", str(copy["data"]))
    assert rc == 1, out
    assert f"Log file\ts3://off-bkt/{changed}\tINVALID: hash value doesn't match" in out, out
    assert f"Log file\ts3://off-bkt/{deleted}\tINVALID: not found" in out, out


def test_deleted_and_changed_digest(copy):
    d = tampered(copy, "digests")
    gone = copy["digests"][1]
    os.unlink(d / gone)
    rc, out = run(copy, d, "--data-dir", str(copy["data"]))
    assert rc == 1 and f"Digest file\ts3://off-bkt/{gone}\tINVALID: not found" in out, out
    d = tampered(copy, "digests2")
    changed = copy["digests"][-2]
    dj = json.loads(gzip.decompress((d / changed).read_bytes()))
    dj["logFiles"] = []
    (d / changed).write_bytes(gzip.compress(json.dumps(dj).encode()))
    rc, out = run(copy, d, "--data-dir", str(copy["data"]))
    assert rc == 1 and f"Digest file\ts3://off-bkt/{changed}\tINVALID: signature verification failed" in out, out


def test_usage_errors(copy):
    p = subprocess.run([BIN, "validate", "--dir", str(copy["bucket"])], capture_output=True, text=True)
    assert p.returncode == 2 and "trail ARN" in p.stderr
    p = subprocess.run([BIN, "validate", "--dir", str(copy["bucket"]), "--trail-arn", ARN, "--data-dir",
                        str(copy["base"] / "nowhere")], capture_output=True, text=True)
    assert p.returncode == 2 and "no public keys" in p.stderr
