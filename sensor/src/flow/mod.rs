//! The flow table and TCP stream reassembly.
//!
//! Owns: one entry per TCP connection (both directions), client/server orientation (SYN,
//! SYN/ACK, or content and port heuristics on mid-stream pickup), per-direction reassembly
//! (see [`reassembly`]), idle/FIN/RST expiry on *packet* time, and the memory cap with
//! eviction. It hands in-order bytes, gaps and ends of stream to a [`StreamSink`] per flow.
//! Invariants: sequence arithmetic is wrapping; every buffered byte is accounted against the
//! memcap; every segment, byte or flow dropped is counted in [`FlowStats`].
//!
//! Modules: [`config`] (limits), [`stats`] (counters), [`community_id`] (Community ID v1),
//! `key` (canonical flow key and hasher), [`reassembly`] (one direction: ordering, overlap
//! policy, gaps), [`table`] (entries, orientation, lifecycle, eviction).

pub mod community_id;
pub mod config;
mod key;
pub mod reassembly;
pub mod stats;
pub mod table;
mod types;

pub use community_id::community_id_v1;
pub use config::FlowConfig;
pub use stats::FlowStats;
pub use table::FlowTable;
pub use types::*;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
