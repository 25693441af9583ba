//! aio_host::fuzzing::grant_rules (host/src/fuzzing/): the body is shared with the
//! corpus replay test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aio_host::fuzzing::grant_rules(data));
