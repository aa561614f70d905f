#!/usr/bin/env python3
"""boto3's ebs client against `ebsim serve` (docs/ebs-direct.md): StartSnapshot →
PutSnapshotBlock ×N → CompleteSnapshot with the LINEAR aggregate checksum; the snapshot in EC2's
DescribeSnapshots, read back with ListSnapshotBlocks and GetSnapshotBlock, a child snapshot and
ListChangedBlocks, a restore to a volume read through `ebsim volume read`; GetSnapshotBlock and
ListChangedBlocks on snapshots EC2's CreateSnapshot made of a volume written with `ebsim volume
write`; every bad input answered with AWS's code, changing nothing; UNSIGNED-PAYLOAD refused
except on PutSnapshotBlock; `ebs:` actions authorized by IAM policies.
Usage: ebs_direct_boto3.py ENDPOINT_URL EBSIM_BIN DATA_DIR. Prints ALL OK."""

import base64
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import urllib.request
import urllib.error
import urllib.parse
from botocore.exceptions import ClientError

endpoint, ebsim_bin, data_dir = sys.argv[1:4]
cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
ACCOUNT = "111122223333"
ZONE = "us-west-2a"
BLOCK = 524288


def client(service, key="test", secret="test"):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-west-2",
                        aws_access_key_id=key, aws_secret_access_key=secret, config=cfg)


def expect_error(code, fn, *args, reason=None, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        if reason is not None:
            assert e.response.get("Reason") == reason, e.response
        return e
    raise AssertionError(f"expected {code}, call succeeded")


def ebsim(*args, stdin=None):
    out = subprocess.run([ebsim_bin, "--data-dir", data_dir, *args], input=stdin,
                         capture_output=True, env={**os.environ, "AWS_ACCESS_KEY_ID": ""})
    assert out.returncode == 0, f"ebsim {args}: {out.stderr.decode()}"
    return out.stdout


def b64sha(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def put(ebs, sid, index, data, **kw):
    return ebs.put_snapshot_block(SnapshotId=sid, BlockIndex=index, BlockData=data,
                                  DataLength=len(data), Checksum=b64sha(data),
                                  ChecksumAlgorithm="SHA256", **kw)


def get(ebs, sid, index, token):
    r = ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=index, BlockToken=token)
    data = r["BlockData"].read()
    assert r["DataLength"] == len(data) == BLOCK, r
    assert r["Checksum"] == b64sha(data) and r["ChecksumAlgorithm"] == "SHA256", r
    return data


def blocks(ebs, sid):
    return {b["BlockIndex"]: b["BlockToken"] for b in ebs.list_snapshot_blocks(SnapshotId=sid)["Blocks"]}


def state(ec2, sid):
    return ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]


def completed(ec2, sid):
    for _ in range(600):
        s = state(ec2, sid)
        if s["State"] != "pending":
            assert s["State"] == "completed", s
            return s
        time.sleep(0.05)
    raise AssertionError(f"{sid} still pending")


ec2, kms, ebs, iam = client("ec2"), client("kms"), client("ebs"), client("iam")
sent = []
ebs.meta.events.register("before-send.ebs.PutSnapshotBlock",
                         lambda request, **_: sent.append(request.headers.get("X-Amz-Content-SHA256")))
key = kms.create_key(Description="snapshots")["KeyMetadata"]

# --- StartSnapshot → PutSnapshotBlock ×N → CompleteSnapshot ---------------------------------
start = dict(VolumeSize=1, Encrypted=True, KmsKeyArn=key["Arn"], Description="direct",
             Tags=[{"Key": "k", "Value": "v"}], Timeout=60, ClientToken="token-1")
s = ebs.start_snapshot(**start)
sid = s["SnapshotId"]
assert s["Status"] == "pending" and s["BlockSize"] == BLOCK and s["VolumeSize"] == 1, s
assert s["KmsKeyArn"] == key["Arn"] and s["OwnerId"] == ACCOUNT and s["SseType"] == "sse-ebs", s
assert s["Tags"] == [{"Key": "k", "Value": "v"}] and s["Description"] == "direct", s
# The same ClientToken: the same snapshot; with other parameters: ConflictException.
assert ebs.start_snapshot(**start)["SnapshotId"] == sid
expect_error("ConflictException", ebs.start_snapshot, **{**start, "Description": "other"})
assert state(ec2, sid)["State"] == "pending"

data = {i: os.urandom(BLOCK) for i in (0, 3, 5)}
# Block 7: half zeros (zero sectors are stored as holes, as a volume's are), half data.
data[7] = bytes(BLOCK // 2) + os.urandom(BLOCK // 2)
for i, d in data.items():
    r = put(ebs, sid, i, d, Progress=50)
    assert r["Checksum"] == b64sha(d) and r["ChecksumAlgorithm"] == "SHA256", r
put(ebs, sid, 3, data[3])  # overwriting a block is allowed
assert set(sent) == {b"UNSIGNED-PAYLOAD"} or set(sent) == {"UNSIGNED-PAYLOAD"}, sent  # botocore's signing

# Bad input: the snapshot stays pending and holds only the good blocks (checked below).
junk = os.urandom(BLOCK)
expect_error("ValidationException", ebs.put_snapshot_block, SnapshotId=sid, BlockIndex=9,
             BlockData=junk, DataLength=BLOCK, Checksum=b64sha(b"other"), ChecksumAlgorithm="SHA256")
expect_error("ValidationException", put, ebs, sid, 2048, junk, reason="INVALID_BLOCK")
expect_error("ValidationException", put, ebs, sid, 10, junk[:1000])
expect_error("ResourceNotFoundException", put, ebs, "snap-0123456789abcdef0", 1, junk)
lin = base64.b64encode(hashlib.sha256(b"".join(
    hashlib.sha256(data[i]).digest() for i in sorted(data))).digest()).decode()
expect_error("ValidationException", ebs.complete_snapshot, SnapshotId=sid, ChangedBlocksCount=3)
expect_error("ValidationException", ebs.complete_snapshot, SnapshotId=sid, ChangedBlocksCount=4,
             Checksum=b64sha(b"wrong"), ChecksumAlgorithm="SHA256", ChecksumAggregationMethod="LINEAR")
assert state(ec2, sid)["State"] == "pending"
done = ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=4, Checksum=lin,
                             ChecksumAlgorithm="SHA256", ChecksumAggregationMethod="LINEAR")
assert done["Status"] == "completed", done
d = completed(ec2, sid)
assert d["Encrypted"] and d["KmsKeyId"] == key["Arn"] and d["VolumeSize"] == 1, d
assert d["VolumeId"] == "vol-ffffffff" and d["Description"] == "direct", d
assert {"Key": "k", "Value": "v"} in d.get("Tags", []), d

# Written after completion: refused, nothing changes.
expect_error("ValidationException", put, ebs, sid, 1, junk)
toks = blocks(ebs, sid)
assert sorted(toks) == [0, 3, 5, 7], toks
for i, d_ in data.items():
    assert get(ebs, sid, i, toks[i]) == d_, f"block {i} differs"
listed = ebs.list_snapshot_blocks(SnapshotId=sid, StartingBlockIndex=4, MaxResults=100)
assert [b["BlockIndex"] for b in listed["Blocks"]] == [5, 7] and listed["BlockSize"] == BLOCK, listed
assert listed["VolumeSize"] == 1 and "NextToken" not in listed, listed
# A token of another block, or garbage: INVALID_BLOCK_TOKEN.
expect_error("ValidationException", ebs.get_snapshot_block, SnapshotId=sid, BlockIndex=3,
             BlockToken=toks[0], reason="INVALID_BLOCK_TOKEN")
expect_error("ValidationException", ebs.get_snapshot_block, SnapshotId=sid, BlockIndex=0,
             BlockToken="AAAA", reason="INVALID_BLOCK_TOKEN")
expect_error("ValidationException", ebs.list_snapshot_blocks, SnapshotId=sid, NextToken="AAAA",
             reason="INVALID_PAGE_TOKEN")

# --- a child: the parent's key and blocks, ListChangedBlocks between them -------------------
expect_error("ValidationException", ebs.start_snapshot, VolumeSize=1, ParentSnapshotId=sid, Encrypted=True)
expect_error("ValidationException", ebs.start_snapshot, VolumeSize=1, ParentSnapshotId=sid, KmsKeyArn=key["Arn"])
expect_error("ValidationException", ebs.start_snapshot, VolumeSize=1, KmsKeyArn=key["Arn"])
expect_error("ValidationException", ebs.start_snapshot, VolumeSize=70000, reason="INVALID_VOLUME_SIZE")
child = ebs.start_snapshot(VolumeSize=1, ParentSnapshotId=sid)
cid = child["SnapshotId"]
assert child["ParentSnapshotId"] == sid and child["KmsKeyArn"] == key["Arn"], child
new3 = os.urandom(BLOCK)
put(ebs, cid, 3, new3)
ebs.complete_snapshot(SnapshotId=cid, ChangedBlocksCount=1)
assert state(ec2, cid)["DataEncryptionKeyId"] == state(ec2, sid)["DataEncryptionKeyId"]
ctoks = blocks(ebs, cid)
assert sorted(ctoks) == [0, 3, 5, 7], ctoks
assert get(ebs, cid, 0, ctoks[0]) == data[0] and get(ebs, cid, 3, ctoks[3]) == new3
changed = ebs.list_changed_blocks(FirstSnapshotId=sid, SecondSnapshotId=cid)["ChangedBlocks"]
assert [c["BlockIndex"] for c in changed] == [3], changed
assert get(ebs, sid, 3, changed[0]["FirstBlockToken"]) == data[3]
assert get(ebs, cid, 3, changed[0]["SecondBlockToken"]) == new3

# --- restore the direct-API snapshot to a volume; read it through the CLI ------------------
vol = ec2.create_volume(SnapshotId=cid, AvailabilityZone=ZONE)
vid = vol["VolumeId"]
assert vol["Encrypted"] and vol["KmsKeyId"] == key["Arn"], vol
for _ in range(600):
    if ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]["State"] == "available":
        break
    time.sleep(0.05)
for i, want in ((0, data[0]), (3, new3), (5, data[5]), (7, data[7]), (1, bytes(BLOCK))):
    got = ebsim("volume", "read", vid, "--offset", str(i * BLOCK), "--length", str(BLOCK))
    assert got == want, f"restored block {i} differs"

# --- unencrypted snapshots and a sparse one -------------------------------------------------
plain = ebs.start_snapshot(VolumeSize=2)
assert plain["SseType"] == "none" and "KmsKeyArn" not in plain, plain
put(ebs, plain["SnapshotId"], 4095, data[5])
ebs.complete_snapshot(SnapshotId=plain["SnapshotId"], ChangedBlocksCount=1)
p = blocks(ebs, plain["SnapshotId"])
assert list(p) == [4095] and get(ebs, plain["SnapshotId"], 4095, p[4095]) == data[5]
assert not state(ec2, plain["SnapshotId"])["Encrypted"]

# --- pages: 101 blocks listed 100 at a time ------------------------------------------------
many = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
small = os.urandom(BLOCK)
for i in range(101):
    put(ebs, many, i, small)
ebs.complete_snapshot(SnapshotId=many, ChangedBlocksCount=101)
first = ebs.list_snapshot_blocks(SnapshotId=many, MaxResults=100)
assert [b["BlockIndex"] for b in first["Blocks"]] == list(range(100)) and first["NextToken"], first["NextToken"]
rest = ebs.list_snapshot_blocks(SnapshotId=many, MaxResults=100, NextToken=first["NextToken"])
assert [b["BlockIndex"] for b in rest["Blocks"]] == [100] and "NextToken" not in rest, rest
expect_error("ValidationException", ebs.list_snapshot_blocks, SnapshotId=sid, NextToken=first["NextToken"],
             reason="INVALID_PAGE_TOKEN")
paged = ebs.list_changed_blocks(SecondSnapshotId=many, MaxResults=100, StartingBlockIndex=50)
assert [c["BlockIndex"] for c in paged["ChangedBlocks"]] == list(range(50, 101)), paged

# --- snapshots made by EC2 CreateSnapshot of a volume written through the CLI --------------
src = ec2.create_volume(Size=1, AvailabilityZone=ZONE, Encrypted=True, KmsKeyId=key["Arn"])["VolumeId"]
iid = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                        Placement={"AvailabilityZone": ZONE})["Instances"][0]["InstanceId"]
ec2.attach_volume(VolumeId=src, InstanceId=iid, Device="/dev/sdj")
a, b = os.urandom(BLOCK), os.urandom(BLOCK)
ebsim("volume", "write", src, "--offset", str(2 * BLOCK), "--input", "-", stdin=a)
s1 = ec2.create_snapshot(VolumeId=src)["SnapshotId"]
completed(ec2, s1)
ebsim("volume", "write", src, "--offset", str(6 * BLOCK), "--input", "-", stdin=b)
s2 = ec2.create_snapshot(VolumeId=src)["SnapshotId"]
completed(ec2, s2)
t1 = blocks(ebs, s1)
assert list(t1) == [2] and get(ebs, s1, 2, t1[2]) == a, t1
changed = ebs.list_changed_blocks(FirstSnapshotId=s1, SecondSnapshotId=s2)["ChangedBlocks"]
assert [c["BlockIndex"] for c in changed] == [6] and "FirstBlockToken" not in changed[0], changed
assert get(ebs, s2, 6, changed[0]["SecondBlockToken"]) == b
expect_error("ValidationException", ebs.list_changed_blocks, FirstSnapshotId=sid, SecondSnapshotId=s2,
             reason="UNRELATED_SNAPSHOTS")
expect_error("ValidationException", ebs.get_snapshot_block, SnapshotId=s2, BlockIndex=2,
             BlockToken=t1[2], reason="INVALID_BLOCK_TOKEN")


# --- UNSIGNED-PAYLOAD: accepted for PutSnapshotBlock only ----------------------------------
class Unsigned(botocore.auth.SigV4Auth):
    def payload(self, request):
        return "UNSIGNED-PAYLOAD"


def raw(method, path, body=b"", headers=None):
    req = botocore.awsrequest.AWSRequest(method=method, url=endpoint + path, data=body,
                                         headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", **(headers or {})})
    Unsigned(botocore.credentials.Credentials("test", "test"), "ebs", "us-west-2").add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=body or None, method=method, headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def raw_expect_continue(method, path, body, headers):
    """Sends the signed head with `Expect: 100-continue` and never the body: the server must
    answer from the head (a `100 Continue` would leave this waiting until the timeout)."""
    req = botocore.awsrequest.AWSRequest(method=method, url=endpoint + path, data=body,
                                         headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", **headers})
    Unsigned(botocore.credentials.Credentials("test", "test"), "ebs", "us-west-2").add_auth(req)
    prepared = req.prepare()
    url = urllib.parse.urlsplit(prepared.url)
    head = {"Host": url.netloc, **dict(prepared.headers), "Content-Length": str(len(body)),
            "Expect": "100-continue"}
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall((f"{method} {url.path} HTTP/1.1\r\n"
                      + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n").encode())
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, dict(resp.getheaders()), resp.read()


before = len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"])
status, hdrs, body = raw("GET", f"/snapshots/{sid}/blocks")
assert b"PutSnapshotBlock only" in body, body
assert status == 400 and hdrs.get("x-amzn-errortype") == "IncompleteSignatureException", (status, hdrs)
status, hdrs, _ = raw("POST", "/snapshots", json.dumps({"VolumeSize": 1}).encode(),
                      {"Content-Type": "application/json"})
assert status == 400 and hdrs.get("x-amzn-errortype") == "IncompleteSignatureException", (status, hdrs)
assert len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]) == before
pending = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
blk = os.urandom(BLOCK)
status, hdrs, _ = raw("PUT", f"/snapshots/{pending}/blocks/1", blk,
                      {"x-amz-Data-Length": str(BLOCK), "x-amz-Checksum": b64sha(blk),
                       "x-amz-Checksum-Algorithm": "SHA256", "Content-Type": "application/octet-stream"})
assert status == 201 and hdrs.get("x-amz-checksum") == b64sha(blk), (status, hdrs)
ebs.complete_snapshot(SnapshotId=pending, ChangedBlocksCount=1)
assert list(blocks(ebs, pending)) == [1]
# A body over 512 KiB is refused before it is read. The request asks for `100-continue`, so
# the client sends the body only if the server wants it: a refusal written while the body is
# still in flight would otherwise race with the server closing the connection.
status, hdrs, _ = raw_expect_continue("PUT", f"/snapshots/{pending}/blocks/2", blk + b"x",
                                      {"x-amz-Data-Length": str(BLOCK + 1), "x-amz-Checksum": b64sha(blk),
                                       "x-amz-Checksum-Algorithm": "SHA256",
                                       "Content-Type": "application/octet-stream"})
assert status == 413, (status, hdrs)

# --- authentication errors in REST-JSON's form, nothing started ---------------------------
before = len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"])
expect_error("UnrecognizedClientException", client("ebs", "AKIAUNKNOWNKEY000000", "x").start_snapshot, VolumeSize=1)
expect_error("InvalidSignatureException", client("ebs", "test", "wrong").start_snapshot, VolumeSize=1)
assert len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]) == before

# --- ebs: actions authorized by IAM policies ----------------------------------------------
iam.create_user(UserName="reader")
ak = iam.create_access_key(UserName="reader")["AccessKey"]
reader = client("ebs", ak["AccessKeyId"], ak["SecretAccessKey"])
expect_error("AccessDeniedException", reader.list_snapshot_blocks, SnapshotId=sid)
iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ebs:ListSnapshotBlocks"], "Resource": "*"}]}))
assert sorted(blocks(reader, sid)) == [0, 3, 5, 7]
expect_error("AccessDeniedException", reader.start_snapshot, VolumeSize=1)
# Reading a block needs ebs:GetSnapshotBlock and the key's Decrypt through EBS.
expect_error("AccessDeniedException", reader.get_snapshot_block, SnapshotId=sid, BlockIndex=0,
             BlockToken=toks[0])
iam.put_user_policy(UserName="reader", PolicyName="get", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ebs:GetSnapshotBlock"], "Resource": "*"}]}))
e = expect_error("AccessDeniedException", reader.get_snapshot_block, SnapshotId=sid, BlockIndex=0,
                 BlockToken=toks[0], reason="DEPENDENCY_ACCESS_DENIED")
# Writing a block of an encrypted snapshot needs ebs:PutSnapshotBlock and Decrypt too.
iam.put_user_policy(UserName="reader", PolicyName="put", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ebs:PutSnapshotBlock"], "Resource": "*"}]}))
enc = ebs.start_snapshot(VolumeSize=1, Encrypted=True, KmsKeyArn=key["Arn"])["SnapshotId"]
expect_error("AccessDeniedException", put, reader, enc, 0, data[0], reason="DEPENDENCY_ACCESS_DENIED")
iam.put_user_policy(UserName="reader", PolicyName="kms", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key["Arn"]}]}))
assert get(reader, sid, 0, toks[0]) == data[0]
put(reader, enc, 0, data[0])
ebs.complete_snapshot(SnapshotId=enc, ChangedBlocksCount=1)
assert get(ebs, enc, 0, blocks(ebs, enc)[0]) == data[0]

print("ALL OK")
