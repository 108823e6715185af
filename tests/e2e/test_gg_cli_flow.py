"""A realistic Greengrass session with each aws CLI on the machine (v1 and
v2): definitions of all seven kinds with versions, a group and a group
version tying them, a deployment and a reset, tags, a bulk deployment, a
certificate authority; then `aws cloudtrail lookup-events` shows every step
with the right user, readOnly and masks.

Bulk deployment: this branch has no built-in S3 yet (it lands from another
branch), so the flow checks the clear error StartBulkDeployment gives when
the input file's bucket cannot be read, and its record."""
import json

from conftest import ACCOUNT, REGION

ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/Greengrass_ServiceRole"
CERT = f"arn:aws:iot:{REGION}:{ACCOUNT}:cert/0123abcd"
THING = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/"
LAMBDA = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:telemetry:3"

VERSIONS = {
    "core": {"Cores": [{"Id": "core", "CertificateArn": CERT, "ThingArn": THING + "gg-core", "SyncShadow": True}]},
    "device": {"Devices": [{"Id": "sensor", "CertificateArn": CERT, "ThingArn": THING + "sensor", "SyncShadow": True}]},
    "function": {"Functions": [{"Id": "telemetry", "FunctionArn": LAMBDA, "FunctionConfiguration": {
        "MemorySize": 32768, "Timeout": 10, "Pinned": True, "Environment": {"Variables": {"MODE": "edge"}}}}],
        "DefaultConfig": {"Execution": {"IsolationMode": "NoContainer", "RunAs": {"Uid": 1000, "Gid": 1000}}}},
    "subscription": {"Subscriptions": [
        {"Id": "up", "Source": LAMBDA, "Subject": "telemetry/out", "Target": "cloud"},
        {"Id": "shadow", "Source": THING + "sensor", "Subject": "$aws/things/sensor/shadow/update",
         "Target": "GGShadowService"}]},
    "logger": {"Loggers": [{"Id": "sys", "Component": "GreengrassSystem", "Level": "WARN", "Type": "FileSystem",
                            "Space": 1024},
                           {"Id": "fn", "Component": "Lambda", "Level": "INFO", "Type": "AWSCloudWatch"}]},
    "resource": {"Resources": [{"Id": "serial", "Name": "serial", "ResourceDataContainer": {
        "LocalDeviceResourceData": {"SourcePath": "/dev/ttyUSB0", "GroupOwnerSetting": {"AutoAddGroupOwner": True}}}}]},
    "connector": {"Connectors": [{"Id": "sns", "ConnectorArn": f"arn:aws:greengrass:{REGION}::/connectors/SNS/versions/1",
                                  "Parameters": {"DefaultSNSArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"}}]},
}
CONTENT_KEY = {"core": ["Cores"], "device": ["Devices"], "function": ["Functions", "DefaultConfig"],
               "subscription": ["Subscriptions"], "logger": ["Loggers"], "resource": ["Resources"],
               "connector": ["Connectors"]}


def ok(res):
    rc, out, err = res
    assert rc == 0, err
    return out


def test_cli_flow_and_lookup(aws, server):
    defs = {}
    for kind, content in VERSIONS.items():
        d = ok(aws("greengrass", f"create-{kind}-definition", "--name", f"{kind}s", "--initial-version",
                   json.dumps(content), "--tags", json.dumps({"project": "plant-7"})))
        assert d["LatestVersionArn"].startswith(d["Arn"] + "/versions/")
        defs[kind] = d
    # a second connector version becomes the latest
    cv = ok(aws("greengrass", "create-connector-definition-version", "--connector-definition-id",
                defs["connector"]["Id"], "--connectors", json.dumps(VERSIONS["connector"]["Connectors"])))
    got = ok(aws("greengrass", "get-connector-definition", "--connector-definition-id", defs["connector"]["Id"]))
    assert got["LatestVersion"] == cv["Version"] and got["tags"] == {"project": "plant-7"}

    grp = ok(aws("greengrass", "create-group", "--name", "plant-7-line-2"))
    gv = ok(aws("greengrass", "create-group-version", "--group-id", grp["Id"],
                "--core-definition-version-arn", defs["core"]["LatestVersionArn"],
                "--device-definition-version-arn", defs["device"]["LatestVersionArn"],
                "--function-definition-version-arn", defs["function"]["LatestVersionArn"],
                "--subscription-definition-version-arn", defs["subscription"]["LatestVersionArn"],
                "--logger-definition-version-arn", defs["logger"]["LatestVersionArn"],
                "--resource-definition-version-arn", defs["resource"]["LatestVersionArn"],
                "--connector-definition-version-arn", cv["Arn"]))

    ok(aws("greengrass", "associate-service-role-to-account", "--role-arn", ROLE))
    dep = ok(aws("greengrass", "create-deployment", "--group-id", grp["Id"], "--deployment-type", "NewDeployment",
                 "--group-version-id", gv["Version"]))
    st = ok(aws("greengrass", "get-deployment-status", "--group-id", grp["Id"], "--deployment-id", dep["DeploymentId"]))
    assert st["DeploymentType"] == "NewDeployment" and st["DeploymentStatus"] in ("Building", "InProgress", "Success")
    reset = ok(aws("greengrass", "reset-deployments", "--group-id", grp["Id"], "--force"))
    deps = ok(aws("greengrass", "list-deployments", "--group-id", grp["Id"]))["Deployments"]
    assert [d["DeploymentId"] for d in deps] == [reset["DeploymentId"], dep["DeploymentId"]]
    assert deps[1]["GroupArn"] == gv["Arn"]

    # tags: TagResource/UntagResource answer 204 with no body
    rc, out, err = aws("greengrass", "tag-resource", "--resource-arn", grp["Arn"], "--tags",
                       json.dumps({"line": "2", "owner": "ops"}))
    assert rc == 0 and out is None, err
    ok(aws("greengrass", "untag-resource", "--resource-arn", grp["Arn"], "--tag-keys", "owner"))
    assert ok(aws("greengrass", "list-tags-for-resource", "--resource-arn", grp["Arn"]))["tags"] == {"line": "2"}

    # bulk deployment: no built-in S3 on this branch -> a clear error
    # (an s3:// URI: aws CLI v1 would fetch an https:// parameter value itself)
    rc, out, err = aws("greengrass", "start-bulk-deployment", "--execution-role-arn", ROLE, "--input-file-uri",
                       "s3://plant7-bulk/lines.json")
    assert rc != 0 and "InvalidInputException" in err
    assert "Unable to read the input file 's3://plant7-bulk/lines.json': the bucket 'plant7-bulk'" in err
    assert ok(aws("greengrass", "list-bulk-deployments"))["BulkDeployments"] == []

    ca = ok(aws("greengrass", "create-group-certificate-authority", "--group-id", grp["Id"]))
    caid = ca["GroupCertificateAuthorityArn"].rsplit("/", 1)[1]
    pem = ok(aws("greengrass", "get-group-certificate-authority", "--group-id", grp["Id"],
                 "--certificate-authority-id", caid))["PemEncodedCertificate"]
    assert pem.startswith("-----BEGIN CERTIFICATE-----\n")
    cfg = ok(aws("greengrass", "get-group-certificate-configuration", "--group-id", grp["Id"]))
    assert cfg["CertificateExpiryInMilliseconds"] in (604800000, "604800000")

    # ---- lookup-events through the same CLI: all of this session's events
    # (the CLI follows NextToken), then the ones of each step
    events = ok(aws("cloudtrail", "lookup-events", "--lookup-attributes",
                    "AttributeKey=EventSource,AttributeValue=greengrass.amazonaws.com"))["Events"]
    assert len(events) == 24
    one = ok(aws("cloudtrail", "lookup-events", "--lookup-attributes",
                 "AttributeKey=EventName,AttributeValue=CreateDeployment"))["Events"]
    assert [e["EventId"] for e in one] == [e["EventId"] for e in events if e["EventName"] == "CreateDeployment"]

    def lookup(name):
        evs = [e for e in events if e["EventName"] == name]
        for e in evs:
            assert e["Username"] == "admin" and e["EventSource"] == "greengrass.amazonaws.com"
            assert e["ReadOnly"] == ("true" if name.startswith(("Get", "List")) else "false")
        return [json.loads(e["CloudTrailEvent"]) for e in evs]

    def common(rec, name, read_only):
        assert rec["eventName"] == name and rec["readOnly"] is read_only
        assert rec["userIdentity"]["userName"] == "admin" and rec["userIdentity"]["type"] == "IAMUser"
        assert rec["userAgent"].startswith("aws-cli/") and rec["awsRegion"] == REGION
        assert rec["recipientAccountId"] == ACCOUNT

    for kind in VERSIONS:
        name = f"Create{kind.capitalize()}Definition"
        [r] = lookup(name)
        common(r, name, False)
        assert r["requestParameters"] == {"Name": f"{kind}s", "InitialVersion": "***", "tags": {"project": "plant-7"}}
        assert r["responseElements"]["Id"] == defs[kind]["Id"]
        assert r["resources"] == [{"ARN": defs[kind]["Arn"], "accountId": ACCOUNT,
                                   "type": f"AWS::Greengrass::{kind.capitalize()}Definition"}]
    [r] = lookup("CreateConnectorDefinitionVersion")
    assert r["requestParameters"] == {"ConnectorDefinitionId": defs["connector"]["Id"], "Connectors": "***"}
    [r] = lookup("GetConnectorDefinition")
    common(r, "GetConnectorDefinition", True)
    assert r["responseElements"] is None
    [r] = lookup("CreateGroupVersion")
    common(r, "CreateGroupVersion", False)
    assert r["requestParameters"]["CoreDefinitionVersionArn"] == defs["core"]["LatestVersionArn"]   # ARNs in clear
    [r] = lookup("CreateDeployment")
    common(r, "CreateDeployment", False)
    assert r["requestParameters"] == {"GroupId": grp["Id"], "DeploymentType": "NewDeployment",
                                      "GroupVersionId": gv["Version"]}
    assert {x["ARN"] for x in r["resources"]} == {grp["Arn"], dep["DeploymentArn"]}
    [r] = lookup("GetDeploymentStatus")
    common(r, "GetDeploymentStatus", True)
    [r] = lookup("ResetDeployments")
    common(r, "ResetDeployments", False)
    assert r["requestParameters"] == {"GroupId": grp["Id"], "Force": True}
    assert r["responseElements"] == {"DeploymentArn": reset["DeploymentArn"], "DeploymentId": reset["DeploymentId"]}
    [r] = lookup("TagResource")
    common(r, "TagResource", False)
    assert r["requestParameters"] == {"ResourceArn": grp["Arn"], "tags": {"line": "2", "owner": "ops"}}
    assert r["responseElements"] is None
    [r] = lookup("UntagResource")
    assert r["requestParameters"] == {"ResourceArn": grp["Arn"], "TagKeys": ["owner"]}
    [r] = lookup("ListTagsForResource")
    common(r, "ListTagsForResource", True)
    [r] = lookup("StartBulkDeployment")
    common(r, "StartBulkDeployment", False)
    assert r["errorCode"] == "InvalidInputException" and r["requestParameters"] is None
    assert r["responseElements"]["Message"].startswith("Unable to read the input file")
    [r] = lookup("ListBulkDeployments")
    common(r, "ListBulkDeployments", True)
    [r] = lookup("CreateGroupCertificateAuthority")
    common(r, "CreateGroupCertificateAuthority", False)
    assert r["responseElements"] == {"GroupCertificateAuthorityArn": ca["GroupCertificateAuthorityArn"]}
    [r] = lookup("GetGroupCertificateAuthority")
    common(r, "GetGroupCertificateAuthority", True)
    assert r["requestParameters"] == {"GroupId": grp["Id"], "CertificateAuthorityId": caid}
    assert "PRIVATE KEY" not in json.dumps(r)
