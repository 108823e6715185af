"""IAM over the query protocol: users, access keys, login profiles,
managed and inline policies, with boto3, raw XML and the aws CLI."""
import json
import urllib.request
import xml.etree.ElementTree as ET

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.exceptions import ClientError

from iam_util import ACCOUNT, client, doc, make_user

NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"


def raw_query(server, service, body, profile="default"):
    """POST a form-encoded query-protocol body signed with SigV4; returns
    (status, headers, parsed XML root)."""
    ak, sk = server.key(profile)
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=server.url + "/", data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ak, sk), service, "us-east-1").add_auth(req)
    r = urllib.request.Request(server.url + "/", data=body.encode(), method="POST", headers=dict(req.headers))
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, dict(resp.headers), ET.fromstring(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), ET.fromstring(e.read())


def test_query_xml_envelope(server):
    st, hdr, root = raw_query(server, "iam", "Action=GetUser&Version=2010-05-08&UserName=admin")
    assert st == 200
    assert root.tag == NS + "GetUserResponse"
    user = root.find(f"{NS}GetUserResult/{NS}User")
    assert user.find(NS + "UserName").text == "admin"
    assert user.find(NS + "Arn").text == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert root.find(f"{NS}ResponseMetadata/{NS}RequestId").text == hdr["x-amzn-RequestId"]


def test_query_xml_error(server):
    st, hdr, root = raw_query(server, "iam", "Action=GetUser&Version=2010-05-08&UserName=nobody")
    assert st == 404
    assert root.tag == NS + "ErrorResponse"
    err = root.find(NS + "Error")
    assert err.find(NS + "Type").text == "Sender"
    assert err.find(NS + "Code").text == "NoSuchEntity"
    assert "nobody" in err.find(NS + "Message").text
    assert root.find(NS + "RequestId").text == hdr["x-amzn-RequestId"]


def test_query_unknown_action_and_validation(server):
    st, _, root = raw_query(server, "iam", "Action=NoSuchThing&Version=2010-05-08")
    assert st == 400 and root.find(f"{NS}Error/{NS}Code").text == "InvalidAction"
    # UserName is required by the model: the query spelling of a validation error
    st, _, root = raw_query(server, "iam", "Action=CreateUser&Version=2010-05-08")
    assert st == 400 and root.find(f"{NS}Error/{NS}Code").text == "ValidationError"
    # a flattened list: Tags.member.N.Key / .Value
    st, _, root = raw_query(server, "iam", "Action=CreateUser&Version=2010-05-08&UserName=t1"
                            "&Tags.member.1.Key=team&Tags.member.1.Value=a%20b&Tags.member.2.Key=x&Tags.member.2.Value=y")
    assert st == 200
    tags = root.findall(f"{NS}CreateUserResult/{NS}User/{NS}Tags/{NS}member")
    assert [(t.find(NS + "Key").text, t.find(NS + "Value").text) for t in tags] == [("team", "a b"), ("x", "y")]


def test_users_crud_and_paging(server):
    iam = server.client("iam")
    for n in ["u1", "u2", "u3"]:
        u = iam.create_user(UserName=n, Path="/eng/")["User"]
        assert u["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/eng/{n}" and u["UserId"].startswith("AIDA")
    with pytest.raises(ClientError) as ei:
        iam.create_user(UserName="u1")
    assert ei.value.response["Error"]["Code"] == "EntityAlreadyExists"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert iam.get_user(UserName="u2")["User"]["UserName"] == "u2"
    assert iam.get_user()["User"]["UserName"] == "admin"   # no UserName: the caller
    p1 = iam.list_users(MaxItems=2)
    assert p1["IsTruncated"] and len(p1["Users"]) == 2
    p2 = iam.list_users(Marker=p1["Marker"], MaxItems=2)
    assert not p2["IsTruncated"]
    names = [u["UserName"] for u in p1["Users"] + p2["Users"]]
    assert sorted(names) == ["admin", "u1", "u2", "u3"]
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/eng/")["Users"]] == ["u1", "u2", "u3"]
    iam.delete_user(UserName="u3")
    with pytest.raises(ClientError) as ei:
        iam.get_user(UserName="u3")
    assert ei.value.response["Error"]["Code"] == "NoSuchEntity"


def test_access_keys_sign_and_lifecycle(server):
    iam = server.client("iam")
    iam.create_user(UserName="bob")
    k = iam.create_access_key(UserName="bob")["AccessKey"]
    assert k["AccessKeyId"].startswith("AKIA") and len(k["AccessKeyId"]) == 20 and len(k["SecretAccessKey"]) == 40
    creds = (k["AccessKeyId"], k["SecretAccessKey"])
    ident = client(server, "sts", creds).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/bob" and ident["Account"] == ACCOUNT
    meta = iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]
    assert [(m["AccessKeyId"], m["Status"], m["UserName"]) for m in meta] == [(k["AccessKeyId"], "Active", "bob")]
    # a user with keys cannot be deleted
    with pytest.raises(ClientError) as ei:
        iam.delete_user(UserName="bob")
    assert ei.value.response["Error"]["Code"] == "DeleteConflict"
    iam.update_access_key(UserName="bob", AccessKeyId=k["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as ei:
        client(server, "sts", creds).get_caller_identity()
    assert ei.value.response["Error"]["Code"] == "InvalidClientTokenId"
    iam.update_access_key(UserName="bob", AccessKeyId=k["AccessKeyId"], Status="Active")
    client(server, "sts", creds).get_caller_identity()
    iam.delete_access_key(UserName="bob", AccessKeyId=k["AccessKeyId"])
    with pytest.raises(ClientError) as ei:
        client(server, "greengrass", creds).list_groups()
    assert ei.value.response["Error"]["Code"] == "UnrecognizedClientException"
    iam.delete_user(UserName="bob")
    # at most two keys per user (AWS's quota)
    iam.create_user(UserName="carol")
    iam.create_access_key(UserName="carol")
    iam.create_access_key(UserName="carol")
    with pytest.raises(ClientError) as ei:
        iam.create_access_key(UserName="carol")
    assert ei.value.response["Error"]["Code"] == "LimitExceeded"


def test_iam_records_global_and_secret_free(server):
    iam = server.client("iam", region="eu-west-1")
    iam.create_user(UserName="rec")
    k = iam.create_access_key(UserName="rec")["AccessKey"]
    iam.create_login_profile(UserName="rec", Password="Sup3r-secret-pw!")
    (cu,) = server.records("CreateUser")
    assert cu["eventSource"] == "iam.amazonaws.com"
    assert cu["awsRegion"] == "us-east-1"      # IAM is global
    assert cu["requestParameters"] == {"userName": "rec"}
    assert cu["responseElements"]["user"]["userName"] == "rec"
    assert cu["userIdentity"]["type"] == "IAMUser" and cu["userIdentity"]["userName"] == "admin"
    (ck,) = server.records("CreateAccessKey")
    assert ck["responseElements"]["accessKey"]["accessKeyId"] == k["AccessKeyId"]
    assert "secretAccessKey" not in json.dumps(ck) and k["SecretAccessKey"] not in json.dumps(ck)
    (lp,) = server.records("CreateLoginProfile")
    assert "Sup3r-secret-pw!" not in json.dumps(lp) and "password" not in lp["requestParameters"]


@pytest.mark.sqlite_only
def test_login_profile(server):
    iam = server.client("iam")
    iam.create_user(UserName="web")
    with pytest.raises(ClientError) as ei:
        iam.create_login_profile(UserName="web", Password="short")
    assert ei.value.response["Error"]["Code"] == "PasswordPolicyViolation"
    lp = iam.create_login_profile(UserName="web", Password="long-enough-pw", PasswordResetRequired=True)["LoginProfile"]
    assert lp["UserName"] == "web" and lp["PasswordResetRequired"] is True
    assert iam.get_login_profile(UserName="web")["LoginProfile"]["UserName"] == "web"
    with pytest.raises(ClientError) as ei:
        iam.create_login_profile(UserName="web", Password="long-enough-pw")
    assert ei.value.response["Error"]["Code"] == "EntityAlreadyExists"
    # the password is stored only as a salted hash
    db = open(f"{server.data_dir}/greentrail.db", "rb").read()
    wal = b""
    try:
        wal = open(f"{server.data_dir}/greentrail.db-wal", "rb").read()
    except OSError:
        pass
    assert b"long-enough-pw" not in db + wal
    iam.delete_login_profile(UserName="web")
    with pytest.raises(ClientError):
        iam.get_login_profile(UserName="web")


def test_inline_and_managed_policies(server):
    iam = server.client("iam")
    iam.create_user(UserName="pol")
    d = doc({"Effect": "Allow", "Action": "greengrass:List*", "Resource": "*"})
    iam.put_user_policy(UserName="pol", PolicyName="gg", PolicyDocument=d)
    assert iam.list_user_policies(UserName="pol")["PolicyNames"] == ["gg"]
    got = iam.get_user_policy(UserName="pol", PolicyName="gg")
    assert got["PolicyDocument"] == json.loads(d)      # botocore decodes the URL-encoded document
    with pytest.raises(ClientError) as ei:
        iam.put_user_policy(UserName="pol", PolicyName="bad", PolicyDocument='{"Statement":[{"Effect":"Maybe"}]}')
    assert ei.value.response["Error"]["Code"] == "MalformedPolicyDocument"
    p = iam.create_policy(PolicyName="ro", PolicyDocument=d)["Policy"]
    assert p["Arn"] == f"arn:aws:iam::{ACCOUNT}:policy/ro" and p["DefaultVersionId"] == "v1"
    iam.attach_user_policy(UserName="pol", PolicyArn=p["Arn"])
    att = iam.list_attached_user_policies(UserName="pol")["AttachedPolicies"]
    assert att == [{"PolicyName": "ro", "PolicyArn": p["Arn"]}]
    assert iam.get_policy(PolicyArn=p["Arn"])["Policy"]["AttachmentCount"] == 1
    with pytest.raises(ClientError) as ei:
        iam.delete_policy(PolicyArn=p["Arn"])
    assert ei.value.response["Error"]["Code"] == "DeleteConflict"
    with pytest.raises(ClientError) as ei:
        iam.attach_user_policy(UserName="pol", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/nope")
    assert ei.value.response["Error"]["Code"] == "NoSuchEntity"
    assert json.loads(json.dumps(iam.get_policy_version(PolicyArn=p["Arn"], VersionId="v1")["PolicyVersion"]["Document"])) == json.loads(d)
    iam.detach_user_policy(UserName="pol", PolicyArn=p["Arn"])
    iam.delete_user_policy(UserName="pol", PolicyName="gg")
    iam.delete_policy(PolicyArn=p["Arn"])
    iam.delete_user(UserName="pol")
    # the bootstrapped admin carries an AdministratorAccess-like policy
    att = iam.list_attached_user_policies(UserName="admin")["AttachedPolicies"]
    assert att == [{"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]


def test_roles_crud(server):
    iam = server.client("iam")
    t = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"})
    r = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=t, MaxSessionDuration=7200)["Role"]
    assert r["RoleId"].startswith("AROA") and r["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/deployer"
    g = iam.get_role(RoleName="deployer")["Role"]
    assert g["AssumeRolePolicyDocument"] == json.loads(t) and g["MaxSessionDuration"] == 7200
    assert [x["RoleName"] for x in iam.list_roles()["Roles"]] == ["deployer"]
    with pytest.raises(ClientError) as ei:   # a trust policy needs a Principal
        iam.create_role(RoleName="r2", AssumeRolePolicyDocument=doc({"Effect": "Allow", "Action": "sts:AssumeRole"}))
    assert ei.value.response["Error"]["Code"] == "MalformedPolicyDocument"
    iam.put_role_policy(RoleName="deployer", PolicyName="x", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "*", "Resource": "*"}))
    assert iam.list_role_policies(RoleName="deployer")["PolicyNames"] == ["x"]
    with pytest.raises(ClientError) as ei:
        iam.delete_role(RoleName="deployer")
    assert ei.value.response["Error"]["Code"] == "DeleteConflict"
    iam.delete_role_policy(RoleName="deployer", PolicyName="x")
    iam.delete_role(RoleName="deployer")


def test_aws_cli_iam_and_sts(aws):
    rc, out, err = aws("iam", "create-user", "--user-name", "cli-user")
    assert rc == 0, err
    assert out["User"]["UserName"] == "cli-user"
    rc, out, err = aws("iam", "list-users")
    assert rc == 0, err
    assert {u["UserName"] for u in out["Users"]} == {"admin", "cli-user"}
    rc, out, err = aws("sts", "get-caller-identity")
    assert rc == 0, err
    assert out["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    rc, out, err = aws("iam", "get-user", "--user-name", "ghost")
    assert rc != 0 and "NoSuchEntity" in err


def test_query_authentication_errors(server):
    ak, sk = server.key()
    with pytest.raises(ClientError) as ei:
        client(server, "iam", (ak, sk[:-1] + ("A" if sk[-1] != "A" else "B"))).list_users()
    assert ei.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as ei:
        client(server, "sts", ("AKIAAAAAAAAAAAAAAAAA", sk)).get_caller_identity()
    assert ei.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_groups_and_inherited_permissions(server):
    iam = server.client("iam")
    g = iam.create_group(GroupName="readers")["Group"]
    assert g["GroupId"].startswith("AGPA") and g["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/readers"
    creds = make_user(server, "gina")
    gg = client(server, "greengrass", creds)
    with pytest.raises(ClientError):
        gg.list_groups()
    iam.add_user_to_group(GroupName="readers", UserName="gina")
    iam.put_group_policy(GroupName="readers", PolicyName="gg", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "greengrass:List*", "Resource": "*"}))
    gg.list_groups()                                   # inherited from the group
    got = iam.get_group(GroupName="readers")
    assert [u["UserName"] for u in got["Users"]] == ["gina"]
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName="gina")["Groups"]] == ["readers"]
    assert [x["GroupName"] for x in iam.list_groups()["Groups"]] == ["readers"]
    iam.attach_group_policy(GroupName="readers", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert iam.list_attached_group_policies(GroupName="readers")["AttachedPolicies"][0]["PolicyName"] == "AdministratorAccess"
    gg.create_group(Name="via-group-admin")
    iam.detach_group_policy(GroupName="readers", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    with pytest.raises(ClientError) as ei:
        iam.delete_group(GroupName="readers")
    assert ei.value.response["Error"]["Code"] == "DeleteConflict"
    iam.remove_user_from_group(GroupName="readers", UserName="gina")
    with pytest.raises(ClientError):
        gg.list_groups()
    iam.delete_group_policy(GroupName="readers", PolicyName="gg")
    iam.delete_group(GroupName="readers")
    with pytest.raises(ClientError) as ei:
        iam.get_group(GroupName="readers")
    assert ei.value.response["Error"]["Code"] == "NoSuchEntity"


def test_update_login_profile_and_change_password(server):
    iam = server.client("iam")
    creds = make_user(server, "pat", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "arn:aws:iam::*:user/${aws:username}"}]})
    iam.create_login_profile(UserName="pat", Password="first-password", PasswordResetRequired=True)
    iam.update_login_profile(UserName="pat", Password="second-password")
    assert iam.get_login_profile(UserName="pat")["LoginProfile"]["PasswordResetRequired"] is True
    me = client(server, "iam", creds)
    with pytest.raises(ClientError) as ei:
        me.change_password(OldPassword="first-password", NewPassword="third-password")
    assert ei.value.response["Error"]["Code"] == "InvalidInput"
    me.change_password(OldPassword="second-password", NewPassword="third-password")
    assert iam.get_login_profile(UserName="pat")["LoginProfile"]["PasswordResetRequired"] is False
    (rec,) = [r for r in server.records("ChangePassword") if "errorCode" not in r]
    assert "password" not in json.dumps(rec).lower().replace("changepassword", "")
    iam.create_role(RoleName="upd", AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}))
    iam.update_role(RoleName="upd", MaxSessionDuration=7200, Description="d")
    r = iam.get_role(RoleName="upd")["Role"]
    assert r["MaxSessionDuration"] == 7200 and r["Description"] == "d"


def test_query_errors_before_authentication_are_xml(server):
    """A form-encoded request that fails SigV4 parsing (no Authorization at
    all) gets the query protocol's XML error, not a JSON one."""
    r = urllib.request.Request(server.url + "/", data=b"Action=ListUsers&Version=2010-05-08", method="POST",
                               headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(r)
    assert ei.value.code == 403
    root = ET.fromstring(ei.value.read())
    assert root.tag == "ErrorResponse"
    assert root.find("Error/Code").text == "MissingAuthenticationToken"
    assert root.find("Error/Type").text == "Sender"


def test_user_and_role_tags(server):
    iam = server.client("iam")
    iam.create_user(UserName="tagged", Tags=[{"Key": "team", "Value": "a"}])
    iam.tag_user(UserName="tagged", Tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "dev"}])
    assert sorted((t["Key"], t["Value"]) for t in iam.list_user_tags(UserName="tagged")["Tags"]) == \
        [("env", "dev"), ("team", "b")]
    iam.untag_user(UserName="tagged", TagKeys=["team"])
    assert iam.get_user(UserName="tagged")["User"]["Tags"] == [{"Key": "env", "Value": "dev"}]
    iam.untag_user(UserName="tagged", TagKeys=["env"])
    assert "Tags" not in iam.get_user(UserName="tagged")["User"]
    iam.create_role(RoleName="tr", AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}))
    iam.tag_role(RoleName="tr", Tags=[{"Key": "k", "Value": "v"}])
    assert iam.list_role_tags(RoleName="tr")["Tags"] == [{"Key": "k", "Value": "v"}]
    with pytest.raises(ClientError) as ei:
        iam.tag_user(UserName="ghost", Tags=[{"Key": "k", "Value": "v"}])
    assert ei.value.response["Error"]["Code"] == "NoSuchEntity"
