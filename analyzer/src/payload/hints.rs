//! Success hints: what the response to an attacking request says about whether the attack
//! worked — database error text in the body, the payload reflected in the body, or a 200
//! with an unusually large body for the endpoint. The alert layer raises severity on them.

use super::detector::Scan;
use super::input::ResponseParts;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// One hint that an attack may have succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuccessHint {
    /// The response body carries a database error message.
    DatabaseError {
        dbms: &'static str,
        fragment: String,
    },
    /// The payload of finding `finding` (index into [`Scan::findings`]) came back verbatim.
    Reflected { finding: usize },
    /// A 200 whose body is far larger than the endpoint's usual.
    LargeResponse { bytes: u64, typical: u64 },
}

impl SuccessHint {
    pub fn as_str(&self) -> &'static str {
        match self {
            SuccessHint::DatabaseError { .. } => "database_error",
            SuccessHint::Reflected { .. } => "reflected_payload",
            SuccessHint::LargeResponse { .. } => "large_response",
        }
    }
}

const DB_ERRORS: &[(&str, &str)] = &[
    ("you have an error in your sql syntax", "mysql"),
    ("warning: mysql_", "mysql"),
    ("mysql_fetch_array()", "mysql"),
    ("mysqli_sql_exception", "mysql"),
    ("com.mysql.jdbc", "mysql"),
    ("mysql server version for the right syntax", "mysql"),
    ("unknown column '", "mysql"),
    ("mariadb server version", "mysql"),
    ("pg::syntaxerror", "postgresql"),
    ("syntax error at or near", "postgresql"),
    ("unterminated quoted string at or near", "postgresql"),
    ("org.postgresql.util.psqlexception", "postgresql"),
    ("psycopg2.errors", "postgresql"),
    ("invalid input syntax for type", "postgresql"),
    ("pg_query(): query failed", "postgresql"),
    (
        "unclosed quotation mark after the character string",
        "mssql",
    ),
    ("microsoft ole db provider for sql server", "mssql"),
    ("odbc sql server driver", "mssql"),
    ("system.data.sqlclient.sqlexception", "mssql"),
    ("incorrect syntax near", "mssql"),
    ("conversion failed when converting the", "mssql"),
    ("ora-00933", "oracle"),
    ("ora-01756", "oracle"),
    ("ora-00921", "oracle"),
    ("ora-00936", "oracle"),
    ("ora-01789", "oracle"),
    ("oracle.jdbc.driver", "oracle"),
    ("quoted string not properly terminated", "oracle"),
    ("sqlite3::sqlexception", "sqlite"),
    ("sqlite3.operationalerror", "sqlite"),
    ("sqlite_error", "sqlite"),
    ("sqlite.exception", "sqlite"),
    ("unrecognized token:", "sqlite"),
    ("sqlstate[", "generic"),
    ("jdbc.sqlsyntaxerrorexception", "generic"),
    ("db2 sql error", "db2"),
];

/// Response-size baseline of one endpoint: an exponentially weighted mean of 2xx body sizes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResponseSizeBaseline {
    pub samples: u32,
    pub mean: f64,
}

impl ResponseSizeBaseline {
    pub fn observe(&mut self, bytes: u64) {
        self.samples = self.samples.saturating_add(1);
        let alpha = (1.0 / f64::from(self.samples)).max(0.02);
        self.mean += alpha * (bytes as f64 - self.mean);
    }

    /// The typical size, once 20 responses were seen.
    pub fn typical(&self) -> Option<u64> {
        (self.samples >= 20).then_some(self.mean as u64)
    }
}

#[derive(Debug)]
pub struct HintEngine {
    errors: AhoCorasick,
}

impl HintEngine {
    pub fn new() -> Result<Self, aho_corasick::BuildError> {
        let errors = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(DB_ERRORS.iter().map(|(s, _)| s))?;
        Ok(HintEngine { errors })
    }

    /// Hints for one response. `typical_bytes` is the endpoint's usual 200 body size, if known.
    pub fn hints(
        &self,
        resp: &ResponseParts<'_>,
        scan: &Scan,
        typical_bytes: Option<u64>,
    ) -> Vec<SuccessHint> {
        let mut out = Vec::new();
        if scan.findings.is_empty() {
            return out;
        }
        let body = &resp.body[..resp.body.len().min(256 * 1024)];
        if let Some(m) = self.errors.find(body) {
            out.push(SuccessHint::DatabaseError {
                dbms: DB_ERRORS[m.pattern().as_usize()].1,
                fragment: super::finding::fragment(body, m.start()),
            });
        }
        for probe in &scan.probes {
            if probe.bytes.len() >= 6 && memchr::memmem::find(body, &probe.bytes).is_some() {
                out.push(SuccessHint::Reflected {
                    finding: probe.finding,
                });
            }
        }
        if let Some(t) = typical_bytes {
            if resp.status == 200
                && resp.body_bytes > 16 * 1024
                && resp.body_bytes > t.saturating_mul(4)
            {
                out.push(SuccessHint::LargeResponse {
                    bytes: resp.body_bytes,
                    typical: t,
                });
            }
        }
        out
    }
}
