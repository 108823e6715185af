#!/usr/bin/env python3
"""Make a preset deflate dictionary for the stored record blobs (evpack).

  tools/gen_evdict.py --version N [--size 16384] [--bin build/greentrail]

Writes src/store/evdict_vN.gen.c (the bytes, embedded by evpack.c and read
by tools/bulkload). A dictionary is part of the on-disk format for ever:
blobs name the version they were packed with, so an existing
evdict_vN.gen.c is never regenerated or edited; a better dictionary is a
new version (this script refuses to overwrite one).

How it is made, honestly (not from the records it is measured on):
- the corpus: two fresh servers (two data dirs, so two sets of access keys
  and ids) each get the same script of real calls: Greengrass groups and
  definitions, CloudTrail lookups and trails, IAM users/keys/roles, STS
  identity and role sessions, S3 buckets and objects, SNS topics; successes
  and failures; from several identities (the admin user, the account root,
  a new IAM user, an assumed-role session) and user agents (boto3 and the
  aws CLI v1 and v2 when installed). The records and LookupEvents summaries
  the servers keep (read back from their stores) are the samples.
- the selection (after zstd's COVER): every 8-byte string (d-mer) scores
  the number of samples holding it, but only if both servers' samples hold
  it (so per-server values: keys, ids, request ids, times never count); the
  corpus is cut into epochs and from each the 256-byte segment with the most
  not yet covered score is taken; the dictionary is the segments, best
  last (deflate reaches the end of a dictionary with the shortest
  distances).
"""
import argparse
import configparser
import json
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
D = 8      # d-mer length
K = 256    # segment length


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(binary, data_dir):
    port = free_port()
    log = open(data_dir + ".log", "wb")
    p = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir],
                         stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                break
        except OSError:
            time.sleep(0.05)
    return p, url


def calls(url, data_dir):
    """The script of real calls (boto3 and the aws CLIs)."""
    import boto3
    import botocore.config
    from botocore.exceptions import ClientError
    creds = configparser.ConfigParser()
    creds.read(os.path.join(data_dir, "credentials"))

    def cl(service, key, ua=None, token=None):
        cfg = botocore.config.Config(retries={"max_attempts": 1}, user_agent_extra=ua)
        return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=key[0],
                            aws_secret_access_key=key[1], aws_session_token=token, config=cfg)

    admin = (creds["default"]["aws_access_key_id"], creds["default"]["aws_secret_access_key"])
    root = (creds["root"]["aws_access_key_id"], creds["root"]["aws_secret_access_key"])

    def quiet(f, *a, **kw):
        try:
            return f(*a, **kw)
        except ClientError:
            return None

    iam = cl("iam", admin)
    quiet(iam.create_user, UserName="ops-alice")
    k = iam.create_access_key(UserName="ops-alice")["AccessKey"]
    alice = (k["AccessKeyId"], k["SecretAccessKey"])
    iam.put_user_policy(UserName="ops-alice", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                                                 "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="deployer", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    iam.list_users()
    iam.get_user(UserName="ops-alice")
    iam.list_roles()
    quiet(iam.get_user, UserName="nobody")
    sts = cl("sts", admin)
    sts.get_caller_identity()
    s = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/deployer", RoleSessionName="ci-run")["Credentials"]
    who = [(admin, None, None), (root, None, "ops-console/2.1"), (alice, None, "terraform/1.6"),
           ((s["AccessKeyId"], s["SecretAccessKey"]), s["SessionToken"], None)]
    for i, (key, token, ua) in enumerate(who):
        gg = cl("greengrass", key, ua, token)
        g = gg.create_group(Name=f"line-{i}")
        gg.get_group(GroupId=g["Id"])
        gg.update_group(GroupId=g["Id"], Name=f"line-{i}-b")
        gg.list_groups(MaxResults="10")
        cd = gg.create_core_definition(Name=f"cores-{i}", InitialVersion={"Cores": [{
            "Id": "c1", "CertificateArn": "arn:aws:iot:us-east-1:123456789012:cert/abc",
            "ThingArn": "arn:aws:iot:us-east-1:123456789012:thing/core-1"}]})
        gg.get_core_definition(CoreDefinitionId=cd["Id"])
        ld = gg.create_logger_definition(Name=f"logs-{i}")
        gg.list_logger_definitions()
        gg.delete_logger_definition(LoggerDefinitionId=ld["Id"])
        sd = gg.create_subscription_definition(Name=f"subs-{i}")
        gg.get_subscription_definition(SubscriptionDefinitionId=sd["Id"])
        gg.list_group_versions(GroupId=g["Id"])
        quiet(gg.get_group, GroupId="11111111-2222-3333-4444-555555555555")
        quiet(gg.get_device_definition, DeviceDefinitionId="nope")
        gg.list_function_definitions()
        ct = cl("cloudtrail", key, ua, token)
        ct.lookup_events(MaxResults=10)
        ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateGroup"}])
        ct.describe_trails()
        quiet(ct.get_trail_status, Name="missing")
        s3 = cl("s3", key, ua, token)
        b = f"evdict-{i}-bucket"
        quiet(s3.create_bucket, Bucket=b)
        s3.put_object(Bucket=b, Key="config/app.json", Body=b"{}")
        s3.get_object(Bucket=b, Key="config/app.json")
        s3.list_objects_v2(Bucket=b)
        quiet(s3.head_object, Bucket=b, Key="missing")
        s3.list_buckets()
        sns = cl("sns", key, ua, token)
        t = sns.create_topic(Name=f"alerts-{i}")["TopicArn"]
        sns.list_topics()
        sns.get_topic_attributes(TopicArn=t)
        cl("sts", key, ua, token).get_caller_identity()
        cl("iam", key, ua, token).list_users()
    # the aws CLIs (their own user agents and request shapes)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=admin[0], AWS_SECRET_ACCESS_KEY=admin[1],
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    for cli in (shutil.which("aws"), "/usr/bin/aws"):
        if not cli or not os.path.exists(cli):
            continue
        for args in (["greengrass", "list-groups"], ["greengrass", "create-group", "--name", "cli-group"],
                     ["cloudtrail", "lookup-events", "--max-results", "5"], ["sts", "get-caller-identity"],
                     ["iam", "list-users"], ["s3api", "list-buckets"], ["sns", "list-topics"],
                     ["greengrass", "list-core-definitions"]):
            subprocess.run([cli, "--endpoint-url", url] + args, env=env, capture_output=True, timeout=120)


def samples(db_path):
    """Each stored event's record + summary, as evpack packs them."""
    import evdict
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    out = []
    for (blob,) in db.execute("SELECT json FROM events ORDER BY seq"):
        rec, summ = evdict.unpack(blob)
        out.append(rec + summ)
    db.close()
    return out


def dmers(s):
    return {s[i:i + D] for i in range(len(s) - D + 1)}


def build(corpora, size):
    freq = {}
    for sm in corpora[0]:
        for m in dmers(sm):
            freq[m] = freq.get(m, 0) + 1
    other = set()
    for sm in corpora[1]:
        other |= dmers(sm)
    freq = {m: f for m, f in freq.items() if m in other and f > 1}
    corpus = b"".join(corpora[0])
    epochs = max(1, size // K)
    elen = len(corpus) // epochs
    chosen = []
    total = 0
    for e in range(epochs):
        lo, hi = e * elen, min(len(corpus), (e + 1) * elen)
        best, best_at = 0, -1
        for at in range(lo, max(lo + 1, hi - K + 1), 4):
            seg = corpus[at:at + K]
            sc = sum(freq.get(m, 0) for m in dmers(seg))
            if sc > best:
                best, best_at = sc, at
        if best_at < 0:
            continue
        seg = corpus[best_at:best_at + K]
        for m in dmers(seg):
            freq.pop(m, None)
        chosen.append((best, seg))
        total += len(seg)
    chosen.sort(key=lambda x: x[0])   # best last
    d = b"".join(seg for _, seg in chosen)
    return d[-size:]


def write_c(path, version, d, note):
    lines = [f"/* evdict v{version}: a preset deflate dictionary for evpack blobs.",
             " * GENERATED by tools/gen_evdict.py; DO NOT EDIT, and never regenerate",
             " * in place: stored blobs name this version and need these exact bytes",
             " * (a new dictionary is a new version, a new file). tools/bulkload reads",
             f" * the bytes from this file too. {note} */",
             "#include <stddef.h>", "",
             f"extern const unsigned char evdict_v{version}[{len(d)}];",
             f"extern const size_t evdict_v{version}_len;", "",
             f"const unsigned char evdict_v{version}[{len(d)}] = {{"]
    for i in range(0, len(d), 16):
        lines.append("    " + ", ".join(f"0x{b:02x}" for b in d[i:i + 16]) + ",")
    lines.append("};")
    lines.append(f"const size_t evdict_v{version}_len = {len(d)};")
    lines.append(f"/* adler32: 0x{zlib.adler32(d):08x} */")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", type=int, required=True)
    ap.add_argument("--size", type=int, default=16384)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "greentrail"))
    ap.add_argument("--out", help="default: src/store/evdict_vN.gen.c")
    ap.add_argument("--raw", help="also write the bytes to this file")
    ap.add_argument("--samples", help="also write the samples (a pickle) to this file")
    args = ap.parse_args()
    out = args.out or os.path.join(ROOT, "src", "store", f"evdict_v{args.version}.gen.c")
    if os.path.exists(out):
        print(f"gen_evdict: {out} exists: a dictionary is never regenerated in place (use a new --version)",
              file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="evdict-")
    corpora = []
    try:
        for name in ("a", "b"):
            dd = os.path.join(tmp, name)
            os.makedirs(dd)
            p, url = start(args.bin, dd)
            try:
                calls(url, dd)
            finally:
                p.terminate()
                p.wait()
            corpora.append(samples(os.path.join(dd, "greentrail.db")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.samples:
        import pickle
        with open(args.samples, "wb") as f:
            pickle.dump(corpora, f)
    d = build(corpora, args.size)
    n = sum(len(c) for c in corpora)
    write_c(out, args.version, d, f"{len(d)} bytes from {n} records of two servers.")
    if args.raw:
        with open(args.raw, "wb") as f:
            f.write(d)
    print(f"gen_evdict: wrote {out} ({len(d)} bytes from {n} samples)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
