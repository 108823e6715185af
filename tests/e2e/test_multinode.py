"""Several `greentrail serve` nodes on one PostgreSQL database share state:
what one node creates the other reads, paging tokens work across nodes,
LookupEvents on any node sees every node's calls, and a node that dies
takes nothing with it. Runs in tools/run-tests' PostgreSQL pass
(GREENTRAIL_TEST_STORE set); the embedded SQLite store is one node only."""
import os
import signal
import threading

import pytest

pytestmark = pytest.mark.skipif(
    not os.environ.get("GREENTRAIL_TEST_STORE"),
    reason="several nodes need PostgreSQL (tools/run-tests runs this in its PostgreSQL pass)")


def two_nodes(make_server):
    a = make_server()
    b = make_server(args=["--store", a.store_url])
    return a, b


def test_two_nodes_share_state(make_server):
    a, b = two_nodes(make_server)
    assert a.store_url and b.store_url is None
    assert a.key() == b.key()                       # one account, bootstrapped once
    ga, gb = a.client("greengrass"), b.client("greengrass")
    gid = ga.create_group(Name="shared")["Id"]
    assert gb.get_group(GroupId=gid)["Name"] == "shared"
    gb.update_group(GroupId=gid, Name="renamed")
    assert ga.get_group(GroupId=gid)["Name"] == "renamed"

    # both nodes take writes at the same time
    made, errors = [], []

    def work(node, prefix):
        try:
            gg = node.client("greengrass")
            for i in range(15):
                made.append(gg.create_group(Name=f"{prefix}{i}")["Id"])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(n, p)) for n, p in ((a, "a"), (b, "b"), (a, "c"), (b, "d"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expected = sorted(made + [gid])
    assert len(expected) == 61
    for node in (a, b):
        listed, kw = [], {}
        while True:
            r = node.client("greengrass").list_groups(MaxResults="10", **kw)
            listed += [g["Id"] for g in r["Groups"]]
            if not r.get("NextToken"):
                break
            kw["NextToken"] = r["NextToken"]
        assert sorted(listed) == expected

    # LookupEvents on either node sees every node's calls, the same ones
    ids = []
    for node in (a, b):
        recs = node.records("CreateGroup")
        assert len(recs) == 61
        ids.append(sorted(r["eventID"] for r in recs))
        assert len(node.records("UpdateGroup")) == 1
        assert len(node.records("GetGroup")) == 2
    assert ids[0] == ids[1]


def test_paging_token_from_one_node_works_on_the_other(make_server):
    a, b = two_nodes(make_server)
    gg = a.client("greengrass")
    for i in range(6):
        gg.create_group(Name=f"g{i}")
    first = a.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateGroup"}], MaxResults=4)
    assert len(first["Events"]) == 4 and first.get("NextToken")
    rest = b.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateGroup"}], MaxResults=4,
        NextToken=first["NextToken"])
    got = [e["EventId"] for e in first["Events"]] + [e["EventId"] for e in rest["Events"]]
    assert len(got) == 6 and len(set(got)) == 6


def test_a_node_dies_the_other_goes_on(make_server):
    a, b = two_nodes(make_server)
    gid = a.client("greengrass").create_group(Name="before")["Id"]
    a.proc.send_signal(signal.SIGKILL)       # right after its 2xx
    a.proc.wait()
    gb = b.client("greengrass")
    assert gb.get_group(GroupId=gid)["Name"] == "before"
    gb.create_group(Name="after")
    assert sorted(g["Name"] for g in gb.list_groups()["Groups"]) == ["after", "before"]
    a.start()                                 # the node comes back on the same store
    assert sorted(g["Name"] for g in a.client("greengrass").list_groups()["Groups"]) == ["after", "before"]
    assert len(a.records("CreateGroup")) == 2
