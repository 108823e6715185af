"""Data survives a clean restart and kill -9 right after a 2xx."""
import signal


def test_restart_and_kill9(make_server, tmp_path):
    data = tmp_path / "durable"
    s = make_server(data_dir=data)
    key = s.key()
    gg = s.client("greengrass")
    ids = [gg.create_group(Name=f"g{i}")["Id"] for i in range(20)]
    s.proc.send_signal(signal.SIGKILL)       # right after the last 2xx
    s.proc.wait()
    s.start()
    assert s.key() == key                    # credentials reused
    gg = s.client("greengrass")
    assert [g["Id"] for g in gg.list_groups()["Groups"]] == ids
    assert len(s.records("CreateGroup")) == 20
    assert s.stop() == 0                     # clean stop drains and exits 0
    s.start()
    assert len(s.client("greengrass").list_groups()["Groups"]) == 20
    assert len(s.records("ListGroups")) == 2


def test_record_failure_fails_the_call(make_server):
    """If the record cannot be stored the call answers 503 and changes
    nothing. The fault is injected by a test-only switch (off by default):
    with GREENTRAIL_TEST_FAULTS=1, event appends fail while the file
    DATA_DIR/fault-event-append exists, as they would on a full disk."""
    import os

    import pytest
    from botocore.exceptions import ClientError

    s = make_server(env={"GREENTRAIL_TEST_FAULTS": "1"})
    gg = s.client("greengrass")
    keep = gg.create_group(Name="before")["Id"]
    marker = os.path.join(s.data_dir, "fault-event-append")
    open(marker, "w").close()
    with pytest.raises(ClientError) as e:
        gg.create_group(Name="during")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert e.value.response["Error"]["Code"] == "ServiceUnavailable"
    with pytest.raises(ClientError) as e:
        gg.delete_group(GroupId=keep)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    os.unlink(marker)
    # nothing of the failed calls persisted, and the server recovered by itself
    assert [g["Name"] for g in gg.list_groups()["Groups"]] == ["before"]
    names = [e["EventName"] for e in s.lookup()]
    assert names.count("CreateGroup") == 1 and "DeleteGroup" not in names
