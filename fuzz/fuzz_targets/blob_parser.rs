//! KMS ciphertext blob parser: never panics on any input, and a parsed blob never opens under
//! an unrelated key.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ebsim_kms::internal::fuzz_blob_parser(data);
});
