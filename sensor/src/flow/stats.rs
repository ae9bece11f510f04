//! Counters of the flow table and TCP reassembly.
//!
//! Owns: [`FlowStats`], one plain `u64` per event, limit or drop of the flow layer. Monotonic
//! counters only grow; the few gauges (`flows_active`, `flows_lingering`, `ooo_bytes_current`,
//! `memory_bytes_current`) are current values. Invariant: every segment, byte or flow that the
//! flow layer drops or skips is counted in exactly one place here.

use super::CloseReason;

/// Counters of the flow table. All monotonic unless marked "gauge".
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FlowStats {
    /// TCP segments handed to [`super::FlowTable::process`].
    pub segments: u64,
    /// Payload bytes of those segments.
    pub payload_bytes: u64,
    /// Bytes delivered in order to the sinks.
    pub bytes_delivered: u64,
    pub flows_created: u64,
    /// Flows closed, indexed by [`CloseReason::index`]; see [`FlowStats::closed`].
    pub flows_closed_by_reason: [u64; CloseReason::ALL.len()],
    /// Flows evicted to stay under `max_flows` or `memcap_bytes` (also counted in
    /// `flows_closed_by_reason[Evicted]`).
    pub flows_evicted: u64,
    /// Gauge: open flows (not yet closed).
    pub flows_active: u64,
    /// Gauge: closed flows whose entry lingers to absorb late packets.
    pub flows_lingering: u64,
    /// Lingering entries dropped early to make room for a new flow.
    pub lingering_dropped: u64,
    /// Flows whose orientation was guessed because the handshake was not seen.
    pub midstream_pickups: u64,
    /// Segments whose data had all been delivered already (dropped).
    pub retransmitted_segments: u64,
    /// Bytes of data already accepted (delivered or buffered) that arrived again.
    pub retransmitted_bytes: u64,
    /// Segments whose overlapping bytes differed from the accepted ones (first copy won).
    pub overlaps_inconsistent: u64,
    /// Segments (or pieces of segments) put into an out-of-order buffer.
    pub ooo_segments_buffered: u64,
    /// Gauge: bytes currently held in out-of-order buffers.
    pub ooo_bytes_current: u64,
    /// Times a direction's out-of-order limit (bytes or segments) forced a gap.
    pub ooo_limit_hits: u64,
    /// Holes declared (reported to the sink as gaps).
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Gaps declared because the peer acknowledged data that was never seen.
    pub gaps_ack_above_hole: u64,
    /// Gaps declared at the end of a flow for data the peer acknowledged but never seen.
    pub gaps_trailing: u64,
    /// Payload segments not delivered because the sink no longer wants data.
    pub segments_ignored_not_wanted: u64,
    /// Times the memory cap forced an eviction or a gap.
    pub memcap_hits: u64,
    /// Gauge: bytes accounted against the memory cap.
    pub memory_bytes_current: u64,
    /// Segments whose sequence number lies far outside the direction's window (dropped).
    pub segments_out_of_window: u64,
    /// Times a direction was resynchronised after a run of far-ahead segments.
    pub resyncs: u64,
    /// Packets for a closed, lingering flow (late packets, retransmissions).
    pub segments_after_close: u64,
    /// Segments carrying new data after the direction's FIN or after the flow closed.
    pub data_after_close: u64,
    /// SYN or SYN/ACK segments carrying payload (delivered, TCP Fast Open).
    pub syn_with_data: u64,
    /// New connections on the 4-tuple of an existing entry (a SYN with another ISN).
    pub port_reuse: u64,
    /// SYNs with a new ISN on an established flow, ignored (possible spoofing).
    pub syn_on_established_ignored: u64,
    /// Segments with the RST flag that closed a flow.
    pub rsts: u64,
    /// RST segments for no known flow (ignored; no entry is created).
    pub rst_without_flow: u64,
    /// FINs delivered to sinks.
    pub fins: u64,
    /// Packets of flows whose orientation is not known yet and carry no payload.
    pub segments_before_orientation: u64,
}

impl FlowStats {
    /// Flows closed for `reason`.
    pub fn closed(&self, reason: CloseReason) -> u64 {
        self.flows_closed_by_reason[reason.index()]
    }

    pub(crate) fn count_close(&mut self, reason: CloseReason) {
        self.flows_closed_by_reason[reason.index()] += 1;
    }
}
