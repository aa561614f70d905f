//! Key and identity policy parser: never panics, and every accepted document's canonical JSON
//! parses back to an equal document.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ebsim_kms::policy::internal::fuzz_policy_parser(data);
});
