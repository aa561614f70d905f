//! Request and response bodies that may carry plaintext (an Encrypt request, a Decrypt or
//! GenerateDataKey answer), kept in buffers that are wiped when dropped (docs/kms.md,
//! "Plaintext in memory").

use bytes::{Buf as _, Bytes};
use http_body_util::BodyExt as _;
use zeroize::Zeroizing;

/// Why a request body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// It is longer than the limit.
    TooLarge,
    /// The connection failed while it was being read.
    Read,
}

/// The most a declared `Content-Length` allocates before the bytes arrive.
const FIRST_ALLOCATION: usize = 16 << 10;

/// Reads a whole request body into a buffer of ours, wiped when dropped: at most `limit`
/// bytes, in one allocation of the declared `Content-Length` when there is one (up to
/// [`FIRST_ALLOCATION`]; every KMS request fits). Growing the buffer (a chunked or larger
/// body) copies it into a larger one and wipes the old.
///
/// Each chunk hyper hands over is a view of its connection's read buffer, which ebsim cannot
/// wipe; the next request on the connection reads into the same memory.
pub(crate) async fn read<B>(
    mut body: B,
    limit: usize,
    declared: Option<u64>,
) -> Result<Zeroizing<Vec<u8>>, BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let first = declared.map_or(0, |n| {
        usize::try_from(n)
            .unwrap_or(limit)
            .min(limit)
            .min(FIRST_ALLOCATION)
    });
    let mut buf = Zeroizing::new(Vec::with_capacity(first));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Read)?;
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        let needed = buf.len() + data.remaining();
        if needed > limit {
            return Err(BodyError::TooLarge);
        }
        if needed > buf.capacity() {
            let mut larger = Zeroizing::new(Vec::with_capacity(
                needed.max(buf.capacity() * 2).min(limit),
            ));
            larger.extend_from_slice(&buf);
            buf = larger;
        }
        while data.has_remaining() {
            let chunk = data.chunk();
            let n = chunk.len();
            buf.extend_from_slice(chunk);
            data.advance(n);
        }
    }
    Ok(buf)
}

/// A response body over `bytes`, which are wiped when hyper has written and dropped them.
pub(crate) fn wiped_on_drop(bytes: Vec<u8>) -> Bytes {
    Bytes::from_owner(Zeroizing::new(bytes))
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper::body::{Body, Frame};

    use super::*;

    /// A body of the given chunks.
    struct Chunks(Vec<&'static [u8]>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            if self.0.is_empty() {
                return Poll::Ready(None);
            }
            let c = self.0.remove(0);
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(c)))))
        }
    }

    fn read_now(chunks: &[&'static [u8]], limit: usize, declared: Option<u64>) -> Option<Vec<u8>> {
        let rt = tokio::runtime::Builder::new_current_thread().build().ok()?;
        rt.block_on(read(Chunks(chunks.to_vec()), limit, declared))
            .ok()
            .map(|b| b.to_vec())
    }

    #[test]
    fn chunks_join_within_the_limit() {
        let chunks: &[&[u8]] = &[b"{\"Pl", b"aintext\"", b": \"aGk=\"}"];
        let whole = b"{\"Plaintext\": \"aGk=\"}".to_vec();
        assert_eq!(read_now(chunks, 64, None), Some(whole.clone()));
        assert_eq!(read_now(chunks, 64, Some(21)), Some(whole.clone()));
        // A wrong declared length only sizes the first allocation.
        assert_eq!(read_now(chunks, 64, Some(3)), Some(whole.clone()));
        assert_eq!(read_now(chunks, 64, Some(u64::MAX)), Some(whole.clone()));
        assert_eq!(read_now(chunks, 21, None), Some(whole));
        assert_eq!(read_now(chunks, 20, None), None);
        assert_eq!(read_now(&[], 20, None), Some(Vec::new()));
    }

    #[test]
    fn response_bodies_keep_their_bytes() {
        let b = wiped_on_drop(b"{\"Plaintext\":\"aGk=\"}".to_vec());
        assert_eq!(&b[..], b"{\"Plaintext\":\"aGk=\"}");
        assert_eq!(b.clone().slice(1..3), Bytes::from_static(b"\"P"));
    }
}
