"""Multi-account: `greentrail account create`, isolation of resources and
events between accounts, and cross-account AssumeRole recorded in both
accounts with one sharedEventID."""
import configparser
import json
import os
import stat
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import BIN
from iam_util import ACCOUNT, client, doc, session_creds

OTHER = "222222222222"


def create_account(server, account=None):
    args = [BIN, "account", "create", "--data-dir", server.data_dir]
    if account:
        args += ["--account-id", account]
    if server.store_url:   # the PostgreSQL pass: the server's store
        args += ["--store", server.store_url]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    acct = account or p.stdout.split()[2].rstrip(";")
    path = os.path.join(server.data_dir, f"credentials-{acct}")
    cp = configparser.ConfigParser()
    cp.read(path)
    return acct, path, p.stdout, cp


def keys(cp, profile="default"):
    return (cp[profile]["aws_access_key_id"], cp[profile]["aws_secret_access_key"])


def test_account_create(server):
    acct, path, out, cp = create_account(server, OTHER)
    assert f"created account {OTHER}" in out
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    me = client(server, "sts", keys(cp)).get_caller_identity()
    assert me["Account"] == OTHER and me["Arn"] == f"arn:aws:iam::{OTHER}:user/admin"
    root = client(server, "sts", keys(cp, "root")).get_caller_identity()
    assert root["Arn"] == f"arn:aws:iam::{OTHER}:root"
    # again: nothing new, same keys
    _, _, out2, cp2 = create_account(server, OTHER)
    assert f"existing account {OTHER}" in out2 and keys(cp2) == keys(cp)
    # no --account-id: a fresh 12-digit id
    acct3, _, _, cp3 = create_account(server)
    assert len(acct3) == 12 and acct3.isdigit() and acct3 not in (ACCOUNT, OTHER)
    assert client(server, "sts", keys(cp3)).get_caller_identity()["Account"] == acct3
    p = subprocess.run([BIN, "account", "create", "--data-dir", server.data_dir, "--account-id", "12"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "12 digits" in p.stderr


def test_accounts_are_isolated(server):
    _, _, _, cp = create_account(server, OTHER)
    b = keys(cp)
    gid = client(server, "greengrass", b).create_group(Name="b-group")["Id"]
    client(server, "iam", b).create_user(UserName="b-user")
    a_gg = server.client("greengrass")
    assert a_gg.list_groups()["Groups"] == []
    with pytest.raises(ClientError) as ei:
        a_gg.get_group(GroupId=gid)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as ei:
        a_gg.delete_group(GroupId=gid)
    assert client(server, "greengrass", b).get_group(GroupId=gid)["Name"] == "b-group"
    assert {u["UserName"] for u in server.client("iam").list_users()["Users"]} == {"admin"}
    assert {u["UserName"] for u in client(server, "iam", b).list_users()["Users"]} == {"admin", "b-user"}
    assert server.records("CreateGroup") == []
    b_recs = [json.loads(e["CloudTrailEvent"]) for e in client(server, "cloudtrail", b).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateGroup"}])["Events"]]
    assert len(b_recs) == 1 and b_recs[0]["recipientAccountId"] == OTHER
    assert b_recs[0]["userIdentity"]["accountId"] == OTHER


def test_cross_account_assume_role(server):
    _, _, _, cp = create_account(server, OTHER)
    b = keys(cp)
    b_iam = client(server, "iam", b)
    gid = client(server, "greengrass", b).create_group(Name="shared")["Id"]
    role_arn = f"arn:aws:iam::{OTHER}:role/auditor"
    sts = server.client("sts")
    # no role yet, then a role that does not trust account A
    b_iam.create_role(RoleName="auditor", AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"}, "Action": "sts:AssumeRole"}))
    with pytest.raises(ClientError) as ei:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="audit")
    assert ei.value.response["Error"]["Code"] == "AccessDenied"
    b_iam.update_assume_role_policy(RoleName="auditor", PolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}))
    b_iam.put_role_policy(RoleName="auditor", PolicyName="read", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["greengrass:Get*", "greengrass:List*"], "Resource": "*"}))
    resp = sts.assume_role(RoleArn=role_arn, RoleSessionName="audit")
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{OTHER}:assumed-role/auditor/audit"
    creds = session_creds(resp)
    gg = client(server, "greengrass", creds)
    assert [g["Id"] for g in gg.list_groups()["Groups"]] == [gid]     # B's resources, not A's
    with pytest.raises(ClientError) as ei:
        gg.delete_group(GroupId=gid)
    assert ei.value.response["Error"]["Code"] == "AccessDeniedException"
    # recorded in both accounts with one sharedEventID
    (a_rec,) = [r for r in server.records("AssumeRole") if "errorCode" not in r]
    b_recs = [json.loads(e["CloudTrailEvent"]) for e in client(server, "cloudtrail", b).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}])["Events"]]
    (b_rec,) = b_recs
    assert a_rec["sharedEventID"] == b_rec["sharedEventID"] and a_rec["eventID"] != b_rec["eventID"]
    assert a_rec["recipientAccountId"] == ACCOUNT and b_rec["recipientAccountId"] == OTHER
    assert a_rec["userIdentity"]["type"] == "IAMUser"
    assert b_rec["userIdentity"] == {"type": "AWSAccount", "principalId": a_rec["userIdentity"]["principalId"],
                                     "accountId": ACCOUNT}
    assert b_rec["requestID"] == a_rec["requestID"]
    assert "secretAccessKey" not in json.dumps(b_rec)
    # the session's own calls land in the role's account
    lists = [json.loads(e["CloudTrailEvent"]) for e in client(server, "cloudtrail", b).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ListGroups"}])["Events"]]
    assert any(r["userIdentity"]["type"] == "AssumedRole" and r["userIdentity"]["accountId"] == OTHER for r in lists)
    assert server.records("ListGroups") == []
