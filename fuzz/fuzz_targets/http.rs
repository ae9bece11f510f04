//! Fuzz target `http`: see [`apitap_fuzz::http`] for the input format and the checks.
//!
//! Under `cargo fuzz` (`--cfg fuzzing`) this is a libFuzzer target; built plainly it is a
//! standalone mutation fuzzer over a corpus (`--help` for its options).
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| apitap_fuzz::http::run(data));

#[cfg(not(fuzzing))]
fn main() {
    std::process::exit(apitap_fuzz::standalone::main(
        "http",
        apitap_fuzz::http::run,
    ));
}
