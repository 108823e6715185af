"""S3 bucket policies enforced across accounts (src/s3 bucket_access,
auth/policy.c auth_resource_policy_eval): another account uses a bucket
only as its bucket policy allows, with S3's action names (s3:ListBucket,
s3:GetObject, s3:PutObject); the owner keeps its bucket unless the policy
explicitly denies; and AWS's multi-account CloudTrail pattern
(cloudtrail.md §2.5): trails of accounts A and B deliver into A's bucket
when its policy lets cloudtrail.amazonaws.com PutObject on AWSLogs/B/*."""
import gzip
import json
import re

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION
from test_iam_accounts import create_account, keys
from trail_util import FAST, policy, wait_for

B = "222222222222"


def s3c(server, creds):
    return boto3.client("s3", endpoint_url=server.url, region_name=REGION, aws_access_key_id=creds[0],
                        aws_secret_access_key=creds[1],
                        config=botocore.config.Config(s3={"addressing_style": "path"},
                                                      retries={"max_attempts": 1}))


def code(exc_info):
    return exc_info.value.response["Error"]["Code"]


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_other_account_needs_a_bucket_policy(server):
    a = s3c(server, server.key())
    _, _, _, cp = create_account(server, B)
    b = s3c(server, keys(cp))
    a.create_bucket(Bucket="shared-bkt")
    a.put_object(Bucket="shared-bkt", Key="private/a.txt", Body=b"owner's")
    a.put_object(Bucket="shared-bkt", Key="public/p.txt", Body=b"shared")
    # no policy: B can neither read, list, write nor even see the bucket's policy
    for call in (lambda: b.get_object(Bucket="shared-bkt", Key="private/a.txt"),
                 lambda: b.head_object(Bucket="shared-bkt", Key="private/a.txt"),
                 lambda: b.list_objects_v2(Bucket="shared-bkt"),
                 lambda: b.put_object(Bucket="shared-bkt", Key="public/b.txt", Body=b"x"),
                 lambda: b.get_bucket_policy(Bucket="shared-bkt")):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) in ("AccessDenied", "403"), e.value.response
    # a policy granting B read of public/* and listing, by account id and by root ARN
    a.put_bucket_policy(Bucket="shared-bkt", Policy=doc(
        {"Effect": "Allow", "Principal": {"AWS": B}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::shared-bkt/public/*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"}, "Action": "s3:ListBucket",
         "Resource": "arn:aws:s3:::shared-bkt"}))
    assert b.get_object(Bucket="shared-bkt", Key="public/p.txt")["Body"].read() == b"shared"
    assert {o["Key"] for o in b.list_objects_v2(Bucket="shared-bkt")["Contents"]} == {"private/a.txt", "public/p.txt"}
    with pytest.raises(ClientError) as e:
        b.get_object(Bucket="shared-bkt", Key="private/a.txt")   # outside the granted resource
    assert code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        b.put_object(Bucket="shared-bkt", Key="public/b.txt", Body=b"x")   # not granted PutObject
    assert code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        b.put_bucket_policy(Bucket="shared-bkt", Policy=doc(
            {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::shared-bkt/*"}))
    assert code(e) == "AccessDenied"   # policy calls stay the owner's
    with pytest.raises(ClientError) as e:
        b.delete_bucket(Bucket="shared-bkt")
    assert code(e) == "AccessDenied"
    # a policy naming a third account does not help B
    a.put_bucket_policy(Bucket="shared-bkt", Policy=doc(
        {"Effect": "Allow", "Principal": {"AWS": "333333333333"}, "Action": "s3:*",
         "Resource": ["arn:aws:s3:::shared-bkt", "arn:aws:s3:::shared-bkt/*"]}))
    with pytest.raises(ClientError) as e:
        b.get_object(Bucket="shared-bkt", Key="public/p.txt")
    assert code(e) == "AccessDenied"
    # the owner is unaffected by policies that do not deny it
    assert a.get_object(Bucket="shared-bkt", Key="private/a.txt")["Body"].read() == b"owner's"


def test_explicit_deny_binds_the_owner_but_not_its_policy_calls(server):
    a = s3c(server, server.key())
    a.create_bucket(Bucket="deny-bkt")
    a.put_object(Bucket="deny-bkt", Key="locked/x", Body=b"1")
    a.put_bucket_policy(Bucket="deny-bkt", Policy=doc(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::deny-bkt/locked/*"}))
    with pytest.raises(ClientError) as e:
        a.get_object(Bucket="deny-bkt", Key="locked/x")
    assert code(e) == "AccessDenied"
    a.put_object(Bucket="deny-bkt", Key="open/y", Body=b"2")
    assert a.get_object(Bucket="deny-bkt", Key="open/y")["Body"].read() == b"2"
    a.delete_bucket_policy(Bucket="deny-bkt")   # the owner can always undo it
    assert a.get_object(Bucket="deny-bkt", Key="locked/x")["Body"].read() == b"1"


def test_other_account_writes_where_the_policy_allows(server):
    a = s3c(server, server.key())
    _, _, _, cp = create_account(server, B)
    b = s3c(server, keys(cp))
    a.create_bucket(Bucket="drop-bkt")
    a.put_bucket_policy(Bucket="drop-bkt", Policy=doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:user/admin"},
         "Action": ["s3:PutObject", "s3:GetObject"], "Resource": f"arn:aws:s3:::drop-bkt/{B}/*"}))
    b.put_object(Bucket="drop-bkt", Key=f"{B}/report.txt", Body=b"from B")
    assert a.get_object(Bucket="drop-bkt", Key=f"{B}/report.txt")["Body"].read() == b"from B"
    assert b.get_object(Bucket="drop-bkt", Key=f"{B}/report.txt")["Body"].read() == b"from B"
    with pytest.raises(ClientError) as e:
        b.put_object(Bucket="drop-bkt", Key="elsewhere.txt", Body=b"x")
    assert code(e) == "AccessDenied"
    # B's root is not B's admin user: the policy names the user only
    rb = s3c(server, keys(cp, "root"))
    with pytest.raises(ClientError) as e:
        rb.get_object(Bucket="drop-bkt", Key=f"{B}/report.txt")
    assert code(e) == "AccessDenied"


LOG_KEY = re.compile(r"^AWSLogs/(?P<acct>\d{12})/CloudTrail/us-east-1/\d{4}/\d{2}/\d{2}/"
                     r"(?P=acct)_CloudTrail_us-east-1_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")


def two_account_policy(bucket):
    p = json.loads(policy(bucket))
    write = p["Statement"][1]
    write["Resource"] = [f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT}/*", f"arn:aws:s3:::{bucket}/AWSLogs/{B}/*"]
    return json.dumps(p)


def test_trails_of_two_accounts_deliver_into_one_bucket(make_server):
    s = make_server(args=FAST)
    _, _, _, cp = create_account(s, B)
    bkeys = keys(cp)
    a = s3c(s, s.key())
    a.create_bucket(Bucket="org-logs")
    ct_a = s.client("cloudtrail")
    ct_b = boto3.client("cloudtrail", endpoint_url=s.url, region_name=REGION, aws_access_key_id=bkeys[0],
                        aws_secret_access_key=bkeys[1], config=botocore.config.Config(retries={"max_attempts": 1}))
    # only A's folder granted: B's trail is refused
    a.put_bucket_policy(Bucket="org-logs", Policy=policy("org-logs"))
    with pytest.raises(ClientError) as e:
        ct_b.create_trail(Name="b-trail", S3BucketName="org-logs")
    assert code(e) == "InsufficientS3BucketPolicyException"
    # and with no policy at all
    a.delete_bucket_policy(Bucket="org-logs")
    with pytest.raises(ClientError) as e:
        ct_b.create_trail(Name="b-trail", S3BucketName="org-logs")
    assert code(e) == "InsufficientS3BucketPolicyException"
    # AWS's multi-account pattern: one statement, one folder per account
    a.put_bucket_policy(Bucket="org-logs", Policy=two_account_policy("org-logs"))
    ct_a.create_trail(Name="a-trail", S3BucketName="org-logs", EnableLogFileValidation=True)
    ct_b.create_trail(Name="b-trail", S3BucketName="org-logs", EnableLogFileValidation=True)
    ct_a.start_logging(Name="a-trail")
    ct_b.start_logging(Name="b-trail")
    gb = boto3.client("greengrass", endpoint_url=s.url, region_name=REGION, aws_access_key_id=bkeys[0],
                      aws_secret_access_key=bkeys[1])
    b_group = gb.create_group(Name="b-group")["Id"]
    a_group = s.client("greengrass").create_group(Name="a-group")["Id"]

    def records():
        out = {}
        for o in a.list_objects_v2(Bucket="org-logs").get("Contents", []):
            m = LOG_KEY.match(o["Key"])
            if m:
                body = a.get_object(Bucket="org-logs", Key=o["Key"])["Body"].read()
                out.setdefault(m["acct"], []).extend(json.loads(gzip.decompress(body))["Records"])
        return out

    def both():
        r = records()
        got = {acct: {json.dumps(x.get("responseElements")) for x in recs} for acct, recs in r.items()}
        ok = any(a_group in t for t in got.get(ACCOUNT, ())) and any(b_group in t for t in got.get(B, ()))
        return r if ok else None

    r = wait_for(both, timeout=40)
    # each account's folder holds only its own events
    assert all(x["recipientAccountId"] == ACCOUNT for x in r[ACCOUNT])
    assert all(x["recipientAccountId"] == B for x in r[B])
    assert not any(b_group in json.dumps(x) for x in r[ACCOUNT])
    # digests land in each account's folder too
    wait_for(lambda: {k["Key"].split("/")[1] for k in a.list_objects_v2(
        Bucket="org-logs", Prefix="AWSLogs/").get("Contents", []) if "/CloudTrail-Digest/" in k["Key"]} >= {ACCOUNT, B},
        timeout=40)
    # B's trail reports its bucket; B cannot read A's bucket (the policy grants CloudTrail only)
    assert ct_b.get_trail_status(Name="b-trail")["IsLogging"] is True
    b3 = s3c(s, bkeys)
    with pytest.raises(ClientError) as e:
        b3.list_objects_v2(Bucket="org-logs", Prefix=f"AWSLogs/{B}/")
    assert code(e) == "AccessDenied"
    first = next(o["Key"] for o in a.list_objects_v2(Bucket="org-logs", Prefix=f"AWSLogs/{B}/")["Contents"])
    with pytest.raises(ClientError) as e:
        b3.get_object(Bucket="org-logs", Key=first)
    assert code(e) == "AccessDenied"
