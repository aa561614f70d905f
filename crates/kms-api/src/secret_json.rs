//! JSON bodies that may carry plaintext (docs/kms.md, "Plaintext in memory").

use zeroize::Zeroizing;

/// `value` as compact JSON text (what `serde_json::to_vec` writes), in a buffer allocated
/// once at the text's length and wiped when dropped: the text is measured first, so no
/// growing buffer leaves a partial copy behind in freed memory.
///
/// # Errors
/// Where `serde_json` fails (a map key that is not a string, a failing `Serialize`).
pub fn to_wiped_vec<T: serde::Serialize + ?Sized>(
    value: &T,
) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
    /// Counts the bytes written.
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value)?;
    let mut text = Zeroizing::new(Vec::with_capacity(count.0));
    serde_json::to_writer(&mut *text, value)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn same_text_as_serde_json_in_one_allocation() {
        let v = json!({"Plaintext": "aGVsbG8=".repeat(300), "KeyId": "k\"\n", "N": [1, 2.5]});
        let text = super::to_wiped_vec(&v).unwrap_or_default();
        assert_eq!(&text[..], &serde_json::to_vec(&v).unwrap_or_default()[..]);
        assert_eq!(text.capacity(), text.len());
    }
}
