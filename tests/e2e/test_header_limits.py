"""Request header caps (src/http/server.c, docs/RELIABILITY.md "Limits").

A request whose header section is too large (in all, one header, or the
number of headers) is answered 400 RequestHeaderSectionTooLarge, the code
S3 answers (with MaxSizeAllowed); JSON for the JSON services, S3's XML for a
request signed for s3. AWS's JSON front ends do not document their answer;
we assume the same code in the JSON error shape. The server goes on serving.
Sent over a raw socket so no client library trims or rejects the headers.
"""
import json
import socket
import urllib.request

SIGV4_S3 = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"


def raw(server, head_lines, body=b"", timeout=10):
    """Send one request with the given extra header lines; return (status, headers, body)."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    try:
        req = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{server.port}",
               "X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DescribeTrails",
               "Content-Type: application/x-amz-json-1.1", f"Content-Length: {len(body)}"]
        data = ("\r\n".join(req + head_lines) + "\r\n\r\n").encode() + body
        s.sendall(data)
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
            if b"\r\n\r\n" in buf:
                head, _, rest = buf.partition(b"\r\n\r\n")
                hdrs = {}
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.decode().partition(":")
                    hdrs[k.strip().lower()] = v.strip()
                n = int(hdrs.get("content-length", "0"))
                if len(rest) >= n:
                    return int(head.split()[1]), hdrs, rest[:n]
        raise AssertionError(f"no complete response: {buf[:200]!r}")
    finally:
        s.close()


def still_serves(server):
    with urllib.request.urlopen(f"{server.url}/health", timeout=5) as r:
        assert r.status == 200
    assert server.client("cloudtrail").describe_trails()["trailList"] == []


def check_json(status, hdrs, body, key, value):
    assert status == 400, (status, body[:300])
    assert hdrs["content-type"].startswith("application/json")
    assert hdrs["x-amzn-errortype"] == "RequestHeaderSectionTooLarge"
    doc = json.loads(body)
    assert doc["__type"] == "RequestHeaderSectionTooLarge"
    assert doc["message"]
    assert doc[key] == value


def test_header_section_70k(server):
    # 70 KB of headers in 35 lines of 2 KB: past the 16 KiB section cap
    # (and past the 64 KiB pool libmicrohttpd had before, which answered
    # with its own HTML page).
    lines = [f"X-Pad-{i}: " + "a" * 2000 for i in range(35)]
    check_json(*raw(server, lines), "MaxSizeAllowed", 16384)
    still_serves(server)


def test_one_header_too_long(server):
    check_json(*raw(server, ["X-Big: " + "b" * 9000]), "MaxSizeAllowed", 8192)
    still_serves(server)


def test_too_many_headers(server):
    lines = [f"X-H{i}: v" for i in range(200)]
    check_json(*raw(server, lines), "MaxHeaderCount", 128)
    still_serves(server)


def test_under_the_caps_is_served(server):
    # 14 KB in 7 headers of 2 KB, 100 headers in all: under every cap, so
    # the request reaches the API (and fails only for want of a signature).
    lines = [f"X-Pad-{i}: " + "a" * 2000 for i in range(7)] + [f"X-H{i}: v" for i in range(90)]
    status, hdrs, body = raw(server, lines, b"{}")
    assert status != 400 or json.loads(body)["__type"] != "RequestHeaderSectionTooLarge"
    assert json.loads(body)["__type"] in ("MissingAuthenticationTokenException", "IncompleteSignatureException",
                                          "MissingAuthenticationToken", "UnrecognizedClientException",
                                          "InvalidSignatureException"), body


def test_s3_gets_s3_xml(server):
    status, hdrs, body = raw(server, ["Authorization: " + SIGV4_S3, "X-Amz-Meta-Big: " + "c" * 9000])
    assert status == 400
    assert hdrs["content-type"].startswith("application/xml")
    assert b"<Code>RequestHeaderSectionTooLarge</Code>" in body
    assert b"<MaxSizeAllowed>8192</MaxSizeAllowed>" in body
    assert b"<RequestId>" in body
    still_serves(server)


def test_body_after_big_headers_is_drained(server):
    # The body is read and thrown away; the answer is still the header error.
    check_json(*raw(server, ["X-Big: " + "b" * 9000], b"{" + b" " * 100000 + b"}"), "MaxSizeAllowed", 8192)
    still_serves(server)


def test_past_the_pool_connection_handled(server):
    # A section past libmicrohttpd's 96 KiB per-connection pool never reaches
    # greentrail: libmicrohttpd answers 431 itself and closes the connection
    # (documented in docs/RELIABILITY.md, Limits). The server goes on serving.
    lines = [f"X-Pad-{i}: " + "a" * 2000 for i in range(60)]
    status, hdrs, body = raw(server, lines)
    assert status == 431
    still_serves(server)
