#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ksef_fuzz::error_body::run(data));
