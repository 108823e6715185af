"""Helpers for the EventBridge tests: a local HTTP receiver that can go
down and come back on the same port, and readers for the delivery state
the server keeps (target counters, dead letters, file-sink lines)."""
import json
import os
import sqlite3
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import free_port


class Receiver:
    """Records every request (method, path, headers, body). `status` is
    what it answers. stop() frees the port; start() binds it again."""

    def __init__(self, port=None, status=200, delay=0.0):
        self.port = port or free_port()
        self.status = status
        self.delay = delay
        self.requests = []
        self.httpd = None

    def start(self):
        outer = self

        class H(BaseHTTPRequestHandler):
            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                time.sleep(outer.delay)
                outer.requests.append({"method": self.command, "path": self.path,
                                       "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_GET = _any

            def log_message(self, *a):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), H)
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


def wait_for(pred, timeout=5.0, step=0.02):
    """Poll pred() until it returns something truthy; returns it (or the last value)."""
    deadline = time.time() + timeout
    v = pred()
    while not v and time.time() < deadline:
        time.sleep(step)
        v = pred()
    return v


def _store_url(server):
    """The PostgreSQL URL the server runs on (its --store), or None (SQLite)."""
    args = list(server.args)
    for i, a in enumerate(args):
        if a == "--store" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--store="):
            return a.split("=", 1)[1]
    return None


def _docs(server, kind):
    url = _store_url(server)
    if url:   # the PostgreSQL pass: the same table, read with psql
        assert all(ch.isalnum() or ch in "._-" for ch in kind)
        out = subprocess.run(["psql", url, "-AtX", "-c",
                              f"SELECT body FROM docs WHERE kind = '{kind}' ORDER BY seq"],
                             capture_output=True, text=True, check=True, timeout=30).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]
    db = sqlite3.connect(f"file:{os.path.join(server.data_dir, 'greentrail.db')}?mode=ro", uri=True, timeout=10)
    try:
        return [json.loads(b) for (b,) in db.execute("SELECT body FROM docs WHERE kind = ? ORDER BY seq", (kind,))]
    finally:
        db.close()


def target_states(server):
    return _docs(server, "ev.tstate")


def dead_letters(server):
    return _docs(server, "ev.dlq")


def file_lines(server, rel):
    path = os.path.join(server.data_dir, "rule-output", rel)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
