#!/usr/bin/env python3
"""boto3's iam and sts clients against `ebsim serve` (docs/iam.md): a user's lifecycle, a role
assumed and used against a key policy naming it, a trust-policy refusal, an expired session, a
missing session token, a managed policy attached then detached, pagination over 150 users, and
bad input answered with AWS's codes. Usage: iam_sts_boto3.py ENDPOINT_URL EBSIM_BIN DATA_DIR.
Exits non-zero (with the failing step) on the first unexpected result; prints ALL OK."""

import json
import subprocess
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError

endpoint, ebsim_bin, data_dir = sys.argv[1:4]
cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})


def client(service, key="test", secret="test", token=None):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-west-2",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=cfg,
    )


def creds(c):
    """Clients' keyword arguments for an AccessKey or Credentials answer."""
    return dict(key=c["AccessKeyId"], secret=c["SecretAccessKey"], token=c.get("SessionToken"))


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return e
    raise AssertionError(f"expected {code}, call succeeded")


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resource="*"):
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


iam, sts, kms = client("iam"), client("sts"), client("kms")
ACCOUNT = "111122223333"
assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
key = kms.create_key()["KeyMetadata"]["Arn"]
blob = kms.encrypt(KeyId=key, Plaintext=b"secret")["CiphertextBlob"]

# --- a user's lifecycle: create, key, inline policy, KMS use, key deleted -> refused
user = iam.create_user(UserName="alice")["User"]
assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice" and user["UserId"].startswith("AIDA")
iam.get_waiter("user_exists").wait(UserName="alice")
ak = iam.create_access_key(UserName="alice")["AccessKey"]
assert ak["AccessKeyId"].startswith("AKIA") and ak["Status"] == "Active"
alice_kms = client("kms", **creds(ak))
expect_error("AccessDeniedException", alice_kms.decrypt, CiphertextBlob=blob)
policy = doc(allow(["kms:Decrypt", "kms:Encrypt"]), allow("sts:AssumeRole"))
iam.put_user_policy(UserName="alice", PolicyName="use-keys", PolicyDocument=policy)
got = iam.get_user_policy(UserName="alice", PolicyName="use-keys")["PolicyDocument"]
assert got == json.loads(policy), got
assert iam.list_user_policies(UserName="alice")["PolicyNames"] == ["use-keys"]
assert alice_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
assert client("sts", **creds(ak)).get_caller_identity()["UserId"] == user["UserId"]
assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]] == [ak["AccessKeyId"]]
iam.update_access_key(UserName="alice", AccessKeyId=ak["AccessKeyId"], Status="Inactive")
expect_error("UnrecognizedClientException", alice_kms.decrypt, CiphertextBlob=blob)
iam.update_access_key(UserName="alice", AccessKeyId=ak["AccessKeyId"], Status="Active")
alice_key2 = iam.create_access_key(UserName="alice")["AccessKey"]
expect_error("LimitExceeded", iam.create_access_key, UserName="alice")
expect_error("DeleteConflict", iam.delete_user, UserName="alice")
iam.delete_access_key(UserName="alice", AccessKeyId=ak["AccessKeyId"])
expect_error("UnrecognizedClientException", alice_kms.decrypt, CiphertextBlob=blob)
expect_error("InvalidClientTokenId", client("sts", **creds(ak)).get_caller_identity)
alice = creds(alice_key2)

# --- a role assumed, its session used against a key policy that names the role
trust = doc({"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"})
role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=trust, MaxSessionDuration=7200)["Role"]
assert role["RoleId"].startswith("AROA") and role["AssumeRolePolicyDocument"] == json.loads(trust)
assert iam.get_role(RoleName="reader")["Role"]["MaxSessionDuration"] == 7200
key_policy = doc(
    {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "reader", "Effect": "Allow", "Principal": {"AWS": role["Arn"]}, "Action": "kms:Decrypt", "Resource": "*"},
)
kms.put_key_policy(KeyId=key, PolicyName="default", Policy=key_policy)
alice_sts = client("sts", **alice)
out = alice_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="job-1")
assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/job-1"
assert out["AssumedRoleUser"]["AssumedRoleId"] == role["RoleId"] + ":job-1"
session = creds(out["Credentials"])
me = client("sts", **session).get_caller_identity()
assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/job-1", me
assert client("kms", **session).decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
expect_error("AccessDeniedException", client("kms", **session).encrypt, KeyId=key, Plaintext=b"x")

# --- a trust-policy refusal; a duration out of range; root cannot assume
bob = iam.create_user(UserName="bob")["User"]
iam.put_user_policy(UserName="bob", PolicyName="assume", PolicyDocument=doc(allow("sts:AssumeRole")))
bob_sts = client("sts", **creds(iam.create_access_key(UserName="bob")["AccessKey"]))
e = expect_error("AccessDenied", bob_sts.assume_role, RoleArn=role["Arn"], RoleSessionName="x1")
assert bob["Arn"] in str(e)
expect_error("ValidationError", alice_sts.assume_role, RoleArn=role["Arn"], RoleSessionName="x1", DurationSeconds=7201)
expect_error("ValidationError", alice_sts.assume_role, RoleArn="not-an-arn-at-all-really", RoleSessionName="x1")
expect_error("ValidationError", alice_sts.assume_role, RoleArn=role["Arn"], RoleSessionName="bad:name")
expect_error("AccessDenied", sts.assume_role, RoleArn=role["Arn"], RoleSessionName="x1")

# --- a missing session token; a token without its key
no_token = dict(session, token=None)
expect_error("UnrecognizedClientException", client("kms", **no_token).decrypt, CiphertextBlob=blob)
expect_error("InvalidClientTokenId", client("sts", **no_token).get_caller_identity)
stray = dict(alice, token=session["token"])
expect_error("InvalidClientTokenId", client("sts", **stray).get_caller_identity)

# --- an expired session (900 s, then the simulated clock moves a day on)
short = creds(alice_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="short", DurationSeconds=900)["Credentials"])
assert client("kms", **short).decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
subprocess.run([ebsim_bin, "--data-dir", data_dir, "clock", "advance", "1"], check=True, capture_output=True)
expect_error("ExpiredTokenException", client("kms", **short).decrypt, CiphertextBlob=blob)
expect_error("ExpiredToken", client("sts", **short).get_caller_identity)
subprocess.run([ebsim_bin, "--data-dir", data_dir, "clock", "reset"], check=True, capture_output=True)

# --- a managed policy attached, then detached
carol = iam.create_user(UserName="carol")["User"]
carol_kms = client("kms", **creds(iam.create_access_key(UserName="carol")["AccessKey"]))
expect_error("AccessDeniedException", carol_kms.list_keys)
mp = iam.create_policy(PolicyName="lister", PolicyDocument=doc(allow("kms:ListKeys")), Description="list keys")["Policy"]
assert mp["DefaultVersionId"] == "v1" and mp["AttachmentCount"] == 0
iam.attach_user_policy(UserName="carol", PolicyArn=mp["Arn"])
assert iam.get_policy(PolicyArn=mp["Arn"])["Policy"]["AttachmentCount"] == 1
assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="carol")["AttachedPolicies"]] == [mp["Arn"]]
assert carol_kms.list_keys()["Keys"]
expect_error("DeleteConflict", iam.delete_policy, PolicyArn=mp["Arn"])
v2 = iam.create_policy_version(PolicyArn=mp["Arn"], PolicyDocument=doc(allow("kms:DescribeKey")), SetAsDefault=True)["PolicyVersion"]
assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"] is True
expect_error("AccessDeniedException", carol_kms.list_keys)
assert iam.get_policy_version(PolicyArn=mp["Arn"], VersionId="v1")["PolicyVersion"]["Document"] == json.loads(doc(allow("kms:ListKeys")))
assert any(p["Arn"] == mp["Arn"] for p in iam.list_policies(Scope="Local")["Policies"])
iam.detach_user_policy(UserName="carol", PolicyArn=mp["Arn"])
assert iam.list_attached_user_policies(UserName="carol")["AttachedPolicies"] == []
expect_error("NoSuchEntity", iam.detach_user_policy, UserName="carol", PolicyArn=mp["Arn"])
role_mp = iam.create_policy(PolicyName="decrypt", PolicyDocument=doc(allow("kms:Decrypt")))["Policy"]
iam.attach_role_policy(RoleName="reader", PolicyArn=role_mp["Arn"])
assert [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="reader")["AttachedPolicies"]] == ["decrypt"]
iam.detach_role_policy(RoleName="reader", PolicyArn=role_mp["Arn"])

# --- pagination over 150 users
for i in range(150):
    iam.create_user(UserName=f"page-user-{i:03d}", Path="/paged/")
page = iam.list_users(PathPrefix="/paged/", MaxItems=40)
assert page["IsTruncated"] is True and len(page["Users"]) == 40 and page["Marker"]
names = [u["UserName"] for p in iam.get_paginator("list_users").paginate(PathPrefix="/paged/", PaginationConfig={"PageSize": 40}) for u in p["Users"]]
assert names == [f"page-user-{i:03d}" for i in range(150)], names[:5]
assert len([u for p in iam.get_paginator("list_users").paginate() for u in p["Users"]]) == 153

# --- bad input: AWS's codes, nothing changed
before = iam.list_users()["Users"]
expect_error("ValidationError", iam.create_user, UserName="bad name")
expect_error("ValidationError", iam.create_user, UserName="x" * 65)
expect_error("EntityAlreadyExists", iam.create_user, UserName="ALICE")
expect_error("MalformedPolicyDocument", iam.put_user_policy, UserName="bob", PolicyName="p", PolicyDocument="{not json")
expect_error("MalformedPolicyDocument", iam.put_user_policy, UserName="bob", PolicyName="p",
             PolicyDocument=doc({"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}))
expect_error("LimitExceeded", iam.put_user_policy, UserName="bob", PolicyName="big",
             PolicyDocument=doc(dict(allow("kms:*"), Sid="a" * 2100)))
expect_error("MalformedPolicyDocument", iam.create_role, RoleName="r2", AssumeRolePolicyDocument=doc(allow("sts:AssumeRole")))
expect_error("ValidationError", iam.create_role, RoleName="r2", AssumeRolePolicyDocument=trust, MaxSessionDuration=50000)
expect_error("NoSuchEntity", iam.get_role, RoleName="r2")
expect_error("ValidationError", iam.get_policy, PolicyArn="not an arn, not at all")
assert iam.list_users()["Users"] == before
assert iam.list_user_policies(UserName="bob")["PolicyNames"] == ["assume"]

print("ALL OK")
