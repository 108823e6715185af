"""STS: caller identity, AssumeRole, GetSessionToken, GetFederationToken,
session tokens and their expiry, and each identity type's CloudTrail
userIdentity (cloudtrail.md §1.3)."""
import datetime
import json

import pytest
from botocore.exceptions import ClientError

from iam_util import ACCOUNT, ALLOW_ALL, client, doc, make_user, session_creds, trust

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ops"


def make_role(server, name="ops", principal=None, policy=ALLOW_ALL, **kw):
    iam = server.client("iam")
    r = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(principal or {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
                        **kw)["Role"]
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return r


def test_get_caller_identity_each_principal(server):
    assert server.client("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    root = server.client("sts", profile="root").get_caller_identity()
    assert root["Arn"] == f"arn:aws:iam::{ACCOUNT}:root" and root["UserId"] == ACCOUNT
    # a user with no policy at all may still ask who it is (AWS: no permission needed)
    nobody = make_user(server, "nobody")
    assert client(server, "sts", nobody).get_caller_identity()["Arn"].endswith(":user/nobody")
    (rec,) = [r for r in server.records("GetCallerIdentity") if r["userIdentity"]["type"] == "Root"]
    assert rec["eventSource"] == "sts.amazonaws.com"
    assert rec["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:root" and "sessionContext" not in rec["userIdentity"]


def test_assume_role_and_record(server):
    role = make_role(server)
    resp = server.client("sts").assume_role(RoleArn=ROLE_ARN, RoleSessionName="deploy-1", DurationSeconds=900)
    c = resp["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and len(c["SecretAccessKey"]) == 40 and c["SessionToken"]
    left = (c["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 880 < left <= 901
    assert resp["AssumedRoleUser"] == {"AssumedRoleId": f"{role['RoleId']}:deploy-1",
                                       "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/deploy-1"}
    creds = session_creds(resp)
    me = client(server, "sts", creds).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/deploy-1"
    g = client(server, "greengrass", creds).create_group(Name="by-role")
    (rec,) = [r for r in server.records("CreateGroup") if r["responseElements"]["Id"] == g["Id"]]
    ui = rec["userIdentity"]
    assert ui["type"] == "AssumedRole" and ui["accessKeyId"] == c["AccessKeyId"]
    assert ui["principalId"] == f"{role['RoleId']}:deploy-1" and "userName" not in ui
    assert ui["sessionContext"]["sessionIssuer"] == {
        "type": "Role", "principalId": role["RoleId"], "arn": ROLE_ARN, "accountId": ACCOUNT, "userName": "ops"}
    assert ui["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    assert ui["sessionContext"]["attributes"]["creationDate"].endswith("Z")
    # LookupEvents' Username of a role session is its session name
    ev = server.lookup(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "deploy-1"}])
    assert any(e["EventName"] == "CreateGroup" for e in ev)
    (ar,) = server.records("AssumeRole")
    assert ar["requestParameters"] == {"roleArn": ROLE_ARN, "roleSessionName": "deploy-1", "durationSeconds": 900}
    assert ar["responseElements"]["credentials"]["accessKeyId"] == c["AccessKeyId"]
    assert "secretAccessKey" not in ar["responseElements"]["credentials"]
    assert c["SecretAccessKey"] not in json.dumps(ar)
    assert ar["resources"] == [{"ARN": ROLE_ARN, "accountId": ACCOUNT, "type": "AWS::IAM::Role"}]


def test_assume_role_refusals(server):
    make_role(server, principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/someone-else"})
    sts = server.client("sts")
    with pytest.raises(ClientError) as ei:
        sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="sx")
    assert ei.value.response["Error"]["Code"] == "AccessDenied"
    assert "sts:AssumeRole" in ei.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as ei:
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/none", RoleSessionName="sx")
    assert ei.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as ei:   # root cannot assume roles
        server.client("sts", profile="root").assume_role(RoleArn=ROLE_ARN, RoleSessionName="sx")
    assert ei.value.response["Error"]["Code"] == "AccessDenied"
    make_role(server, name="short")
    with pytest.raises(ClientError) as ei:   # above the role's MaxSessionDuration (3600)
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/short", RoleSessionName="sx", DurationSeconds=7200)
    assert ei.value.response["Error"]["Code"] == "ValidationError"
    # the failed calls are recorded with the query protocol's spelling
    codes = sorted(r.get("errorCode", "") for r in server.records("AssumeRole"))
    assert codes.count("AccessDenied") == 3 and codes.count("ValidationError") == 1


def test_session_token_checks(server):
    make_role(server)
    creds = session_creds(server.client("sts").assume_role(RoleArn=ROLE_ARN, RoleSessionName="sx"))
    # wrong token: query protocol says InvalidClientTokenId, JSON protocols UnrecognizedClientException
    with pytest.raises(ClientError) as ei:
        client(server, "sts", (creds[0], creds[1], creds[2][:-4] + "AAAA")).get_caller_identity()
    assert ei.value.response["Error"]["Code"] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as ei:
        client(server, "greengrass", (creds[0], creds[1])).list_groups()   # no token at all
    assert ei.value.response["Error"]["Code"] == "UnrecognizedClientException"
    with pytest.raises(ClientError) as ei:   # a token with a long-term key
        client(server, "cloudtrail", server.key() + (creds[2],)).lookup_events()
    assert ei.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_expired_session_token(make_server, tmp_path):
    """Expiry is tested by restarting the same data dir with the test-only
    clock offset GREENTRAIL_TEST_CLOCK_OFFSET_MS (SigV4's clock, which the
    expiry check follows) 1000 s ahead, past a 900 s session, and a skew
    window wide enough to accept the client's real clock."""
    data = tmp_path / "exp"
    s1 = make_server(data_dir=data)
    make_role(s1)
    creds = session_creds(s1.client("sts").assume_role(RoleArn=ROLE_ARN, RoleSessionName="sx", DurationSeconds=900))
    client(s1, "greengrass", creds).list_groups()
    s1.stop()
    s2 = make_server(data_dir=data, env={"GREENTRAIL_TEST_CLOCK_OFFSET_MS": "1000000"}, args=["--max-skew", "86400"])
    with pytest.raises(ClientError) as ei:
        client(s2, "greengrass", creds).list_groups()
    assert ei.value.response["Error"]["Code"] == "ExpiredTokenException"
    with pytest.raises(ClientError) as ei:
        client(s2, "sts", creds).get_caller_identity()
    assert ei.value.response["Error"]["Code"] == "ExpiredToken"
    with pytest.raises(ClientError) as ei:
        client(s2, "cloudtrail", creds).lookup_events()
    assert ei.value.response["Error"]["Code"] == "ExpiredTokenException"
    s2.client("greengrass").list_groups()    # long-term keys are unaffected


def test_get_session_token_identity(server):
    bob = make_user(server, "bob", ALLOW_ALL)
    resp = client(server, "sts", bob).get_session_token(DurationSeconds=900)
    creds = session_creds(resp)
    assert creds[0].startswith("ASIA")
    assert client(server, "sts", creds).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/bob"
    client(server, "greengrass", creds).list_groups()
    rec = [r for r in server.records("ListGroups") if r["userIdentity"]["accessKeyId"] == creds[0]][0]
    ui = rec["userIdentity"]
    assert ui["type"] == "IAMUser" and ui["userName"] == "bob"
    assert ui["sessionContext"]["sessionIssuer"] == {} and ui["sessionContext"]["webIdFederationData"] == {}
    assert ui["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    # long-term calls carry no sessionContext
    client(server, "greengrass", bob).list_groups()
    rec = [r for r in server.records("ListGroups") if r["userIdentity"]["accessKeyId"] == bob[0]][0]
    assert "sessionContext" not in rec["userIdentity"]
    with pytest.raises(ClientError) as ei:   # session credentials cannot get another session token
        client(server, "sts", creds).get_session_token()
    assert ei.value.response["Error"]["Code"] == "AccessDenied"
    # root sessions: Root identity with an empty issuer
    rc = session_creds(server.client("sts", profile="root").get_session_token())
    client(server, "greengrass", rc).list_groups()
    rec = [r for r in server.records("ListGroups") if r["userIdentity"]["accessKeyId"] == rc[0]][0]
    assert rec["userIdentity"]["type"] == "Root" and rec["userIdentity"]["sessionContext"]["sessionIssuer"] == {}


def test_federation_token(server):
    fed = make_user(server, "fed", ALLOW_ALL)
    pol = doc({"Effect": "Allow", "Action": "greengrass:List*", "Resource": "*"})
    resp = client(server, "sts", fed).get_federation_token(Name="partner", Policy=pol, DurationSeconds=900)
    assert resp["FederatedUser"] == {"FederatedUserId": f"{ACCOUNT}:partner",
                                     "Arn": f"arn:aws:sts::{ACCOUNT}:federated-user/partner"}
    creds = session_creds(resp)
    gg = client(server, "greengrass", creds)
    gg.list_groups()                         # user policy AND session policy allow
    with pytest.raises(ClientError) as ei:   # the session policy does not allow it
        gg.create_group(Name="nope")
    assert ei.value.response["Error"]["Code"] == "AccessDeniedException"
    rec = [r for r in server.records("ListGroups") if r["userIdentity"]["accessKeyId"] == creds[0]][0]
    ui = rec["userIdentity"]
    assert ui["type"] == "FederatedUser" and ui["arn"] == f"arn:aws:sts::{ACCOUNT}:federated-user/partner"
    assert ui["principalId"] == f"{ACCOUNT}:partner"
    iss = ui["sessionContext"]["sessionIssuer"]
    assert iss["type"] == "IAMUser" and iss["userName"] == "fed" and iss["arn"] == f"arn:aws:iam::{ACCOUNT}:user/fed"
    # no session policy: the federated user can do nothing [AWS doc]
    bare = session_creds(client(server, "sts", fed).get_federation_token(Name="bare"))
    with pytest.raises(ClientError):
        client(server, "greengrass", bare).list_groups()


def test_role_chaining_and_cli(aws, server):
    make_role(server)
    make_role(server, name="second", principal={"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/first"})
    first = session_creds(server.client("sts").assume_role(RoleArn=ROLE_ARN, RoleSessionName="first"))
    second = client(server, "sts", first).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/second",
                                                     RoleSessionName="two")
    assert second["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/second/two"
    rc, out, err = aws("sts", "assume-role", "--role-arn", ROLE_ARN, "--role-session-name", "cli",
                       "--duration-seconds", "900")
    assert rc == 0, err
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert out["AssumedRoleUser"]["Arn"].endswith("assumed-role/ops/cli")


def test_trust_policy_external_id(server):
    iam = server.client("iam")
    iam.create_role(RoleName="vendor", AssumeRolePolicyDocument=doc({
        "Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "s3cr3t-id"}}}))
    arn = f"arn:aws:iam::{ACCOUNT}:role/vendor"
    sts = server.client("sts")
    for kw in ({}, {"ExternalId": "wrong-id"}):
        with pytest.raises(ClientError) as ei:
            sts.assume_role(RoleArn=arn, RoleSessionName="v1", **kw)
        assert ei.value.response["Error"]["Code"] == "AccessDenied"
    assert sts.assume_role(RoleArn=arn, RoleSessionName="v1", ExternalId="s3cr3t-id")["Credentials"]["AccessKeyId"]
