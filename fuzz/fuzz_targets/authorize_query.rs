//! Fuzz target `authorize_query`: see `portcullis::fuzzing::authorize_query`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis::fuzzing::authorize_query(data);
});
