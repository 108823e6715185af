"""The secrets sweep itself (secret_sweep.py; run on every server at fixture
teardown) must find a secret wherever one lands: this plants the server's
own secret key and a signature in a record, and checks both are reported,
and that an STS record's sessionToken is the one place allowed."""
import signal

from conftest import Server
import secret_sweep


def test_sweep_finds_planted_secrets(tmp_path):
    s = Server(tmp_path / "data").start()   # not a fixture: its teardown sweep would fail on purpose
    try:
        _, secret = s.key()
        gg = s.client("greengrass")
        gg.create_group(Name=secret[:20])             # part of the secret: not a find
        sig = "ab" * 32
        secret_sweep.add(sig, "signature")
        gg.create_group(Name="x" + sig)               # a signature in a record: a find
        gg.create_group(Name=secret)                  # the whole secret key: a find
        creds = s.client("sts").get_session_token()["Credentials"]
        assert creds["SessionToken"] in secret_sweep.SECRETS   # collected from the response
    finally:
        s.stop(signal.SIGKILL)
    found = secret_sweep.sweep(s)
    assert any(f.startswith("secret access key") and "stored record" in f for f in found), found
    assert any(f.startswith("signature") and "stored record" in f for f in found), found
    assert any("server log" in f for f in found) is False, found
    # the STS record keeps sessionToken (as AWS does) and that is allowed
    stored = secret_sweep._stored_records(str(s.data_dir), s.store_url)
    assert any(creds["SessionToken"] in r for r in stored)
    assert not any(f.startswith("SessionToken") for f in found), found
    assert len(found) == 2, found
