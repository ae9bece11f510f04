//! Mirroring encapsulations and link layers end to end: real captures from the corpus go in,
//! and the records must carry the inner HTTP exchange plus the tunnel (kind, outer
//! addresses, id) or VLAN it arrived in.

use apitap_proto::RequestRecord;
use apitap_sensor::config::SensorConfig;
use apitap_sensor::redact::RedactMode;
use apitap_tests::{corpus_dir, replay};

fn records(trace: &str) -> Vec<RequestRecord> {
    let path = corpus_dir().join("zeek-http/traces").join(trace);
    replay(&[path], &SensorConfig::default(), RedactMode::None).unwrap()
}

/// (method, status) of every record, in order.
fn exchanges(rs: &[RequestRecord]) -> Vec<(String, Option<u16>)> {
    rs.iter()
        .map(|r| {
            (
                r.http.request.method.to_string(),
                r.http.response.as_ref().map(|s| s.status_code),
            )
        })
        .collect()
}

fn tunnel(r: &RequestRecord) -> (String, String, String, Option<u32>) {
    let t = r.apitap.tunnel.as_ref().expect("record has a tunnel");
    (
        t.kind.to_string(),
        t.outer_source_ip.to_string(),
        t.outer_destination_ip.to_string(),
        t.id,
    )
}

#[test]
fn vxlan() {
    let rs = records("tunnels__vxlan-encapsulated-http.pcap");
    assert_eq!(exchanges(&rs), [("GET".into(), Some(200))]);
    assert_eq!(
        tunnel(&rs[0]),
        (
            "vxlan".into(),
            "10.1.200.131".into(),
            "10.1.1.172".into(),
            Some(1)
        )
    );
}

#[test]
fn geneve() {
    let rs = records("tunnels__geneve-many-options.pcap");
    assert_eq!(exchanges(&rs), [("GET".into(), Some(200))]);
    assert_eq!(tunnel(&rs[0]).0, "geneve");
    assert_eq!(tunnel(&rs[0]).3, Some(786734));
}

#[test]
fn gre_in_udp() {
    let rs = records("tunnels__gre-over-udp-4754.pcap");
    assert_eq!(exchanges(&rs), [("GET".into(), Some(301))]);
    assert_eq!(tunnel(&rs[0]).0, "gre");
}

#[test]
fn gre_transparent_ethernet_bridging_from_a_remote_span() {
    let rs = records("erspan.pcap");
    assert_eq!(rs.len(), 22);
    assert!(rs.iter().all(|r| !r.http.request.method.is_empty()));
    // tshark shows 14 responses: it cannot reassemble three bodies that lost packets in
    // capture. apitap skips the gaps, flags them and resyncs, so it reports all 17.
    assert_eq!(rs.iter().filter(|r| r.http.response.is_some()).count(), 17);
    let gapped = rs
        .iter()
        .filter(|r| r.apitap.anomalies.iter().any(|a| a == "http_content_gap"))
        .count();
    assert_eq!(gapped, 9);
    // Five responses began in lost packets: their requests are recorded without one, and
    // each response found after a gap pairs with the request whose acknowledgment number
    // says where its answer starts (checked against tshark's tcp.seq / tcp.ack).
    let lost: Vec<&str> = rs
        .iter()
        .filter(|r| r.http.response.is_none())
        .filter(|r| r.apitap.anomalies.iter().any(|a| a == "http_content_gap"))
        .map(|r| r.url.original.split('?').next().unwrap_or_default())
        .collect();
    assert_eq!(
        lost,
        [
            "/ScriptResource.axd",
            "/_layouts/1033/styles/Themable/search.css",
            "/_layouts/1033/init.js",
            "/_layouts/images/fgimg.png",
            "/_layouts/images/homepageSamplePhoto.jpg",
        ]
    );
    let answer = |path: &str| {
        let r = rs.iter().find(|r| r.url.original == path).expect(path);
        let resp = r.http.response.as_ref().expect("answered");
        (resp.status_code, resp.body.bytes)
    };
    assert_eq!(answer("/_layouts/images/bgximg.png"), (200, 1770));
    assert_eq!(answer("/_layouts/images/mossfgimg.png"), (200, 7325));
    assert_eq!(answer("/_layouts/images/wpmenuarrow.png"), (200, 123));
    // The GRE key differs per direction here; the record keeps the first packet's.
    let (kind, src, dst, _key) = tunnel(&rs[0]);
    assert_eq!(
        (kind.as_str(), src.as_str(), dst.as_str()),
        ("gre", "10.200.0.3", "10.200.0.224")
    );
}

#[test]
fn teredo_and_ayiya_carry_ipv6() {
    let rs = records("tunnels__Teredo.pcap");
    assert_eq!(rs.len(), 4);
    assert!(rs
        .iter()
        .any(|r| r.apitap.tunnel.as_ref().is_some_and(|t| t.kind == "teredo")));
    let rs = records("tunnels__ayiya3.pcap");
    assert_eq!(
        exchanges(&rs),
        [
            ("GET".into(), Some(200)),
            ("GET".into(), Some(204)),
            ("GET".into(), Some(204))
        ]
    );
    assert!(rs.iter().all(|r| tunnel(r).0 == "ayiya"));
}

#[test]
fn gtp_user_plane_with_fragmented_outer_packets() {
    // GTP TEIDs differ per direction; both directions must still be one flow.
    let rs = records("tunnels__gtp__gtp2_different_udp_port.pcap");
    assert_eq!(
        exchanges(&rs),
        [("GET".into(), Some(200)), ("GET".into(), Some(200))]
    );
    let rs = records("tunnels__gtp__gtp1_gn_normal_incl_fragmentation.pcap");
    assert_eq!(exchanges(&rs), [("GET".into(), Some(206))]);
    assert_eq!(tunnel(&rs[0]).0, "gtpu");
}

#[test]
fn vlan_stacks_and_mpls() {
    for (trace, vlan) in [
        ("http-vlan-0.pcap", 0),
        ("http-qinq-0.pcap", 0),
        ("vlan-qinqinq.pcap", 10),
    ] {
        let rs = records(trace);
        assert_eq!(exchanges(&rs), [("GET".into(), Some(200))], "{trace}");
        assert_eq!(
            rs[0].network.vlan.as_ref().map(|v| v.id),
            Some(vlan),
            "{trace}"
        );
    }
    let rs = records("mpls-in-vlan.pcap");
    assert_eq!(
        rs.iter()
            .map(|r| r.network.vlan.as_ref().map(|v| v.id))
            .collect::<Vec<_>>(),
        [Some(3199), Some(3399)]
    );
}

#[test]
fn other_link_layers() {
    assert_eq!(
        exchanges(&records("nflog-http.pcap")),
        [("GET".into(), Some(200))]
    );
    assert_eq!(records("http__basic-auth-with-colon.pcap").len(), 1); // LINKTYPE_IPV4
    assert_eq!(
        records("http__connect-with-header.pcap")[0]
            .http
            .request
            .method,
        "CONNECT"
    ); // BSD null
}
