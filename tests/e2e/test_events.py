"""EventBridge: the API (rules, targets, TestEventPattern, PutEvents,
connections, API destinations) with AWS's errors, and delivery of recorded
Greengrass calls to rule targets from the journal (file sink, HTTP API
destinations with auth, retries, dead letters, restart)."""
import base64
import json
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, BIN, REGION, Server
from events_util import Receiver, dead_letters, file_lines, target_states, wait_for

FAST = ["--rules-interval-ms", "50", "--rules-retry-max-ms", "300"]
CT_GROUP = {"source": ["aws.greengrass"], "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {"eventSource": ["greengrass.amazonaws.com"], "eventName": ["CreateGroup"]}}


@pytest.fixture
def server(tmp_path):
    """The conftest server, with a fast rules worker (the `aws` fixture uses it too)."""
    s = Server(tmp_path / "data", args=FAST).start()
    yield s
    assert s.stop() == 0, s.output()


def err(excinfo):
    e = excinfo.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"], e["Error"]["Message"]


def file_target(tid, rel, **kw):
    return dict(Id=tid, Arn=f"arn:aws:greentrail:::file/{rel}", **kw)


# ---------------------------------------------------------------- API

def test_rule_lifecycle_and_errors(server):
    ev = server.client("events")
    arn = ev.put_rule(Name="r1", EventPattern=json.dumps(CT_GROUP), Description="d")["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r1"
    got = ev.describe_rule(Name="r1")
    assert (got["Name"], got["Arn"], got["State"], got["Description"], got["EventBusName"], got["CreatedBy"]) == \
        ("r1", arn, "ENABLED", "d", "default", ACCOUNT)
    assert json.loads(got["EventPattern"]) == CT_GROUP
    # PutRule replaces: the description is gone, the state is as given
    ev.put_rule(Name="r1", EventPattern=json.dumps(CT_GROUP), State="DISABLED")
    got = ev.describe_rule(Name="r1")
    assert got["State"] == "DISABLED" and "Description" not in got
    ev.enable_rule(Name="r1")
    assert ev.describe_rule(Name="r1")["State"] == "ENABLED"
    ev.disable_rule(Name="r1")
    assert ev.describe_rule(Name="r1")["State"] == "DISABLED"

    for n in ["b-2", "a-1", "b-1"]:
        ev.put_rule(Name=n, EventPattern='{"source":["x"]}')
    assert [r["Name"] for r in ev.list_rules()["Rules"]] == ["a-1", "b-1", "b-2", "r1"]   # by name
    assert [r["Name"] for r in ev.list_rules(NamePrefix="b-")["Rules"]] == ["b-1", "b-2"]
    names, kw = [], {"Limit": 1}
    while True:
        page = ev.list_rules(**kw)
        assert len(page["Rules"]) <= 1
        names += [r["Name"] for r in page["Rules"]]
        if "NextToken" not in page:
            break
        kw["NextToken"] = page["NextToken"]
    assert names == ["a-1", "b-1", "b-2", "r1"]

    with pytest.raises(ClientError) as e:
        ev.describe_rule(Name="nope")
    assert err(e) == (400, "ResourceNotFoundException", "Rule nope does not exist on EventBus default.")
    with pytest.raises(ClientError) as e:
        ev.enable_rule(Name="nope")
    assert err(e)[1] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        ev.put_rule(Name="s", ScheduleExpression="rate(5 minutes)")
    assert err(e)[:2] == (400, "ValidationException") and "ScheduleExpression is not supported" in err(e)[2]
    with pytest.raises(ClientError) as e:
        ev.put_rule(Name="s")
    assert err(e) == (400, "ValidationException", "Parameter(s) EventPattern or ScheduleExpression must be specified.")
    with pytest.raises(ClientError) as e:
        ev.put_rule(Name="bad", EventPattern='{"source":"aws.ec2"}')
    assert err(e) == (400, "InvalidEventPatternException",
                      'Event pattern is not valid. Reason: "source" must be an object or an array')
    with pytest.raises(ClientError) as e:
        ev.put_rule(Name="bad", EventPattern='{"a":[{"numeric":[">",5,"<",1]}]}')
    assert err(e)[1] == "InvalidEventPatternException" and "Bottom must be less than top" in err(e)[2]
    with pytest.raises(ClientError) as e:
        ev.put_rule(Name="has space", EventPattern='{"a":[1]}')
    assert err(e)[1] == "ValidationException" and "at 'name' failed to satisfy constraint" in err(e)[2]
    with pytest.raises(ClientError) as e:
        ev.put_rule(Name="x", EventPattern='{"a":[1]}', EventBusName="custom-bus")
    assert err(e) == (400, "ResourceNotFoundException", "Event bus custom-bus does not exist.")

    # delete: refused while targets remain; a missing rule deletes silently (as AWS)
    ev.put_targets(Rule="r1", Targets=[file_target("t1", "r1.jsonl")])
    with pytest.raises(ClientError) as e:
        ev.delete_rule(Name="r1")
    assert err(e) == (400, "ValidationException", "Rule can't be deleted since it has targets.")
    ev.remove_targets(Rule="r1", Ids=["t1"])
    ev.delete_rule(Name="r1")
    ev.delete_rule(Name="r1")
    with pytest.raises(ClientError) as e:
        ev.describe_rule(Name="r1")
    assert err(e)[1] == "ResourceNotFoundException"

    # the Events API's own calls are recorded
    recs = server.records("PutRule")
    assert recs and all(r["eventSource"] == "events.amazonaws.com" for r in recs)
    ok = [r for r in recs if "errorCode" not in r and r["requestParameters"]["Name"] == "r1"][-1]   # newest first
    assert ok["responseElements"] == {"RuleArn": arn} and ok["requestParameters"]["Description"] == "d"
    failed = [r for r in recs if r.get("errorCode") == "InvalidEventPatternException"]
    assert len(failed) == 2 and failed[0]["errorMessage"].startswith("Event pattern is not valid.")
    assert [r["errorCode"] for r in server.records("DeleteRule") if "errorCode" in r] == ["ValidationException"]


def test_targets_api(server):
    ev = server.client("events")
    ev.put_rule(Name="r", EventPattern='{"source":["aws.greengrass"]}')
    r = ev.put_targets(Rule="r", Targets=[
        file_target("ok", "a.jsonl"),
        {"Id": "sns", "Arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:topic"},
        {"Id": "lambda", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"},
        file_target("both", "b.jsonl", Input="{}", InputPath="$.detail"),
        file_target("escape", "../etc/passwd"),
        file_target("badinput", "c.jsonl", Input="{not json"),
        {"Id": "nodest", "Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:api-destination/none/0000"},
    ])
    assert r["FailedEntryCount"] == 5   # SNS topic targets are accepted (test_sns.py delivers through one)
    by_id = {f["TargetId"]: f for f in r["FailedEntries"]}
    assert set(by_id) == {"lambda", "both", "escape", "badinput", "nodest"}
    assert by_id["both"]["ErrorMessage"] == "Only one of Input, InputPath, or InputTransformer must be provided."
    assert by_id["nodest"]["ErrorCode"] == "ResourceNotFoundException"
    assert sorted(t["Id"] for t in ev.list_targets_by_rule(Rule="r")["Targets"]) == ["ok", "sns"]
    ev.remove_targets(Rule="r", Ids=["sns"])

    ev.put_targets(Rule="r", Targets=[file_target(f"t{i}", f"t{i}.jsonl", InputPath="$.detail") for i in range(4)])
    with pytest.raises(ClientError) as e:
        ev.put_targets(Rule="r", Targets=[file_target("t9", "t9.jsonl")])
    assert err(e)[1] == "LimitExceededException"
    # replacing an existing id does not count against the limit
    ev.put_targets(Rule="r", Targets=[file_target("t0", "t0.jsonl", Input='{"x":1}')])
    ids, kw = [], {"Rule": "r", "Limit": 2}
    while True:
        page = ev.list_targets_by_rule(**kw)
        ids += [t["Id"] for t in page["Targets"]]
        if "NextToken" not in page:
            break
        kw["NextToken"] = page["NextToken"]
    assert ids == ["ok", "t0", "t1", "t2", "t3"]
    t0 = [t for t in ev.list_targets_by_rule(Rule="r")["Targets"] if t["Id"] == "t0"][0]
    assert t0["Input"] == '{"x":1}' and "InputPath" not in t0
    assert ev.remove_targets(Rule="r", Ids=["t1", "t2", "unknown"])["FailedEntryCount"] == 0
    assert [t["Id"] for t in ev.list_targets_by_rule(Rule="r")["Targets"]] == ["ok", "t0", "t3"]
    with pytest.raises(ClientError) as e:
        ev.list_targets_by_rule(Rule="missing")
    assert err(e) == (400, "ResourceNotFoundException", "Rule missing does not exist on EventBus default.")
    with pytest.raises(ClientError) as e:
        ev.put_targets(Rule="missing", Targets=[file_target("a", "a")])
    assert err(e)[1] == "ResourceNotFoundException"


def test_test_event_pattern(server):
    ev = server.client("events")
    event = {"id": "1", "account": ACCOUNT, "source": "my.app", "time": "2026-01-01T00:00:00Z", "region": REGION,
             "resources": [], "detail-type": "t", "detail": {"n": 7, "user": "Alice"}}
    cases = [({"detail": {"n": [{"numeric": [">", 5]}]}}, True),
             ({"detail": {"n": [{"numeric": [">", 7]}]}}, False),
             ({"detail": {"user": [{"equals-ignore-case": "alice"}]}}, True),
             ({"detail": {"missing": [{"exists": False}]}}, True)]
    for pat, want in cases:
        assert ev.test_event_pattern(EventPattern=json.dumps(pat), Event=json.dumps(event))["Result"] is want, pat
    with pytest.raises(ClientError) as e:
        ev.test_event_pattern(EventPattern='{"a":[]}', Event=json.dumps(event))
    assert err(e) == (400, "InvalidEventPatternException", "Event pattern is not valid. Reason: Empty arrays are not allowed")
    with pytest.raises(ClientError) as e:
        ev.test_event_pattern(EventPattern='{"a":[1]}', Event='{"source":"x"}')
    assert err(e) == (400, "ValidationException", "Parameter Event is not valid.")


def test_connections_and_api_destinations(server):
    ev = server.client("events")
    c = ev.create_connection(Name="c1", AuthorizationType="API_KEY",
                             AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cr3t"}})
    assert c["ConnectionState"] == "AUTHORIZED"
    assert c["ConnectionArn"].startswith(f"arn:aws:events:{REGION}:{ACCOUNT}:connection/c1/")
    d = ev.describe_connection(Name="c1")
    assert d["AuthParameters"] == {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key"}}   # never the secret
    assert d["AuthorizationType"] == "API_KEY" and d["ConnectionArn"] == c["ConnectionArn"]
    with pytest.raises(ClientError) as e:
        ev.create_connection(Name="c1", AuthorizationType="API_KEY",
                             AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    assert err(e) == (400, "ResourceAlreadyExistsException", "Connection c1 already exists.")
    with pytest.raises(ClientError) as e:
        ev.create_connection(Name="c2", AuthorizationType="BASIC",
                             AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    assert err(e)[1] == "ValidationException"
    with pytest.raises(ClientError) as e:   # header injection
        ev.create_connection(Name="c3", AuthorizationType="API_KEY",
                             AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v\r\nX: y"}})
    assert err(e)[1] == "ValidationException"
    with pytest.raises(ClientError) as e:
        ev.describe_connection(Name="nope")
    assert err(e) == (400, "ResourceNotFoundException",
                      "Failed to describe the connection(s). Connection 'nope' does not exist.")

    a = ev.create_api_destination(Name="d1", ConnectionArn=c["ConnectionArn"], InvocationEndpoint="http://127.0.0.1:9/x",
                                  HttpMethod="POST")
    assert a["ApiDestinationState"] == "ACTIVE"
    assert a["ApiDestinationArn"].startswith(f"arn:aws:events:{REGION}:{ACCOUNT}:api-destination/d1/")
    got = ev.describe_api_destination(Name="d1")
    assert (got["ConnectionArn"], got["InvocationEndpoint"], got["HttpMethod"]) == \
        (c["ConnectionArn"], "http://127.0.0.1:9/x", "POST")
    with pytest.raises(ClientError) as e:
        ev.create_api_destination(Name="d1", ConnectionArn=c["ConnectionArn"], InvocationEndpoint="http://h/x",
                                  HttpMethod="POST")
    assert err(e)[1] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as e:
        ev.create_api_destination(Name="d2", ConnectionArn=c["ConnectionArn"] + "x", InvocationEndpoint="http://h/x",
                                  HttpMethod="POST")
    assert err(e)[1] == "ResourceNotFoundException"
    ev.delete_api_destination(Name="d1")
    with pytest.raises(ClientError) as e:
        ev.describe_api_destination(Name="d1")
    assert err(e)[1] == "ResourceNotFoundException"
    assert ev.delete_connection(Name="c1")["ConnectionState"] == "DELETING"
    with pytest.raises(ClientError) as e:
        ev.delete_connection(Name="c1")
    assert err(e)[1] == "ResourceNotFoundException"
    # the secret never reaches a record
    rec = [r for r in server.records("CreateConnection") if "errorCode" not in r][0]
    assert "s3cr3t" not in json.dumps(rec)
    assert rec["requestParameters"]["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyValue"] == "HIDDEN_DUE_TO_SECURITY_REASONS"


# ---------------------------------------------------------------- delivery

def test_greengrass_calls_reach_file_targets_with_the_aws_cli(server, aws):
    """Rules matching and not matching real Greengrass calls made with the
    aws CLI; TestEventPattern agrees with what delivery did."""
    ev = server.client("events")
    only_group = json.dumps(CT_GROUP)
    ev.put_rule(Name="groups", EventPattern=only_group)
    ev.put_targets(Rule="groups", Targets=[file_target("f", "groups.jsonl")])
    ev.put_rule(Name="all-gg", EventPattern='{"source":["aws.greengrass"]}')
    ev.put_targets(Rule="all-gg", Targets=[file_target("f", "all.jsonl")])
    ev.put_rule(Name="off", EventPattern='{"source":["aws.greengrass"]}', State="DISABLED")
    ev.put_targets(Rule="off", Targets=[file_target("f", "off.jsonl")])

    rc, g, _ = aws("greengrass", "create-group", "--name", "cli-group")
    assert rc == 0
    t0 = time.time()   # from the answer (the CLI itself takes a while to start and exit)
    got = wait_for(lambda: file_lines(server, "groups.jsonl"), timeout=5)
    latency = time.time() - t0
    assert got and latency < 1.0, latency   # delivered within ~1 s
    rc, fd, _ = aws("greengrass", "create-function-definition", "--name", "fd")
    assert rc == 0
    assert aws("greengrass", "list-groups")[0] == 0   # read-only: not sent
    all_lines = wait_for(lambda: len(file_lines(server, "all.jsonl")) >= 2 and file_lines(server, "all.jsonl"))
    time.sleep(0.3)
    all_lines = file_lines(server, "all.jsonl")
    assert [e["detail"]["eventName"] for e in all_lines] == ["CreateGroup", "CreateFunctionDefinition"]
    got = file_lines(server, "groups.jsonl")
    assert len(got) == 1
    env = got[0]
    assert set(env) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert (env["version"], env["detail-type"], env["source"], env["account"], env["region"], env["resources"]) == \
        ("0", "AWS API Call via CloudTrail", "aws.greengrass", ACCOUNT, REGION, [])
    rec = [r for r in server.records("CreateGroup")][0]
    assert env["detail"] == rec and env["time"] == rec["eventTime"]
    assert env["detail"]["responseElements"]["Id"] == g["Id"]
    assert file_lines(server, "off.jsonl") == []   # disabled rules see nothing
    # TestEventPattern agrees with the delivery path on the same envelopes
    for e in all_lines:
        want = e["detail"]["eventName"] == "CreateGroup"
        assert ev.test_event_pattern(EventPattern=only_group, Event=json.dumps(e))["Result"] is want
        assert (e in got) is want


def test_read_only_calls_only_with_all_management_events(server):
    ev = server.client("events")
    gg = server.client("greengrass")
    pat = '{"source":["aws.greengrass"],"detail":{"eventName":["ListGroups","CreateGroup"]}}'
    ev.put_rule(Name="plain", EventPattern=pat)
    ev.put_targets(Rule="plain", Targets=[file_target("f", "plain.jsonl")])
    ev.put_rule(Name="everything", EventPattern=pat, State="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
    ev.put_targets(Rule="everything", Targets=[file_target("f", "all.jsonl")])
    gg.list_groups()
    gg.create_group(Name="g")
    assert wait_for(lambda: len(file_lines(server, "all.jsonl")) == 2)
    time.sleep(0.2)
    assert [e["detail"]["eventName"] for e in file_lines(server, "plain.jsonl")] == ["CreateGroup"]
    assert [e["detail"]["eventName"] for e in file_lines(server, "all.jsonl")] == ["ListGroups", "CreateGroup"]


def test_input_forms(server):
    ev = server.client("events")
    gg = server.client("greengrass")
    ev.put_rule(Name="r", EventPattern=json.dumps(CT_GROUP))
    ev.put_targets(Rule="r", Targets=[
        file_target("const", "const.jsonl", Input='{"fixed":true}'),
        file_target("path", "path.jsonl", InputPath="$.detail.requestParameters"),
        file_target("tr", "tr.jsonl", InputTransformer={
            "InputPathsMap": {"name": "$.detail.requestParameters.Name", "who": "$.detail.userIdentity.userName",
                              "missing": "$.detail.nothing"},
            "InputTemplate": '{"group": <name>, "text": "<who> made <name>", "rule": "<aws.events.rule-name>", '
                             '"m": <missing>, "keep": "<unknown>"}'}),
    ])
    gg.create_group(Name="grp")
    assert wait_for(lambda: file_lines(server, "tr.jsonl") and file_lines(server, "path.jsonl")
                    and file_lines(server, "const.jsonl"))
    assert file_lines(server, "const.jsonl") == [{"fixed": True}]
    assert file_lines(server, "path.jsonl") == [{"Name": "grp"}]
    assert file_lines(server, "tr.jsonl") == [{"group": "grp", "text": "admin made grp", "rule": "r", "m": None,
                                               "keep": "<unknown>"}]


def test_put_events_custom_events(server):
    ev = server.client("events")
    ev.put_rule(Name="orders", EventPattern=json.dumps(
        {"source": ["my.shop"], "detail": {"total": [{"numeric": [">=", 100]}]}}))
    ev.put_targets(Rule="orders", Targets=[file_target("f", "orders.jsonl")])
    r = ev.put_events(Entries=[
        {"Source": "my.shop", "DetailType": "order", "Detail": '{"total": 150}', "Resources": ["arn:x"],
         "Time": 1767225600},
        {"Source": "my.shop", "DetailType": "order", "Detail": '{"total": 5}'},
        {"Source": "aws.greengrass", "DetailType": "spoof", "Detail": "{}"},
        {"Source": "my.shop", "DetailType": "order", "Detail": "not json"},
        {"Source": "my.shop", "DetailType": "order"},
    ])
    assert r["FailedEntryCount"] == 3
    e = r["Entries"]
    assert "EventId" in e[0] and "EventId" in e[1]
    assert e[2]["ErrorCode"] == "NotAuthorizedForSourceException"
    assert e[3]["ErrorCode"] == "MalformedDetail"
    assert e[4]["ErrorCode"] == "InvalidArgument"
    got = wait_for(lambda: file_lines(server, "orders.jsonl"))
    time.sleep(0.2)
    got = file_lines(server, "orders.jsonl")
    assert len(got) == 1
    assert (got[0]["id"], got[0]["source"], got[0]["detail-type"], got[0]["detail"], got[0]["resources"],
            got[0]["account"], got[0]["region"], got[0]["time"]) == \
        (e[0]["EventId"], "my.shop", "order", {"total": 150}, ["arn:x"], ACCOUNT, REGION, "2026-01-01T00:00:00Z")


def _http_target(ev, receiver, auth_type, auth, name="c"):
    c = ev.create_connection(Name=name, AuthorizationType=auth_type, AuthParameters=auth)
    d = ev.create_api_destination(Name=name + "-dest", ConnectionArn=c["ConnectionArn"],
                                  InvocationEndpoint=receiver.url + "/hook", HttpMethod="POST")
    return d["ApiDestinationArn"]


def test_http_target_down_then_back(server):
    ev = server.client("events")
    gg = server.client("greengrass")
    rx = Receiver()   # not started: the target is down
    arn = _http_target(ev, rx, "API_KEY", {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k1"}})
    ev.put_rule(Name="r", EventPattern=json.dumps(CT_GROUP))
    ev.put_targets(Rule="r", Targets=[{"Id": "http", "Arn": arn}])
    g1 = gg.create_group(Name="first")
    g2 = gg.create_group(Name="second")
    st = wait_for(lambda: [s for s in target_states(server) if s["failures"] >= 2])
    assert st and st[0]["delivered"] == 0 and "/hook" in st[0]["last_error"]
    assert "delivery of" in server.output()
    rx.start()   # comes back on the same port
    try:
        assert wait_for(lambda: len(rx.requests) >= 2, timeout=5)
        time.sleep(0.2)
        bodies = [json.loads(r["body"]) for r in rx.requests]
        # both events, in order, each with the connection's key
        assert [b["detail"]["responseElements"]["Id"] for b in bodies][:2] == [g1["Id"], g2["Id"]]
        assert all(r["headers"]["x-api-key"] == "k1" and r["method"] == "POST" and r["path"] == "/hook"
                   for r in rx.requests)
        assert rx.requests[0]["headers"]["content-type"].startswith("application/json")
        st = target_states(server)[0]
        assert st["delivered"] >= 2 and st["dead_letters"] == 0
    finally:
        rx.stop()


def test_basic_auth_and_dead_letter_on_4xx(server):
    ev = server.client("events")
    gg = server.client("greengrass")
    rx = Receiver(status=403).start()
    try:
        arn = _http_target(ev, rx, "BASIC", {"BasicAuthParameters": {"Username": "u", "Password": "p w"}})
        ev.put_rule(Name="r", EventPattern=json.dumps(CT_GROUP))
        ev.put_targets(Rule="r", Targets=[{"Id": "http", "Arn": arn}])
        gg.create_group(Name="g")
        dl = wait_for(lambda: dead_letters(server))
        assert len(dl) == 1 and dl[0]["rule"] == "r" and dl[0]["targetId"] == "http"
        assert "403" in dl[0]["error"] and dl[0]["targetArn"] == arn
        assert len(rx.requests) == 1   # a permanent 4xx is not retried
        assert rx.requests[0]["headers"]["authorization"] == "Basic " + base64.b64encode(b"u:p w").decode()
        st = target_states(server)[0]
        assert st["dead_letters"] == 1 and st["failures"] == 1
        # the operator's view, while the server runs
        p = subprocess.run([BIN, "rules-status", "--data-dir", server.data_dir]
                           + (["--store", server.store_url] if server.store_url else []),
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        status = json.loads(p.stdout)
        assert [(t["rule"], t["id"], t["dead_letters"], t["failures"]) for t in status["targets"]] == [("r", "http", 1, 1)]
        assert "403" in status["targets"][0]["last_error"]
        assert [(d["rule"], d["targetId"]) for d in status["dead_letters"]] == [("r", "http")]
        # the target is not stuck: the next event goes through
        rx.status = 200
        gg.create_group(Name="g2")
        assert wait_for(lambda: len(rx.requests) == 2)
    finally:
        rx.stop()


def test_nothing_lost_across_restart(make_server, tmp_path):
    data = tmp_path / "restart"
    # a worker that will not poll again for a minute: calls land in the journal only
    s = make_server(data_dir=data, args=["--rules-interval-ms", "60000"])
    time.sleep(0.3)   # let the worker's first pass (at start) go by
    ev = s.client("events")
    ev.put_rule(Name="r", EventPattern=json.dumps(CT_GROUP))
    ev.put_targets(Rule="r", Targets=[file_target("f", "r.jsonl")])
    time.sleep(0.2)
    gg = s.client("greengrass")
    ids = [gg.create_group(Name=f"g{i}")["Id"] for i in range(3)]
    time.sleep(0.3)
    assert file_lines(s, "r.jsonl") == []
    assert s.stop() == 0
    # the same store: on PostgreSQL, a server started afresh gets a new database
    s2 = make_server(data_dir=data, args=FAST + (["--store", s.store_url] if s.store_url else []))
    got = wait_for(lambda: len(file_lines(s2, "r.jsonl")) == 3 and file_lines(s2, "r.jsonl"))
    assert [e["detail"]["responseElements"]["Id"] for e in got] == ids
    # and no duplicates on a later pass
    time.sleep(0.3)
    assert len(file_lines(s2, "r.jsonl")) == 3


def test_new_target_sees_only_later_events(server):
    ev = server.client("events")
    gg = server.client("greengrass")
    gg.create_group(Name="before")
    ev.put_rule(Name="r", EventPattern=json.dumps(CT_GROUP))
    ev.put_targets(Rule="r", Targets=[file_target("f", "later.jsonl")])
    gg.create_group(Name="after")
    got = wait_for(lambda: file_lines(server, "later.jsonl"))
    time.sleep(0.2)
    assert [e["detail"]["requestParameters"]["Name"] for e in file_lines(server, "later.jsonl")] == ["after"]
    assert got


def test_events_api_with_the_aws_cli(server, aws):
    """The Events API through both aws CLIs; the Events calls themselves
    reach rules on source aws.events."""
    pat = {"source": ["aws.events"], "detail": {"eventName": ["PutRule"]}}
    rc, out, errtext = aws("events", "put-rule", "--name", "meta", "--event-pattern", json.dumps(pat))
    assert rc == 0, errtext
    assert out["RuleArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/meta"
    rc, out, _ = aws("events", "put-targets", "--rule", "meta", "--targets",
                     json.dumps([{"Id": "f", "Arn": "arn:aws:greentrail:::file/meta.jsonl"}]))
    assert rc == 0 and out["FailedEntryCount"] == 0
    rc, out, _ = aws("events", "put-rule", "--name", "second", "--event-pattern", '{"source":["x"]}',
                     "--state", "DISABLED")
    assert rc == 0
    rc, out, _ = aws("events", "list-rules", "--name-prefix", "s")
    assert rc == 0 and [(r["Name"], r["State"]) for r in out["Rules"]] == [("second", "DISABLED")]
    event = {"id": "1", "account": ACCOUNT, "source": "x", "time": "2026-01-01T00:00:00Z", "region": REGION,
             "resources": [], "detail-type": "t", "detail": {}}
    rc, out, _ = aws("events", "test-event-pattern", "--event-pattern", '{"source":["x"]}', "--event", json.dumps(event))
    assert rc == 0 and out["Result"] is True
    rc, out, errtext = aws("events", "describe-rule", "--name", "nope")
    assert rc != 0 and "ResourceNotFoundException" in errtext
    got = wait_for(lambda: file_lines(server, "meta.jsonl"))
    assert [e["detail"]["requestParameters"]["Name"] for e in got] == ["second"]
    assert got[0]["source"] == "aws.events" and got[0]["detail"]["eventSource"] == "events.amazonaws.com"


def test_slow_endpoint_does_not_delay_other_targets(server):
    ev = server.client("events")
    gg = server.client("greengrass")
    rx = Receiver(delay=2.5).start()   # answers, but only after 2.5 s
    try:
        arn = _http_target(ev, rx, "API_KEY", {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
        ev.put_rule(Name="r", EventPattern=json.dumps(CT_GROUP))
        ev.put_targets(Rule="r", Targets=[{"Id": "slow", "Arn": arn}, file_target("fast", "fast.jsonl")])
        time.sleep(0.2)
        gg.create_group(Name="g")
        t0 = time.time()
        assert wait_for(lambda: file_lines(server, "fast.jsonl"), timeout=5)
        assert time.time() - t0 < 1.0
        assert wait_for(lambda: rx.requests, timeout=8)
    finally:
        rx.stop()
