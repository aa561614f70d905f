#!/usr/bin/env python3
"""Bring your own key with boto3 against `ebsim kms serve`, following AWS's documented
procedure offline: Python `cryptography` wraps 32 random bytes with the wrapping public key of
GetParametersForImport (each wrapping algorithm: RSA-OAEP with SHA-1 or SHA-256, or an AES key
wrapped with RSA-OAEP and the material under RFC 5649 AES key wrap with padding), boto3
imports them, Encrypt/Decrypt work; the material expires on the simulated clock (`ebsim clock
advance`), a ciphertext made before decrypts again once the same material is imported again;
bad tokens and other material are refused. Usage: kms_byok_boto3.py ENDPOINT_URL EBSIM_BIN
DATA_DIR. Exits non-zero (with the failing step) on the first unexpected result."""

import datetime
import os
import subprocess
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

endpoint, ebsim_bin, data_dir = sys.argv[1:4]
kms = boto3.client(
    "kms",
    endpoint_url=endpoint,
    region_name="us-west-2",
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


def wrap(public_der, algorithm, material):
    """AWS's procedure (importing-keys-encrypt-key-material), done with `cryptography`."""
    public = serialization.load_der_public_key(public_der)
    h = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    aes = os.urandom(32)
    return public.encrypt(aes, oaep) + aes_key_wrap_with_padding(aes, material)


# How far `ebsim clock advance` has moved simulated time ahead of the wall clock.
skew = datetime.timedelta(0)


def params(key_id, algorithm, spec="RSA_2048"):
    p = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec
    )
    assert p["KeyId"].endswith(key_id), p["KeyId"]
    left = p["ParametersValidTo"] - datetime.datetime.now(datetime.timezone.utc) - skew
    assert datetime.timedelta(hours=23) < left <= datetime.timedelta(hours=24, minutes=1), left
    return p["PublicKey"], p["ImportToken"]


def new_external_key():
    meta = kms.create_key(Origin="EXTERNAL", Description="byok")["KeyMetadata"]
    assert meta["KeyState"] == "PendingImport" and meta["Enabled"] is False, meta
    assert meta["Origin"] == "EXTERNAL"
    return meta["KeyId"]


# Each wrapping algorithm.
for algorithm, spec in [
    ("RSAES_OAEP_SHA_1", "RSA_2048"),
    ("RSAES_OAEP_SHA_256", "RSA_3072"),
    ("RSA_AES_KEY_WRAP_SHA_1", "RSA_2048"),
    ("RSA_AES_KEY_WRAP_SHA_256", "RSA_4096"),
]:
    key_id = new_external_key()
    expect_error("KMSInvalidStateException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
    public, token = params(key_id, algorithm, spec)
    material = os.urandom(32)
    out = kms.import_key_material(
        KeyId=key_id,
        ImportToken=token,
        EncryptedKeyMaterial=wrap(public, algorithm, material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert len(out["KeyMaterialId"]) == 64, out
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled", meta
    assert meta["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE", meta
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"bring your own key")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"bring your own key"
    print(f"ok {algorithm} with {spec}")

# Refused wrapping choices.
key_id = new_external_key()
expect_error(
    "ValidationException",
    kms.get_parameters_for_import,
    KeyId=key_id,
    WrappingAlgorithm="RSAES_PKCS1_V1_5",
    WrappingKeySpec="RSA_2048",
)
expect_error(
    "UnsupportedOperationException",
    kms.get_parameters_for_import,
    KeyId=key_id,
    WrappingAlgorithm="SM2PKE",
    WrappingKeySpec="SM2",
)
print("ok refused wrapping algorithms")

# Expiry on the simulated clock, then the same material again.
algorithm = "RSAES_OAEP_SHA_256"
public, token = params(key_id, algorithm)
material = os.urandom(32)
valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
first = kms.import_key_material(
    KeyId=key_id,
    ImportToken=token,
    EncryptedKeyMaterial=wrap(public, algorithm, material),
    ExpirationModel="KEY_MATERIAL_EXPIRES",
    ValidTo=valid_to,
)
meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
assert meta["ExpirationModel"] == "KEY_MATERIAL_EXPIRES", meta
assert abs((meta["ValidTo"] - valid_to).total_seconds()) < 1, meta
blob = kms.encrypt(KeyId=key_id, Plaintext=b"before expiry")["CiphertextBlob"]
subprocess.run(
    [ebsim_bin, "--data-dir", data_dir, "clock", "advance", "3"],
    check=True,
    capture_output=True,
)
skew = datetime.timedelta(days=3)
meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
assert meta["KeyState"] == "PendingImport", meta
assert "ExpirationModel" not in meta, meta
expect_error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob)
expect_error(
    "ExpiredImportTokenException",
    kms.import_key_material,
    KeyId=key_id,
    ImportToken=token,
    EncryptedKeyMaterial=wrap(public, algorithm, material),
    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
)
public, token = params(key_id, algorithm)
expect_error(
    "IncorrectKeyMaterialException",
    kms.import_key_material,
    KeyId=key_id,
    ImportToken=token,
    EncryptedKeyMaterial=wrap(public, algorithm, os.urandom(32)),
    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
)
expect_error(
    "IncorrectKeyMaterialException",
    kms.import_key_material,
    KeyId=key_id,
    ImportToken=token,
    EncryptedKeyMaterial=wrap(public, algorithm, material[:16]),
    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
)
other_id = new_external_key()
_, other_token = params(other_id, algorithm)
expect_error(
    "InvalidImportTokenException",
    kms.import_key_material,
    KeyId=key_id,
    ImportToken=other_token,
    EncryptedKeyMaterial=wrap(public, algorithm, material),
    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
)
assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
again = kms.import_key_material(
    KeyId=key_id,
    ImportToken=token,
    EncryptedKeyMaterial=wrap(public, algorithm, material),
    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
)
assert again["KeyMaterialId"] == first["KeyMaterialId"], (again, first)
assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before expiry"
print("ok expiry and reimport")

deleted = kms.delete_imported_key_material(KeyId=key_id)
assert deleted["KeyMaterialId"] == first["KeyMaterialId"], deleted
assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
print("ok delete imported key material")
print("ALL OK")
