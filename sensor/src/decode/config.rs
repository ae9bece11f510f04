//! Decoder configuration (strict serde, every limit named) and the decoder's counters.
//!
//! Every limit in [`DecodeConfig`] has a counter in [`DecodeStats`]: skipped packets per
//! [`SkipReason`], decapsulated tunnel layers per [`TunnelKind`], and the fragment table's
//! completions, expiries, evictions and current memory.

use serde::{Deserialize, Serialize};

use super::types::{SkipReason, TunnelKind};

/// Hard ceiling for [`DecodeConfig::max_tunnel_depth`]: decapsulation recurses once per
/// tunnel layer, so the depth is clamped to keep the stack small whatever the config says.
pub const TUNNEL_DEPTH_CEILING: usize = 16;

/// Decoder settings. Unknown fields are rejected; missing fields take the defaults below.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeConfig {
    /// Most tunnel layers decapsulated in one packet (default 4, clamped to
    /// [`TUNNEL_DEPTH_CEILING`]); deeper packets are skipped as `tunnel_too_deep`.
    pub max_tunnel_depth: usize,
    /// Most IP datagrams being reassembled at once (default 4096). When full, the oldest set
    /// is evicted (`fragment_sets_evicted`).
    pub max_fragment_sets: usize,
    /// Most bytes held across all reassembly sets (default 16 MiB). When full, the oldest sets
    /// are evicted; a datagram that cannot fit on its own is dropped (`fragment_dropped`).
    pub max_fragment_bytes: usize,
    /// A reassembly set older than this (packet time, from its first fragment) is discarded
    /// (`fragments_expired`). Default 30 s.
    pub fragment_timeout_ns: u64,
    /// UDP destination ports carrying VXLAN (default 4789, 8472).
    pub vxlan_ports: Vec<u16>,
    /// UDP destination ports carrying GENEVE (default 6081).
    pub geneve_ports: Vec<u16>,
    /// UDP destination ports carrying GRE-in-UDP, RFC 8086 (default 4754).
    pub gre_udp_ports: Vec<u16>,
    /// UDP ports (either side) carrying Teredo (default 3544).
    pub teredo_ports: Vec<u16>,
    /// Also recognise Teredo on other UDP ports when the payload is an IPv6 packet whose
    /// length matches exactly and one of whose addresses is in the Teredo prefix 2001::/32
    /// (after the server exchange, Teredo peers talk on arbitrary ports). Default true.
    pub teredo_heuristic: bool,
    /// UDP ports (either side) carrying AYIYA (default 5072).
    pub ayiya_ports: Vec<u16>,
    /// UDP ports (either side) carrying GTP-U (default 2152).
    pub gtpu_ports: Vec<u16>,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            max_tunnel_depth: 4,
            max_fragment_sets: 4096,
            max_fragment_bytes: 16 * 1024 * 1024,
            fragment_timeout_ns: 30_000_000_000,
            vxlan_ports: vec![4789, 8472],
            geneve_ports: vec![6081],
            gre_udp_ports: vec![4754],
            teredo_ports: vec![3544],
            teredo_heuristic: true,
            ayiya_ports: vec![5072],
            gtpu_ports: vec![2152],
        }
    }
}

/// Decoder counters. `fragment_bytes_held` and `fragment_sets_held` are gauges (current
/// values); everything else only grows.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DecodeStats {
    /// Packets given to [`super::Decoder::decode`].
    pub packets: u64,
    /// Packets that produced a TCP segment.
    pub tcp_segments: u64,
    /// Skipped packets, indexed by [`SkipReason::index`].
    pub skipped: [u64; SkipReason::ALL.len()],
    /// Tunnel layers decapsulated, indexed by [`TunnelKind::index`].
    pub tunnels: [u64; TunnelKind::ALL.len()],
    /// Datagrams completed by fragment reassembly.
    pub fragments_reassembled: u64,
    /// Reassembly sets discarded because they outlived `fragment_timeout_ns`.
    pub fragments_expired: u64,
    /// Reassembly sets evicted (oldest first) to make room under the set or byte limits.
    pub fragment_sets_evicted: u64,
    /// Bytes currently held by the fragment table.
    pub fragment_bytes_held: u64,
    /// Reassembly sets currently open.
    pub fragment_sets_held: u64,
}

impl DecodeStats {
    /// Packets skipped for `reason`.
    pub fn skipped(&self, reason: SkipReason) -> u64 {
        self.skipped.get(reason.index()).copied().unwrap_or(0)
    }

    /// Tunnel layers of `kind` decapsulated.
    pub fn tunnel(&self, kind: TunnelKind) -> u64 {
        self.tunnels.get(kind.index()).copied().unwrap_or(0)
    }

    /// All skipped packets.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().sum()
    }

    pub(crate) fn count_skip(&mut self, reason: SkipReason) {
        if let Some(c) = self.skipped.get_mut(reason.index()) {
            *c = c.wrapping_add(1);
        }
    }

    pub(crate) fn count_tunnel(&mut self, kind: TunnelKind) {
        if let Some(c) = self.tunnels.get_mut(kind.index()) {
            *c = c.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_values() {
        let c = DecodeConfig::default();
        assert_eq!(c.max_tunnel_depth, 4);
        assert_eq!(c.max_fragment_sets, 4096);
        assert_eq!(c.max_fragment_bytes, 16 << 20);
        assert_eq!(c.fragment_timeout_ns, 30_000_000_000);
        assert_eq!(c.vxlan_ports, [4789, 8472]);
        assert_eq!(c.geneve_ports, [6081]);
        assert_eq!(c.gre_udp_ports, [4754]);
        assert_eq!(c.teredo_ports, [3544]);
        assert_eq!(c.ayiya_ports, [5072]);
        assert_eq!(c.gtpu_ports, [2152]);
    }

    #[test]
    fn config_is_strict_and_defaults_missing_fields() {
        let c: DecodeConfig = toml::from_str("max_tunnel_depth = 2\nvxlan_ports = [1]").unwrap();
        assert_eq!(c.max_tunnel_depth, 2);
        assert_eq!(c.vxlan_ports, [1]);
        assert_eq!(c.geneve_ports, [6081]);
        assert!(toml::from_str::<DecodeConfig>("max_tunnel_dept = 2").is_err());
    }

    #[test]
    fn stats_serialize_arrays_in_all_order() {
        let mut s = DecodeStats::default();
        s.count_skip(SkipReason::NotIp);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["skipped"][SkipReason::NotIp.index()], 1);
        assert_eq!(
            v["tunnels"].as_array().unwrap().len(),
            TunnelKind::ALL.len()
        );
        assert_eq!(v["fragment_bytes_held"], 0);
    }

    #[test]
    fn counters_index_by_reason_and_kind() {
        let mut s = DecodeStats::default();
        s.count_skip(SkipReason::Udp);
        s.count_skip(SkipReason::Udp);
        s.count_tunnel(TunnelKind::IpInIp);
        assert_eq!(s.skipped(SkipReason::Udp), 2);
        assert_eq!(s.skipped(SkipReason::Icmp), 0);
        assert_eq!(s.skipped_total(), 2);
        assert_eq!(s.tunnel(TunnelKind::IpInIp), 1);
        assert_eq!(s.tunnel(TunnelKind::Vxlan), 0);
    }
}
