"""LookupEvents on the slim journal (SQLite schema 3: interned attribute
values, EventIds kept as a 64-bit hash): a value never stored answers an
empty page, not an error; an EventId lookup answers exactly that event,
even when another event's EventId has the same hash (the record's own
eventID decides)."""
import os
import sqlite3
import zlib

import pytest

ATTRS = ["EventId", "EventName", "ReadOnly", "Username", "EventSource", "AccessKeyId", "ResourceType",
         "ResourceName"]


def eid_hash(eid):
    """events.eid of an EventId (store_sqlite.c's eid_hash)."""
    b = eid.encode()
    u = (zlib.crc32(b) << 32) | zlib.adler32(b)
    return u - (1 << 64) if u >= 1 << 63 else u


def lookup(ct, key, value):
    return ct.lookup_events(LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])


def test_unseen_values_answer_empty_pages(server):
    server.client("greengrass").create_group(Name="seen")
    ct = server.client("cloudtrail")
    for key in ATTRS:
        value = "false" if key == "ReadOnly" else ("AKIAUNSEEN0000000000" if key == "AccessKeyId" else
                                                  "never-stored-" + key)
        if key == "ReadOnly":
            continue   # both values exist once anything was recorded
        r = lookup(ct, key, value)
        assert r["Events"] == [] and "NextToken" not in r, key
    # a region nothing was recorded in: empty too
    other = server.client("cloudtrail", region="ap-southeast-2")
    assert other.lookup_events(LookupAttributes=[{"AttributeKey": "EventName",
                                                  "AttributeValue": "CreateGroup"}])["Events"] == []


def test_every_attribute_finds_its_event(server):
    gg = server.client("greengrass")
    g = gg.create_group(Name="every-attr")
    ct = server.client("cloudtrail")
    (ev,) = [e for e in lookup(ct, "EventName", "CreateGroup")["Events"]
             if e["Resources"] and g["Id"] in e["Resources"][0]["ResourceName"]]
    values = {"EventId": ev["EventId"], "EventName": "CreateGroup", "ReadOnly": "false", "Username": "admin",
              "EventSource": "greengrass.amazonaws.com", "AccessKeyId": server.key()[0],
              "ResourceType": ev["Resources"][0]["ResourceType"],
              "ResourceName": ev["Resources"][0]["ResourceName"]}
    for key in ATTRS:
        got = lookup(ct, key, values[key])["Events"]
        assert ev["EventId"] in [e["EventId"] for e in got], key
    assert [e["EventId"] for e in lookup(ct, "EventId", ev["EventId"])["Events"]] == [ev["EventId"]]


@pytest.mark.sqlite_only
def test_event_id_hash_collision_answers_the_right_event(server):
    """Two events whose eid column holds the same hash (made so here by
    editing the store): each EventId still answers its own event only."""
    gg = server.client("greengrass")
    gg.create_group(Name="first")
    gg.create_group(Name="second")
    ct = server.client("cloudtrail")
    evs = lookup(ct, "EventName", "CreateGroup")["Events"]
    assert len(evs) == 2
    a, b = evs[0]["EventId"], evs[1]["EventId"]
    server.stop()
    db = sqlite3.connect(os.path.join(server.data_dir, "greentrail.db"))
    assert db.execute("PRAGMA user_version").fetchone()[0] >= 3
    assert db.execute("SELECT count(*) FROM events WHERE eid = ?", (eid_hash(a),)).fetchone()[0] == 1
    db.execute("UPDATE events SET eid = ? WHERE eid = ?", (eid_hash(a), eid_hash(b)))
    db.commit()
    assert db.execute("SELECT count(*) FROM events WHERE eid = ?", (eid_hash(a),)).fetchone()[0] == 2
    db.close()
    server.start()
    ct = server.client("cloudtrail")
    assert [e["EventId"] for e in lookup(ct, "EventId", a)["Events"]] == [a]
    # b's own hash now matches nothing (its row carries a's): empty, not another event
    assert lookup(ct, "EventId", b)["Events"] == []
