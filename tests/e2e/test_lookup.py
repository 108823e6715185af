"""LookupEvents: attributes, time range, paging, errors (cloudtrail.md §5)."""
import time

import pytest
from botocore.exceptions import ClientError


def code(e):
    return e.value.response["Error"]["Code"]


def test_attributes_and_paging(server):
    gg = server.client("greengrass")
    ids = [gg.create_group(Name=f"g{i}")["Id"] for i in range(4)]
    gg.get_group(GroupId=ids[0])
    ct = server.client("cloudtrail")
    ev = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateGroup"}])["Events"]
    assert len(ev) == 4
    assert [e["EventTime"] for e in ev] == sorted([e["EventTime"] for e in ev], reverse=True)
    ro = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "true"}])["Events"]
    assert {e["EventName"] for e in ro} >= {"GetGroup"} and all(e["ReadOnly"] == "true" for e in ro)
    by_user = ct.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "admin"}])["Events"]
    assert len(by_user) >= 5
    by_key = ct.lookup_events(LookupAttributes=[{"AttributeKey": "AccessKeyId",
                                                 "AttributeValue": server.key()[0]}])["Events"]
    assert len(by_key) >= 5
    src = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventSource",
                                              "AttributeValue": "greengrass.amazonaws.com"}])["Events"]
    assert len(src) == 5
    one = ev[0]
    assert [e["EventId"] for e in ct.lookup_events(LookupAttributes=[
        {"AttributeKey": "EventId", "AttributeValue": one["EventId"]}])["Events"]] == [one["EventId"]]
    arn = one["Resources"][0]["ResourceName"]
    assert ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}])["Events"][0][
        "EventId"] == one["EventId"]
    rt = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceType",
                                             "AttributeValue": "AWS::Greengrass::Group"}])["Events"]
    assert len(rt) == 5
    # paging: every event once, newest first
    seen, token = [], None
    while True:
        kw = {"MaxResults": 2, "LookupAttributes": [{"AttributeKey": "EventSource",
                                                     "AttributeValue": "greengrass.amazonaws.com"}]}
        if token:
            kw["NextToken"] = token
        r = ct.lookup_events(**kw)
        assert len(r["Events"]) <= 2
        seen += [e["EventId"] for e in r["Events"]]
        token = r.get("NextToken")
        if not token:
            break
    assert seen == [e["EventId"] for e in src]
    # the token is bound to its query
    r = ct.lookup_events(MaxResults=1)
    with pytest.raises(ClientError) as e:
        ct.lookup_events(MaxResults=1, NextToken=r["NextToken"],
                         LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetGroup"}])
    assert code(e) == "InvalidNextTokenException"


def test_time_range(server):
    gg = server.client("greengrass")
    gg.create_group(Name="t")
    ct = server.client("cloudtrail")
    now = time.time()
    assert len(ct.lookup_events(StartTime=now - 60, EndTime=now + 60)["Events"]) >= 1
    assert ct.lookup_events(StartTime=now - 7200, EndTime=now - 3600)["Events"] == []


def test_errors(server):
    ct = server.client("cloudtrail")
    with pytest.raises(ClientError) as e:
        ct.lookup_events(MaxResults=51)
    assert code(e) == "InvalidMaxResultsException"
    with pytest.raises(ClientError) as e:
        ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "a"},
                                           {"AttributeKey": "Username", "AttributeValue": "b"}])
    assert code(e) == "InvalidLookupAttributesException"
    with pytest.raises(ClientError) as e:
        ct.lookup_events(StartTime=time.time(), EndTime=time.time() - 3600)
    assert code(e) == "InvalidTimeRangeException"
    with pytest.raises(ClientError) as e:
        ct.lookup_events(NextToken="v1.AAAA.BBBB")
    assert code(e) == "InvalidNextTokenException"
    # LookupEvents calls are recorded too, failures included
    recs = server.records("LookupEvents")
    assert len(recs) >= 4
    failed = [r for r in recs if r.get("errorCode") == "InvalidMaxResultsException"]
    assert len(failed) == 1 and failed[0]["eventSource"] == "cloudtrail.amazonaws.com"
    assert failed[0]["errorMessage"]
