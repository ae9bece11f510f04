//! apitap analyzer: exchange records in, alerts out (baselines, detectors, alert manager).
//! No pcap, no tokio: a pure library the sensor's workers drive.

pub mod payload;
