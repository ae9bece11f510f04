//! Types at the boundary between the flow table and the application layer.

use crate::decode::TunnelInfo;
use std::net::IpAddr;

/// Direction of bytes on a connection, relative to the client (the side that opened it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    ToServer,
    ToClient,
}

impl Direction {
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}

/// Why a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Both sides sent FIN (and their data was delivered).
    Fin,
    Rst,
    /// No packet for longer than the idle timeout (packet time).
    IdleTimeout,
    /// Evicted to stay under the flow-table memory cap or flow count.
    Evicted,
    /// End of the capture (replay finished, or capture stopped).
    EndOfCapture,
}

impl CloseReason {
    /// Every reason, in [`CloseReason::index`] order.
    pub const ALL: [CloseReason; 5] = [
        CloseReason::Fin,
        CloseReason::Rst,
        CloseReason::IdleTimeout,
        CloseReason::Evicted,
        CloseReason::EndOfCapture,
    ];

    /// Position in [`CloseReason::ALL`] (for per-reason counters).
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Fin => "fin",
            CloseReason::Rst => "rst",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::Evicted => "evicted",
            CloseReason::EndOfCapture => "end_of_capture",
        }
    }
}

/// Facts about a flow, fixed once its orientation is known.
#[derive(Debug, Clone)]
pub struct FlowInfo {
    /// Unique within one run, assigned in order of first packet.
    pub flow_id: u64,
    pub client: IpAddr,
    pub client_port: u16,
    pub server: IpAddr,
    pub server_port: u16,
    pub vlan: Option<u16>,
    pub tunnel: Option<TunnelInfo>,
    /// Community ID v1 (seed 0) of the 5-tuple, e.g. `1:LQU9qZlK+B5F3KDmev6m5PMibrg=`.
    pub community_id: std::sync::Arc<str>,
    /// Packet time of the first packet, ns since the epoch.
    pub first_ts: u64,
    /// True when the handshake was not seen (orientation was guessed).
    pub midstream: bool,
}

/// Reassembly anomalies, reported to the sink so they ride on the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamAnomaly {
    /// An overlapping segment carried bytes different from the ones already accepted
    /// (the first copy wins; this is a classic IDS-evasion pattern).
    InconsistentOverlap,
    /// The out-of-order buffer of this direction hit its limit; bytes were skipped as a gap.
    OutOfOrderLimit,
    /// Data after FIN or RST.
    DataAfterClose,
    /// SYN carried payload.
    SynWithData,
}

impl StreamAnomaly {
    /// Every anomaly, in [`StreamAnomaly::index`] order.
    pub const ALL: [StreamAnomaly; 4] = [
        StreamAnomaly::InconsistentOverlap,
        StreamAnomaly::OutOfOrderLimit,
        StreamAnomaly::DataAfterClose,
        StreamAnomaly::SynWithData,
    ];

    /// Position in [`StreamAnomaly::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StreamAnomaly::InconsistentOverlap => "tcp_inconsistent_overlap",
            StreamAnomaly::OutOfOrderLimit => "tcp_out_of_order_limit",
            StreamAnomaly::DataAfterClose => "tcp_data_after_close",
            StreamAnomaly::SynWithData => "tcp_syn_with_data",
        }
    }
}

/// The application layer's view of a flow: in-order bytes, gaps and ends of stream.
/// `Ctx` is whatever the application needs to emit results (e.g. an output queue).
pub trait StreamSink: Sized {
    type Ctx;
    /// Called once, when the flow's orientation is known and before any other call.
    fn open(ctx: &mut Self::Ctx, info: &FlowInfo) -> Self;
    /// In-order bytes of one direction.
    fn on_data(
        &mut self,
        ctx: &mut Self::Ctx,
        info: &FlowInfo,
        dir: Direction,
        ts: u64,
        data: &[u8],
    );
    /// The peer of `dir` acknowledged every byte of `dir` before `offset` (counted as
    /// `on_data` and `on_gap` count them, from the first byte of the direction). Called for
    /// each segment with a plausible acknowledgment, before its own payload is delivered, so
    /// a message that starts in that payload knows what its sender had received by then.
    fn on_ack(&mut self, ctx: &mut Self::Ctx, dir: Direction, offset: u64);
    /// `len` bytes of one direction were never seen (capture loss or buffer limit).
    fn on_gap(&mut self, ctx: &mut Self::Ctx, info: &FlowInfo, dir: Direction, ts: u64, len: u64);
    /// A reassembly anomaly on this flow.
    fn on_anomaly(
        &mut self,
        ctx: &mut Self::Ctx,
        info: &FlowInfo,
        dir: Direction,
        ts: u64,
        anomaly: StreamAnomaly,
    );
    /// The given direction ended (FIN delivered in order).
    fn on_fin(&mut self, ctx: &mut Self::Ctx, info: &FlowInfo, dir: Direction, ts: u64);
    /// The flow is gone; flush everything. No call follows.
    fn on_close(&mut self, ctx: &mut Self::Ctx, info: &FlowInfo, ts: u64, reason: CloseReason);
    /// False once the application wants no more bytes (not HTTP, or switched protocols):
    /// the table then stops buffering and delivering payload for this flow but keeps
    /// tracking it so its packets are not mistaken for a new flow.
    fn wants_data(&self) -> bool;
    /// Bytes the sink itself holds (for the memcap).
    fn memory_bytes(&self) -> usize;
}
