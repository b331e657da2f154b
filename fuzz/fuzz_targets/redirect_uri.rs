//! Fuzz target `redirect_uri`: see `portcullis::fuzzing::redirect_uri`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis::fuzzing::redirect_uri(data);
});
