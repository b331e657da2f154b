//! Fuzz target `search_query`: see `portcullis::fuzzing::search_query`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis::fuzzing::search_query(data);
});
