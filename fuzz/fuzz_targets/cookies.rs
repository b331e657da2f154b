//! Fuzz target `cookies`: see `portcullis::fuzzing::cookies`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis::fuzzing::cookies(data);
});
