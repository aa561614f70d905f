#!/usr/bin/env python3
"""boto3 against an AWS KMS endpoint (`ebsim kms serve`): keys, aliases, data keys under an
encryption context, Decrypt with a right and a wrong context, grants with constraints, key
policies (including a malformed one), rotation, disable/enable, tags, DryRun, deletion
scheduling, and authentication failures. Usage: kms_boto3.py ENDPOINT_URL GRANTEE_ACCESS_KEY GRANTEE_SECRET
GRANTEE_ARN. Exits non-zero (with the failing step) on the first unexpected result."""

import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError

endpoint, g_key, g_secret, g_arn = sys.argv[1:5]
cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})


def client(key="test", secret="test"):
    return boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name="us-west-2",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=cfg,
    )


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return e
    raise AssertionError(f"expected {code}, call succeeded")


kms = client()
ctx = {"aws:ebs:id": "vol-0123456789abcdef0"}
wrong_ctx = {"aws:ebs:id": "vol-0123456789abcdef1"}

meta = kms.create_key(Description="boto3 flow")["KeyMetadata"]
key_id, key_arn = meta["KeyId"], meta["Arn"]
assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
assert hasattr(meta["CreationDate"], "year"), "timestamps parse as datetimes"
assert any(k["KeyId"] == key_id for k in kms.list_keys()["Keys"])

kms.create_alias(AliasName="alias/boto3", TargetKeyId=key_id)
expect_error("AlreadyExistsException", kms.create_alias, AliasName="alias/boto3", TargetKeyId=key_id)
assert kms.describe_key(KeyId="alias/boto3")["KeyMetadata"]["KeyId"] == key_id
names = [a["AliasName"] for p in kms.get_paginator("list_aliases").paginate() for a in p["Aliases"]]
assert "alias/boto3" in names

dk = kms.generate_data_key_without_plaintext(KeyId="alias/boto3", NumberOfBytes=64, EncryptionContext=ctx)
assert dk["KeyId"] == key_arn and "Plaintext" not in dk
blob = dk["CiphertextBlob"]
out = kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
assert len(out["Plaintext"]) == 64 and out["KeyId"] == key_arn
err = expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=wrong_ctx)
assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob[:-1] + bytes([blob[-1] ^ 1]), EncryptionContext=ctx)
gdk = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=ctx)
assert kms.decrypt(CiphertextBlob=gdk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == gdk["Plaintext"]
expect_error("ValidationException", kms.generate_data_key, KeyId=key_id, NumberOfBytes=2048)
rid = kms.list_keys()["ResponseMetadata"]["RequestId"]
assert len(rid) == 36 and rid.count("-") == 4, rid

grantee = client(g_key, g_secret)
expect_error("AccessDeniedException", grantee.decrypt, CiphertextBlob=blob, EncryptionContext=ctx)
grant = kms.create_grant(
    KeyId=key_id,
    GranteePrincipal=g_arn,
    Operations=["Decrypt"],
    Constraints={"EncryptionContextSubset": ctx},
    Name="boto3-grant",
)
assert len(grant["GrantId"]) == 64
assert len(grantee.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"]) == 64
other = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=64, EncryptionContext=wrong_ctx)
expect_error("AccessDeniedException", grantee.decrypt, CiphertextBlob=other["CiphertextBlob"], EncryptionContext=wrong_ctx)
grants = kms.list_grants(KeyId=key_id)["Grants"]
assert any(g["GrantId"] == grant["GrantId"] and g["GranteePrincipal"] == g_arn for g in grants)
kms.retire_grant(KeyId=key_arn, GrantId=grant["GrantId"])
expect_error("AccessDeniedException", grantee.decrypt, CiphertextBlob=blob, EncryptionContext=ctx)

policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
expect_error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key_id, PolicyName="default", Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow"')
kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)

kms.enable_key_rotation(KeyId=key_id)
assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key_arn
assert len(kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"]) == 64

kms.disable_key(KeyId=key_id)
expect_error("DisabledException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx)
kms.enable_key(KeyId=key_id)
kms.encrypt(KeyId=key_id, Plaintext=b"x")

kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "team", "TagValue": "storage"}, {"TagKey": "env", "TagValue": "test"}])
assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [
    {"TagKey": "team", "TagValue": "storage"},
    {"TagKey": "env", "TagValue": "test"},
]
expect_error("TagException", kms.tag_resource, KeyId=key_id, Tags=[{"TagKey": "aws:x", "TagValue": "1"}])
kms.untag_resource(KeyId=key_id, TagKeys=["team"])
assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "env", "TagValue": "test"}]
tagged = kms.create_key(Tags=[{"TagKey": "made-by", "TagValue": "boto3"}])["KeyMetadata"]["KeyId"]
assert kms.list_resource_tags(KeyId=tagged)["Tags"] == [{"TagKey": "made-by", "TagValue": "boto3"}]

err = expect_error("DryRunOperationException", kms.encrypt, KeyId=key_id, Plaintext=b"x", DryRun=True)
assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
expect_error("DryRunOperationException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx, DryRun=True)
expect_error("DryRunOperationException", kms.decrypt, KeyId=key_id, DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
expect_error("AccessDeniedException", grantee.decrypt, KeyId=key_id, DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
expect_error("DryRunOperationException", kms.create_grant, KeyId=key_id, GranteePrincipal=g_arn, Operations=["Decrypt"], DryRun=True)
assert not kms.list_grants(KeyId=key_id)["Grants"], "a dry run creates no grant"

expect_error("ValidationException", kms.schedule_key_deletion, KeyId=key_id, PendingWindowInDays=31)
sched = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
assert sched["KeyState"] == "PendingDeletion" and hasattr(sched["DeletionDate"], "year")
expect_error("KMSInvalidStateException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
kms.cancel_key_deletion(KeyId=key_id)
assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"

expect_error("UnrecognizedClientException", client("AKIAUNKNOWN", "x").list_keys)
expect_error("InvalidSignatureException", client("test", "wrong").list_keys)
expect_error("NotFoundException", kms.describe_key, KeyId="alias/none")

print("ALL OK")
