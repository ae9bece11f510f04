//! HTTP/1.x over reassembled TCP streams.
//!
//! Owns: message heads (httparse first, a lenient fallback for what real servers accept),
//! body framing (Content-Length, chunked with trailers, close-delimited), decompression under
//! a bomb limit, request↔response pairing with pipelining, 1xx interim responses, CONNECT and
//! Upgrade hand-off, HTTP/0.9, and resynchronisation after gaps or garbage.
//! Invariants: nothing here is fatal to the connection or the thread; every deviation from
//! the protocol is an [`HttpAnomaly`] on the exchange it belongs to; every buffer is bounded
//! by [`HttpConfig`].

mod anomaly;
mod body;
mod config;
mod connection;
mod content;
mod head;

pub use anomaly::{AnomalySet, HttpAnomaly};
pub use config::HttpConfig;
pub use connection::{Exchange, HttpConnection, HttpOutput, HttpStats, RequestPart, ResponsePart};
pub use content::BodyStats;
pub use head::{Field, Head, HeadKind};

#[cfg(test)]
mod tests;
