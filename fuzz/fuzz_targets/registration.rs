//! Fuzz target `registration`: see `portcullis::fuzzing::registration`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis::fuzzing::registration(data);
});
