//! Types shared between the decoder and the rest of the sensor: the TCP segment view,
//! tunnel metadata and the reasons a packet is skipped.

use std::net::IpAddr;

/// TCP flag bits as they appear in the TCP header's flags byte.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

/// The encapsulation a packet arrived in, outermost first when several are stacked
/// (only the innermost tunnel that carried the TCP segment is reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    Vxlan,
    Geneve,
    Gre,
    ErspanII,
    ErspanIII,
    Teredo,
    Ayiya,
    GtpU,
    /// IP-in-IP (IPv4 or IPv6 carried directly in IP).
    IpInIp,
}

impl TunnelKind {
    /// Every kind, in [`TunnelKind::index`] order (for per-kind counters).
    pub const ALL: [TunnelKind; 9] = [
        TunnelKind::Vxlan,
        TunnelKind::Geneve,
        TunnelKind::Gre,
        TunnelKind::ErspanII,
        TunnelKind::ErspanIII,
        TunnelKind::Teredo,
        TunnelKind::Ayiya,
        TunnelKind::GtpU,
        TunnelKind::IpInIp,
    ];

    /// Position of this kind in [`TunnelKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::Gre => "gre",
            TunnelKind::ErspanII => "erspan2",
            TunnelKind::ErspanIII => "erspan3",
            TunnelKind::Teredo => "teredo",
            TunnelKind::Ayiya => "ayiya",
            TunnelKind::GtpU => "gtpu",
            TunnelKind::IpInIp => "ip_in_ip",
        }
    }
}

/// Outer addresses and identifier of the tunnel that carried a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TunnelInfo {
    pub kind: TunnelKind,
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
    /// VXLAN/GENEVE VNI, ERSPAN session id, GRE key, GTP TEID; `None` when the tunnel has none.
    pub id: Option<u32>,
}

/// A decoded TCP segment. `payload` borrows either the packet or the decoder's
/// fragment-reassembly buffer.
#[derive(Debug, Clone)]
pub struct TcpSegment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// See [`tcp_flags`].
    pub flags: u8,
    pub window: u16,
    pub payload: &'a [u8],
    /// Innermost 802.1Q VLAN id, if any.
    pub vlan: Option<u16>,
    pub tunnel: Option<TunnelInfo>,
}

impl TcpSegment<'_> {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// Why a packet produced no TCP segment. Every skipped packet is counted under one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// Link type the decoder does not know.
    UnsupportedLinkType,
    /// Not IP at all (ARP, LLDP, STP, ...).
    NotIp,
    /// UDP that is not a known tunnel.
    Udp,
    Icmp,
    /// Another IP protocol (OSPF, ESP, SCTP, ...).
    OtherIpProtocol,
    /// The packet ended before a header it announced.
    Truncated,
    /// A header is inconsistent (bad lengths, bad version, ...).
    Malformed,
    /// An IP fragment held for reassembly (not lost: counted until it completes or expires).
    FragmentHeld,
    /// A fragment dropped because a fragment limit was hit, or it overlapped inconsistently.
    FragmentDropped,
    /// Tunnel nesting deeper than the configured limit.
    TunnelTooDeep,
}

impl SkipReason {
    pub const ALL: [SkipReason; 10] = [
        SkipReason::UnsupportedLinkType,
        SkipReason::NotIp,
        SkipReason::Udp,
        SkipReason::Icmp,
        SkipReason::OtherIpProtocol,
        SkipReason::Truncated,
        SkipReason::Malformed,
        SkipReason::FragmentHeld,
        SkipReason::FragmentDropped,
        SkipReason::TunnelTooDeep,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::UnsupportedLinkType => "unsupported_link_type",
            SkipReason::NotIp => "not_ip",
            SkipReason::Udp => "udp",
            SkipReason::Icmp => "icmp",
            SkipReason::OtherIpProtocol => "other_ip_protocol",
            SkipReason::Truncated => "truncated",
            SkipReason::Malformed => "malformed",
            SkipReason::FragmentHeld => "fragment_held",
            SkipReason::FragmentDropped => "fragment_dropped",
            SkipReason::TunnelTooDeep => "tunnel_too_deep",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// What decoding one packet produced.
#[derive(Debug)]
pub enum Decoded<'a> {
    Tcp(TcpSegment<'a>),
    Skipped(SkipReason),
}

/// libpcap link-layer type numbers the decoder understands.
pub mod linktype {
    pub const NULL: i32 = 0;
    pub const ETHERNET: i32 = 1;
    pub const RAW: i32 = 101;
    pub const LOOP: i32 = 108;
    pub const LINUX_SLL: i32 = 113;
    pub const IPV4: i32 = 228;
    pub const IPV6: i32 = 229;
    pub const NFLOG: i32 = 239;
    pub const LINUX_SLL2: i32 = 276;
    /// Some systems write raw IP as 12 or 14.
    pub const RAW_ALT12: i32 = 12;
    pub const RAW_ALT14: i32 = 14;
}
