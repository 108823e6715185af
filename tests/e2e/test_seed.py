"""The seed's four Greengrass calls (greengrass.md §5.1), made with each aws
CLI on the machine, and their CloudTrail records checked field by field
(ids, times, addresses and agent strings aside)."""
import json
import re

from conftest import ACCOUNT, REGION

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME_S = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TIME_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

COMMON_KEYS = {"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
               "sourceIPAddress", "userAgent", "requestParameters", "responseElements", "requestID",
               "eventID", "readOnly", "eventType", "managementEvent", "recipientAccountId", "eventCategory"}


def check_common(rec, server, name, read_only):
    assert rec["eventVersion"] == "1.08"
    ui = rec["userIdentity"]
    assert ui["type"] == "IAMUser"
    assert ui["arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert ui["accountId"] == ACCOUNT
    assert ui["userName"] == "admin"
    assert ui["accessKeyId"] == server.key()[0]
    assert re.match(r"^AIDA[A-Z0-9]{17}$", ui["principalId"])
    assert set(ui) == {"type", "principalId", "arn", "accountId", "accessKeyId", "userName"}
    assert TIME_S.match(rec["eventTime"])
    assert rec["eventSource"] == "greengrass.amazonaws.com"
    assert rec["eventName"] == name
    assert rec["awsRegion"] == REGION
    assert rec["sourceIPAddress"] == "127.0.0.1"
    assert rec["userAgent"].startswith("aws-cli/")
    assert UUID.match(rec["requestID"]) and UUID.match(rec["eventID"])
    assert rec["readOnly"] is read_only
    assert rec["eventType"] == "AwsApiCall"
    assert rec["managementEvent"] is True
    assert rec["recipientAccountId"] == ACCOUNT
    assert rec["eventCategory"] == "Management"
    # No secret of any kind in a record.
    text = json.dumps(rec)
    assert server.key()[1] not in text and server.key("root")[1] not in text


def test_seed_calls_and_records(aws, server):
    # 1. AssociateServiceRoleToAccount with an invalid role ARN fails.
    rc, out, err = aws("greengrass", "associate-service-role-to-account", "--role-arn", "not-an-arn")
    assert rc != 0
    assert "BadRequestException" in err and "That role ARN is invalid." in err

    # A group with a version, to read back.
    rc, fd, err = aws("greengrass", "create-function-definition", "--initial-version",
                      json.dumps({"Functions": [{"Id": "f1", "FunctionArn":
                                  "arn:aws:lambda:us-east-1:123456789012:function:f:1",
                                  "FunctionConfiguration": {"MemorySize": 16384, "Timeout": 3}}]}))
    assert rc == 0, err
    rc, grp, err = aws("greengrass", "create-group", "--name", "seed-group")
    assert rc == 0, err
    rc, gv, err = aws("greengrass", "create-group-version", "--group-id", grp["Id"],
                      "--function-definition-version-arn", fd["LatestVersionArn"])
    assert rc == 0, err
    rc, got, err = aws("greengrass", "get-group-version", "--group-id", grp["Id"], "--group-version-id", gv["Version"])
    assert rc == 0, err
    assert got["Definition"] == {"FunctionDefinitionVersionArn": fd["LatestVersionArn"]}
    rc, ci, err = aws("greengrass", "get-connectivity-info", "--thing-name", "seed-core")
    assert rc == 0, err

    # --- the records ---
    [r] = server.records("AssociateServiceRoleToAccount")
    check_common(r, server, "AssociateServiceRoleToAccount", False)
    assert set(r) == COMMON_KEYS | {"errorCode"}
    assert r["errorCode"] == "BadRequestException"
    assert "errorMessage" not in r                      # as in the seed
    assert r["requestParameters"] is None               # as in the seed
    assert r["responseElements"] == {"Message": "That role ARN is invalid."}

    [r] = server.records("GetGroupVersion")
    check_common(r, server, "GetGroupVersion", True)
    assert r["requestParameters"] == {"GroupVersionId": gv["Version"], "GroupId": grp["Id"]}
    assert r["responseElements"] is None

    [r] = server.records("GetConnectivityInfo")
    check_common(r, server, "GetConnectivityInfo", True)
    assert r["requestParameters"] == {"ThingName": "seed-core"}
    assert r["responseElements"] is None

    [r] = server.records("CreateFunctionDefinition")
    check_common(r, server, "CreateFunctionDefinition", False)
    assert r["requestParameters"] == {"InitialVersion": "***"}   # content masked, no Name sent
    resp = r["responseElements"]
    assert set(resp) == {"CreationTimestamp", "LatestVersion", "LatestVersionArn", "LastUpdatedTimestamp", "Id", "Arn"}
    assert resp["Id"] == fd["Id"] and resp["LatestVersionArn"] == fd["LatestVersionArn"]
    assert resp["Arn"] == f"arn:aws:greengrass:{REGION}:{ACCOUNT}:/greengrass/definition/functions/{fd['Id']}"
    assert TIME_MS.match(resp["CreationTimestamp"]) and resp["CreationTimestamp"] == resp["LastUpdatedTimestamp"]
    assert r["resources"] == [{"ARN": resp["Arn"], "accountId": ACCOUNT,
                               "type": "AWS::Greengrass::FunctionDefinition"}]

    # The response's request id is the record's requestID: every call is in history once.
    names = [e["EventName"] for e in server.lookup()]
    for n in ["AssociateServiceRoleToAccount", "CreateFunctionDefinition", "CreateGroup",
              "CreateGroupVersion", "GetGroupVersion", "GetConnectivityInfo"]:
        assert names.count(n) == 1, (n, names)


def test_lookup_events_cli(aws, server):
    rc, out, err = aws("greengrass", "create-group", "--name", "g1")
    assert rc == 0, err
    rc, out, err = aws("cloudtrail", "lookup-events", "--lookup-attributes",
                       "AttributeKey=EventName,AttributeValue=CreateGroup")
    assert rc == 0, err
    [ev] = out["Events"]
    assert ev["EventName"] == "CreateGroup"
    assert ev["ReadOnly"] == "false"
    assert ev["Username"] == "admin"
    assert ev["EventSource"] == "greengrass.amazonaws.com"
    assert ev["AccessKeyId"] == server.key()[0]
    rec = json.loads(ev["CloudTrailEvent"])
    assert rec["eventID"] == ev["EventId"]
    assert rec["requestParameters"] == {"Name": "g1"}
    assert ev["Resources"] == [{"ResourceType": "AWS::Greengrass::Group", "ResourceName": rec["resources"][0]["ARN"]}]
