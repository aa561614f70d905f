#![allow(clippy::unwrap_used)]

use super::*;

const SPECS: &[&str] = &[
    "RSA_2048",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "ECC_NIST_EDWARDS25519",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
];

#[test]
fn every_signing_spec_signs_and_verifies_each_of_its_algorithms() {
    for name in SPECS {
        let spec = Spec::parse(name).unwrap();
        let key = PrivateKey::generate(spec, false).unwrap();
        let again = PrivateKey::from_stored(spec, false, key.stored.clone()).unwrap();
        assert_eq!(key.public_der, again.public_der, "{name} reads back");
        for alg in SigningAlgorithm::of_spec(name) {
            let alg = SigningAlgorithm::parse(alg).unwrap();
            let mt = if alg == SigningAlgorithm::Ed25519Ph {
                MessageType::Digest
            } else {
                MessageType::Raw
            };
            let msg: Vec<u8> = if mt == MessageType::Digest {
                vec![7u8; 64]
            } else {
                b"hello".to_vec()
            };
            let s = key.sign(alg, mt, &msg).unwrap();
            again.verify(alg, mt, &msg, &s).unwrap();
            let mut bad = s.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert_eq!(
                again.verify(alg, mt, &msg, &bad),
                Err(AsymError::BadSignature),
                "{name} {alg:?}"
            );
            assert_eq!(
                again.verify(alg, mt, &vec![8u8; msg.len()], &s),
                Err(AsymError::BadSignature)
            );
        }
    }
}

#[test]
fn a_digest_verifies_as_its_message_and_must_have_the_right_length() {
    use sha2::Digest as _;
    let key = PrivateKey::generate(Spec::P256, false).unwrap();
    let alg = SigningAlgorithm::Ecdsa(256);
    let s = key.sign(alg, MessageType::Raw, b"m").unwrap();
    let d = sha2::Sha256::digest(b"m");
    key.verify(alg, MessageType::Digest, &d, &s).unwrap();
    assert_eq!(
        key.sign(alg, MessageType::Digest, &[0u8; 31]),
        Err(AsymError::Invalid(
            "Digest is invalid length for algorithm ECDSA_SHA_256.".into()
        ))
    );
    assert!(matches!(
        key.sign(SigningAlgorithm::Ecdsa(384), MessageType::Raw, b"m"),
        Err(AsymError::Incompatible(_))
    ));
    let rsa = PrivateKey::generate(Spec::Rsa(2048), false).unwrap();
    for alg in [SigningAlgorithm::Pkcs1(384), SigningAlgorithm::Pss(512)] {
        let s = rsa.sign(alg, MessageType::Raw, b"m").unwrap();
        assert_eq!(s.len(), 256);
        let d: Vec<u8> = if alg == SigningAlgorithm::Pkcs1(384) {
            sha2::Sha384::digest(b"m").to_vec()
        } else {
            sha2::Sha512::digest(b"m").to_vec()
        };
        rsa.verify(alg, MessageType::Digest, &d, &s).unwrap();
        let s2 = rsa.sign(alg, MessageType::Digest, &d).unwrap();
        rsa.verify(alg, MessageType::Raw, b"m", &s2).unwrap();
    }
}

#[test]
fn ml_dsa_mu_signatures_verify_as_raw_ones_and_the_two_libraries_agree() {
    let key = PrivateKey::generate(Spec::MlDsa(65), false).unwrap();
    let Live::MlDsa { mu, lc } = &key.live else {
        panic!()
    };
    let MuKey::P65(k) = mu else { panic!() };
    // The same public key from the same seed in both libraries.
    use aws_lc_rs::signature::KeyPair as _;
    assert_eq!(
        lc.public_key().as_ref(),
        k.verifying_key().encode().as_slice()
    );
    // μ = SHAKE256(tr ‖ 0 ‖ 0 ‖ M, 64), tr = SHAKE256(pk, 64).
    let m = b"message";
    let mu_bytes: [u8; 64] = k
        .verifying_key()
        .compute_mu(
            |h| {
                digest011::Update::update(h, m);
                Ok(())
            },
            &[],
        )
        .unwrap()
        .into();
    let s = key
        .sign(SigningAlgorithm::MlDsa, MessageType::ExternalMu, &mu_bytes)
        .unwrap();
    key.verify(SigningAlgorithm::MlDsa, MessageType::Raw, m, &s)
        .unwrap();
    let raw = key
        .sign(SigningAlgorithm::MlDsa, MessageType::Raw, m)
        .unwrap();
    key.verify(
        SigningAlgorithm::MlDsa,
        MessageType::ExternalMu,
        &mu_bytes,
        &raw,
    )
    .unwrap();
    assert!(matches!(
        key.sign(SigningAlgorithm::MlDsa, MessageType::ExternalMu, &[0u8; 63]),
        Err(AsymError::Invalid(_))
    ));
    assert!(matches!(
        key.sign(SigningAlgorithm::MlDsa, MessageType::Digest, &[0u8; 64]),
        Err(AsymError::Invalid(_))
    ));
}

#[test]
fn oaep_hmac_and_ecdh() {
    let rsa = PrivateKey::generate(Spec::Rsa(2048), false).unwrap();
    let c = rsa.oaep_encrypt("RSAES_OAEP_SHA_256", &[1u8; 190]).unwrap();
    assert_eq!(c.len(), 256);
    assert_eq!(
        &*rsa.oaep_decrypt("RSAES_OAEP_SHA_256", &c).unwrap(),
        &[1u8; 190]
    );
    assert_eq!(
        rsa.oaep_decrypt("RSAES_OAEP_SHA_1", &c),
        Err(AsymError::BadCiphertext)
    );
    assert_eq!(
        rsa.oaep_encrypt("RSAES_OAEP_SHA_256", &[1u8; 191]),
        Err(AsymError::Invalid(
            "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.".into()
        ))
    );
    assert!(rsa.oaep_encrypt("RSAES_OAEP_SHA_1", &[1u8; 214]).is_ok());

    let h = PrivateKey::generate(Spec::Hmac(384), false).unwrap();
    let mac = h.mac("HMAC_SHA_384", b"m").unwrap();
    assert_eq!(mac.len(), 48);
    h.verify_mac("HMAC_SHA_384", b"m", &mac).unwrap();
    assert_eq!(
        h.verify_mac("HMAC_SHA_384", b"n", &mac),
        Err(AsymError::BadMac)
    );
    assert!(matches!(
        h.mac("HMAC_SHA_256", b"m"),
        Err(AsymError::Incompatible(_))
    ));

    let a = PrivateKey::generate(Spec::P384, true).unwrap();
    let b = PrivateKey::generate(Spec::P384, true).unwrap();
    let ab = a.derive(b.public_key_der().unwrap()).unwrap();
    let ba = b.derive(a.public_key_der().unwrap()).unwrap();
    assert_eq!(ab.len(), 48);
    assert_eq!(&*ab, &*ba);
    assert_eq!(a.derive(&b.public_raw), Err(AsymError::BadPublicKey));
    assert_eq!(a.derive(b"\x30\x03junk"), Err(AsymError::BadPublicKey));
    let p256 = PrivateKey::generate(Spec::P256, true).unwrap();
    assert_eq!(
        a.derive(p256.public_key_der().unwrap()),
        Err(AsymError::BadPublicKey)
    );
}

#[test]
fn data_key_pairs_read_back() {
    for spec in [
        "RSA_2048",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
        "ECC_NIST_EDWARDS25519",
    ] {
        let pair = generate_pair(spec).unwrap().unwrap();
        let back =
            PrivateKey::from_stored(Spec::parse(spec).unwrap(), false, pair.private_der.clone())
                .unwrap();
        assert_eq!(back.public_key_der().unwrap(), pair.public_der.as_slice());
    }
    assert!(generate_pair("HMAC_256").is_none());
    assert!(generate_pair("SM2").is_none());
}
