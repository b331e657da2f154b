//! Fuzz target `jws`: see `portcullis::fuzzing::jws`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis::fuzzing::jws(data);
});
