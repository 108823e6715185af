"""End-to-end fixtures: start the built greentrail on a free loopback port
with a fresh data dir, and give tests boto3 clients and an aws CLI runner.

Servers die with the test process (PR_SET_PDEATHSIG) and are stopped with
SIGTERM at teardown, which must exit 0.
"""
import configparser
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid

import boto3
import botocore.config
import pytest

import secret_sweep

secret_sweep.install()   # collect every secret and error body the suite's boto3 clients see

BIN = os.environ.get("GREENTRAIL_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "greentrail")
ACCOUNT = "123456789012"
REGION = "us-east-1"


def _die_with_parent():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_store():
    """With GREENTRAIL_TEST_STORE=postgresql://USER@HOST:PORT (tools/run-tests
    sets it for its PostgreSQL pass), a new empty database's URL, else None."""
    base = os.environ.get("GREENTRAIL_TEST_STORE")
    if not base:
        return None
    name = "gt_" + uuid.uuid4().hex[:20]
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", f"{base}/postgres",
                    "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True, timeout=60)
    return f"{base}/{name}"


_STORES = {}   # data dir -> its PostgreSQL database: a restart on the same dir finds its data


def store_for(data_dir):
    if data_dir not in _STORES:
        _STORES[data_dir] = fresh_store()
    return _STORES[data_dir]


def pytest_collection_modifyitems(config, items):
    """Tests marked sqlite_only (they read greentrail.db directly) skip on the PostgreSQL pass."""
    if not os.environ.get("GREENTRAIL_TEST_STORE"):
        return
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="reads the SQLite file directly"))


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: the test reads the embedded SQLite store's file")


class Server:
    def __init__(self, data_dir, env=None, args=()):
        self.data_dir = str(data_dir)
        self.env = dict(os.environ, **(env or {}))
        self.args = list(args)
        self.store_url = None
        if not any(a == "--store" or a.startswith("--store=") for a in self.args):
            self.store_url = store_for(os.path.abspath(self.data_dir))
            if self.store_url:
                self.args += ["--store", self.store_url]
        self.proc = None
        self.port = None

    def start(self):
        self.port = free_port()
        self.log = open(os.path.join(self.data_dir + ".log"), "ab")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir] + self.args,
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env, preexec_fn=_die_with_parent)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("server did not become healthy")
        self.creds = configparser.ConfigParser()
        self.creds.read(os.path.join(self.data_dir, "credentials"))
        for sec in self.creds.sections():
            secret_sweep.add(self.creds[sec].get("aws_secret_access_key"), "secret access key")
            secret_sweep.add(self.creds[sec].get("aws_session_token"), "session token")
        return self

    def assert_no_secrets(self):
        """The secrets sweep (tests/e2e/secret_sweep.py): after the server
        stopped, no secret the suite used is in its records, files, log or
        error responses."""
        found = secret_sweep.sweep(self)
        assert not found, "secrets leaked:\n" + "\n".join(found[:20])

    def output(self):
        with open(self.data_dir + ".log", "rb") as f:
            return f.read().decode(errors="replace")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def key(self, profile="default"):
        return (self.creds[profile]["aws_access_key_id"], self.creds[profile]["aws_secret_access_key"])

    def client(self, service, profile="default", region=REGION, key=None):
        ak, sk = key or self.key(profile)
        return boto3.client(
            service, endpoint_url=self.url, region_name=region, aws_access_key_id=ak,
            aws_secret_access_key=sk,
            config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=30))

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        return rc

    def lookup(self, name=None, **kw):
        ct = self.client("cloudtrail")
        if name:
            kw["LookupAttributes"] = [{"AttributeKey": "EventName", "AttributeValue": name}]
        events = []
        while True:
            r = ct.lookup_events(**kw)
            events += r["Events"]
            if "NextToken" not in r:
                return events
            kw["NextToken"] = r["NextToken"]

    def records(self, name):
        return [json.loads(e["CloudTrailEvent"]) for e in self.lookup(name)]


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data").start()
    yield s
    assert s.stop() == 0, s.output()
    s.assert_no_secrets()


@pytest.fixture
def make_server(tmp_path):
    made = []

    def make(env=None, args=(), data_dir=None):
        s = Server(data_dir or tmp_path / f"data{len(made)}", env=env, args=args).start()
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop(signal.SIGKILL)
    for s in made:
        s.assert_no_secrets()


def aws_clis():
    """Every aws CLI on this machine: the one on PATH (v1 in the image) and
    Debian's /usr/bin/aws (v2). Each is (label, argv prefix)."""
    found, seen = [], set()
    for path in [shutil.which("aws"), "/usr/bin/aws"]:
        if not path or not os.path.exists(path):
            continue
        try:
            out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        ver = (out.stdout + out.stderr).split()[0] if (out.stdout + out.stderr).strip() else ""
        if out.returncode == 0 and ver and ver not in seen:
            seen.add(ver)
            found.append((ver, path))
    return found


AWS_CLIS = aws_clis()


@pytest.fixture(params=[c[1] for c in AWS_CLIS] or [None], ids=[c[0] for c in AWS_CLIS] or ["no-aws-cli"])
def aws(request, server):
    """Run the aws CLI against `server`; returns (returncode, parsed JSON or text, stderr)."""
    path = request.param
    if path is None:
        pytest.fail("no aws CLI found: install Debian's awscli (tools/install-deps)")
    env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=os.path.join(server.data_dir, "credentials"),
               AWS_CONFIG_FILE="/dev/null", AWS_DEFAULT_REGION=REGION, AWS_PAGER="",
               AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard")
    env.pop("AWS_PROFILE", None)

    def run(*args):
        p = subprocess.run([path, "--endpoint-url", server.url, "--output", "json"] + list(args),
                           capture_output=True, text=True, env=env, timeout=120)
        out = p.stdout
        try:
            out = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            pass
        return p.returncode, out, p.stderr
    run.path = path
    return run
