//! Rule sets for the pattern families: path traversal (over the path view: lower-cased,
//! backslashes as slashes), command injection (over the shell view: quote games and `$IFS`
//! removed), JNDI injection (over the JNDI view: nested Log4j lookups resolved) and XXE (over
//! the lower-cased value, usually an XML DOCTYPE).

use super::rules::Rule;

pub static PATH_TRAVERSAL: &[Rule] = &[
    Rule {
        name: "dot_dot_slash_repeated",
        pattern: r"(\.\.+;?/){2,}",
        confidence: 0.9,
    },
    Rule {
        name: "dot_dot_sensitive_target",
        pattern: r"\.\.+;?/.{0,40}(etc/|windows/|winnt/|boot\.ini|win\.ini|system32|proc/self|\.ssh/|\.env\b|web-inf|wp-config|\.htaccess|\.htpasswd|\.git/|id_rsa|shadow|passwd)",
        confidence: 0.95,
    },
    Rule {
        name: "dot_dot_leading",
        pattern: r"^\.\.+;?/",
        confidence: 0.7,
    },
    Rule {
        name: "dot_dot_after_separator",
        pattern: r"[=:;,]\s*\.\.+/|/\.\.+;/|\.{3,}/",
        confidence: 0.7,
    },
    Rule {
        name: "sensitive_file_absolute",
        pattern: r"(^|[=:]|file:/*)/?(etc/(passwd|shadow|group|hosts|issue|crontab|sudoers|hostname|resolv\.conf|os-release|apache2/|nginx/|httpd/|mysql/my\.cnf|ssh/)|proc/(self|\d+)/(environ|cmdline|maps|fd|status|mounts|root)|var/log/|root/\.|home/\w+/\.ssh|usr/local/etc|windows/(win\.ini|system\.ini|system32)|winnt/|boot\.ini|inetpub/)",
        confidence: 0.85,
    },
    Rule {
        name: "windows_drive_sensitive",
        pattern: r"(^|[\s=])[a-z]:/+(windows|winnt|boot\.ini|inetpub|users/[^/]+/ntuser)",
        confidence: 0.85,
    },
    Rule {
        name: "etc_passwd_anywhere",
        pattern: r"/etc/(passwd|shadow)\b|\bwin\.ini\b|\bboot\.ini\b",
        confidence: 0.45,
    },
];

macro_rules! cmds {
    () => {
        r"(id|printf|whoami|uname|cat|ls|pwd|wget|curl|nc|ncat|netcat|bash|sh|zsh|ksh|dash|python[23]?|perl|ruby|php|ping|nslookup|dig|sleep|echo|ifconfig|ipconfig|net|type|dir|powershell|pwsh|cmd|certutil|bitsadmin|rm|chmod|touch|busybox|telnet|env|printenv|hostname|systeminfo|tasklist|ver|timeout|expr|base64|head|tail|find|awk|sed|nohup|mkfifo|socat|openssl|tftp|ftp|whois|host|cp|mv|kill|ps|netstat|nmap|xterm|crontab|reboot|shutdown|useradd|passwd|sudo|su|java|node|wscript|cscript|mshta|rundll32|regsvr32|start|set|time|more|less|tac|od|xxd|strings|nl|rev|getent|nc\.traditional|iex|invoke-expression|invoke-webrequest|iwr|/bin/\w+|/usr/bin/\w+|\./\w+)"
    };
}

pub static COMMAND_INJECTION: &[Rule] = &[
    Rule {
        name: "separator_command_args",
        pattern: concat!(
            r"(;|\||\|\||&&|&|\n|\r|^)\s*\{?\s*",
            cmds!(),
            r"(\s+(-{1,2}\w|/|\\|\$|\d|[\w.-]+\.[a-z]{2,}|https?:|'|\x22|<|>|\||;|&|`|%)|\s*[;|&`\n]|\s*$|\s*\})"
        ),
        confidence: 0.9,
    },
    Rule {
        name: "substitution",
        pattern: concat!(r"(\$\(|`)\s*", cmds!(), r"\b[^`)]*(\)|`|$)"),
        confidence: 0.9,
    },
    Rule {
        name: "shell_path_or_reverse_shell",
        pattern: r"(/bin/(ba|z|k|da)?sh\b|/dev/(tcp|udp)/|\bnc(at)?\s+(-[a-z]*e|-[a-z]*c)\s|\bbash\s+-[ic]\b|\bsh\s+-c\b|\bcmd(\.exe)?\s+/[ck]\b|\bpowershell(\.exe)?\s+(-\w+\s*)*|\bmkfifo\s|\bcurl\s+[^\s]+\s*\|\s*(ba)?sh|\bwget\s+[^\s]+\s*(-o|;|\|)|\bchmod\s+[+0-7]|\bcertutil\s+-urlcache|\bpython[23]?\s+-c\s)",
        confidence: 0.92,
    },
    Rule {
        name: "separator_echo_or_net",
        pattern: r"(;|\||&&|&|\n|`|\$\()\s*(echo\s+\S|net\s+(user|localgroup|view|share|use)\b)",
        confidence: 0.85,
    },
    Rule {
        name: "wrapper_command",
        pattern: r"(;|\||&&|&|\n|^)\s*(busybox|sudo|nohup|exec|env|xargs|getent)\s+\w+",
        confidence: 0.85,
    },
    Rule {
        name: "interpreter_exec",
        pattern: r"\b(awk|gawk|perl|ruby|php|python[23]?|node|lua)\s+(-\w+\s+)*['\x22]?[^'\x22]*\b(system|exec|popen|spawn|passthru|shell_exec|os\.system)\s*\(",
        confidence: 0.9,
    },
    Rule {
        name: "ifs_or_brace_expansion",
        pattern: r"\$\{ifs|\$ifs|\{(cat|ls|id|wget|curl|echo|nc|ping),[^}]*\}",
        confidence: 0.9,
    },
    Rule {
        name: "separator_sensitive_path",
        pattern: r"[;|&`\n]\s*\w+\s+[^;|&]*(/etc/(passwd|shadow|hosts)|c:/windows|c:\\windows|win\.ini)",
        confidence: 0.9,
    },
];

pub static JNDI: &[Rule] = &[
    Rule {
        name: "jndi_lookup",
        pattern: r"\$\{\s*jndi\s*:",
        confidence: 0.98,
    },
    Rule {
        name: "jndi_obfuscated",
        pattern: r"\$\{[^}]{0,60}j[^}]{0,20}n[^}]{0,20}d[^}]{0,20}i[^}]{0,30}:[^}]{0,20}(ldap|rmi|dns|iiop|corba|nds|nis|http)",
        confidence: 0.9,
    },
    Rule {
        name: "log4j_lookup",
        pattern: r"\$\{\s*(env|sys|java|ctx|main|bundle|k8s|docker|spring|log4j|web|jvmrunargs|marker|map|sd|base64|hostname|event)\s*:[^}]*\}",
        confidence: 0.75,
    },
    Rule {
        name: "jndi_scheme_url",
        pattern: r"\bjndi:(ldaps?|rmi|dns|iiop|corba|nds|nis)://",
        confidence: 0.9,
    },
];

pub static XXE: &[Rule] = &[
    Rule {
        name: "external_entity",
        pattern: r"<!entity\s+%?\s*[\w.:-]+\s+(system|public)\s",
        confidence: 0.97,
    },
    Rule {
        name: "parameter_entity",
        pattern: r"<!entity\s+%\s*[\w.:-]+|%[\w.:-]+;\s*(\]|%)",
        confidence: 0.95,
    },
    Rule {
        name: "doctype_external_dtd",
        pattern: r"<!doctype\s+[\w.:-]+\s+(system|public)\s+['\x22][^'\x22]*(://|file:|\.dtd|/)",
        confidence: 0.85,
    },
    Rule {
        name: "doctype_internal_entity",
        pattern: r"<!doctype\s+[\w.:-]+\s*\[\s*[^\]]*<!entity",
        confidence: 0.85,
    },
    Rule {
        name: "xinclude",
        pattern: r"<\w*:?include\s[^>]*xmlns(:\w+)?\s*=\s*['\x22]http://www\.w3\.org/2001/xinclude|xmlns:xi\s*=\s*['\x22]http://www\.w3\.org/2001/xinclude",
        confidence: 0.9,
    },
    Rule {
        name: "entity_declaration",
        pattern: r"<!entity\s",
        confidence: 0.75,
    },
];
