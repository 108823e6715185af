"""Helpers for the AWS Organizations and organization-trail tests: more
accounts, an organization with members, the bucket policy an organization
trail needs (cloudtrail.md §2.5), and validate-logs with the Organizations
client pointed at the server too (cloudtrail.md §3.6)."""
import configparser
import json
import os
import subprocess

from conftest import ACCOUNT, BIN
from iam_util import client
from trail_util import run_validate_logs


def create_account(server, account):
    """`greentrail account create --account-id account`: its (key, secret) of profile default (admin)."""
    args = [BIN, "account", "create", "--data-dir", server.data_dir, "--account-id", account]
    if server.store_url:   # the PostgreSQL pass: the server's own database
        args += ["--store", server.store_url]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    cp = configparser.ConfigParser()
    cp.read(os.path.join(server.data_dir, f"credentials-{account}"))
    return (cp["default"]["aws_access_key_id"], cp["default"]["aws_secret_access_key"])


def org_with_member(server, member, trusted_access=True, feature_set="ALL"):
    """An organization managed by ACCOUNT with the existing greentrail account
    `member` invited and accepted. Returns (org id, member creds)."""
    creds = create_account(server, member)
    org = server.client("organizations")
    oid = org.create_organization(FeatureSet=feature_set)["Organization"]["Id"]
    if trusted_access:
        org.enable_aws_service_access(ServicePrincipal="cloudtrail.amazonaws.com")
    hs = org.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": member})["Handshake"]
    client(server, "organizations", creds).accept_handshake(HandshakeId=hs["Id"])
    return oid, creds


def org_policy(bucket, org_id, prefix=None, account=ACCOUNT):
    """CloudTrail's bucket policy for an organization trail: the management
    account's folder and the organization's."""
    p = f"{prefix}/" if prefix else ""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSCloudTrailAclCheck20150319", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
         "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "AWSCloudTrailWrite20150319", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": [f"arn:aws:s3:::{bucket}/{p}AWSLogs/{account}/*", f"arn:aws:s3:::{bucket}/{p}AWSLogs/{org_id}/*"],
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}]})


def run_validate_logs_org(server, cli, tmp_path, trail_arn, start, account_id, region="us-east-1"):
    """validate-logs --account-id for an organization trail: as
    trail_util.run_validate_logs, plus an Organizations endpoint ruleset in
    AWS_DATA_PATH for CLI v2.9.19, which ignores AWS_ENDPOINT_URL (its
    DescribeOrganization call would otherwise go to AWS)."""
    dp = tmp_path / "aws-data" / "organizations" / "2016-11-28"
    dp.mkdir(parents=True, exist_ok=True)
    (dp / "endpoint-rule-set-1.json").write_text(json.dumps({
        "version": "1.0",
        "parameters": {"Region": {"builtIn": "AWS::Region", "required": False, "type": "String"}},
        "rules": [{"conditions": [], "endpoint": {"url": server.url, "properties": {}, "headers": {}},
                   "type": "endpoint"}]}))
    return run_validate_logs(server, cli, tmp_path, trail_arn, start, extra=["--account-id", account_id],
                             region=region)
