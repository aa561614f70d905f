//! The S3-compatible store (feature `s3-snapshots`): blocks and manifests as objects under
//! `s3://bucket/prefix/{blocks,manifests}/…`, through the `object_store` crate. Endpoint,
//! region and credentials come from the usual AWS variables (`AWS_ENDPOINT_URL`,
//! `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).

use std::path::PathBuf;

use futures_util::TryStreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

use crate::backend::Backend;
use crate::manifest::{MAX_MANIFEST_BYTES, parse_sha256};
use crate::{BLOCK_SIZE, SnapshotError, SnapshotId};

pub(crate) struct S3Backend {
    store: AmazonS3,
    bucket: String,
    prefix: String,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Backend(s3://{}/{})", self.bucket, self.prefix)
    }
}

fn err(what: &str, e: object_store::Error) -> SnapshotError {
    SnapshotError::Store(format!("{what}: {e}"))
}

impl S3Backend {
    pub(crate) fn open(bucket: &str, prefix: &str) -> Result<Self, SnapshotError> {
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if std::env::var("AWS_ENDPOINT_URL").is_ok_and(|u| u.starts_with("http://")) {
            b = b.with_allow_http(true);
        }
        if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
            b = b.with_region("us-east-1");
        }
        let store = b
            .build()
            .map_err(|e| err(&format!("s3://{bucket}/{prefix}"), e))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| SnapshotError::Store(format!("cannot start the S3 client: {e}")))?;
        Ok(Self {
            store,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            rt,
        })
    }

    fn key(&self, rest: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(rest)
        } else {
            ObjectPath::from(format!("{}/{rest}", self.prefix))
        }
    }

    fn block_key(&self, sha: &[u8; 32]) -> ObjectPath {
        self.key(&format!("blocks/{}", hex::encode(sha)))
    }

    fn manifest_key(&self, id: &SnapshotId) -> ObjectPath {
        self.key(&format!("manifests/{id}.json"))
    }

    /// An object's bytes, at most `max`; `None` when there is none.
    fn get(&self, key: &ObjectPath, max: u64) -> Result<Option<Vec<u8>>, SnapshotError> {
        self.rt.block_on(async {
            let got = match self.store.get(key).await {
                Ok(g) => g,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(err(&format!("GET {key}"), e)),
            };
            if got.meta.size > max {
                return Err(SnapshotError::Store(format!(
                    "{key} is larger than {max} bytes"
                )));
            }
            let bytes = got
                .bytes()
                .await
                .map_err(|e| err(&format!("GET {key}"), e))?;
            Ok(Some(bytes.to_vec()))
        })
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, SnapshotError> {
        let prefix = self.key(dir);
        self.rt.block_on(async {
            let metas: Vec<_> = self
                .store
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(|e| err(&format!("LIST {prefix}"), e))?;
            Ok(metas
                .into_iter()
                .filter_map(|m| m.location.filename().map(str::to_owned))
                .collect())
        })
    }
}

impl Backend for S3Backend {
    fn put_block(&self, sha: &[u8; 32], bytes: &[u8]) -> Result<bool, SnapshotError> {
        let key = self.block_key(sha);
        self.rt.block_on(async {
            match self.store.head(&key).await {
                Ok(_) => return Ok(false),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(err(&format!("HEAD {key}"), e)),
            }
            self.store
                .put(&key, PutPayload::from(bytes.to_vec()))
                .await
                .map_err(|e| err(&format!("PUT {key}"), e))?;
            Ok(true)
        })
    }

    fn get_block(&self, sha: &[u8; 32], out: &mut Vec<u8>) -> Result<bool, SnapshotError> {
        match self.get(&self.block_key(sha), BLOCK_SIZE)? {
            Some(b) => {
                *out = b;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn delete_block(&self, sha: &[u8; 32]) -> Result<(), SnapshotError> {
        let key = self.block_key(sha);
        self.rt.block_on(async {
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(err(&format!("DELETE {key}"), e)),
            }
        })
    }

    fn list_blocks(&self) -> Result<Vec<[u8; 32]>, SnapshotError> {
        Ok(self
            .list("blocks")?
            .iter()
            .filter_map(|n| parse_sha256(n).ok())
            .collect())
    }

    fn sync(&self) -> Result<(), SnapshotError> {
        // A completed PUT is durable.
        Ok(())
    }

    fn put_manifest(&self, id: &SnapshotId, bytes: &[u8]) -> Result<(), SnapshotError> {
        let key = self.manifest_key(id);
        self.rt.block_on(async {
            self.store
                .put(&key, PutPayload::from(bytes.to_vec()))
                .await
                .map(|_| ())
                .map_err(|e| err(&format!("PUT {key}"), e))
        })
    }

    fn get_manifest(&self, id: &SnapshotId) -> Result<Option<(Vec<u8>, PathBuf)>, SnapshotError> {
        let key = self.manifest_key(id);
        Ok(self
            .get(&key, MAX_MANIFEST_BYTES)?
            .map(|b| (b, PathBuf::from(format!("s3://{}/{key}", self.bucket)))))
    }

    fn delete_manifest(&self, id: &SnapshotId) -> Result<(), SnapshotError> {
        let key = self.manifest_key(id);
        self.rt.block_on(async {
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(err(&format!("DELETE {key}"), e)),
            }
        })
    }

    fn list_manifests(&self) -> Result<Vec<SnapshotId>, SnapshotError> {
        let mut ids: Vec<SnapshotId> = self
            .list("manifests")?
            .iter()
            .filter_map(|n| SnapshotId::parse(n.strip_suffix(".json")?).ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}
