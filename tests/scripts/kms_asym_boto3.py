"""boto3 against `ebsim kms serve` for asymmetric and HMAC keys, with independent checks.

Usage: kms_asym_boto3.py URL OUT

- every asymmetric and HMAC operation with valid input and with each error of its botocore
  `errors` list that ebsim can produce;
- Python `cryptography` verifies our RSA, ECDSA, Ed25519 and ML-DSA signatures, pycryptodome
  our Ed25519ph ones; OAEP ciphertexts made by `cryptography` under our public key decrypt;
  ECDH computed offline equals DeriveSharedSecret; a GenerateDataKeyPair private key matches
  its public key;
- it writes to OUT, one JSON object a line, keys and signatures made by `cryptography`, for
  the Rust side to verify with ebsim's own code (tests/kms_asym_crosscheck.rs).

Prints ALL OK at the end.
"""

import base64
import hashlib
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa
from Crypto.Hash import SHA512
from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa

URL = sys.argv[1]
OUT = sys.argv[2]


def client():
    return boto3.client(
        "kms",
        endpoint_url=URL,
        region_name="us-west-2",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


kms = client()


def expect_error(code, fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"{fn.__name__}: expected {code}, got {got}: {e}"
        return e.response["Error"].get("Message", "")
    raise AssertionError(f"{fn.__name__} {kwargs} should fail with {code}")


def create(spec, usage):
    return kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["Arn"]


def public_key(arn):
    return serialization.load_der_public_key(kms.get_public_key(KeyId=arn)["PublicKey"])


HASHES = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
MSG = b"ebsim asymmetric cross-check"

# --- our signatures, verified by cryptography ---------------------------------------------
rsa_key = create("RSA_2048", "SIGN_VERIFY")
pub = public_key(rsa_key)
for alg in ["RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
            "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"]:
    h = HASHES[alg[-3:]]
    sig = kms.sign(KeyId=rsa_key, Message=MSG, SigningAlgorithm=alg)["Signature"]
    if "PSS" in alg:
        # AWS: salt length = hash length.
        pub.verify(sig, MSG, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    else:
        pub.verify(sig, MSG, padding.PKCS1v15(), h)
    # DIGEST: the same signature scheme over a digest made here.
    d = hashlib.new(h.name, MSG).digest()
    sig = kms.sign(KeyId=rsa_key, Message=d, MessageType="DIGEST", SigningAlgorithm=alg)["Signature"]
    kms.verify(KeyId=rsa_key, Message=MSG, Signature=sig, SigningAlgorithm=alg)

for spec, alg in [("ECC_NIST_P256", "ECDSA_SHA_256"), ("ECC_NIST_P384", "ECDSA_SHA_384"),
                  ("ECC_NIST_P521", "ECDSA_SHA_512"), ("ECC_SECG_P256K1", "ECDSA_SHA_256")]:
    arn = create(spec, "SIGN_VERIFY")
    pub = public_key(arn)
    sig = kms.sign(KeyId=arn, Message=MSG, SigningAlgorithm=alg)["Signature"]
    pub.verify(sig, MSG, ec.ECDSA(HASHES[alg[-3:]]))
    msg = expect_error("ValidationException", kms.sign, KeyId=arn, Message=b"x" * 7,
                       MessageType="DIGEST", SigningAlgorithm=alg)
    assert msg == f"Digest is invalid length for algorithm {alg}.", msg

ed = create("ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
ed_pub_der = kms.get_public_key(KeyId=ed)["PublicKey"]
pub = serialization.load_der_public_key(ed_pub_der)
sig = kms.sign(KeyId=ed, Message=MSG, SigningAlgorithm="ED25519_SHA_512")["Signature"]
pub.verify(sig, MSG)
# Ed25519ph: pycryptodome, prehash over the 64 bytes given as DIGEST.
digest = hashlib.sha512(MSG).digest()
sig = kms.sign(KeyId=ed, Message=digest, MessageType="DIGEST",
               SigningAlgorithm="ED25519_PH_SHA_512")["Signature"]
verifier = eddsa.new(ECC.import_key(ed_pub_der), "rfc8032")
verifier.verify(SHA512.new(digest), sig)
expect_error("ValidationException", kms.sign, KeyId=ed, Message=MSG,
             SigningAlgorithm="ED25519_PH_SHA_512")

for spec in ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87"]:
    arn = create(spec, "SIGN_VERIFY")
    pub = public_key(arn)
    sig = kms.sign(KeyId=arn, Message=MSG, SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
    pub.verify(sig, MSG)
    # EXTERNAL_MU computed here: mu = SHAKE256(SHAKE256(pk, 64) || 0 || 0 || M, 64).
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    tr = hashlib.shake_256(raw).digest(64)
    mu = hashlib.shake_256(tr + b"\x00\x00" + MSG).digest(64)
    sig = kms.sign(KeyId=arn, Message=mu, MessageType="EXTERNAL_MU",
                   SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
    pub.verify(sig, MSG)
    expect_error("ValidationException", kms.sign, KeyId=arn, Message=mu[:63],
                 MessageType="EXTERNAL_MU", SigningAlgorithm="ML_DSA_SHAKE_256")

# --- OAEP ciphertexts made here decrypt ---------------------------------------------------
enc = create("RSA_3072", "ENCRYPT_DECRYPT")
pub = public_key(enc)
for alg, h in [("RSAES_OAEP_SHA_1", hashes.SHA1()), ("RSAES_OAEP_SHA_256", hashes.SHA256())]:
    ct = pub.encrypt(b"secret", padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))
    pt = kms.decrypt(KeyId=enc, CiphertextBlob=ct, EncryptionAlgorithm=alg)["Plaintext"]
    assert pt == b"secret"
    limit = 384 - 2 * h.digest_size - 2
    kms.encrypt(KeyId=enc, Plaintext=b"a" * limit, EncryptionAlgorithm=alg)
    msg = expect_error("ValidationException", kms.encrypt, KeyId=enc, Plaintext=b"a" * (limit + 1),
                       EncryptionAlgorithm=alg)
    assert msg == f"Algorithm {alg} and key spec RSA_3072 cannot encrypt data larger than {limit} bytes.", msg
expect_error("InvalidCiphertextException", kms.decrypt, KeyId=enc, CiphertextBlob=b"\x01" * 384,
             EncryptionAlgorithm="RSAES_OAEP_SHA_256")
expect_error("InvalidKeyUsageException", kms.encrypt, KeyId=enc, Plaintext=b"x")

# --- ECDH computed offline equals DeriveSharedSecret ------------------------------------
for spec, curve in [("ECC_NIST_P256", ec.SECP256R1()), ("ECC_NIST_P384", ec.SECP384R1()),
                    ("ECC_NIST_P521", ec.SECP521R1())]:
    arn = create(spec, "KEY_AGREEMENT")
    mine = ec.generate_private_key(curve)
    peer_der = mine.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    out = kms.derive_shared_secret(KeyId=arn, KeyAgreementAlgorithm="ECDH", PublicKey=peer_der)
    assert out["SharedSecret"] == mine.exchange(ec.ECDH(), public_key(arn)), spec
    assert out["KeyOrigin"] == "AWS_KMS"
    expect_error("ValidationException", kms.derive_shared_secret, KeyId=arn,
                 KeyAgreementAlgorithm="ECDH", PublicKey=b"\x30\x05nope!")

# --- data key pairs ----------------------------------------------------------------------
sym = kms.create_key()["KeyMetadata"]["Arn"]
for spec in ["RSA_2048", "ECC_NIST_P256", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519"]:
    out = kms.generate_data_key_pair(KeyId=sym, KeyPairSpec=spec, EncryptionContext={"k": "v"})
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    mine = private.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    assert mine == out["PublicKey"], spec
    opened = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext={"k": "v"})
    assert opened["Plaintext"] == out["PrivateKeyPlaintext"]
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=out["PrivateKeyCiphertextBlob"])
out = kms.generate_data_key_pair_without_plaintext(KeyId=sym, KeyPairSpec="ECC_NIST_P384")
assert "PrivateKeyPlaintext" not in out and out["KeyPairSpec"] == "ECC_NIST_P384"
expect_error("UnsupportedOperationException", kms.generate_data_key_pair, KeyId=sym, KeyPairSpec="SM2")
expect_error("InvalidKeyUsageException", kms.generate_data_key_pair, KeyId=ed, KeyPairSpec="RSA_2048")
expect_error("DryRunOperationException", kms.generate_data_key_pair, KeyId=sym,
             KeyPairSpec="RSA_2048", DryRun=True)
expect_error("DryRunOperationException", kms.generate_data_key_pair_without_plaintext, KeyId=sym,
             KeyPairSpec="RSA_2048", DryRun=True)

# --- HMAC ---------------------------------------------------------------------------------
mac_key = create("HMAC_256", "GENERATE_VERIFY_MAC")
mac = kms.generate_mac(KeyId=mac_key, Message=MSG, MacAlgorithm="HMAC_SHA_256")
assert mac["KeyId"] == mac_key and len(mac["Mac"]) == 32
assert kms.verify_mac(KeyId=mac_key, Message=MSG, MacAlgorithm="HMAC_SHA_256", Mac=mac["Mac"])["MacValid"]
expect_error("KMSInvalidMacException", kms.verify_mac, KeyId=mac_key, Message=b"x",
             MacAlgorithm="HMAC_SHA_256", Mac=mac["Mac"])
msg = expect_error("InvalidKeyUsageException", kms.generate_mac, KeyId=mac_key, Message=MSG,
                   MacAlgorithm="HMAC_SHA_512")
assert msg == "Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_256.", msg
expect_error("DryRunOperationException", kms.generate_mac, KeyId=mac_key, Message=MSG,
             MacAlgorithm="HMAC_SHA_256", DryRun=True)
expect_error("DryRunOperationException", kms.verify_mac, KeyId=mac_key, Message=MSG,
             MacAlgorithm="HMAC_SHA_256", Mac=mac["Mac"], DryRun=True)

# --- errors of the other operations -------------------------------------------------------
p256 = create("ECC_NIST_P256", "SIGN_VERIFY")
sig = kms.sign(KeyId=p256, Message=MSG, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
missing = "arn:aws:kms:us-west-2:111122223333:key/00000000-0000-0000-0000-000000000000"
for op, kw in [
    (kms.sign, dict(KeyId=p256, Message=MSG, SigningAlgorithm="ECDSA_SHA_256")),
    (kms.verify, dict(KeyId=p256, Message=MSG, Signature=sig, SigningAlgorithm="ECDSA_SHA_256")),
]:
    expect_error("NotFoundException", op, **{**kw, "KeyId": missing})
    expect_error("InvalidKeyUsageException", op, **{**kw, "KeyId": mac_key})
    expect_error("InvalidGrantTokenException", op, **{**kw, "GrantTokens": ["bogus"]})
    expect_error("DryRunOperationException", op, **{**kw, "DryRun": True})
expect_error("KMSInvalidSignatureException", kms.verify, KeyId=p256, Message=b"changed",
             Signature=sig, SigningAlgorithm="ECDSA_SHA_256")
expect_error("UnsupportedOperationException", kms.get_public_key, KeyId=sym)
expect_error("NotFoundException", kms.get_public_key, KeyId=missing)
expect_error("InvalidGrantTokenException", kms.get_public_key, KeyId=p256, GrantTokens=["bogus"])
agree = create("ECC_NIST_P256", "KEY_AGREEMENT")
peer = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
expect_error("InvalidKeyUsageException", kms.derive_shared_secret, KeyId=p256,
             KeyAgreementAlgorithm="ECDH", PublicKey=peer)
expect_error("DryRunOperationException", kms.derive_shared_secret, KeyId=agree,
             KeyAgreementAlgorithm="ECDH", PublicKey=peer, DryRun=True)
kms.disable_key(KeyId=p256)
expect_error("DisabledException", kms.sign, KeyId=p256, Message=MSG, SigningAlgorithm="ECDSA_SHA_256")
expect_error("DisabledException", kms.get_public_key, KeyId=p256)
kms.schedule_key_deletion(KeyId=p256, PendingWindowInDays=7)
expect_error("KMSInvalidStateException", kms.verify, KeyId=p256, Message=MSG, Signature=sig,
             SigningAlgorithm="ECDSA_SHA_256")
usage = kms.get_key_last_usage(KeyId=p256)
assert usage["KeyLastUsage"]["Operation"] == "Sign", usage
expect_error("InvalidArnException", kms.get_key_last_usage, KeyId="alias/whatever")
expect_error("NotFoundException", kms.get_key_last_usage, KeyId=missing)
expect_error("UnsupportedOperationException", kms.create_key, KeySpec="SM2", KeyUsage="SIGN_VERIFY")

# --- keys and signatures made here, for ebsim's own code to verify -------------------------
with open(OUT, "w") as out:
    def emit(spec, alg, mt, private_bytes, msg, sig):
        out.write(json.dumps({
            "spec": spec, "alg": alg, "mt": mt,
            "private": base64.b64encode(private_bytes).decode(),
            "msg": base64.b64encode(msg).decode(), "sig": base64.b64encode(sig).decode(),
        }) + "\n")

    def pkcs8(k):
        return k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())

    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    emit("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", "RAW", pkcs8(k), MSG,
         k.sign(MSG, padding.PKCS1v15(), hashes.SHA256()))
    emit("RSA_2048", "RSASSA_PSS_SHA_384", "RAW", pkcs8(k), MSG,
         k.sign(MSG, padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48), hashes.SHA384()))
    for spec, curve, alg, h in [("ECC_NIST_P256", ec.SECP256R1(), "ECDSA_SHA_256", hashes.SHA256()),
                                ("ECC_NIST_P521", ec.SECP521R1(), "ECDSA_SHA_512", hashes.SHA512()),
                                ("ECC_SECG_P256K1", ec.SECP256K1(), "ECDSA_SHA_256", hashes.SHA256())]:
        k = ec.generate_private_key(curve)
        emit(spec, alg, "RAW", pkcs8(k), MSG, k.sign(MSG, ec.ECDSA(h)))
    k = ed25519.Ed25519PrivateKey.generate()
    emit("ECC_NIST_EDWARDS25519", "ED25519_SHA_512", "RAW", pkcs8(k), MSG, k.sign(MSG))
    ck = ECC.import_key(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    emit("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", "DIGEST", pkcs8(k), digest,
         eddsa.new(ck, "rfc8032").sign(SHA512.new(digest)))
    k = mldsa.MLDSA65PrivateKey.generate()
    emit("ML_DSA_65", "ML_DSA_SHAKE_256", "RAW", k.private_bytes_raw(), MSG, k.sign(MSG))

print("ALL OK")
