"""Greengrass behaviour beyond one call: idempotency tokens, deployment
status progression and resets, content validation (§3.3/§4), tags living
and dying with their resource, certificate authorities and their
configuration, bulk-deployment input checks."""
import json
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION
from gg_util import ARN, client

ROLE = f"arn:aws:iam::{ACCOUNT}:role/gg"
CERT = f"arn:aws:iot:{REGION}:{ACCOUNT}:cert/abc"
THING = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/"
CORES = {"Cores": [{"Id": "c1", "CertificateArn": CERT, "ThingArn": THING + "core"}]}


def err(excinfo):
    e = excinfo.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"], e["Error"]["Message"]


def deployable_group(gg):
    core = gg.create_core_definition(InitialVersion=CORES)
    g = gg.create_group(Name="g", InitialVersion={"CoreDefinitionVersionArn": core["LatestVersionArn"]})
    return g, g["LatestVersion"]


# ---------------------------------------------------------------- idempotency

def test_client_token_replays_and_mismatch(server):
    gg = server.client("greengrass")
    a = gg.create_group(Name="same", AmznClientToken="tok-1")
    b = gg.create_group(Name="same", AmznClientToken="tok-1")
    for k in ("Arn", "Id", "CreationTimestamp", "LastUpdatedTimestamp"):
        assert a[k] == b[k]
    assert [g["Id"] for g in gg.list_groups()["Groups"]] == [a["Id"]]      # created once
    with pytest.raises(ClientError) as e:
        gg.create_group(Name="other", AmznClientToken="tok-1")
    # [INF] no documented error: 400 IdempotentParameterMismatchException, as EC2/ACM answer
    assert err(e) == (400, "IdempotentParameterMismatchException",
                      "The client token 'tok-1' was already used with different request parameters.")
    assert len(gg.list_groups()["Groups"]) == 1
    # an empty token is no token
    gg.create_group(Name="e", AmznClientToken="")
    gg.create_group(Name="e", AmznClientToken="")
    assert len(gg.list_groups()["Groups"]) == 3
    # the token is scoped to the operation; no token means no idempotency
    gg.create_core_definition(Name="same", AmznClientToken="tok-1")
    gg.create_group(Name="same")
    assert len(gg.list_groups()["Groups"]) == 4
    recs = [r for r in server.records("CreateGroup") if r["requestParameters"] is None
            or r["requestParameters"].get("Name") != "e"]
    assert len(recs) == 4
    replay = [r for r in recs if (r["requestParameters"] or {}).get("AmznClientToken") == "tok-1" and "errorCode" not in r]
    assert len(replay) == 2 and all(r["responseElements"]["Id"] == a["Id"] for r in replay)
    assert all(r["resources"][0]["ARN"] == a["Arn"] for r in replay)
    [bad] = [r for r in recs if "errorCode" in r]
    assert bad["errorCode"] == "IdempotentParameterMismatchException"


def test_client_token_on_deployment_and_failed_calls_not_remembered(server):
    gg = server.client("greengrass")
    g, gv = deployable_group(gg)
    d1 = gg.create_deployment(GroupId=g["Id"], GroupVersionId=gv, DeploymentType="NewDeployment", AmznClientToken="d")
    d2 = gg.create_deployment(GroupId=g["Id"], GroupVersionId=gv, DeploymentType="NewDeployment", AmznClientToken="d")
    assert d1["DeploymentId"] == d2["DeploymentId"]
    assert len(gg.list_deployments(GroupId=g["Id"])["Deployments"]) == 1
    # a failed call stores nothing: the same token works once the input is valid
    with pytest.raises(ClientError):
        gg.reset_deployments(GroupId="missing", AmznClientToken="r")
    r1 = gg.reset_deployments(GroupId=g["Id"], AmznClientToken="r", Force=True)
    r2 = gg.reset_deployments(GroupId=g["Id"], AmznClientToken="r", Force=True)
    assert r1["DeploymentId"] == r2["DeploymentId"]
    assert len(gg.list_deployments(GroupId=g["Id"])["Deployments"]) == 2


def test_failed_call_with_token_can_be_retried(server):
    gg = server.client("greengrass")
    with pytest.raises(ClientError):
        gg.create_group_version(GroupId="missing", AmznClientToken="t")
    g = gg.create_group(Name="g")
    # same token, different input (another group): the failure was not kept
    v = gg.create_group_version(GroupId=g["Id"], AmznClientToken="t")
    assert v["Id"] == g["Id"]


# ---------------------------------------------------------------- deployments

def test_deployment_status_progression_and_service_role(server):
    gg = server.client("greengrass")
    g, gv = deployable_group(gg)
    no_role = gg.create_deployment(GroupId=g["Id"], GroupVersionId=gv, DeploymentType="NewDeployment")
    gg.associate_service_role_to_account(RoleArn=ROLE)
    with_role = gg.create_deployment(GroupId=g["Id"], GroupVersionId=gv, DeploymentType="NewDeployment")
    s = gg.get_deployment_status(GroupId=g["Id"], DeploymentId=with_role["DeploymentId"])
    assert s["DeploymentStatus"] == "Building" and s["DeploymentType"] == "NewDeployment"
    time.sleep(1.1)
    assert gg.get_deployment_status(GroupId=g["Id"], DeploymentId=with_role["DeploymentId"])["DeploymentStatus"] == "InProgress"
    time.sleep(1.1)
    done = gg.get_deployment_status(GroupId=g["Id"], DeploymentId=with_role["DeploymentId"])
    assert done["DeploymentStatus"] == "Success" and "ErrorMessage" not in done
    failed = gg.get_deployment_status(GroupId=g["Id"], DeploymentId=no_role["DeploymentId"])
    assert failed["DeploymentStatus"] == "Failure"
    assert failed["ErrorMessage"] == "Greengrass is not authorized to assume the Service Role associated with this account."
    # newest first; GroupArn is the group-version ARN
    deps = gg.list_deployments(GroupId=g["Id"])["Deployments"]
    assert [d["DeploymentId"] for d in deps] == [with_role["DeploymentId"], no_role["DeploymentId"]]
    assert deps[0]["GroupArn"] == f"{g['Arn']}/versions/{gv}"
    # another group's deployment id does not exist here
    other = gg.create_group(Name="o")
    with pytest.raises(ClientError) as e:
        gg.get_deployment_status(GroupId=other["Id"], DeploymentId=with_role["DeploymentId"])
    assert err(e) == (400, "InvalidInputException", f"Deployment '{with_role['DeploymentId']}' does not exist.")


def test_deployment_inputs(server):
    gg = server.client("greengrass")
    g, gv = deployable_group(gg)
    with pytest.raises(ClientError) as e:
        gg.create_deployment(GroupId=g["Id"], DeploymentType="Bogus", GroupVersionId=gv)
    assert err(e) == (400, "InvalidInputException", "That deployment type is not valid.  Please specify one of the "
                      "following types: {NewDeployment,Redeployment,ResetDeployment,ForceResetDeployment}.")
    with pytest.raises(ClientError) as e:
        gg.create_deployment(GroupId=g["Id"], DeploymentType="Redeployment")
    assert err(e) == (400, "InvalidInputException",
                      "Your request is missing the following required parameter(s): {DeploymentId}.")
    with pytest.raises(ClientError) as e:
        gg.create_deployment(GroupId=g["Id"], DeploymentType="Redeployment", DeploymentId="nope")
    assert err(e) == (400, "InvalidInputException", "Deployment ID 'nope' is invalid.")
    with pytest.raises(ClientError) as e:
        gg.create_deployment(GroupId="missing", DeploymentType="NewDeployment", GroupVersionId=gv)
    assert err(e) == (404, "ResourceNotFoundException", "That group definition does not exist.")
    with pytest.raises(ClientError) as e:
        gg.create_deployment(GroupId=g["Id"], DeploymentType="NewDeployment", GroupVersionId="nope")
    assert err(e) == (404, "ResourceNotFoundException", f"Version nope of Group Definition {g['Id']} does not exist.")
    # a core definition version without cores is no core either
    empty = gg.create_core_definition(InitialVersion={"Cores": []})
    v = gg.create_group_version(GroupId=g["Id"], CoreDefinitionVersionArn=empty["LatestVersionArn"])
    with pytest.raises(ClientError) as e:
        gg.create_deployment(GroupId=g["Id"], DeploymentType="NewDeployment", GroupVersionId=v["Version"])
    assert err(e)[:2] == (400, "MissingCoreException")
    assert e.value.response["Error"]["Message"] == "You need a Greengrass Core in this Group before you can deploy."
    first = gg.create_deployment(GroupId=g["Id"], DeploymentType="NewDeployment", GroupVersionId=gv)
    re = gg.create_deployment(GroupId=g["Id"], DeploymentType="Redeployment", DeploymentId=first["DeploymentId"])
    assert re["DeploymentId"] != first["DeploymentId"]
    deps = gg.list_deployments(GroupId=g["Id"])["Deployments"]
    assert deps[0]["DeploymentType"] == "Redeployment" and deps[0]["GroupArn"] == f"{g['Arn']}/versions/{gv}"
    # MissingCore record carries the ErrorDetails
    [r] = [r for r in server.records("CreateDeployment") if r.get("errorCode") == "MissingCoreException"]
    assert r["responseElements"]["ErrorDetails"][0]["DetailedErrorCode"] == "GG-303"


def test_reset_rules_and_paging(server):
    gg = server.client("greengrass")
    g, gv = deployable_group(gg)
    with pytest.raises(ClientError) as e:
        gg.reset_deployments(GroupId="missing")
    assert err(e) == (404, "ResourceNotFoundException", "That Group Definition does not exist.")
    with pytest.raises(ClientError) as e:
        gg.reset_deployments(GroupId=g["Id"], Force=True)   # never deployed: nothing to reset
    assert err(e)[:2] == (404, "ResourceNotFoundException")
    gg.create_deployment(GroupId=g["Id"], DeploymentType="NewDeployment", GroupVersionId=gv)
    # [DG] a group with a Building/InProgress deployment cannot be reset
    with pytest.raises(ClientError) as e:
        gg.reset_deployments(GroupId=g["Id"])
    assert err(e) == (400, "InvalidInputException", f"Group id: {g['Id']} has a deployment in progress. Reset the "
                      "deployments after it completes or use Force.")
    time.sleep(2.1)
    r = gg.reset_deployments(GroupId=g["Id"])
    assert r["DeploymentArn"] == f"{g['Arn']}/deployments/{r['DeploymentId']}"
    with pytest.raises(ClientError) as e:
        gg.reset_deployments(GroupId=g["Id"])
    assert err(e) == (404, "ResourceNotFoundException",
                      f"Group id: {g['Id']} has not been deployed or has already been reset.")
    f = gg.reset_deployments(GroupId=g["Id"], Force=True)
    deps = gg.list_deployments(GroupId=g["Id"])["Deployments"]
    assert [d["DeploymentType"] for d in deps] == ["ForceResetDeployment", "ResetDeployment", "NewDeployment"]
    assert deps[0]["DeploymentId"] == f["DeploymentId"] and deps[0]["GroupArn"] == g["Arn"]
    st = gg.get_deployment_status(GroupId=g["Id"], DeploymentId=f["DeploymentId"])
    assert st["DeploymentType"] == "ForceResetDeployment"
    pages = list(gg.get_paginator("list_deployments").paginate(GroupId=g["Id"], PaginationConfig={"PageSize": 2}))
    assert [len(p["Deployments"]) for p in pages] == [2, 1]
    # deleting the group takes its deployments along
    gg.delete_group(GroupId=g["Id"])
    assert gg.list_deployments(GroupId=g["Id"])["Deployments"] == []
    # the reset was recorded against the literal $reset path, with Force in clear
    recs = [x for x in server.records("ResetDeployments") if "errorCode" not in x]
    assert [x["requestParameters"] for x in recs] == [{"GroupId": g["Id"], "Force": True}, {"GroupId": g["Id"]}]
    assert len(server.records("ResetDeployments")) == 6


# ---------------------------------------------------------------- content rules

@pytest.mark.parametrize("kind,content,message", [
    ("resource", {"Resources": [{"Id": "r", "Name": "n", "ResourceDataContainer": {
        "LocalVolumeResourceData": {"SourcePath": "/sys/class", "DestinationPath": "/x"}}}]},
     "The resources definition is invalid. (ErrorDetails: [Accessing /sys is prohibited])"),
    ("resource", {"Resources": [{"Id": "r", "Name": "n", "ResourceDataContainer": {
        "LocalDeviceResourceData": {"SourcePath": "/devices/x"}}}]},
     "The resources definition is invalid. (ErrorDetails: [Device resource path should begin with /dev, but got: /devices/x])"),
    ("subscription", {"Subscriptions": [{"Id": "s", "Source": "somewhere", "Subject": "t", "Target": "cloud"}]},
     "The subscriptions definition is invalid or corrupted. (ErrorDetails: [Subscription source is invalid. "
     "ID is 's' and Source is 'somewhere'])"),
    ("subscription", {"Subscriptions": [{"Id": "s", "Source": "cloud", "Subject": "t",
                                         "Target": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:unqualified"}]},
     "The subscriptions definition is invalid or corrupted. (ErrorDetails: [Subscription target is invalid. "
     f"ID is 's' and Target is 'arn:aws:lambda:{REGION}:{ACCOUNT}:function:unqualified'])"),
    ("device", {"Devices": [{"Id": "d", "CertificateArn": CERT, "ThingArn": THING + "a"},
                            {"Id": "d", "CertificateArn": CERT, "ThingArn": THING + "b"}]},
     "The devices definition is invalid or corrupted. (ErrorDetails: [Duplicate Id: d])"),
    ("core", {"Cores": [{"Id": "a", "CertificateArn": CERT, "ThingArn": THING + "a"},
                        {"Id": "b", "CertificateArn": CERT, "ThingArn": THING + "b"}]},
     "The cores definition is invalid or corrupted. (ErrorDetails: [Only one core is allowed])"),
])
def test_content_rules(server, kind, content, message):
    gg = server.client("greengrass")
    d = getattr(gg, f"create_{kind}_definition")()
    with pytest.raises(ClientError) as e:
        getattr(gg, f"create_{kind}_definition_version")(**{f"{kind.capitalize()}DefinitionId": d["Id"]}, **content)
    assert err(e) == (400, "400", message)
    assert "x-amzn-errortype" not in {h.lower() for h in e.value.response["ResponseMetadata"]["HTTPHeaders"]}
    with pytest.raises(ClientError) as e:
        getattr(gg, f"create_{kind}_definition")(InitialVersion=content)
    assert err(e) == (400, "400", message)
    assert len(getattr(gg, f"list_{kind}_definitions")()["Definitions"]) == 1   # nothing half-made


def test_valid_forms_accepted(server):
    gg = server.client("greengrass")
    subs = [{"Id": "a", "Source": "GGShadowService", "Subject": "t", "Target": THING + "dev"},
            {"Id": "b", "Source": f"arn:aws:greengrass:{REGION}::/connectors/SNS/versions/1", "Subject": "t",
             "Target": "arn:aws:lambda:::function:GGIPDetector:1"},
            {"Id": "c", "Source": "cloud", "Subject": "t", "Target": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f:live"}]
    gg.create_subscription_definition(InitialVersion={"Subscriptions": subs})
    gg.create_resource_definition(InitialVersion={"Resources": [
        {"Id": "dev", "Name": "dev", "ResourceDataContainer": {"LocalDeviceResourceData": {"SourcePath": "/dev/ttyS0"}}},
        {"Id": "vol", "Name": "vol", "ResourceDataContainer": {"LocalVolumeResourceData": {
            "SourcePath": "/system", "DestinationPath": "/s"}}}]})
    gg.create_logger_definition(InitialVersion={"Loggers": []})
    # logger enums come from the model
    with pytest.raises(ClientError) as e:
        client(server, validate=False).create_logger_definition(InitialVersion={"Loggers": [
            {"Id": "l", "Component": "Kernel", "Level": "INFO", "Type": "FileSystem"}]})
    assert err(e)[:2] == (400, "BadRequestException")
    assert "Component" in err(e)[2]


# ---------------------------------------------------------------- tags

def test_tags_lifecycle(server):
    gg = server.client("greengrass")
    fd = gg.create_function_definition(Name="f", tags={"a": "1", "b": ""})
    assert "tags" not in fd
    assert gg.get_function_definition(FunctionDefinitionId=fd["Id"])["tags"] == {"a": "1", "b": ""}
    # DefinitionInformation's member is Tags on the wire name "tags"
    assert gg.list_function_definitions()["Definitions"][0]["Tags"] == {"a": "1", "b": ""}
    gg.tag_resource(ResourceArn=fd["Arn"], tags={"a": "2", "c": "3"})
    assert gg.list_tags_for_resource(ResourceArn=fd["Arn"])["tags"] == {"a": "2", "b": "", "c": "3"}
    gg.untag_resource(ResourceArn=fd["Arn"], TagKeys=["a", "b", "c", "never"])
    assert gg.list_tags_for_resource(ResourceArn=fd["Arn"])["tags"] == {}
    assert "Tags" not in gg.list_function_definitions()["Definitions"][0]
    g = gg.create_group(Name="g", tags={"x": "y"})
    assert "tags" not in gg.list_groups()["Groups"][0]
    gg.delete_group(GroupId=g["Id"])
    with pytest.raises(ClientError) as e:       # tags die with the resource
        gg.list_tags_for_resource(ResourceArn=g["Arn"])
    assert err(e)[:2] == (404, "ResourceNotFoundException")
    for bad in [f"{g['Arn']}/versions/x", f"arn:aws:greengrass:eu-west-1:{ACCOUNT}:/greengrass/groups/{g['Id']}",
                "arn:aws:iam::123456789012:role/r"]:
        with pytest.raises(ClientError) as e:
            gg.tag_resource(ResourceArn=bad, tags={"a": "b"})
        assert err(e)[:2] == (400, "BadRequestException")
    with pytest.raises(ClientError) as e:
        gg.tag_resource(ResourceArn=fd["Arn"], tags={"aws:x": "1"})
    assert err(e)[:2] == (400, "BadRequestException")
    with pytest.raises(ClientError) as e:
        gg.create_group(Name="g", tags={f"k{i}": "v" for i in range(51)})
    assert err(e)[:2] == (400, "BadRequestException")
    # TagResource / UntagResource: 204, no body; records keyed by member names
    [r] = [x for x in server.records("UntagResource")]
    assert r["requestParameters"] == {"ResourceArn": fd["Arn"], "TagKeys": ["a", "b", "c", "never"]}
    assert r["responseElements"] is None and r["resources"][0]["type"] == "AWS::Greengrass::FunctionDefinition"


# ---------------------------------------------------------------- certificate authorities

def test_ca_rotation_and_certificate(server, tmp_path):
    gg = server.client("greengrass")
    g = gg.create_group(Name="g")
    cfg = gg.get_group_certificate_configuration(GroupId=g["Id"])
    assert cfg["CertificateExpiryInMilliseconds"] == 604800000 and cfg["GroupId"] == g["Id"]
    assert "CertificateAuthorityExpiryInMilliseconds" not in cfg        # no CA yet
    a1 = gg.create_group_certificate_authority(GroupId=g["Id"])["GroupCertificateAuthorityArn"]
    a2 = gg.create_group_certificate_authority(GroupId=g["Id"])["GroupCertificateAuthorityArn"]
    assert a1 != a2 and a1.startswith(f"{g['Arn']}/certificateauthorities/")
    cas = gg.list_group_certificate_authorities(GroupId=g["Id"])["GroupCertificateAuthorities"]
    assert [c["GroupCertificateAuthorityArn"] for c in cas] == [a1, a2]
    caid = a2.rsplit("/", 1)[1]
    assert len(caid) == 64 and all(ch in "0123456789abcdef" for ch in caid)
    pem = gg.get_group_certificate_authority(GroupId=g["Id"], CertificateAuthorityId=caid)["PemEncodedCertificate"]
    p = tmp_path / "ca.pem"
    p.write_text(pem)
    text = subprocess.run(["openssl", "x509", "-in", str(p), "-noout", "-text"], capture_output=True, text=True,
                          check=True).stdout
    assert "CA:TRUE" in text and "Certificate Sign" in text and "Dec 31 23:59:59 2049 GMT" in text
    assert "2048 bit" in text and "sha256WithRSAEncryption" in text
    der = subprocess.run(["openssl", "x509", "-in", str(p), "-outform", "DER"], capture_output=True, check=True).stdout
    import hashlib
    assert hashlib.sha256(der).hexdigest() == caid
    # the self-signature verifies
    v = subprocess.run(["openssl", "verify", "-CAfile", str(p), str(p)], capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr
    # certificate configuration: 7..30 days inclusive
    for ms, okay in [("604800000", True), ("2592000000", True), ("604799999", False), ("2592000001", False),
                     ("soon", False)]:
        if okay:
            out = gg.update_group_certificate_configuration(GroupId=g["Id"], CertificateExpiryInMilliseconds=ms)
            assert out["CertificateExpiryInMilliseconds"] == int(ms)
            assert out["CertificateAuthorityExpiryInMilliseconds"] == 2524607999000
        else:
            with pytest.raises(ClientError) as e:
                gg.update_group_certificate_configuration(GroupId=g["Id"], CertificateExpiryInMilliseconds=ms)
            assert err(e)[:2] == (400, "InvalidInputException")
    assert gg.get_group_certificate_configuration(GroupId=g["Id"])["CertificateExpiryInMilliseconds"] == 2592000000
    # the private key never leaves the server, nor reaches a record
    for name in ("CreateGroupCertificateAuthority", "GetGroupCertificateAuthority"):
        for r in server.records(name):
            assert "PRIVATE KEY" not in json.dumps(r)
    with pytest.raises(ClientError) as e:
        gg.get_group_certificate_authority(GroupId=gg.create_group(Name="o")["Id"], CertificateAuthorityId=caid)
    assert err(e)[:2] == (404, "ResourceNotFoundException")


# ---------------------------------------------------------------- roles, runtime config, OTA

def test_group_role_and_runtime_config(server):
    gg = server.client("greengrass")
    g = gg.create_group(Name="g")
    with pytest.raises(ClientError) as e:
        gg.get_associated_role(GroupId=g["Id"])
    assert err(e) == (404, "404", "You need to attach an IAM role to this deployment group.")
    at = gg.associate_role_to_group(GroupId=g["Id"], RoleArn=ROLE)["AssociatedAt"]
    assert len(at) == 20 and at.endswith("Z")
    got = gg.get_associated_role(GroupId=g["Id"])
    assert (got["AssociatedAt"], got["RoleArn"]) == (at, ROLE)
    assert gg.disassociate_role_from_group(GroupId=g["Id"])["DisassociatedAt"].endswith("Z")
    with pytest.raises(ClientError):
        gg.get_associated_role(GroupId=g["Id"])
    gg.disassociate_role_from_group(GroupId=g["Id"])        # none: still fine
    gg.update_thing_runtime_configuration(ThingName="t", TelemetryConfiguration={"Telemetry": "On"})
    rc = gg.get_thing_runtime_configuration(ThingName="t")["RuntimeConfiguration"]["TelemetryConfiguration"]
    assert rc == {"Telemetry": "On", "ConfigurationSyncStatus": "OutOfSync"}
    time.sleep(1.1)
    rc = gg.get_thing_runtime_configuration(ThingName="t")["RuntimeConfiguration"]["TelemetryConfiguration"]
    assert rc["ConfigurationSyncStatus"] == "InSync"
    with pytest.raises(ClientError) as e:
        client(server, validate=False).update_thing_runtime_configuration(ThingName="t")
    assert err(e)[:2] == (400, "InvalidInputException")
    with pytest.raises(ClientError) as e:
        gg.create_software_update_job(S3UrlSignerRole="nope", SoftwareToUpdate="ota_agent", UpdateTargets=[THING + "a"],
                                      UpdateTargetsArchitecture="armv7l", UpdateTargetsOperatingSystem="raspbian")
    assert err(e) == (400, "InvalidInputException", "That role ARN is invalid.")
    job = gg.create_software_update_job(S3UrlSignerRole=ROLE, SoftwareToUpdate="ota_agent",
                                        UpdateTargets=[f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/fleet"],
                                        UpdateTargetsArchitecture="armv7l", UpdateTargetsOperatingSystem="raspbian")
    assert job["IotJobArn"] == f"arn:aws:iot:{REGION}:{ACCOUNT}:job/{job['IotJobId']}"


# ---------------------------------------------------------------- bulk deployments

def test_bulk_inputs_checked(server):
    gg = server.client("greengrass")
    for uri, msg in [("ftp://x/y", "Input file URI 'ftp://x/y' is not a valid S3 object URL."),
                     ("https://example.com/in.json", "Input file URI 'https://example.com/in.json' is not a valid S3 object URL.")]:
        with pytest.raises(ClientError) as e:
            gg.start_bulk_deployment(ExecutionRoleArn=ROLE, InputFileUri=uri)
        assert err(e) == (400, "InvalidInputException", msg)
    with pytest.raises(ClientError) as e:
        gg.start_bulk_deployment(ExecutionRoleArn="role", InputFileUri="s3://bucket/in.json")
    assert err(e) == (400, "InvalidInputException", "That role ARN is invalid.")
    # path-style and s3:// URIs name the bucket too; this build has no bucket to read
    for uri, bucket in [(f"https://s3.{REGION}.amazonaws.com/my-bucket/k/in.json", "my-bucket"),
                        ("s3://other-bucket/in.json", "other-bucket")]:
        with pytest.raises(ClientError) as e:
            gg.start_bulk_deployment(ExecutionRoleArn=ROLE, InputFileUri=uri, tags={"t": "1"})
        assert err(e) == (400, "InvalidInputException", f"Unable to read the input file '{uri}': the bucket "
                          f"'{bucket}' does not exist or is not readable with the execution role.")
    assert gg.list_bulk_deployments()["BulkDeployments"] == []
    [r] = [x for x in server.records("StartBulkDeployment") if "tags" in (x["requestParameters"] or {})] or [None]
    assert r is None   # 400s are recorded without requestParameters
