//! The `metadata.json` reader of volumes: never panics; a file it accepts writes back to bytes
//! it reads as the same metadata; the metadata MAC verifies when fresh and fails after a change
//! of a bound field.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ebsim_volume::internal::fuzz_metadata(data);
});
