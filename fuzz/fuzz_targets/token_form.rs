//! Fuzz target `token_form`: see `portcullis::fuzzing::token_form`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis::fuzzing::token_form(data);
});
