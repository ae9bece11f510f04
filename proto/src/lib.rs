//! apitap's data contract: the exchange record, the alert, and the types they are made of.
//!
//! Serde only, no I/O. Field names follow the Elastic Common Schema where ECS has a field,
//! and live under `apitap.*` where it has none. Names are stable and additive: a field may be
//! added, never renamed or re-typed.

pub mod alert;
pub mod headers;
pub mod record;
pub mod time;

pub use alert::*;
pub use headers::{FieldBytes, Headers};
pub use record::*;
