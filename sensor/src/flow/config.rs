//! Configuration of the flow table and TCP reassembly.
//!
//! Owns: [`FlowConfig`], the strict serde shape of every limit the flow table enforces, its
//! defaults, and [`FlowConfig::sanitized`], which clamps values that would make the table
//! useless (a zero flow limit) into the smallest working value.
//! Invariant: every limit here has a counter in [`super::FlowStats`].

use serde::Deserialize;

const SECOND_NS: u64 = 1_000_000_000;

/// Limits and timeouts of the flow table. All times are *packet* time in nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowConfig {
    /// Most flow-table entries (open and lingering). When a new flow would exceed it, the least
    /// recently active entry is evicted. Default 262 144.
    pub max_flows: usize,
    /// Memory cap over all out-of-order buffers, per-flow overhead (including the retransmission
    /// check tails) and the memory the sinks report. Default 256 MiB.
    pub memcap_bytes: usize,
    /// Most bytes buffered out of order in one direction of one flow. Default 1 MiB.
    pub max_ooo_bytes_per_direction: usize,
    /// Most out-of-order segments buffered in one direction of one flow. Default 1024.
    pub max_ooo_segments_per_direction: usize,
    /// A flow that carried data is closed after this long without a packet. Default 120 s.
    pub idle_timeout_ns: u64,
    /// A flow that never carried data is closed after this long without a packet. Default 30 s.
    pub handshake_timeout_ns: u64,
    /// A FIN- or RST-closed flow keeps its entry this long so late packets and retransmissions
    /// are recognised and not taken for a new flow. Default 5 s.
    pub closed_linger_ns: u64,
    /// Bytes of already-delivered data kept per direction to detect retransmissions whose
    /// content differs from what was delivered. 0 disables the check. Default 2048.
    pub overlap_check_bytes: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 262_144,
            memcap_bytes: 256 << 20,
            max_ooo_bytes_per_direction: 1 << 20,
            max_ooo_segments_per_direction: 1024,
            idle_timeout_ns: 120 * SECOND_NS,
            handshake_timeout_ns: 30 * SECOND_NS,
            closed_linger_ns: 5 * SECOND_NS,
            overlap_check_bytes: 2048,
        }
    }
}

impl FlowConfig {
    /// The configuration with values clamped to what the table can work with: at least one
    /// flow. (A memory cap smaller than one flow still works: the flow being processed is
    /// never evicted for memory, every other one is.)
    pub fn sanitized(&self) -> FlowConfig {
        let mut c = self.clone();
        c.max_flows = c.max_flows.max(1);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_strict_fields() {
        let c: FlowConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, FlowConfig::default());
        assert_eq!(c.memcap_bytes, 256 * 1024 * 1024);
        let c: FlowConfig = serde_json::from_str(r#"{"max_flows": 10}"#).unwrap();
        assert_eq!(c.max_flows, 10);
        assert_eq!(c.idle_timeout_ns, 120_000_000_000);
        assert!(serde_json::from_str::<FlowConfig>(r#"{"max_flow": 10}"#).is_err());
    }

    #[test]
    fn sanitized_clamps() {
        let c = FlowConfig {
            max_flows: 0,
            ..FlowConfig::default()
        }
        .sanitized();
        assert_eq!(c.max_flows, 1);
    }
}
