//! EBS direct's opaque tokens (docs/ebs-direct.md, "Tokens"): a block token names a snapshot,
//! a block index and the block's stored checksum, and is valid 7 days; a page token names a
//! snapshot and the next block index, and is valid 60 minutes. Both are base64 (the
//! `[A-Za-z0-9+/=]` alphabet AWS's are in), at most 256 characters.

use base64::Engine as _;

use super::EbsError;

/// How long a block token is valid.
pub(crate) const BLOCK_TOKEN_SECS: i64 = 7 * 24 * 3600;
/// How long a page token is valid.
pub(crate) const PAGE_TOKEN_SECS: i64 = 3600;
const MAX_TOKEN: usize = 256;

pub(crate) fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn encode(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn decode(token: &str) -> Option<Vec<String>> {
    if token.len() > MAX_TOKEN {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    Some(text.split(':').map(str::to_owned).collect())
}

/// The token of block `index` of `snapshot`, whose stored bytes hash to `sha256`.
pub(crate) fn block_token(snapshot: &str, index: u64, sha256: &[u8; 32], expiry: i64) -> String {
    encode(&format!(
        "b:{snapshot}:{index}:{}:{expiry}",
        hex::encode(&sha256[..16])
    ))
}

/// Checks a block token against the snapshot, index and checksum it must name.
pub(crate) fn check_block_token(
    token: &str,
    snapshot: &str,
    index: u64,
    sha256: Option<&[u8; 32]>,
) -> Result<(), EbsError> {
    let bad = || EbsError::validation("INVALID_BLOCK_TOKEN", "The block token is not valid.");
    let parts = decode(token).ok_or_else(bad)?;
    let [kind, snap, i, sha, expiry] = parts.as_slice() else {
        return Err(bad());
    };
    let expiry: i64 = expiry.parse().map_err(|_| bad())?;
    let matches = kind == "b"
        && snap == snapshot
        && i.parse::<u64>().ok() == Some(index)
        && sha256.is_some_and(|s| *sha == hex::encode(&s[..16]));
    if !matches {
        return Err(bad());
    }
    if expiry < now() {
        return Err(EbsError::validation(
            "INVALID_BLOCK_TOKEN",
            "The block token has expired.",
        ));
    }
    Ok(())
}

/// The token of the page of `snapshot` that starts at block `next`.
pub(crate) fn page_token(snapshot: &str, next: u64) -> String {
    encode(&format!("p:{snapshot}:{next}:{}", now() + PAGE_TOKEN_SECS))
}

/// The block index a page token of `snapshot` starts at.
pub(crate) fn check_page_token(token: &str, snapshot: &str) -> Result<u64, EbsError> {
    let bad = || EbsError::validation("INVALID_PAGE_TOKEN", "The page token is not valid.");
    let parts = decode(token).ok_or_else(bad)?;
    let [kind, snap, next, expiry] = parts.as_slice() else {
        return Err(bad());
    };
    if kind != "p" || snap != snapshot {
        return Err(bad());
    }
    let expiry: i64 = expiry.parse().map_err(|_| bad())?;
    if expiry < now() {
        return Err(EbsError::validation(
            "INVALID_PAGE_TOKEN",
            "The page token has expired.",
        ));
    }
    next.parse().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_token_names_one_block_of_one_snapshot() {
        let sha = [7u8; 32];
        let t = block_token("snap-0123456789abcdef0", 5, &sha, now() + 60);
        assert!(t.len() <= MAX_TOKEN);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        );
        check_block_token(&t, "snap-0123456789abcdef0", 5, Some(&sha)).expect("valid");
        for (snap, index, sha) in [
            ("snap-0123456789abcdef1", 5, Some(&sha)),
            ("snap-0123456789abcdef0", 6, Some(&sha)),
            ("snap-0123456789abcdef0", 5, Some(&[8u8; 32])),
            ("snap-0123456789abcdef0", 5, None),
        ] {
            let e = check_block_token(&t, snap, index, sha).expect_err("refused");
            assert_eq!(e.reason, Some("INVALID_BLOCK_TOKEN"));
        }
        let old = block_token("snap-0123456789abcdef0", 5, &sha, now() - 1);
        assert!(check_block_token(&old, "snap-0123456789abcdef0", 5, Some(&sha)).is_err());
        assert!(check_block_token("!!", "snap-0123456789abcdef0", 5, Some(&sha)).is_err());
    }

    #[test]
    fn a_page_token_belongs_to_its_snapshot() {
        let t = page_token("snap-0123456789abcdef0", 300);
        assert_eq!(
            check_page_token(&t, "snap-0123456789abcdef0").expect("valid"),
            300
        );
        let e = check_page_token(&t, "snap-0123456789abcdef1").expect_err("refused");
        assert_eq!(e.reason, Some("INVALID_PAGE_TOKEN"));
        let block = block_token("snap-0123456789abcdef0", 1, &[0; 32], now() + 9);
        assert!(check_page_token(&block, "snap-0123456789abcdef0").is_err());
    }
}
