#!/usr/bin/env python3
"""Multi-Region keys with boto3 against `ebsim kms serve`: a primary made in us-west-2
encrypts, its replica in us-east-1 decrypts; DescribeKey's MultiRegionConfiguration from both
sides; ReplicateKey into the same region refused; UpdatePrimaryRegion; a primary with a
replica goes to PendingReplicaDeletion. Usage: kms_mrk_boto3.py ENDPOINT_URL. Exits non-zero
(with the failing step) on the first unexpected result."""

import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError

endpoint = sys.argv[1]


def client(region):
    return boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return e
    raise AssertionError(f"expected {code}, call succeeded")


west, east = client("us-west-2"), client("us-east-1")
meta = west.create_key(MultiRegion=True, Description="global")["KeyMetadata"]
key_id = meta["KeyId"]
assert key_id.startswith("mrk-") and meta["MultiRegion"] is True, meta
assert meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY", meta
ctx = {"app": "global"}
blob = west.encrypt(KeyId=key_id, Plaintext=b"across regions", EncryptionContext=ctx)[
    "CiphertextBlob"
]
expect_error("NotFoundException", east.describe_key, KeyId=key_id)
rep = west.replicate_key(KeyId=key_id, ReplicaRegion="us-east-1", Description="east copy")
replica = rep["ReplicaKeyMetadata"]
assert replica["KeyId"] == key_id and ":us-east-1:" in replica["Arn"], replica
assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA", replica
out = east.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
assert out["Plaintext"] == b"across regions", out
assert out["KeyId"] == replica["Arn"], out
conf = west.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
assert [r["Region"] for r in conf["ReplicaKeys"]] == ["us-east-1"], conf
print("ok replica decrypts the primary's ciphertext")

expect_error("ValidationException", west.replicate_key, KeyId=key_id, ReplicaRegion="us-west-2")
expect_error("AlreadyExistsException", west.replicate_key, KeyId=key_id, ReplicaRegion="us-east-1")
expect_error("UnsupportedOperationException", east.replicate_key, KeyId=key_id, ReplicaRegion="eu-west-1")
print("ok replicate refusals")

west.update_primary_region(KeyId=key_id, PrimaryRegion="us-east-1")
assert east.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
assert west.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
print("ok update primary region")

out = east.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
assert out["KeyState"] == "PendingReplicaDeletion", out
meta = east.describe_key(KeyId=key_id)["KeyMetadata"]
assert meta["KeyState"] == "PendingReplicaDeletion" and meta["PendingDeletionWindowInDays"] == 7, meta
assert west.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == b"across regions"
print("ok pending replica deletion")
print("ALL OK")
