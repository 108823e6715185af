"""Console sign-in with an IAM user's name and console password (its login
profile), as AWS's IAM user sign-in page: account id + user name +
password. Failed attempts count towards the per-IP limit; ConsoleLogin is
recorded for successes and failures (cloudtrail.md §1.5: an unknown user
name shows as HIDDEN_DUE_TO_SECURITY_REASONS); the console's calls run as
that IAM user, so its policies apply."""
import json

import pytest

from test_console import Console, set_cookie

ACCOUNT = "123456789012"
PASSWORD = "Corr3ct-Horse-Battery"


def make_user(server, name, policy_arn=None, password=PASSWORD):
    iam = server.client("iam")
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=password)
    if policy_arn:
        iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
    return iam


def pw_signin(c, user, password=PASSWORD, account=ACCOUNT, headers=None):
    r = c.request("POST", "/console/api/signin",
                  {"method": "password", "account": account, "userName": user, "password": password},
                  headers=headers)
    if r.status == 200:
        c.csrf = r.json["csrfToken"]
    return r


def test_password_signin_acts_as_the_iam_user(server):
    make_user(server, "alice", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    c = Console(server)
    r = pw_signin(c, "alice")
    assert r.status == 200, r.text
    assert set_cookie(r) and len(c.cookie) == 64
    assert PASSWORD not in r.text
    u = r.json["user"]
    assert u["type"] == "IAMUser" and u["userName"] == "alice" and u["accountId"] == ACCOUNT
    assert u["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert u["sessionKeyId"].startswith("ASIA") and u["accessKeyId"] == ""
    assert c.request("GET", "/console/api/session").json["user"]["userName"] == "alice"
    # read-only: listing works, creating is denied (cleanly, as AccessDenied)
    r = c.call("greengrass", "ListGroups")
    assert r.status == 200, r.text
    r = c.call("greengrass", "CreateGroup", {"Name": "g1"})
    assert r.status == 403 and r.getheader("x-amzn-ErrorType").startswith("AccessDenied"), r.text
    assert "alice" in r.text
    assert server.client("greengrass").list_groups()["Groups"] == []
    # the calls are recorded as alice's console calls
    (rec,) = [x for x in server.records("ListGroups") if x["userIdentity"].get("userName") == "alice"]
    assert rec["userIdentity"]["type"] == "IAMUser" and rec["userIdentity"]["userName"] == "alice"
    assert rec["userAgent"] == "console.amazonaws.com"
    assert rec["userIdentity"]["accessKeyId"] == u["sessionKeyId"]


def test_user_without_permissions_sees_access_denied(server):
    make_user(server, "nobody")
    c = Console(server)
    assert pw_signin(c, "nobody").status == 200
    for svc, op in [("greengrass", "ListGroups"), ("cloudtrail", "LookupEvents"), ("cloudtrail", "DescribeTrails")]:
        r = c.call(svc, op)
        assert r.status in (400, 403) and "AccessDenied" in r.getheader("x-amzn-ErrorType", ""), (op, r.text)


def test_wrong_password_unknown_user_and_unknown_account(server):
    make_user(server, "bob")
    c = Console(server)
    assert pw_signin(c, "bob", password="wrong-password").status == 401
    assert pw_signin(c, "mallory").status == 401
    assert pw_signin(c, "bob", account="999999999999").status == 401
    # a user without a login profile cannot sign in with any password
    server.client("iam").create_user(UserName="nopw")
    assert pw_signin(c, "nopw", password="anything-at-all").status == 401
    r = pw_signin(c, "bob")   # 5th attempt in the window: still allowed, and right
    assert r.status == 200, r.text
    assert not c.request("POST", "/console/api/signin", {"method": "bogus"}).status == 200
    recs = server.records("ConsoleLogin")
    outcomes = sorted((x["userIdentity"]["userName"], x["responseElements"]["ConsoleLogin"]) for x in recs)
    # the unknown account has nowhere to record; the user without a profile is a known user
    assert outcomes == [("HIDDEN_DUE_TO_SECURITY_REASONS", "Failure"), ("bob", "Failure"), ("bob", "Success"),
                        ("nopw", "Failure")]
    for x in recs:
        assert x["eventSource"] == "signin.amazonaws.com" and x["eventType"] == "AwsConsoleSignIn"
        assert x["userIdentity"]["type"] == "IAMUser" and x["recipientAccountId"] == ACCOUNT
        assert "errorCode" not in x
        if x["responseElements"]["ConsoleLogin"] == "Failure":
            assert x["errorMessage"] == "Failed authentication"
        else:
            assert "errorMessage" not in x
    hidden = next(x for x in recs if x["userIdentity"]["userName"] == "HIDDEN_DUE_TO_SECURITY_REASONS")
    assert "arn" not in hidden["userIdentity"] and "mallory" not in json.dumps(hidden)
    bob_ok = next(x for x in recs if x["responseElements"]["ConsoleLogin"] == "Success")
    assert bob_ok["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/bob"
    assert "accessKeyId" not in bob_ok["userIdentity"]


def test_failed_password_signins_are_rate_limited(server):
    make_user(server, "carol")
    c = Console(server)
    for _ in range(5):
        assert pw_signin(c, "carol", password="wrong-password").status == 401
    r = pw_signin(c, "carol")
    assert r.status == 429 and r.json["__type"] == "TooManySignInAttempts" and not set_cookie(r)
    assert 0 < int(r.getheader("Retry-After")) <= 300


def test_deleting_the_login_profile_ends_the_session(server):
    iam = make_user(server, "dave", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    c = Console(server)
    assert pw_signin(c, "dave").status == 200
    assert c.call("greengrass", "ListGroups").status == 200
    iam.delete_login_profile(UserName="dave")
    r = c.call("greengrass", "ListGroups")
    assert r.status == 401 and r.json["__type"] == "ConsoleSessionRequired"


def test_password_change_takes_effect(server):
    iam = make_user(server, "erin")
    iam.update_login_profile(UserName="erin", Password="An0ther-Passw0rd")
    c = Console(server)
    assert pw_signin(c, "erin").status == 401
    assert pw_signin(c, "erin", password="An0ther-Passw0rd").status == 200


def test_signin_by_account_alias(server):
    """IAM account aliases (Create/List/DeleteAccountAlias): one per account,
    unique across accounts; the console's sign-in takes the alias in place
    of the account id, as AWS's sign-in page does."""
    from botocore.exceptions import ClientError
    from test_iam_accounts import create_account, keys
    from iam_util import client
    iam = make_user(server, "frank", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert iam.list_account_aliases()["AccountAliases"] == []
    for bad in ("-abc", "abc-", "a--b", "Upper-case", "123456789012"):   # (botocore itself refuses < 3)
        with pytest.raises(ClientError) as e:
            iam.create_account_alias(AccountAlias=bad)
        assert e.value.response["Error"]["Code"] == "ValidationError", bad
    iam.create_account_alias(AccountAlias="plant-seven")
    assert iam.list_account_aliases()["AccountAliases"] == ["plant-seven"]
    c = Console(server)
    r = pw_signin(c, "frank", account="plant-seven")
    assert r.status == 200, r.text
    assert r.json["user"]["accountId"] == ACCOUNT and r.json["user"]["userName"] == "frank"
    assert c.call("greengrass", "ListGroups").status == 200
    # an unknown alias is a failed sign-in with nothing to record
    assert pw_signin(Console(server), "frank", account="no-such-alias").status == 401
    # another account cannot take the alias; a new alias replaces the old one
    _, _, _, cp = create_account(server, "222222222222")
    other = client(server, "iam", keys(cp))
    with pytest.raises(ClientError) as e:
        other.create_account_alias(AccountAlias="plant-seven")
    assert e.value.response["Error"]["Code"] == "EntityAlreadyExists"
    iam.create_account_alias(AccountAlias="plant-eight")
    assert iam.list_account_aliases()["AccountAliases"] == ["plant-eight"]
    other.create_account_alias(AccountAlias="plant-seven")   # free again
    assert pw_signin(Console(server), "frank", account="plant-seven").status == 401
    assert pw_signin(Console(server), "frank", account="plant-eight").status == 200
    with pytest.raises(ClientError) as e:
        iam.delete_account_alias(AccountAlias="plant-seven")
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
    iam.delete_account_alias(AccountAlias="plant-eight")
    assert iam.list_account_aliases()["AccountAliases"] == []
    assert pw_signin(Console(server), "frank", account="plant-eight").status == 401
    outcomes = [(x["userIdentity"].get("userName"), x["responseElements"]["ConsoleLogin"])
                for x in server.records("ConsoleLogin")]
    assert sorted(outcomes) == [("frank", "Success"), ("frank", "Success")]
    # the alias calls are recorded as IAM management events
    bad, ok = sorted(server.records("DeleteAccountAlias"), key=lambda x: "errorCode" in x, reverse=True)
    assert bad["errorCode"] == "NoSuchEntity" and "errorCode" not in ok
    assert ok["eventSource"] == "iam.amazonaws.com" and ok["requestParameters"] == {"accountAlias": "plant-eight"}
