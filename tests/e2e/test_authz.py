"""Authorization of every call: explicit Deny > Allow > implicit deny,
resource ARNs (greengrass.md §3.1), conditions; a denied call is refused,
changes nothing and is recorded with AccessDenied in the protocol's
spelling."""
import json

import pytest
from botocore.exceptions import ClientError

from iam_util import ACCOUNT, ALLOW_ALL, client, doc, make_user

GG = f"arn:aws:greengrass:us-east-1:{ACCOUNT}:/greengrass"


def denied(fn, code="AccessDeniedException"):
    with pytest.raises(ClientError) as ei:
        fn()
    assert ei.value.response["Error"]["Code"] == code
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return ei.value.response["Error"]["Message"]


def test_denied_call_refused_unchanged_recorded(server):
    nobody = make_user(server, "nobody")
    msg = denied(lambda: client(server, "greengrass", nobody).create_group(Name="sneaky"))
    assert msg == (f"User: arn:aws:iam::{ACCOUNT}:user/nobody is not authorized to perform: "
                   f"greengrass:CreateGroup on resource: {GG}/groups")
    assert server.client("greengrass").list_groups()["Groups"] == []      # nothing changed
    (rec,) = server.records("CreateGroup")
    assert rec["errorCode"] == "AccessDeniedException"
    assert rec["userIdentity"]["userName"] == "nobody"
    assert rec["requestParameters"] == {"Name": "sneaky"}
    # query protocol (IAM): AccessDenied, recorded as such, nothing created
    msg = denied(lambda: client(server, "iam", nobody).create_user(UserName="eve"), code="AccessDenied")
    assert f"iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/eve" in msg
    with pytest.raises(ClientError):
        server.client("iam").get_user(UserName="eve")
    (rec,) = [r for r in server.records("CreateUser") if "errorCode" in r]
    assert rec["requestParameters"] == {"userName": "eve"}
    assert rec["errorCode"] == "AccessDenied" and rec["errorMessage"] == msg
    # awsJson (CloudTrail)
    denied(lambda: client(server, "cloudtrail", nobody).lookup_events())
    recs = server.records("LookupEvents")
    assert any(r.get("errorCode") == "AccessDeniedException" and r["userIdentity"]["userName"] == "nobody"
               for r in recs)


def test_root_always_allowed_and_admin_is_admin(server):
    server.client("greengrass", profile="root").create_group(Name="r")
    server.client("iam", profile="root").create_user(UserName="by-root")
    server.client("greengrass").create_group(Name="a")
    assert len(server.client("greengrass").list_groups()["Groups"]) == 2


def test_explicit_deny_wins_and_resource_scoping(server):
    gg_admin = server.client("greengrass")
    g1 = gg_admin.create_group(Name="one")["Id"]
    g2 = gg_admin.create_group(Name="two")["Id"]
    u = make_user(server, "scoped",
                  {"Version": "2012-10-17", "Statement": [
                      {"Effect": "Allow", "Action": "greengrass:*", "Resource": f"{GG}/groups/{g1}*"},
                      {"Effect": "Allow", "Action": ["greengrass:ListGroups", "greengrass:Get*"], "Resource": "*"},
                      {"Effect": "Deny", "Action": "greengrass:DeleteGroup", "Resource": "*"}]})
    gg = client(server, "greengrass", u)
    gg.update_group(GroupId=g1, Name="one-renamed")
    msg = denied(lambda: gg.update_group(GroupId=g2, Name="x"))
    assert msg.endswith(f"greengrass:UpdateGroup on resource: {GG}/groups/{g2}")
    assert gg.get_group(GroupId=g2)["Name"] == "two"
    msg = denied(lambda: gg.delete_group(GroupId=g1))     # allowed by greengrass:*, denied explicitly
    assert f"{GG}/groups/{g1}" in msg
    assert gg_admin.get_group(GroupId=g1)["Name"] == "one-renamed"
    # definition ARNs (greengrass.md §3.1)
    d = gg_admin.create_core_definition(Name="c")["Id"]
    msg = denied(lambda: gg.delete_core_definition(CoreDefinitionId=d))
    assert msg.endswith(f"on resource: {GG}/definition/cores/{d}")


def test_action_wildcards_and_notaction(server):
    u = make_user(server, "reader", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "greengrass:list*", "Resource": "*"},   # actions match case-insensitively
        {"Effect": "Allow", "NotAction": ["greengrass:*", "iam:*"], "Resource": "*"}]})
    client(server, "greengrass", u).list_groups()
    client(server, "cloudtrail", u).lookup_events()       # via NotAction
    denied(lambda: client(server, "greengrass", u).create_group(Name="x"))
    denied(lambda: client(server, "iam", u).list_users(), code="AccessDenied")


def test_conditions(server):
    # aws:RequestedRegion
    u = make_user(server, "west", doc({"Effect": "Allow", "Action": "greengrass:*", "Resource": "*",
                                       "Condition": {"StringEquals": {"aws:RequestedRegion": "us-west-2"}}}))
    client(server, "greengrass", u, region="us-west-2").list_groups()
    denied(lambda: client(server, "greengrass", u, region="us-east-1").list_groups())
    # aws:SourceIp
    u = make_user(server, "local", doc({"Effect": "Allow", "Action": "greengrass:*", "Resource": "*",
                                        "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8"]}}}))
    client(server, "greengrass", u).list_groups()
    u = make_user(server, "remote", doc({"Effect": "Allow", "Action": "greengrass:*", "Resource": "*",
                                         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}))
    denied(lambda: client(server, "greengrass", u).list_groups())
    # dates
    u = make_user(server, "expired", doc({"Effect": "Allow", "Action": "greengrass:*", "Resource": "*",
                                          "Condition": {"DateLessThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}}}))
    denied(lambda: client(server, "greengrass", u).list_groups())
    u = make_user(server, "current", doc({"Effect": "Allow", "Action": "greengrass:*", "Resource": "*",
                                          "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}}}))
    client(server, "greengrass", u).list_groups()
    # ArnLike / StringLike on the principal
    u = make_user(server, "arny", doc({"Effect": "Allow", "Action": "greengrass:*", "Resource": "*",
                                       "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/arn?"},
                                                     "StringLike": {"aws:username": "ar*"}}}))
    client(server, "greengrass", u).list_groups()
    # aws:MultiFactorAuthPresent: absent for long-term keys, true for an MFA session
    pol = doc({"Effect": "Allow", "Action": ["greengrass:*", "sts:*"], "Resource": "*"},
              {"Effect": "Deny", "Action": "greengrass:*", "Resource": "*",
               "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}})
    u = make_user(server, "mfa", json.loads(pol))
    denied(lambda: client(server, "greengrass", u).list_groups())
    s = client(server, "sts", u).get_session_token(SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/mfa", TokenCode="123456")
    c = s["Credentials"]
    mfa = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    client(server, "greengrass", mfa).list_groups()
    rec = [r for r in server.records("ListGroups") if r["userIdentity"]["accessKeyId"] == c["AccessKeyId"]][0]
    assert rec["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] == "true"


def test_managed_policy_grants_and_revokes(server):
    iam = server.client("iam")
    u = make_user(server, "managed")
    gg = client(server, "greengrass", u)
    denied(lambda: gg.list_groups())
    arn = iam.create_policy(PolicyName="gg-read", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "greengrass:List*", "Resource": "*"}))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="managed", PolicyArn=arn)
    gg.list_groups()
    iam.detach_user_policy(UserName="managed", PolicyArn=arn)
    denied(lambda: gg.list_groups())
    iam.attach_user_policy(UserName="managed", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    gg.list_groups()
    denied(lambda: gg.create_group(Name="no"))


def test_role_session_permissions_follow_role_policies(server):
    iam = server.client("iam")
    iam.create_role(RoleName="limited", AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}))
    c = server.client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/limited",
                                         RoleSessionName="lim")["Credentials"]
    creds = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    msg = denied(lambda: client(server, "greengrass", creds).list_groups())
    assert msg.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/limited/lim is not authorized")
    iam.put_role_policy(RoleName="limited", PolicyName="p", PolicyDocument=json.dumps(ALLOW_ALL))
    client(server, "greengrass", creds).list_groups()
    # AssumeRole also needs the caller's own permission
    weak = make_user(server, "weak")
    denied(lambda: client(server, "sts", weak).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/limited",
                                                           RoleSessionName="w1"), code="AccessDenied")


def test_policy_variable_self_service(server):
    """A common AWS policy: users manage their own access keys only."""
    pol = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["iam:CreateAccessKey", "iam:ListAccessKeys", "iam:DeleteAccessKey"],
        "Resource": "arn:aws:iam::*:user/${aws:username}"}]}
    dave = make_user(server, "dave", pol)
    make_user(server, "erin")
    iam = client(server, "iam", dave)
    k = iam.create_access_key()["AccessKey"]          # no UserName: the caller's own user
    assert k["UserName"] == "dave"
    assert len(iam.list_access_keys(UserName="dave")["AccessKeyMetadata"]) == 2
    msg = denied(lambda: iam.list_access_keys(UserName="erin"), code="AccessDenied")
    assert msg.endswith(f"iam:ListAccessKeys on resource: arn:aws:iam::{ACCOUNT}:user/erin")


def test_pass_role_for_greengrass_service_role(server):
    role = f"arn:aws:iam::{ACCOUNT}:role/Greengrass_ServiceRole"
    u = make_user(server, "ggadmin", doc({"Effect": "Allow", "Action": "greengrass:*", "Resource": "*"}))
    gg = client(server, "greengrass", u)
    msg = denied(lambda: gg.associate_service_role_to_account(RoleArn=role))
    assert msg == f"User: arn:aws:iam::{ACCOUNT}:user/ggadmin is not authorized to perform: iam:PassRole on resource: {role}"
    try:   # nothing was associated
        assert server.client("greengrass").get_service_role_for_account().get("RoleArn") != role
    except ClientError:
        pass
    server.client("iam").put_user_policy(UserName="ggadmin", PolicyName="pass", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/Greengrass_*"}))
    gg.associate_service_role_to_account(RoleArn=role)
    assert server.client("greengrass").get_service_role_for_account()["RoleArn"] == role
