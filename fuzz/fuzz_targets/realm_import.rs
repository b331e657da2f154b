//! Fuzz target `realm_import`: see `portcullis::fuzzing::realm_import`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis::fuzzing::realm_import(data);
});
