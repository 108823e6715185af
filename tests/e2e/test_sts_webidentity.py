"""AssumeRoleWithWebIdentity with a configured OpenID Connect provider.

The tests make their own RSA keys and sign RS256 JWTs. The provider's
verification keys are given to greentrail with the provider tag
"greentrail:keys-file" naming a PEM public key or a JWKS file (greentrail
does not fetch the issuer's JWKS over the network)."""
import base64
import json
import time

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from iam_util import ACCOUNT, client, doc, session_creds

ISSUER = "https://idp.example.com/realm"
PROVIDER = "idp.example.com/realm"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/web"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(key, claims, alg="RS256", kid=None):
    hdr = {"alg": alg, "typ": "JWT"}
    if kid:
        hdr["kid"] = kid
    signing = b64u(json.dumps(hdr).encode()) + "." + b64u(json.dumps(claims).encode())
    sig = key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256()) if alg == "RS256" else b""
    return signing + "." + b64u(sig)


def claims(**over):
    now = int(time.time())
    c = {"iss": ISSUER, "sub": "user-42", "aud": "greentrail-app", "iat": now, "exp": now + 600}
    c.update(over)
    return c


@pytest.fixture
def idp(server, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = tmp_path / "idp.pem"
    path.write_bytes(pem)
    iam = server.client("iam")
    arn = iam.create_open_id_connect_provider(
        Url=ISSUER, ClientIDList=["greentrail-app"], ThumbprintList=["a" * 40],
        Tags=[{"Key": "greentrail:keys-file", "Value": str(path)}])["OpenIDConnectProviderArn"]
    assert arn == PROVIDER_ARN
    iam.create_role(RoleName="web", AssumeRolePolicyDocument=doc({
        "Effect": "Allow", "Principal": {"Federated": PROVIDER_ARN}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{PROVIDER}:aud": "greentrail-app"}, "StringLike": {f"{PROVIDER}:sub": "user-*"}}}))
    iam.put_role_policy(RoleName="web", PolicyName="p", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "greengrass:List*", "Resource": "*"}))
    return key


def assume(server, token, name="web-session", **kw):
    return server.client("sts").assume_role_with_web_identity(RoleArn=ROLE_ARN, RoleSessionName=name,
                                                              WebIdentityToken=token, **kw)


def test_web_identity_success_and_records(server, idp):
    resp = assume(server, jwt(idp, claims()), DurationSeconds=900)
    assert resp["SubjectFromWebIdentityToken"] == "user-42" and resp["Audience"] == "greentrail-app"
    assert resp["Provider"] == ISSUER
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/web/web-session"
    creds = session_creds(resp)
    client(server, "greengrass", creds).list_groups()
    with pytest.raises(ClientError):
        client(server, "greengrass", creds).create_group(Name="no")
    (rec,) = server.records("AssumeRoleWithWebIdentity")
    ui = rec["userIdentity"]
    assert ui == {"type": "WebIdentityUser", "principalId": f"{PROVIDER}:greentrail-app:user-42",
                  "userName": "user-42", "identityProvider": PROVIDER}
    assert rec["recipientAccountId"] == ACCOUNT and "errorCode" not in rec
    assert "webIdentityToken" not in rec["requestParameters"]
    assert "secretAccessKey" not in json.dumps(rec)
    lg = [r for r in server.records("ListGroups") if r["userIdentity"]["accessKeyId"] == creds[0]][0]
    assert lg["userIdentity"]["type"] == "AssumedRole"
    assert lg["userIdentity"]["sessionContext"]["webIdFederationData"] == {"federatedProvider": PROVIDER_ARN}


def test_web_identity_refusals(server, idp):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def code(token):
        with pytest.raises(ClientError) as ei:
            assume(server, token)
        return ei.value.response["Error"]["Code"]

    assert code(jwt(other, claims())) == "InvalidIdentityToken"                  # wrong key
    assert code(jwt(idp, claims(), alg="none")) == "InvalidIdentityToken"        # unsigned
    assert code(jwt(idp, claims(aud="someone-else"))) == "InvalidIdentityToken"  # audience
    assert code(jwt(idp, claims(iss="https://evil.example.com/realm"))) == "InvalidIdentityToken"
    assert code(jwt(idp, claims(exp=int(time.time()) - 60))) == "ExpiredTokenException"
    assert code(jwt(idp, claims(sub="admin"))) == "AccessDenied"                 # trust condition on sub
    assert code("not-a-jwt") == "InvalidIdentityToken"
    recs = server.records("AssumeRoleWithWebIdentity")
    assert len(recs) == 7 and all("errorCode" in r for r in recs)


def test_web_identity_jwks_and_cli(server, aws, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    nums = key.public_key().public_numbers()
    jwks = {"keys": [
        {"kty": "RSA", "kid": "old", "n": b64u((12345).to_bytes(2, "big")), "e": "AQAB"},
        {"kty": "RSA", "kid": "k1", "n": b64u(nums.n.to_bytes(256, "big")), "e": b64u(nums.e.to_bytes(3, "big"))}]}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    iam = server.client("iam")
    iam.create_open_id_connect_provider(Url=ISSUER, ClientIDList=["greentrail-app"], ThumbprintList=["b" * 40],
                                        Tags=[{"Key": "greentrail:keys-file", "Value": str(path)}])
    iam.create_role(RoleName="web", AssumeRolePolicyDocument=doc({
        "Effect": "Allow", "Principal": {"Federated": PROVIDER_ARN}, "Action": "sts:AssumeRoleWithWebIdentity"}))
    token = jwt(key, claims(), kid="k1")
    assert assume(server, token)["SubjectFromWebIdentityToken"] == "user-42"
    rc, out, err = aws("sts", "assume-role-with-web-identity", "--role-arn", ROLE_ARN, "--role-session-name", "cli",
                       "--web-identity-token", token)
    assert rc == 0, err
    assert out["AssumedRoleUser"]["Arn"].endswith(":assumed-role/web/cli")
    # a keys file that holds no key is refused at creation
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ClientError) as ei:
        iam.create_open_id_connect_provider(Url="https://other.example.com", ClientIDList=["x"],
                                            ThumbprintList=["c" * 40],
                                            Tags=[{"Key": "greentrail:keys-file", "Value": str(bad)}])
    assert ei.value.response["Error"]["Code"] == "InvalidInput"
