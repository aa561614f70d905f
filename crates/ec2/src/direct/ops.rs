//! The six EBS direct operations (docs/ebs-direct.md): StartSnapshot with its encryption
//! outcomes, PutSnapshotBlock, CompleteSnapshot with the LINEAR aggregate checksum,
//! GetSnapshotBlock, ListSnapshotBlocks, ListChangedBlocks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ebsim_kms_server::RestResponse;
use ebsim_snapshot::{
    BLOCK_SIZE, BlockRef, DIRECT_VOLUME_ID, MAX_DIRECT_VOLUME_GIB, Snapshot, SnapshotId,
    SnapshotState, SnapshotStore, StartDirect,
};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::Digest as _;

use super::tokens::{self, BLOCK_TOKEN_SECS};
use super::{EbsError, Pending, Req, TokenUse, json};
use crate::service::Ec2;
use crate::state::{Ec2State, scope_key};
use crate::volumes::DEFAULT_EBS_KEY;

const SHA256: &str = "SHA256";
const INVALID: &str = "INVALID_PARAMETER_VALUE";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A base64 SHA-256 checksum header.
fn checksum(value: Option<&str>, what: &str) -> Result<[u8; 32], EbsError> {
    let v = value.ok_or_else(|| EbsError::validation(INVALID, format!("{what} is required.")))?;
    base64::engine::general_purpose::STANDARD
        .decode(v)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            EbsError::validation(INVALID, format!("{what} is not a base64 SHA-256 checksum."))
        })
}

fn sha_algorithm(value: Option<&str>) -> Result<(), EbsError> {
    match value {
        None | Some(SHA256) => Ok(()),
        Some(_) => Err(EbsError::validation(
            INVALID,
            "x-amz-Checksum-Algorithm must be SHA256.",
        )),
    }
}

/// RFC 3339 as epoch seconds (the REST-JSON timestamp).
fn epoch(rfc3339: &str) -> f64 {
    rfc3339
        .parse::<jiff::Timestamp>()
        .map_or(0.0, |t| t.as_millisecond() as f64 / 1000.0)
}

fn block_index(s: &str) -> Result<u64, EbsError> {
    s.parse::<u64>().map_err(|_| {
        EbsError::validation(
            "INVALID_BLOCK",
            format!("'{}' is not a block index.", echo(s)),
        )
    })
}

fn echo(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The encryption a new snapshot gets (docs/ebs-direct.md, "Encryption"): `Some(key)` for a
/// new data key under `key`, `None` for the parent's key or none.
fn new_key(
    parent: Option<&Snapshot>,
    encrypted: Option<bool>,
    key_arn: Option<&str>,
    by_default: Option<String>,
) -> Result<Option<String>, EbsError> {
    let invalid = |m: &str| EbsError::validation(INVALID, m);
    match (parent, encrypted, key_arn) {
        (Some(_), Some(_), _) => Err(invalid(
            "Encrypted cannot be given with ParentSnapshotId: the snapshot takes the parent's encryption.",
        )),
        (Some(_), None, Some(_)) => Err(invalid(
            "KmsKeyArn cannot be given with ParentSnapshotId: the snapshot uses the parent's key.",
        )),
        (Some(_), None, None) => Ok(None),
        (None, Some(true), Some(k)) => Ok(Some(k.to_owned())),
        (None, Some(true), None) => Ok(Some(
            by_default.unwrap_or_else(|| DEFAULT_EBS_KEY.to_owned()),
        )),
        (None, _, Some(_)) => Err(invalid("KmsKeyArn requires Encrypted to be true.")),
        (None, Some(false), None) if by_default.is_some() => Err(invalid(
            "Encryption by default is on: a snapshot cannot be started unencrypted.",
        )),
        (None, None, None) => Ok(by_default),
        (None, Some(false), None) => Ok(None),
    }
}

impl Ec2 {
    fn ebs_store(&self, req: &Req<'_>) -> Result<SnapshotStore, EbsError> {
        Ok(SnapshotStore::open_at(
            &self.dir,
            self.client.in_region(req.region),
            req.region,
            &self.snapshot_location,
        )?)
    }

    /// A snapshot of the caller's account in the request's region.
    fn own(&self, req: &Req<'_>, store: &SnapshotStore, id: &str) -> Result<Snapshot, EbsError> {
        let s = store.describe(id)?;
        if s.owner_id != req.account {
            return Err(EbsError::not_found(format!(
                "The snapshot '{}' does not exist.",
                echo(id)
            )));
        }
        Ok(s)
    }

    /// The pending snapshot `id` of the caller, or why there is none.
    fn pending(&self, req: &Req<'_>, id: &str) -> Result<Arc<Mutex<Pending>>, EbsError> {
        let found = self.direct.pending.lock().get(id).cloned();
        if let Some(p) = found {
            let ok = {
                let g = p.lock();
                g.account == req.account && g.region == req.region && g.writer.is_some()
            };
            if ok {
                return Ok(p);
            }
        }
        let s = self.own(req, &self.ebs_store(req)?, id)?;
        Err(EbsError::validation(
            "INVALID_SNAPSHOT_ID",
            format!(
                "The snapshot '{}' is {}: blocks are written to pending snapshots started through StartSnapshot only.",
                s.snapshot_id, s.state
            ),
        ))
    }

    pub(crate) fn start_snapshot(&self, req: &Req<'_>) -> Result<RestResponse, EbsError> {
        let body: Value = serde_json::from_slice(&req.http.body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| EbsError::validation(INVALID, "The body is not a JSON object."))?;
        let size = body["VolumeSize"]
            .as_u64()
            .filter(|s| (1..=MAX_DIRECT_VOLUME_GIB).contains(s))
            .ok_or_else(|| {
                EbsError::validation(
                    "INVALID_VOLUME_SIZE",
                    format!("VolumeSize must be an integer from 1 to {MAX_DIRECT_VOLUME_GIB}."),
                )
            })?;
        let text = |name: &str, max: usize| -> Result<Option<String>, EbsError> {
            match &body[name] {
                Value::Null => Ok(None),
                Value::String(s) if s.chars().count() <= max => Ok(Some(s.clone())),
                _ => Err(EbsError::validation(
                    INVALID,
                    format!("{name} must be a string of at most {max} characters."),
                )),
            }
        };
        let parent_id = text("ParentSnapshotId", 64)?;
        let key_arn = text("KmsKeyArn", 2048)?;
        let description = text("Description", 255)?;
        let client_token = text("ClientToken", 255)?;
        let encrypted = match &body["Encrypted"] {
            Value::Null => None,
            Value::Bool(b) => Some(*b),
            _ => {
                return Err(EbsError::validation(
                    INVALID,
                    "Encrypted must be a boolean.",
                ));
            }
        };
        if key_arn.as_deref().is_some_and(|k| !k.starts_with("arn:")) {
            return Err(EbsError::validation(
                "INVALID_CUSTOMER_KEY",
                "KmsKeyArn must be a key ARN.",
            ));
        }
        let timeout = match &body["Timeout"] {
            Value::Null => 60,
            v => v
                .as_u64()
                .filter(|t| (10..=4320).contains(t))
                .ok_or_else(|| {
                    EbsError::validation(INVALID, "Timeout must be 10 to 4320 minutes.")
                })?,
        };
        let tags = tags(&body["Tags"])?;
        let token_key = client_token.map(|t| (req.account.clone(), t));
        if let Some(k) = &token_key
            && let Some(used) = self.direct.tokens.lock().get(k)
        {
            if used.request == body {
                return Ok(RestResponse {
                    status: 201,
                    headers: vec![("content-type", "application/json".to_owned())],
                    body: used.answer.clone(),
                });
            }
            return Err(EbsError::conflict(
                "The ClientToken was used with different parameters.",
            ));
        }
        let store = self.ebs_store(req)?;
        let parent = match &parent_id {
            Some(p) => {
                let s = self.own(req, &store, p)?;
                if s.state != SnapshotState::Completed {
                    return Err(EbsError::validation(
                        "INVALID_SNAPSHOT_ID",
                        format!("The parent snapshot {p} is not completed."),
                    ));
                }
                Some(s)
            }
            None => None,
        };
        if parent.as_ref().is_some_and(|p| !p.encrypted)
            && (encrypted.is_some() || key_arn.is_some())
        {
            return Err(EbsError::validation(
                INVALID,
                "An unencrypted parent's children are unencrypted: Encrypted and KmsKeyArn cannot be given.",
            ));
        }
        let by_default = {
            let st = Ec2State::load(&self.dir).map_err(EbsError::internal)?;
            st.scopes
                .get(&scope_key(&req.account, req.region.as_str()))
                .filter(|s| s.encryption_by_default.enabled)
                .map(|s| {
                    s.encryption_by_default
                        .kms_key_id
                        .clone()
                        .unwrap_or_else(|| DEFAULT_EBS_KEY.to_owned())
                })
        };
        let kms_key_id = new_key(parent.as_ref(), encrypted, key_arn.as_deref(), by_default)?;
        let writer = store.start_direct(StartDirect {
            volume_size_gib: size,
            parent: parent.as_ref().map(|p| p.snapshot_id.clone()),
            kms_key_id,
            description: description.clone(),
            caller: req.caller.principal.clone(),
        })?;
        let s = writer.snapshot();
        if !tags.is_empty() {
            let _guard = self.lock.lock();
            let mut st = Ec2State::load(&self.dir).map_err(EbsError::internal)?;
            st.scope_mut(&req.account, req.region.as_str())
                .snapshot_tags
                .insert(s.snapshot_id.as_str().to_owned(), tags.clone());
            st.save(&self.dir).map_err(EbsError::internal)?;
        }
        let mut answer = json!({
            "SnapshotId": s.snapshot_id.as_str(),
            "OwnerId": s.owner_id,
            "Status": "pending",
            "StartTime": epoch(&s.start_time),
            "VolumeSize": size,
            "BlockSize": BLOCK_SIZE,
            "Tags": tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
            "SseType": if s.encrypted { "sse-ebs" } else { "none" },
        });
        if let Some(p) = &s.parent {
            answer["ParentSnapshotId"] = json!(p.as_str());
        }
        if let Some(k) = &s.kms_key_id {
            answer["KmsKeyArn"] = json!(k);
        }
        if !s.description.is_empty() {
            answer["Description"] = json!(s.description);
        }
        let id = s.snapshot_id.as_str().to_owned();
        self.direct.pending.lock().insert(
            id,
            Arc::new(Mutex::new(Pending {
                writer: Some(writer),
                account: req.account.clone(),
                region: req.region,
                deadline: Instant::now() + Duration::from_secs(timeout * 60),
            })),
        );
        let out = json(201, &answer);
        if let Some(k) = token_key {
            self.direct.tokens.lock().insert(
                k,
                TokenUse {
                    request: body,
                    answer: out.body.clone(),
                },
            );
        }
        Ok(out)
    }

    pub(crate) fn put_snapshot_block(
        &self,
        req: &Req<'_>,
        id: &str,
        index: &str,
    ) -> Result<RestResponse, EbsError> {
        let p = self.pending(req, id)?;
        let index = block_index(index)?;
        let mut g = p.lock();
        let Some(writer) = g.writer.as_mut() else {
            return Err(EbsError::validation(
                "INVALID_SNAPSHOT_ID",
                "The snapshot is not pending.",
            ));
        };
        if index >= writer.block_count() {
            return Err(EbsError::validation(
                "INVALID_BLOCK",
                format!(
                    "Block index {index} is out of range: the snapshot has {} blocks.",
                    writer.block_count()
                ),
            ));
        }
        let declared = req.header("x-amz-data-length")?;
        let body = &req.http.body;
        if declared.and_then(|d| d.parse::<u64>().ok()) != Some(BLOCK_SIZE)
            || body.len() as u64 != BLOCK_SIZE
        {
            return Err(EbsError::validation(
                INVALID,
                format!(
                    "A block is {BLOCK_SIZE} bytes: x-amz-Data-Length and the body must both be {BLOCK_SIZE}."
                ),
            ));
        }
        sha_algorithm(req.header("x-amz-checksum-algorithm")?)?;
        let sum = checksum(req.header("x-amz-checksum")?, "x-amz-Checksum")?;
        let actual: [u8; 32] = sha2::Sha256::digest(body).into();
        if actual != sum {
            return Err(EbsError::validation(
                INVALID,
                "The block's SHA-256 does not match x-amz-Checksum.",
            ));
        }
        let progress = match req.header("x-amz-progress")? {
            None => None,
            Some(v) => Some(v.parse::<u8>().ok().filter(|p| *p <= 100).ok_or_else(|| {
                EbsError::validation(INVALID, "x-amz-Progress must be 0 to 100.")
            })?),
        };
        writer.put(&req.caller.principal, index, body, sum, progress)?;
        Ok(RestResponse {
            status: 201,
            headers: vec![
                ("x-amz-checksum", b64(&sum)),
                ("x-amz-checksum-algorithm", SHA256.to_owned()),
            ],
            body: Vec::new(),
        })
    }

    pub(crate) fn complete_snapshot(
        &self,
        req: &Req<'_>,
        id: &str,
    ) -> Result<RestResponse, EbsError> {
        let p = self.pending(req, id)?;
        let mut g = p.lock();
        let Some(writer) = g.writer.as_mut() else {
            return Err(EbsError::validation(
                "INVALID_SNAPSHOT_ID",
                "The snapshot is not pending.",
            ));
        };
        let checked = (|| {
            let count = req
                .header("x-amz-changedblockscount")?
                .and_then(|c| c.parse::<u64>().ok())
                .ok_or_else(|| {
                    EbsError::validation(INVALID, "x-amz-ChangedBlocksCount is required.")
                })?;
            if count != writer.written() {
                return Err(EbsError::validation(
                    INVALID,
                    format!(
                        "ChangedBlocksCount is {count}, but {} blocks were written.",
                        writer.written()
                    ),
                ));
            }
            sha_algorithm(req.header("x-amz-checksum-algorithm")?)?;
            match req.header("x-amz-checksum-aggregation-method")? {
                None | Some("LINEAR") => {}
                Some(_) => {
                    return Err(EbsError::validation(
                        INVALID,
                        "x-amz-Checksum-Aggregation-Method must be LINEAR.",
                    ));
                }
            }
            if let Some(v) = req.header("x-amz-checksum")? {
                let sum = checksum(Some(v), "x-amz-Checksum")?;
                if sum != writer.aggregate_checksum()
                    && sum != writer.aggregate_checksum_of_base64()
                {
                    return Err(EbsError::validation(
                        INVALID,
                        "x-amz-Checksum does not match the LINEAR aggregate of the blocks' checksums.",
                    ));
                }
            }
            Ok(())
        })();
        checked?;
        writer.complete()?;
        // Done: the writer (and its locks) go; later writes find no pending snapshot.
        g.writer = None;
        drop(g);
        self.direct.pending.lock().remove(id);
        Ok(json(202, &json!({"Status": "completed"})))
    }

    /// A completed snapshot of the caller, with its blocks.
    fn completed_blocks(
        &self,
        req: &Req<'_>,
        store: &SnapshotStore,
        id: &str,
    ) -> Result<(Snapshot, Vec<BlockRef>), EbsError> {
        let s = self.own(req, store, id)?;
        let blocks = store.blocks(id)?;
        Ok((s, blocks))
    }

    pub(crate) fn get_snapshot_block(
        &self,
        req: &Req<'_>,
        id: &str,
        index: &str,
    ) -> Result<RestResponse, EbsError> {
        let index = block_index(index)?;
        let token = req.query("blockToken").ok_or_else(|| {
            EbsError::validation("INVALID_BLOCK_TOKEN", "blockToken is required.")
        })?;
        let store = self.ebs_store(req)?;
        let (s, blocks) = self.completed_blocks(req, &store, id)?;
        let held = blocks
            .binary_search_by_key(&index, |b| b.index)
            .ok()
            .map(|at| &blocks[at].sha256);
        tokens::check_block_token(token, s.snapshot_id.as_str(), index, held)?;
        let mut data = store
            .read_plain(&s.snapshot_id, index, &req.caller.principal)?
            .unwrap_or_default();
        // Every block is 512 KiB on the wire: the short last block of a volume whose size is
        // not a multiple of it is padded with zeros.
        data.resize(BLOCK_SIZE as usize, 0);
        let sum: [u8; 32] = sha2::Sha256::digest(&data).into();
        Ok(RestResponse {
            status: 200,
            headers: vec![
                ("content-type", "application/octet-stream".to_owned()),
                ("x-amz-data-length", data.len().to_string()),
                ("x-amz-checksum", b64(&sum)),
                ("x-amz-checksum-algorithm", SHA256.to_owned()),
            ],
            body: data,
        })
    }

    pub(crate) fn list_snapshot_blocks(
        &self,
        req: &Req<'_>,
        id: &str,
    ) -> Result<RestResponse, EbsError> {
        let store = self.ebs_store(req)?;
        let (s, blocks) = self.completed_blocks(req, &store, id)?;
        let (start, max) = paging(req, id)?;
        let expiry = tokens::now() + BLOCK_TOKEN_SECS;
        let sid = s.snapshot_id.as_str();
        let rest: Vec<&BlockRef> = blocks.iter().filter(|b| b.index >= start).collect();
        let page: Vec<Value> = rest
            .iter()
            .take(max)
            .map(|b| json!({"BlockIndex": b.index, "BlockToken": tokens::block_token(sid, b.index, &b.sha256, expiry)}))
            .collect();
        let mut out = json!({
            "Blocks": page,
            "ExpiryTime": expiry as f64,
            "VolumeSize": s.volume_size_gib,
            "BlockSize": BLOCK_SIZE,
        });
        if let Some(next) = rest.get(max) {
            out["NextToken"] = json!(tokens::page_token(sid, next.index));
        }
        Ok(json(200, &out))
    }

    pub(crate) fn list_changed_blocks(
        &self,
        req: &Req<'_>,
        second: &str,
    ) -> Result<RestResponse, EbsError> {
        let store = self.ebs_store(req)?;
        let (s2, b2) = self.completed_blocks(req, &store, second)?;
        let (first, b1) = match req.query("firstSnapshotId") {
            Some(f) => {
                let (s1, b1) = self.completed_blocks(req, &store, f)?;
                if !related(&store, &s1, &s2)? {
                    return Err(EbsError::validation(
                        "UNRELATED_SNAPSHOTS",
                        format!(
                            "The snapshots {} and {} are not of one lineage.",
                            s1.snapshot_id, s2.snapshot_id
                        ),
                    ));
                }
                (Some(s1), b1)
            }
            None => (None, Vec::new()),
        };
        let (start, max) = paging(req, second)?;
        let m1: BTreeMap<u64, [u8; 32]> = b1.iter().map(|b| (b.index, b.sha256)).collect();
        let m2: BTreeMap<u64, [u8; 32]> = b2.iter().map(|b| (b.index, b.sha256)).collect();
        let changed: Vec<u64> = m1
            .keys()
            .chain(m2.keys())
            .copied()
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .filter(|i| *i >= start && m1.get(i) != m2.get(i))
            .collect();
        let expiry = tokens::now() + BLOCK_TOKEN_SECS;
        let page: Vec<Value> = changed
            .iter()
            .take(max)
            .map(|i| {
                let mut b = json!({"BlockIndex": i});
                if let (Some(f), Some(sha)) = (&first, m1.get(i)) {
                    b["FirstBlockToken"] =
                        json!(tokens::block_token(f.snapshot_id.as_str(), *i, sha, expiry));
                }
                if let Some(sha) = m2.get(i) {
                    b["SecondBlockToken"] = json!(tokens::block_token(
                        s2.snapshot_id.as_str(),
                        *i,
                        sha,
                        expiry
                    ));
                }
                b
            })
            .collect();
        let mut out = json!({
            "ChangedBlocks": page,
            "ExpiryTime": expiry as f64,
            "VolumeSize": s2.volume_size_gib,
            "BlockSize": BLOCK_SIZE,
        });
        if let Some(next) = changed.get(max) {
            out["NextToken"] = json!(tokens::page_token(s2.snapshot_id.as_str(), *next));
        }
        Ok(json(200, &out))
    }
}

/// `pageToken` (which wins), else `startingBlockIndex`; `maxResults` 100–10000 (less acts as
/// 100).
fn paging(req: &Req<'_>, snapshot: &str) -> Result<(u64, usize), EbsError> {
    let start = match (req.query("pageToken"), req.query("startingBlockIndex")) {
        (Some(t), _) => tokens::check_page_token(t, snapshot)?,
        (None, Some(i)) => i.parse().map_err(|_| {
            EbsError::validation(
                INVALID,
                "startingBlockIndex must be a non-negative integer.",
            )
        })?,
        (None, None) => 0,
    };
    let max = match req.query("maxResults") {
        None => 10_000,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|m| *m <= 10_000)
            .ok_or_else(|| EbsError::validation(INVALID, "maxResults must be at most 10000."))?
            .max(100),
    };
    Ok((start, max))
}

/// Whether two snapshots are of one lineage: one descends from the other, or both share the
/// data key of one volume's lineage.
fn related(store: &SnapshotStore, a: &Snapshot, b: &Snapshot) -> Result<bool, EbsError> {
    if a.data_encryption_key_id.is_some() && a.data_encryption_key_id == b.data_encryption_key_id {
        return Ok(true);
    }
    if a.volume_id == b.volume_id && a.volume_id != DIRECT_VOLUME_ID && a.encrypted == b.encrypted {
        return Ok(true);
    }
    let descends = |from: &Snapshot, to: &SnapshotId| -> Result<bool, EbsError> {
        let mut at = from.parent.clone();
        for _ in 0..10_000 {
            let Some(p) = at else { return Ok(false) };
            if &p == to {
                return Ok(true);
            }
            at = match store.describe(p.as_str()) {
                Ok(s) => s.parent,
                Err(_) => None,
            };
        }
        Ok(false)
    };
    Ok(descends(b, &a.snapshot_id)? || descends(a, &b.snapshot_id)?)
}

/// StartSnapshot's `Tags`: at most 50 `{Key, Value}`.
fn tags(v: &Value) -> Result<BTreeMap<String, String>, EbsError> {
    let bad = |m: &str| EbsError::validation("INVALID_TAG", m);
    let mut out = BTreeMap::new();
    match v {
        Value::Null => {}
        Value::Array(list) if list.len() <= 50 => {
            for t in list {
                let (Some(k), Some(val)) = (t["Key"].as_str(), t["Value"].as_str().or(Some("")))
                else {
                    return Err(bad("A tag needs a Key."));
                };
                if k.is_empty()
                    || k.chars().count() > 127
                    || k.starts_with("aws:")
                    || val.chars().count() > 255
                {
                    return Err(bad(
                        "A tag key is 1-127 characters not starting with aws:, a value at most 255.",
                    ));
                }
                out.insert(k.to_owned(), val.to_owned());
            }
        }
        _ => return Err(bad("Tags must be a list of at most 50 tags.")),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_outcomes_follow_aws() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/k";
        let on = Some("alias/custom".to_owned());
        assert_eq!(new_key(None, None, None, None).expect("ok"), None);
        assert_eq!(new_key(None, None, None, on.clone()).expect("ok"), on);
        assert_eq!(
            new_key(None, Some(true), None, None)
                .expect("ok")
                .as_deref(),
            Some(DEFAULT_EBS_KEY)
        );
        assert_eq!(
            new_key(None, Some(true), Some(arn), on.clone())
                .expect("ok")
                .as_deref(),
            Some(arn)
        );
        assert!(new_key(None, None, Some(arn), None).is_err());
        assert!(new_key(None, Some(false), None, on).is_err());
        assert!(new_key(None, Some(false), Some(arn), None).is_err());
    }

    #[test]
    fn tags_are_bounded() {
        assert_eq!(
            tags(&json!([{"Key": "a", "Value": "b"}]))
                .expect("ok")
                .len(),
            1
        );
        assert!(tags(&json!([{"Key": "aws:x", "Value": "b"}])).is_err());
        assert!(tags(&json!("x")).is_err());
        let many: Vec<Value> = (0..51).map(|i| json!({"Key": i.to_string()})).collect();
        assert!(tags(&Value::Array(many)).is_err());
    }
}
