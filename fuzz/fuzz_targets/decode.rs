//! Fuzz target `decode`: see [`apitap_fuzz::decode`] for the input format and the checks.
//!
//! Under `cargo fuzz` (`--cfg fuzzing`) this is a libFuzzer target; built plainly it is a
//! standalone mutation fuzzer over a corpus (`--help` for its options).
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| apitap_fuzz::decode::run(data));

#[cfg(not(fuzzing))]
fn main() {
    std::process::exit(apitap_fuzz::standalone::main(
        "decode",
        apitap_fuzz::decode::run,
    ));
}
