//! Property tests: random requests never panic the payload detector and every work bound
//! holds (parameters, bytes per value, bytes per request, findings, fragment length); the
//! normalisers never grow a value.

use apitap_analyzer::payload::extract::{extract, ExtractLimits};
use apitap_analyzer::payload::normalize::{
    jndi_view, normalize, path_view, shell_view, sql_view, NormalizeLimits, Transforms,
};
use apitap_analyzer::payload::{PayloadConfig, PayloadCounters, PayloadDetector, RequestParts};
use proptest::prelude::*;
use std::sync::OnceLock;

fn detector() -> &'static PayloadDetector {
    static D: OnceLock<PayloadDetector> = OnceLock::new();
    D.get_or_init(|| {
        let cfg = PayloadConfig {
            extract: ExtractLimits {
                max_params: 16,
                max_depth: 6,
                max_value_bytes: 64,
                max_request_bytes: 512,
            },
            max_findings: 4,
            ..PayloadConfig::default()
        };
        PayloadDetector::new(cfg).expect("detector")
    })
}

/// Bytes biased towards the characters the parsers and decoders care about.
fn spicy() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> =
        b"{}[]\":,<>/!?=&%+;'\\$()-#*`|.@ \n\tax0u\x00\xc0\xaf\xef\xbc\x8f".to_vec();
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(alphabet),
            1 => any::<u8>(),
        ],
        0..600,
    )
}

const CONTENT_TYPES: &[&[u8]] = &[
    b"application/json",
    b"application/xml",
    b"application/x-www-form-urlencoded",
    b"multipart/form-data; boundary=XyZ",
    b"text/plain",
    b"",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_respect_the_bounds(
        target in spicy(),
        body in spicy(),
        hv in spicy(),
        ct in 0usize..CONTENT_TYPES.len(),
    ) {
        let det = detector();
        let lim = det.config().extract;
        let headers: Vec<(&[u8], &[u8])> = vec![
            (b"Content-Type", CONTENT_TYPES[ct]),
            (b"User-Agent", &hv),
            (b"Cookie", &hv),
        ];
        let req = RequestParts::new(b"POST", &target, headers, &body);
        let ex = extract(&req, &lim);
        prop_assert!(ex.params.len() <= lim.max_params);
        prop_assert!(ex.bytes <= lim.max_request_bytes);
        prop_assert!(ex.params.iter().all(|p| p.value.len() <= lim.max_value_bytes));
        prop_assert_eq!(ex.bytes, ex.params.iter().map(|p| p.value.len()).sum::<usize>());
        let mut c = PayloadCounters::default();
        let scan = det.scan(&req, None, &mut c);
        prop_assert!(scan.findings.len() <= det.config().max_findings);
        prop_assert!(scan.bytes_examined <= lim.max_request_bytes);
        for f in &scan.findings {
            prop_assert!(f.fragment.len() <= 64);
            prop_assert!((0.0..=1.0).contains(&f.confidence));
        }
        for p in &scan.probes {
            prop_assert!(p.finding < scan.findings.len());
        }
    }

    #[test]
    fn normalisers_never_grow_a_value(v in spicy()) {
        for plus in [false, true] {
            let n = normalize(&v, &NormalizeLimits { max_passes: 4, plus_is_space: plus });
            prop_assert!(n.text.len() <= v.len());
        }
        let mut t = Transforms::default();
        let lo = v.to_ascii_lowercase();
        prop_assert!(sql_view(&lo, &mut t).len() <= v.len());
        prop_assert!(path_view(&lo, &mut t).len() <= v.len());
        prop_assert!(shell_view(&lo, &mut t).len() <= v.len());
        prop_assert!(jndi_view(&lo, 8, &mut t).len() <= v.len());
    }
}
