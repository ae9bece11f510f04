//! Community ID v1 flow hashing (<https://github.com/corelight/community-id-spec>).
//!
//! Owns: [`community_id_v1`], the string other tools (Zeek, Suricata, Elastic) use to name the
//! same connection. Invariant: the result does not depend on which endpoint is passed first.
//! Layout hashed with SHA-1: seed (u16 BE), source address, destination address, protocol (u8),
//! one zero pad byte, source port (u16 BE), destination port (u16 BE), where the endpoint with
//! the smaller (address, port) is the source; the digest is base64 encoded behind `1:`.

use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::IpAddr;

/// IANA protocol number of TCP.
pub const PROTO_TCP: u8 = 6;

/// Community ID v1 of a TCP connection between two endpoints, with the given seed (0 is the
/// common default). Endpoints of different address families cannot form a flow; they are
/// hashed as given so the function never fails.
pub fn community_id_v1(seed: u16, a: IpAddr, a_port: u16, b: IpAddr, b_port: u16) -> String {
    let (ab, bb) = (addr_bytes(&a), addr_bytes(&b));
    let (a_bytes, b_bytes) = (&ab.0[..ab.1], &bb.0[..bb.1]);
    let swap = (b_bytes, b_port) < (a_bytes, a_port);
    let (src, sp, dst, dp) = if swap {
        (b_bytes, b_port, a_bytes, a_port)
    } else {
        (a_bytes, a_port, b_bytes, b_port)
    };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(src);
    h.update(dst);
    h.update([PROTO_TCP, 0]);
    h.update(sp.to_be_bytes());
    h.update(dp.to_be_bytes());
    let digest = h.finalize();
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(digest, &mut out);
    out
}

/// Network-order bytes of an address and how many of them are used (4 or 16).
fn addr_bytes(a: &IpAddr) -> ([u8; 16], usize) {
    let mut b = [0u8; 16];
    match a {
        IpAddr::V4(v4) => {
            b[..4].copy_from_slice(&v4.octets());
            (b, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 16),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn spec_vector_tcp_v4() {
        // From the spec's baseline (community-id-spec/baseline/baseline_data.md).
        let id = community_id_v1(0, ip("128.232.110.120"), 34855, ip("66.35.250.204"), 80);
        assert_eq!(id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        // Either order gives the same id.
        let id2 = community_id_v1(0, ip("66.35.250.204"), 80, ip("128.232.110.120"), 34855);
        assert_eq!(id, id2);
    }

    #[test]
    fn seed_changes_the_id() {
        let a = community_id_v1(0, ip("10.0.0.1"), 1000, ip("10.0.0.2"), 80);
        let b = community_id_v1(1, ip("10.0.0.1"), 1000, ip("10.0.0.2"), 80);
        assert_ne!(a, b);
        assert!(a.starts_with("1:") && a.len() == 30);
    }

    #[test]
    fn same_address_orders_by_port() {
        let a = community_id_v1(0, ip("::1"), 8080, ip("::1"), 40000);
        let b = community_id_v1(0, ip("::1"), 40000, ip("::1"), 8080);
        assert_eq!(a, b);
    }
}
