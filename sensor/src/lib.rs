//! apitap sensor: capture, decode, TCP reassembly, HTTP/1.x parsing and exchange records.
//!
//! Data flows one way: packet source → [`decode`] → [`flow`] (reassembly) → [`http`] →
//! records (`apitap_proto::RequestRecord`) → bounded channels → sinks, and → [`analysis`]
//! (sharded analyzer workers) → alerts.

pub mod analysis;
pub mod config;
pub mod decode;
pub mod engine;
pub mod flow;
pub mod http;
pub mod pipeline;
pub mod record;
pub mod redact;
pub mod source;
pub mod summary;
