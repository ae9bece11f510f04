//! apitap's data contract: the exchange record and friends. Serde, no I/O.
