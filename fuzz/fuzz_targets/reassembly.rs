//! Fuzz target `reassembly`: see [`apitap_fuzz::reassembly`] for the input format and the checks.
//!
//! Under `cargo fuzz` (`--cfg fuzzing`) this is a libFuzzer target; built plainly it is a
//! standalone mutation fuzzer over a corpus (`--help` for its options).
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| apitap_fuzz::reassembly::run(data));

#[cfg(not(fuzzing))]
fn main() {
    std::process::exit(apitap_fuzz::standalone::main(
        "reassembly",
        apitap_fuzz::reassembly::run,
    ));
}
