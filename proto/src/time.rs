//! Packet-time helpers: timestamps are `u64` nanoseconds since the Unix epoch everywhere in
//! apitap, and are written as RFC 3339 with microseconds.

use std::time::{Duration, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch.
pub type TimestampNs = u64;

/// RFC 3339 UTC with microsecond precision, e.g. `2024-05-01T10:00:00.123456Z`.
pub fn rfc3339_micros(ts_ns: TimestampNs) -> String {
    let t = UNIX_EPOCH + Duration::from_nanos(ts_ns);
    humantime::format_rfc3339_micros(t).to_string()
}

/// Serde adapter writing a [`TimestampNs`] as RFC 3339 with microseconds.
pub mod as_rfc3339 {
    use super::{rfc3339_micros, TimestampNs};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::UNIX_EPOCH;

    pub fn serialize<S: Serializer>(ts: &TimestampNs, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339_micros(*ts))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimestampNs, D::Error> {
        let text = String::deserialize(d)?;
        let t = humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom)?;
        let since = t
            .duration_since(UNIX_EPOCH)
            .map_err(serde::de::Error::custom)?;
        u64::try_from(since.as_nanos()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_microseconds_in_utc() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(1_714_557_600_123_456_789),
            "2024-05-01T10:00:00.123456Z"
        );
    }
}
