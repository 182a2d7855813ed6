//! Fuzz target `settings`: see `fuzz/harness.rs` for what it runs.
#![no_main]

#[allow(dead_code)] // each target uses one function of the harness
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::settings(data);
});
