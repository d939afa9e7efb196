#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ksef_fuzz::upo_parse::run(data));
