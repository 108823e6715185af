"""Keys and policies are cached between calls (src/auth/authcache.c). On
one node every IAM change applies to the very next call, as without the
cache, whatever the kind of change (key status, key deletion, group
membership, inline and managed policies). Across nodes sharing a
PostgreSQL store a change reaches the other node's cache within 1 s
(AUTH_CACHE_TTL_MS; AWS IAM is eventually consistent too)."""
import os
import time

import botocore.exceptions
import pytest

from iam_util import client, doc, make_user

GG_LIST = {"Effect": "Allow", "Action": "greengrass:List*", "Resource": "*"}


def refused(fn):
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        fn()
    return ei.value.response["Error"]["Code"]


def test_key_status_and_deletion_apply_to_the_next_call(server):
    iam = server.client("iam")
    u = make_user(server, "cachekey", doc(GG_LIST))
    gg = client(server, "greengrass", u)
    for _ in range(3):   # warm the cache
        gg.list_groups()
    iam.update_access_key(UserName="cachekey", AccessKeyId=u[0], Status="Inactive")
    assert refused(gg.list_groups) in ("UnrecognizedClientException", "InvalidSignatureException",
                                       "InvalidClientTokenId")
    iam.update_access_key(UserName="cachekey", AccessKeyId=u[0], Status="Active")
    gg.list_groups()
    iam.delete_access_key(UserName="cachekey", AccessKeyId=u[0])
    assert refused(gg.list_groups) in ("UnrecognizedClientException", "InvalidSignatureException",
                                       "InvalidClientTokenId")


def test_group_membership_and_policy_versions_apply_to_the_next_call(server):
    iam = server.client("iam")
    u = make_user(server, "cachegrp")
    gg = client(server, "greengrass", u)
    assert refused(gg.list_groups) == "AccessDeniedException"
    iam.create_group(GroupName="readers")
    iam.put_group_policy(GroupName="readers", PolicyName="r", PolicyDocument=doc(GG_LIST))
    iam.add_user_to_group(GroupName="readers", UserName="cachegrp")
    gg.list_groups()
    gg.list_groups()
    iam.remove_user_from_group(GroupName="readers", UserName="cachegrp")
    assert refused(gg.list_groups) == "AccessDeniedException"

    # an inline policy replaced by a narrower one
    iam.put_user_policy(UserName="cachegrp", PolicyName="inl", PolicyDocument=doc(GG_LIST))
    gg.list_groups()
    iam.put_user_policy(UserName="cachegrp", PolicyName="inl", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "greengrass:GetGroup", "Resource": "*"}))
    assert refused(gg.list_groups) == "AccessDeniedException"
    # a managed policy attached, then deleted from under the user
    arn = iam.create_policy(PolicyName="v", PolicyDocument=doc(GG_LIST))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="cachegrp", PolicyArn=arn)
    gg.list_groups()
    iam.detach_user_policy(UserName="cachegrp", PolicyArn=arn)
    assert refused(gg.list_groups) == "AccessDeniedException"


@pytest.mark.skipif(not os.environ.get("GREENTRAIL_TEST_STORE"),
                    reason="several nodes need PostgreSQL (tools/run-tests runs this in its PostgreSQL pass)")
def test_other_node_sees_a_revocation_within_the_ttl(make_server):
    a = make_server()
    b = make_server(args=["--store", a.store_url])
    u = make_user(a, "twonode", doc(GG_LIST))
    gg_a, gg_b = client(a, "greengrass", u), client(b, "greengrass", u)
    gg_a.list_groups()
    gg_b.list_groups()   # node b has the key and the policies cached now
    a.client("iam").delete_user_policy(UserName="twonode", PolicyName="p0")
    assert refused(gg_a.list_groups) == "AccessDeniedException"   # this node: at once
    deadline = time.time() + 1.0 + 2.0   # the TTL, plus slack for a loaded machine
    while True:
        try:
            gg_b.list_groups()
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "AccessDeniedException"
            break
        assert time.time() < deadline, "node b still allows the call well after the 1 s TTL"
        time.sleep(0.1)
