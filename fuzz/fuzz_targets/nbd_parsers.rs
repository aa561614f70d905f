//! NBD server parsers (request headers and checks, option headers, NBD_OPT_INFO/GO and
//! metadata-context data, whole handshakes): never panic, and only aligned, in-range requests
//! pass the request check.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ebsim_nbd::internal::fuzz_parsers(data);
});
