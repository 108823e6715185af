"""LookupEvents from stored summaries (schema 2) answers byte for byte what
it answers from the records themselves.

Since schema 2 every event is stored with its LookupEvents entry (the
summary, made from the record's tree when the call is recorded), and a
page no longer parses the records. Events stored before (schema 1) have
no summary and are summarised from their record, which is what every
page did before. This test records calls of each kind of principal (the
admin user, root, a role session, a federated user; with and without
resources), answers a set of lookups, then removes every summary from the
store file (as if written by schema 1), restarts, and asks again: the
answers must be the same bytes (NextToken aside: it is sealed afresh).
"""
import json
import re
import sqlite3
import time
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import evdict  # noqa: E402  (tools/evdict.py: the stored record blobs)

import pytest

from iam_util import ACCOUNT, ALLOW_ALL, client, make_user, session_creds, trust

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ops"


def raw_lookups(server, end):
    """The raw bodies of a fixed set of LookupEvents calls."""
    ct = server.client("cloudtrail")
    bodies = []
    ct.meta.events.register("after-call.cloudtrail.LookupEvents",
                            lambda http_response, **kw: bodies.append(http_response.content))
    queries = [{}, {"MaxResults": 3}]
    for key, value in [("Username", "admin"), ("Username", "root"), ("Username", "deploy-1"),
                       ("Username", "partner"), ("ResourceType", "AWS::Greengrass::Group"),
                       ("EventName", "CreateGroup"), ("ReadOnly", "true"), ("EventSource", "sts.amazonaws.com")]:
        queries.append({"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]})
    for q in queries:
        kw = dict(q, StartTime=0, EndTime=end)
        while True:
            r = ct.lookup_events(**kw)
            if "NextToken" not in r or len(bodies) > 60:
                break
            kw["NextToken"] = r["NextToken"]
    return [re.sub(rb'"NextToken":"[^"]*"', b'"NextToken":"-"', b) for b in bodies]


@pytest.mark.sqlite_only
def test_summaries_answer_like_records(make_server, tmp_path):
    s = make_server()
    iam = s.client("iam")
    iam.create_role(RoleName="ops", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    iam.put_role_policy(RoleName="ops", PolicyName="p", PolicyDocument=json.dumps(ALLOW_ALL))
    gg = s.client("greengrass")
    g = gg.create_group(Name="by-admin")
    gg.get_group(GroupId=g["Id"])
    s.client("greengrass", profile="root").list_groups()
    role = session_creds(s.client("sts").assume_role(RoleArn=ROLE_ARN, RoleSessionName="deploy-1"))
    client(s, "greengrass", role).create_group(Name="by-role")
    fed = make_user(s, "fed", ALLOW_ALL)
    partner = session_creds(client(s, "sts", fed).get_federation_token(Name="partner", Policy=json.dumps(ALLOW_ALL)))
    client(s, "greengrass", partner).list_groups()
    time.sleep(1.1)
    end = int(time.time()) - 1
    before = raw_lookups(s, end)
    assert len(before) >= 10
    assert any(b'"Username":"deploy-1"' not in b and b'by-role' in b for b in before)
    s.stop()

    db = sqlite3.connect(os.path.join(s.data_dir, "greentrail.db"))
    assert db.execute("PRAGMA user_version").fetchone()[0] >= 2
    rows = db.execute("SELECT seq, json FROM events WHERE time_ms < ?", ((end + 1) * 1000,)).fetchall()
    # every recorded call stored its record and summary compressed together
    # (evpack blobs: tools/evdict.py)
    assert len(rows) > 10 and all(isinstance(b, bytes) and evdict.unpack(b)[1] for _, b in rows)
    for seq, b in rows:   # drop the summaries, as in a store written before schema 2
        rec = evdict.unpack(b)[0]
        db.execute("UPDATE events SET json = ? WHERE seq = ?", (rec.decode(), seq))
    db.commit()
    db.close()

    s.start()
    after = raw_lookups(s, end)
    assert len(after) == len(before)
    for a, b in zip(after, before):
        assert a == b
    # the text is what a compact JSON encoder makes of it (jansson's, which
    # wrote these answers from a tree before, escapes as Python's does here)
    for b in after:
        assert b == json.dumps(json.loads(b), ensure_ascii=False, separators=(",", ":")).encode()
