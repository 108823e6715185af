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
