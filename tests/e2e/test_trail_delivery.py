"""Trail delivery to the built-in S3 (cloudtrail.md §2): object keys,
gzipped {"Records":[...]} bodies, region and selector filtering, failures
shown in GetTrailStatus and retried, at-least-once across restarts, and
StopLogging delivering up to the stop."""
import gzip
import re

from conftest import ACCOUNT
from trail_util import FAST, delivered_records, keys, make_bucket, s3, wait_for

LOG_KEY = re.compile(
    r"^(?:(?P<pfx>.+)/)?AWSLogs/(?P<acct>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/(?P<y>\d{4})/(?P<m>\d{2})/"
    r"(?P<d>\d{2})/(?P=acct)_CloudTrail_(?P=region)_(?P=y)(?P=m)(?P=d)T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")


def ids(records):
    return {r["eventID"] for r in records}


def test_delivery_keys_records_regions(make_server):
    s = make_server(args=FAST)
    make_bucket(s, "dlv-bkt", prefix="team/logs")
    ct = s.client("cloudtrail")
    ct.create_trail(Name="multi", S3BucketName="dlv-bkt", S3KeyPrefix="team/logs", IsMultiRegionTrail=True)
    make_bucket(s, "single-bkt")
    ct.create_trail(Name="single", S3BucketName="single-bkt")
    ct.start_logging(Name="multi")
    ct.start_logging(Name="single")
    gg_us, gg_eu = s.client("greengrass"), s.client("greengrass", region="eu-west-1")
    g1 = gg_us.create_group(Name="us-group")["Id"]
    gg_us.get_group(GroupId=g1)
    g2 = gg_eu.create_group(Name="eu-group")["Id"]
    want = {e["EventId"] for e in s.lookup("CreateGroup") + s.lookup("GetGroup")}
    want_eu = {e["EventId"] for e in s.client("cloudtrail", region="eu-west-1").lookup_events()["Events"]}
    recs = wait_for(lambda: (lambda r: r if want | want_eu <= ids(r) else None)(
        delivered_records(s, "dlv-bkt", "team/logs/")))
    ks = keys(s, "dlv-bkt")
    assert ks and all(LOG_KEY.match(k) for k in ks), ks
    regions = {LOG_KEY.match(k)["region"] for k in ks}
    assert regions == {"us-east-1", "eu-west-1"}
    assert all(LOG_KEY.match(k)["pfx"] == "team/logs" and LOG_KEY.match(k)["acct"] == ACCOUNT for k in ks)
    # each file holds one region's records
    for k in ks:
        body = s3(s).get_object(Bucket="dlv-bkt", Key=k)["Body"].read()
        assert body[:2] == b"\x1f\x8b"
        r = LOG_KEY.match(k)["region"]
        assert all(rec["awsRegion"] == r for rec in __import__("json").loads(gzip.decompress(body))["Records"])
    byid = {r["eventID"]: r for r in recs}
    assert byid[next(iter(want_eu & {e["EventId"] for e in s.client("cloudtrail", region="eu-west-1").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateGroup"}])["Events"]}))][
        "requestParameters"]["Name"] == "eu-group"
    # the single-region trail gets only its home region's events
    single = wait_for(lambda: (lambda r: r if want <= ids(r) else None)(delivered_records(s, "single-bkt")))
    assert not (want_eu & ids(single))
    assert {r["awsRegion"] for r in single} == {"us-east-1"}
    st = ct.get_trail_status(Name="multi")
    assert "LatestDeliveryTime" in st and "LatestDeliveryError" not in st
    assert g2


def test_selectors_filter_delivery(make_server):
    s = make_server(args=FAST)
    make_bucket(s, "flt-bkt")
    ct = s.client("cloudtrail")
    ct.create_trail(Name="writes", S3BucketName="flt-bkt")
    ct.put_event_selectors(TrailName="writes", EventSelectors=[{"ReadWriteType": "WriteOnly"}])
    ct.start_logging(Name="writes")
    gg = s.client("greengrass")
    gid = gg.create_group(Name="w")["Id"]
    gg.get_group(GroupId=gid)
    gg.list_groups()
    gg.create_group(Name="w2")
    creates = {e["EventId"] for e in s.lookup("CreateGroup")}
    recs = wait_for(lambda: (lambda r: r if creates <= ids(r) else None)(delivered_records(s, "flt-bkt")))
    assert all(r["readOnly"] is False for r in recs)
    assert not {"GetGroup", "ListGroups"} & {r["eventName"] for r in recs}


def test_failure_status_and_retry(make_server):
    s = make_server(args=FAST)
    c = make_bucket(s, "gone-bkt")
    ct = s.client("cloudtrail")
    ct.create_trail(Name="fails", S3BucketName="gone-bkt")
    c.delete_bucket(Bucket="gone-bkt")   # empty: nothing delivered yet
    ct.start_logging(Name="fails")
    gg = s.client("greengrass")
    gg.create_group(Name="lost?")
    st = wait_for(lambda: (lambda x: x if "LatestDeliveryError" in x else None)(ct.get_trail_status(Name="fails")))
    assert "NoSuchBucket" in st["LatestDeliveryError"]
    assert "LatestDeliveryTime" not in st
    # API calls are never blocked by delivery failures
    for i in range(3):
        gg.create_group(Name=f"still-{i}")
    make_bucket(s, "gone-bkt")
    creates = {e["EventId"] for e in s.lookup("CreateGroup")}
    recs = wait_for(lambda: (lambda r: r if creates <= ids(r) else None)(delivered_records(s, "gone-bkt")), timeout=40)
    assert len(creates) == 4 and creates <= ids(recs)
    st = ct.get_trail_status(Name="fails")
    assert "LatestDeliveryError" not in st and "LatestDeliveryTime" in st


def test_restart_resumes(make_server, tmp_path):
    d = tmp_path / "resume"
    s = make_server(data_dir=d, args=["--delivery-interval", "3600"])
    make_bucket(s, "rs-bkt")
    ct = s.client("cloudtrail")
    ct.create_trail(Name="resume", S3BucketName="rs-bkt")
    ct.start_logging(Name="resume")
    gg = s.client("greengrass")
    for i in range(3):
        gg.create_group(Name=f"r{i}")
    creates = {e["EventId"] for e in s.lookup("CreateGroup")}
    assert s.stop() == 0
    # the same store: on PostgreSQL, a server started afresh gets a new database
    s2 = make_server(data_dir=d, args=FAST + (["--store", s.store_url] if s.store_url else []))
    recs = wait_for(lambda: (lambda r: r if creates <= ids(r) else None)(delivered_records(s2, "rs-bkt")))
    # nothing is delivered twice when nothing failed
    assert len(recs) == len(ids(recs))
    s2.client("greengrass").create_group(Name="after")
    after = {e["EventId"] for e in s2.lookup("CreateGroup")} - creates
    recs = wait_for(lambda: (lambda r: r if after <= ids(r) else None)(delivered_records(s2, "rs-bkt")))
    assert len(recs) == len(ids(recs))


def test_stop_logging_delivers_up_to_stop(make_server):
    s = make_server(args=FAST)
    make_bucket(s, "stop-bkt")
    ct = s.client("cloudtrail")
    ct.create_trail(Name="stopper", S3BucketName="stop-bkt")
    gg = s.client("greengrass")
    gg.create_group(Name="before-start")
    ct.start_logging(Name="stopper")
    gg.create_group(Name="while-on")
    ct.stop_logging(Name="stopper")
    gg.create_group(Name="after-stop")
    names = lambda r: {x["requestParameters"].get("Name") for x in r if x["eventName"] == "CreateGroup"}  # noqa: E731
    recs = wait_for(lambda: (lambda r: r if "StopLogging" in {x["eventName"] for x in r} else None)(
        delivered_records(s, "stop-bkt")))
    import time
    time.sleep(2.5)
    recs = delivered_records(s, "stop-bkt")
    assert names(recs) == {"while-on"}
    assert {"StartLogging", "StopLogging"} <= {x["eventName"] for x in recs}


def test_delete_trail_finishes_delivery_and_final_digest(make_server):
    """Deleting a logging trail still delivers what was recorded before and
    writes a final digest listing it (cloudtrail.md §3.2 "Final digest")."""
    from trail_util import read_gz
    s = make_server(args=["--delivery-interval", "1", "--digest-interval", "3600"])
    make_bucket(s, "del-bkt")
    ct = s.client("cloudtrail")
    ct.create_trail(Name="doomed", S3BucketName="del-bkt", EnableLogFileValidation=True)
    ct.start_logging(Name="doomed")
    s.client("greengrass").create_group(Name="before-delete")
    ct.delete_trail(Name="doomed")
    s.client("greengrass").create_group(Name="after-delete")
    recs = wait_for(lambda: (lambda r: r if "DeleteTrail" in {x["eventName"] for x in r} else None)(
        delivered_records(s, "del-bkt")))
    got = {x["requestParameters"].get("Name") for x in recs if x["eventName"] == "CreateGroup"}
    assert got == {"before-delete"}

    def final():
        ds = [k for k in keys(s, "del-bkt") if "/CloudTrail-Digest/" in k]
        listed = [lf["s3Object"] for k in ds for lf in read_gz(s, "del-bkt", k)[0]["logFiles"]]
        logs = [k for k in keys(s, "del-bkt") if "/CloudTrail/" in k]
        return ds if ds and set(logs) <= set(listed) else None
    ds = wait_for(final)
    assert len(ds) == 1   # the hourly digest is not due: this one is the final digest
    # the name is free again, and a new trail starts a new chain
    ct.create_trail(Name="doomed", S3BucketName="del-bkt", EnableLogFileValidation=True)
    ct.start_logging(Name="doomed")
    ct.stop_logging(Name="doomed")
    ds2 = wait_for(lambda: (lambda d: d if len(d) == 2 else None)(
        sorted(k for k in keys(s, "del-bkt") if "/CloudTrail-Digest/" in k)))
    newest = read_gz(s, "del-bkt", [k for k in ds2 if k not in ds][0])[0]
    assert newest["previousDigestSignature"] is None
