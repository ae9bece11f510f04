//! Committed fixtures for the encapsulations no real capture in the corpus has: ERSPAN type
//! II and III (remote SPAN), Linux cooked capture v2 and IP-in-IP. Each holds one HTTP
//! exchange (handshake, request, response, FIN) built with etherparse's builders and wrapped
//! by hand; replaying it must give the exchange plus the tunnel it came in.
//! Regenerate after a reviewed change with `APITAP_BLESS=1 cargo test -p apitap-tests --test encap_fixtures`.

use apitap_proto::RequestRecord;
use apitap_sensor::config::SensorConfig;
use apitap_sensor::redact::RedactMode;
use apitap_tests::{replay, workspace_root};
use etherparse::{IpNumber, PacketBuilder};
use std::path::PathBuf;

const CLIENT: [u8; 4] = [198, 18, 0, 2];
const SERVER: [u8; 4] = [198, 18, 0, 1];
const OUTER_SRC: [u8; 4] = [198, 19, 0, 10];
const OUTER_DST: [u8; 4] = [198, 19, 0, 20];
const REQUEST: &[u8] =
    b"GET /api/v1/orders/42 HTTP/1.1\r\nHost: shop.test\r\nUser-Agent: fixture\r\n\r\n";
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"id\":42}";

/// The inner conversation as IPv4 packets: (from_client, ip packet bytes).
fn inner_ip_packets() -> Vec<Vec<u8>> {
    let (c_isn, s_isn) = (1000u32, 5000u32);
    let c_end = c_isn + 1 + REQUEST.len() as u32;
    let s_end = s_isn + 1 + RESPONSE.len() as u32;
    let seg =
        |from_client: bool, seq: u32, ack: Option<u32>, syn: bool, fin: bool, payload: &[u8]| {
            let (src, dst, sp, dp) = if from_client {
                (CLIENT, SERVER, 41000, 80)
            } else {
                (SERVER, CLIENT, 80, 41000)
            };
            let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, seq, 65535);
            if syn {
                b = b.syn();
            }
            if fin {
                b = b.fin();
            }
            if let Some(a) = ack {
                b = b.ack(a);
            }
            let mut out = Vec::new();
            b.write(&mut out, payload).unwrap();
            out
        };
    vec![
        seg(true, c_isn, None, true, false, b""),
        seg(false, s_isn, Some(c_isn + 1), true, false, b""),
        seg(true, c_isn + 1, Some(s_isn + 1), false, false, b""),
        seg(true, c_isn + 1, Some(s_isn + 1), false, false, REQUEST),
        seg(false, s_isn + 1, Some(c_end), false, false, RESPONSE),
        seg(true, c_end, Some(s_end), false, true, b""),
        seg(false, s_end, Some(c_end + 1), false, true, b""),
        seg(true, c_end + 1, Some(s_end + 1), false, false, b""),
    ]
}

fn ethernet(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(ip);
    f
}

/// Outer Ethernet + IPv4 carrying `payload` as IP protocol `proto`.
fn outer(proto: IpNumber, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 10], [2, 0, 0, 0, 0, 20])
        .ipv4(OUTER_SRC, OUTER_DST, 64)
        .write(&mut out, proto, payload)
        .unwrap();
    out
}

/// GRE with the sequence-number bit set, then `proto`'s payload.
fn gre(proto: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut g = vec![0x10, 0x00];
    g.extend_from_slice(&proto.to_be_bytes());
    g.extend_from_slice(&seq.to_be_bytes());
    g.extend_from_slice(payload);
    g
}

fn frames(kind: &str) -> (i32, Vec<Vec<u8>>) {
    let ips = inner_ip_packets();
    let session: u16 = 42;
    match kind {
        "erspan2" => (
            1,
            ips.iter()
                .enumerate()
                .map(|(i, ip)| {
                    // version 1, VLAN 0; COS/En/T 0, session id; reserved, index 0
                    let mut h = vec![0x10, 0x00];
                    h.extend_from_slice(&session.to_be_bytes());
                    h.extend_from_slice(&[0, 0, 0, 0]);
                    h.extend_from_slice(&ethernet(ip));
                    outer(IpNumber::GRE, &gre(0x88be, i as u32, &h))
                })
                .collect(),
        ),
        "erspan3" => (
            1,
            ips.iter()
                .enumerate()
                .map(|(i, ip)| {
                    // version 2, VLAN 0; session id; timestamp; SGT 0; flags: frame type 0, O=0
                    let mut h = vec![0x20, 0x00];
                    h.extend_from_slice(&session.to_be_bytes());
                    h.extend_from_slice(&(i as u32).to_be_bytes());
                    h.extend_from_slice(&[0, 0, 0, 0]);
                    h.extend_from_slice(&ethernet(ip));
                    outer(IpNumber::GRE, &gre(0x22eb, i as u32, &h))
                })
                .collect(),
        ),
        "sll2" => (
            276,
            ips.iter()
                .map(|ip| {
                    // protocol, reserved, ifindex, ARPHRD_ETHER, packet type, addr len, addr
                    let mut h = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
                    h.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
                    h.extend_from_slice(ip);
                    h
                })
                .collect(),
        ),
        "ipip" => (1, ips.iter().map(|ip| outer(IpNumber::IPV4, ip)).collect()),
        _ => unreachable!("unknown fixture {kind}"),
    }
}

/// Classic pcap, microsecond timestamps, 1 ms apart.
fn pcap(linktype: i32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&(linktype as u32).to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        out.extend_from_slice(&(i as u32 * 1000).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn fixture(kind: &str) -> Vec<RequestRecord> {
    let path: PathBuf = workspace_root().join(format!("fixtures/encap/{kind}.pcap"));
    let (linktype, frames) = frames(kind);
    let built = pcap(linktype, &frames);
    if std::env::var_os("APITAP_BLESS").is_some() {
        std::fs::write(&path, &built).unwrap();
    }
    let committed = std::fs::read(&path).unwrap();
    assert!(
        committed == built,
        "{} is not what the builder makes (bless after review)",
        path.display()
    );
    replay(&[path], &SensorConfig::default(), RedactMode::None).unwrap()
}

fn check_exchange(rs: &[RequestRecord]) {
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(
        (
            r.source.ip.to_string().as_str(),
            r.destination.ip.to_string().as_str(),
            r.destination.port
        ),
        ("198.18.0.2", "198.18.0.1", 80)
    );
    assert_eq!(
        (r.http.request.method.as_ref(), r.url.path.as_str()),
        ("GET", "/api/v1/orders/42")
    );
    let resp = r.http.response.as_ref().unwrap();
    assert_eq!((resp.status_code, resp.body.bytes), (200, 9));
    assert!(r.apitap.anomalies.is_empty(), "{:?}", r.apitap.anomalies);
}

fn tunnel(r: &RequestRecord) -> (String, String, String, Option<u32>) {
    let t = r.apitap.tunnel.as_ref().expect("tunnel on record");
    (
        t.kind.to_string(),
        t.outer_source_ip.to_string(),
        t.outer_destination_ip.to_string(),
        t.id,
    )
}

#[test]
fn erspan_type_2() {
    let rs = fixture("erspan2");
    check_exchange(&rs);
    assert_eq!(
        tunnel(&rs[0]),
        (
            "erspan2".into(),
            "198.19.0.10".into(),
            "198.19.0.20".into(),
            Some(42)
        )
    );
}

#[test]
fn erspan_type_3() {
    let rs = fixture("erspan3");
    check_exchange(&rs);
    assert_eq!(
        tunnel(&rs[0]),
        (
            "erspan3".into(),
            "198.19.0.10".into(),
            "198.19.0.20".into(),
            Some(42)
        )
    );
}

#[test]
fn linux_cooked_capture_v2() {
    let rs = fixture("sll2");
    check_exchange(&rs);
    assert!(rs[0].apitap.tunnel.is_none());
}

#[test]
fn ip_in_ip() {
    let rs = fixture("ipip");
    check_exchange(&rs);
    assert_eq!(
        tunnel(&rs[0]),
        (
            "ip_in_ip".into(),
            "198.19.0.10".into(),
            "198.19.0.20".into(),
            None
        )
    );
}
