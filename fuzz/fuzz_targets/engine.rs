//! Fuzz target `engine`: see [`apitap_fuzz::engine`] for the input format and the checks.
//!
//! Under `cargo fuzz` (`--cfg fuzzing`) this is a libFuzzer target; built plainly it is a
//! standalone mutation fuzzer over a corpus (`--help` for its options).
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| apitap_fuzz::engine::run(data));

#[cfg(not(fuzzing))]
fn main() {
    std::process::exit(apitap_fuzz::standalone::main(
        "engine",
        apitap_fuzz::engine::run,
    ));
}
