"""The front door: SigV4 failures, malformed and oversized requests,
unknown operations. Each gets AWS's error and changes nothing."""
import json
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import REGION


def send(server, method, path, body=b"", headers=None, service="greengrass", key=None, sign=True):
    url = server.url + path
    hdrs = dict(headers or {})
    if sign:
        ak, sk = key or server.key()
        req = AWSRequest(method=method, url=url, data=body, headers=hdrs)
        SigV4Auth(Credentials(ak, sk), service, REGION).add_auth(req)
        hdrs = dict(req.headers.items())
    r = urllib.request.Request(url, data=body if body else None, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_health_needs_no_auth(server):
    status, _, body = send(server, "GET", "/health", sign=False)
    assert status == 200 and json.loads(body) == {"status": "ok"}


def test_missing_auth(server):
    status, h, body = send(server, "GET", "/greengrass/groups", sign=False)
    assert status == 403
    assert h.get("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    assert json.loads(body)["message"] == "Missing Authentication Token"


def test_wrong_secret_and_unknown_key(server):
    ak, _ = server.key()
    gg = server.client("greengrass", key=(ak, "x" * 40))
    with pytest.raises(ClientError) as e:
        gg.create_group(Name="nope")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    gg = server.client("greengrass", key=("AKIAAAAAAAAAAAAAAAAA", "x" * 40))
    with pytest.raises(ClientError) as e:
        gg.create_group(Name="nope")
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert server.client("greengrass").list_groups()["Groups"] == []
    # unauthenticated calls are not recorded as the caller's events
    assert server.lookup("CreateGroup") == []


def test_tampered_body_is_refused(server):
    ak, sk = server.key()
    url = server.url + "/greengrass/groups"
    req = AWSRequest(method="POST", url=url, data=b'{"Name":"a"}', headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(ak, sk), "greengrass", REGION).add_auth(req)
    r = urllib.request.Request(url, data=b'{"Name":"b"}', method="POST", headers=dict(req.headers.items()))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(r, timeout=30)
    assert e.value.code == 403 and e.value.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert server.client("greengrass").list_groups()["Groups"] == []


def test_clock_skew(make_server):
    # The server's clock runs 20 minutes ahead: every request is "expired".
    s = make_server(env={"GREENTRAIL_TEST_CLOCK_OFFSET_MS": str(20 * 60 * 1000)})
    status, h, body = send(s, "GET", "/greengrass/groups")
    assert status == 403
    msg = json.loads(body).get("message") or json.loads(body).get("Message")
    assert h["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert msg.startswith("Signature expired:") and msg.endswith("- 15 min.)"), msg
    s2 = make_server(env={"GREENTRAIL_TEST_CLOCK_OFFSET_MS": str(-20 * 60 * 1000)})
    status, h, body = send(s2, "GET", "/greengrass/groups")
    assert status == 403
    msg = json.loads(body).get("message")
    assert msg.startswith("Signature not yet current:"), msg


def test_malformed_json_recorded_and_changes_nothing(server):
    status, h, body = send(server, "POST", "/greengrass/groups", b'{"Name": "a",',
                           {"Content-Type": "application/json"})
    assert status == 400 and h["x-amzn-ErrorType"] == "BadRequestException"
    assert "Message" in json.loads(body)
    assert server.client("greengrass").list_groups()["Groups"] == []
    [r] = server.records("CreateGroup")
    assert r["errorCode"] == "BadRequestException" and r["requestParameters"] is None


def test_oversized_body(server):
    big = b'{"Name":"' + b"a" * (2 * 1024 * 1024) + b'"}'
    status, h, body = send(server, "POST", "/greengrass/groups", big, {"Content-Type": "application/json"})
    assert status == 413
    assert server.client("greengrass").list_groups()["Groups"] == []


def test_unknown_operations(server):
    status, h, body = send(server, "GET", "/greengrass/nothing-here")
    assert status == 404
    status, h, body = send(server, "POST", "/", b"{}", {
        "X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.NoSuchThing",
        "Content-Type": "application/x-amz-json-1.1"}, service="cloudtrail")
    assert status == 400 and json.loads(body)["__type"] == "UnknownOperationException"
    status, h, body = send(server, "POST", "/", b"{}", {"Content-Type": "application/x-amz-json-1.1"},
                           service="nosuchservice")
    assert status == 400


def test_request_id_matches_record(server):
    gg = server.client("greengrass")
    resp = gg.create_group(Name="rid")
    rid = resp["ResponseMetadata"]["RequestId"]
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == rid
    [r] = server.records("CreateGroup")
    assert r["requestID"] == rid


def test_presigned_url(server):
    """The presigned (query-string) SigV4 form is accepted like the header form."""
    gg = server.client("greengrass")
    gid = gg.create_group(Name="presigned")["Id"]
    url = gg.generate_presigned_url("get_group", Params={"GroupId": gid}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200 and json.loads(r.read())["Id"] == gid
    bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")[:len(url)]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=30)
    assert e.value.code == 403


def test_credentials_file(server):
    import os
    import stat
    path = os.path.join(server.data_dir, "credentials")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    ak, sk = server.key()
    rk, rs = server.key("root")
    assert len(ak) == 20 and ak.startswith("AKIA") and len(sk) == 40
    assert len(rk) == 20 and rk.startswith("AKIA") and len(rs) == 40 and rk != ak
    # secrets never reach the server's output
    assert sk not in server.output() and rs not in server.output()
    # root's calls are recorded as Root
    server.client("greengrass", profile="root").list_groups()
    [r] = server.records("ListGroups")
    assert r["userIdentity"]["type"] == "Root"
    assert r["userIdentity"]["arn"] == "arn:aws:iam::123456789012:root"
    assert r["userIdentity"]["principalId"] == "123456789012"
    assert "userName" not in r["userIdentity"]
    ct = server.client("cloudtrail")
    ev = ct.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "root"}])["Events"]
    assert [e["EventName"] for e in ev] == ["ListGroups"]
