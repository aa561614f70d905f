"""Tests written as for moto, run against ebsim through conftest.py."""


def test_a_key_in_moto_s_account(kms):
    key = kms.create_key(Description="first")["KeyMetadata"]
    assert key["Arn"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert len(kms.list_keys()["Keys"]) == 1


def test_each_test_starts_empty(kms):
    # The key of the test before is gone: the fixture reset the data dir.
    assert kms.list_keys()["Keys"] == []
    kms.create_key()
    assert len(kms.list_keys()["Keys"]) == 1


def test_data_keys_round_trip(kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    ctx = {"aws:ebs:id": "vol-0123456789abcdef0"}
    dk = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=ctx)
    out = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)
    assert out["Plaintext"] == dk["Plaintext"]
