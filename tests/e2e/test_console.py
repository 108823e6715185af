"""The web console's server side (src/console): sign-in, session cookie
flags, CSRF, expiry, sign-in rate limiting, sign-out, and console calls
recorded like AWS console calls (cloudtrail.md §1: userAgent
console.amazonaws.com, sessionCredentialFromConsole "true")."""
import http.client
import json
import time

import pytest


class Console:
    """A tiny browser: one cookie jar, JSON requests to /console/api/*."""

    def __init__(self, server):
        self.server = server
        self.cookie = None
        self.csrf = None
        self.last = None

    def request(self, method, path, body=None, headers=None, raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        h = {"Content-Type": "application/json"} if (body is not None or raw is not None) else {}
        if self.cookie:
            h["Cookie"] = f"gt_console={self.cookie}"
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        text = r.read()
        r.headers_list = r.getheaders()
        r.text = text.decode(errors="replace")
        try:
            r.json = json.loads(text) if text else None
        except ValueError:
            r.json = None
        for k, v in r.headers_list:
            if k.lower() == "set-cookie" and v.startswith("gt_console="):
                val = v.split(";")[0].split("=", 1)[1]
                self.cookie = val or None
        conn.close()
        self.last = r
        return r

    def signin(self, profile="default", secret=None, headers=None):
        ak, sk = self.server.key(profile)
        r = self.request("POST", "/console/api/signin",
                         {"method": "accessKey", "accessKeyId": ak, "secretAccessKey": secret or sk},
                         headers=headers)
        if r.status == 200:
            self.csrf = r.json["csrfToken"]
        return r

    def call(self, service, op, inp=None, csrf=True, headers=None):
        h = {"X-CSRF-Token": self.csrf} if csrf and self.csrf else {}
        h.update(headers or {})
        return self.request("POST", "/console/api/call", {"service": service, "operation": op, "input": inp or {}},
                            headers=h)


def set_cookie(r):
    return [v for k, v in r.headers_list if k.lower() == "set-cookie"]


def test_signin_cookie_flags_and_no_secret(server):
    c = Console(server)
    r = c.signin()
    assert r.status == 200, r.text
    (cookie,) = set_cookie(r)
    attrs = [a.strip() for a in cookie.split(";")]
    assert "HttpOnly" in attrs and "SameSite=Strict" in attrs and "Path=/console" in attrs
    assert "Max-Age=43200" in attrs          # default --console-session-ttl: 12 h
    assert "Secure" not in attrs             # plain HTTP listener
    assert len(c.cookie) == 64
    ak, sk = server.key()
    assert sk not in r.text
    assert r.json["user"]["userName"] == "admin" and r.json["user"]["accessKeyId"] == ak
    assert r.json["user"]["sessionKeyId"].startswith("ASIA")
    assert r.getheader("Cache-Control") == "no-store"
    s = c.request("GET", "/console/api/session")
    assert s.status == 200 and s.json["csrfToken"] == c.csrf and sk not in s.text
    # behind a TLS-terminating proxy the cookie is Secure
    r2 = Console(server).signin(headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in [a.strip() for a in set_cookie(r2)[0].split(";")]


def test_signin_refuses_wrong_credentials(server):
    c = Console(server)
    r = c.signin(secret="x" * 40)
    assert r.status == 401 and r.json["__type"] == "InvalidCredentials" and not set_cookie(r)
    r = c.request("POST", "/console/api/signin", {"accessKeyId": "AKIANOSUCHKEY0000000", "secretAccessKey": "x"})
    assert r.status == 401 and r.json["__type"] == "InvalidCredentials"
    r = c.request("POST", "/console/api/signin", {"method": "saml", "accessKeyId": "a", "secretAccessKey": "b"})
    assert r.status == 400
    assert c.request("GET", "/console/api/session").status == 401


def test_csrf_refusals_change_nothing(server):
    c = Console(server)
    assert c.signin().status == 200
    for headers, csrf in [({}, False),                                    # no token
                          ({"X-CSRF-Token": "0" * 64}, False),            # wrong token
                          ({"Origin": "http://evil.example"}, True)]:     # right token, other origin
        r = c.call("greengrass", "CreateGroup", {"Name": "csrf"}, csrf=csrf, headers=headers)
        assert r.status == 403 and r.json["__type"] == "InvalidCsrfToken", r.text
    # a form post (not JSON) is refused before anything else
    r = c.request("POST", "/console/api/call", raw=b"service=greengrass",
                  headers={"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": c.csrf})
    assert r.status == 403
    # sign-out needs the token too
    r = c.request("POST", "/console/api/signout", {})
    assert r.status == 403 and c.request("GET", "/console/api/session").status == 200
    # nothing was created, and the refusals are not API calls, so not recorded
    assert server.client("greengrass").list_groups()["Groups"] == []
    assert server.records("CreateGroup") == []
    # the same request with the token and the page's own origin works
    r = c.call("greengrass", "CreateGroup", {"Name": "ok"}, headers={"Origin": server.url})
    assert r.status == 200, r.text


def test_console_calls_are_recorded_as_console_calls(server):
    c = Console(server)
    assert c.signin().status == 200
    sess_key = c.last.json["user"]["sessionKeyId"]
    r = c.call("greengrass", "CreateGroup", {"Name": "from-console"})
    assert r.status == 200 and r.json["Name"] == "from-console"
    gid = r.json["Id"]
    (rec,) = server.records("CreateGroup")
    assert rec["userAgent"] == "console.amazonaws.com"
    assert rec["sessionCredentialFromConsole"] == "true"
    assert rec["requestID"] == r.getheader("x-amzn-RequestId")
    assert rec["sourceIPAddress"] == "127.0.0.1"
    ui = rec["userIdentity"]
    assert ui["type"] == "IAMUser" and ui["userName"] == "admin" and ui["accessKeyId"] == sess_key
    assert ui["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    assert rec["requestParameters"] == {"Name": "from-console"} and rec["responseElements"]["Id"] == gid
    # a signed SDK call is not marked
    server.client("greengrass").get_group(GroupId=gid)
    (sdk,) = server.records("GetGroup")
    assert "sessionCredentialFromConsole" not in sdk and "sessionContext" not in sdk["userIdentity"]
    # Event history reads from the console are LookupEvents calls, recorded too
    r = c.call("cloudtrail", "LookupEvents", {"LookupAttributes": [
        {"AttributeKey": "EventName", "AttributeValue": "CreateGroup"}], "MaxResults": 5})
    assert r.status == 200 and len(r.json["Events"]) == 1
    lk = [x for x in server.records("LookupEvents") if x.get("sessionCredentialFromConsole") == "true"]
    assert len(lk) == 1 and lk[0]["readOnly"] is True
    # errors come back in the service's own shape, and are recorded
    r = c.call("greengrass", "GetGroup", {"GroupId": "no-such-group"})
    assert r.status == 404 and r.getheader("x-amzn-ErrorType", "").startswith("IdNotFoundException")
    r = c.call("cloudtrail", "LookupEvents", {"MaxResults": 99})
    assert r.status == 400 and r.json["__type"] == "InvalidMaxResultsException"
    assert server.records("GetGroup")[0]["errorCode"] == "IdNotFoundException"
    r = c.call("greengrass", "CreateGroup", {"Name": 5})     # validated against the model
    assert r.status == 400
    r = c.call("nosuchservice", "X", {})
    assert r.status == 400
    r = c.request("POST", "/console/api/call", {"service": "greengrass"}, headers={"X-CSRF-Token": c.csrf})
    assert r.status == 400 and r.json["__type"] == "ConsoleBadRequest"


def test_session_expiry(make_server):
    s = make_server(args=["--console-session-ttl", "2"])
    c = Console(s)
    r = c.signin()
    assert "Max-Age=2" in set_cookie(r)[0]
    assert c.call("greengrass", "ListGroups").status == 200
    old = c.cookie
    time.sleep(2.5)
    # the server enforces expiry whatever the browser keeps sending
    r = c.request("GET", "/console/api/session")
    assert r.status == 401 and r.json["__type"] == "ConsoleSessionExpired"
    assert "Max-Age=0" in set_cookie(r)[0]    # and tells the browser to drop it
    c.cookie = old                            # keep replaying the old cookie
    r = c.call("greengrass", "CreateGroup", {"Name": "late"})
    assert r.status == 401 and r.json["__type"] == "ConsoleSessionExpired"
    assert s.client("greengrass").list_groups()["Groups"] == []


def test_signout_revokes_the_session(server):
    c = Console(server)
    assert c.signin().status == 200
    old = c.cookie
    r = c.request("POST", "/console/api/signout", {}, headers={"X-CSRF-Token": c.csrf})
    assert r.status == 200 and "Max-Age=0" in set_cookie(r)[0]
    c.cookie = old                        # a stolen copy of the cookie is dead too
    assert c.request("GET", "/console/api/session").json["__type"] == "ConsoleSessionRequired"
    assert c.call("greengrass", "ListGroups").status == 401


def test_failed_signins_are_rate_limited_per_ip(server):
    c = Console(server)
    for _ in range(5):
        assert c.signin(secret="wrong-secret").status == 401
    r = c.signin(secret="wrong-secret")
    assert r.status == 429 and r.json["__type"] == "TooManySignInAttempts"
    assert 0 < int(r.getheader("Retry-After")) <= 300
    # while blocked even the right secret is not checked
    r = c.signin()
    assert r.status == 429 and not set_cookie(r)
    # the API itself (SigV4) is unaffected
    assert server.client("greengrass").list_groups()["Groups"] == []


def test_static_pages_and_routing(server):
    c = Console(server)
    r = c.request("GET", "/console")
    assert r.status == 302 and r.getheader("Location") == "/console/"
    r = c.request("GET", "/console/")
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/html")
    csp = r.getheader("Content-Security-Policy")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.getheader("X-Frame-Options") == "DENY" and 'src="app.js"' in r.text
    r = c.request("GET", "/console/app.js")
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/javascript")
    assert c.request("GET", "/console/nope.html").status == 404
    assert c.request("GET", "/console/api/call").status == 405
    assert c.request("POST", "/console/api/nothing", {}).status == 404
    # /consolex is not the console: it goes to the API, which wants SigV4
    r = c.request("GET", "/consolex")
    assert r.status == 403 and "MissingAuthenticationToken" in r.getheader("x-amzn-ErrorType", "")


@pytest.mark.parametrize("path", ["/console/api/signin", "/console/api/call", "/console/api/signout"])
def test_posts_need_json(server, path):
    c = Console(server)
    r = c.request("POST", path, raw=b"a=b", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 403 and r.json["__type"] == "InvalidCsrfToken"


def test_signins_are_recorded_as_console_login(server):
    c = Console(server)
    ak, _ = server.key()
    assert c.signin(secret="wrong-secret").status == 401
    assert c.request("POST", "/console/api/signin", {"accessKeyId": "AKIANOSUCHKEY0000000",
                                                      "secretAccessKey": "x"}).status == 401
    assert c.signin(headers={"User-Agent": "Mozilla/5.0 test"}).status == 200
    recs = server.records("ConsoleLogin")
    # the unknown key belongs to no account: nothing to record it in
    assert [r["responseElements"]["ConsoleLogin"] for r in recs] == ["Success", "Failure"]
    ok, bad = recs
    for r in recs:
        assert r["eventSource"] == "signin.amazonaws.com" and r["eventType"] == "AwsConsoleSignIn"
        assert r["awsRegion"] == "us-east-1" and r["readOnly"] is False and r["managementEvent"] is True
        assert r["userIdentity"]["userName"] == "admin" and r["userIdentity"]["accessKeyId"] == ak
        assert r["sourceIPAddress"] == "127.0.0.1" and "errorCode" not in r
    assert bad["errorMessage"] == "Failed authentication" and "errorMessage" not in ok
    assert ok["userAgent"] == "Mozilla/5.0 test"
    assert ok["additionalEventData"]["LoginTo"] == f"{server.url}/console/"
    ev = server.client("cloudtrail").lookup_events(LookupAttributes=[
        {"AttributeKey": "EventSource", "AttributeValue": "signin.amazonaws.com"}])["Events"]
    assert len(ev) == 2 and all(e["Username"] == "admin" for e in ev)
