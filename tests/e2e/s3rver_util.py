"""An external S3-compatible server for the tests: s3rver (npm, pinned in
tests/s3rver/package-lock.json, installed by `npm ci` from tools/run-tests;
installed here too when missing), started on a free loopback port with its
own directory, stopped with the test process. Plus FaultProxy, a tiny HTTP
proxy in front of it that can pass, hang or answer 500, and that records
the keys of the PUTs that went through (the delivery order).

s3rver checks that x-amz-content-sha256 is present, as S3 does, but not
SigV4 signatures; the tests that need a verifying server use another
greentrail's built-in S3 as the external one."""
import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.config

from conftest import _die_with_parent, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
S3RVER_DIR = os.path.join(HERE, "..", "s3rver")
S3RVER_JS = os.path.join(S3RVER_DIR, "node_modules", "s3rver", "bin", "s3rver.js")
KEY = "S3RVER"      # s3rver's built-in account
SECRET = "S3RVER"


def ensure_s3rver():
    if not os.path.exists(S3RVER_JS):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=S3RVER_DIR, check=True,
                       timeout=600)


class S3rver:
    def __init__(self, directory, port=None):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port
        self.proc = None

    def start(self):
        ensure_s3rver()
        port = self.port or 0
        self.log = open(self.dir + ".log", "ab")
        self.proc = subprocess.Popen(["node", S3RVER_JS, "-d", self.dir, "-a", "127.0.0.1", "-p", str(port),
                                      "--no-vhost-buckets"],
                                     stdout=subprocess.PIPE, stderr=self.log, preexec_fn=_die_with_parent)
        deadline = time.time() + 30
        line = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
            if not line and self.proc.poll() is not None:
                raise RuntimeError("s3rver exited")
        else:
            raise RuntimeError("s3rver did not start")
        # drain its output so it never blocks on a full pipe
        threading.Thread(target=lambda p=self.proc: [None for _ in p.stdout], daemon=True).start()
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def client(self):
        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=KEY,
                            aws_secret_access_key=SECRET,
                            config=botocore.config.Config(s3={"addressing_style": "path"},
                                                          retries={"max_attempts": 1}))


def ext_args(url, buckets, key=KEY, secret=SECRET, extra=()):
    return ["--external-s3-endpoint", url, "--external-s3-access-key", key, "--external-s3-secret-key", secret,
            "--external-s3-buckets", buckets] + list(extra)


class FaultProxy:
    """HTTP proxy on a fixed loopback port in front of `upstream_port`.
    mode: "pass" (forward), "hang" (read the request, never answer until
    the mode changes or 60 s pass), "500" (S3 InternalError). stop() closes
    the listener (connection refused); start() opens it again on the same
    port. put_log: keys (path) of PUTs answered 2xx, in order."""

    def __init__(self, upstream_port, port=None):
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self.mode = "pass"
        self.put_log = []
        self.lock = threading.Lock()
        self.httpd = None

    def start(self):
        proxy = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                mode = proxy.mode
                if mode == "hang":
                    deadline = time.time() + 60
                    while proxy.mode == "hang" and time.time() < deadline:
                        time.sleep(0.05)
                    self.close_connection = True
                    return
                if mode == "500":
                    out = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
                           b'<Message>We encountered an internal error. Please try again.</Message></Error>')
                    self.send_response(500)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(out)
                    return
                c = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                try:
                    c.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for k, v in self.headers.items():
                        c.putheader(k, v)
                    c.endheaders(body)
                    r = c.getresponse()
                    data = r.read()
                except OSError:
                    self.send_response(502)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                finally:
                    c.close()
                if self.command == "PUT" and 200 <= r.status < 300:
                    with proxy.lock:
                        proxy.put_log.append(self.path)
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "keep-alive"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _any

        ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


def refused_port():
    """A loopback port nobody listens on (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p
