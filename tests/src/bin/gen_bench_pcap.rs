//! Writes a large, deterministic classic pcap of realistic REST API traffic for the throughput
//! benchmark (`tests/bench/throughput.sh`).
//!
//! Traffic model: `--clients` clients (198.18.0.0/15, 198.19.255.x excluded) talk HTTP/1.1 to a
//! few API servers (198.19.255.10+, ports 80 and 8080) over keep-alive connections carrying
//! several requests each. Every connection has a full TCP life: SYN / SYN-ACK / ACK with MSS,
//! window-scale and SACK-permitted options, request and response data segmented at MSS 1460,
//! cumulative ACKs (every second segment), and a FIN close (client first, or server first after
//! `Connection: close`). Sequence and acknowledgement numbers are exact and IPv4/TCP checksums
//! are correct, so a real reassembler accepts it. Requests are a mix of user lookups, paged
//! order listings, logins, order creation, profile updates and deletions, with credentials (JWT
//! bearer tokens with a `sub` claim, opaque bearer tokens, API keys; ~3% of requests carry
//! none and get 401) and a dozen user agents; responses carry JSON bodies of 200 B–20 KB, about 20% chunked and 20% gzip
//! (each distinct body is compressed once and cached), plus some 401/404 errors.
//!
//! Everything follows from `--seed`: the same arguments give a byte-identical file. Random
//! numbers, dates, packet bytes and the pcap format come from `apitap-gen`'s library (the
//! scenario generator, which writes labeled mixed traffic; this tool writes one fast mix).

use apitap_gen::data::{b64url, http_date, iso_time};
use apitap_gen::net::{PcapWriter, TcpSeg, Wrap, ACK, FIN, SYN};
use apitap_gen::rng::Rng;
use apitap_gen::tcp::{ctl, push_data, Buf, Pkt, MSS};
use clap::Parser;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

/// Generate a benchmark pcap of realistic REST API traffic.
#[derive(Parser, Debug)]
#[command(name = "gen_bench_pcap", version)]
struct Args {
    /// Output pcap file.
    #[arg(short, long)]
    out: PathBuf,
    /// Number of distinct client addresses.
    #[arg(long, default_value_t = 2000)]
    clients: u32,
    /// Number of HTTP request/response exchanges.
    #[arg(long, default_value_t = 250_000)]
    exchanges: u64,
    /// Number of API servers (198.19.255.10 and up).
    #[arg(long, default_value_t = 4)]
    servers: u32,
    /// Mean number of requests per keep-alive connection.
    #[arg(long, default_value_t = 8)]
    requests_per_conn: u32,
    /// Seconds over which connections are opened (the capture lasts slightly longer).
    #[arg(long, default_value_t = 180.0)]
    duration_secs: f64,
    /// Seed of the deterministic random generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
}

/// Capture start: 2025-01-15 12:00:00 UTC.
const EPOCH_SECS: u64 = 1_736_942_400;
const SERVER_BASE: u32 = u32::from_be_bytes([198, 19, 255, 10]);
/// Clients are numbered from 198.18.0.1 and stop before 198.19.255.0 (the servers' /24).
const CLIENT_BASE: u32 = u32::from_be_bytes([198, 18, 0, 1]);
const MAX_CLIENTS: u32 = u32::from_be_bytes([198, 19, 255, 0]) - CLIENT_BASE;
const GW_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];

// ---------------------------------------------------------------------------------------------
// Word lists.

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
    "Go-http-client/1.1",
    "axios/1.7.9",
    "ShopApp/5.14.2 (Android 14; Pixel 8)",
    "ShopApp/5.14.1 (iOS 18.2; iPhone15,2)",
    "curl/8.11.1",
    "Apache-HttpClient/5.4.1 (Java/21.0.5)",
];
const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf", "zoe",
];
const LAST: &[&str] = &[
    "smith", "jones", "garcia", "miller", "davis", "martin", "lee", "walker", "hall", "young",
    "king", "wright", "lopez", "hill", "scott", "green", "adams", "baker", "nelson", "carter",
];
const CITIES: &[&str] = &[
    "Berlin", "Lyon", "Austin", "Osaka", "Porto", "Leeds", "Denver", "Gdansk", "Turin", "Quebec",
];
const STATUSES: &[&str] = &[
    "pending",
    "paid",
    "shipped",
    "delivered",
    "cancelled",
    "refunded",
];
const PRODUCTS: &[&str] = &[
    "wireless mouse",
    "usb-c hub",
    "mechanical keyboard",
    "27in monitor",
    "laptop stand",
    "noise cancelling headphones",
    "webcam 1080p",
    "desk lamp",
    "ergonomic chair",
    "ssd 1tb",
];
const HOSTS: &[&str] = &[
    "api.shop.example",
    "api.payments.example",
    "accounts.example",
    "orders.internal.example",
];

// ---------------------------------------------------------------------------------------------
// Bodies: built once per distinct key, gzip cached on first use.

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum BodyKey {
    User(u32),
    OrdersPage { page: u32, limit: u32 },
    Token(u32),
    OrderCreated(u32),
    Reviews(u32),
    Unauthorized,
    NotFound(u32),
    BadLogin,
}

struct Body {
    plain: Vec<u8>,
    gz: Option<Vec<u8>>,
}

struct Bodies {
    seed: u64,
    map: HashMap<BodyKey, Body>,
    gzip_runs: u64,
}

fn user_json(out: &mut String, rng: &mut Rng, id: u32) {
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let _ = write!(
        out,
        r#"{{"id":{id},"username":"{first}.{last}{}","email":"{first}.{last}{}@mail.example","name":"{}{} {}{}","#,
        id % 1000,
        id % 1000,
        first[..1].to_ascii_uppercase(),
        &first[1..],
        last[..1].to_ascii_uppercase(),
        &last[1..],
    );
    let _ = write!(
        out,
        r#""phone":"+1-555-{:04}","address":{{"street":"{} {} St","city":"{}","zip":"{:05}"}},"#,
        rng.below(10_000),
        rng.range(1, 999),
        rng.pick(LAST),
        rng.pick(CITIES),
        rng.below(100_000),
    );
    out.push_str(r#""roles":["customer""#);
    if rng.chance(0.1) {
        out.push_str(r#","support""#);
    }
    if rng.chance(0.02) {
        out.push_str(r#","admin""#);
    }
    out.push_str(r#"],"created_at":""#);
    iso_time(out, EPOCH_SECS - rng.below(3 * 365 * 86_400));
    let _ = write!(
        out,
        r#"","verified":{},"preferences":{{"newsletter":{},"language":"{}","currency":"{}"}},"loyalty_points":{}}}"#,
        rng.chance(0.8),
        rng.chance(0.4),
        rng.pick(&["en", "de", "fr", "ja", "pt"]),
        rng.pick(&["USD", "EUR", "JPY", "GBP"]),
        rng.below(50_000),
    );
}

fn order_json(out: &mut String, rng: &mut Rng, id: u32) {
    let _ = write!(
        out,
        r#"{{"id":{id},"user_id":{},"status":"{}","total":{}.{:02},"currency":"USD","items":[{{"sku":"SKU-{:05}","name":"{}","qty":{}}}],"created_at":""#,
        rng.range(1, 90_000),
        rng.pick(STATUSES),
        rng.range(5, 2000),
        rng.below(100),
        rng.below(100_000),
        rng.pick(PRODUCTS),
        rng.range(1, 5),
    );
    iso_time(out, EPOCH_SECS - rng.below(365 * 86_400));
    out.push_str("\"}");
}

impl Bodies {
    fn build(&self, key: BodyKey) -> Vec<u8> {
        let mut s = String::with_capacity(1024);
        match key {
            BodyKey::User(id) => user_json(&mut s, &mut Rng::keyed(self.seed, 1, id.into()), id),
            BodyKey::OrdersPage { page, limit } => {
                let mut rng = Rng::keyed(self.seed, 2, (u64::from(page) << 16) | u64::from(limit));
                let total = 4000;
                let _ = write!(s, r#"{{"page":{page},"limit":{limit},"total":{total},"data":["#);
                for i in 0..limit {
                    if i > 0 {
                        s.push(',');
                    }
                    order_json(&mut s, &mut rng, 1_000_000 + page * limit + i);
                }
                let _ = write!(
                    s,
                    r#"],"links":{{"self":"/api/v1/orders?page={page}&limit={limit}","next":"/api/v1/orders?page={}&limit={limit}"}}}}"#,
                    page + 1
                );
            }
            BodyKey::Token(client) => {
                let mut rng = Rng::keyed(self.seed, 3, client.into());
                s.push_str(r#"{"access_token":""#);
                s.push_str(&make_jwt(&mut rng, client, "api.shop.example"));
                s.push_str(r#"","token_type":"Bearer","expires_in":3600,"refresh_token":""#);
                rng.hex(&mut s, 64);
                let _ = write!(s, r#"","scope":"orders:read orders:write profile","user_id":{}}}"#, client + 1);
            }
            BodyKey::OrderCreated(id) => {
                order_json(&mut s, &mut Rng::keyed(self.seed, 4, id.into()), id);
            }
            BodyKey::Reviews(product) => {
                let mut rng = Rng::keyed(self.seed, 5, product.into());
                let n = rng.range(3, 40);
                let _ = write!(s, r#"{{"product_id":{product},"rating":{}.{},"reviews":["#, rng.range(1, 5), rng.below(10));
                for i in 0..n {
                    if i > 0 {
                        s.push(',');
                    }
                    let _ = write!(
                        s,
                        r#"{{"id":{},"author":"{}","stars":{},"title":"{} is {}","text":"Bought the {} for my {} setup. "#,
                        product * 100 + i as u32,
                        rng.pick(FIRST),
                        rng.range(1, 6),
                        rng.pick(PRODUCTS),
                        rng.pick(&["great", "fine", "ok", "disappointing", "excellent"]),
                        rng.pick(PRODUCTS),
                        rng.pick(&["home", "office", "gaming", "studio"]),
                    );
                    for _ in 0..rng.range(1, 6) {
                        s.push_str("Works as described, shipping was quick and the packaging was fine. ");
                    }
                    s.push_str(r#"","helpful":"#);
                    let _ = write!(s, "{}}}", rng.below(300));
                }
                s.push_str("]}");
            }
            BodyKey::Unauthorized => {
                s.push_str(r#"{"error":"unauthorized","message":"missing or invalid bearer token","status":401}"#)
            }
            BodyKey::BadLogin => {
                s.push_str(r#"{"error":"invalid_grant","message":"invalid username or password","status":401}"#)
            }
            BodyKey::NotFound(id) => {
                let _ = write!(s, r#"{{"error":"not_found","message":"resource {id} not found","status":404}}"#);
            }
        }
        s.into_bytes()
    }

    fn get(&mut self, key: BodyKey, gzip: bool) -> &[u8] {
        if !self.map.contains_key(&key) {
            let plain = self.build(key);
            self.map.insert(key, Body { plain, gz: None });
        }
        let body = self.map.get_mut(&key).expect("inserted above");
        if !gzip {
            return &body.plain;
        }
        if body.gz.is_none() {
            let mut enc = GzEncoder::new(
                Vec::with_capacity(body.plain.len() / 3 + 64),
                Compression::new(5),
            );
            enc.write_all(&body.plain).expect("writing to a Vec");
            body.gz = Some(enc.finish().expect("writing to a Vec"));
            self.gzip_runs += 1;
        }
        body.gz.as_deref().expect("set above")
    }
}

/// An HS256 JWT for user `user` (the signature is random, the claims are real).
fn make_jwt(rng: &mut Rng, user: u32, aud: &str) -> String {
    let mut t = String::from("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.");
    let iat = EPOCH_SECS - rng.below(3000);
    let claims = format!(
        r#"{{"sub":"user-{}","iss":"https://accounts.example","aud":"{aud}","iat":{iat},"exp":{},"scope":"orders:read orders:write profile","jti":"{:016x}"}}"#,
        user + 1,
        iat + 3600,
        rng.next_u64()
    );
    b64url(&mut t, claims.as_bytes());
    t.push('.');
    rng.token(&mut t, 43);
    t
}

// ---------------------------------------------------------------------------------------------
// Clients, connections, packets.

struct Client {
    ip: [u8; 4],
    /// The MAC the client's frames carry (they all arrive through the gateway).
    mac: [u8; 6],
    /// Round trip sensor → client → sensor, µs.
    rtt_us: u64,
    ttl: u8,
    ua: &'static str,
    /// The credential header line the client presents (without CRLF).
    auth: String,
    next_port: u16,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Open,
    Closing,
    Done,
}

struct Conn {
    client: u32,
    server: u32,
    sport: u16,
    dport: u16,
    remaining: u32,
    /// The last request asks `Connection: close` and the server closes first.
    server_closes: bool,
    phase: Phase,
    c_seq: u32,
    s_seq: u32,
    c_ipid: u16,
    s_ipid: u16,
    /// Round trip sensor → server → sensor, µs.
    rtt_s: u64,
    queue: VecDeque<Pkt>,
    req: Vec<u8>,
    resp: Vec<u8>,
}

struct Totals {
    packets: u64,
    file_bytes: u64,
    wire_bytes: u64,
    exchanges: u64,
    connections: u64,
    chunked: u64,
    gzip: u64,
    status: [u64; 6], // 200, 201, 204, 401, 404, other
}

struct Gen {
    rng: Rng,
    bodies: Bodies,
    clients: Vec<Client>,
    servers: Vec<([u8; 4], [u8; 6])>,
    out: PcapWriter<BufWriter<File>>,
    totals: Totals,
    next_order_id: u32,
}

impl Gen {
    /// Generates the connection's next step (handshake + first exchange, one exchange, or the
    /// close) starting at `t`; returns false when the connection is finished.
    fn step(&mut self, conn: &mut Conn, t: u64) -> bool {
        let rtt_c = self.clients[conn.client as usize].rtt_us;
        let mut q: Vec<Pkt> = Vec::with_capacity(32);
        let mut t = t;
        match conn.phase {
            Phase::Done => return false,
            Phase::Closed => {
                // SYN, SYN-ACK after the server's round trip, ACK after the client's.
                q.push(ctl(t, true, SYN, conn.c_seq, 0));
                conn.c_seq = conn.c_seq.wrapping_add(1);
                t += conn.rtt_s;
                q.push(ctl(t, false, SYN | ACK, conn.s_seq, conn.c_seq));
                conn.s_seq = conn.s_seq.wrapping_add(1);
                t += rtt_c;
                q.push(ctl(t, true, ACK, conn.c_seq, conn.s_seq));
                t += self.rng.range(20, 400);
                conn.phase = Phase::Open;
                self.totals.connections += 1;
                self.exchange(conn, t, rtt_c, &mut q);
            }
            Phase::Open if conn.remaining > 0 => self.exchange(conn, t, rtt_c, &mut q),
            Phase::Open => {
                if conn.server_closes {
                    q.push(ctl(t, false, FIN | ACK, conn.s_seq, conn.c_seq));
                    conn.s_seq = conn.s_seq.wrapping_add(1);
                    t += rtt_c;
                    q.push(ctl(t, true, FIN | ACK, conn.c_seq, conn.s_seq));
                    conn.c_seq = conn.c_seq.wrapping_add(1);
                    t += conn.rtt_s;
                    q.push(ctl(t, false, ACK, conn.s_seq, conn.c_seq));
                } else {
                    q.push(ctl(t, true, FIN | ACK, conn.c_seq, conn.s_seq));
                    conn.c_seq = conn.c_seq.wrapping_add(1);
                    t += conn.rtt_s;
                    q.push(ctl(t, false, FIN | ACK, conn.s_seq, conn.c_seq));
                    conn.s_seq = conn.s_seq.wrapping_add(1);
                    t += rtt_c;
                    q.push(ctl(t, true, ACK, conn.c_seq, conn.s_seq));
                }
                conn.phase = Phase::Closing;
            }
            Phase::Closing => {
                conn.phase = Phase::Done;
                conn.req = Vec::new();
                conn.resp = Vec::new();
                conn.queue = VecDeque::new();
                return false;
            }
        }
        // Client ACKs can land between server segments: order by time (stable).
        q.sort_by_key(|p| p.ts);
        conn.queue.extend(q);
        true
    }

    /// One request and its response starting at `t`.
    fn exchange(&mut self, conn: &mut Conn, t: u64, rtt_c: u64, q: &mut Vec<Pkt>) {
        conn.remaining -= 1;
        let last_on_conn = conn.remaining == 0;
        let rng = &mut self.rng;
        let client = &self.clients[conn.client as usize];
        let host = HOSTS[conn.server as usize % HOSTS.len()];
        let gzip = rng.chance(0.2);
        let chunked = rng.chance(0.2);
        let authed = !rng.chance(0.03);
        let close = last_on_conn && conn.server_closes;

        // Request.
        let req = &mut conn.req;
        req.clear();
        let mut req_body = String::new();
        let roll = rng.below(100);
        let (status, key): (u16, Option<BodyKey>) = if roll < 32 {
            let id = if rng.chance(0.05) {
                rng.range(90_000, 99_999)
            } else {
                rng.range(1, 10_000)
            } as u32;
            let _ = write!(req, "GET /api/v1/users/{id} HTTP/1.1\r\n");
            if !authed {
                (401, Some(BodyKey::Unauthorized))
            } else if id >= 90_000 {
                (404, Some(BodyKey::NotFound(id)))
            } else {
                (200, Some(BodyKey::User(id)))
            }
        } else if roll < 57 {
            let page = rng.range(1, 41) as u32;
            let limit = *rng.pick(&[5u32, 10, 20, 25, 50, 100]);
            let _ = write!(req, "GET /api/v1/orders?page={page}&limit={limit}");
            if rng.chance(0.3) {
                let _ = write!(req, "&status={}", rng.pick(STATUSES));
            }
            req.extend_from_slice(b" HTTP/1.1\r\n");
            if authed {
                (200, Some(BodyKey::OrdersPage { page, limit }))
            } else {
                (401, Some(BodyKey::Unauthorized))
            }
        } else if roll < 67 {
            req.extend_from_slice(b"POST /api/v1/login HTTP/1.1\r\n");
            let first = rng.pick(FIRST);
            let _ = write!(
                req_body,
                r#"{{"username":"{first}{}@mail.example","password":""#,
                conn.client
            );
            rng.token(&mut req_body, 16);
            let _ = write!(req_body, r#"","remember_me":{}}}"#, rng.chance(0.5));
            if rng.chance(0.15) {
                (401, Some(BodyKey::BadLogin))
            } else {
                (200, Some(BodyKey::Token(conn.client)))
            }
        } else if roll < 77 {
            req.extend_from_slice(b"POST /api/v1/orders HTTP/1.1\r\n");
            let _ = write!(req_body, r#"{{"items":["#);
            for i in 0..rng.range(1, 6) {
                if i > 0 {
                    req_body.push(',');
                }
                let _ = write!(
                    req_body,
                    r#"{{"sku":"SKU-{:05}","qty":{}}}"#,
                    rng.below(100_000),
                    rng.range(1, 4)
                );
            }
            let _ = write!(
                req_body,
                r#"],"shipping_address":{{"street":"{} {} St","city":"{}","zip":"{:05}"}},"payment_method":"{}","coupon":null}}"#,
                rng.range(1, 999),
                rng.pick(LAST),
                rng.pick(CITIES),
                rng.below(100_000),
                rng.pick(&["card", "paypal", "invoice"])
            );
            self.next_order_id += 1;
            if authed {
                (
                    201,
                    Some(BodyKey::OrderCreated(2_000_000 + self.next_order_id % 4096)),
                )
            } else {
                (401, Some(BodyKey::Unauthorized))
            }
        } else if roll < 87 {
            let id = rng.range(1, 10_000) as u32;
            let _ = write!(req, "PUT /api/v1/users/{id} HTTP/1.1\r\n");
            let _ = write!(
                req_body,
                r#"{{"name":"{}","phone":"+1-555-{:04}","preferences":{{"newsletter":{},"language":"en"}}}}"#,
                rng.pick(FIRST),
                rng.below(10_000),
                rng.chance(0.5)
            );
            if authed {
                (200, Some(BodyKey::User(id)))
            } else {
                (401, Some(BodyKey::Unauthorized))
            }
        } else if roll < 93 {
            let id = rng.range(1_000_000, 1_004_000);
            let _ = write!(req, "DELETE /api/v1/orders/{id} HTTP/1.1\r\n");
            if authed {
                (204, None)
            } else {
                (401, Some(BodyKey::Unauthorized))
            }
        } else {
            let product = rng.range(1, 500) as u32;
            let _ = write!(
                req,
                "GET /api/v1/products/{product}/reviews?sort=helpful HTTP/1.1\r\n"
            );
            (200, Some(BodyKey::Reviews(product)))
        };
        let _ = write!(
            req,
            "Host: {host}\r\nUser-Agent: {}\r\nAccept: application/json\r\n",
            client.ua
        );
        if gzip || !client.ua.starts_with("curl") {
            req.extend_from_slice(b"Accept-Encoding: gzip, deflate, br\r\n");
        }
        if authed {
            req.extend_from_slice(client.auth.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        let mut rid = String::with_capacity(32);
        rng.hex(&mut rid, 32);
        let _ = write!(req, "X-Request-Id: {rid}\r\n");
        if !req_body.is_empty() {
            let _ = write!(
                req,
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                req_body.len()
            );
        }
        if close {
            req.extend_from_slice(b"Connection: close\r\n");
        }
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(req_body.as_bytes());

        // Response.
        let reason = match status {
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            401 => "Unauthorized",
            _ => "Not Found",
        };
        let think_us = rng.log_uniform(300.0, 60_000.0) as u64;
        let chunk_sizes: Vec<usize> = (0..8).map(|_| rng.range(512, 8192) as usize).collect();
        let body: &[u8] = match key {
            Some(k) => self.bodies.get(k, gzip),
            None => &[],
        };
        let gzip = gzip && key.is_some();
        let chunked = chunked && key.is_some();
        let resp = &mut conn.resp;
        resp.clear();
        let _ = write!(
            resp,
            "HTTP/1.1 {status} {reason}\r\nServer: nginx/1.24.0\r\nDate: "
        );
        http_date(resp, EPOCH_SECS + (t + think_us) / 1_000_000);
        resp.extend_from_slice(b"\r\n");
        if key.is_some() {
            resp.extend_from_slice(b"Content-Type: application/json; charset=utf-8\r\n");
            if chunked {
                resp.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            } else {
                let _ = write!(resp, "Content-Length: {}\r\n", body.len());
            }
            if gzip {
                resp.extend_from_slice(b"Content-Encoding: gzip\r\n");
            }
            resp.extend_from_slice(b"Vary: Accept-Encoding\r\n");
        }
        if status == 401 {
            let _ = write!(resp, "WWW-Authenticate: Bearer realm=\"{host}\"\r\n");
        }
        let _ = write!(
            resp,
            "Cache-Control: no-store\r\nX-Request-Id: {rid}\r\nConnection: {}\r\n\r\n",
            if close { "close" } else { "keep-alive" }
        );
        if chunked {
            let mut off = 0;
            let mut i = 0;
            while off < body.len() {
                let n = chunk_sizes[i % chunk_sizes.len()].min(body.len() - off);
                let _ = write!(resp, "{n:x}\r\n");
                resp.extend_from_slice(&body[off..off + n]);
                resp.extend_from_slice(b"\r\n");
                off += n;
                i += 1;
            }
            resp.extend_from_slice(b"0\r\n\r\n");
        } else {
            resp.extend_from_slice(body);
        }

        let totals = &mut self.totals;
        totals.exchanges += 1;
        totals.chunked += u64::from(chunked);
        totals.gzip += u64::from(gzip);
        let si = match status {
            200 => 0,
            201 => 1,
            204 => 2,
            401 => 3,
            404 => 4,
            _ => 5,
        };
        totals.status[si] += 1;

        // Packets: request segments back to back, the server's response after its think
        // time (a bare ACK first if it thinks long), client ACKs every second segment.
        let (t_req_end, c_seq) = push_data(q, t, conn.c_seq, conn.s_seq, Buf::Req, conn.req.len());
        conn.c_seq = c_seq;
        let mut t_resp = t_req_end + conn.rtt_s + think_us;
        if think_us > 20_000 || conn.req.len() > MSS {
            q.push(ctl(
                t_req_end + conn.rtt_s / 2 + 40,
                false,
                ACK,
                conn.s_seq,
                conn.c_seq,
            ));
            t_resp += 5;
        }
        let resp_len = conn.resp.len();
        let first_seq = conn.s_seq;
        let (t_resp_end, s_seq) = push_data(q, t_resp, first_seq, conn.c_seq, Buf::Resp, resp_len);
        conn.s_seq = s_seq;
        let segs = resp_len.div_ceil(MSS);
        for i in (2..=segs).step_by(2) {
            let acked = first_seq.wrapping_add((i * MSS).min(resp_len) as u32);
            let at = t_resp + (i as u64 - 1) * 12 + rtt_c;
            q.push(ctl(at, true, ACK, conn.c_seq, acked));
        }
        if segs % 2 == 1 && !close {
            // Odd last segment: delayed ACK, unless the next request comes first.
            q.push(ctl(
                t_resp_end + rtt_c + 200,
                true,
                ACK,
                conn.c_seq,
                conn.s_seq,
            ));
        }
    }

    fn write_packet(&mut self, conn: &Conn, p: &Pkt) -> std::io::Result<()> {
        let client = &self.clients[conn.client as usize];
        let (sip, smac) = self.servers[conn.server as usize];
        let payload: &[u8] = match p.buf {
            Buf::None => &[],
            Buf::Req => &conn.req[p.start as usize..(p.start + p.len) as usize],
            Buf::Resp => &conn.resp[p.start as usize..(p.start + p.len) as usize],
        };
        // Traffic from clients comes in through the gateway.
        let syn_win = |w: u16| if p.flags & SYN != 0 { 64_240 } else { w };
        let seg = if p.from_client {
            TcpSeg {
                src_mac: client.mac,
                dst_mac: smac,
                src: client.ip,
                dst: sip,
                sport: conn.sport,
                dport: conn.dport,
                seq: p.seq,
                ack: p.ack,
                flags: p.flags,
                window: syn_win(502),
                ttl: client.ttl,
                ip_id: conn.c_ipid,
            }
        } else {
            TcpSeg {
                src_mac: smac,
                dst_mac: client.mac,
                src: sip,
                dst: client.ip,
                sport: conn.dport,
                dport: conn.sport,
                seq: p.seq,
                ack: p.ack,
                flags: p.flags,
                window: syn_win(501),
                ttl: 64,
                ip_id: conn.s_ipid,
            }
        };
        let before = self.out.file_bytes;
        self.out.tcp(EPOCH_SECS * 1_000_000 + p.ts, &seg, payload)?;
        self.totals.packets += 1;
        self.totals.wire_bytes += self.out.file_bytes - before - 16;
        self.totals.file_bytes = self.out.file_bytes;
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.clients >= 1 && args.clients <= MAX_CLIENTS,
        "--clients must be 1..={MAX_CLIENTS}"
    );
    anyhow::ensure!(
        args.servers >= 1 && args.servers <= 200,
        "--servers must be 1..=200"
    );
    anyhow::ensure!(
        args.requests_per_conn >= 1,
        "--requests-per-conn must be at least 1"
    );
    anyhow::ensure!(args.duration_secs > 0.0, "--duration-secs must be positive");
    let started = Instant::now();
    let mut rng = Rng::new(args.seed);

    let clients: Vec<Client> = (0..args.clients)
        .map(|i| {
            let ip = (CLIENT_BASE + i).to_be_bytes();
            let mut crng = Rng::keyed(args.seed, 10, i.into());
            let jwt = make_jwt(&mut crng, i, HOSTS[i as usize % HOSTS.len()]);
            // Most clients present a JWT, some an opaque bearer token, some an API key.
            let auth = match crng.below(10) {
                0..=6 => format!("Authorization: Bearer {jwt}"),
                7 | 8 => {
                    let mut t = String::from("Authorization: Bearer at_");
                    crng.token(&mut t, 40);
                    t
                }
                _ => {
                    let mut t = String::from("X-API-Key: sk_live_");
                    crng.hex(&mut t, 32);
                    t
                }
            };
            Client {
                ip,
                mac: GW_MAC,
                rtt_us: crng.log_uniform(2_000.0, 150_000.0) as u64,
                ttl: *crng.pick(&[44u8, 48, 50, 52, 54, 55, 57, 58, 60, 115, 116, 118]),
                ua: USER_AGENTS[crng.below(USER_AGENTS.len() as u64) as usize],
                auth,
                next_port: crng.range(32_768, 60_000) as u16,
            }
        })
        .collect();
    let servers: Vec<([u8; 4], [u8; 6])> = (0..args.servers)
        .map(|i| {
            (
                (SERVER_BASE + i).to_be_bytes(),
                [0x02, 0x42, 0xc6, 0x13, 0xff, (10 + i) as u8],
            )
        })
        .collect();

    // Connections: request counts around the mean, round-robin over clients so that every
    // client appears, start times uniform over the duration.
    let duration_us = (args.duration_secs * 1e6) as u64;
    let mut conns: Vec<Conn> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();
    let mut left = args.exchanges;
    let mut clients = clients;
    while left > 0 {
        let mean = u64::from(args.requests_per_conn);
        let n = rng.range(1, 2 * mean).min(left);
        left -= n;
        let id = conns.len() as u32;
        let client = id % args.clients;
        let c = &mut clients[client as usize];
        let sport = c.next_port;
        c.next_port = if c.next_port >= 60_999 {
            32_768
        } else {
            c.next_port + 1
        };
        let server = rng.below(u64::from(args.servers)) as u32;
        conns.push(Conn {
            client,
            server,
            sport,
            dport: if server % 4 == 3 { 8080 } else { 80 },
            remaining: n as u32,
            server_closes: rng.chance(0.1),
            phase: Phase::Closed,
            c_seq: rng.next_u64() as u32,
            s_seq: rng.next_u64() as u32,
            c_ipid: rng.next_u64() as u16,
            s_ipid: rng.next_u64() as u16,
            rtt_s: rng.range(80, 1_500),
            queue: VecDeque::new(),
            req: Vec::new(),
            resp: Vec::new(),
        });
        heap.push(Reverse((rng.below(duration_us), id)));
    }

    let file =
        File::create(&args.out).map_err(|e| anyhow::anyhow!("{}: {e}", args.out.display()))?;
    let out = PcapWriter::new(BufWriter::with_capacity(4 << 20, file), Wrap::default())?;

    let mut g = Gen {
        rng,
        bodies: Bodies {
            seed: args.seed,
            map: HashMap::new(),
            gzip_runs: 0,
        },
        clients,
        servers,
        out,
        totals: Totals {
            packets: 0,
            file_bytes: 24,
            wire_bytes: 0,
            exchanges: 0,
            connections: 0,
            chunked: 0,
            gzip: 0,
            status: [0; 6],
        },
        next_order_id: 0,
    };

    let mut last_ts = 0u64;
    while let Some(Reverse((ts, id))) = heap.pop() {
        let conn = &mut conns[id as usize];
        if conn.queue.is_empty() && !g.step(conn, ts) {
            continue;
        }
        let p = conn.queue.pop_front().expect("step queued packets");
        debug_assert!(p.ts >= last_ts);
        last_ts = p.ts;
        g.write_packet(conn, &p)?;
        if p.from_client {
            conn.c_ipid = conn.c_ipid.wrapping_add(1);
        } else {
            conn.s_ipid = conn.s_ipid.wrapping_add(1);
        }
        let next = match conn.queue.front() {
            Some(n) => n.ts,
            None => {
                // Idle before the next step: the client thinks before its next request; an
                // idle keep-alive connection is closed a little later.
                let think = match conn.phase {
                    Phase::Open if conn.remaining > 0 => g.rng.log_uniform(5_000.0, 1_500_000.0),
                    Phase::Open if conn.server_closes => g.rng.log_uniform(20.0, 500.0),
                    Phase::Open => g.rng.log_uniform(10_000.0, 3_000_000.0),
                    _ => 1.0,
                };
                p.ts + think as u64
            }
        };
        heap.push(Reverse((next, id)));
    }
    g.out.finish()?;

    let t = &g.totals;
    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        println!(
            "wrote {}: {} packets, {} bytes ({} on the wire), {} exchanges over {} connections, {} clients, {:.1} s of traffic",
            args.out.display(),
            t.packets,
            t.file_bytes,
            t.wire_bytes,
            t.exchanges,
            t.connections,
            args.clients.min(t.connections as u32),
            last_ts as f64 / 1e6
        );
        println!(
            "responses: 200={} 201={} 204={} 401={} 404={}; chunked={} gzip={} (distinct bodies {}, gzip runs {}); {:.1} s",
            t.status[0],
            t.status[1],
            t.status[2],
            t.status[3],
            t.status[4],
            t.chunked,
            t.gzip,
            g.bodies.map.len(),
            g.bodies.gzip_runs,
            secs
        );
    }
    Ok(())
}
