//! Packet sources: the pure-Rust classic-pcap reader must hand out exactly what libpcap does
//! (timestamps, link type, bytes, wire length) for every classic trace in the corpus, and
//! several files must merge in timestamp order.

use apitap_sensor::source::{FileSource, LegacyFileSource, MergedFiles, Next, PacketSource};
use apitap_tests::corpus_dir;

type Packet = (u64, i32, Vec<u8>, u32);

/// libpcap reports the file's LINKTYPE_RAW (101) as its DLT_RAW (12); the decoder takes
/// both as raw IP, so the comparison does too.
fn same_link(linktype: i32) -> i32 {
    if linktype == 12 || linktype == 14 {
        101
    } else {
        linktype
    }
}

fn drain(src: &mut dyn PacketSource) -> Vec<Packet> {
    let mut out = Vec::new();
    while let Next::Packet(p) = src.next_packet().unwrap() {
        out.push((p.ts_ns, same_link(p.linktype), p.data.to_vec(), p.wire_len));
    }
    out
}

#[test]
fn classic_pcap_reader_agrees_with_libpcap_on_the_corpus() {
    let dir = corpus_dir().join("zeek-http/traces");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !LegacyFileSource::is_classic_pcap(&path).unwrap() {
            continue;
        }
        let ours = drain(&mut LegacyFileSource::open(&path).unwrap());
        let libpcap = drain(&mut FileSource::open(&path).unwrap());
        assert_eq!(ours.len(), libpcap.len(), "{}", path.display());
        assert!(ours == libpcap, "{} differs from libpcap", path.display());
        checked += 1;
    }
    assert!(checked > 100, "only {checked} classic traces found");
}

#[test]
fn merged_files_come_out_in_timestamp_order() {
    let dir = corpus_dir().join("zeek-http/traces");
    let a = dir.join("http__get.pcap"); // 2013
    let b = dir.join("http__100-continue.pcap"); // earlier
    let c = dir.join("http__cooper-grill-dvwa.pcapng"); // pcapng through libpcap
    let mut merged = MergedFiles::open(&[a.clone(), b.clone(), c.clone()]).unwrap();
    let all = drain(&mut merged);
    let count = |p| drain(&mut *apitap_sensor::source::open_file(p).unwrap()).len();
    assert_eq!(all.len(), count(&a) + count(&b) + count(&c));
    assert!(
        all.windows(2).all(|w| w[0].0 <= w[1].0),
        "not in timestamp order"
    );
}
