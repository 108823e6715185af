"""Helpers for the trail tests: buckets with CloudTrail's bucket policy
(cloudtrail.md §2.5), trails, reading delivered objects, and running
`aws cloudtrail validate-logs` with every call pointed at a local server
(cloudtrail.md §3.6)."""
import gzip
import json
import os
import subprocess
import time

import botocore.config

from conftest import ACCOUNT, AWS_CLIS, REGION

FAST = ["--delivery-interval", "1", "--digest-interval", "2"]


def s3(server, region=REGION):
    ak, sk = server.key()
    import boto3
    return boto3.client("s3", endpoint_url=server.url, region_name=region, aws_access_key_id=ak,
                        aws_secret_access_key=sk,
                        config=botocore.config.Config(s3={"addressing_style": "path"},
                                                      retries={"max_attempts": 1}))


def policy(bucket, prefix=None, account=ACCOUNT, source_arn=None):
    folder = f"{prefix}/AWSLogs/{account}/*" if prefix else f"AWSLogs/{account}/*"
    write = {"Sid": "AWSCloudTrailWrite20150319", "Effect": "Allow",
             "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{bucket}/{folder}",
             "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}
    if source_arn:
        write["Condition"]["StringEquals"]["aws:SourceArn"] = source_arn
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSCloudTrailAclCheck20150319", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
         "Resource": f"arn:aws:s3:::{bucket}"}, write]})


def make_bucket(server, bucket, prefix=None, with_policy=True, **kw):
    c = s3(server)
    c.create_bucket(Bucket=bucket)
    if with_policy:
        c.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, prefix, **kw))
    return c


def keys(server, bucket, prefix=""):
    c = s3(server)
    out, marker = [], ""
    while True:
        r = c.list_objects(Bucket=bucket, Prefix=prefix, Marker=marker)
        out += [o["Key"] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"):
            return out
        marker = out[-1]


def read_gz(server, bucket, key):
    r = s3(server).get_object(Bucket=bucket, Key=key)
    return json.loads(gzip.decompress(r["Body"].read())), r


def wait_for(pred, timeout=30, step=0.25):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("condition not met in time")


def delivered_records(server, bucket, prefix=""):
    recs = []
    for k in keys(server, bucket, prefix):
        if "/CloudTrail/" in k:
            recs += read_gz(server, bucket, k)[0]["Records"]
    return recs


def run_validate_logs(server, cli, tmp_path, trail_arn, start, extra=(), region=REGION):
    """validate-logs with every call (CloudTrail and S3) sent to the server.

    v1 (botocore >= 1.31) honours AWS_ENDPOINT_URL for all clients; v2.9.19
    only --endpoint-url for CloudTrail, so its S3 client gets a custom
    endpoint ruleset through AWS_DATA_PATH (cloudtrail.md §3.6)."""
    env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=os.path.join(server.data_dir, "credentials"),
               AWS_CONFIG_FILE="/dev/null", AWS_DEFAULT_REGION=REGION, AWS_PAGER="",
               AWS_MAX_ATTEMPTS="1", AWS_ENDPOINT_URL=server.url)
    env.pop("AWS_PROFILE", None)
    dp = tmp_path / "aws-data" / "s3" / "2006-03-01"
    dp.mkdir(parents=True, exist_ok=True)
    (dp / "endpoint-rule-set-1.json").write_text(json.dumps({
        "version": "1.0",
        "parameters": {"Region": {"builtIn": "AWS::Region", "required": False, "type": "String"},
                       "Bucket": {"required": False, "type": "String"}},
        "rules": [{"conditions": [{"fn": "isSet", "argv": [{"ref": "Bucket"}]}],
                   "endpoint": {"url": server.url + "/{Bucket}", "properties": {}, "headers": {}},
                   "type": "endpoint"},
                  {"conditions": [], "endpoint": {"url": server.url, "properties": {}, "headers": {}},
                   "type": "endpoint"}]}))
    env["AWS_DATA_PATH"] = str(tmp_path / "aws-data")
    start_s = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
    p = subprocess.run([cli, "cloudtrail", "validate-logs", "--endpoint-url", server.url, "--region", region,
                        "--trail-arn", trail_arn, "--start-time", start_s, "--verbose"] + list(extra),
                       capture_output=True, text=True, env=env, timeout=180)
    return p.returncode, p.stdout, p.stderr


CLI_PARAMS = [c[1] for c in AWS_CLIS]
CLI_IDS = [c[0] for c in AWS_CLIS]
