//! HTTP anomalies: protocol deviations carried on the exchange they belong to, as a bit set
//! (no allocation per exchange) with stable snake_case names.

/// One protocol deviation. Names are stable: SIEM rules match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum HttpAnomaly {
    /// Both Content-Length and Transfer-Encoding present (request smuggling vector).
    ContentLengthWithTransferEncoding,
    /// Several Content-Length values that disagree.
    ConflictingContentLength,
    /// Content-Length that is not a non-negative decimal number fitting 64 bits.
    InvalidContentLength,
    /// Transfer-Encoding whose final coding is not `chunked`, or listed more than once.
    UnsupportedTransferEncoding,
    /// A chunk-size line that is not hexadecimal.
    InvalidChunkSize,
    /// A chunk size larger than 64 bits.
    ChunkSizeOverflow,
    /// Chunk data not followed by CRLF.
    ChunkMissingCrlf,
    /// A header line folded onto the previous one (obs-fold).
    ObsFold,
    /// Lines ended by LF without CR.
    BareLf,
    /// The head did not parse strictly and was read leniently.
    MalformedHead,
    /// A header line without a colon (ignored).
    MalformedHeaderLine,
    /// More header lines than `max_headers` (the rest ignored).
    TooManyHeaders,
    /// A head longer than `max_header_bytes`.
    HeaderTooLarge,
    /// Request-line without an HTTP version: HTTP/0.9.
    Http09,
    /// A response with no request to pair with.
    ResponseWithoutRequest,
    /// More requests in flight than `max_pending_requests`.
    TooManyPendingRequests,
    /// Bytes lost in a TCP gap inside this message.
    ContentGap,
    /// Sync lost (gap or garbage) and found again at a later message boundary.
    Resync,
    /// The connection ended before the message's body was complete.
    TruncatedBody,
    /// Decoded body exceeded `max_decompressed_bytes` (decompression bomb guard).
    DecompressionLimit,
    /// The compressed body could not be decoded.
    DecompressionError,
    /// Content-Encoding apitap does not decode (counted as-is).
    UnsupportedContentEncoding,
    /// Bytes that are not HTTP where a message was expected.
    NotHttp,
    /// A request with an Upgrade or CONNECT was answered and the connection left HTTP.
    ProtocolSwitch,
    /// Request line or status line with an unexpected HTTP version.
    UnexpectedVersion,
    /// Whitespace between header name and colon.
    SpaceBeforeColon,
    /// Several Host headers.
    DuplicateHost,
    /// Content-Length on a message that must not have a body (e.g. 204, 304) was ignored.
    BodyNotAllowed,
    /// The connection ended inside a message head; what there was is reported.
    TruncatedHead,
}

impl HttpAnomaly {
    pub const ALL: [HttpAnomaly; 29] = [
        HttpAnomaly::ContentLengthWithTransferEncoding,
        HttpAnomaly::ConflictingContentLength,
        HttpAnomaly::InvalidContentLength,
        HttpAnomaly::UnsupportedTransferEncoding,
        HttpAnomaly::InvalidChunkSize,
        HttpAnomaly::ChunkSizeOverflow,
        HttpAnomaly::ChunkMissingCrlf,
        HttpAnomaly::ObsFold,
        HttpAnomaly::BareLf,
        HttpAnomaly::MalformedHead,
        HttpAnomaly::MalformedHeaderLine,
        HttpAnomaly::TooManyHeaders,
        HttpAnomaly::HeaderTooLarge,
        HttpAnomaly::Http09,
        HttpAnomaly::ResponseWithoutRequest,
        HttpAnomaly::TooManyPendingRequests,
        HttpAnomaly::ContentGap,
        HttpAnomaly::Resync,
        HttpAnomaly::TruncatedBody,
        HttpAnomaly::DecompressionLimit,
        HttpAnomaly::DecompressionError,
        HttpAnomaly::UnsupportedContentEncoding,
        HttpAnomaly::NotHttp,
        HttpAnomaly::ProtocolSwitch,
        HttpAnomaly::UnexpectedVersion,
        HttpAnomaly::SpaceBeforeColon,
        HttpAnomaly::DuplicateHost,
        HttpAnomaly::BodyNotAllowed,
        HttpAnomaly::TruncatedHead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HttpAnomaly::ContentLengthWithTransferEncoding => "http_cl_and_te",
            HttpAnomaly::ConflictingContentLength => "http_conflicting_content_length",
            HttpAnomaly::InvalidContentLength => "http_invalid_content_length",
            HttpAnomaly::UnsupportedTransferEncoding => "http_unsupported_transfer_encoding",
            HttpAnomaly::InvalidChunkSize => "http_invalid_chunk_size",
            HttpAnomaly::ChunkSizeOverflow => "http_chunk_size_overflow",
            HttpAnomaly::ChunkMissingCrlf => "http_chunk_missing_crlf",
            HttpAnomaly::ObsFold => "http_obs_fold",
            HttpAnomaly::BareLf => "http_bare_lf",
            HttpAnomaly::MalformedHead => "http_malformed_head",
            HttpAnomaly::MalformedHeaderLine => "http_malformed_header_line",
            HttpAnomaly::TooManyHeaders => "http_too_many_headers",
            HttpAnomaly::HeaderTooLarge => "http_header_too_large",
            HttpAnomaly::Http09 => "http_09",
            HttpAnomaly::ResponseWithoutRequest => "http_response_without_request",
            HttpAnomaly::TooManyPendingRequests => "http_too_many_pending_requests",
            HttpAnomaly::ContentGap => "http_content_gap",
            HttpAnomaly::Resync => "http_resync",
            HttpAnomaly::TruncatedBody => "http_truncated_body",
            HttpAnomaly::DecompressionLimit => "http_decompression_limit",
            HttpAnomaly::DecompressionError => "http_decompression_error",
            HttpAnomaly::UnsupportedContentEncoding => "http_unsupported_content_encoding",
            HttpAnomaly::NotHttp => "http_not_http",
            HttpAnomaly::ProtocolSwitch => "http_protocol_switch",
            HttpAnomaly::UnexpectedVersion => "http_unexpected_version",
            HttpAnomaly::SpaceBeforeColon => "http_space_before_colon",
            HttpAnomaly::DuplicateHost => "http_duplicate_host",
            HttpAnomaly::BodyNotAllowed => "http_body_not_allowed",
            HttpAnomaly::TruncatedHead => "http_truncated_head",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A set of [`HttpAnomaly`] as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnomalySet(u64);

impl AnomalySet {
    pub fn insert(&mut self, a: HttpAnomaly) {
        self.0 |= 1u64 << (a as u8);
    }
    pub fn contains(self, a: HttpAnomaly) -> bool {
        self.0 & (1u64 << (a as u8)) != 0
    }
    pub fn union(&mut self, other: AnomalySet) {
        self.0 |= other.0;
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = HttpAnomaly> {
        HttpAnomaly::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_complete_and_ordered_by_discriminant() {
        for (i, a) in HttpAnomaly::ALL.iter().enumerate() {
            assert_eq!(a.index(), i, "{a:?}");
        }
        assert!(HttpAnomaly::ALL.len() <= 64);
    }

    #[test]
    fn set_round_trips() {
        let mut s = AnomalySet::default();
        s.insert(HttpAnomaly::ObsFold);
        s.insert(HttpAnomaly::Http09);
        let names: Vec<_> = s.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, ["http_obs_fold", "http_09"]);
    }
}
