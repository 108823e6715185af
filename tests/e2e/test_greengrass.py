"""Greengrass V1 calls through boto3: shapes, ARNs, omission of unset
fields, errors as AWS answers them, paging, and a record for each call."""
import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION

ARN = f"arn:aws:greengrass:{REGION}:{ACCOUNT}:/greengrass"


def err(excinfo):
    e = excinfo.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"], e["Error"]["Message"]


def test_group_lifecycle(server):
    gg = server.client("greengrass")
    g = gg.create_group(Name="g")
    assert g["Arn"] == f"{ARN}/groups/{g['Id']}"
    assert "LatestVersion" not in g and "LatestVersionArn" not in g and "tags" not in g
    got = gg.get_group(GroupId=g["Id"])
    assert got["Name"] == "g" and got["tags"] == {}
    assert got["CreationTimestamp"] == got["LastUpdatedTimestamp"]
    v = gg.create_group_version(GroupId=g["Id"])
    assert v["Arn"] == f"{ARN}/groups/{g['Id']}/versions/{v['Version']}" and v["Id"] == g["Id"]
    got = gg.get_group(GroupId=g["Id"])
    assert got["LatestVersion"] == v["Version"] and got["LatestVersionArn"] == v["Arn"]
    assert [x["Version"] for x in gg.list_group_versions(GroupId=g["Id"])["Versions"]] == [v["Version"]]
    assert [x["Id"] for x in gg.list_groups()["Groups"]] == [g["Id"]]
    gg.delete_group(GroupId=g["Id"])
    with pytest.raises(ClientError) as e:
        gg.get_group(GroupId=g["Id"])
    assert err(e) == (404, "IdNotFoundException", "That Group Definition does not exist.")
    with pytest.raises(ClientError) as e:
        gg.delete_group(GroupId=g["Id"])
    assert err(e) == (404, "IdNotFoundException", "That group definition does not exist.")
    assert gg.list_groups()["Groups"] == []
    # every call recorded, failures too
    recs = server.records("GetGroup")
    assert len(recs) == 3 and sum(1 for r in recs if r.get("errorCode") == "IdNotFoundException") == 1
    failed = [r for r in recs if "errorCode" in r][0]
    assert failed["requestParameters"] == {"GroupId": g["Id"]}
    assert failed["responseElements"] == {"Message": "That Group Definition does not exist."}


def test_definition_versions_and_errors(server):
    gg = server.client("greengrass")
    d = gg.create_function_definition(Name="fd")
    assert "LatestVersion" not in d
    fv = gg.create_function_definition_version(
        FunctionDefinitionId=d["Id"], Functions=[{"Id": "a", "FunctionArn": "arn:aws:lambda:::function:GGIPDetector:1"}])
    got = gg.get_function_definition_version(FunctionDefinitionId=d["Id"], FunctionDefinitionVersionId=fv["Version"])
    assert got["Definition"] == {"Functions": [{"Id": "a", "FunctionArn": "arn:aws:lambda:::function:GGIPDetector:1"}]}
    with pytest.raises(ClientError) as e:
        gg.get_function_definition_version(FunctionDefinitionId=d["Id"], FunctionDefinitionVersionId="nope")
    assert err(e) == (404, "VersionNotFoundException",
                      f"Version nope of Lambda List Definition {d['Id']} does not exist.")
    with pytest.raises(ClientError) as e:
        gg.get_function_definition(FunctionDefinitionId="missing")
    assert err(e) == (404, "IdNotFoundException", "That Lambda List Definition does not exist.")
    with pytest.raises(ClientError) as e:
        gg.create_function_definition_version(FunctionDefinitionId="missing")
    assert err(e) == (404, "IdNotFoundException", "That lambdas does not exist.")
    # rename only; empty name refused
    gg.update_function_definition(FunctionDefinitionId=d["Id"], Name="renamed")
    assert gg.get_function_definition(FunctionDefinitionId=d["Id"])["Name"] == "renamed"
    with pytest.raises(ClientError) as e:
        gg.update_function_definition(FunctionDefinitionId=d["Id"], Name="")
    assert err(e)[:2] == (400, "InvalidContainerDefinitionException")
    # create-version record masks the content
    ok, bad = [r for r in server.records("CreateFunctionDefinitionVersion") if "errorCode" not in r], \
        [r for r in server.records("CreateFunctionDefinitionVersion") if "errorCode" in r]
    assert len(ok) == 1 and len(bad) == 1
    assert bad[0]["errorCode"] == "IdNotFoundException"
    assert bad[0]["requestParameters"] == {"FunctionDefinitionId": "missing"}
    r = ok[0]
    assert r["requestParameters"] == {"FunctionDefinitionId": d["Id"], "Functions": "***"}


def test_group_version_references_checked(server):
    gg = server.client("greengrass")
    g = gg.create_group(Name="g")
    bad = f"{ARN}/definition/cores/00000000-0000-4000-8000-000000000000/versions/00000000-0000-4000-8000-000000000001"
    with pytest.raises(ClientError) as e:
        gg.create_group_version(GroupId=g["Id"], CoreDefinitionVersionArn=bad)
    status, code, msg = err(e)
    assert status == 400
    assert msg == "The group is invalid or corrupted. (ErrorDetails: [Cores definition reference does not exist])"
    assert "LatestVersion" not in gg.get_group(GroupId=g["Id"])   # nothing changed
    with pytest.raises(ClientError) as e:
        gg.create_group_version(GroupId="missing")
    assert err(e) == (404, "IdNotFoundException", "That group does not exist.")


def test_initial_version_on_create_group(server):
    gg = server.client("greengrass")
    cd = gg.create_core_definition(InitialVersion={"Cores": [{
        "Id": "c", "CertificateArn": "arn:aws:iot:us-east-1:123456789012:cert/abc",
        "ThingArn": "arn:aws:iot:us-east-1:123456789012:thing/core"}]})
    assert "Name" not in cd
    g = gg.create_group(Name="with-initial", InitialVersion={"CoreDefinitionVersionArn": cd["LatestVersionArn"]})
    v = gg.get_group_version(GroupId=g["Id"], GroupVersionId=g["LatestVersion"])
    assert v["Definition"] == {"CoreDefinitionVersionArn": cd["LatestVersionArn"]}
    [r] = server.records("CreateGroup")
    assert r["requestParameters"] == {"Name": "with-initial", "InitialVersion": "***"}


def test_paging(server):
    gg = server.client("greengrass")
    ids = [gg.create_group(Name=f"g{i}")["Id"] for i in range(5)]
    seen, token = [], None
    while True:
        kw = {"MaxResults": "2"}
        if token:
            kw["NextToken"] = token
        page = gg.list_groups(**kw)
        assert len(page["Groups"]) <= 2
        seen += [x["Id"] for x in page["Groups"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == ids
    # the paginator works too
    assert [x["Id"] for p in gg.get_paginator("list_groups").paginate(PaginationConfig={"PageSize": 3})
            for x in p["Groups"]] == ids
    with pytest.raises(ClientError) as e:
        gg.list_groups(NextToken="forged")
    assert err(e)[:2] == (400, "BadRequestException")
    with pytest.raises(ClientError) as e:
        gg.list_groups(MaxResults="zero")
    assert err(e)[:2] == (400, "BadRequestException")


def test_service_role_and_connectivity(server):
    gg = server.client("greengrass")
    assert "RoleArn" not in gg.get_service_role_for_account()
    role = f"arn:aws:iam::{ACCOUNT}:role/service-role/Greengrass_ServiceRole"
    at = gg.associate_service_role_to_account(RoleArn=role)["AssociatedAt"]
    assert len(at) == 20 and at.endswith("Z")          # no milliseconds
    got = gg.get_service_role_for_account()
    assert got["RoleArn"] == role and got["AssociatedAt"] == at
    assert gg.disassociate_service_role_from_account()["DisassociatedAt"].endswith("Z")
    assert "RoleArn" not in gg.get_service_role_for_account()
    info = [{"Id": "1", "HostAddress": "192.168.1.2", "PortNumber": 8883, "Metadata": ""}]
    ver = gg.update_connectivity_info(ThingName="core1", ConnectivityInfo=info)["Version"]
    assert len(ver) == 36
    assert gg.get_connectivity_info(ThingName="core1")["ConnectivityInfo"] == info
    [r] = server.records("AssociateServiceRoleToAccount")
    assert r["requestParameters"] == {"RoleArn": role} and r["responseElements"] == {"AssociatedAt": at}


def test_bad_input_changes_nothing(server):
    import boto3
    import botocore.config
    ak, sk = server.key()
    # client-side validation off, so the server's own checks are exercised
    gg = boto3.client("greengrass", endpoint_url=server.url, region_name=REGION, aws_access_key_id=ak,
                      aws_secret_access_key=sk,
                      config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:      # Name is required
        gg.create_group()
    assert err(e)[:2] == (400, "BadRequestException")
    with pytest.raises(ClientError) as e:      # wrong type inside a structure
        gg.create_group(Name="x", InitialVersion={"CoreDefinitionVersionArn": 5})
    assert err(e)[:2] == (400, "BadRequestException")
    with pytest.raises(ClientError) as e:      # wrong type in a list
        gg.update_connectivity_info(ThingName="t", ConnectivityInfo=[{"PortNumber": "x"}])
    assert err(e)[:2] == (400, "BadRequestException")
    assert gg.list_groups()["Groups"] == []
    assert "ConnectivityInfo" not in gg.get_connectivity_info(ThingName="t")
    failed = server.records("CreateGroup")
    assert len(failed) == 2 and all(r["errorCode"] == "BadRequestException" for r in failed)
