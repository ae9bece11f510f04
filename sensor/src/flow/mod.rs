//! The flow table and TCP stream reassembly.
//!
//! Owns: one entry per TCP connection (both directions), client/server orientation (SYN,
//! SYN/ACK, or content and port heuristics on mid-stream pickup), per-direction reassembly
//! (see [`reassembly`]), idle/FIN/RST expiry on *packet* time, and the memory cap with
//! eviction. It hands in-order bytes, gaps and ends of stream to a [`StreamSink`] per flow.
//! Invariants: sequence arithmetic is wrapping; every buffered byte is accounted against the
//! memcap; every segment, byte or flow dropped is counted in [`FlowStats`].

mod types;
pub use types::*;
