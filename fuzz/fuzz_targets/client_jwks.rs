//! Fuzz target `client_jwks`: see `portcullis::fuzzing::client_jwks`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis::fuzzing::client_jwks(data);
});
