"""Every one of the 92 Greengrass operations, end to end with boto3: one
success and one failure each. The raw response is checked against
botocore's output shape (members, JSON types, required members) and the
call's CloudTrail record field by field. A further test fails when the
model has an operation this file does not cover or the server does not
serve.

Cases build what they need on one module-wide server, so they do not
depend on each other's order."""
import json
import os
import time
import uuid

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, Server
from gg_util import (ARN, MODEL, Capture, check_error_body, check_record, check_response, client,
                     record_for)

ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/Greengrass_ServiceRole"
CERT = f"arn:aws:iot:{REGION}:{ACCOUNT}:cert/2e7a5c2a4c1b"
THING = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/"
LAMBDA = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:hello:1"

CONTENT = {
    "Core": {"Cores": [{"Id": "core1", "CertificateArn": CERT, "ThingArn": THING + "core1", "SyncShadow": True}]},
    "Device": {"Devices": [{"Id": "dev1", "CertificateArn": CERT, "ThingArn": THING + "dev1", "SyncShadow": False}]},
    "Function": {"Functions": [{"Id": "fn1", "FunctionArn": LAMBDA, "FunctionConfiguration": {
        "MemorySize": 16384, "Timeout": 3, "EncodingType": "json", "Pinned": False,
        "Environment": {"Variables": {"A": "1"}, "AccessSysfs": False}}}],
        "DefaultConfig": {"Execution": {"IsolationMode": "GreengrassContainer"}}},
    "Subscription": {"Subscriptions": [{"Id": "sub1", "Source": LAMBDA, "Subject": "hello/world", "Target": "cloud"}]},
    "Logger": {"Loggers": [{"Id": "log1", "Component": "GreengrassSystem", "Level": "INFO", "Type": "FileSystem",
                            "Space": 128}]},
    "Resource": {"Resources": [{"Id": "res1", "Name": "tmp", "ResourceDataContainer": {"LocalVolumeResourceData": {
        "SourcePath": "/tmp", "DestinationPath": "/tmp", "GroupOwnerSetting": {"AutoAddGroupOwner": True}}}}]},
    "Connector": {"Connectors": [{"Id": "con1", "ConnectorArn": f"arn:aws:greengrass:{REGION}::/connectors/SNS/versions/1",
                                  "Parameters": {"DefaultSNSArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t"}}]},
}

# Invalid content per kind: (content, status, code clients see, message or None)
BAD = {
    "Core": ({"Cores": CONTENT["Core"]["Cores"] * 2}, 400, "400",
             "The cores definition is invalid or corrupted. (ErrorDetails: [Only one core is allowed])"),
    "Device": ({"Devices": [dict(CONTENT["Device"]["Devices"][0], Id="bad id")]}, 400, "400", None),
    "Function": ({"Functions": [dict(CONTENT["Function"]["Functions"][0], Id="x" * 129)]}, 400, "400", None),
    "Subscription": ({"Subscriptions": [dict(CONTENT["Subscription"]["Subscriptions"][0], Target="nowhere")]},
                     400, "400", "The subscriptions definition is invalid or corrupted. (ErrorDetails: "
                                 "[Subscription target is invalid. ID is 'sub1' and Target is 'nowhere'])"),
    "Logger": ({"Loggers": [dict(CONTENT["Logger"]["Loggers"][0], Level="LOUD")]}, 400, "BadRequestException", None),
    "Resource": ({"Resources": [{"Id": "r", "Name": "n", "ResourceDataContainer": {
        "LocalDeviceResourceData": {"SourcePath": "/tmp/x"}}}]}, 400, "400",
        "The resources definition is invalid. (ErrorDetails: [Device resource path should begin with /dev, "
        "but got: /tmp/x])"),
    "Connector": ({"Connectors": [dict(CONTENT["Connector"]["Connectors"][0], ConnectorArn=LAMBDA)]}, 400, "400",
                  None),
}
TITLE = {"Core": "Core", "Device": "Device", "Function": "Lambda", "Subscription": "Subscription",
         "Logger": "Logger", "Resource": "Resource", "Connector": "Connector"}
SEG = {"Core": "cores", "Device": "devices", "Function": "functions", "Subscription": "subscriptions",
       "Logger": "loggers", "Resource": "resources", "Connector": "connectors"}
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("ggops") / "data").start()
    yield s
    assert s.stop() == 0, s.output()


class World:
    """Builds resources for a case through its own (unchecked) calls."""

    def __init__(self, server):
        self.server = server
        self.gg = client(server)

    def definition(self, kind, version=True):
        kw = {"Name": f"{kind.lower()}-def"}
        if version:
            kw["InitialVersion"] = CONTENT[kind]
        return getattr(self.gg, f"create_{kind.lower()}_definition")(**kw)

    def group(self, core=True):
        g = self.gg.create_group(Name="grp")
        refs = {}
        if core:
            refs["CoreDefinitionVersionArn"] = self.definition("Core")["LatestVersionArn"]
        v = self.gg.create_group_version(GroupId=g["Id"], **refs)
        return g, v

    def deployed(self):
        g, v = self.group()
        d = self.gg.create_deployment(GroupId=g["Id"], DeploymentType="NewDeployment", GroupVersionId=v["Version"])
        return g, v, d

    def ca(self):
        g, _ = self.group()
        arn = self.gg.create_group_certificate_authority(GroupId=g["Id"])["GroupCertificateAuthorityArn"]
        return g, arn, arn.rsplit("/", 1)[1]

    def s3_bucket(self):
        """A bucket with a bulk input file in the built-in S3, or skip when
        this build has no S3 (it lands from another branch)."""
        s3 = self.server.client("s3")
        name = f"bulk-{uuid.uuid4().hex[:12]}"
        try:
            s3.create_bucket(Bucket=name)
        except Exception as e:  # no S3 service on this build
            pytest.skip(f"built-in S3 not available on this build: {e}")
        g, v = self.group()
        line = json.dumps({"GroupId": g["Id"], "GroupVersionId": v["Version"], "DeploymentType": "NewDeployment"})
        s3.put_object(Bucket=name, Key="input.json", Body=(line + "\n").encode())
        return f"https://{name}.s3.{REGION}.amazonaws.com/input.json"

    def wait_bulk_idle(self, timeout=15):
        """Until no bulk deployment of the account is in flight (one at a time)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            busy = [b for b in self.gg.list_bulk_deployments()["BulkDeployments"]
                    if self.gg.get_bulk_deployment_status(BulkDeploymentId=b["BulkDeploymentId"])["BulkDeploymentStatus"]
                    in ("Initializing", "Running", "Stopping")]
            if not busy:
                return
            time.sleep(0.3)
        raise AssertionError("a bulk deployment stayed in flight")

    def bulk(self):
        uri = self.s3_bucket()
        deadline = time.time() + 10
        while True:   # one bulk deployment in flight at a time
            try:
                return self.gg.start_bulk_deployment(ExecutionRoleArn=ROLE, InputFileUri=uri)
            except ClientError as e:
                if "Concurrent" not in str(e) or time.time() > deadline:
                    raise
                time.sleep(0.3)


def ok(kwargs, arns=(), check=None):
    return {"kwargs": kwargs, "arns": arns, "check": check}


def fail(kwargs, status, code, message=None, validate=True, details=None):
    return {"kwargs": kwargs, "status": status, "code": code, "message": message, "validate": validate,
            "details": details}


AUTH_FAIL = "auth"   # an op with no input that can fail: a bad signature (answered, not recorded)


def kind_cases(kind):
    infix = f"{kind}Definition"
    low = kind.lower()
    idm, vidm = f"{infix}Id", f"{infix}VersionId"
    content = CONTENT[kind]
    bad, bstatus, bcode, bmsg = BAD[kind]
    plural = {"Function": "lambdas", "Resource": "resources"}.get(kind, SEG[kind])

    def d(w):
        return w.definition(kind)

    cases = {
        f"Create{infix}": (
            lambda w: ok({"Name": "n", "InitialVersion": content, "tags": {"team": "a"}},
                         check=lambda out: out["Arn"].startswith(f"{ARN}/definition/{SEG[kind]}/")),
            lambda w: fail({"InitialVersion": bad}, bstatus, bcode, bmsg)),
        f"Create{infix}Version": (
            lambda w: (lambda x: ok(dict({idm: x["Id"]}, **content), arns=[x["Arn"]]))(w.definition(kind, False)),
            lambda w: fail(dict({idm: MISSING}, **content), 404, "IdNotFoundException")),
        f"Get{infix}": (
            lambda w: (lambda x: ok({idm: x["Id"]}, arns=[x["Arn"]],
                                    check=lambda out: out["tags"] == {} and out["LatestVersion"] == x["LatestVersion"]))(d(w)),
            lambda w: fail({idm: MISSING}, 404, "IdNotFoundException", f"That {TITLE[kind]} List Definition does not exist.")),
        f"Get{infix}Version": (
            lambda w: (lambda x: ok({idm: x["Id"], vidm: x["LatestVersion"]},
                                    check=lambda out: out["Definition"] == content))(d(w)),
            lambda w: (lambda x: fail({idm: x["Id"], vidm: MISSING}, 404, "VersionNotFoundException",
                                      f"Version {MISSING} of {TITLE[kind]} List Definition {x['Id']} does not exist."))(d(w))),
        f"List{infix}s": (
            lambda w: (d(w), d(w), ok({"MaxResults": "1"},
                                      check=lambda out: len(out["Definitions"]) == 1 and "NextToken" in out))[2],
            lambda w: fail({"NextToken": "forged"}, 400, "BadRequestException")),
        f"List{infix}Versions": (
            lambda w: (lambda x: ok({idm: x["Id"]}, check=lambda out: [v["Version"] for v in out["Versions"]] == [x["LatestVersion"]]))(d(w)),
            lambda w: fail({idm: MISSING}, 404, "IdNotFoundException", f"That {plural} definition does not exist.")),
        f"Update{infix}": (
            lambda w: (lambda x: ok({idm: x["Id"], "Name": "renamed"}, check=lambda out: out == {}))(d(w)),
            lambda w: (lambda x: fail({idm: x["Id"], "Name": ""}, 400,
                                      "InvalidInputException" if kind == "Resource" else "InvalidContainerDefinitionException"))(d(w))),
        f"Delete{infix}": (
            lambda w: (lambda x: ok({idm: x["Id"]}, arns=[x["Arn"]], check=lambda out: out == {}))(d(w)),
            lambda w: fail({idm: MISSING}, 404, "IdNotFoundException", f"That {plural} definition does not exist.")),
    }
    return cases


def group_cases():
    def gv_refs(w):
        return {f"{k}DefinitionVersionArn": w.definition(k)["LatestVersionArn"] for k in CONTENT}

    bad_core = f"{ARN}/definition/cores/{MISSING}/versions/{MISSING}"
    return {
        "CreateGroup": (
            lambda w: ok({"Name": "g", "InitialVersion": gv_refs(w), "tags": {"env": "test"}},
                         check=lambda out: "LatestVersion" in out and "tags" not in out),
            lambda w: fail({"Name": "g", "InitialVersion": {"CoreDefinitionVersionArn": bad_core}}, 400, "400",
                           "The group is invalid or corrupted. (ErrorDetails: [Cores definition reference does not exist])")),
        "CreateGroupVersion": (
            lambda w: (lambda g: ok(dict({"GroupId": g["Id"]}, **gv_refs(w)), arns=[g["Arn"]]))(w.gg.create_group(Name="g")),
            lambda w: fail({"GroupId": MISSING}, 404, "IdNotFoundException", "That group does not exist.")),
        "GetGroup": (
            lambda w: (lambda g: ok({"GroupId": g["Id"]}, arns=[g["Arn"]], check=lambda out: out["tags"] == {}))(w.group()[0]),
            lambda w: fail({"GroupId": MISSING}, 404, "IdNotFoundException", "That Group Definition does not exist.")),
        "GetGroupVersion": (
            lambda w: (lambda gv: ok({"GroupId": gv[0]["Id"], "GroupVersionId": gv[1]["Version"]},
                                     check=lambda out: set(out["Definition"]) == {"CoreDefinitionVersionArn"}))(w.group()),
            lambda w: (lambda gv: fail({"GroupId": gv[0]["Id"], "GroupVersionId": MISSING}, 404, "VersionNotFoundException",
                                       f"Version {MISSING} of Group Definition {gv[0]['Id']} does not exist."))(w.group())),
        "ListGroups": (
            lambda w: (w.group(), ok({"MaxResults": "1"}, check=lambda out: len(out["Groups"]) == 1))[1],
            lambda w: fail({"MaxResults": "zero"}, 400, "BadRequestException")),
        "ListGroupVersions": (
            lambda w: (lambda gv: ok({"GroupId": gv[0]["Id"]}, check=lambda out: len(out["Versions"]) == 1))(w.group()),
            lambda w: fail({"GroupId": MISSING}, 404, "IdNotFoundException", "That group definition does not exist.")),
        "UpdateGroup": (
            lambda w: (lambda gv: ok({"GroupId": gv[0]["Id"], "Name": "renamed"}))(w.group()),
            lambda w: (lambda gv: fail({"GroupId": gv[0]["Id"], "Name": ""}, 400, "InvalidContainerDefinitionException",
                                       "Input does not contain any attributes to be updated"))(w.group())),
        "DeleteGroup": (
            lambda w: (lambda gv: ok({"GroupId": gv[0]["Id"]}, arns=[gv[0]["Arn"]]))(w.group()),
            lambda w: fail({"GroupId": MISSING}, 404, "IdNotFoundException", "That group definition does not exist.")),
    }


def other_cases():
    gg_thing = "core-thing-1"
    return {
        "AssociateRoleToGroup": (
            lambda w: (lambda g: ok({"GroupId": g["Id"], "RoleArn": ROLE}, arns=[g["Arn"]]))(w.group()[0]),
            lambda w: fail({"GroupId": MISSING, "RoleArn": "not-a-role"}, 400, "BadRequestException", "That role ARN is invalid.")),
        "AssociateServiceRoleToAccount": (
            lambda w: ok({"RoleArn": ROLE}),
            lambda w: fail({"RoleArn": "not-an-arn"}, 400, "BadRequestException", "That role ARN is invalid.")),
        "CreateDeployment": (
            lambda w: (lambda gv: ok({"GroupId": gv[0]["Id"], "DeploymentType": "NewDeployment",
                                      "GroupVersionId": gv[1]["Version"]}, arns=[gv[0]["Arn"]]))(w.group()),
            lambda w: (lambda gv: fail({"GroupId": gv[0]["Id"], "DeploymentType": "NewDeployment",
                                       "GroupVersionId": gv[1]["Version"]}, 400, "MissingCoreException",
                                       "You need a Greengrass Core in this Group before you can deploy.",
                                       details=[{"DetailedErrorCode": "GG-303", "DetailedErrorMessage":
                                                 "You need a Greengrass Core in this Group before you can deploy."}]))(w.group(core=False))),
        "CreateGroupCertificateAuthority": (
            lambda w: (lambda g: ok({"GroupId": g["Id"]}, arns=[g["Arn"]],
                                    check=lambda out: len(out["GroupCertificateAuthorityArn"].rsplit("/", 1)[1]) == 64))(w.group()[0]),
            lambda w: fail({"GroupId": MISSING}, 404, "IdNotFoundException", "That group definition does not exist.")),
        "CreateSoftwareUpdateJob": (
            lambda w: ok({"S3UrlSignerRole": ROLE, "SoftwareToUpdate": "core", "UpdateAgentLogLevel": "WARN",
                          "UpdateTargets": [THING + "core1"], "UpdateTargetsArchitecture": "x86_64",
                          "UpdateTargetsOperatingSystem": "ubuntu"},
                         check=lambda out: out["IotJobId"].startswith("GreengrassUpdateJob_")),
            lambda w: fail({"S3UrlSignerRole": ROLE, "SoftwareToUpdate": "core", "UpdateTargets": ["not-an-arn"],
                            "UpdateTargetsArchitecture": "x86_64", "UpdateTargetsOperatingSystem": "ubuntu"},
                           400, "InvalidInputException", "Invalid update target: not-an-arn")),
        "DisassociateRoleFromGroup": (
            lambda w: (lambda g: ok({"GroupId": g["Id"]}))(w.group()[0]),
            lambda w: AUTH_FAIL),
        "DisassociateServiceRoleFromAccount": (lambda w: ok({}), lambda w: AUTH_FAIL),
        "GetAssociatedRole": (
            lambda w: (lambda g: (w.gg.associate_role_to_group(GroupId=g["Id"], RoleArn=ROLE),
                                  ok({"GroupId": g["Id"]}, check=lambda out: out["RoleArn"] == ROLE))[1])(w.group()[0]),
            lambda w: fail({"GroupId": MISSING}, 404, "404", "You need to attach an IAM role to this deployment group.")),
        "GetBulkDeploymentStatus": (
            lambda w: (lambda b: ok({"BulkDeploymentId": b["BulkDeploymentId"]}))(w.bulk()),
            lambda w: fail({"BulkDeploymentId": MISSING}, 400, "InvalidInputException",
                           f"Bulk deployment '{MISSING}' does not exist.")),
        "GetConnectivityInfo": (
            lambda w: (w.gg.update_connectivity_info(ThingName=gg_thing, ConnectivityInfo=[
                {"Id": "1", "HostAddress": "192.168.1.2", "PortNumber": 8883, "Metadata": ""}]),
                ok({"ThingName": gg_thing}, check=lambda out: out["ConnectivityInfo"][0]["PortNumber"] == 8883))[1],
            lambda w: AUTH_FAIL),
        "GetDeploymentStatus": (
            lambda w: (lambda gvd: ok({"GroupId": gvd[0]["Id"], "DeploymentId": gvd[2]["DeploymentId"]},
                                      check=lambda out: out["DeploymentStatus"] in ("Building", "InProgress")))(w.deployed()),
            lambda w: (lambda gv: fail({"GroupId": gv[0]["Id"], "DeploymentId": MISSING}, 400, "InvalidInputException",
                                       f"Deployment '{MISSING}' does not exist."))(w.group())),
        "GetGroupCertificateAuthority": (
            lambda w: (lambda gc: ok({"GroupId": gc[0]["Id"], "CertificateAuthorityId": gc[2]}, arns=[gc[1]],
                                     check=lambda out: out["PemEncodedCertificate"].startswith("-----BEGIN CERTIFICATE-----")))(w.ca()),
            lambda w: (lambda gv: fail({"GroupId": gv[0]["Id"], "CertificateAuthorityId": "0" * 64}, 404,
                                       "ResourceNotFoundException"))(w.group())),
        "GetGroupCertificateConfiguration": (
            lambda w: (lambda gc: ok({"GroupId": gc[0]["Id"]}, check=lambda out: out["CertificateExpiryInMilliseconds"] == 604800000
                                     and out["CertificateAuthorityExpiryInMilliseconds"] == 2524607999000))(w.ca()),
            lambda w: fail({"GroupId": MISSING}, 404, "IdNotFoundException")),
        "GetServiceRoleForAccount": (lambda w: ok({}), lambda w: AUTH_FAIL),
        "GetThingRuntimeConfiguration": (
            lambda w: (w.gg.update_thing_runtime_configuration(ThingName="rt-thing", TelemetryConfiguration={"Telemetry": "Off"}),
                       ok({"ThingName": "rt-thing"},
                          check=lambda out: out["RuntimeConfiguration"]["TelemetryConfiguration"]["Telemetry"] == "Off"))[1],
            lambda w: fail({"ThingName": "never-configured"}, 404, "ResourceNotFoundException")),
        "ListBulkDeploymentDetailedReports": (
            lambda w: (lambda b: ok({"BulkDeploymentId": b["BulkDeploymentId"]},
                                    check=lambda out: len(out["Deployments"]) == 1))(w.bulk()),
            lambda w: fail({"BulkDeploymentId": MISSING}, 400, "InvalidInputException")),
        "ListBulkDeployments": (
            lambda w: ok({"MaxResults": "5"}, check=lambda out: isinstance(out["BulkDeployments"], list)),
            lambda w: fail({"NextToken": "forged"}, 400, "BadRequestException")),
        "ListDeployments": (
            lambda w: (lambda gvd: ok({"GroupId": gvd[0]["Id"]}, check=lambda out: out["Deployments"][0]["GroupArn"] == gvd[1]["Arn"]))(w.deployed()),
            lambda w: fail({"GroupId": MISSING, "MaxResults": "0"}, 400, "BadRequestException")),
        "ListGroupCertificateAuthorities": (
            lambda w: (lambda gc: ok({"GroupId": gc[0]["Id"]}, check=lambda out: len(out["GroupCertificateAuthorities"]) == 1))(w.ca()),
            lambda w: fail({"GroupId": MISSING}, 404, "IdNotFoundException")),
        "ListTagsForResource": (
            lambda w: (lambda x: ok({"ResourceArn": x["Arn"]}, arns=[x["Arn"]],
                                    check=lambda out: out == {"tags": {"k": "v"}}))(w.gg.create_group(Name="t", tags={"k": "v"})),
            lambda w: fail({"ResourceArn": "arn:aws:s3:::bucket"}, 400, "BadRequestException")),
        "ResetDeployments": (
            lambda w: (lambda gvd: ok({"GroupId": gvd[0]["Id"], "Force": True}, arns=[gvd[0]["Arn"]]))(w.deployed()),
            lambda w: (lambda gv: fail({"GroupId": gv[0]["Id"]}, 404, "ResourceNotFoundException",
                                       f"Group id: {gv[0]['Id']} has not been deployed or has already been reset."))(w.group())),
        "StartBulkDeployment": (
            lambda w: ok({"ExecutionRoleArn": ROLE, "InputFileUri": (w.wait_bulk_idle(), w.s3_bucket())[1]}),
            # the built-in S3 has no such bucket (and on this build no S3 at all)
            lambda w: fail({"ExecutionRoleArn": ROLE, "InputFileUri": "https://no-such-bucket-gg.s3.amazonaws.com/in.json"},
                           400, "InvalidInputException",
                           "Unable to read the input file 'https://no-such-bucket-gg.s3.amazonaws.com/in.json': the bucket "
                           "'no-such-bucket-gg' does not exist or is not readable with the execution role.")),
        "StopBulkDeployment": (
            lambda w: (lambda b: ok({"BulkDeploymentId": b["BulkDeploymentId"]}))(w.bulk()),
            lambda w: fail({"BulkDeploymentId": MISSING}, 400, "InvalidInputException")),
        "TagResource": (
            lambda w: (lambda x: ok({"ResourceArn": x["Arn"], "tags": {"a": "1"}}, arns=[x["Arn"]]))(w.definition("Device", False)),
            lambda w: fail({"ResourceArn": f"{ARN}/groups/{MISSING}", "tags": {"a": "1"}}, 404, "ResourceNotFoundException",
                           f"The resource {ARN}/groups/{MISSING} does not exist.")),
        "UntagResource": (
            lambda w: (lambda x: ok({"ResourceArn": x["Arn"], "TagKeys": ["k", "absent"]}, arns=[x["Arn"]]))(
                w.gg.create_logger_definition(tags={"k": "v"})),
            lambda w: fail({"ResourceArn": f"{ARN}/groups/{MISSING}/versions/{MISSING}", "TagKeys": ["k"]}, 400,
                           "BadRequestException")),
        "UpdateConnectivityInfo": (
            lambda w: ok({"ThingName": gg_thing, "ConnectivityInfo": [
                {"Id": "1", "HostAddress": "10.0.0.1", "PortNumber": 8883, "Metadata": ""}]},
                check=lambda out: len(out["Version"]) == 36),
            lambda w: fail({"ThingName": gg_thing, "ConnectivityInfo": [{"PortNumber": "x"}]}, 400, "BadRequestException",
                           validate=False)),
        "UpdateGroupCertificateConfiguration": (
            lambda w: (lambda gc: ok({"GroupId": gc[0]["Id"], "CertificateExpiryInMilliseconds": "2592000000"},
                                     check=lambda out: out["CertificateExpiryInMilliseconds"] == 2592000000))(w.ca()),
            lambda w: (lambda gv: fail({"GroupId": gv[0]["Id"], "CertificateExpiryInMilliseconds": "1000"}, 400,
                                       "InvalidInputException"))(w.group())),
        "UpdateThingRuntimeConfiguration": (
            lambda w: ok({"ThingName": "rt2", "TelemetryConfiguration": {"Telemetry": "On"}}),
            lambda w: fail({"ThingName": "rt2", "TelemetryConfiguration": {"Telemetry": "Maybe"}}, 400,
                           "BadRequestException", validate=False)),
    }


CASES = {}
for _k in CONTENT:
    CASES.update(kind_cases(_k))
CASES.update(group_cases())
CASES.update(other_cases())
OPS = sorted(MODEL.operation_names)


def method(op):
    return xform_name(op)


def test_every_model_operation_has_cases():
    assert len(OPS) == 92
    assert sorted(CASES) == OPS
    assert sum(1 for o in OPS if o.startswith(("Get", "List"))) == 45


def _dummy(shape):
    t = shape.type_name
    if t == "structure":
        return {n: _dummy(shape.members[n]) for n in shape.required_members}
    if t == "list":
        return [_dummy(shape.member)]
    if t == "map":
        return {}
    if t == "boolean":
        return False
    if t in ("integer", "long"):
        return 1
    return shape.enum[0] if shape.enum else "x"


def test_every_operation_is_served(srv):
    """Each operation of the model, called with only its required members
    (dummy values), gets an answer from a handler: never a 501 / unknown
    operation, and every call is recorded."""
    gg = client(srv, validate=False)
    cap = Capture(gg)
    for op in OPS:
        om = MODEL.operation_model(op)
        kwargs = _dummy(om.input_shape) if om.input_shape else {}
        try:
            getattr(gg, method(op))(**kwargs)
        except ClientError as e:
            code = e.response["Error"]["Code"]
            assert code not in ("NotImplemented", "UnknownOperationException"), (op, e.response)
        assert cap.last["status"] != 501, (op, cap.last)
        assert cap.last["op"] == op
        assert record_for(srv, op, cap.last["request_id"]) is not None, op


@pytest.mark.parametrize("op", OPS)
def test_op_success(srv, op):
    w = World(srv)
    case = CASES[op][0](w)
    gg = client(srv)
    cap = Capture(gg)
    out = getattr(gg, method(op))(**case["kwargs"])
    raw = cap.last
    assert raw["op"] == op and out["ResponseMetadata"]["RequestId"] == raw["request_id"]
    body = check_response(op, raw)
    if case["check"]:
        assert case["check"](body), body
    rec = record_for(srv, op, raw["request_id"])
    assert rec is not None
    check_record(srv, op, rec, params=case["kwargs"], ok=True, response=body, arns=case["arns"])


@pytest.mark.parametrize("op", OPS)
def test_op_failure(srv, op):
    w = World(srv)
    case = CASES[op][1](w)
    if case == AUTH_FAIL:
        # No input can make this operation fail; a wrongly signed request is
        # refused with 403 and, as AWS does for unauthenticated calls, not
        # recorded.
        gg = client(srv, secret="wrong" * 8)
        cap = Capture(gg)
        om = MODEL.operation_model(op)
        with pytest.raises(ClientError) as e:
            getattr(gg, method(op))(**(_dummy(om.input_shape) if om.input_shape else {}))
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert record_for(srv, op, cap.last["request_id"]) is None
        return
    gg = client(srv, validate=case["validate"])
    cap = Capture(gg)
    with pytest.raises(ClientError) as e:
        getattr(gg, method(op))(**case["kwargs"])
    raw = cap.last
    resp = e.value.response
    assert raw["op"] == op
    assert raw["status"] == case["status"], (raw, case)
    assert resp["Error"]["Code"] == case["code"], resp
    typed = case["code"] not in ("400", "404")
    assert any(h.lower() == "x-amzn-errortype" for h in raw["headers"]) == typed
    body = check_error_body(raw)
    if case["message"] is not None:
        assert body["Message"] == case["message"]
    if case["details"] is not None:
        assert body["ErrorDetails"] == case["details"]
    rec = record_for(srv, op, raw["request_id"])
    assert rec is not None
    ct_code = case["code"] if typed else {"400": "BadRequestException", "404": "NotFoundException"}[case["code"]]
    check_record(srv, op, rec, params=case["kwargs"], ok=False, error_code=ct_code,
                 error_body=dict(body, _status=raw["status"]))


TOKEN_OPS = [o for o in OPS if "AmznClientToken" in MODEL.operation_model(o).input_shape.members]


def test_token_ops_are_the_21():
    assert len(TOKEN_OPS) == 21
    assert all(o.startswith("Create") for o in TOKEN_OPS if o not in ("ResetDeployments", "StartBulkDeployment"))


@pytest.mark.parametrize("op", TOKEN_OPS)
def test_op_idempotency(srv, op):
    """Same X-Amzn-Client-Token and input: the first answer again, nothing
    new made; same token with the failure case's (different) input:
    IdempotentParameterMismatchException, before any other check."""
    w = World(srv)
    case = CASES[op][0](w)
    token = f"tok-{uuid.uuid4()}"
    gg = client(srv)
    cap = Capture(gg)
    kwargs = dict(case["kwargs"], AmznClientToken=token)
    getattr(gg, method(op))(**kwargs)
    first = json.loads(cap.last["body"])
    getattr(gg, method(op))(**kwargs)
    second = json.loads(cap.last["body"])
    assert first == second
    rec = record_for(srv, op, cap.last["request_id"])
    assert rec["requestParameters"]["AmznClientToken"] == token and rec["responseElements"] == first
    bad = CASES[op][1](w)
    gg2 = client(srv, validate=bad["validate"])
    with pytest.raises(ClientError) as e:
        getattr(gg2, method(op))(**dict(bad["kwargs"], AmznClientToken=token))
    resp = e.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    if bad["code"] == "BadRequestException":
        # a request the model itself rejects (e.g. an enum) never reaches
        # the token check
        assert resp["Error"]["Code"] == "BadRequestException" and "validation error" in resp["Error"]["Message"]
        return
    assert resp["Error"]["Code"] == "IdempotentParameterMismatchException", resp
    assert resp["Error"]["Message"] == f"The client token '{token}' was already used with different request parameters."
