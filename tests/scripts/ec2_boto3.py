#!/usr/bin/env python3
"""boto3's ec2 client against `ebsim serve` (docs/ec2.md): an encrypted volume attached to an
instance, written and read back through `ebsim volume write/read` (which unwrap as the
instance's session), grown with ModifyVolume; encryption by default and its default key per
region; unusable keys (a volume in `error`, a failed attach, a launch that ends `terminated`,
a start that ends `stopped`, each with its event in DIR/events.jsonl); filters and pagination;
authorization of ec2:* by IAM policies and DryRun; bad input answered with AWS's codes,
changing nothing. Usage: ec2_boto3.py ENDPOINT_URL EBSIM_BIN DATA_DIR. Prints ALL OK."""

import json
import os
import subprocess
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError

endpoint, ebsim_bin, data_dir = sys.argv[1:4]
cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
ACCOUNT = "111122223333"
ZONE = "us-west-2a"


def client(service, region="us-west-2", key="test", secret="test"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
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


def ebsim(*args, stdin=None):
    out = subprocess.run(
        [ebsim_bin, "--data-dir", data_dir, *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, "AWS_ACCESS_KEY_ID": ""},
    )
    assert out.returncode == 0, f"ebsim {args}: {out.stderr.decode()}"
    return out.stdout


def events():
    path = os.path.join(data_dir, "events.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def volume(ec2, vid):
    return ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]


def instance(ec2, iid):
    return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]


ec2, kms = client("ec2"), client("kms")
key = kms.create_key(Description="volumes")["KeyMetadata"]
kms.create_alias(AliasName="alias/vols", TargetKeyId=key["KeyId"])
alias_arn = f"arn:aws:kms:us-west-2:{ACCOUNT}:alias/vols"

# --- an encrypted volume, every form of KmsKeyId, attached and used ----------------------
for form in (key["KeyId"], key["Arn"], "alias/vols", alias_arn):
    v = ec2.create_volume(Size=1, AvailabilityZone=ZONE, Encrypted=True, KmsKeyId=form)
    assert v["State"] == "creating" and v["Encrypted"] and v["KmsKeyId"] == key["Arn"], v
ec2.get_waiter("volume_available").wait(VolumeIds=[v["VolumeId"]])
vid = v["VolumeId"]
run = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                        Placement={"AvailabilityZone": ZONE})
iid = run["Instances"][0]["InstanceId"]
assert run["Instances"][0]["State"]["Name"] == "pending"
ec2.get_waiter("instance_running").wait(InstanceIds=[iid])
att = ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdf")
assert att["State"] == "attaching" and att["InstanceId"] == iid, att
ec2.get_waiter("volume_in_use").wait(VolumeIds=[vid])
got = volume(ec2, vid)
assert got["State"] == "in-use" and got["Attachments"][0]["InstanceId"] == iid, got
payload = b"written through the instance's grant\n"
ebsim("volume", "write", vid, "--offset", "8192", "--input", "-", stdin=payload)
assert ebsim("volume", "read", vid, "--offset", "8192", "--length", str(len(payload))) == payload
# The data key was unwrapped by the instance's session through the attachment's grant.
grants = kms.list_grants(KeyId=key["Arn"])["Grants"]
session = f"arn:aws:sts::{ACCOUNT}:assumed-role/aws:ec2-infrastructure/{iid}"
mine = [g for g in grants if g["GranteePrincipal"] == session]
assert len(mine) == 1 and mine[0]["Operations"] == ["Decrypt"], grants
assert mine[0]["Constraints"]["EncryptionContextSubset"] == {"aws:ebs:id": vid}, mine
expect_error("VolumeInUse", ec2.delete_volume, VolumeId=vid)
det = ec2.detach_volume(VolumeId=vid)
assert det["State"] == "detaching", det
assert volume(ec2, vid)["State"] == "available"
assert not [g for g in kms.list_grants(KeyId=key["Arn"])["Grants"] if g["GranteePrincipal"] == session]
expect_error("IncorrectState", ec2.detach_volume, VolumeId=vid)

# ModifyVolume: grow (the metadata MAC is bound again), change the type; data stays.
mod = ec2.modify_volume(VolumeId=vid, Size=2, VolumeType="gp3")["VolumeModification"]
assert (mod["TargetSize"], mod["OriginalSize"], mod["TargetVolumeType"]) == (2, 1, "gp3"), mod
got = volume(ec2, vid)
assert (got["Size"], got["VolumeType"], got["Iops"], got["Throughput"]) == (2, "gp3", 3000, 125), got
expect_error("InvalidParameterValue", ec2.modify_volume, VolumeId=vid, Size=1)
ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdg")
beyond = str((1 << 30) + 4096)
ebsim("volume", "write", vid, "--offset", beyond, "--input", "-", stdin=b"past the old end")
assert ebsim("volume", "read", vid, "--offset", beyond, "--length", "16") == b"past the old end"
assert ebsim("volume", "read", vid, "--offset", "8192", "--length", str(len(payload))) == payload
ec2.detach_volume(VolumeId=vid, InstanceId=iid)
print("encrypted volume OK")

# --- encryption by default, per region ---------------------------------------------------
east = client("ec2", region="us-east-1")
assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is False
assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == "alias/aws/ebs"
assert ec2.enable_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True
assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True
assert east.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is False
plain = ec2.create_volume(Size=1, AvailabilityZone=ZONE)
assert plain["Encrypted"] and plain["KmsKeyId"].startswith(f"arn:aws:kms:us-west-2:{ACCOUNT}:key/"), plain
assert plain["KmsKeyId"] != key["Arn"]
assert ec2.modify_ebs_default_kms_key_id(KmsKeyId="alias/vols")["KmsKeyId"] == key["Arn"]
assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == key["Arn"]
assert ec2.create_volume(Size=1, AvailabilityZone=ZONE, Encrypted=False)["KmsKeyId"] == key["Arn"]
assert ec2.reset_ebs_default_kms_key_id()["KmsKeyId"] == "alias/aws/ebs"
assert ec2.disable_ebs_encryption_by_default()["EbsEncryptionByDefault"] is False
unenc = ec2.create_volume(Size=1, AvailabilityZone=ZONE)
assert unenc["Encrypted"] is False and "KmsKeyId" not in unenc, unenc
status = json.loads(ebsim("--json", "ebs", "encryption-by-default", "status"))
assert status == {"region": "us-west-2", "ebs_encryption_by_default": False,
                  "kms_key_id": "alias/aws/ebs"}, status
print("encryption by default OK")

# --- unusable keys (KMS-REFERENCE §9.3) --------------------------------------------------
bad = kms.create_key()["KeyMetadata"]
kms.disable_key(KeyId=bad["KeyId"])
err = ec2.create_volume(Size=1, AvailabilityZone=ZONE, Encrypted=True, KmsKeyId=bad["KeyId"])
assert err["State"] == "creating"
assert volume(ec2, err["VolumeId"])["State"] == "error"
ev = [e for e in events() if e["detail"]["event"] == "createVolume"]
assert ev and ev[-1]["detail"]["result"] == "failed", ev
assert ev[-1]["detail"]["cause"] == f"{bad['Arn']} is disabled.", ev[-1]
assert ev[-1]["detail-type"] == "EBS Volume Notification" and ev[-1]["source"] == "aws.ec2"
assert ev[-1]["resources"] == [f"arn:aws:ec2:us-west-2:{ACCOUNT}:volume/{err['VolumeId']}", bad["Arn"]]
expect_error("IncorrectState", ec2.attach_volume, VolumeId=err["VolumeId"], InstanceId=iid, Device="/dev/sdh")
doomed = kms.create_key()["KeyMetadata"]
kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
pend = ec2.create_volume(Size=1, AvailabilityZone=ZONE, Encrypted=True, KmsKeyId=doomed["Arn"])
assert volume(ec2, pend["VolumeId"])["State"] == "error"
assert events()[-1]["detail"]["cause"] == f"{doomed['Arn']} is pending deletion.", events()[-1]

# Attach after the key was disabled: refused, its grant retired, an event recorded.
later = kms.create_key()["KeyMetadata"]
lv = ec2.create_volume(Size=1, AvailabilityZone=ZONE, Encrypted=True, KmsKeyId=later["KeyId"])
kms.disable_key(KeyId=later["KeyId"])
expect_error("IncorrectState", ec2.attach_volume, VolumeId=lv["VolumeId"], InstanceId=iid, Device="/dev/sdh")
last = events()[-1]
assert last["detail"]["event"] == "attachVolume" and last["detail"]["cause"] == f"{later['Arn']} is disabled.", last
assert volume(ec2, lv["VolumeId"])["State"] == "available"
assert not kms.list_grants(KeyId=later["Arn"])["Grants"]

# A start whose volume key was disabled meanwhile ends stopped.
kms.enable_key(KeyId=later["KeyId"])
ec2.attach_volume(VolumeId=lv["VolumeId"], InstanceId=iid, Device="/dev/sdh")
stop = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
assert (stop["CurrentState"]["Name"], stop["PreviousState"]["Name"]) == ("stopping", "running")
assert instance(ec2, iid)["State"]["Name"] == "stopped"
kms.disable_key(KeyId=later["KeyId"])
start = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
assert start["CurrentState"]["Name"] == "pending"
inst = instance(ec2, iid)
assert inst["State"]["Name"] == "stopped", inst
assert inst["StateReason"] == {"Code": "Client.InternalError",
                               "Message": "Client.InternalError: Client error on launch"}, inst
assert events()[-1]["detail"]["event"] == "reattachVolume"
kms.enable_key(KeyId=later["KeyId"])
ec2.start_instances(InstanceIds=[iid])
assert instance(ec2, iid)["State"]["Name"] == "running"

# A launch whose root volume key is unusable ends terminated.
run = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                        BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                                              "Ebs": {"Encrypted": True, "KmsKeyId": bad["Arn"]}}])
dead = run["Instances"][0]["InstanceId"]
inst = instance(ec2, dead)
assert inst["State"]["Name"] == "terminated", inst
assert inst["StateReason"]["Code"] == "Client.InternalError", inst
ec2.enable_ebs_encryption_by_default()
ec2.modify_ebs_default_kms_key_id(KmsKeyId=bad["Arn"])
dead2 = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
assert instance(ec2, dead2)["State"]["Name"] == "terminated"
ec2.reset_ebs_default_kms_key_id()
ec2.disable_ebs_encryption_by_default()
print("unusable keys OK")

# --- filters and pagination --------------------------------------------------------------
made = []
for i in range(12):
    v = ec2.create_volume(Size=1, AvailabilityZone=ZONE, Encrypted=True,
                          TagSpecifications=[{"ResourceType": "volume",
                                              "Tags": [{"Key": "batch", "Value": "b1"},
                                                       {"Key": "n", "Value": str(i)}]}])
    made.append(v["VolumeId"])
tagged = ec2.describe_volumes(Filters=[{"Name": "tag:batch", "Values": ["b1"]}])["Volumes"]
assert sorted(v["VolumeId"] for v in tagged) == sorted(made)
ors = ec2.describe_volumes(Filters=[{"Name": "tag:n", "Values": ["1", "2", "1?"]}])["Volumes"]
assert len(ors) == 4, [v["Tags"] for v in ors]
anded = ec2.describe_volumes(Filters=[{"Name": "tag:batch", "Values": ["b1"]},
                                      {"Name": "volume-id", "Values": made[:3]}])["Volumes"]
assert len(anded) == 3
errors = ec2.describe_volumes(Filters=[{"Name": "status", "Values": ["error"]}])["Volumes"]
assert {v["VolumeId"] for v in errors} >= {err["VolumeId"], pend["VolumeId"]}
assert all(v["State"] == "error" for v in errors)
on_i = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["Volumes"]
assert [v["VolumeId"] for v in on_i] == [lv["VolumeId"]] or lv["VolumeId"] in [v["VolumeId"] for v in on_i], on_i
unencrypted = ec2.describe_volumes(Filters=[{"Name": "encrypted", "Values": ["false"]}])["Volumes"]
assert unenc["VolumeId"] in [v["VolumeId"] for v in unencrypted]
assert all(not v["Encrypted"] for v in unencrypted)
expect_error("InvalidParameterValue", ec2.describe_volumes, Filters=[{"Name": "colour", "Values": ["x"]}])
pages = list(ec2.get_paginator("describe_volumes").paginate(
    Filters=[{"Name": "tag:batch", "Values": ["b1"]}], PaginationConfig={"PageSize": 5}))
assert [len(p["Volumes"]) for p in pages] == [5, 5, 2], [len(p["Volumes"]) for p in pages]
assert sorted(v["VolumeId"] for p in pages for v in p["Volumes"]) == sorted(made)
total = len(ec2.describe_volumes()["Volumes"])
expect_error("InvalidParameterValue", ec2.describe_volumes, MaxResults=4)
expect_error("InvalidParameterCombination", ec2.describe_volumes, VolumeIds=[vid], MaxResults=5)
expect_error("InvalidParameterValue", ec2.describe_volumes, NextToken="garbage")
running = ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])
assert [i["InstanceId"] for r in running["Reservations"] for i in r["Instances"]] == [iid]
print("filters and pagination OK")

# --- authorization and DryRun ------------------------------------------------------------
iam = client("iam")
iam.create_user(UserName="ops")
ak = iam.create_access_key(UserName="ops")["AccessKey"]
ops = client("ec2", key=ak["AccessKeyId"], secret=ak["SecretAccessKey"])
expect_error("UnauthorizedOperation", ops.describe_volumes)
iam.put_user_policy(UserName="ops", PolicyName="read", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}))
assert len(ops.describe_volumes()["Volumes"]) == total
expect_error("UnauthorizedOperation", ops.create_volume, Size=1, AvailabilityZone=ZONE)
expect_error("UnauthorizedOperation", ops.create_volume, Size=1, AvailabilityZone=ZONE, DryRun=True)
expect_error("DryRunOperation", ec2.create_volume, Size=1, AvailabilityZone=ZONE, DryRun=True)
print("authorization OK")

# --- bad input: AWS's codes, nothing changes ---------------------------------------------
before = json.dumps(ec2.describe_volumes()["Volumes"], default=str, sort_keys=True)
snap = "snap-0123456789abcdef0"
expect_error("InvalidParameterValue", ec2.delete_volume, VolumeId=snap)
expect_error("InvalidParameterValue", ec2.describe_volumes, VolumeIds=[snap])
expect_error("InvalidVolumeID.Malformed", ec2.delete_volume, VolumeId="vol-nothex")
expect_error("InvalidVolume.NotFound", ec2.delete_volume, VolumeId="vol-0123456789abcdef0")
expect_error("InvalidVolume.NotFound", ec2.describe_volumes, VolumeIds=[vid, "vol-0123456789abcdef0"])
expect_error("InvalidInstanceID.NotFound", ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"])
expect_error("InvalidInstanceID.Malformed", ec2.stop_instances, InstanceIds=["i-xyz"])
expect_error("InvalidInstanceID.NotFound", ec2.attach_volume, VolumeId=vid, InstanceId="i-0123456789abcdef0", Device="/dev/sdf")
expect_error("InvalidParameterValue", ec2.attach_volume, VolumeId=vid, InstanceId=snap, Device="/dev/sdf")
expect_error("InvalidParameterDependency", ec2.create_volume, Size=1, AvailabilityZone=ZONE, Encrypted=False, KmsKeyId=key["Arn"])
expect_error("InvalidParameterDependency", ec2.create_volume, Size=1, AvailabilityZone=ZONE, KmsKeyId=key["Arn"])
expect_error("VolumeInUse", ec2.delete_volume, VolumeId=lv["VolumeId"])
expect_error("MissingParameter", ec2.create_volume, AvailabilityZone=ZONE)
expect_error("InvalidSnapshot.NotFound", ec2.create_volume, AvailabilityZone=ZONE, SnapshotId=snap)
expect_error("InvalidSnapshotID.Malformed", ec2.create_volume, AvailabilityZone=ZONE, SnapshotId="snap-x")
expect_error("InvalidParameterValue", ec2.create_volume, Size=70000, AvailabilityZone=ZONE)
expect_error("InvalidParameterValue", ec2.create_volume, Size=0, AvailabilityZone=ZONE)
expect_error("InvalidParameterValue", ec2.create_volume, Size=1, AvailabilityZone="us-west-2z")
expect_error("InvalidParameterValue", ec2.create_volume, Size=1, AvailabilityZone=ZONE, VolumeType="gp9")
expect_error("InvalidParameterCombination", ec2.create_volume, Size=10, AvailabilityZone=ZONE, VolumeType="gp2", Iops=300)
expect_error("MissingParameter", ec2.create_volume, Size=10, AvailabilityZone=ZONE, VolumeType="io1")
expect_error("InvalidParameterValue", ec2.create_volume, Size=10, AvailabilityZone=ZONE, VolumeType="io1", Iops=10000)
expect_error("InvalidParameterValue", ec2.create_volume, Size=10, AvailabilityZone=ZONE, VolumeType="st1")
expect_error("InvalidParameterValue", ec2.create_volume, Size=1, AvailabilityZone=ZONE,
             TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "aws:x", "Value": "y"}]}])
expect_error("InvalidParameterValue", ec2.attach_volume, VolumeId=vid, InstanceId=iid, Device="/dev/sdi1")
expect_error("InvalidParameterValue", ec2.attach_volume, VolumeId=vid, InstanceId=iid, Device="/dev/sdh")
expect_error("InvalidParameterValue", ec2.run_instances, ImageId="ami-12345678", MinCount=3, MaxCount=2)
expect_error("InvalidAMIID.Malformed", ec2.run_instances, ImageId="img-1", MinCount=1, MaxCount=1)
expect_error("InvalidParameterValue", ec2.modify_ebs_default_kms_key_id, KmsKeyId="alias/none")
after = json.dumps(ec2.describe_volumes()["Volumes"], default=str, sort_keys=True)
assert before == after, "bad input changed the volumes"
assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == "alias/aws/ebs"
print("bad input OK")

# --- snapshots through EC2 ---------------------------------------------------------------
import time


def completed(ec2, sid):
    for _ in range(600):
        s = ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]
        if s["State"] != "pending":
            assert s["State"] == "completed", s
            return s
        time.sleep(0.05)
    raise AssertionError(f"{sid} still pending")


other = kms.create_key(Description="copies")["KeyMetadata"]
src = ec2.create_volume(Size=1, AvailabilityZone=ZONE, Encrypted=True, KmsKeyId=key["Arn"])["VolumeId"]
ec2.attach_volume(VolumeId=src, InstanceId=iid, Device="/dev/sdj")
blob = bytes(range(256)) * 4096  # 1 MiB over two snapshot blocks
ebsim("volume", "write", src, "--offset", "1048576", "--input", "-", stdin=blob)
snap = ec2.create_snapshot(VolumeId=src, Description="first",
                           TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "k", "Value": "v"}]}])
assert snap["State"] == "pending" and snap["Encrypted"] and snap["KmsKeyId"] == key["Arn"], snap
first = completed(ec2, snap["SnapshotId"])
assert first["VolumeId"] == src and first["Progress"] == "100%" and first["Tags"] == [{"Key": "k", "Value": "v"}], first
assert first["DataEncryptionKeyId"], first
copy = ec2.copy_snapshot(SourceSnapshotId=snap["SnapshotId"], SourceRegion="us-west-2",
                         Encrypted=True, KmsKeyId=other["Arn"])["SnapshotId"]
copied = completed(ec2, copy)
assert copied["KmsKeyId"] == other["Arn"] and copied["Encrypted"], copied
assert copied["DataEncryptionKeyId"] != first["DataEncryptionKeyId"], copied
restored = ec2.create_volume(SnapshotId=copy, AvailabilityZone=ZONE)
assert restored["SnapshotId"] == copy and restored["KmsKeyId"] == other["Arn"], restored
ec2.attach_volume(VolumeId=restored["VolumeId"], InstanceId=iid, Device="/dev/sdk")
back = ebsim("volume", "read", restored["VolumeId"], "--offset", "1048576", "--length", str(len(blob)))
assert back == blob, "the restored copy does not read back the same bytes"
# Within the lineage (the snapshot's own key): the volume keeps the lineage's data key and
# context, and its attach grant is constrained to the lineage's aws:ebs:id.
same = ec2.create_volume(SnapshotId=snap["SnapshotId"], AvailabilityZone=ZONE, Size=2)
assert same["KmsKeyId"] == key["Arn"] and same["Size"] == 2, same
ec2.attach_volume(VolumeId=same["VolumeId"], InstanceId=iid, Device="/dev/sdl")
lineage = [g for g in kms.list_grants(KeyId=key["Arn"])["Grants"]
           if g["GranteePrincipal"] == session and g["Constraints"]["EncryptionContextSubset"] == {"aws:ebs:id": src}]
assert len(lineage) == 2, lineage  # the source's attachment and the restored volume's
back = ebsim("volume", "read", same["VolumeId"], "--offset", "1048576", "--length", str(len(blob)))
assert back == blob, "the restored volume does not read back the same bytes"
expect_error("InvalidParameterValue", ec2.create_volume, SnapshotId=snap["SnapshotId"], AvailabilityZone=ZONE,
             Size=1, Encrypted=False)
mine = ec2.describe_snapshots(OwnerIds=["self"], Filters=[{"Name": "tag:k", "Values": ["v"]}])["Snapshots"]
assert [s["SnapshotId"] for s in mine] == [snap["SnapshotId"]], mine
by_vol = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": [src]}])["Snapshots"]
assert snap["SnapshotId"] in [s["SnapshotId"] for s in by_vol], by_vol
expect_error("InvalidParameterValue", ec2.create_snapshot, VolumeId=snap["SnapshotId"])
expect_error("InvalidVolume.NotFound", ec2.create_snapshot, VolumeId="vol-0123456789abcdef0")
expect_error("InvalidSnapshot.NotFound", ec2.describe_snapshots, SnapshotIds=["snap-0123456789abcdef0"])
expect_error("InvalidSnapshotID.Malformed", ec2.delete_snapshot, SnapshotId="snap-nothex")
expect_error("InvalidParameterValue", ec2.copy_snapshot, SourceSnapshotId=copy, SourceRegion="mars-north-1")
expect_error("InvalidParameterValue", ec2.create_volume, SnapshotId=copy, AvailabilityZone=ZONE, Size=1,
             VolumeType="st1")
expect_error("InvalidParameterDependency", ec2.copy_snapshot, SourceSnapshotId=copy, SourceRegion="us-west-2",
             Encrypted=False, KmsKeyId=key["Arn"])
ec2.delete_snapshot(SnapshotId=copy)
expect_error("InvalidSnapshot.NotFound", ec2.describe_snapshots, SnapshotIds=[copy])
assert completed(ec2, snap["SnapshotId"])["State"] == "completed"
print("snapshots OK")

# --- terminate: attachments end, their grants retired ------------------------------------
term = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]
assert term["CurrentState"]["Name"] == "shutting-down"
assert instance(ec2, iid)["State"]["Name"] == "terminated"
assert volume(ec2, lv["VolumeId"])["State"] == "available"
assert not kms.list_grants(KeyId=later["Arn"])["Grants"]
expect_error("IncorrectInstanceState", ec2.start_instances, InstanceIds=[iid])
print("ALL OK")
