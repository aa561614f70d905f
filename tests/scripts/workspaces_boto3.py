#!/usr/bin/env python3
"""boto3's workspaces client (and aws-cli) against `ebsim serve` (docs/workspaces.md): a
simulated directory with users, registered; the fixed bundles; an encrypted WorkSpace
created, described, its user volume written through `ebsim volume write` and read back after
a reboot and a rebuild (the user volume kept, the root volume new); stop and start; its
volumes visible to EC2's DescribeVolumes; terminate (every grant on the key retired, the
volumes gone); a launch with a disabled key and one by a caller without kms:CreateGrant
(both end in ERROR); bad input answered with AWS's codes, changing nothing.
Usage: workspaces_boto3.py ENDPOINT_URL EBSIM_BIN DATA_DIR. Prints ALL OK."""

import json
import os
import subprocess
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError

endpoint, ebsim_bin, data_dir = sys.argv[1:4]
cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})


def client(service, key="test", secret="test"):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-west-2",
                        aws_access_key_id=key, aws_secret_access_key=secret, config=cfg)


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return e
    raise AssertionError(f"expected {code}, call succeeded")


def ebsim(*args, stdin=None, ok=True):
    out = subprocess.run([ebsim_bin, "--data-dir", data_dir, *args], input=stdin,
                         capture_output=True, env={**os.environ, "AWS_ACCESS_KEY_ID": ""})
    if ok:
        assert out.returncode == 0, f"ebsim {args}: {out.stderr.decode()}"
    return out


def record(ws_id):
    with open(os.path.join(data_dir, "workspaces", ws_id + ".json")) as f:
        return json.load(f)


kms, ws, ec2, iam = client("kms"), client("workspaces"), client("ec2"), client("iam")
key = kms.create_key()["KeyMetadata"]["Arn"]

# Directories and users.
d = ebsim("directory", "create", "corp.example.com").stdout.decode().strip()
alice_sid = ebsim("directory", "add-user", d, "alice").stdout.decode().strip()
assert alice_sid.startswith("S-1-5-21-"), alice_sid
ebsim("directory", "add-user", d, "bob", "--sid", "S-1-5-21-1-2-3-1200")
ebsim("directory", "add-user", d, "carol")
ebsim("directory", "add-user", d, "dave")
assert ebsim("directory", "add-user", d, "ALICE", ok=False).returncode != 0
assert ws.describe_workspace_directories()["Directories"] == []
# Not registered yet: no WorkSpace there.
f = ws.create_workspaces(Workspaces=[{"DirectoryId": d, "UserName": "alice",
                                      "BundleId": "wsb-stndw10x1"}])["FailedRequests"]
assert f[0]["ErrorCode"] == "ResourceNotFound.Directory", f
assert ws.register_workspace_directory(DirectoryId=d)["State"] == "REGISTERING"
expect_error("ResourceAlreadyExistsException", ws.register_workspace_directory, DirectoryId=d)
expect_error("ResourceNotFoundException", ws.register_workspace_directory,
             DirectoryId="d-0123456789")
dirs = ws.describe_workspace_directories(DirectoryIds=[d])["Directories"]
assert [x["State"] for x in dirs] == ["REGISTERED"], dirs
assert dirs[0]["DirectoryName"] == "corp.example.com"

# Bundles.
bundles = ws.describe_workspace_bundles(Owner="AMAZON")["Bundles"]
assert len(bundles) >= 3 and all(b["RootStorage"]["Capacity"].isdigit() for b in bundles)
assert ws.describe_workspace_bundles()["Bundles"] == []
one = ws.describe_workspace_bundles(BundleIds=["wsb-stndw10x1"])["Bundles"]
assert [b["ComputeType"]["Name"] for b in one] == ["STANDARD"], one
expect_error("InvalidParameterValuesException", ws.describe_workspace_bundles,
             BundleIds=["wsb-stndw10x1"], Owner="AMAZON")
cli = subprocess.run(["aws", "workspaces", "describe-workspace-bundles", "--owner", "AMAZON",
                      "--endpoint-url", endpoint, "--region", "us-west-2", "--output", "json"],
                     capture_output=True,
                     env={**os.environ, "AWS_ACCESS_KEY_ID": "test",
                          "AWS_SECRET_ACCESS_KEY": "test", "AWS_CONFIG_FILE": "/dev/null"})
assert cli.returncode == 0, cli.stderr.decode()
assert len(json.loads(cli.stdout)["Bundles"]) == len(bundles)

# Create and describe.
req = {"DirectoryId": d, "UserName": "alice", "BundleId": "wsb-stndw10x1",
       "VolumeEncryptionKey": key, "UserVolumeEncryptionEnabled": True,
       "RootVolumeEncryptionEnabled": True,
       "WorkspaceProperties": {"RunningMode": "AUTO_STOP", "RootVolumeSizeGib": 80,
                               "UserVolumeSizeGib": 10}}
out = ws.create_workspaces(Workspaces=[req])
assert out["FailedRequests"] == [], out
pending = out["PendingRequests"][0]
assert pending["State"] == "PENDING", pending
wid = pending["WorkspaceId"]
w = ws.describe_workspaces(WorkspaceIds=[wid])["Workspaces"][0]
assert w["State"] == "AVAILABLE", w
assert w["VolumeEncryptionKey"] == key and w["UserVolumeEncryptionEnabled"] is True
assert w["UserName"] == "alice" and w["DirectoryId"] == d
assert w["WorkspaceProperties"]["UserVolumeSizeGib"] == 10
assert ws.describe_workspaces(DirectoryId=d, UserName="ALICE")["Workspaces"][0]["WorkspaceId"] == wid
assert ws.describe_workspaces(WorkspaceIds=["ws-0000000000"])["Workspaces"] == []
expect_error("InvalidParameterValuesException", ws.describe_workspaces,
             WorkspaceIds=[wid], DirectoryId=d)
rec = record(wid)
root_vol, user_vol = rec["root_volume_id"], rec["user_volume_id"]
assert rec["user_sid"] == alice_sid

# The volumes are EBS volumes: EC2 sees them, encrypted under the key.
vols = {v["VolumeId"]: v for v in ec2.describe_volumes()["Volumes"]}
assert vols[root_vol]["KmsKeyId"] == key and vols[root_vol]["Size"] == 80, vols[root_vol]
assert vols[user_vol]["Encrypted"] and vols[user_vol]["Size"] == 10
assert vols[user_vol]["State"] == "in-use" and vols[root_vol]["State"] == "in-use", vols

# Bad input changes nothing.
before = (ws.describe_workspaces()["Workspaces"], len(ec2.describe_volumes()["Volumes"]))
bad = ws.create_workspaces(Workspaces=[
    dict(req),
    {**req, "DirectoryId": "d-0123456789"},
    {**req, "UserName": "bob", "BundleId": "wsb-nosuchbundle"},
    {**req, "UserName": "mallory"},
])
codes = [x["ErrorCode"] for x in bad["FailedRequests"]]
assert codes == ["ResourceExists.WorkSpace", "ResourceNotFound.Directory",
                 "ResourceNotFound.Bundle", "ResourceNotFound.User"], bad
assert bad["PendingRequests"] == []
assert bad["FailedRequests"][0]["ErrorMessage"] == "A WorkSpace already exists for the specified user."
assert (ws.describe_workspaces()["Workspaces"], len(ec2.describe_volumes()["Volumes"])) == before

# Data on the user volume survives a reboot and a rebuild.
payload = b"the user's documents"
ebsim("volume", "write", user_vol, "--offset", "4096", "--input", "-", stdin=payload)
assert ws.reboot_workspaces(RebootWorkspaceRequests=[{"WorkspaceId": wid}])["FailedRequests"] == []
assert ws.describe_workspaces(WorkspaceIds=[wid])["Workspaces"][0]["State"] == "AVAILABLE"
read = lambda v: ebsim("volume", "read", v, "--offset", "4096", "--length", str(len(payload))).stdout
assert read(user_vol) == payload
assert ws.rebuild_workspaces(RebuildWorkspaceRequests=[{"WorkspaceId": wid}])["FailedRequests"] == []
rec = record(wid)
assert rec["user_volume_id"] == user_vol and rec["root_volume_id"] != root_vol, rec
assert read(user_vol) == payload
vols = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
assert root_vol not in vols and rec["root_volume_id"] in vols

# Stop and start; wrong states are per-item failures.
assert ws.stop_workspaces(StopWorkspaceRequests=[{"WorkspaceId": wid}])["FailedRequests"] == []
assert ws.describe_workspaces(WorkspaceIds=[wid])["Workspaces"][0]["State"] == "STOPPED"
f = ws.reboot_workspaces(RebootWorkspaceRequests=[{"WorkspaceId": wid}])["FailedRequests"]
assert f[0]["ErrorCode"] == "InvalidResourceState", f
assert ws.start_workspaces(StartWorkspaceRequests=[{"WorkspaceId": wid}])["FailedRequests"] == []
assert ws.describe_workspaces(WorkspaceIds=[wid])["Workspaces"][0]["State"] == "AVAILABLE"
# A key disabled after launch: a reboot leaves the WorkSpace UNHEALTHY; enabled again, a
# reboot brings it back with its data.
kms.disable_key(KeyId=key)
assert ws.reboot_workspaces(RebootWorkspaceRequests=[{"WorkspaceId": wid}])["FailedRequests"] == []
w = ws.describe_workspaces(WorkspaceIds=[wid])["Workspaces"][0]
assert w["State"] == "UNHEALTHY" and w["ErrorCode"] == "DisabledException", w
kms.enable_key(KeyId=key)
assert ws.reboot_workspaces(RebootWorkspaceRequests=[{"WorkspaceId": wid}])["FailedRequests"] == []
w = ws.describe_workspaces(WorkspaceIds=[wid])["Workspaces"][0]
assert w["State"] == "AVAILABLE" and "ErrorCode" not in w, w
assert read(user_vol) == payload
f = ws.terminate_workspaces(TerminateWorkspaceRequests=[{"WorkspaceId": "ws-0000000000"}])
assert f["FailedRequests"][0]["ErrorCode"] == "ResourceNotFound.Workspace", f

# A disabled key: accepted, then ERROR.
key2 = kms.create_key()["KeyMetadata"]["Arn"]
kms.disable_key(KeyId=key2)
out = ws.create_workspaces(Workspaces=[{**req, "UserName": "bob", "VolumeEncryptionKey": key2}])
bob = out["PendingRequests"][0]["WorkspaceId"]
w = ws.describe_workspaces(WorkspaceIds=[bob])["Workspaces"][0]
assert w["State"] == "ERROR" and w["ErrorCode"] == "InvalidKmsKey", w
assert "not available" in w["ErrorMessage"], w
assert kms.list_grants(KeyId=key2)["Grants"] == []
# An unknown key: a per-item failure.
f = ws.create_workspaces(Workspaces=[{**req, "UserName": "carol",
                                      "VolumeEncryptionKey": "alias/nosuchkey"}])["FailedRequests"]
assert f[0]["ErrorCode"] == "ResourceNotFound.KmsKey", f

# A caller without kms:CreateGrant: ERROR, nothing left behind.
iam.create_user(UserName="admin2")
ak = iam.create_access_key(UserName="admin2")["AccessKey"]
iam.put_user_policy(UserName="admin2", PolicyName="ws", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["workspaces:*", "kms:DescribeKey"], "Resource": "*"}]}))
ws2 = client("workspaces", ak["AccessKeyId"], ak["SecretAccessKey"])
grants_before = kms.list_grants(KeyId=key)["Grants"]
out = ws2.create_workspaces(Workspaces=[{**req, "UserName": "carol"}])
carol = out["PendingRequests"][0]["WorkspaceId"]
w = ws2.describe_workspaces(WorkspaceIds=[carol])["Workspaces"][0]
assert w["State"] == "ERROR" and w["ErrorCode"] == "InvalidKmsKey.AccessDenied", w
assert kms.list_grants(KeyId=key)["Grants"] == grants_before
# A caller without workspaces:* is refused.
iam.create_user(UserName="nobody")
ak3 = iam.create_access_key(UserName="nobody")["AccessKey"]
expect_error("AccessDeniedException",
             client("workspaces", ak3["AccessKeyId"], ak3["SecretAccessKey"]).describe_workspaces)

# Authentication errors in the JSON protocol's names.
expect_error("InvalidSignatureException", client("workspaces", "test", "wrong").describe_workspaces)
expect_error("UnrecognizedClientException",
             client("workspaces", "AKIAEXAMPLEEXAMPLE00", "x").describe_workspaces)

# Terminate: every grant retired, the volumes gone, their data unreadable.
assert len(kms.list_grants(KeyId=key)["Grants"]) >= 3
f = ws.terminate_workspaces(TerminateWorkspaceRequests=[{"WorkspaceId": i} for i in (wid, bob, carol)])
assert f["FailedRequests"] == [], f
states = {x["WorkspaceId"]: x["State"] for x in ws.describe_workspaces()["Workspaces"]}
assert states == {wid: "TERMINATED", bob: "TERMINATED", carol: "TERMINATED"}, states
assert kms.list_grants(KeyId=key)["Grants"] == []
vols = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
assert user_vol not in vols and rec["root_volume_id"] not in vols
assert ebsim("volume", "read", user_vol, "--length", "16", ok=False).returncode != 0
# aws-cli: create, describe, terminate.
def aws(*args):
    out = subprocess.run(["aws", "workspaces", *args, "--endpoint-url", endpoint,
                          "--region", "us-west-2", "--output", "json"], capture_output=True,
                         env={**os.environ, "AWS_ACCESS_KEY_ID": "test",
                              "AWS_SECRET_ACCESS_KEY": "test", "AWS_CONFIG_FILE": "/dev/null"})
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)


made = aws("create-workspaces", "--workspaces",
           f"DirectoryId={d},UserName=dave,BundleId=wsb-valuew10x1,VolumeEncryptionKey={key},"
           "UserVolumeEncryptionEnabled=true,RootVolumeEncryptionEnabled=true")
dave = made["PendingRequests"][0]["WorkspaceId"]
got = aws("describe-workspaces", "--directory-id", d, "--user-name", "dave")["Workspaces"]
assert [(x["WorkspaceId"], x["State"]) for x in got] == [(dave, "AVAILABLE")], got
assert aws("terminate-workspaces", "--terminate-workspace-requests",
           dave)["FailedRequests"] == []
assert kms.list_grants(KeyId=key)["Grants"] == []
# A new WorkSpace for the same user may follow.
again = ws.create_workspaces(Workspaces=[req])
assert again["FailedRequests"] == [], again
mode = os.stat(os.path.join(data_dir, "workspaces", "directories.json")).st_mode & 0o777
assert mode == 0o600, oct(mode)
print("ALL OK")
