//! A volume's data.img, written through the real key flow (KMS-wrapped key, attach as the EC2
//! infrastructure session), decrypts with an independent XTS-AES-256 implementation
//! (xts-mode + aes) under the data key that KMS unwraps: sector i at i × sector_size,
//! key1 ‖ key2, tweak = i little-endian; never-written and all-zero sectors are zeros.

use aes::Aes256;
use aes::cipher::KeyInit;
use ebsim::{CreateVolumeRequest, Identity, Simulator};
use xts_mode::{Xts128, get_tweak_default};

#[test]
fn data_img_decrypts_independently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = Simulator::open(dir.path()).expect("open");
    let key = sim
        .kms()
        .call(&Identity::Default, "CreateKey", serde_json::json!({}))
        .expect("CreateKey");
    for ss in [ebsim::io::SectorSize::S512, ebsim::io::SectorSize::S4096] {
        let mut req = CreateVolumeRequest::new(4 << 20);
        req.sector_size = ss;
        req.key_id = key["KeyMetadata"]["Arn"].as_str().map(str::to_owned);
        let meta = sim.ebs().create_volume(&req).expect("create");
        let vol = sim.ebs().attach(&meta.volume_id).expect("attach");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8 ^ 0x5a).collect();
        let offset = 3 * 4096 + 100;
        vol.write_at(offset, &data).expect("write");
        vol.write_at(1 << 20, &[0u8; 8192]).expect("zeros");
        vol.detach().expect("detach");

        let dk = sim
            .kms()
            .decrypt_data_key(
                &Identity::Default,
                &meta.wrapped_key().expect("blob"),
                &meta.context(),
            )
            .expect("the key owner may decrypt");
        let k = dk.as_bytes();
        let xts = Xts128::new(
            Aes256::new(k[..32].try_into().expect("32 bytes")),
            Aes256::new(k[32..].try_into().expect("32 bytes")),
        );
        let img_path = dir
            .path()
            .join("volumes")
            .join(&meta.volume_id)
            .join("data.img");
        let mut img = std::fs::read(&img_path).expect("data.img");
        assert_eq!(img.len(), 4 << 20);
        let s = ss.bytes();
        for (i, sector) in img.chunks_mut(s).enumerate() {
            if sector.iter().any(|&b| b != 0) {
                xts.decrypt_area(sector, s, i as u128, get_tweak_default);
            }
        }
        let at = offset as usize;
        assert!(
            img[at..at + data.len()] == data[..],
            "decrypts to the bytes written ({ss} bytes/sector)"
        );
        assert!(img[..at].iter().all(|&b| b == 0));
        assert!(img[at + data.len()..].iter().all(|&b| b == 0));
    }
}
