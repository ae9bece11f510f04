//! Packet decoding: link layer → (tunnels) → IP → TCP segment view.
//!
//! Owns: link-layer walking (Ethernet II, 802.1Q/QinQ stacks, MPLS, Linux SLL/SLL2, raw IP,
//! BSD null/loopback, NFLOG), IPv4/IPv6 via etherparse, bounded IP fragment reassembly on
//! packet time, and decapsulation of mirroring tunnels (VXLAN, GENEVE, GRE, ERSPAN II/III, and
//! friends). Invariants: untrusted bytes are only read through checked slices; nothing here
//! panics on any input; every packet that does not yield a TCP segment is counted under a
//! [`SkipReason`].

mod bytes;
mod config;
mod decoder;
mod fragments;
mod ip;
mod link;
mod tunnels;
mod types;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod testutil;

pub use config::{DecodeConfig, DecodeStats, TUNNEL_DEPTH_CEILING};
pub use decoder::Decoder;
pub use types::*;
