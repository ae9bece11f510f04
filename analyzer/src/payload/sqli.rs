//! SQL injection: libinjection's tokenizer and fingerprints (the pure-Rust `libinjectionrs`
//! port) combined with a rule set over the SQL view (lower-cased, comments removed,
//! whitespace collapsed).
//!
//! Why both: libinjection judges whether a value *parses as an injection* (a quote or number
//! break followed by operators and keywords), which keeps English with apostrophes quiet, but
//! it also flags complete SQL statements that users paste into search boxes and misses
//! payloads its fingerprint list lacks. The rules name the techniques (UNION-based, stacked,
//! time-based, error-based, boolean, comment truncation, catalog access) and carry their own
//! confidence. A statement-shaped libinjection fingerprint (starting with a keyword, no break)
//! counts only when a rule agrees.

use super::rules::{Rule, RuleSet};
use std::collections::HashSet;
use std::sync::LazyLock;

/// Rules over the SQL view. A leading break is `'`, `"`, `` ` ``, `)` or a digit.
pub static RULES: &[Rule] = &[
    Rule {
        name: "union_select",
        pattern: r"\bunion( all| distinct)? ?\(? ?select ?(null|\d|@@|\*|'|0x|char|concat|group_concat|version|user|database|\w+ ?\(|[\w.]+ ?(,|from\b))",
        confidence: 0.95,
    },
    Rule {
        name: "union_after_break",
        pattern: r"(['`)\d]|^-?\d+) ?\)* ?union( all| distinct)? ?\(? ?select\b",
        confidence: 0.9,
    },
    Rule {
        name: "time_delay",
        pattern: r"\b(sleep|pg_sleep|benchmark|randomblob|dbms_lock\.sleep|pg_sleep_for) ?\( ?(\d|\(|select|@|0x|'|if|case)|\bdbms_pipe\.receive_message ?\(",
        confidence: 0.85,
    },
    Rule {
        name: "waitfor_delay",
        pattern: r"\bwaitfor (delay|time) ?'",
        confidence: 0.95,
    },
    Rule {
        name: "error_based",
        pattern: r"\b(extractvalue|updatexml|exp ?\( ?~|floor ?\( ?rand ?\(|geometrycollection ?\(|multipoint ?\(|gtid_subset ?\(|json_keys ?\(|convert ?\( ?int ?,|ctxsys\.drithsx\.sn|utl_inaddr\.get_host_(name|address)|dbms_xmlgen|xmltype ?\()",
        confidence: 0.85,
    },
    Rule {
        name: "stacked_query",
        pattern: r"(['`)\d]|^) ?; ?(drop|truncate|alter|create|insert|update|delete|exec|execute|declare|shutdown|waitfor|select|grant|revoke|backup|kill|copy|load|call|set @|begin|commit)\b",
        confidence: 0.85,
    },
    Rule {
        name: "dangerous_procedure",
        pattern: r"\b(xp_cmdshell|xp_dirtree|xp_regread|xp_fileexist|sp_executesql|sp_oacreate|sp_makewebtask|sp_configure|openrowset|opendatasource|load_file ?\(|into (out|dump)file\b|lo_import|lo_export|pg_read_file|pg_ls_dir|copy \w+ (from|to) program)",
        confidence: 0.9,
    },
    Rule {
        name: "catalog_access",
        pattern: r"\b(information_schema|sysobjects|syscolumns|sys\.(tables|objects|columns|databases|sql_logins)|pg_catalog|pg_shadow|pg_user|pg_database|sqlite_master|sqlite_schema|mysql\.user|all_tables|all_users|user_tables|dba_users|v\$version|master\.\.sysdatabases|msysobjects)\b",
        confidence: 0.8,
    },
    Rule {
        name: "system_variable",
        pattern: r"@@(version|datadir|hostname|basedir|servername|spid|tmpdir|language|identity)|\b(version|database|current_user|user|schema|system_user|session_user|db_name|user_name|suser_name|host_name|current_database) ?\( ?\)",
        confidence: 0.6,
    },
    Rule {
        name: "quote_boolean",
        pattern: r#"['"`)] ?\)* ?(or|and|xor|\|\||&&|div) ?\(* ?(['"]?[\w.@-]*['"]? ?(=|<>|!=|<=>|<|>|like|rlike|regexp|sounds like|is( not)?|not like|in ?\(|between)|true|false|not\b|null|\d+ ?($|['"]|\)|;| )|sleep|benchmark|\(? ?select|exists|ascii ?\(|substr|mid ?\(|length ?\(|ord ?\(|char ?\(|if ?\(|case |@@|0x)"#,
        confidence: 0.85,
    },
    Rule {
        name: "numeric_boolean",
        pattern: r"^-?\d+ ?\)* ?(or|and|xor|\|\||&&) ?\(* ?(\d+ ?(=|<>|!=|<|>|like|between|is|-|\+)|true\b|false\b|not\b|sleep|benchmark|\(? ?select|exists|ascii ?\(|substr|if ?\(|@@|'\w*' ?=|0x)",
        confidence: 0.85,
    },
    Rule {
        name: "tautology",
        pattern: r#"\b(or|and|\|\||&&) ?\(* ?(['"]?)(\w+)(['"]?) ?= ?(['"]?)(\w+)['"]?"#,
        confidence: 0.45,
    },
    Rule {
        name: "order_by_probe",
        pattern: r"(['`)\d]|^) ?\)* ?(order|group) by ?\d+ ?($|,|\))",
        confidence: 0.85,
    },
    Rule {
        name: "having_probe",
        pattern: r"(['`)\d]) ?\)* ?having ?\d+ ?= ?\d+",
        confidence: 0.85,
    },
    Rule {
        name: "char_concat",
        pattern: r"\b(char|chr|nchar) ?\( ?\d+ ?\) ?(\+|\|\||,) ?(char|chr|nchar) ?\(|\bconcat(_ws)? ?\(.{0,40}(0x[0-9a-f]{2,}|char ?\()",
        confidence: 0.8,
    },
    Rule {
        name: "conditional_probe",
        pattern: r"\b(if|iif|case when) ?\(?.{1,60}(sleep|benchmark|pg_sleep|waitfor|1/0|select)\b|\bselect .{0,60}\bfrom .{0,60}\bwhere\b.{0,60}\b(sleep|substr|substring|ascii|ord|mid|length)\b",
        confidence: 0.85,
    },
    Rule {
        name: "select_from_after_break",
        pattern: r#"(['`)]|^-?\d+) ?\)* ?[;,(+|]? ?\(? ?select .{1,80}\bfrom\b"#,
        confidence: 0.8,
    },
    Rule {
        name: "oracle_concat_select",
        pattern: r#"['"] ?\|\| ?\(? ?(select|utl_|dbms_|chr ?\(|sys\.|\(select)"#,
        confidence: 0.85,
    },
    Rule {
        name: "sqlite_postgres_specific",
        pattern: r"\b(pg_sleep|sqlite_version ?\(|current_setting ?\(|query_to_xml ?\(|string_agg ?\(|array_to_string ?\(|\bcast ?\(.{1,60} as (int|integer|numeric|signed|unsigned|char|varchar|text)\b)",
        confidence: 0.7,
    },
    Rule {
        name: "join_after_break",
        pattern: r#"['"`)] ?\)* ?(natural |straight_)?((left|right|full)( outer)?|inner|cross)? ?join [\w.`\[\]]+( (as )?\w+)? ?(on|using|where|--|$)"#,
        confidence: 0.8,
    },
];

/// Rules over the lower-cased decoded value with comments kept (the comment is the evidence).
pub static COMMENT_RULES: &[Rule] = &[
    Rule {
        name: "comment_truncation",
        pattern: r#"^[\w@.$-]{0,64}['"`]\)*\s*(--|#|/\*|;)"#,
        confidence: 0.75,
    },
    Rule {
        name: "inline_comment_keyword",
        pattern: r"/\*!?\d*\*?/? ?(union|select|from|where|and|or|sleep|order|having)\b|\b(union|select|from|where|and|or|order|concat)/\*",
        confidence: 0.85,
    },
];

/// A verdict on one value.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub confidence: f32,
    pub rule: String,
    /// Start of the matched fragment, in the view named by `in_sql_view`.
    pub start: usize,
    pub in_sql_view: bool,
}

#[derive(Debug)]
pub struct SqliEngine {
    rules: RuleSet,
    comment_rules: RuleSet,
}

impl SqliEngine {
    pub fn new() -> Result<Self, regex::Error> {
        Ok(SqliEngine {
            rules: RuleSet::new(RULES)?,
            comment_rules: RuleSet::new(COMMENT_RULES)?,
        })
    }

    /// Judges one value. `decoded` is the normalised value (case kept), `lower` its lower-cased
    /// copy, `sql` the SQL view of `lower`.
    pub fn judge(&self, decoded: &[u8], lower: &[u8], sql: &[u8]) -> Option<Verdict> {
        let rule = self.rules.best(sql);
        let crule = self.comment_rules.best(lower);
        let rule_confidence = |m: &super::rules::RuleMatch| {
            (m.rule.confidence + 0.03 * (m.matched.saturating_sub(1) as f32)).min(0.99)
        };
        // libinjection adds at most LI_MAX, and only a higher confidence replaces a verdict:
        // when the rules already reach that, its answer cannot change the result.
        let settled = rule.as_ref().is_some_and(|m| rule_confidence(m) >= LI_MAX)
            || crule.as_ref().is_some_and(|m| m.rule.confidence >= LI_MAX);
        let li = (!settled && !only_barewords_and_strings(decoded))
            .then(|| libinjectionrs::detect_sqli(decoded));
        let li_injection = li.as_ref().is_some_and(|li| li.is_injection());
        let fp = li
            .as_ref()
            .and_then(|li| li.fingerprint.as_ref())
            .map(|f| f.to_string())
            .unwrap_or_default();
        let mut best: Option<Verdict> = None;
        let mut consider = |v: Verdict| {
            if best.as_ref().is_none_or(|b| v.confidence > b.confidence) {
                best = Some(v);
            }
        };
        if let Some(m) = rule {
            consider(Verdict {
                confidence: rule_confidence(&m),
                rule: m.rule.name.to_string(),
                start: m.start,
                in_sql_view: true,
            });
        }
        if let Some(m) = crule {
            consider(Verdict {
                confidence: m.rule.confidence,
                rule: m.rule.name.to_string(),
                start: m.start,
                in_sql_view: false,
            });
        }
        if li_injection {
            // A fingerprint that starts with a statement keyword and has no break is a pasted
            // statement, not an injection, unless a rule agrees.
            // So is a fingerprint of bare words and keywords only (no string, number,
            // comment, operator or parenthesis): English that happens to use SQL words.
            let statement = fp.starts_with('E')
                || fp.starts_with('T')
                || !fp
                    .bytes()
                    .any(|c| matches!(c, b's' | b'1' | b'c' | b';' | b'(' | b'o' | b'v'));
            let agree = rule.is_some() || crule.is_some();
            let conf = match (statement, agree) {
                (false, true) => LI_MAX,
                (false, false) => 0.8,
                (true, true) => 0.85,
                (true, false) => 0.3,
            };
            consider(Verdict {
                confidence: conf,
                rule: format!("libinjection:{fp}"),
                start: 0,
                in_sql_view: false,
            });
        }
        best
    }
}

/// Every word libinjection gives a role (keyword, function, operator, type, …), upper-case,
/// including each word of its multi-word entries (`SOUNDS LIKE`, `GROUP BY`), which it folds
/// from two adjacent words.
static LIBINJECTION_WORDS: LazyLock<HashSet<&'static str, crate::hashing::Fixed>> =
    LazyLock::new(|| {
        let mut set = HashSet::with_hasher(crate::hashing::fixed());
        for k in libinjectionrs::sqli::sqli_data::SQL_KEYWORDS {
            set.extend(k.word.split(' ').filter(|w| !w.is_empty()));
        }
        set
    });

/// The highest confidence a libinjection verdict gives.
const LI_MAX: f32 = 0.97;

/// libinjection's token size: longer words are never looked up.
const LI_WORD_MAX: usize = 32;

/// Whether libinjection can only see barewords, strings and quote-prefixed literals here:
/// the value is ASCII letters, spaces and apostrophes (a name like `Jane O'Brien`) and none of
/// its words is one libinjection knows. Its tokens are then `n`, `s` and `1` (`b'…'`/`x'…'`),
/// and no fingerprint over those is on its list (tested below), so it cannot flag the value
/// and is not asked. A word too long to look up, or any other byte, sends the value to it.
fn only_barewords_and_strings(v: &[u8]) -> bool {
    if v.is_empty()
        || !v
            .iter()
            .all(|&c| c.is_ascii_alphabetic() || c == b' ' || c == b'\'')
    {
        return false;
    }
    let mut buf = [0u8; LI_WORD_MAX];
    v.split(|&c| c == b' ' || c == b'\'')
        .filter(|w| !w.is_empty())
        .all(|w| {
            if w.len() >= LI_WORD_MAX {
                return false;
            }
            let up = &mut buf[..w.len()];
            up.copy_from_slice(w);
            up.make_ascii_uppercase();
            // ASCII letters only, so the bytes are UTF-8.
            std::str::from_utf8(up).is_ok_and(|u| !LIBINJECTION_WORDS.contains(u))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::normalize::{sql_view, Transforms};

    fn judge(e: &SqliEngine, s: &str) -> Option<Verdict> {
        let lower = s.to_ascii_lowercase();
        let sql = sql_view(lower.as_bytes(), &mut Transforms::default());
        e.judge(s.as_bytes(), lower.as_bytes(), &sql)
    }

    /// The gate's premise: no libinjection fingerprint made only of barewords (`n`), strings
    /// (`s`) and numbers (`1`) is on its list, up to its five tokens.
    #[test]
    fn bareword_and_string_fingerprints_are_never_sqli() {
        let mut all = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for p in &all {
                for c in ['n', 's', '1'] {
                    let fp = format!("{p}{c}");
                    assert!(
                        !libinjectionrs::sqli::blacklist::is_blacklisted(&fp),
                        "{fp} is on the list"
                    );
                    next.push(fp);
                }
            }
            all = next;
        }
    }

    /// Whatever the gate lets skip, libinjection does not flag: names, contractions, quote
    /// literals (`b'…'`, `x'…'`, `n'…'`, `q'…'`, `e'…'`) and keywords (which open the gate).
    #[test]
    fn gate_skips_only_what_libinjection_passes() {
        let words = [
            "jane",
            "o",
            "brien",
            "it",
            "s",
            "b",
            "x",
            "n",
            "q",
            "e",
            "u",
            "nq",
            "or",
            "and",
            "like",
            "sounds",
            "union",
            "select",
            "null",
            "true",
            "group",
            "by",
            "not",
            "in",
            "div",
            "mod",
            "is",
            "abc",
            "xor",
            "having",
            "waitfor",
            "delay",
            "rlike",
            "into",
            "between",
            "collate",
            "binary",
            "sysobjects",
            "sleep",
            "where",
            "from",
            "a",
        ];
        let seps = ["", " ", "'", " '", "' ", "''"];
        let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        let mut skipped = 0;
        for _ in 0..20_000 {
            let mut v = String::new();
            for _ in 0..1 + next(6) {
                v.push_str(seps[next(seps.len())]);
                let w = words[next(words.len())];
                if next(3) == 0 {
                    v.push_str(&w.to_ascii_uppercase());
                } else {
                    v.push_str(w);
                }
            }
            v.push_str(seps[next(seps.len())]);
            if only_barewords_and_strings(v.as_bytes()) {
                skipped += 1;
                assert!(
                    !libinjectionrs::detect_sqli(v.as_bytes()).is_injection(),
                    "gate skipped {v:?}, which libinjection flags"
                );
            }
        }
        assert!(skipped > 1000, "{skipped}");
        assert!(only_barewords_and_strings(b"Jane O'Brien"));
        assert!(!only_barewords_and_strings(b"x' or 'a"));
        assert!(!only_barewords_and_strings(b"1' or 1=1"));
    }

    /// libinjectionrs evaluation: multi-word SQL keywords (`UNION ALL`, `ORDER BY`, `NOT IN`,
    /// `IS NOT`, `SOUNDS LIKE`, `LEFT OUTER JOIN`, `WAITFOR DELAY`, `INTO OUTFILE`, …) that
    /// libinjection's C original folds into one token. The port folds most of them; the
    /// combined engine must catch all of them either way.
    #[test]
    fn multi_word_keywords() {
        let e = SqliEngine::new().unwrap();
        let cases = [
            "1 UNION ALL SELECT 1,2,3--",
            "1' UNION DISTINCT SELECT NULL--",
            "1' ORDER BY 3--",
            "1 GROUP BY 2--",
            "1' AND 1=1 IS NOT NULL--",
            "1' NOT IN (SELECT 1)--",
            "1' WAITFOR DELAY '0:0:5'--",
            "1' INTO OUTFILE '/tmp/x'--",
            "1' SOUNDS LIKE 'x'--",
            "1' OR 'a' NOT LIKE 'b'--",
            "1' OR 1 NOT BETWEEN 0 AND 0--",
            "1' OR 'x' RLIKE 'x'--",
            "1' LEFT OUTER JOIN users ON 1=1--",
            "1' AND 1=1 LOCK IN SHARE MODE--",
        ];
        let mut li_missed = Vec::new();
        for c in cases {
            if !libinjectionrs::detect_sqli(c.as_bytes()).is_injection() {
                li_missed.push(c);
            }
            let v = judge(&e, c);
            assert!(
                v.as_ref().is_some_and(|v| v.confidence >= 0.5),
                "missed {c}: {v:?}"
            );
        }
        println!("libinjectionrs alone missed: {li_missed:?}");
    }

    #[test]
    fn english_and_statements_stay_quiet() {
        let e = SqliEngine::new().unwrap();
        for c in [
            "O'Brien",
            "select a plan",
            "drop me a line",
            "it's 5 o'clock",
            "how to use union select in sql",
            "SELECT * FROM users WHERE id = 1",
            "rock 'n' roll",
            "Tom & Jerry",
            "--verbose",
        ] {
            let v = judge(&e, c);
            assert!(
                v.as_ref().is_none_or(|v| v.confidence < 0.5),
                "false positive on {c}: {v:?}"
            );
        }
    }
}
