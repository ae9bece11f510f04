//! Payload attack detection: injection, traversal, SSRF, JNDI and XXE payloads wherever an
//! attacker can put them in an HTTP request.
//!
//! Flow: [`input::RequestParts`] → [`extract`] (named parameters, bounded) → [`normalize`]
//! (decoding and evasion undoing, bounded) → the family engines ([`sqli`], [`xss`],
//! [`patterns`], [`ssrf`]) → [`finding::Finding`]s, adjusted by the learned per-parameter
//! [`profile`]; [`hints`] reads the response for signs of success. [`detector`] ties them
//! together: build one [`PayloadDetector`] and call [`PayloadDetector::scan`] per request;
//! [`memo`] lets a worker skip values it has already scanned clean.

pub mod detector;
pub mod extract;
pub mod finding;
pub mod hints;
pub mod input;
pub mod memo;
pub mod normalize;
pub mod patterns;
pub mod profile;
pub mod rules;
pub mod sqli;
pub mod ssrf;
pub mod xss;

pub use detector::{PayloadConfig, PayloadCounters, PayloadDetector, ReflectionProbe, Scan};
pub use extract::{ExtractLimits, LimitsHit, Place};
pub use finding::{Family, Finding, Location};
pub use hints::{ResponseSizeBaseline, SuccessHint};
pub use input::{RequestParts, ResponseParts};
pub use normalize::Transforms;
pub use profile::{EndpointProfile, Learned, ProfileLimits};
