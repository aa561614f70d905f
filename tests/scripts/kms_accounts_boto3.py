#!/usr/bin/env python3
"""boto3 against `ebsim kms serve` in its credential modes: moto's `testing`/`testing` under
any-as-root, regions that keep their own keys, a 12-digit access key id acting as another
account's root, a cross-account key policy (the other account's IAM must allow its user too),
an unknown region, and a strict server that refuses `test`.

Usage: kms_accounts_boto3.py ANY_URL STRICT_URL STRICT_ROOT_KEY STRICT_ROOT_SECRET
       BOB_KEY BOB_SECRET CAROL_KEY CAROL_SECRET
(bob and carol are IAM users of 111122223333 on the any-as-root server; bob has an identity
policy allowing kms:Encrypt, kms:Decrypt and kms:DescribeKey, carol none.)
Prints ALL OK on success; exits non-zero with the failing step otherwise."""

import json
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError

(any_url, strict_url, root_key, root_secret, bob_key, bob_secret, carol_key, carol_secret) = sys.argv[1:9]
cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})


def client(url, key, secret, region="us-west-2"):
    return boto3.client(
        "kms",
        endpoint_url=url,
        region_name=region,
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


# moto's documented credentials are the default account's root.
east = client(any_url, "testing", "testing", "us-east-1")
key = east.create_key(Description="east")["KeyMetadata"]
assert key["Arn"].startswith("arn:aws:kms:us-east-1:111122223333:key/"), key["Arn"]
print("testing/testing under any-as-root: ok")

# Regions keep their own keys; an ARN of another region is not found there.
sea = client(any_url, "testing", "testing", "ap-southeast-1")
assert [k["KeyArn"] for k in east.list_keys()["Keys"]] == [key["Arn"]]
assert sea.list_keys()["Keys"] == []
expect_error("NotFoundException", sea.describe_key, KeyId=key["Arn"])
expect_error("NotFoundException", sea.describe_key, KeyId=key["KeyId"])
east.create_alias(AliasName="alias/app", TargetKeyId=key["KeyId"])
expect_error("NotFoundException", sea.describe_key, KeyId="alias/app")
blob = east.encrypt(KeyId=key["KeyId"], Plaintext=b"hello")["CiphertextBlob"]
expect_error("AccessDeniedException", sea.decrypt, CiphertextBlob=blob)
assert east.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello"
print("region isolation and ARNs: ok")

# An unknown region is refused as AWS refuses it.
e = expect_error("InvalidSignatureException", client(any_url, "testing", "testing", "xx-fake-1").list_keys)
assert "valid region" in e.response["Error"]["Message"], e.response
print("unknown region: ok")

# A 12-digit access key id is that account's root; its key policy lets 111122223333 in.
other = client(any_url, "123456789012", "anything", "us-east-1")
policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"},
    ],
}
shared = other.create_key(Policy=json.dumps(policy))["KeyMetadata"]
assert shared["Arn"].startswith("arn:aws:kms:us-east-1:123456789012:key/"), shared["Arn"]
assert shared["AWSAccountId"] == "123456789012"
# Another account sees it by ARN only, never in its own list.
assert shared["Arn"] not in [k["KeyArn"] for k in east.list_keys()["Keys"]]
expect_error("NotFoundException", east.describe_key, KeyId=shared["KeyId"])
blob = east.encrypt(KeyId=shared["Arn"], Plaintext=b"partner")["CiphertextBlob"]
assert other.decrypt(CiphertextBlob=blob)["Plaintext"] == b"partner"
bob = client(any_url, bob_key, bob_secret, "us-east-1")
assert bob.decrypt(CiphertextBlob=blob)["Plaintext"] == b"partner"
carol = client(any_url, carol_key, carol_secret, "us-east-1")
expect_error("AccessDeniedException", carol.decrypt, CiphertextBlob=blob)
# Issued keys are verified even under any-as-root.
expect_error("InvalidSignatureException", client(any_url, bob_key, "wrong", "us-east-1").list_keys)
# A third account the policy does not name is refused.
expect_error("AccessDeniedException", client(any_url, "999999999999", "x", "us-east-1").decrypt, CiphertextBlob=blob)
print("cross-account key policy: ok")

# strict: test/test is refused; the account root's issued key works.
expect_error("UnrecognizedClientException", client(strict_url, "test", "test").list_keys)
expect_error("UnrecognizedClientException", client(strict_url, "testing", "testing").list_keys)
strict = client(strict_url, root_key, root_secret)
k = strict.create_key()["KeyMetadata"]
assert k["Arn"].startswith("arn:aws:kms:us-west-2:111122223333:key/"), k["Arn"]
expect_error("InvalidSignatureException", client(strict_url, root_key, "wrong").list_keys)
print("strict: ok")

print("ALL OK")
