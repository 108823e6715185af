"""Helpers for the Greengrass end-to-end tests: raw-response capture, a
check of a JSON body against botocore's output shape, and a field-by-field
check of a call's CloudTrail record."""
import json
import re

import boto3
import botocore.config
import botocore.session

from conftest import ACCOUNT, REGION

MODEL = botocore.session.get_session().get_service_model("greengrass")
ARN = f"arn:aws:greengrass:{REGION}:{ACCOUNT}:/greengrass"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME_S = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

# The live service answers these two cert-expiry members as JSON numbers
# although the model says string (greengrass.md §1.1, from the CLI examples).
NUMERIC_STRINGS = {"CertificateAuthorityExpiryInMilliseconds", "CertificateExpiryInMilliseconds"}

# Members masked as "***" in requestParameters (greengrass.md §5.3).
CONTENT = {"Core": ["Cores"], "Device": ["Devices"], "Function": ["Functions", "DefaultConfig"],
           "Subscription": ["Subscriptions"], "Logger": ["Loggers"], "Resource": ["Resources"],
           "Connector": ["Connectors"]}


def masked_members(op):
    m = re.fullmatch(r"Create(\w+)Definition", op)
    if m or op == "CreateGroup":
        return ["InitialVersion"]
    m = re.fullmatch(r"Create(\w+)DefinitionVersion", op)
    if m:
        return CONTENT[m.group(1)]
    return []


def expected_params(op, kwargs):
    if not kwargs:
        return None
    out = dict(kwargs)
    for k in masked_members(op):
        if k in out:
            out[k] = "***"
    return out


def client(server, validate=True, secret=None):
    ak, sk = server.key()
    return boto3.client(
        "greengrass", endpoint_url=server.url, region_name=REGION, aws_access_key_id=ak,
        aws_secret_access_key=secret or sk,
        config=botocore.config.Config(parameter_validation=validate, retries={"max_attempts": 1}))


class Capture:
    """Keeps the raw status, headers and body of every response a client got."""

    def __init__(self, gg):
        self.last = None
        gg.meta.events.register("after-call.greengrass", self._hook)

    def _hook(self, http_response, parsed, model, **kw):
        self.last = {"status": http_response.status_code, "headers": dict(http_response.headers),
                     "body": http_response.content, "op": model.name,
                     "request_id": http_response.headers.get("x-amzn-RequestId")}


def check_shape(shape, value, path="$"):
    """value (raw JSON) must fit shape: only modelled members (by wire name),
    required ones present, JSON types as the model says."""
    t = shape.type_name
    if t == "structure":
        assert isinstance(value, dict), f"{path}: expected object, got {value!r}"
        wire = {m.serialization.get("name", n): (n, m) for n, m in shape.members.items()}
        for key, v in value.items():
            assert key in wire, f"{path}: member {key!r} not in {shape.name}"
            name, m = wire[key]
            if name in NUMERIC_STRINGS and isinstance(v, int):
                continue
            check_shape(m, v, f"{path}.{key}")
        for req in shape.required_members:
            assert shape.members[req].serialization.get("name", req) in value, f"{path}: required {req} missing"
    elif t == "list":
        assert isinstance(value, list), f"{path}: expected list, got {value!r}"
        for i, v in enumerate(value):
            check_shape(shape.member, v, f"{path}[{i}]")
    elif t == "map":
        assert isinstance(value, dict), f"{path}: expected map, got {value!r}"
        for k, v in value.items():
            assert isinstance(k, str)
            check_shape(shape.value, v, f"{path}.{k}")
    elif t in ("string", "timestamp"):
        assert isinstance(value, str), f"{path}: expected string, got {value!r}"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
    elif t in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: expected integer, got {value!r}"
    elif t == "boolean":
        assert isinstance(value, bool), f"{path}: expected boolean, got {value!r}"
    elif t in ("double", "float"):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{path}: expected number"
    else:
        raise AssertionError(f"{path}: unexpected shape type {t}")


def check_response(op, raw):
    """A success: status and body as the model says."""
    om = MODEL.operation_model(op)
    assert raw["status"] == om.http.get("responseCode", 200), raw
    if om.output_shape is None:
        assert raw["body"] in (b"", None), raw
        return None
    body = json.loads(raw["body"])
    check_shape(om.output_shape, body)
    return body


def check_error_body(raw):
    body = json.loads(raw["body"])
    assert isinstance(body.get("Message"), str), body
    assert set(body) <= {"Message", "ErrorDetails"}, body
    for d in body.get("ErrorDetails", []):
        assert set(d) <= {"DetailedErrorCode", "DetailedErrorMessage"}
    return body


def record_for(server, op, request_id):
    found = [r for r in server.records(op) if r["requestID"] == request_id]
    return found[0] if found else None


def check_record(server, op, rec, *, params, ok, response=None, error_code=None, error_body=None, arns=()):
    """The record of one call, field by field."""
    om = MODEL.operation_model(op)
    read_only = op.startswith(("Get", "List"))
    assert rec["eventVersion"] == "1.08"
    ui = rec["userIdentity"]
    assert ui["type"] == "IAMUser" and ui["userName"] == "admin"
    assert ui["arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin" and ui["accountId"] == ACCOUNT
    assert ui["accessKeyId"] == server.key()[0]
    assert TIME_S.match(rec["eventTime"])
    assert rec["eventSource"] == "greengrass.amazonaws.com"
    assert rec["eventName"] == op == om.name
    assert rec["awsRegion"] == REGION
    assert rec["sourceIPAddress"] == "127.0.0.1"
    assert rec["userAgent"].startswith(("Boto3/", "aws-cli/", "botocore/"))
    assert UUID.match(rec["eventID"]) and UUID.match(rec["requestID"])
    assert rec["readOnly"] is read_only
    assert rec["eventType"] == "AwsApiCall" and rec["managementEvent"] is True
    assert rec["recipientAccountId"] == ACCOUNT and rec["eventCategory"] == "Management"
    assert "errorMessage" not in rec
    if ok:
        assert "errorCode" not in rec
        assert rec["requestParameters"] == expected_params(op, params)
        if read_only or not response:
            assert rec["responseElements"] is None
        else:
            assert rec["responseElements"] == response
        got = [r["ARN"] for r in rec.get("resources", [])]
        for a in arns:
            assert a in got, (a, got)
        for r in rec.get("resources", []):
            assert r["accountId"] == ACCOUNT and r["type"].startswith("AWS::")
    else:
        assert rec["errorCode"] == error_code
        # a request refused as invalid (400) is recorded without its
        # parameters, as in the seed's failed AssociateServiceRoleToAccount
        status_400 = error_body.get("_status") == 400
        expected = None if status_400 else expected_params(op, params)
        assert rec["requestParameters"] == expected
        want = {"Message": error_body["Message"]}
        if "ErrorDetails" in error_body:
            want["ErrorDetails"] = error_body["ErrorDetails"]
        assert rec["responseElements"] == want
