"""Helpers for the S3 end-to-end tests: raw SigV4-signed requests the SDKs
will not send over plain HTTP (aws-chunked bodies with chunk signatures or
trailing checksums), written from the AWS documentation independently of
greentrail's C code."""
import base64
import datetime
import hashlib
import hmac
import http.client
import urllib.parse
import zlib

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret, date8, region, service="s3"):
    k = _hmac(("AWS4" + secret).encode(), date8)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


class Signed:
    """One header-signed request: method, path, headers (lower-case names),
    the payload-hash value; sign() fills Authorization and keeps the seed."""

    def __init__(self, server, method, path, query="", headers=None, payload_hash=EMPTY_SHA256,
                 region="us-east-1", now=None):
        self.server, self.method, self.path, self.query = server, method, path, query
        self.region = region
        now = now or datetime.datetime.now(datetime.timezone.utc)
        self.amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        self.date8 = self.amz_date[:8]
        self.scope = f"{self.date8}/{region}/s3/aws4_request"
        self.headers = {"host": f"127.0.0.1:{server.port}", "x-amz-date": self.amz_date,
                        "x-amz-content-sha256": payload_hash}
        self.headers.update({k.lower(): v for k, v in (headers or {}).items()})
        self.payload_hash = payload_hash
        ak, sk = server.key()
        self.ak, self.key = ak, signing_key(sk, self.date8, region)
        self.signature = self._sign()

    def _sign(self):
        names = sorted(self.headers)
        q = sorted(urllib.parse.parse_qsl(self.query, keep_blank_values=True))
        cq = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in q)
        canon = "\n".join([self.method, self.path, cq] + [f"{n}:{self.headers[n].strip()}" for n in names]
                          + ["", ";".join(names), self.payload_hash])
        sts = "\n".join(["AWS4-HMAC-SHA256", self.amz_date, self.scope,
                         hashlib.sha256(canon.encode()).hexdigest()])
        sig = hmac.new(self.key, sts.encode(), hashlib.sha256).hexdigest()
        self.headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.ak}/{self.scope}, "
                                         f"SignedHeaders={';'.join(names)}, Signature={sig}")
        return sig

    def chunk_signature(self, prev, data):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self.amz_date, self.scope, prev, EMPTY_SHA256,
                         hashlib.sha256(data).hexdigest()])
        return hmac.new(self.key, sts.encode(), hashlib.sha256).hexdigest()

    def send(self, body=b""):
        c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        target = self.path + ("?" + self.query if self.query else "")
        hdrs = {k: v for k, v in self.headers.items() if k != "host"}
        hdrs["Content-Length"] = str(len(body))
        c.putrequest(self.method, target, skip_host=True, skip_accept_encoding=True)
        c.putheader("Host", self.headers["host"])
        for k, v in hdrs.items():
            c.putheader(k, v)
        c.endheaders(body)
        r = c.getresponse()
        out = (r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read())
        c.close()
        return out


def signed_chunked_body(req, data, chunk=65536, corrupt_chunk=None):
    """aws-chunked body with a chain of chunk signatures seeded by req."""
    out, prev = b"", req.signature
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for n, piece in enumerate(pieces):
        sig = req.chunk_signature(prev, piece)
        prev = sig
        if n == corrupt_chunk:
            sig = ("0" if sig[0] != "0" else "1") + sig[1:]
        out += f"{len(piece):x};chunk-signature={sig}\r\n".encode() + piece + b"\r\n"
    return out


def unsigned_trailer_body(data, trailer_name, trailer_value, chunk=8192):
    out = b""
    for i in range(0, len(data), chunk):
        piece = data[i:i + chunk]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n" + f"{trailer_name}:{trailer_value}\r\n\r\n".encode()


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
