//! Fuzz harnesses for the apitap sensor.
//!
//! Every target is a plain `fn run(data: &[u8])` that panics on a violated check, so the same
//! code runs under libFuzzer (`cargo fuzz run <target>`, see `fuzz_targets/`) and under the
//! standalone mutation driver in [`standalone`] (plain `cargo build`, no nightly flags).
//!
//! Targets:
//! - [`decode`]: one or several packets of a chosen link type through `Decoder::decode`.
//! - [`http`]: a request stream and a response stream, cut and interleaved, with gaps and
//!   FINs, through `HttpConnection`; memory stays under a bound derived from the config.
//! - [`reassembly`]: synthetic TCP segments through `FlowTable` with a checking sink (byte
//!   and gap accounting against the table's counters, in-order content, call order).
//! - [`engine`]: a pcap (or a compact packet framing) through the whole `Engine`, records
//!   serialized and read back.

pub mod decode;
pub mod engine;
pub mod http;
pub mod pcap;
pub mod reassembly;
pub mod rng;
pub mod standalone;
