//! Fuzz target `password_policy`: see `portcullis::fuzzing::password_policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portcullis::fuzzing::password_policy(data);
});
