"""Helpers for the IAM/STS/authorization tests: clients for arbitrary
credentials, policy documents, and "who may do what" setups."""
import json

import boto3
import botocore.config

ACCOUNT = "123456789012"
REGION = "us-east-1"

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def client(server, service, creds, region=REGION):
    """A boto3 client for creds = (access key, secret[, session token])."""
    ak, sk = creds[0], creds[1]
    tok = creds[2] if len(creds) > 2 else None
    return boto3.client(
        service, endpoint_url=server.url, region_name=region, aws_access_key_id=ak,
        aws_secret_access_key=sk, aws_session_token=tok,
        config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=30))


def session_creds(resp):
    c = resp["Credentials"]
    return (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def make_user(server, name, *policies, account_admin="default"):
    """Create IAM user `name` with inline policies (dicts) and an access key;
    returns its (key, secret)."""
    iam = server.client("iam", profile=account_admin)
    iam.create_user(UserName=name)
    for i, p in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{i}", PolicyDocument=p if isinstance(p, str) else json.dumps(p))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return (k["AccessKeyId"], k["SecretAccessKey"])


def trust(principal):
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


def records(server, name, profile="default"):
    return server.records(name) if profile == "default" else [
        json.loads(e["CloudTrailEvent"]) for e in server.client("cloudtrail", profile=profile).lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])["Events"]]
