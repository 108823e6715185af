"""AWS Organizations (organizations 2016-11-28): organizations, accounts
made by CreateAccount (with OrganizationAccountAccessRole, so the management
account can AssumeRole in), existing accounts joining by invitation,
trusted access for CloudTrail, AWS's errors, authorization, and records
(a global service: us-east-1, eventSource organizations.amazonaws.com)."""
import json
import re

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT
from iam_util import client, doc, make_user, session_creds
from org_util import create_account

MEMBER = "210987654321"


def err(e):
    return e.value.response["Error"]["Code"]


def test_organization_lifecycle(server):
    org = server.client("organizations")
    with pytest.raises(ClientError) as e:
        org.describe_organization()
    assert err(e) == "AWSOrganizationsNotInUseException"
    o = org.create_organization()["Organization"]   # FeatureSet defaults to ALL
    assert re.fullmatch(r"o-[a-z0-9]{10}", o["Id"])
    assert o["FeatureSet"] == "ALL" and o["MasterAccountId"] == ACCOUNT
    assert o["Arn"] == f"arn:aws:organizations::{ACCOUNT}:organization/{o['Id']}"
    assert o["MasterAccountArn"] == f"arn:aws:organizations::{ACCOUNT}:account/{o['Id']}/{ACCOUNT}"
    assert org.describe_organization()["Organization"] == o
    with pytest.raises(ClientError) as e:
        org.create_organization(FeatureSet="ALL")
    assert err(e) == "AlreadyInOrganizationException"
    roots = org.list_roots()["Roots"]
    assert len(roots) == 1 and re.fullmatch(r"r-[a-z0-9]{4}", roots[0]["Id"])
    accts = org.list_accounts()["Accounts"]
    assert [a["Id"] for a in accts] == [ACCOUNT] and accts[0]["Status"] == "ACTIVE"
    assert org.describe_account(AccountId=ACCOUNT)["Account"]["Id"] == ACCOUNT
    with pytest.raises(ClientError) as e:
        org.describe_account(AccountId="999999999999")
    assert err(e) == "AccountNotFoundException"
    # trusted access: enabling twice changes nothing, disabling removes it
    assert org.list_aws_service_access_for_organization()["EnabledServicePrincipals"] == []
    org.enable_aws_service_access(ServicePrincipal="cloudtrail.amazonaws.com")
    org.enable_aws_service_access(ServicePrincipal="cloudtrail.amazonaws.com")
    sp = org.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [s["ServicePrincipal"] for s in sp] == ["cloudtrail.amazonaws.com"] and "DateEnabled" in sp[0]
    org.disable_aws_service_access(ServicePrincipal="cloudtrail.amazonaws.com")
    assert org.list_aws_service_access_for_organization()["EnabledServicePrincipals"] == []
    org.delete_organization()
    with pytest.raises(ClientError) as e:
        org.describe_organization()
    assert err(e) == "AWSOrganizationsNotInUseException"
    # a new organization can be made after that
    assert org.create_organization(FeatureSet="CONSOLIDATED_BILLING")["Organization"]["FeatureSet"] == \
        "CONSOLIDATED_BILLING"


def test_create_account_and_assume_role(server):
    org = server.client("organizations")
    org.create_organization()
    st = org.create_account(Email="dev@example.com", AccountName="dev")["CreateAccountStatus"]
    # AWS answers before the account exists
    assert st["State"] == "IN_PROGRESS" and st["Id"].startswith("car-") and "AccountId" not in st
    done = org.describe_create_account_status(CreateAccountRequestId=st["Id"])["CreateAccountStatus"]
    assert done["State"] == "SUCCEEDED" and re.fullmatch(r"\d{12}", done["AccountId"])
    new = done["AccountId"]
    assert [s["Id"] for s in org.list_create_account_status(States=["SUCCEEDED"])["CreateAccountStatuses"]] == [st["Id"]]
    assert org.list_create_account_status(States=["FAILED"])["CreateAccountStatuses"] == []
    with pytest.raises(ClientError) as e:
        org.describe_create_account_status(CreateAccountRequestId="car-" + "0" * 32)
    assert err(e) == "CreateAccountStatusNotFoundException"
    a = org.describe_account(AccountId=new)["Account"]
    assert (a["Name"], a["Email"], a["JoinedMethod"]) == ("dev", "dev@example.com", "CREATED")
    assert {x["Id"] for x in org.list_accounts()["Accounts"]} == {ACCOUNT, new}
    # paging
    p1 = org.list_accounts(MaxResults=1)
    p2 = org.list_accounts(MaxResults=1, NextToken=p1["NextToken"])
    assert [x["Id"] for x in p1["Accounts"] + p2["Accounts"]] == [ACCOUNT, new] and "NextToken" not in p2
    # the management account's admin goes in through OrganizationAccountAccessRole
    sts = server.client("sts")
    creds = session_creds(sts.assume_role(RoleArn=f"arn:aws:iam::{new}:role/OrganizationAccountAccessRole",
                                          RoleSessionName="admin"))
    assert client(server, "sts", creds).get_caller_identity()["Account"] == new
    roles = client(server, "iam", creds).list_roles()["Roles"]
    r = [x for x in roles if x["RoleName"] == "OrganizationAccountAccessRole"][0]
    assert f"arn:aws:iam::{ACCOUNT}:root" in json.dumps(r["AssumeRolePolicyDocument"])
    # the role has AdministratorAccess: it can work in the new account
    client(server, "greengrass", creds).create_group(Name="in-new-account")
    # a custom role name
    st2 = org.create_account(Email="ops@example.com", AccountName="ops", RoleName="Ops")["CreateAccountStatus"]
    new2 = org.describe_create_account_status(CreateAccountRequestId=st2["Id"])["CreateAccountStatus"]["AccountId"]
    sts.assume_role(RoleArn=f"arn:aws:iam::{new2}:role/Ops", RoleSessionName="xx")
    # not deletable with members
    with pytest.raises(ClientError) as e:
        org.delete_organization()
    assert err(e) == "OrganizationNotEmptyException"
    # a made account still exists after it is removed: it can be invited back
    org.remove_account_from_organization(AccountId=new2)
    assert org.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": new2})["Handshake"]["State"] == "OPEN"
    # the record hides the e-mail address and the name (AWS, from memory)
    rec = server.records("CreateAccount")[-1]
    assert rec["requestParameters"]["email"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert rec["responseElements"]["createAccountStatus"]["state"] == "IN_PROGRESS"


def test_invitation_and_membership(server):
    mcreds = create_account(server, MEMBER)
    morg = client(server, "organizations", mcreds)
    org = server.client("organizations")
    oid = org.create_organization()["Organization"]["Id"]
    with pytest.raises(ClientError) as e:
        org.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": "999999999999"})
    assert err(e) == "AccountNotFoundException"
    hs = org.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": MEMBER}, Notes="welcome")["Handshake"]
    assert hs["State"] == "OPEN" and hs["Action"] == "INVITE" and hs["Id"].startswith("h-")
    assert {"Id": MEMBER, "Type": "ACCOUNT"} in hs["Parties"]
    with pytest.raises(ClientError) as e:
        org.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": MEMBER})
    assert err(e) == "DuplicateHandshakeException"
    # the invitee sees it and is not in the organization yet
    assert [h["Id"] for h in morg.list_handshakes_for_account()["Handshakes"]] == [hs["Id"]]
    with pytest.raises(ClientError) as e:
        morg.describe_organization()
    assert err(e) == "AWSOrganizationsNotInUseException"
    acc = morg.accept_handshake(HandshakeId=hs["Id"])["Handshake"]
    assert acc["State"] == "ACCEPTED"
    with pytest.raises(ClientError) as e:
        morg.accept_handshake(HandshakeId=hs["Id"])
    assert err(e) == "InvalidHandshakeTransitionException"
    assert morg.describe_organization()["Organization"]["Id"] == oid
    a = org.describe_account(AccountId=MEMBER)["Account"]
    assert a["JoinedMethod"] == "INVITED" and a["Arn"] == f"arn:aws:organizations::{ACCOUNT}:account/{oid}/{MEMBER}"
    # members may not manage the organization
    for call in (morg.list_accounts, morg.delete_organization, morg.list_aws_service_access_for_organization):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        morg.create_organization()
    assert err(e) == "AlreadyInOrganizationException"
    with pytest.raises(ClientError) as e:
        org.remove_account_from_organization(AccountId=ACCOUNT)
    assert err(e) == "MasterCannotLeaveOrganizationException"
    with pytest.raises(ClientError) as e:
        org.leave_organization()
    assert err(e) == "MasterCannotLeaveOrganizationException"
    morg.leave_organization()
    with pytest.raises(ClientError) as e:
        morg.describe_organization()
    assert err(e) == "AWSOrganizationsNotInUseException"
    # invited again, declined; then removed by the management account
    h2 = org.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": MEMBER})["Handshake"]
    assert morg.decline_handshake(HandshakeId=h2["Id"])["Handshake"]["State"] == "DECLINED"
    h3 = org.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": MEMBER})["Handshake"]
    morg.accept_handshake(HandshakeId=h3["Id"])
    org.remove_account_from_organization(AccountId=MEMBER)
    org.delete_organization()


def test_authorization_and_records(server):
    org = server.client("organizations")
    none = make_user(server, "nobody", doc({"Effect": "Allow", "Action": "greengrass:*", "Resource": "*"}))
    ro = make_user(server, "reader", doc({"Effect": "Allow", "Action": "organizations:Describe*", "Resource": "*"}))
    with pytest.raises(ClientError) as e:
        client(server, "organizations", none).create_organization()
    assert err(e) == "AccessDeniedException" and "organizations:CreateOrganization" in str(e.value)
    # signed for another region: still recorded in us-east-1 (a global service)
    server.client("organizations", region="eu-west-1").create_organization()
    assert client(server, "organizations", ro).describe_organization()["Organization"]["MasterAccountId"] == ACCOUNT
    with pytest.raises(ClientError) as e:
        client(server, "organizations", ro).list_accounts()
    assert err(e) == "AccessDeniedException"
    rec = server.records("CreateOrganization")
    ok = [r for r in rec if "errorCode" not in r][0]
    assert ok["eventSource"] == "organizations.amazonaws.com" and ok["awsRegion"] == "us-east-1"
    assert ok["responseElements"]["organization"]["masterAccountId"] == ACCOUNT
    denied = [r for r in rec if r.get("errorCode") == "AccessDeniedException"]
    assert denied and denied[0]["userIdentity"]["userName"] == "nobody"
    assert any(r["eventName"] == "ListAccounts" and r["errorCode"] == "AccessDeniedException"
               for r in server.records("ListAccounts"))


def test_cli(aws):
    rc, out, se = aws("organizations", "create-organization", "--feature-set", "ALL")
    assert rc == 0, se
    oid = out["Organization"]["Id"]
    rc, out, se = aws("organizations", "describe-organization")
    assert rc == 0 and out["Organization"]["Id"] == oid, se
    rc, out, se = aws("organizations", "enable-aws-service-access", "--service-principal", "cloudtrail.amazonaws.com")
    assert rc == 0, se
    rc, out, se = aws("organizations", "list-accounts")
    assert rc == 0 and [a["Id"] for a in out["Accounts"]] == [ACCOUNT], se
    rc, out, se = aws("organizations", "create-organization")
    assert rc != 0 and "AlreadyInOrganizationException" in se
