"""Cold start on an empty data dir (issue 8): the server answers signed
calls before its two RSA signing keys (the CloudTrail digest key and the SNS
signing key) exist; they are made in the background, and whoever needs one
first waits for it or makes it.

No timing asserts: the keys' background threads are held back with the
test hook DATA_DIR/test-keygen-hold (read only with GREENTRAIL_TEST_FAULTS=1),
so "answered before the key was made" is an order of events, not a speed."""
import os
import threading
import time
import urllib.error
import urllib.request

import pytest

FAULTS = {"GREENTRAIL_TEST_FAULTS": "1"}


def held_dir(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    (d / "test-keygen-hold").write_text("")
    return d


def key_files(d):
    return sorted(p.name for p in (d / "cloudtrail-keys").rglob("*.pem"))


def wait_for(pred, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_answers_before_the_keys_exist(make_server, tmp_path):
    d = held_dir(tmp_path, "cold")
    s = make_server(env=FAULTS, data_dir=d)
    gg = s.client("greengrass")
    gid = gg.create_group(Name="cold")["Id"]
    assert gg.get_group(GroupId=gid)["Name"] == "cold"
    # both calls answered (and recorded) while neither key exists yet
    assert [r["eventName"] for r in s.records("GetGroup")] == ["GetGroup"]
    assert key_files(d) == []
    assert not (d / "sns" / "signing-key.pem").exists()
    assert "new digest signing key" not in s.output()

    # ListPublicKeys asked while the key is still held back waits for the
    # background thread instead of answering an empty list
    ct = s.client("cloudtrail")
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("keys", ct.list_public_keys()["PublicKeyList"]))
    t.start()
    time.sleep(0.5)   # lets the call reach the server first (the assert holds either way)
    (d / "test-keygen-hold").unlink()
    t.join(60)
    assert len(got["keys"]) == 1
    assert len(key_files(d)) == 1
    assert got["keys"][0]["Fingerprint"] in s.output()   # the "new digest signing key" line
    # one key: later calls list the same one
    assert [k["Fingerprint"] for k in ct.list_public_keys()["PublicKeyList"]] == [got["keys"][0]["Fingerprint"]]
    # the SNS key is made by its own background thread once released
    wait_for(lambda: (d / "sns" / "signing-key.pem").exists(), "the SNS signing key")


def test_sns_certificate_fetch_makes_the_key(make_server, tmp_path):
    """The first GET of a SigningCertURL makes the SNS key itself when the
    background thread has not yet (held here)."""
    d = held_dir(tmp_path, "cold-sns")
    s = make_server(env=FAULTS, data_dir=d)
    assert not (d / "sns" / "signing-key.pem").exists()
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{s.url}/sns/SimpleNotificationService-{'0' * 32}.pem", timeout=30)
    assert e.value.code == 404   # an unknown certificate id, answered after the key was made
    assert (d / "sns" / "signing-key.pem").exists()
    assert (d / "sns" / "signing-cert.pem").exists()


@pytest.mark.skipif(not os.environ.get("GREENTRAIL_TEST_STORE"),
                    reason="several nodes need PostgreSQL (tools/run-tests runs this in its PostgreSQL pass)")
def test_one_digest_key_per_store_with_several_nodes(make_server, tmp_path):
    """Two nodes start on one empty store and make their home region's key
    at the same moment: the store gets exactly one, both list and use it."""
    da, db = held_dir(tmp_path, "na"), held_dir(tmp_path, "nb")
    a = make_server(env=FAULTS, data_dir=da)
    b = make_server(env=FAULTS, data_dir=db, args=["--store", a.store_url])
    os.unlink(da / "test-keygen-hold")
    os.unlink(db / "test-keygen-hold")
    fa = [k["Fingerprint"] for k in a.client("cloudtrail").list_public_keys()["PublicKeyList"]]
    fb = [k["Fingerprint"] for k in b.client("cloudtrail").list_public_keys()["PublicKeyList"]]
    assert len(fa) == 1 and fa == fb
    # each node's file cache holds only that key
    wait_for(lambda: len(key_files(da)) == 1 and len(key_files(db)) == 1, "the key files")
    assert key_files(da) == key_files(db)


def test_sns_key_failure_is_retried(make_server, tmp_path):
    """A key that cannot be made at start (here: DATA_DIR/sns is a file) is
    logged once and made by the delivery thread once the cause is gone."""
    d = tmp_path / "cold-retry"
    d.mkdir()
    (d / "sns").write_text("not a directory")
    s = make_server(data_dir=d)
    wait_for(lambda: "SNS messages are not delivered" in s.output(), "the log line")
    (d / "sns").unlink()
    wait_for(lambda: (d / "sns" / "signing-key.pem").exists(), "the SNS signing key")
    assert s.output().count("SNS messages are not delivered") == 1
