//! Growing a volume (EC2 ModifyVolume): the new size is bound into the metadata MAC again,
//! which takes the data key, unwrapped for the purpose and dropped at once (docs/formats.md,
//! "The metadata MAC").

use std::path::PathBuf;

use ebsim_data_dir::{VOLUME_DATA as DATA_FILE, VOLUME_METADATA as METADATA_FILE};
use ebsim_kms_client::{ClientError, EncryptionContext};

use crate::VolumeError;
use crate::binding::MetadataKey;
use crate::error::kms_failure_meaning;
use crate::metadata::VolumeMetadata;
use crate::root::{Inner, VolumeRoot, lock_dir, write_atomic};

impl VolumeRoot {
    /// Grows a volume to `new_size_bytes` (at least its size, a multiple of its sector size):
    /// takes its lock (refused while a process has it attached), asks `unwrap` for the data
    /// key, checks the stored MAC, extends `data.img` with holes (reading as zeros) and
    /// writes the metadata with the new size and a new MAC. The key is dropped before
    /// returning; on any error nothing changes.
    ///
    /// # Errors
    /// [`VolumeError::InUse`], [`VolumeError::NotFound`], [`VolumeError::InvalidSize`] (a
    /// smaller size or not a multiple of the sector size; in-memory volumes cannot grow),
    /// [`VolumeError::Kms`], [`VolumeError::MetadataMismatch`], or a file-system error.
    pub fn resize_with<K, F>(
        &self,
        volume_id: &str,
        new_size_bytes: u64,
        unwrap: F,
    ) -> Result<VolumeMetadata, VolumeError>
    where
        K: AsRef<[u8]>,
        F: FnOnce(&[u8], &EncryptionContext) -> Result<K, ClientError>,
    {
        Self::check_id(volume_id)?;
        let Inner::Dir(_) = &self.0 else {
            return Err(VolumeError::InvalidSize {
                size_bytes: new_size_bytes,
                sector_size: 0,
            });
        };
        let dir = self.volume_dir(volume_id).unwrap_or_default();
        if !dir.join(METADATA_FILE).is_file() {
            return Err(VolumeError::NotFound(volume_id.to_owned()));
        }
        let _lock = lock_dir(&dir, volume_id)?;
        let meta = self.load(volume_id)?;
        let ss = u64::from(meta.sector_size);
        if new_size_bytes < meta.size_bytes || !new_size_bytes.is_multiple_of(ss) {
            return Err(VolumeError::InvalidSize {
                size_bytes: new_size_bytes,
                sector_size: ss,
            });
        }
        let blob = meta
            .wrapped_key()
            .map_err(|reason| VolumeError::CorruptMetadata {
                path: dir.join(METADATA_FILE),
                reason,
            })?;
        let key = unwrap(&blob, &meta.context()).map_err(|source| VolumeError::Kms {
            volume_id: meta.volume_id.clone(),
            operation: "Decrypt",
            meaning: kms_failure_meaning("Decrypt", &source),
            source: Box::new(source),
        })?;
        let mac_key = MetadataKey::derive(key.as_ref());
        drop(key);
        if let Some(stored) = &meta.metadata_mac
            && !mac_key.verify(&meta, stored)
        {
            return Err(VolumeError::MetadataMismatch {
                volume_id: meta.volume_id.clone(),
                path: dir.join(METADATA_FILE),
            });
        }
        let mut grown = meta.clone();
        grown.size_bytes = new_size_bytes;
        grown.metadata_mac = Some(mac_key.sign(&grown));
        drop(mac_key);
        let data: PathBuf = dir.join(DATA_FILE);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&data)
            .map_err(|e| VolumeError::fs("cannot open", &data, e))?;
        file.set_len(new_size_bytes)
            .map_err(|e| VolumeError::fs("cannot grow", &data, e))?;
        let json = serde_json::to_vec_pretty(&grown).unwrap_or_default();
        if let Err(e) = write_atomic(&dir.join(METADATA_FILE), &json) {
            let _ = file.set_len(meta.size_bytes);
            return Err(e);
        }
        let _ = file.sync_all();
        Ok(grown)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use ebsim_io::SectorSize;
    use ebsim_kms_client::{ClientError, EncryptionContext};

    use crate::{NewVolume, VolumeError, VolumeRoot, new_volume_id};

    fn key(byte: u8) -> impl Fn(&[u8], &EncryptionContext) -> Result<Vec<u8>, ClientError> {
        // Two different halves: XTS refuses key1 == key2.
        move |_, _| Ok((0u8..64).map(|i| i ^ byte).collect())
    }

    #[test]
    fn growth_rebinds_the_mac_and_keeps_the_data() {
        let tmp = tempfile::tempdir().unwrap();
        let root = VolumeRoot::dir(tmp.path());
        let id = new_volume_id();
        root.create(NewVolume {
            volume_id: id.clone(),
            size_bytes: 1 << 20,
            sector_size: SectorSize::S4096,
            kms_key_arn: "arn:aws:kms:us-west-2:111122223333:key/k".into(),
            wrapped_key: vec![1; 32],
            context: EncryptionContext::ebs(&id).unwrap(),
            grant_id: None,
            grantee_principal: None,
            retiring_principal: None,
            owner: None,
        })
        .unwrap();
        let vol = root.attach_with(&id, key(7)).unwrap();
        vol.write_at(4096, b"kept").unwrap();
        assert!(matches!(
            root.resize_with(&id, 2 << 20, key(7)),
            Err(VolumeError::InUse(_))
        ));
        vol.detach().unwrap();
        assert!(matches!(
            root.resize_with(&id, 1 << 19, key(7)),
            Err(VolumeError::InvalidSize { .. })
        ));
        assert!(matches!(
            root.resize_with(&id, 2 << 20, key(8)),
            Err(VolumeError::MetadataMismatch { .. })
        ));
        assert_eq!(
            root.load(&id).unwrap().size_bytes,
            1 << 20,
            "nothing changed"
        );
        let grown = root.resize_with(&id, 2 << 20, key(7)).unwrap();
        assert_eq!(grown.size_bytes, 2 << 20);
        let vol = root.attach_with(&id, key(7)).unwrap();
        let mut buf = [0u8; 4];
        vol.read_at(4096, &mut buf).unwrap();
        assert_eq!(&buf, b"kept");
        vol.write_at((2 << 20) - 4, b"end!").unwrap();
        vol.detach().unwrap();
        // The size is bound: an edit of metadata.json back to the old size is refused.
        let mut meta = root.load(&id).unwrap();
        meta.size_bytes = 1 << 20;
        root.update(&meta).unwrap();
        assert!(root.attach_with(&id, key(7)).is_err());
    }
}
