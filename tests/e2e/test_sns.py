"""SNS (cloudtrail.md §4): the topic/subscription API, signed HTTP delivery
(SubscriptionConfirmation and Notification envelopes, verified here with
the served certificate the way SNS message verifiers do), retries, restart
without loss, trail log-file notifications and EventBridge SNS targets."""
import base64
import json
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from conftest import ACCOUNT, REGION
from events_util import Receiver
from trail_util import FAST as TRAIL_FAST, make_bucket, keys

NOTIF_KEYS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONF_KEYS = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]


def wait_for(pred, timeout=20.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("condition not met in time")


def verify(msg):
    """Standard SNS message verification (sns-verify-signature-of-message.md)."""
    keys_ = NOTIF_KEYS if msg["Type"] == "Notification" else CONF_KEYS
    text = "".join(f"{k}\n{msg[k]}\n" for k in keys_ if k in msg)
    with urllib.request.urlopen(msg["SigningCertURL"], timeout=5) as r:
        cert = x509.load_pem_x509_certificate(r.read())
    h = hashes.SHA1() if msg["SignatureVersion"] == "1" else hashes.SHA256()
    cert.public_key().verify(base64.b64decode(msg["Signature"]), text.encode(), padding.PKCS1v15(), h)
    return True


def messages(rcv, type_=None):
    out = []
    for r in list(rcv.requests):
        if r["method"] == "POST" and r["body"]:
            m = json.loads(r["body"])
            if type_ is None or m["Type"] == type_:
                out.append((r, m))
    return out


def subscribe_confirmed(sns, topic, rcv):
    """Subscribe rcv, check the SubscriptionConfirmation, confirm via its SubscribeURL."""
    r = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=rcv.url + "/hook")
    assert r["SubscriptionArn"] == "pending confirmation"
    req, conf = wait_for(lambda: (messages(rcv, "SubscriptionConfirmation") or [None])[-1])
    assert req["headers"]["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert req["headers"]["content-type"].startswith("text/plain")
    assert req["headers"]["user-agent"] == "Amazon Simple Notification Service Agent"
    assert conf["TopicArn"] == topic and conf["SignatureVersion"] == "1" and verify(conf)
    assert "To confirm the subscription, visit the SubscribeURL" in conf["Message"]
    with urllib.request.urlopen(conf["SubscribeURL"], timeout=5) as r2:
        body = r2.read().decode()
    assert "<ConfirmSubscriptionResult>" in body
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    arn = [s["SubscriptionArn"] for s in subs if s["Endpoint"] == rcv.url + "/hook"][0]
    assert arn.startswith(topic + ":")
    return arn


@pytest.fixture
def rcv():
    r = Receiver().start()
    yield r
    r.stop()


def test_topic_api_and_errors(server):
    sns = server.client("sns")
    arn = sns.create_topic(Name="t1")["TopicArn"]
    assert arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:t1"
    assert sns.create_topic(Name="t1")["TopicArn"] == arn   # idempotent
    sns.create_topic(Name="t2")
    assert [t["TopicArn"].split(":")[-1] for t in sns.list_topics()["Topics"]] == ["t1", "t2"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn and attrs["Owner"] == ACCOUNT and attrs["SubscriptionsConfirmed"] == "0"
    assert json.loads(attrs["Policy"])["Statement"][0]["Resource"] == arn
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Disp")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "Disp"
    with pytest.raises(ClientError) as e:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Bogus", AttributeValue="x")
    assert e.value.response["Error"]["Code"] == "InvalidParameter"
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name="bad name!")
    assert e.value.response["Error"]["Code"] == "InvalidParameter"
    with pytest.raises(ClientError) as e:
        sns.get_topic_attributes(TopicArn=arn + "x")
    assert e.value.response["Error"]["Code"] == "NotFound"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="a@example.com")
    assert e.value.response["Error"]["Code"] == "InvalidParameter"
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=arn + "x", Message="m")
    assert e.value.response["Error"]["Code"] == "NotFound"
    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)   # AWS: deleting a missing topic succeeds
    assert [t["TopicArn"].split(":")[-1] for t in sns.list_topics()["Topics"]] == ["t2"]
    # calls are recorded (eventSource sns.amazonaws.com)
    recs = server.records("CreateTopic")
    assert [r.get("errorCode") for r in recs].count("InvalidParameter") == 1
    rec = [r for r in recs if r["requestParameters"] == {"name": "t1"}][0]
    assert rec["eventSource"] == "sns.amazonaws.com" and rec["requestParameters"] == {"name": "t1"}
    assert rec["responseElements"] == {"topicArn": arn}


def test_subscribe_confirm_publish_signed(server, rcv):
    sns = server.client("sns")
    topic = sns.create_topic(Name="news")["TopicArn"]
    sub = subscribe_confirmed(sns, topic, rcv)
    assert sns.list_subscriptions()["Subscriptions"][0]["SubscriptionArn"] == sub
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"] == "1"
    mid = sns.publish(TopicArn=topic, Message='{"hello": "world"}', Subject="greeting")["MessageId"]
    req, m = wait_for(lambda: (messages(rcv, "Notification") or [None])[0])
    assert m["MessageId"] == mid and m["Message"] == '{"hello": "world"}' and m["Subject"] == "greeting"
    assert m["TopicArn"] == topic and m["Type"] == "Notification" and m["Timestamp"].endswith("Z")
    assert req["headers"]["x-amz-sns-subscription-arn"] == sub
    assert req["headers"]["x-amz-sns-message-id"] == mid
    assert "Action=Unsubscribe" in m["UnsubscribeURL"] and verify(m)
    # a tampered message does not verify
    with pytest.raises(Exception):
        verify(dict(m, Message="forged"))
    # without Subject; SignatureVersion 2 (SHA256withRSA) when the topic asks for it
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=topic, Message="plain")
    _, m2 = wait_for(lambda: [x for x in messages(rcv, "Notification") if x[1]["Message"] == "plain"][0:1] and
                     [x for x in messages(rcv, "Notification") if x[1]["Message"] == "plain"][0])
    assert "Subject" not in m2 and m2["SignatureVersion"] == "2" and verify(m2)
    # the UnsubscribeURL removes the subscription; nothing more arrives
    with urllib.request.urlopen(m["UnsubscribeURL"], timeout=5) as r:
        assert r.status == 200
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    n = len(messages(rcv, "Notification"))
    sns.publish(TopicArn=topic, Message="after")
    time.sleep(1)
    assert len(messages(rcv, "Notification")) == n
    assert server.records("Publish")[0]["eventSource"] == "sns.amazonaws.com"


def test_pending_subscription_gets_nothing_and_confirm_api(server, rcv):
    sns = server.client("sns")
    topic = sns.create_topic(Name="pend")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=rcv.url)
    _, conf = wait_for(lambda: (messages(rcv, "SubscriptionConfirmation") or [None])[0])
    assert sns.list_subscriptions()["Subscriptions"][0]["SubscriptionArn"] == "PendingConfirmation"
    sns.publish(TopicArn=topic, Message="early")
    time.sleep(1)
    assert messages(rcv, "Notification") == []
    with pytest.raises(ClientError) as e:
        sns.confirm_subscription(TopicArn=topic, Token="0" * 128)
    assert e.value.response["Error"]["Code"] == "InvalidParameter"
    arn = sns.confirm_subscription(TopicArn=topic, Token=conf["Token"])["SubscriptionArn"]
    assert arn.startswith(topic + ":")
    # subscribing the same endpoint again: the same subscription (ReturnSubscriptionArn shows it)
    assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=rcv.url, ReturnSubscriptionArn=True)[
        "SubscriptionArn"] == arn
    assert len(sns.list_subscriptions()["Subscriptions"]) == 1
    sns.publish(TopicArn=topic, Message="late")
    wait_for(lambda: [m for _, m in messages(rcv, "Notification") if m["Message"] == "late"])
    sns.unsubscribe(SubscriptionArn=arn)
    assert sns.list_subscriptions()["Subscriptions"] == []


def test_receiver_down_then_back_and_restart(make_server, tmp_path):
    data = tmp_path / "d"
    s = make_server(data_dir=data)
    rcv = Receiver().start()
    sns = s.client("sns")
    topic = sns.create_topic(Name="retry")["TopicArn"]
    subscribe_confirmed(sns, topic, rcv)
    rcv.stop()                       # the endpoint is down
    mid1 = sns.publish(TopicArn=topic, Message="one")["MessageId"]
    time.sleep(1.5)                  # a few failed attempts
    rcv.start()                      # back on the same port: the retry delivers
    _, m = wait_for(lambda: (messages(rcv, "Notification") or [None])[0], timeout=30)
    assert m["MessageId"] == mid1 and verify(m)
    # down again, and the server restarts before the endpoint is back: nothing is lost
    rcv.stop()
    mid2 = sns.publish(TopicArn=topic, Message="two")["MessageId"]
    time.sleep(0.5)
    s.stop()
    rcv.start()
    s2 = make_server(data_dir=data, args=["--store", s.store_url] if s.store_url else [])   # same store on PostgreSQL
    _, m2 = wait_for(lambda: ([x for x in messages(rcv, "Notification") if x[1]["MessageId"] == mid2] or [None])[0],
                     timeout=30)
    assert m2["Message"] == "two" and verify(m2)   # the certificate survives the restart
    assert "failed" in s.output()
    rcv.stop()
    s2.stop()


def topic_policy(topic):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSCloudTrailSNSPolicy20131101", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "SNS:Publish", "Resource": topic}]})


def test_trail_notifications(make_server, rcv):
    s = make_server(args=TRAIL_FAST)
    sns, ct = s.client("sns"), s.client("cloudtrail")
    make_bucket(s, "sns-bkt")
    # the topic must exist and allow CloudTrail to publish
    with pytest.raises(ClientError) as e:
        ct.create_trail(Name="sns-trail", S3BucketName="sns-bkt", SnsTopicName="missing")
    assert e.value.response["Error"]["Code"] == "InsufficientSnsTopicPolicyException"
    with pytest.raises(ClientError) as e:
        ct.create_trail(Name="sns-trail", S3BucketName="sns-bkt", SnsTopicName="bad name")
    assert e.value.response["Error"]["Code"] == "InvalidSnsTopicNameException"
    topic = sns.create_topic(Name="trail-topic")["TopicArn"]
    with pytest.raises(ClientError) as e:   # the default policy does not name CloudTrail
        ct.create_trail(Name="sns-trail", S3BucketName="sns-bkt", SnsTopicName="trail-topic")
    assert e.value.response["Error"]["Code"] == "InsufficientSnsTopicPolicyException"
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=topic_policy(topic))
    subscribe_confirmed(sns, topic, rcv)
    ct.create_trail(Name="sns-trail", S3BucketName="sns-bkt", SnsTopicName="trail-topic")
    assert ct.get_trail(Name="sns-trail")["Trail"]["SnsTopicARN"] == topic
    with pytest.raises(ClientError) as e:
        ct.update_trail(Name="sns-trail", SnsTopicName="missing")
    assert e.value.response["Error"]["Code"] == "InsufficientSnsTopicPolicyException"
    ct.start_logging(Name="sns-trail")
    s.client("greengrass").create_group(Name="g")
    _, m = wait_for(lambda: (messages(rcv, "Notification") or [None])[0], timeout=30)
    body = json.loads(m["Message"])
    assert set(body) == {"s3Bucket", "s3ObjectKey"} and body["s3Bucket"] == "sns-bkt"
    assert "Subject" not in m and verify(m)
    logs = [k for k in keys(s, "sns-bkt") if "/CloudTrail/" in k]
    assert body["s3ObjectKey"] and all(k in logs for k in body["s3ObjectKey"])
    # one message per delivered log file
    time.sleep(2.5)
    notified = sorted(k for _, mm in messages(rcv, "Notification") for k in json.loads(mm["Message"])["s3ObjectKey"])
    logs = [k for k in keys(s, "sns-bkt") if "/CloudTrail/" in k]
    assert set(notified) <= set(logs) and len(notified) == len(set(notified))


def test_eventbridge_sns_target(make_server, rcv):
    s = make_server(args=["--rules-interval-ms", "50", "--rules-retry-max-ms", "300"])
    sns, ev = s.client("sns"), s.client("events")
    topic = sns.create_topic(Name="ev-topic")["TopicArn"]
    subscribe_confirmed(sns, topic, rcv)
    ev.put_rule(Name="gg", EventPattern='{"source":["aws.greengrass"]}')
    r = ev.put_targets(Rule="gg", Targets=[{"Id": "t", "Arn": topic}])
    assert r["FailedEntryCount"] == 0
    gid = s.client("greengrass").create_group(Name="evg")["Id"]
    _, m = wait_for(lambda: (messages(rcv, "Notification") or [None])[0], timeout=30)
    event = json.loads(m["Message"])
    assert event["source"] == "aws.greengrass" and event["detail"]["eventName"] == "CreateGroup"
    assert event["detail"]["responseElements"]["Id"] == gid or gid in m["Message"]
    assert verify(m)


def test_s3_bucket_named_sns_is_not_captured(server):
    """The unauthenticated /sns/ URLs must not take signed S3 requests for a bucket named "sns"."""
    from trail_util import s3
    c = s3(server)
    c.create_bucket(Bucket="sns")
    c.put_object(Bucket="sns", Key="SimpleNotificationService-x.pem", Body=b"data")
    assert c.get_object(Bucket="sns", Key="SimpleNotificationService-x.pem")["Body"].read() == b"data"
    assert [o["Key"] for o in c.list_objects_v2(Bucket="sns")["Contents"]] == ["SimpleNotificationService-x.pem"]
    import boto3
    import botocore.config
    ak, sk = server.key()
    pre = boto3.client("s3", endpoint_url=server.url, region_name=REGION, aws_access_key_id=ak,
                       aws_secret_access_key=sk,
                       config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = pre.generate_presigned_url("get_object", Params={"Bucket": "sns", "Key": "SimpleNotificationService-x.pem"})
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.read() == b"data"
    # an unknown certificate id is not served
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.url + "/sns/SimpleNotificationService-0000.pem", timeout=5)
    assert e.value.code == 404
