"""End-to-end tests of the built-in S3 service with boto3, raw signed
requests (aws-chunked uploads) and both aws CLIs.

Where AWS behaviour is uncertain the tests pin what AWS documents or most
likely does, and say so."""
import hashlib
import io
import json
import os
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import botocore.config
import botocore.exceptions
import boto3
import pytest

import s3_util

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def s3(server, region="us-east-1"):
    return server.client("s3", region=region)


def presigner(server):
    """A client whose presigned URLs use SigV4 (old botocore defaults to SigV2 for S3)."""
    ak, sk = server.key()
    return boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=ak,
                        aws_secret_access_key=sk, config=botocore.config.Config(signature_version="s3v4"))


# ---------------------------------------------------------------- buckets

def test_bucket_lifecycle(server):
    c = s3(server)
    r = c.create_bucket(Bucket="alpha-bucket")
    assert r["Location"] == "/alpha-bucket"
    c.create_bucket(Bucket="beta.bucket")
    names = [b["Name"] for b in c.list_buckets()["Buckets"]]
    assert names == ["alpha-bucket", "beta.bucket"]
    h = c.head_bucket(Bucket="alpha-bucket")
    assert h["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert c.get_bucket_location(Bucket="alpha-bucket")["LocationConstraint"] is None
    c.delete_bucket(Bucket="beta.bucket")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.head_bucket(Bucket="beta.bucket")
    assert err(e)[1] == 404
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.delete_bucket(Bucket="beta.bucket")
    assert err(e) == ("NoSuchBucket", 404)
    assert e.value.response["Error"]["BucketName"] == "beta.bucket"


def test_bucket_errors(server):
    c = s3(server)
    for bad in ["ab", "Upper-Case", "under_score", "-leading", "192.168.1.1", "a" * 64, "double..dot"]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            c.create_bucket(Bucket=bad)
        assert err(e) == ("InvalidBucketName", 400), bad
    c.create_bucket(Bucket="mine")
    # AWS: re-creating a bucket you own answers 200 in us-east-1 (legacy),
    # BucketAlreadyOwnedByYou in every other region.
    c.create_bucket(Bucket="mine")
    eu = s3(server, "eu-west-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        eu.create_bucket(Bucket="mine", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert err(e) == ("BucketAlreadyOwnedByYou", 409)
    # objects need an existing bucket
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.put_object(Bucket="missing-bucket", Key="k", Body=b"x")
    assert err(e) == ("NoSuchBucket", 404)


def test_location_constraint(server):
    eu = s3(server, "eu-west-1")
    eu.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert eu.get_bucket_location(Bucket="eu-bucket")["LocationConstraint"] == "eu-west-1"
    h = eu.head_bucket(Bucket="eu-bucket")
    assert h["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
    # a constraint that differs from the endpoint's region, and none at all
    # outside us-east-1: IllegalLocationConstraintException (as AWS)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        eu.create_bucket(Bucket="eu-bucket-2", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    assert err(e) == ("IllegalLocationConstraintException", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        eu.create_bucket(Bucket="eu-bucket-3")
    assert err(e) == ("IllegalLocationConstraintException", 400)
    # malformed configuration XML
    st, _, body = s3_util.Signed(server, "PUT", "/xml-bucket", payload_hash=hashlib.sha256(b"<oops").hexdigest()).send(b"<oops")
    assert st == 400 and b"<Code>MalformedXML</Code>" in body


def test_delete_bucket_not_empty(server):
    c = s3(server)
    c.create_bucket(Bucket="full")
    c.put_object(Bucket="full", Key="one", Body=b"1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.delete_bucket(Bucket="full")
    assert err(e) == ("BucketNotEmpty", 409)
    c.delete_object(Bucket="full", Key="one")
    c.delete_bucket(Bucket="full")
    assert c.list_buckets()["Buckets"] == []


def test_bucket_policy(server):
    c = s3(server)
    c.create_bucket(Bucket="pol")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_bucket_policy(Bucket="pol")
    assert err(e) == ("NoSuchBucketPolicy", 404)
    for bad in ["not json", "[1,2]", '{"Version": '] :
        with pytest.raises(botocore.exceptions.ClientError) as e:
            c.put_bucket_policy(Bucket="pol", Policy=bad)
        assert err(e) == ("MalformedPolicy", 400), bad
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                                                       "Action": "s3:PutObject", "Resource": "arn:aws:s3:::pol/*"}]}
    c.put_bucket_policy(Bucket="pol", Policy=json.dumps(policy))
    assert json.loads(c.get_bucket_policy(Bucket="pol")["Policy"]) == policy
    c.delete_bucket_policy(Bucket="pol")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_bucket_policy(Bucket="pol")
    assert err(e) == ("NoSuchBucketPolicy", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.put_bucket_policy(Bucket="nobucket", Policy=json.dumps(policy))
    assert err(e) == ("NoSuchBucket", 404)


# ---------------------------------------------------------------- objects

def test_object_roundtrip(server):
    c = s3(server)
    c.create_bucket(Bucket="objs")
    body = os.urandom(200_000)
    r = c.put_object(Bucket="objs", Key="dir/ünï cødé & <x>.bin", Body=body, ContentType="application/x-test",
                     Metadata={"Color": "blue", "n": "1"}, CacheControl="max-age=60",
                     ContentDisposition='attachment; filename="x.bin"')
    md5 = hashlib.md5(body).hexdigest()
    assert r["ETag"] == f'"{md5}"'
    g = c.get_object(Bucket="objs", Key="dir/ünï cødé & <x>.bin")
    assert g["Body"].read() == body
    assert g["ETag"] == f'"{md5}"'
    assert g["ContentType"] == "application/x-test"
    assert g["ContentLength"] == len(body)
    assert g["Metadata"] == {"color": "blue", "n": "1"}
    assert g["CacheControl"] == "max-age=60"
    assert g["ContentDisposition"] == 'attachment; filename="x.bin"'
    assert g["LastModified"].year >= 2024
    h = c.head_object(Bucket="objs", Key="dir/ünï cødé & <x>.bin")
    assert h["ContentLength"] == len(body) and h["ETag"] == f'"{md5}"' and h["Metadata"]["color"] == "blue"
    # overwrite replaces body and metadata
    c.put_object(Bucket="objs", Key="dir/ünï cødé & <x>.bin", Body=b"short")
    g = c.get_object(Bucket="objs", Key="dir/ünï cødé & <x>.bin")
    assert g["Body"].read() == b"short" and g["Metadata"] == {} and g["ContentType"] == "binary/octet-stream"
    # the replaced body file is gone from disk: one body file remains
    files = [f for d, _, fs in os.walk(os.path.join(server.data_dir, "s3")) for f in fs]
    assert len(files) == 1, files
    # conditional reads on the ETag
    etag = f'"{hashlib.md5(b"short").hexdigest()}"'
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_object(Bucket="objs", Key="dir/ünï cødé & <x>.bin", IfNoneMatch=etag)
    assert err(e)[1] == 304
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_object(Bucket="objs", Key="dir/ünï cødé & <x>.bin", IfMatch='"0000"')
    assert err(e) == ("PreconditionFailed", 412)
    assert c.get_object(Bucket="objs", Key="dir/ünï cødé & <x>.bin", IfMatch=etag)["Body"].read() == b"short"
    c.delete_object(Bucket="objs", Key="dir/ünï cødé & <x>.bin")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_object(Bucket="objs", Key="dir/ünï cødé & <x>.bin")
    assert err(e) == ("NoSuchKey", 404)
    assert e.value.response["Error"]["Key"] == "dir/ünï cødé & <x>.bin"
    c.delete_object(Bucket="objs", Key="never-existed")   # absent: still 204
    files = [f for d, _, fs in os.walk(os.path.join(server.data_dir, "s3")) for f in fs]
    assert files == []
    c.put_object(Bucket="objs", Key="empty", Body=b"")
    assert c.get_object(Bucket="objs", Key="empty")["Body"].read() == b""


def test_error_body_is_s3_xml(server):
    c = s3(server)
    c.create_bucket(Bucket="xmlerr")
    url = presigner(server).generate_presigned_url("get_object", Params={"Bucket": "xmlerr", "Key": "nope"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url)
    assert e.value.code == 404
    root = ET.fromstring(e.value.read())
    assert root.tag == "Error"
    assert root.find("Code").text == "NoSuchKey"
    assert root.find("Message").text == "The specified key does not exist."
    assert root.find("Key").text == "nope"
    assert root.find("RequestId").text == e.value.headers["x-amz-request-id"]


def test_ranges(server):
    c = s3(server)
    c.create_bucket(Bucket="rng")
    data = bytes(range(256)) * 4
    c.put_object(Bucket="rng", Key="r", Body=data)
    for rng, want, cr in [("bytes=10-19", data[10:20], "bytes 10-19/1024"),
                          ("bytes=1000-", data[1000:], "bytes 1000-1023/1024"),
                          ("bytes=-5", data[-5:], "bytes 1019-1023/1024"),
                          ("bytes=1020-5000", data[1020:], "bytes 1020-1023/1024"),
                          ("bytes=-5000", data, "bytes 0-1023/1024")]:
        g = c.get_object(Bucket="rng", Key="r", Range=rng)
        assert g["ResponseMetadata"]["HTTPStatusCode"] == 206, rng
        assert g["Body"].read() == want, rng
        assert g["ContentRange"] == cr
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_object(Bucket="rng", Key="r", Range="bytes=1024-")
    assert err(e) == ("InvalidRange", 416)
    assert e.value.response["Error"]["ActualObjectSize"] == "1024"
    # a syntactically invalid range is ignored (RFC 9110): the whole object
    g = c.get_object(Bucket="rng", Key="r", Range="bytes=9-3")
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 200 and g["Body"].read() == data
    h = c.head_object(Bucket="rng", Key="r", Range="bytes=0-9")
    assert h["ContentLength"] == 10
    assert h["ResponseMetadata"]["HTTPHeaders"]["content-range"] == "bytes 0-9/1024"


def test_presigned_get(server):
    c = s3(server)
    c.create_bucket(Bucket="pre")
    c.put_object(Bucket="pre", Key="a/b.txt", Body=b"presigned!")
    url = presigner(server).generate_presigned_url("get_object", Params={"Bucket": "pre", "Key": "a/b.txt"},
                                                   ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"presigned!"
    bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad)
    assert e.value.code == 403
    assert ET.fromstring(e.value.read()).find("Code").text in ("SignatureDoesNotMatch", "AuthorizationQueryParametersError", "AuthorizationHeaderMalformed")


def test_content_md5_and_checksums(server):
    c = s3(server)
    c.create_bucket(Bucket="sums")
    import base64
    good = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    c.put_object(Bucket="sums", Key="k", Body=b"payload", ContentMD5=good)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.put_object(Bucket="sums", Key="k2", Body=b"payload", ContentMD5=wrong)
    assert err(e) == ("BadDigest", 400)
    # a wrong x-amz-checksum-crc32 header (raw request; SDKs compute it right)
    req = s3_util.Signed(server, "PUT", "/sums/k3", payload_hash=hashlib.sha256(b"payload").hexdigest(),
                         headers={"x-amz-checksum-crc32": s3_util.crc32_b64(b"other")})
    st, _, body = req.send(b"payload")
    assert st == 400 and b"<Code>BadDigest</Code>" in body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.head_object(Bucket="sums", Key="k3")
    assert err(e)[1] == 404


# ---------------------------------------------------------------- aws-chunked uploads

def chunked_headers(n, extra=None):
    h = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(n)}
    h.update(extra or {})
    return h


def test_streaming_signed_payload(server):
    c = s3(server)
    c.create_bucket(Bucket="chunky")
    data = os.urandom(150_000)
    req = s3_util.Signed(server, "PUT", "/chunky/signed.bin", headers=chunked_headers(len(data)),
                         payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    st, hdrs, body = req.send(s3_util.signed_chunked_body(req, data))
    assert st == 200, body
    assert hdrs["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    g = c.get_object(Bucket="chunky", Key="signed.bin")
    assert g["Body"].read() == data
    assert "ContentEncoding" not in g   # aws-chunked is framing, not stored

    # one corrupted chunk signature: 403 SignatureDoesNotMatch, nothing stored
    req = s3_util.Signed(server, "PUT", "/chunky/bad.bin", headers=chunked_headers(len(data)),
                         payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    st, _, body = req.send(s3_util.signed_chunked_body(req, data, corrupt_chunk=1))
    assert st == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    # a decoded length that does not match
    req = s3_util.Signed(server, "PUT", "/chunky/bad.bin", headers=chunked_headers(len(data) + 1),
                         payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    st, _, body = req.send(s3_util.signed_chunked_body(req, data))
    assert st == 400 and b"<Code>IncompleteBody</Code>" in body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.head_object(Bucket="chunky", Key="bad.bin")
    assert err(e)[1] == 404
    files = [f for d, _, fs in os.walk(os.path.join(server.data_dir, "s3")) for f in fs]
    assert len(files) == 1, files   # only signed.bin: failed uploads left nothing


def test_streaming_unsigned_trailer(server):
    c = s3(server)
    c.create_bucket(Bucket="trail")
    data = os.urandom(40_000)
    hdr = chunked_headers(len(data), {"x-amz-trailer": "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm": "CRC32"})
    req = s3_util.Signed(server, "PUT", "/trail/t.bin", headers=hdr, payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    st, _, body = req.send(s3_util.unsigned_trailer_body(data, "x-amz-checksum-crc32", s3_util.crc32_b64(data)))
    assert st == 200, body
    assert c.get_object(Bucket="trail", Key="t.bin")["Body"].read() == data
    req = s3_util.Signed(server, "PUT", "/trail/t2.bin", headers=hdr, payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    st, _, body = req.send(s3_util.unsigned_trailer_body(data, "x-amz-checksum-crc32", s3_util.crc32_b64(b"x")))
    assert st == 400 and b"<Code>BadDigest</Code>" in body and b"CRC32" in body


def test_auth_errors_are_s3_xml(server):
    import datetime
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    st, _, body = s3_util.Signed(server, "GET", "/", now=old).send()
    assert st == 403 and b"<Code>RequestTimeTooSkewed</Code>" in body
    c = server.client("s3", key=("AKIAIOSFODNN7EXAMPLE", "x" * 40))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.list_buckets()
    assert err(e) == ("InvalidAccessKeyId", 403)
    ak, _ = server.key()
    c = server.client("s3", key=(ak, "wrong-secret"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.list_buckets()
    assert err(e) == ("SignatureDoesNotMatch", 403)


def test_unsigned_payload(server):
    c = s3(server)
    c.create_bucket(Bucket="unsig")
    req = s3_util.Signed(server, "PUT", "/unsig/u", payload_hash="UNSIGNED-PAYLOAD")
    st, _, _ = req.send(b"no hash here")
    assert st == 200
    assert c.get_object(Bucket="unsig", Key="u")["Body"].read() == b"no hash here"
    # a wrong explicit payload hash is refused by SigV4
    req = s3_util.Signed(server, "PUT", "/unsig/v", payload_hash=hashlib.sha256(b"x").hexdigest())
    st, _, body = req.send(b"y")
    assert st == 403 and b"<Error>" in body


# ---------------------------------------------------------------- listing

def test_list_objects_v1(server):
    c = s3(server)
    c.create_bucket(Bucket="lst")
    keys = ["a.txt", "b/1", "b/2", "b/c/3", "c", "d e+f", "photos/2024/x.jpg", "photos/2025/y.jpg"]
    for k in keys:
        c.put_object(Bucket="lst", Key=k, Body=k.encode())
    r = c.list_objects(Bucket="lst")
    assert [o["Key"] for o in r["Contents"]] == sorted(keys)
    assert r["IsTruncated"] is False
    o = r["Contents"][0]
    assert o["Size"] == len(b"a.txt") and o["ETag"] == f'"{hashlib.md5(b"a.txt").hexdigest()}"'
    assert o["StorageClass"] == "STANDARD" and "ID" in o["Owner"]
    r = c.list_objects(Bucket="lst", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a.txt", "c", "d e+f"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/", "photos/"]
    r = c.list_objects(Bucket="lst", Prefix="photos/", Delimiter="/")
    assert "Contents" not in r and [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/2024/", "photos/2025/"]
    r = c.list_objects(Bucket="lst", Prefix="b/")
    assert [o["Key"] for o in r["Contents"]] == ["b/1", "b/2", "b/c/3"]
    r = c.list_objects(Bucket="lst", Marker="b/2")
    assert [o["Key"] for o in r["Contents"]][0] == "b/c/3"
    # paging with max-keys, NextMarker and a delimiter
    r = c.list_objects(Bucket="lst", MaxKeys=2, Delimiter="/")
    assert r["IsTruncated"] is True and r["NextMarker"] == "b/"
    r2 = c.list_objects(Bucket="lst", MaxKeys=2, Delimiter="/", Marker=r["NextMarker"])
    assert [o["Key"] for o in r2.get("Contents", [])] + [p["Prefix"] for p in r2.get("CommonPrefixes", [])] == ["c", "d e+f"]
    pages = list(c.get_paginator("list_objects").paginate(Bucket="lst", PaginationConfig={"PageSize": 3}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == sorted(keys)
    assert len(pages) == 3
    # encoding-type=url: botocore asks for it on every listing and decodes
    # it back (above); asked for explicitly, the client sees the encoded form
    r = c.list_objects(Bucket="lst", Prefix="d ", EncodingType="url")
    assert [o["Key"] for o in r["Contents"]] == ["d+e%2Bf"]
    st, _, body = s3_util.Signed(server, "GET", "/lst", query="encoding-type=url&prefix=d%20").send()
    assert st == 200 and b"<Key>d+e%2Bf</Key>" in body and b"<EncodingType>url</EncodingType>" in body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.list_objects(Bucket="lst", MaxKeys=-1)
    assert err(e) == ("InvalidArgument", 400)


def test_list_objects_v2(server):
    c = s3(server)
    c.create_bucket(Bucket="lst2")
    keys = [f"k{i:02d}" for i in range(25)] + ["z/1", "z/2"]
    for k in keys:
        c.put_object(Bucket="lst2", Key=k, Body=b"x")
    r = c.list_objects_v2(Bucket="lst2", MaxKeys=10)
    assert r["KeyCount"] == 10 and r["IsTruncated"] is True and "Owner" not in r["Contents"][0]
    r2 = c.list_objects_v2(Bucket="lst2", MaxKeys=10, ContinuationToken=r["NextContinuationToken"])
    assert [o["Key"] for o in r2["Contents"]] == keys[10:20]
    assert r2["ContinuationToken"] == r["NextContinuationToken"]
    pages = list(c.get_paginator("list_objects_v2").paginate(Bucket="lst2", Delimiter="/", PaginationConfig={"PageSize": 10}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == keys[:25]
    assert [cp["Prefix"] for p in pages for cp in p.get("CommonPrefixes", [])] == ["z/"]
    assert sum(p["KeyCount"] for p in pages) == 26
    r = c.list_objects_v2(Bucket="lst2", StartAfter="k23", FetchOwner=True)
    assert [o["Key"] for o in r["Contents"]] == ["k24", "z/1", "z/2"] and r["StartAfter"] == "k23"
    assert "ID" in r["Contents"][0]["Owner"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.list_objects_v2(Bucket="lst2", ContinuationToken="not-a-token")
    assert err(e) == ("InvalidArgument", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.list_objects_v2(Bucket="nope-bucket")
    assert err(e) == ("NoSuchBucket", 404)


def test_delete_objects(server):
    c = s3(server)
    c.create_bucket(Bucket="multi")
    for k in ["a", "b", "c"]:
        c.put_object(Bucket="multi", Key=k, Body=b"1")
    r = c.delete_objects(Bucket="multi", Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zzz"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["a", "b", "zzz"]
    assert [o["Key"] for o in c.list_objects_v2(Bucket="multi")["Contents"]] == ["c"]


# ---------------------------------------------------------------- CloudTrail

def test_cloudtrail_records_bucket_calls_only(server):
    c = s3(server)
    c.create_bucket(Bucket="audited")
    c.head_bucket(Bucket="audited")
    c.list_buckets()
    c.get_bucket_location(Bucket="audited")
    c.put_bucket_policy(Bucket="audited", Policy='{"Version":"2012-10-17","Statement":[]}')
    c.get_bucket_policy(Bucket="audited")
    c.delete_bucket_policy(Bucket="audited")
    c.put_object(Bucket="audited", Key="k", Body=b"x")
    c.get_object(Bucket="audited", Key="k")["Body"].read()
    c.list_objects_v2(Bucket="audited")
    c.delete_object(Bucket="audited", Key="k")
    with pytest.raises(botocore.exceptions.ClientError):
        c.get_bucket_policy(Bucket="audited")
    c.delete_bucket(Bucket="audited")
    names = [e["EventName"] for e in server.lookup() if e["EventSource"] == "s3.amazonaws.com"]
    assert sorted(set(names)) == sorted(["CreateBucket", "HeadBucket", "ListBuckets", "GetBucketLocation",
                                         "PutBucketPolicy", "GetBucketPolicy", "DeleteBucketPolicy", "DeleteBucket"])
    for obj_call in ["PutObject", "GetObject", "DeleteObject", "ListObjectsV2", "ListObjects", "HeadObject"]:
        assert obj_call not in names
    rec = server.records("CreateBucket")[0]
    assert rec["eventSource"] == "s3.amazonaws.com"
    assert rec["requestParameters"]["bucketName"] == "audited"
    assert rec["resources"][0]["ARN"] == "arn:aws:s3:::audited"
    put = server.records("PutBucketPolicy")[0]
    assert put["requestParameters"]["bucketPolicy"] == {"Version": "2012-10-17", "Statement": []}
    failed = [r for r in server.records("GetBucketPolicy") if r.get("errorCode")]
    assert failed and failed[0]["errorCode"] == "NoSuchBucketPolicy"
    ev = server.lookup("CreateBucket")[0]
    assert ev["Resources"][0]["ResourceName"] == "arn:aws:s3:::audited"


# ---------------------------------------------------------------- durability

def test_objects_survive_restart_and_orphans_are_removed(make_server):
    s = make_server()
    c = s3(s)
    c.create_bucket(Bucket="keep")
    c.put_object(Bucket="keep", Key="k", Body=b"durable")
    s3dir = os.path.join(s.data_dir, "s3")
    (bdir,) = [os.path.join(s3dir, d) for d in os.listdir(s3dir)]
    open(os.path.join(bdir, ".tmp.0123456789abcdef"), "wb").write(b"half-written")
    orphan = os.path.join(bdir, "a" * 64 + ".0123456789abcdef")
    open(orphan, "wb").write(b"no metadata names me")
    s.stop()
    s.start()
    c = s3(s)
    assert c.get_object(Bucket="keep", Key="k")["Body"].read() == b"durable"
    assert sorted(os.listdir(bdir)) == [f for f in os.listdir(bdir) if not f.startswith(".tmp")]
    assert not os.path.exists(orphan)
    assert len(os.listdir(bdir)) == 1


def test_put_larger_than_max_body(make_server):
    # --max-body caps API bodies; S3 object PUTs have their own cap (64 MiB)
    s = make_server(args=["--max-body", "65536"])
    c = s3(s)
    c.create_bucket(Bucket="big")
    data = os.urandom(3 * 1024 * 1024)
    c.put_object(Bucket="big", Key="big", Body=data)
    assert c.get_object(Bucket="big", Key="big")["Body"].read() == data
    # a presigned PUT gets the same cap
    url = presigner(s).generate_presigned_url("put_object", Params={"Bucket": "big", "Key": "pre"})
    req = urllib.request.Request(url, data=data[:300_000], method="PUT")
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
    assert c.get_object(Bucket="big", Key="pre")["Body"].read() == data[:300_000]
    # other services keep --max-body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s.client("greengrass").create_group(Name="x" * 70_000)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


# ---------------------------------------------------------------- aws CLI (v1 and v2)

def test_aws_cli_s3(aws, server, tmp_path):
    data = os.urandom(5 * 1024 * 1024 + 123)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    rc, out, errtext = aws("s3", "mb", "s3://cli-bucket")
    assert rc == 0, errtext
    rc, out, errtext = aws("s3", "cp", str(src), "s3://cli-bucket/dir/src.bin")
    assert rc == 0, errtext
    rc, out, errtext = aws("s3", "ls", "s3://cli-bucket/dir/")
    assert rc == 0 and "src.bin" in out and str(len(data)) in out, (out, errtext)
    dst = tmp_path / "dst.bin"
    rc, out, errtext = aws("s3", "cp", "s3://cli-bucket/dir/src.bin", str(dst))
    assert rc == 0, errtext
    assert dst.read_bytes() == data
    rc, out, errtext = aws("s3api", "put-object", "--bucket", "cli-bucket", "--key", "meta.txt", "--body", str(src),
                           "--metadata", "owner=cli", "--content-type", "text/plain")
    assert rc == 0, errtext
    assert out["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    rc, out, errtext = aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "meta.txt")
    assert rc == 0 and out["Metadata"] == {"owner": "cli"} and out["ContentType"] == "text/plain"
    rc, out, errtext = aws("s3api", "list-objects-v2", "--bucket", "cli-bucket")
    assert rc == 0 and [o["Key"] for o in out["Contents"]] == ["dir/src.bin", "meta.txt"]
    rc, out, errtext = aws("s3api", "get-object", "--bucket", "cli-bucket", "--key", "nope", str(tmp_path / "x"))
    assert rc != 0 and "NoSuchKey" in errtext
    rc, out, errtext = aws("s3", "cp", "s3://cli-bucket/meta.txt", "s3://cli-bucket/copied.txt")
    assert rc == 0, errtext
    rc, out, errtext = aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "copied.txt")
    assert rc == 0 and out["ContentLength"] == len(data), errtext
    rc, out, errtext = aws("s3", "rb", "s3://cli-bucket")
    assert rc != 0 and "BucketNotEmpty" in errtext
    rc, out, errtext = aws("s3", "rm", "s3://cli-bucket", "--recursive")
    assert rc == 0, errtext
    rc, out, errtext = aws("s3", "rb", "s3://cli-bucket")
    assert rc == 0, errtext


def test_copy_object(server):
    c = s3(server)
    c.create_bucket(Bucket="src-b")
    c.create_bucket(Bucket="dst-b")
    data = os.urandom(70_000)
    c.put_object(Bucket="src-b", Key="dir/a b", Body=data, ContentType="text/x-a", Metadata={"m": "1"})
    r = c.copy_object(Bucket="dst-b", Key="copy", CopySource={"Bucket": "src-b", "Key": "dir/a b"})
    assert r["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    g = c.get_object(Bucket="dst-b", Key="copy")
    assert g["Body"].read() == data and g["ContentType"] == "text/x-a" and g["Metadata"] == {"m": "1"}
    c.copy_object(Bucket="dst-b", Key="copy", CopySource="src-b/dir/a b", MetadataDirective="REPLACE",
                  ContentType="text/x-b", Metadata={"n": "2"})
    g = c.get_object(Bucket="dst-b", Key="copy")
    assert g["Body"].read() == data and g["ContentType"] == "text/x-b" and g["Metadata"] == {"n": "2"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.copy_object(Bucket="src-b", Key="dir/a b", CopySource={"Bucket": "src-b", "Key": "dir/a b"})
    assert err(e) == ("InvalidRequest", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.copy_object(Bucket="dst-b", Key="x", CopySource={"Bucket": "src-b", "Key": "missing"})
    assert err(e) == ("NoSuchKey", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.copy_object(Bucket="dst-b", Key="x", CopySource={"Bucket": "no-such-src", "Key": "k"})
    assert err(e) == ("NoSuchBucket", 404)
    # the source is untouched; failed copies left no files: src, copy
    assert c.get_object(Bucket="src-b", Key="dir/a b")["Body"].read() == data
    files = [f for d, _, fs in os.walk(os.path.join(server.data_dir, "s3")) for f in fs]
    assert len(files) == 2, files


# ---------------------------------------------------------------- multipart uploads

MiB = 1024 * 1024


def test_multipart_upload(server):
    c = s3(server)
    c.create_bucket(Bucket="mpu")
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1234)]
    up = c.create_multipart_upload(Bucket="mpu", Key="big/obj", ContentType="video/mp4", Metadata={"k": "v"})
    uid = up["UploadId"]
    etags = []
    for n, p in enumerate(parts, 1):
        r = c.upload_part(Bucket="mpu", Key="big/obj", UploadId=uid, PartNumber=n, Body=p)
        assert r["ETag"] == f'"{hashlib.md5(p).hexdigest()}"'
        etags.append(r["ETag"])
    # re-uploading a part replaces it
    parts[1] = os.urandom(5 * MiB)
    etags[1] = c.upload_part(Bucket="mpu", Key="big/obj", UploadId=uid, PartNumber=2, Body=parts[1])["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as e:   # wrong ETag for part 1
        c.complete_multipart_upload(Bucket="mpu", Key="big/obj", UploadId=uid, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": etags[1]}, {"PartNumber": 2, "ETag": etags[1]}]})
    assert err(e) == ("InvalidPart", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.complete_multipart_upload(Bucket="mpu", Key="big/obj", UploadId=uid, MultipartUpload={"Parts": [
            {"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}]})
    assert err(e) == ("InvalidPartOrder", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:   # a small part that is not the last
        c.complete_multipart_upload(Bucket="mpu", Key="big/obj", UploadId=uid, MultipartUpload={"Parts": [
            {"PartNumber": 3, "ETag": etags[2]}, {"PartNumber": 4, "ETag": etags[2]}]})
    assert err(e)[1] == 400
    r = c.complete_multipart_upload(Bucket="mpu", Key="big/obj", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": n, "ETag": t} for n, t in enumerate(etags, 1)]})
    want = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
    assert r["ETag"] == f'"{want}"'
    g = c.get_object(Bucket="mpu", Key="big/obj")
    assert g["Body"].read() == b"".join(parts)
    assert g["ETag"] == f'"{want}"' and g["ContentType"] == "video/mp4" and g["Metadata"] == {"k": "v"}
    # parts are gone: one body file left
    files = [f for d, _, fs in os.walk(os.path.join(server.data_dir, "s3")) for f in fs]
    assert len(files) == 1, files
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.upload_part(Bucket="mpu", Key="big/obj", UploadId=uid, PartNumber=1, Body=b"x")
    assert err(e) == ("NoSuchUpload", 404)


def test_multipart_abort_and_transfer(server):
    c = s3(server)
    c.create_bucket(Bucket="mpu2")
    uid = c.create_multipart_upload(Bucket="mpu2", Key="k")["UploadId"]
    c.upload_part(Bucket="mpu2", Key="k", UploadId=uid, PartNumber=1, Body=b"abc")
    c.upload_part(Bucket="mpu2", Key="k", UploadId=uid, PartNumber=3, Body=b"defg")
    uid2 = c.create_multipart_upload(Bucket="mpu2", Key="j")["UploadId"]
    lp = c.list_parts(Bucket="mpu2", Key="k", UploadId=uid)
    assert [(p["PartNumber"], p["Size"]) for p in lp["Parts"]] == [(1, 3), (3, 4)]
    assert lp["Parts"][0]["ETag"] == f'"{hashlib.md5(b"abc").hexdigest()}"' and lp["IsTruncated"] is False
    lp = c.list_parts(Bucket="mpu2", Key="k", UploadId=uid, MaxParts=1)
    assert [p["PartNumber"] for p in lp["Parts"]] == [1] and lp["IsTruncated"] is True
    assert lp["NextPartNumberMarker"] == 1
    ups = c.list_multipart_uploads(Bucket="mpu2")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in ups] == [("j", uid2), ("k", uid)]
    c.abort_multipart_upload(Bucket="mpu2", Key="j", UploadId=uid2)
    c.abort_multipart_upload(Bucket="mpu2", Key="k", UploadId=uid)
    assert "Uploads" not in c.list_multipart_uploads(Bucket="mpu2")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.abort_multipart_upload(Bucket="mpu2", Key="k", UploadId=uid)
    assert err(e) == ("NoSuchUpload", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.upload_part(Bucket="mpu2", Key="k", UploadId="nope", PartNumber=0, Body=b"x")
    assert err(e) == ("InvalidArgument", 400)
    # boto3's managed transfer splits at the threshold
    import boto3.s3.transfer
    data = os.urandom(12 * MiB + 7)
    cfg = boto3.s3.transfer.TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    c.upload_fileobj(io.BytesIO(data), "mpu2", "managed", Config=cfg)
    h = c.head_object(Bucket="mpu2", Key="managed")
    assert h["ContentLength"] == len(data) and h["ETag"].endswith('-3"')
    out = io.BytesIO()
    c.download_fileobj("mpu2", "managed", out, Config=cfg)
    assert out.getvalue() == data
    # an unfinished upload does not block DeleteBucket's emptiness check but goes with the bucket
    uid = c.create_multipart_upload(Bucket="mpu2", Key="pending")["UploadId"]
    c.upload_part(Bucket="mpu2", Key="pending", UploadId=uid, PartNumber=1, Body=b"abc")
    c.delete_object(Bucket="mpu2", Key="managed")
    c.delete_bucket(Bucket="mpu2")
    files = [f for d, _, fs in os.walk(os.path.join(server.data_dir, "s3")) for f in fs]
    assert files == []


def test_upload_part_copy(server):
    c = s3(server)
    c.create_bucket(Bucket="upc")
    src = os.urandom(6 * MiB + 100)
    c.put_object(Bucket="upc", Key="src", Body=src)
    uid = c.create_multipart_upload(Bucket="upc", Key="dst")["UploadId"]
    r1 = c.upload_part_copy(Bucket="upc", Key="dst", UploadId=uid, PartNumber=1, CopySource="upc/src",
                            CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    assert r1["CopyPartResult"]["ETag"] == f'"{hashlib.md5(src[:5 * MiB]).hexdigest()}"'
    r2 = c.upload_part_copy(Bucket="upc", Key="dst", UploadId=uid, PartNumber=2, CopySource="upc/src",
                            CopySourceRange=f"bytes={5 * MiB}-{len(src) - 1}")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.upload_part_copy(Bucket="upc", Key="dst", UploadId=uid, PartNumber=3, CopySource="upc/src",
                           CopySourceRange=f"bytes=0-{len(src)}")
    assert err(e) == ("InvalidArgument", 400)
    c.complete_multipart_upload(Bucket="upc", Key="dst", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]})
    assert c.get_object(Bucket="upc", Key="dst")["Body"].read() == src
    assert c.get_object_tagging(Bucket="upc", Key="dst")["TagSet"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_object_tagging(Bucket="upc", Key="nope")
    assert err(e) == ("NoSuchKey", 404)


def test_aws_cli_multipart(aws, server, tmp_path):
    data = os.urandom(17 * MiB + 5)   # > 8 MB: the CLI uploads in 8 MB parts
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    assert aws("s3", "mb", "s3://cli-mpu")[0] == 0
    rc, out, errtext = aws("s3", "cp", str(src), "s3://cli-mpu/big.bin")
    assert rc == 0, errtext
    rc, out, errtext = aws("s3api", "head-object", "--bucket", "cli-mpu", "--key", "big.bin")
    assert rc == 0 and out["ContentLength"] == len(data) and out["ETag"].endswith('-3"'), (out, errtext)
    dst = tmp_path / "back.bin"
    rc, out, errtext = aws("s3", "cp", "s3://cli-mpu/big.bin", str(dst))
    assert rc == 0, errtext
    assert dst.read_bytes() == data
    # S3 to S3 above 8 MB: the CLI copies in parts (UploadPartCopy)
    rc, out, errtext = aws("s3", "cp", "s3://cli-mpu/big.bin", "s3://cli-mpu/big-copy.bin")
    assert rc == 0, errtext
    rc, out, errtext = aws("s3api", "head-object", "--bucket", "cli-mpu", "--key", "big-copy.bin")
    assert rc == 0 and out["ContentLength"] == len(data), (out, errtext)
