//! List file formats: text in, networks (with an optional reason) out, bad lines counted.
//!
//! - **plain**: one address or CIDR prefix per line; `#` starts a comment; anything after
//!   the first whitespace-separated token is kept as the reason (`1.2.3.4  scanner`).
//! - **csv**: a header row, then rows. The address column is the one named `ip`, `address`,
//!   `addr`, `ip_address`, `cidr`, `network`, `netblock`, `prefix`, `subnet`, `range` or
//!   `indicator` (or ending in `_ip`), else the first column whose value parses on the first
//!   row; a column named `reason`, `description`, `comment`, `threat`, `category`,
//!   `malware`, `tags` or `sblid` gives the reason. `#` lines are comments; a first row that
//!   already holds an address is data (feeds whose header is commented out). Fields may be
//!   quoted (`"a,b"`, `""` for a quote).
//! - **drop**: Spamhaus DROP/EDROP/DROPv6: `1.10.16.0/20 ; SBL256894`, `;` comments; the SBL
//!   id is the reason. The JSON-lines form Spamhaus also publishes
//!   (`{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}`, with a final metadata
//!   object) is read too.
//!
//! A line that cannot be read is counted and the first few are kept with their line number
//! and why; the caller decides whether the list as a whole is usable ([`Parsed::verdict`]).

use super::table::Net;
use serde::{Deserialize, Serialize};

/// How a list file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListFormat {
    #[default]
    Plain,
    Csv,
    Drop,
}

/// One listed network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEntry {
    pub net: Net,
    /// E.g. the SBL id; `None` when the list gives none.
    pub reason: Option<Box<str>>,
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based.
    pub line: usize,
    /// The line, cut to 120 characters.
    pub text: String,
    pub why: &'static str,
}

/// Lines kept as samples of what was rejected.
pub const BAD_LINE_SAMPLES: usize = 5;

/// What a list file gave.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub entries: Vec<ParsedEntry>,
    /// Lines that were neither blank nor comments (header rows excluded).
    pub data_lines: u64,
    pub rejected: u64,
    /// The first [`BAD_LINE_SAMPLES`] rejected lines.
    pub bad_lines: Vec<BadLine>,
}

impl Parsed {
    fn reject(&mut self, line: usize, text: &str, why: &'static str) {
        self.rejected += 1;
        if self.bad_lines.len() < BAD_LINE_SAMPLES {
            self.bad_lines.push(BadLine {
                line,
                text: text.chars().take(120).collect(),
                why,
            });
        }
    }

    /// Whether the file is a usable list: a file whose data lines are mostly unreadable is
    /// the wrong format or a broken download, and is refused as a whole.
    pub fn verdict(&self) -> Result<(), String> {
        if self.data_lines > 0 && self.entries.is_empty() {
            return Err(format!(
                "none of its {} data lines is an address or prefix",
                self.data_lines
            ));
        }
        if self.rejected.saturating_mul(2) > self.data_lines {
            return Err(format!(
                "{} of its {} data lines rejected",
                self.rejected, self.data_lines
            ));
        }
        Ok(())
    }
}

/// Parses a list file's bytes (invalid UTF-8 is replaced, a BOM skipped).
pub fn parse(format: ListFormat, bytes: &[u8]) -> Parsed {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    match format {
        ListFormat::Plain => parse_plain(text),
        ListFormat::Csv => parse_csv(text),
        ListFormat::Drop => parse_drop(text),
    }
}

fn reason_of(s: &str) -> Option<Box<str>> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.chars().take(200).collect::<String>().into_boxed_str())
}

fn parse_plain(text: &str) -> Parsed {
    let mut p = Parsed::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        p.data_lines += 1;
        let (addr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        match Net::parse(addr) {
            Ok(net) => p.entries.push(ParsedEntry {
                net,
                reason: reason_of(rest),
            }),
            Err(why) => p.reject(i + 1, raw, why),
        }
    }
    p
}

fn parse_drop(text: &str) -> Parsed {
    #[derive(Deserialize)]
    struct JsonLine {
        cidr: Option<String>,
        sblid: Option<String>,
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    let mut p = Parsed::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if line.starts_with('{') {
            match serde_json::from_str::<JsonLine>(line) {
                Ok(JsonLine {
                    cidr: Some(c),
                    sblid,
                    ..
                }) => {
                    p.data_lines += 1;
                    match Net::parse(&c) {
                        Ok(net) => p.entries.push(ParsedEntry {
                            net,
                            reason: sblid.as_deref().and_then(reason_of),
                        }),
                        Err(why) => p.reject(i + 1, raw, why),
                    }
                }
                // The trailing `{"type":"metadata",...}` object.
                Ok(JsonLine { kind: Some(_), .. }) => {}
                _ => {
                    p.data_lines += 1;
                    p.reject(i + 1, raw, "JSON line without a cidr");
                }
            }
            continue;
        }
        p.data_lines += 1;
        let (addr, rest) = line.split_once(';').unwrap_or((line, ""));
        match Net::parse(addr) {
            Ok(net) => p.entries.push(ParsedEntry {
                net,
                reason: reason_of(rest),
            }),
            Err(why) => p.reject(i + 1, raw, why),
        }
    }
    p
}

/// Splits one CSV row (RFC 4180 quoting, no newlines inside fields).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

const ADDRESS_COLUMNS: [&str; 11] = [
    "ip",
    "address",
    "addr",
    "ip_address",
    "cidr",
    "network",
    "netblock",
    "prefix",
    "subnet",
    "range",
    "indicator",
];
const REASON_COLUMNS: [&str; 8] = [
    "reason",
    "description",
    "comment",
    "threat",
    "category",
    "malware",
    "tags",
    "sblid",
];

fn column_name(h: &str) -> String {
    h.trim()
        .trim_start_matches('#')
        .trim()
        .to_ascii_lowercase()
        .replace([' ', '-'], "_")
}

fn parse_csv(text: &str) -> Parsed {
    let mut p = Parsed::default();
    // (address column, reason column), known after the header (or the first data row).
    let mut header: Option<Vec<String>> = None;
    let mut columns: Option<(usize, Option<usize>)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let fields = csv_fields(line);
        if header.is_none() {
            let is_data = fields.iter().any(|f| Net::parse(f).is_ok());
            if line.starts_with('#') && !is_data {
                // A comment, or a commented header: keep its names in case rows follow.
                let names: Vec<String> = fields.iter().map(|f| column_name(f)).collect();
                if names.len() > 1 {
                    columns = named_columns(&names);
                }
                continue;
            }
            if !is_data {
                let names: Vec<String> = fields.iter().map(|f| column_name(f)).collect();
                columns = named_columns(&names).or(columns);
                header = Some(names);
                continue;
            }
            header = Some(Vec::new());
        }
        if line.starts_with('#') {
            continue;
        }
        p.data_lines += 1;
        let (addr_col, reason_col) = match columns {
            Some(c) => c,
            None => match fields.iter().position(|f| Net::parse(f).is_ok()) {
                Some(c) => {
                    columns = Some((c, None));
                    (c, None)
                }
                None => {
                    p.reject(i + 1, raw, "no column holds an address or prefix");
                    continue;
                }
            },
        };
        let Some(addr) = fields.get(addr_col) else {
            p.reject(i + 1, raw, "row has too few columns");
            continue;
        };
        match Net::parse(addr) {
            Ok(net) => p.entries.push(ParsedEntry {
                net,
                reason: reason_col
                    .and_then(|c| fields.get(c))
                    .and_then(|r| reason_of(r)),
            }),
            Err(why) => p.reject(i + 1, raw, why),
        }
    }
    p
}

fn named_columns(names: &[String]) -> Option<(usize, Option<usize>)> {
    let addr = names
        .iter()
        .position(|n| ADDRESS_COLUMNS.contains(&n.as_str()))
        .or_else(|| names.iter().position(|n| n.ends_with("_ip")))?;
    let reason = names
        .iter()
        .position(|n| REASON_COLUMNS.contains(&n.as_str()));
    Some((addr, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(p: &Parsed) -> Vec<String> {
        p.entries.iter().map(|e| e.net.to_string()).collect()
    }

    fn reasons(p: &Parsed) -> Vec<Option<&str>> {
        p.entries.iter().map(|e| e.reason.as_deref()).collect()
    }

    #[test]
    fn plain_lists() {
        let p = parse(
            ListFormat::Plain,
            b"# firehol-style list\n\
              \n\
              203.0.113.7\n\
              198.51.100.0/24   # trailing comment\n\
              2001:db8::/32\n\
              192.0.2.1 known scanner\n\
              not-an-ip\n\
              10.0.0.0/40\n",
        );
        assert_eq!(
            nets(&p),
            [
                "203.0.113.7/32",
                "198.51.100.0/24",
                "2001:db8::/32",
                "192.0.2.1/32"
            ]
        );
        assert_eq!(reasons(&p), [None, None, None, Some("known scanner")]);
        assert_eq!((p.data_lines, p.rejected), (6, 2));
        assert_eq!(p.bad_lines[0].line, 7);
        assert_eq!(p.bad_lines[0].text, "not-an-ip");
        assert_eq!(p.bad_lines[1].why, "bad prefix length");
        assert!(p.verdict().is_ok());
    }

    #[test]
    fn spamhaus_drop_text_and_json() {
        let p = parse(
            ListFormat::Drop,
            b"; Spamhaus DROP List 2024/01/01 - (c) 2024 The Spamhaus Project\r\n\
              ; Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n\
              1.10.16.0/20 ; SBL256894\r\n\
              1.19.0.0/16 ; SBL434604\r\n\
              2a06:e480::/29 ; SBL301771\r\n\
              garbage ; SBL1\r\n",
        );
        assert_eq!(nets(&p), ["1.10.16.0/20", "1.19.0.0/16", "2a06:e480::/29"]);
        assert_eq!(
            reasons(&p),
            [Some("SBL256894"), Some("SBL434604"), Some("SBL301771")]
        );
        assert_eq!((p.data_lines, p.rejected), (4, 1));
        let j = parse(
            ListFormat::Drop,
            br#"{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}
{"cidr":"2001:db8::/32","sblid":"SBL1","rir":"ripencc"}
{"sblid":"SBL2"}
{"type":"metadata","timestamp":1700000000,"size":3,"records":2}
"#,
        );
        assert_eq!(nets(&j), ["1.10.16.0/20", "2001:db8::/32"]);
        assert_eq!(reasons(&j), [Some("SBL256894"), Some("SBL1")]);
        assert_eq!((j.data_lines, j.rejected), (3, 1));
    }

    #[test]
    fn csv_by_header_name() {
        let p = parse(
            ListFormat::Csv,
            b"first_seen,Indicator,Threat,confidence\n\
              2024-01-01,203.0.113.9,\"botnet, c2\",90\n\
              2024-01-02,\"2001:db8::/48\",scanner,50\n\
              2024-01-03,bogus,x,1\n\
              2024-01-04\n",
        );
        assert_eq!(nets(&p), ["203.0.113.9/32", "2001:db8::/48"]);
        assert_eq!(reasons(&p), [Some("botnet, c2"), Some("scanner")]);
        assert_eq!((p.data_lines, p.rejected), (4, 2));
        assert_eq!(p.bad_lines[1].why, "row has too few columns");
    }

    #[test]
    fn csv_first_parsing_column_and_commented_header() {
        // No recognised column name: the first column that parses on the first row.
        let p = parse(
            ListFormat::Csv,
            b"when,who,note\n2024-01-01,198.51.100.4,x\n2024-01-02,198.51.100.5,y\n",
        );
        assert_eq!(nets(&p), ["198.51.100.4/32", "198.51.100.5/32"]);
        // abuse.ch style: the header is a comment, rows follow.
        let f = parse(
            ListFormat::Csv,
            b"################\n\
              # first_seen_utc,dst_ip,dst_port,malware\n\
              \"2024-01-01 00:00:00\",\"192.0.2.77\",\"443\",\"QakBot\"\n",
        );
        assert_eq!(nets(&f), ["192.0.2.77/32"]);
        assert_eq!(reasons(&f), [Some("QakBot")]);
        // No header at all.
        let n = parse(ListFormat::Csv, b"192.0.2.1,a\n192.0.2.2,b\n");
        assert_eq!(nets(&n), ["192.0.2.1/32", "192.0.2.2/32"]);
        assert_eq!(n.data_lines, 2);
    }

    #[test]
    fn a_mostly_broken_file_is_refused() {
        let p = parse(
            ListFormat::Plain,
            b"<html>\n<body>rate limited</body>\n</html>\n",
        );
        assert!(p.verdict().is_err());
        let p = parse(ListFormat::Plain, b"1.2.3.4\nx\ny\n");
        assert!(p.verdict().is_err());
        let p = parse(ListFormat::Drop, b"; only comments\n");
        assert!(p.verdict().is_ok());
        assert!(p.entries.is_empty());
        // The wrong format for the file.
        let p = parse(ListFormat::Plain, b"1.10.16.0/20 ; SBL256894\n");
        assert_eq!(nets(&p), ["1.10.16.0/20"], "plain takes the first token");
        let p = parse(ListFormat::Drop, b"ip,reason\n1.2.3.4,x\n");
        assert!(p.verdict().is_err());
    }
}
