//! HTTP parser limits. Every limit is named here, set from the config file, counted when hit
//! and reported as an anomaly on the exchange.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Longest head (request/status line plus headers) accepted; longer → `http_header_too_large`.
    pub max_header_bytes: usize,
    /// Header lines kept per message; the rest are ignored (`http_too_many_headers`).
    pub max_headers: usize,
    /// Requests in flight on one connection before the oldest is written without its
    /// response (`http_too_many_pending_requests`).
    pub max_pending_requests: usize,
    /// Decoded body bytes kept in memory per message for the analyzers (default 64 KiB).
    pub body_capture_bytes: usize,
    /// Decoded bytes after which decompression stops (`http_decompression_limit`).
    pub max_decompressed_bytes: u64,
    /// Compressed bodies up to this many bytes are held until they end and decoded in one
    /// call (faster for the small answers APIs send); larger ones are decoded as they
    /// stream. Per in-flight body, inside the flow table's memory cap; 0 always streams.
    /// Counted as `bodies_inflated_whole` / `bodies_inflated_streamed`.
    pub whole_inflate_bytes: usize,
    /// Longest chunk-size or trailer line.
    pub max_chunk_line_bytes: usize,
    /// Bytes scanned for a message start after losing sync before the direction is given up
    /// as not HTTP.
    pub max_resync_bytes: u64,
}

impl HttpConfig {
    /// The limits each message body is decoded under.
    pub fn content_limits(&self) -> super::content::ContentLimits {
        super::content::ContentLimits {
            prefix_cap: self.body_capture_bytes,
            max_decoded: self.max_decompressed_bytes,
            whole_inflate_bytes: self.whole_inflate_bytes,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_header_bytes: 64 * 1024,
            max_headers: 128,
            max_pending_requests: 32,
            body_capture_bytes: 64 * 1024,
            max_decompressed_bytes: 64 * 1024 * 1024,
            whole_inflate_bytes: 16 * 1024,
            max_chunk_line_bytes: 4096,
            max_resync_bytes: 1024 * 1024,
        }
    }
}
