//! Only tests: `tests/sdk.rs` drives an in-process ebsim server through the official AWS SDK
//! for Rust.
