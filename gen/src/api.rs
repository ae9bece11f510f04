//! The demo API's endpoint catalogue and its OpenAPI 3 description
//! (`fixtures/demo-api/openapi.yaml`, embedded at build time and parsed with serde_norway).
//!
//! [`Catalogue::check`] holds the generator to the document: every operation the generator
//! calls as a documented endpoint is in the document and every documented operation is called;
//! the shadow endpoints (the shadow_api actor's) are absent from it; the zombie endpoint (the
//! zombie_api actor's) is in it and deprecated. [`Catalogue::operation`] maps a request to
//! its documented operation, so tests can check generated traffic against the document.

use anyhow::{bail, Context as _, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The OpenAPI document, as committed.
pub const OPENAPI_YAML: &str = include_str!("../../fixtures/demo-api/openapi.yaml");

/// Documented operations the generator calls: (method, path template).
pub const CALLED: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/users/{id}"),
    ("PUT", "/api/v1/users/{id}"),
    ("POST", "/api/v1/users/{id}/password"),
    ("PUT", "/api/v1/users/{id}/avatar"),
    ("GET", "/api/v1/users/{id}/payment-methods"),
    ("POST", "/api/v1/users/{id}/payment-methods"),
    ("GET", "/api/v1/products"),
    ("GET", "/api/v1/products/{id}"),
    ("GET", "/api/v1/products/{id}/reviews"),
    ("POST", "/api/v1/products/{id}/reviews"),
    ("GET", "/api/v1/cart"),
    ("POST", "/api/v1/cart/items"),
    ("DELETE", "/api/v1/cart/items/{sku}"),
    ("POST", "/api/v1/cart/checkout"),
    ("GET", "/api/v1/orders"),
    ("GET", "/api/v1/orders/{id}"),
    ("POST", "/api/v1/orders/import"),
    ("GET", "/api/v1/documents"),
    ("POST", "/api/v1/webhooks"),
    ("GET", "/api/v2/users/{id}"),
    ("GET", "/api/v2/products"),
    ("GET", "/api/v2/orders"),
    ("GET", "/api/v0/export/users"),
];

/// Undocumented endpoints the shadow_api actor calls.
pub const SHADOW: &[(&str, &str)] = &[
    ("GET", "/api/internal/debug/vars"),
    ("GET", "/api/v1/users/{id}/impersonate"),
    ("GET", "/api/v3/beta/recommendations"),
    ("GET", "/api/v1/admin/feature-flags"),
    ("GET", "/api/internal/users/{id}/ledger"),
];

/// The deprecated endpoint the zombie_api actor calls.
pub const ZOMBIE: (&str, &str) = ("GET", "/api/v0/export/users");

#[derive(Debug, Deserialize)]
struct Doc {
    openapi: String,
    paths: BTreeMap<String, PathItem>,
}

#[derive(Debug, Deserialize)]
struct PathItem {
    get: Option<Op>,
    put: Option<Op>,
    post: Option<Op>,
    delete: Option<Op>,
    patch: Option<Op>,
}

#[derive(Debug, Deserialize)]
struct Op {
    #[serde(rename = "operationId")]
    operation_id: String,
    #[serde(default)]
    deprecated: bool,
    security: Option<Vec<serde_norway::Value>>,
}

/// One documented operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub method: String,
    pub template: String,
    pub operation_id: String,
    pub deprecated: bool,
    /// `security: []` on the operation: callable without credentials.
    pub public: bool,
}

/// The parsed document.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub ops: Vec<Operation>,
}

fn template_matches(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.starts_with('{') && a.ends_with('}') => {
                if b.is_empty() {
                    return false;
                }
            }
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

impl Catalogue {
    /// Parses the embedded document.
    pub fn load() -> Result<Self> {
        Self::parse(OPENAPI_YAML)
    }

    pub fn parse(yaml: &str) -> Result<Self> {
        let doc: Doc = serde_norway::from_str(yaml).context("parsing the OpenAPI document")?;
        if !doc.openapi.starts_with("3.") {
            bail!("not an OpenAPI 3 document: openapi {}", doc.openapi);
        }
        let mut ops = Vec::new();
        for (path, item) in doc.paths {
            for (m, op) in [
                ("GET", item.get),
                ("PUT", item.put),
                ("POST", item.post),
                ("DELETE", item.delete),
                ("PATCH", item.patch),
            ] {
                if let Some(op) = op {
                    ops.push(Operation {
                        method: m.into(),
                        template: path.clone(),
                        operation_id: op.operation_id,
                        deprecated: op.deprecated,
                        public: op.security.is_some_and(|s| s.is_empty()),
                    });
                }
            }
        }
        Ok(Catalogue { ops })
    }

    fn find(&self, method: &str, template: &str) -> Option<&Operation> {
        self.ops
            .iter()
            .find(|o| o.method == method && o.template == template)
    }

    /// The documented operation a request (method, path without query) is for.
    pub fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        // Literal segments win over parameters (`/orders/import` before `/orders/{id}`).
        self.ops
            .iter()
            .filter(|o| o.method == method && template_matches(&o.template, path))
            .max_by_key(|o| {
                o.template
                    .split('/')
                    .filter(|s| !s.starts_with('{'))
                    .count()
            })
    }

    /// The generator and the document agree (see the module docs).
    pub fn check(&self) -> Result<()> {
        for (m, t) in CALLED {
            if self.find(m, t).is_none() {
                bail!("the generator calls {m} {t}, which the OpenAPI document does not describe");
            }
        }
        for o in &self.ops {
            if !CALLED.contains(&(o.method.as_str(), o.template.as_str())) {
                bail!(
                    "the OpenAPI document describes {} {} ({}), which the generator never calls",
                    o.method,
                    o.template,
                    o.operation_id
                );
            }
        }
        for (m, t) in SHADOW {
            if self.find(m, t).is_some() {
                bail!("shadow endpoint {m} {t} is documented");
            }
        }
        match self.find(ZOMBIE.0, ZOMBIE.1) {
            Some(o) if o.deprecated => Ok(()),
            _ => bail!(
                "zombie endpoint {} {} must be documented as deprecated",
                ZOMBIE.0,
                ZOMBIE.1
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_and_the_generator_agree() {
        let c = Catalogue::load().unwrap();
        c.check().unwrap();
        assert_eq!(c.ops.len(), CALLED.len());
        assert!(c.find("GET", "/health").unwrap().public);
        assert!(!c.find("GET", "/api/v1/orders/{id}").unwrap().public);
    }

    #[test]
    fn requests_map_to_operations() {
        let c = Catalogue::load().unwrap();
        assert_eq!(
            c.operation("GET", "/api/v1/users/42").unwrap().operation_id,
            "getUser"
        );
        assert_eq!(
            c.operation("POST", "/api/v1/orders/import")
                .unwrap()
                .operation_id,
            "importOrders"
        );
        assert_eq!(
            c.operation("GET", "/api/v1/orders/1001")
                .unwrap()
                .operation_id,
            "getOrder"
        );
        assert!(c.operation("GET", "/api/internal/debug/vars").is_none());
        assert!(c.operation("DELETE", "/api/v1/users/42").is_none());
        assert!(c.operation("GET", "/api/v1/users/").is_none());
    }

    #[test]
    fn a_document_missing_an_operation_fails_the_check() {
        let cut = OPENAPI_YAML.replace(
            "  /api/v1/cart:\n    get:\n      operationId: getCart",
            "  /api/v1/cart:\n    head:\n      operationId: getCart",
        );
        assert_ne!(cut, OPENAPI_YAML);
        let err = Catalogue::parse(&cut).map(|c| c.check());
        assert!(matches!(err, Ok(Err(_))) || err.is_err());
        let undeprecated = OPENAPI_YAML.replace("deprecated: true", "deprecated: false");
        assert!(Catalogue::parse(&undeprecated).unwrap().check().is_err());
    }
}
