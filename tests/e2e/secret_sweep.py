"""The secrets sweep (issue 9): every server an e2e test starts is searched,
after it stops, for every secret the suite used with it, and none may be
found.

What counts as a secret: every secret access key (the bootstrapped ones in
the credentials file, and any an API call hands out: CreateAccessKey,
AssumeRole, GetSessionToken, GetFederationToken, web identity), every
session token, and every SigV4 signature a boto3 client sent (Authorization
header or presigned X-Amz-Signature). Secrets are collected by hooks on
boto3's default session (so every `boto3.client(...)` of the suite is
seen) and from the servers' credentials files.

Where it looks: every stored CloudTrail record (the store's events table,
SQLite or PostgreSQL), every object body in the built-in S3 (delivered log
and digest files, gunzipped), rule file-target output, the server's whole
log (stdout and stderr), and the body of every error response (status >=
300) the suite received from it.

The one allowed place, as AWS does it (cloudtrail.md §1.5): an STS record
keeps `responseElements.credentials.sessionToken` of the credentials that
call issued (never the secret key). That member is removed from STS records
before searching; a session token anywhere else is a failure.
"""
import gzip
import json
import os
import sqlite3
import subprocess
import threading
from urllib.parse import parse_qs, urlsplit
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import evdict  # noqa: E402  (tools/evdict.py: the stored record blobs)

import boto3

_lock = threading.Lock()
SECRETS = {}        # value -> what it is
ERROR_BODIES = []   # (port, body bytes)
_MIN_LEN = 16       # shorter values are test placeholders, not secrets


def add(value, what):
    if isinstance(value, str) and len(value) >= _MIN_LEN:
        with _lock:
            SECRETS.setdefault(value, what)


def _walk_creds(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ("SecretAccessKey", "SessionToken") and isinstance(x, str):
                add(x, k)
            else:
                _walk_creds(x)
    elif isinstance(v, list):
        for x in v:
            _walk_creds(x)


def _before_send(request, **kw):
    auth = request.headers.get("Authorization")
    if auth:
        auth = auth.decode() if isinstance(auth, bytes) else auth
        if "Signature=" in auth:
            add(auth.rsplit("Signature=", 1)[1].strip(), "signature")
    tok = request.headers.get("X-Amz-Security-Token")
    if tok:
        add(tok.decode() if isinstance(tok, bytes) else tok, "session token")
    q = parse_qs(urlsplit(request.url).query)
    for s in q.get("X-Amz-Signature", []):
        add(s, "signature")


def _after_call(http_response, parsed, **kw):
    _walk_creds(parsed)
    if http_response is not None and http_response.status_code >= 300:
        port = urlsplit(http_response.url).port
        with _lock:
            ERROR_BODIES.append((port, http_response.content or b""))


_installed = False


def install():
    global _installed
    if _installed:
        return
    ev = boto3._get_default_session().events
    ev.register("before-send", _before_send)
    ev.register("after-call", _after_call)
    _installed = True


def _allowed_view(rec):
    """The record with the one member AWS keeps removed (see the essay)."""
    if isinstance(rec, dict) and rec.get("eventSource") == "sts.amazonaws.com":
        creds = (rec.get("responseElements") or {}).get("credentials")
        if isinstance(creds, dict):
            creds.pop("sessionToken", None)
    return rec


def _records_text(text):
    try:
        j = json.loads(text)
    except ValueError:
        return text
    if isinstance(j, dict) and isinstance(j.get("Records"), list):
        j["Records"] = [_allowed_view(r) for r in j["Records"]]
        return json.dumps(j)
    return json.dumps(_allowed_view(j))


def _stored_records(data_dir, store_url):
    if store_url:
        out = subprocess.run(["psql", "-X", "-At", "-d", store_url, "-c", "SELECT json FROM events"],
                             capture_output=True, text=True, timeout=120)
        return out.stdout.splitlines() if out.returncode == 0 else []
    path = os.path.join(data_dir, "greentrail.db")
    if not os.path.exists(path):
        return []
    db = sqlite3.connect(path, timeout=30)   # read-write: a killed server's WAL is recovered
    try:
        # since schema 2 a record and its LookupEvents summary are stored
        # compressed together (evpack blobs: tools/evdict.py reads them)
        out = []
        for (v,) in db.execute("SELECT json FROM events"):
            if isinstance(v, bytes):
                rec, summ = evdict.unpack(v)
                out += [rec.decode()] + ([summ.decode()] if summ else [])
            else:
                out.append(v)
        return out
    except sqlite3.Error:
        return []
    finally:
        db.close()


def _files(root):
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            try:
                with open(p, "rb") as f:
                    b = f.read(64 << 20)
            except OSError:
                continue
            if b[:2] == b"\x1f\x8b":
                try:
                    b = gzip.decompress(b)
                except (OSError, EOFError):
                    pass
            yield p, b.decode(errors="replace")


def sweep(server):
    """Returns a list of "secret (what) found in place" strings; empty is good."""
    data_dir = str(server.data_dir)
    places = []
    for i, rec in enumerate(_stored_records(data_dir, getattr(server, "store_url", None))):
        places.append((f"stored record #{i}", _records_text(rec)))
    for sub in ("s3", "rule-output"):
        for p, text in _files(os.path.join(data_dir, sub)):
            places.append((p, _records_text(text) if "/CloudTrail/" in p or p.endswith(".json") else text))
    try:
        places.append(("server log", server.output()))
    except OSError:
        pass
    with _lock:
        secrets = dict(SECRETS)
        bodies = [b for port, b in ERROR_BODIES if port == server.port]
        ERROR_BODIES[:] = [(port, b) for port, b in ERROR_BODIES if port != server.port]
    for i, b in enumerate(bodies):
        places.append((f"error response #{i}", b.decode(errors="replace")))
    found = []
    for value, what in secrets.items():
        for where, text in places:
            if value in text:
                found.append(f"{what} {value[:6]}... found in {where}")
    return found
