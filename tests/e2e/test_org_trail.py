"""Organization trails (cloudtrail.md §2.2, §2.5, §3.1, §3.5): a trail made
in an organization's management account with IsOrganizationTrail delivers
every account's events under [prefix/]AWSLogs/<o-id>/<account>/ with one
digest chain per account and region; members see it but cannot change it;
`aws cloudtrail validate-logs --account-id` (both CLIs, with Organizations
DescribeOrganization served here too) and `greentrail validate --account-id`
accept it and report a changed log file."""
import gzip
import json
import re
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, BIN, Server
from iam_util import client, session_creds
from org_util import create_account, org_policy, org_with_member, run_validate_logs_org
from trail_util import CLI_IDS, CLI_PARAMS, FAST, keys, make_bucket, read_gz, s3, wait_for

MEMBER = "210987654321"
OUTSIDER = "333344445555"
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/"
BUCKET = "org-bkt"


def err(e):
    return e.value.response["Error"]["Code"]


def digests(s, prefix, account):
    return sorted(k for k in keys(s, BUCKET, prefix + "/") if f"/{account}/CloudTrail-Digest/" in k)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Management account ACCOUNT, invited member MEMBER, created account NEW;
    two organization trails with validation (org-ok, org-bad) that log while
    each account makes calls, then stop. org-bad then gets a changed log file
    of MEMBER's."""
    base = tmp_path_factory.mktemp("orgtrail")
    s = Server(base / "data", args=FAST).start()
    oid, mcreds = org_with_member(s, MEMBER)
    org = s.client("organizations")
    car = org.create_account(Email="new@example.com", AccountName="new")["CreateAccountStatus"]["Id"]
    new = org.describe_create_account_status(CreateAccountRequestId=car)["CreateAccountStatus"]["AccountId"]
    ncreds = session_creds(s.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{new}:role/OrganizationAccountAccessRole", RoleSessionName="ops"))
    c = make_bucket(s, BUCKET, with_policy=False)
    c.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
    ct = s.client("cloudtrail")
    start = time.time() - 60
    for n in ("org-ok", "org-bad"):
        t = ct.create_trail(Name=n, S3BucketName=BUCKET, S3KeyPrefix=n, EnableLogFileValidation=True,
                            IsOrganizationTrail=True)
        assert t["IsOrganizationTrail"] is True
        ct.start_logging(Name=n)
    for i in range(3):
        client(s, "greengrass", mcreds).create_group(Name=f"member-{i}")
        s.client("greengrass").create_group(Name=f"mgmt-{i}")
        client(s, "greengrass", ncreds).create_group(Name=f"new-{i}")
        time.sleep(1.1)

    def listed(n, acct):
        return [lf["s3Object"] for k in digests(s, n, acct) for lf in read_gz(s, BUCKET, k)[0]["logFiles"]]
    for n in ("org-ok", "org-bad"):
        for a in (MEMBER, ACCOUNT, new):
            wait_for(lambda: len(digests(s, n, a)) >= 2 and len(listed(n, a)) >= 1, timeout=40)
    for n in ("org-ok", "org-bad"):
        ct.stop_logging(Name=n)
    for n in ("org-ok", "org-bad"):   # the final digests are written
        wait_for(lambda: ct.get_trail_status(Name=n).get("LatestDigestDeliveryTime", 0) and
                 any(any(r["eventName"] == "StopLogging" for r in read_gz(s, BUCKET, f)[0]["Records"])
                     for f in listed(n, ACCOUNT)), timeout=40)
    time.sleep(3)
    victim = listed("org-bad", MEMBER)[0]
    body = json.loads(gzip.decompress(c.get_object(Bucket=BUCKET, Key=victim)["Body"].read()))
    body["Records"][0]["eventName"] = "Forged"
    c.put_object(Bucket=BUCKET, Key=victim, Body=gzip.compress(json.dumps(body).encode()))
    yield {"s": s, "oid": oid, "mcreds": mcreds, "new": new, "start": start, "victim": victim, "base": base}
    assert s.stop() == 0, s.output()


def test_layout_and_records(world):
    s, oid, new = world["s"], world["oid"], world["new"]
    all_keys = keys(s, BUCKET, "org-ok/")
    assert all_keys and all(k.startswith(f"org-ok/AWSLogs/{oid}/") for k in all_keys), all_keys[:5]
    log_key = re.compile(rf"^org-ok/AWSLogs/{oid}/(\d{{12}})/CloudTrail/us-east-1/\d{{4}}/\d{{2}}/\d{{2}}/"
                         r"\1_CloudTrail_us-east-1_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")
    dig_key = re.compile(rf"^org-ok/AWSLogs/{oid}/(\d{{12}})/CloudTrail-Digest/us-east-1/\d{{4}}/\d{{2}}/\d{{2}}/"
                         r"\1_CloudTrail-Digest_us-east-1_org-ok_us-east-1_\d{8}T\d{6}Z\.json\.gz$")
    seen = {}
    for k in all_keys:
        m = log_key.match(k) or dig_key.match(k)
        assert m, k
        if "/CloudTrail/" in k:
            for r in read_gz(s, BUCKET, k)[0]["Records"]:
                # each account's events keep their own recipientAccountId
                assert r["recipientAccountId"] == m.group(1)
                seen.setdefault(m.group(1), set()).add(r["eventName"])
    assert {ACCOUNT, MEMBER, new} <= set(seen)
    assert "CreateGroup" in seen[MEMBER] and "CreateGroup" in seen[new] and "StartLogging" in seen[ACCOUNT]
    # one digest chain per account: each digest names its account and its
    # predecessor in the same account's folder
    for acct in (MEMBER, ACCOUNT, new):
        chain = [read_gz(s, BUCKET, k) for k in digests(s, "org-ok", acct)]
        assert chain[0][0]["previousDigestSignature"] is None
        for (d, _), (prev, pr) in zip(chain[1:], chain[:-1]):
            assert d["awsAccountId"] == acct
            assert d["previousDigestS3Object"] == prev["digestS3Object"]
            assert d["previousDigestSignature"] == pr["Metadata"]["signature"]
        for d, _ in chain:
            assert all(f"/AWSLogs/{oid}/{acct}/CloudTrail/" in lf["s3Object"] for lf in d["logFiles"])


def test_member_view(world):
    s, mcreds = world["s"], world["mcreds"]
    mct = client(s, "cloudtrail", mcreds)
    trails = {t["Name"]: t for t in mct.describe_trails()["trailList"]}
    t = trails["org-ok"]
    assert t["TrailARN"] == ARN + "org-ok" and t["IsOrganizationTrail"] is True and t["S3BucketName"] == BUCKET
    assert ARN + "org-ok" in [x["TrailARN"] for x in mct.list_trails()["Trails"]]
    assert mct.get_trail(Name=ARN + "org-ok")["Trail"]["IsOrganizationTrail"] is True
    st = mct.get_trail_status(Name=ARN + "org-ok")
    assert st["IsLogging"] is False and "LatestDeliveryTime" in st and "StartLoggingTime" in st
    assert mct.describe_trails(trailNameList=[ARN + "org-ok"])["trailList"][0]["Name"] == "org-ok"
    assert mct.describe_trails(trailNameList=["org-ok"])["trailList"] == []   # a name means the own account's
    # members cannot change it
    for call, kw in ((mct.stop_logging, {"Name": ARN + "org-ok"}), (mct.start_logging, {"Name": ARN + "org-ok"}),
                     (mct.delete_trail, {"Name": ARN + "org-ok"}),
                     (mct.update_trail, {"Name": ARN + "org-ok", "EnableLogFileValidation": False}),
                     (mct.put_event_selectors, {"TrailName": ARN + "org-ok", "EventSelectors": [
                         {"ReadWriteType": "All", "IncludeManagementEvents": True}]})):
        with pytest.raises(ClientError) as e:
            call(**kw)
        assert err(e) == "NotOrganizationMasterAccountException", call
    assert s.client("cloudtrail").get_trail(Name="org-ok")["Trail"]["LogFileValidationEnabled"] is True
    # an account outside the organization does not see it
    ocreds = create_account(s, OUTSIDER)
    oct_ = client(s, "cloudtrail", ocreds)
    assert "org-ok" not in [x["Name"] for x in oct_.describe_trails()["trailList"]]
    with pytest.raises(ClientError) as e:
        oct_.get_trail(Name=ARN + "org-ok")
    assert err(e) == "TrailNotFoundException"


@pytest.mark.parametrize("cli", CLI_PARAMS, ids=CLI_IDS)
@pytest.mark.parametrize("who", ["member", "management"])
def test_validate_logs_org(world, cli, who, tmp_path):
    s = world["s"]
    acct = MEMBER if who == "member" else ACCOUNT
    rc, out, e = run_validate_logs_org(s, cli, tmp_path, ARN + "org-ok", world["start"], acct)
    assert rc == 0, out + e
    n = len(digests(s, "org-ok", acct))
    logs = sum(len(read_gz(s, BUCKET, k)[0]["logFiles"]) for k in digests(s, "org-ok", acct))
    assert n >= 2 and logs >= 1
    assert f"{n}/{n} digest files valid" in out, out
    assert f"{logs}/{logs} log files valid" in out, out
    assert "INVALID" not in out
    # the CLI asked Organizations for the organization id
    assert any(r["eventName"] == "DescribeOrganization" for r in s.records("DescribeOrganization"))


@pytest.mark.parametrize("cli", CLI_PARAMS, ids=CLI_IDS)
def test_validate_logs_org_detects_change(world, cli, tmp_path):
    s = world["s"]
    rc, out, e = run_validate_logs_org(s, cli, tmp_path, ARN + "org-bad", world["start"], MEMBER)
    assert rc == 1, out + e
    assert f"Log file\ts3://{BUCKET}/{world['victim']}\tINVALID: hash value doesn't match" in out + e, out + e


def test_greentrail_validate_org(world):
    s, base = world["s"], world["base"]
    c = s3(s)
    d = base / "copy"
    for k in keys(s, BUCKET):
        p = d / k
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(c.get_object(Bucket=BUCKET, Key=k)["Body"].read())

    def run(name, *extra):
        p = subprocess.run([BIN, "validate", "--dir", str(d), "--trail-arn", ARN + name, "--s3-prefix", name,
                            "--data-dir", s.data_dir, "--verbose"] + list(extra),
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout + p.stderr
    n = len(digests(s, "org-ok", MEMBER))
    rc, out = run("org-ok", "--account-id", MEMBER)   # the organization id is found in the copy
    assert rc == 0 and f"{n}/{n} digest files valid" in out, out
    rc, out = run("org-ok", "--account-id", ACCOUNT, "--org-id", world["oid"])
    assert rc == 0 and "digest files valid" in out and "INVALID" not in out, out
    rc, out = run("org-bad", "--account-id", MEMBER)
    assert rc == 1 and f"{world['victim']}\tINVALID: hash value doesn't match" in out, out
    # without --account-id the trail's own (non-organization) folder has nothing
    rc, out = run("org-ok")
    assert rc == 0 and "No digests found" in out, out


def test_org_trail_errors(server):
    ct, org = server.client("cloudtrail"), server.client("organizations")
    s3c = make_bucket(server, "err-bkt")   # policy for AWSLogs/<account>/ only

    def create(**kw):
        with pytest.raises(ClientError) as e:
            ct.create_trail(Name="org-t", S3BucketName="err-bkt", IsOrganizationTrail=True, **kw)
        return e.value.response["Error"]
    assert create()["Code"] == "OrganizationsNotInUseException"
    oid = org.create_organization(FeatureSet="CONSOLIDATED_BILLING")["Organization"]["Id"]
    assert create()["Code"] == "OrganizationNotInAllFeaturesModeException"
    org.delete_organization()
    oid = org.create_organization()["Organization"]["Id"]
    assert create()["Code"] == "CloudTrailAccessNotEnabledException"
    org.enable_aws_service_access(ServicePrincipal="cloudtrail.amazonaws.com")
    # the bucket policy must also cover AWSLogs/<o-id>/
    assert create()["Code"] == "InsufficientS3BucketPolicyException"
    s3c.put_bucket_policy(Bucket="err-bkt", Policy=org_policy("err-bkt", oid))
    assert ct.create_trail(Name="org-t", S3BucketName="err-bkt", IsOrganizationTrail=True)["IsOrganizationTrail"]
    assert ct.get_trail(Name="org-t")["Trail"]["IsOrganizationTrail"] is True
    # UpdateTrail turns a trail into an organization trail and back
    ct.create_trail(Name="plain", S3BucketName="err-bkt")
    assert ct.update_trail(Name="plain", IsOrganizationTrail=True)["IsOrganizationTrail"] is True
    assert ct.update_trail(Name="plain", IsOrganizationTrail=False)["IsOrganizationTrail"] is False
    # a member cannot make one
    mcreds = create_account(server, MEMBER)
    hs = org.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": MEMBER})["Handshake"]
    client(server, "organizations", mcreds).accept_handshake(HandshakeId=hs["Id"])
    mc = client(server, "s3", mcreds)
    mc.create_bucket(Bucket="member-bkt")
    mc.put_bucket_policy(Bucket="member-bkt", Policy=org_policy("member-bkt", oid, account=MEMBER))
    with pytest.raises(ClientError) as e:
        client(server, "cloudtrail", mcreds).create_trail(Name="member-t", S3BucketName="member-bkt",
                                                          IsOrganizationTrail=True)
    assert err(e) == "NotOrganizationMasterAccountException"
    # the management account deletes its organization trail
    ct.delete_trail(Name="org-t")


def test_cli_org_trail(aws):
    rc, out, se = aws("organizations", "create-organization")
    assert rc == 0, se
    oid = out["Organization"]["Id"]
    aws("organizations", "enable-aws-service-access", "--service-principal", "cloudtrail.amazonaws.com")
    rc, out, se = aws("s3api", "create-bucket", "--bucket", "cli-org-bkt")
    assert rc == 0, se
    rc, out, se = aws("s3api", "put-bucket-policy", "--bucket", "cli-org-bkt", "--policy",
                      org_policy("cli-org-bkt", oid))
    assert rc == 0, se
    rc, out, se = aws("cloudtrail", "create-trail", "--name", "cli-org", "--s3-bucket-name", "cli-org-bkt",
                      "--is-organization-trail", "--enable-log-file-validation")
    assert rc == 0 and out["IsOrganizationTrail"] is True, se
    rc, out, se = aws("cloudtrail", "describe-trails")
    assert rc == 0 and out["trailList"][0]["IsOrganizationTrail"] is True, se


@pytest.mark.parametrize("cli", CLI_PARAMS, ids=CLI_IDS)
def test_multi_region_org_trail(make_server, cli, tmp_path):
    """A multi-region organization trail: a member's calls in another region
    land under AWSLogs/<o-id>/<member>/CloudTrail/<that region>/ with their
    own digest chain (one per account and region, §3.1), which
    validate-logs --region <src> --account-id <member> accepts."""
    s = make_server(args=FAST)
    oid, mcreds = org_with_member(s, MEMBER)
    make_bucket(s, "mr-org", with_policy=False)
    s3(s).put_bucket_policy(Bucket="mr-org", Policy=org_policy("mr-org", oid))
    ct = s.client("cloudtrail")
    start = time.time() - 60
    ct.create_trail(Name="mr-org", S3BucketName="mr-org", IsMultiRegionTrail=True, EnableLogFileValidation=True,
                    IsOrganizationTrail=True)
    ct.start_logging(Name="mr-org")
    client(s, "greengrass", mcreds, region="eu-west-1").create_group(Name="eu")

    def eu_digests():
        return [k for k in keys(s, "mr-org", f"AWSLogs/{oid}/{MEMBER}/CloudTrail-Digest/eu-west-1/")]
    wait_for(lambda: any(read_gz(s, "mr-org", k)[0]["logFiles"] for k in eu_digests()), timeout=40)
    eu_logs = keys(s, "mr-org", f"AWSLogs/{oid}/{MEMBER}/CloudTrail/eu-west-1/")
    assert eu_logs and all(r["awsRegion"] == "eu-west-1" and r["recipientAccountId"] == MEMBER
                           for k in eu_logs for r in read_gz(s, "mr-org", k)[0]["Records"])
    d = read_gz(s, "mr-org", eu_digests()[0])[0]
    assert d["awsAccountId"] == MEMBER and "_CloudTrail-Digest_eu-west-1_mr-org_us-east-1_" in d["digestS3Object"]
    ct.stop_logging(Name="mr-org")
    time.sleep(4)
    rc, out, e = run_validate_logs_org(s, cli, tmp_path, ARN + "mr-org", start, MEMBER, region="eu-west-1")
    assert rc == 0 and "INVALID" not in out + e, out + e
    n = len(eu_digests())
    assert f"{n}/{n} digest files valid" in out, out


def test_update_to_org_trail_starts_new_chains(make_server):
    """A logging trail made an organization trail by UpdateTrail writes from
    then on under AWSLogs/<o-id>/<account>/, starting new digest chains there
    (the old chain's location no longer applies)."""
    s = make_server(args=FAST)
    oid, mcreds = org_with_member(s, MEMBER)
    make_bucket(s, "up-org", with_policy=False)
    s3(s).put_bucket_policy(Bucket="up-org", Policy=org_policy("up-org", oid))
    ct = s.client("cloudtrail")
    ct.create_trail(Name="up-org", S3BucketName="up-org", EnableLogFileValidation=True)
    ct.start_logging(Name="up-org")
    wait_for(lambda: keys(s, "up-org", f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/"), timeout=30)
    assert ct.update_trail(Name="up-org", IsOrganizationTrail=True)["IsOrganizationTrail"] is True
    client(s, "greengrass", mcreds).create_group(Name="after-update")
    pfx = f"AWSLogs/{oid}/{ACCOUNT}/CloudTrail-Digest/"
    wait_for(lambda: len(keys(s, "up-org", pfx)) >= 2, timeout=30)
    first = read_gz(s, "up-org", sorted(keys(s, "up-org", pfx))[0])[0]
    assert first["previousDigestSignature"] is None and first["previousDigestS3Object"] is None
    wait_for(lambda: any(r["eventName"] == "CreateGroup" for k in keys(s, "up-org", f"AWSLogs/{oid}/{MEMBER}/CloudTrail/")
                         for r in read_gz(s, "up-org", k)[0]["Records"]), timeout=30)
