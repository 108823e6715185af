"""Disk-full test: the data dir on a small tmpfs (needs root and mount(2);
`available()` says whether this machine can), filled to the last byte.

What it checks (docs/RELIABILITY.md):
  - every call answers 503 ServiceUnavailable and changes nothing: writes,
    and reads too, because every call, reads included, is recorded before
    it is answered (fail-closed, as auditd's disk_full_action=suspend and
    the CAPP rule in engineering.md §B.4: no access without an audit
    record);
  - the server log says why ("database or disk is full");
  - when space comes back the next call succeeds, without a restart;
  - afterwards the state holds exactly the calls that were answered 2xx.
Returns figures."""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from botocore.exceptions import ClientError  # noqa: E402

from conftest import Server  # noqa: E402


def mount_tmpfs(path, size="16m"):
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    return p.returncode == 0


def umount(path):
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def available(tmp):
    m = os.path.join(str(tmp), "probe-mnt")
    if os.geteuid() != 0 or not mount_tmpfs(m, "1m"):
        return False
    umount(m)
    return True


def fill(path):
    """Fill the file system holding `path` with one file; return its name."""
    name = os.path.join(str(path), "filler")
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return name


def _status(fn):
    try:
        fn()
        return 200, None
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]


def run(tmp_path, calls=20):
    mnt = os.path.join(str(tmp_path), "small-disk")
    assert mount_tmpfs(mnt)
    s = None
    try:
        s = Server(mnt, env={}).start()   # its log, mnt + ".log", is outside
        gg = s.client("greengrass")
        gid = gg.create_group(Name="before")["Id"]
        filler = fill(mnt)
        t0 = time.time()
        writes = [_status(lambda i=i: gg.create_group(Name=f"full-{i}")) for i in range(calls)]
        write_s = time.time() - t0
        deletes = _status(lambda: gg.delete_group(GroupId=gid))
        t0 = time.time()
        reads = [_status(lambda: gg.get_group(GroupId=gid)), _status(lambda: gg.list_groups()),
                 _status(lambda: s.client("cloudtrail").lookup_events())]
        read_s = time.time() - t0
        assert all(w == (503, "ServiceUnavailable") for w in writes), set(writes)
        assert deletes == (503, "ServiceUnavailable")
        assert all(r == (503, "ServiceUnavailable") for r in reads), reads   # fail-closed
        assert read_s < 10           # failing fast, not hanging
        assert "database or disk is full" in s.output()
        os.unlink(filler)            # space is back: no restart
        gg.create_group(Name="after")
        names = sorted(g["Name"] for g in gg.list_groups(MaxResults="100")["Groups"])
        assert names == ["after", "before"], names
        recs = s.records("CreateGroup")
        assert sorted(r["requestParameters"]["Name"] for r in recs) == ["after", "before"]
        assert not s.records("DeleteGroup") and not s.records("GetGroup")
        return {"failed_writes": len(writes) + 1, "failed_reads": len(reads),
                "write_s_per_call": round(write_s / len(writes), 4), "log_lines": s.output().count("database or disk is full")}
    finally:
        if s:
            s.stop()
        umount(mnt)


def _write(path, mb):
    with open(path, "wb") as f:
        f.write(b"\0" * (mb << 20))


def pressure(tmp_path):
    """The warning ladder (engineering.md §B.4): on a 32 MB disk with
    --disk-warn-mb 20 --disk-critical-mb 8, using 16 then 28 MB logs "low"
    then "critical"; freeing it logs "ok again". Each within a few seconds
    (the watch looks every 2 s)."""
    mnt = os.path.join(str(tmp_path), "pressure-disk")
    assert mount_tmpfs(mnt, "32m")
    s = None
    try:
        s = Server(mnt, args=["--disk-warn-mb", "20", "--disk-critical-mb", "8"]).start()
        gg = s.client("greengrass")
        gg.create_group(Name="p")

        def wait_log(text, timeout=10):
            deadline = time.time() + timeout
            while time.time() < deadline:
                if text in s.output():
                    return True
                time.sleep(0.1)
            return False
        assert "disk space" not in s.output()
        _write(os.path.join(mnt, "f1"), 16)
        assert wait_log("disk space low: "), s.output()
        _write(os.path.join(mnt, "f2"), 12)
        assert wait_log("disk space critical: "), s.output()
        gg.create_group(Name="still-works")      # warnings only: calls go on
        os.unlink(os.path.join(mnt, "f1"))
        os.unlink(os.path.join(mnt, "f2"))
        assert wait_log("disk space ok again: "), s.output()
        lines = [x for x in s.output().splitlines() if "disk space" in x]
        assert len(lines) == 3, lines            # once per change of level
        return {"log_lines": lines}
    finally:
        if s:
            s.stop()
        umount(mnt)


if __name__ == "__main__":
    import json
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        if not available(d):
            sys.exit("diskfull: cannot mount a tmpfs here (needs root)")
        print(json.dumps(run(d), indent=1))
        print(json.dumps(pressure(d), indent=1))
