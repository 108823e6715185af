"""The CloudTrail trail API (cloudtrail.md §2.4, §2.5, §6, §7): trails,
logging, status, selectors, tags, public keys, and AWS's errors."""
import base64
import hashlib
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT
from trail_util import make_bucket

ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/"


def code(e):
    return e.value.response["Error"]["Code"]


def fails(fn, expected, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    assert code(e) == expected, e.value.response
    return e.value.response["Error"]["Message"]


def test_create_get_describe_list(server):
    make_bucket(server, "trail-bkt", prefix="pfx")
    ct = server.client("cloudtrail")
    out = ct.create_trail(Name="main-trail", S3BucketName="trail-bkt", S3KeyPrefix="pfx",
                          EnableLogFileValidation=True, TagsList=[{"Key": "team", "Value": "a"}])
    assert out["TrailARN"] == ARN + "main-trail"
    assert out["LogFileValidationEnabled"] is True and out["IncludeGlobalServiceEvents"] is True
    assert out["IsMultiRegionTrail"] is False and out["S3KeyPrefix"] == "pfx"
    assert "HomeRegion" not in out
    t = ct.get_trail(Name="main-trail")["Trail"]
    assert t["HomeRegion"] == "us-east-1" and t["HasCustomEventSelectors"] is False
    assert t == ct.get_trail(Name=ARN + "main-trail")["Trail"]
    assert [x["Name"] for x in ct.describe_trails()["trailList"]] == ["main-trail"]
    # a new trail is not logging
    assert ct.get_trail_status(Name="main-trail")["IsLogging"] is False
    # single-region: invisible in another region, even with shadows
    eu = server.client("cloudtrail", region="eu-west-1")
    assert eu.describe_trails()["trailList"] == []
    ct.create_trail(Name="everywhere", S3BucketName="trail-bkt", S3KeyPrefix="pfx", IsMultiRegionTrail=True)
    assert [x["Name"] for x in eu.describe_trails()["trailList"]] == ["everywhere"]
    assert eu.describe_trails(includeShadowTrails=False)["trailList"] == []
    # names match home-region trails only; ARNs reach any
    assert eu.describe_trails(trailNameList=["everywhere"])["trailList"] == []
    assert len(eu.describe_trails(trailNameList=[ARN + "everywhere"])["trailList"]) == 1
    assert eu.get_trail(Name=ARN + "everywhere")["Trail"]["HomeRegion"] == "us-east-1"
    fails(eu.get_trail, "TrailNotFoundException", Name="everywhere")
    lst = eu.list_trails()["Trails"]
    assert {(x["Name"], x["HomeRegion"]) for x in lst} == {("main-trail", "us-east-1"), ("everywhere", "us-east-1")}
    # the call is recorded with the trail as its resource
    rec = server.records("CreateTrail")[0]
    assert rec["eventSource"] == "cloudtrail.amazonaws.com"
    assert rec["resources"][0]["ARN"] in (ARN + "main-trail", ARN + "everywhere")
    assert rec["responseElements"]["TrailARN"] == rec["resources"][0]["ARN"]


def test_create_errors(server):
    make_bucket(server, "ok-bkt")
    make_bucket(server, "no-policy", with_policy=False)
    make_bucket(server, "wrong-pfx", prefix="other")
    ct = server.client("cloudtrail")
    for bad in ["ab", "-abc", "abc-", "my--x", "my-_x", "has space", "10.1.2.3", "a" * 129]:
        fails(ct.create_trail, "InvalidTrailNameException", Name=bad, S3BucketName="ok-bkt")
    fails(ct.create_trail, "S3BucketDoesNotExistException", Name="t-missing", S3BucketName="no-such-bkt")
    msg = fails(ct.create_trail, "InsufficientS3BucketPolicyException", Name="t-nopol", S3BucketName="no-policy")
    assert "no-policy" in msg
    fails(ct.create_trail, "InsufficientS3BucketPolicyException", Name="t-pfx", S3BucketName="wrong-pfx")
    fails(ct.create_trail, "InsufficientS3BucketPolicyException", Name="t-pfx", S3BucketName="ok-bkt",
          S3KeyPrefix="elsewhere")
    fails(ct.create_trail, "InvalidS3PrefixException", Name="t-long", S3BucketName="ok-bkt", S3KeyPrefix="p" * 201)
    fails(ct.create_trail, "InvalidS3BucketNameException", Name="t-bn", S3BucketName="Bad_Bucket")
    fails(ct.create_trail, "InvalidParameterCombinationException", Name="t-combo", S3BucketName="ok-bkt",
          IsMultiRegionTrail=True, IncludeGlobalServiceEvents=False)
    fails(ct.create_trail, "KmsKeyNotFoundException", Name="t-kms", S3BucketName="ok-bkt", KmsKeyId="alias/x")
    fails(ct.create_trail, "OrganizationsNotInUseException", Name="t-org", S3BucketName="ok-bkt",
          IsOrganizationTrail=True)
    ct.create_trail(Name="t-1", S3BucketName="ok-bkt")
    msg = fails(ct.create_trail, "TrailAlreadyExistsException", Name="t-1", S3BucketName="ok-bkt")
    assert "t-1" in msg
    # 5 per region, shadow copies of multi-region trails included
    server.client("cloudtrail", region="eu-west-1").create_trail(Name="t-eu", S3BucketName="ok-bkt",
                                                                 IsMultiRegionTrail=True)
    for i in range(2, 5):
        ct.create_trail(Name=f"t-{i}", S3BucketName="ok-bkt")
    fails(ct.create_trail, "MaximumNumberOfTrailsExceededException", Name="t-6", S3BucketName="ok-bkt")
    fails(ct.get_trail, "TrailNotFoundException", Name="nope-trail")
    fails(ct.get_trail, "CloudTrailARNInvalidException", Name="arn:aws:cloudtrail:bad")
    # failed calls are recorded with their error code
    errs = {r.get("errorCode") for r in server.records("CreateTrail")}
    assert {"InvalidTrailNameException", "TrailAlreadyExistsException",
            "InsufficientS3BucketPolicyException"} <= errs


def test_update_delete_home_region(server):
    make_bucket(server, "b-one")
    make_bucket(server, "b-two", prefix="p2")
    ct = server.client("cloudtrail")
    ct.create_trail(Name="upd", S3BucketName="b-one")
    eu = server.client("cloudtrail", region="eu-west-1")
    fails(eu.update_trail, "InvalidHomeRegionException", Name=ARN + "upd", EnableLogFileValidation=True)
    fails(eu.delete_trail, "InvalidHomeRegionException", Name=ARN + "upd")
    fails(eu.start_logging, "InvalidHomeRegionException", Name=ARN + "upd")
    fails(ct.update_trail, "InsufficientS3BucketPolicyException", Name="upd", S3BucketName="b-two")
    out = ct.update_trail(Name="upd", S3BucketName="b-two", S3KeyPrefix="p2", EnableLogFileValidation=True,
                          IsMultiRegionTrail=True)
    assert out["S3BucketName"] == "b-two" and out["S3KeyPrefix"] == "p2"
    assert out["LogFileValidationEnabled"] is True and out["IsMultiRegionTrail"] is True
    assert out["IncludeGlobalServiceEvents"] is True
    fails(ct.update_trail, "InvalidParameterCombinationException", Name="upd", IncludeGlobalServiceEvents=False)
    fails(ct.update_trail, "TrailNotFoundException", Name="nope-trail", EnableLogFileValidation=True)
    ct.delete_trail(Name="upd")
    fails(ct.get_trail, "TrailNotFoundException", Name="upd")
    fails(ct.delete_trail, "TrailNotFoundException", Name="upd")
    assert ct.list_trails()["Trails"] == []


def test_logging_and_status(server):
    make_bucket(server, "log-bkt")
    ct = server.client("cloudtrail")
    ct.create_trail(Name="lg-trail", S3BucketName="log-bkt")
    before = time.time()
    ct.start_logging(Name="lg-trail")
    ct.start_logging(Name="lg-trail")   # idempotent
    st = ct.get_trail_status(Name="lg-trail")
    assert st["IsLogging"] is True
    assert abs(st["StartLoggingTime"].timestamp() - before) < 5
    assert st["TimeLoggingStopped"] == "" and st["TimeLoggingStarted"].endswith("Z")
    ct.stop_logging(Name=ARN + "lg-trail")
    st = ct.get_trail_status(Name="lg-trail")
    assert st["IsLogging"] is False and st["StopLoggingTime"] >= st["StartLoggingTime"]
    assert st["TimeLoggingStopped"].endswith("Z")
    fails(ct.get_trail_status, "TrailNotFoundException", Name="nope-trail")


def test_event_selectors(server):
    make_bucket(server, "sel-bkt")
    ct = server.client("cloudtrail")
    ct.create_trail(Name="sel", S3BucketName="sel-bkt")
    # default for an API-made trail (AWS, from memory: cloudtrail.md §6.3)
    got = ct.get_event_selectors(TrailName="sel")
    assert got["EventSelectors"] == [{"ReadWriteType": "All", "IncludeManagementEvents": True,
                                      "DataResources": [], "ExcludeManagementEventSources": []}]
    out = ct.put_event_selectors(TrailName="sel", EventSelectors=[
        {"ReadWriteType": "WriteOnly", "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::b/"]}]}])
    assert out["TrailARN"] == ARN + "sel"
    assert out["EventSelectors"][0]["IncludeManagementEvents"] is True
    assert ct.get_event_selectors(TrailName="sel")["EventSelectors"] == out["EventSelectors"]
    assert ct.get_trail(Name="sel")["Trail"]["HasCustomEventSelectors"] is True
    adv = [{"Name": "mgmt", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]},
                                                {"Field": "readOnly", "Equals": ["false"]}]}]
    ct.put_event_selectors(TrailName="sel", AdvancedEventSelectors=adv)
    got = ct.get_event_selectors(TrailName="sel")
    assert got["AdvancedEventSelectors"] == adv and "EventSelectors" not in got
    E = "InvalidEventSelectorsException"
    fails(ct.put_event_selectors, E, TrailName="sel", EventSelectors=[{}], AdvancedEventSelectors=adv)
    fails(ct.put_event_selectors, E, TrailName="sel", EventSelectors=[{}] * 6)
    fails(ct.put_event_selectors, E, TrailName="sel",
          EventSelectors=[{"DataResources": [{"Type": "AWS::Nope::Thing", "Values": ["arn:aws:x"]}]}])
    fails(ct.put_event_selectors, E, TrailName="sel", AdvancedEventSelectors=[
        {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "bogus", "Equals": ["x"]}]}])
    fails(ct.put_event_selectors, E, TrailName="sel", AdvancedEventSelectors=[
        {"FieldSelectors": [{"Field": "readOnly", "Equals": ["true"]}]}])
    fails(ct.put_event_selectors, E, TrailName="sel", AdvancedEventSelectors=[
        {"FieldSelectors": [{"Field": "eventCategory", "NotEquals": ["Data"]}]}])
    fails(ct.put_event_selectors, "TrailNotFoundException", TrailName="nope-trail", EventSelectors=[{}])


def test_insight_selectors(server):
    make_bucket(server, "ins-bkt")
    ct = server.client("cloudtrail")
    ct.create_trail(Name="ins", S3BucketName="ins-bkt")
    fails(ct.get_insight_selectors, "InsightNotEnabledException", TrailName="ins")
    out = ct.put_insight_selectors(TrailName="ins", InsightSelectors=[{"InsightType": "ApiCallRateInsight"}])
    assert out["InsightSelectors"] == [{"InsightType": "ApiCallRateInsight"}]
    assert ct.get_insight_selectors(TrailName="ins")["InsightSelectors"] == out["InsightSelectors"]
    assert ct.get_trail(Name="ins")["Trail"]["HasInsightSelectors"] is True
    fails(ct.put_insight_selectors, "InvalidInsightSelectorsException", TrailName="ins",
          InsightSelectors=[{"InsightType": "ApiCallRateInsight"}, {"InsightType": "ApiCallRateInsight"}])
    # ApiCallRate needs write management events
    ct.put_event_selectors(TrailName="ins", EventSelectors=[{"ReadWriteType": "ReadOnly"}])
    fails(ct.put_insight_selectors, "InvalidInsightSelectorsException", TrailName="ins",
          InsightSelectors=[{"InsightType": "ApiCallRateInsight"}])
    ct.put_insight_selectors(TrailName="ins", InsightSelectors=[{"InsightType": "ApiErrorRateInsight"}])
    ct.put_insight_selectors(TrailName="ins", InsightSelectors=[])
    assert ct.get_trail(Name="ins")["Trail"]["HasInsightSelectors"] is False
    fails(ct.get_insight_selectors, "InsightNotEnabledException", TrailName="ins")


def test_tags(server):
    make_bucket(server, "tag-bkt")
    ct = server.client("cloudtrail")
    ct.create_trail(Name="tg-trail", S3BucketName="tag-bkt", TagsList=[{"Key": "a", "Value": "1"}])
    arn = ARN + "tg-trail"
    ct.add_tags(ResourceId=arn, TagsList=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "9"}])
    tl = ct.list_tags(ResourceIdList=[arn])["ResourceTagList"]
    assert tl == [{"ResourceId": arn, "TagsList": [{"Key": "a", "Value": "9"}, {"Key": "b", "Value": "2"}]}]
    ct.remove_tags(ResourceId=arn, TagsList=[{"Key": "a"}])
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == [{"Key": "b", "Value": "2"}]
    fails(ct.add_tags, "ResourceNotFoundException", ResourceId=ARN + "nope", TagsList=[{"Key": "x"}])
    fails(ct.add_tags, "CloudTrailARNInvalidException", ResourceId="arn:aws:s3:::bucket", TagsList=[{"Key": "x"}])
    fails(ct.add_tags, "InvalidTagParameterException", ResourceId=arn, TagsList=[{"Key": "aws:reserved"}])
    fails(ct.add_tags, "TagsLimitExceededException", ResourceId=arn,
          TagsList=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    fails(ct.list_tags, "ResourceNotFoundException", ResourceIdList=[ARN + "nope"])


def test_list_public_keys(server):
    ct = server.client("cloudtrail")
    keys = ct.list_public_keys()["PublicKeyList"]
    assert len(keys) >= 1
    k = keys[0]
    der = k["Value"]   # botocore decodes the blob: the raw DER
    assert base64.b64encode(der).decode().startswith("MIIBCgKCAQEA")   # PKCS#1 RSAPublicKey, 2048-bit
    assert k["Fingerprint"] == hashlib.md5(der).hexdigest()
    assert k["ValidityStartTime"] <= k["ValidityEndTime"]
    assert (k["ValidityEndTime"] - k["ValidityStartTime"]).days >= 30
    # the same key on the next call and after a restart of the key cache
    assert ct.list_public_keys()["PublicKeyList"][0]["Fingerprint"] == k["Fingerprint"]
    now = time.time()
    fails(ct.list_public_keys, "InvalidTimeRangeException", StartTime=now, EndTime=now - 3600)
    # a window long before any key: none
    assert ct.list_public_keys(StartTime=now - 400 * 86400, EndTime=now - 300 * 86400)["PublicKeyList"] == []


def test_public_keys_persist(make_server, tmp_path):
    s = make_server(data_dir=tmp_path / "pk")
    fp = s.client("cloudtrail").list_public_keys()["PublicKeyList"][0]["Fingerprint"]
    assert s.stop() == 0
    s2 = make_server(data_dir=tmp_path / "pk")
    assert s2.client("cloudtrail").list_public_keys()["PublicKeyList"][0]["Fingerprint"] == fp
    import os
    import stat
    kdir = tmp_path / "pk" / "cloudtrail-keys" / "us-east-1"
    files = list(kdir.iterdir())
    assert len(files) == 1 and stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600


def test_cli(server, aws):
    make_bucket(server, "cli-bkt")
    rc, out, err = aws("cloudtrail", "create-trail", "--name", "cli-trail", "--s3-bucket-name", "cli-bkt",
                       "--is-multi-region-trail", "--enable-log-file-validation")
    assert rc == 0, err
    assert out["TrailARN"] == ARN + "cli-trail"
    rc, out, err = aws("cloudtrail", "describe-trails")
    assert rc == 0 and out["trailList"][0]["LogFileValidationEnabled"] is True
    rc, out, err = aws("cloudtrail", "start-logging", "--name", "cli-trail")
    assert rc == 0, err
    rc, out, err = aws("cloudtrail", "get-trail-status", "--name", "cli-trail")
    assert rc == 0 and out["IsLogging"] is True
    rc, out, err = aws("cloudtrail", "create-trail", "--name", "cli-trail", "--s3-bucket-name", "cli-bkt")
    assert rc != 0 and "TrailAlreadyExistsException" in err
    rc, out, err = aws("cloudtrail", "list-public-keys")
    assert rc == 0 and len(out["PublicKeyList"][0]["Fingerprint"]) == 32
