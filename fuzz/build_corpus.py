#!/usr/bin/env python3
"""Builds seed corpora for the apitap fuzz targets.

  build_corpus.py --traces DIR --out DIR

Writes OUT/decode, OUT/engine, OUT/http and OUT/reassembly:
- decode: single packets from the traces (selector byte + packet), and short packet
  sequences in the multi-packet framing (see src/decode.rs);
- engine: the traces' first packets re-written as small classic pcap files (src/pcap.rs);
- http: each traced TCP connection's client and server payloads (in capture order, no
  reassembly) plus hand-written exchanges, in the framing of src/http.rs;
- reassembly: a few synthetic connections in the framing of src/reassembly.rs.
Only reads pcap and pcapng; needs nothing beyond the Python standard library.
"""
import argparse, hashlib, os, struct, sys

LINKTYPES = [0, 1, 101, 108, 113, 228, 229, 239, 276]
MAX_DECODE_PER_TRACE = 24
MAX_ENGINE_PACKETS = 48
MAX_ENGINE_BYTES = 96 * 1024
MAX_STREAM = 16 * 1024


def read_pcap(data):
    magic = data[:4]
    order = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\x4d\x3c\xb2\xa1": ("<", 1),
             b"\xa1\xb2\xc3\xd4": (">", 1000), b"\xa1\xb2\x3c\x4d": (">", 1)}.get(magic)
    if order is None:
        return None
    e, mult = order
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    pkts, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        pkts.append((sec * 10**9 + frac * mult, data[off:off + incl], orig))
        off += incl
    return [(linktype, pkts)]


def read_pcapng(data):
    if data[:4] != b"\x0a\x0d\x0d\x0a":
        return None
    e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    ifaces, per_if, off = [], {}, 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack(e + "II", data[off:off + 8])
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 0x0A0D0D0A:
            e = "<" if body[:4] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        elif btype == 1:
            lt = struct.unpack(e + "H", body[:2])[0]
            res = 10**3  # default microseconds -> ns multiplier
            o = 8
            while o + 4 <= len(body):
                code, olen = struct.unpack(e + "HH", body[o:o + 4])
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    v = body[o + 4]
                    res = (10**9 // (10 ** v)) if v < 0x80 and v <= 9 else 1
                o += 4 + ((olen + 3) & ~3)
            ifaces.append((lt, res))
        elif btype == 6 and len(body) >= 20:
            ifid, hi, lo, cap, orig = struct.unpack(e + "IIIII", body[:20])
            if ifid < len(ifaces):
                lt, res = ifaces[ifid]
                per_if.setdefault(lt, []).append((((hi << 32) | lo) * res, body[20:20 + cap], orig))
        elif btype == 3 and len(body) >= 4 and ifaces:
            orig = struct.unpack(e + "I", body[:4])[0]
            per_if.setdefault(ifaces[0][0], []).append((0, body[4:4 + orig], orig))
        off += blen
    return list(per_if.items())


def read_trace(path):
    data = open(path, "rb").read()
    return read_pcap(data) or read_pcapng(data) or []


def pcap_bytes(linktype, pkts):
    out = [struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, linktype)]
    for ts, d, orig in pkts:
        out.append(struct.pack("<IIII", ts // 10**9, ts % 10**9, len(d), max(orig, len(d))) + d)
    return b"".join(out)


# ---- a minimal TCP extractor for the http seeds (Ethernet/VLAN/raw IP/SLL, IPv4/IPv6) ----

def ip_of(linktype, d):
    if linktype == 1:
        off, et = 14, d[12:14]
        while et in (b"\x81\x00", b"\x88\xa8") and len(d) >= off + 4:
            et, off = d[off + 2:off + 4], off + 4
        return d[off:] if et in (b"\x08\x00", b"\x86\xdd") else None
    if linktype in (101, 228, 229, 12, 14):
        return d
    if linktype == 113:
        return d[16:]
    if linktype == 276:
        return d[20:]
    if linktype in (0, 108):
        return d[4:]
    return None


def tcp_of(ip):
    if not ip:
        return None
    v = ip[0] >> 4
    if v == 4 and len(ip) >= 20 and ip[9] == 6:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        src, dst, t = ip[12:16], ip[16:20], ip[ihl:total if total else None]
    elif v == 6 and len(ip) >= 40 and ip[6] == 6:
        src, dst, t = ip[8:24], ip[24:40], ip[40:]
    else:
        return None
    if len(t) < 20:
        return None
    sp, dp = struct.unpack(">HH", t[:4])
    doff = (t[12] >> 4) * 4
    return (src, sp, dst, dp, t[doff:])


def http_seeds(traces):
    """(client bytes, server bytes) per TCP connection that carries HTTP."""
    out = []
    for linktype, pkts in traces:
        conns = {}
        for _, d, _ in pkts:
            t = tcp_of(ip_of(linktype, d))
            if not t or not t[4]:
                continue
            src, sp, dst, dp, payload = t
            key = tuple(sorted([(src, sp), (dst, dp)]))
            c = conns.setdefault(key, {"client": None, "bufs": {}})
            if c["client"] is None:
                c["client"] = (src, sp) if not payload.startswith(b"HTTP/") else (dst, dp)
            side = 0 if (src, sp) == c["client"] else 1
            b = c["bufs"].setdefault(side, bytearray())
            if len(b) < MAX_STREAM:
                b.extend(payload[:MAX_STREAM - len(b)])
        for c in conns.values():
            req, resp = bytes(c["bufs"].get(0, b"")), bytes(c["bufs"].get(1, b""))
            if b"HTTP/" in req[:2048] or resp.startswith(b"HTTP/"):
                out.append((req, resp))
    return out


HANDWRITTEN = [
    (b"GET /api/users?id=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n",
     b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"users\":[1]}"),
    (b"POST /api/orders HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
     b"4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
     b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n0\r\nX-T: y\r\n\r\n"),
    (b"PUT /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
     b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
    (b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /304 HTTP/1.1\r\nHost: a\r\nIf-None-Match: x\r\n\r\n",
     b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"),
    (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x00\x05hello",
     b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x02hi"),
    (b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
     b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x02hi"),
    (b"GET /\r\n", b"<html>0.9</html>"),
    (b"GET /gz HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n",
     b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 31\r\n\r\n"
     b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xabV*I-.Q\xb2R\xcaH\xcd\xc9\xc9W\xaa\x05\x00\xd2\x1e\x9a\x0c\x0f\x00\x00\x00"),
    (b"GET /close HTTP/1.0\r\n\r\n", b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"),
    (b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 27\r\n\r\n"
     b"user=bob&password=hunter2&x",
     b"HTTP/1.1 302 Found\r\nLocation: /\r\nSet-Cookie: session=abc\r\nContent-Length: 0\r\n\r\n"),
    (b"GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nbad!"),
]


def http_input(cfg, seed, req, resp):
    req = req[:65535]
    return bytes([cfg]) + struct.pack("<H", len(req)) + bytes([seed]) + req + resp


def reassembly_seeds():
    """Synthetic connections (see src/reassembly.rs for the 5-byte segment format)."""
    FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16

    def seg(flags, side, conn, step, off, ln, corrupt=False, coarse=False):
        b0 = flags | (0x20 if corrupt else 0) | (side << 6) | (0x80 if coarse else 0)
        return bytes([b0, conn | (step << 2)]) + struct.pack("<H", off & 0xFFFF) + bytes([ln])

    seeds = []
    for isns, variant in (((1000, 5000), 0), ((0xFFFFFF00, 0xFFFFFFF0), 1), ((7, 9), 2), ((1, 2), 3), ((3, 4), 12)):
        head = struct.pack("<II", *isns) + bytes([variant])
        # In order: handshake, request, response, FINs.
        s = [seg(SYN, 0, 0, 1, 0, 0), seg(SYN | ACK, 1, 0, 1, 0, 0), seg(ACK, 0, 0, 1, 0, 0),
             seg(PSH | ACK, 0, 0, 1, 0, 100), seg(ACK, 1, 0, 1, 0, 0),
             seg(PSH | ACK, 1, 0, 1, 0, 200), seg(PSH | ACK, 1, 0, 1, 200, 200),
             seg(FIN | ACK, 0, 0, 1, 100, 0), seg(FIN | ACK, 1, 0, 1, 400, 0), seg(ACK, 0, 0, 1, 101, 0)]
        seeds.append(head + b"".join(s))
        # Out of order, overlap, retransmission, a hole, a second connection midstream, RST.
        s = [seg(SYN, 0, 1, 1, 0, 0), seg(SYN | ACK, 1, 1, 1, 0, 0),
             seg(ACK, 0, 1, 1, 100, 50), seg(ACK, 0, 1, 1, 0, 60), seg(ACK, 0, 1, 1, 40, 80, corrupt=True),
             seg(ACK, 0, 1, 1, 0, 60), seg(ACK, 0, 1, 1, 500, 10), seg(ACK, 1, 1, 1, 0, 0),
             seg(PSH | ACK, 1, 2, 1, 3000, 120), seg(PSH | ACK, 0, 2, 1, 20, 30),
             seg(ACK, 0, 1, 63, 700, 0, coarse=True), seg(RST, 1, 1, 1, 0, 0), seg(SYN, 0, 1, 1, 0, 5),
             seg(SYN, 1, 3, 1, 0, 0), seg(ACK, 1, 3, 1, 0, 255), seg(FIN, 1, 3, 1, 255, 0)]
        seeds.append(head + b"".join(s))
    return seeds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    dirs = {k: os.path.join(a.out, k) for k in ("decode", "engine", "http", "reassembly")}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    counts = dict.fromkeys(dirs, 0)

    def put(kind, data):
        name = hashlib.sha1(data).hexdigest()[:20]
        p = os.path.join(dirs[kind], name)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(data)
            counts[kind] += 1

    files = sorted(os.listdir(a.traces)) if os.path.isdir(a.traces) else []
    all_traces = []
    for fn in files:
        try:
            traces = read_trace(os.path.join(a.traces, fn))
        except Exception as e:  # a broken trace is skipped, not fatal
            print(f"build_corpus: skipping {fn}: {e}", file=sys.stderr)
            continue
        all_traces.extend(traces)
        for linktype, pkts in traces:
            if not pkts:
                continue
            if linktype in LINKTYPES:
                sel = LINKTYPES.index(linktype)
                step = max(1, len(pkts) // MAX_DECODE_PER_TRACE)
                for _, d, _ in pkts[::step][:MAX_DECODE_PER_TRACE]:
                    put("decode", bytes([sel]) + d[:65535])
                seq = b"".join(struct.pack("<H", len(d[:65535])) + d[:65535] for _, d, _ in pkts[:16])
                put("decode", bytes([sel | 0x10]) + seq[:131072])
                put("decode", bytes([sel | 0x10 | 0x20]) + seq[:131072])
            chosen, size = [], 0
            for p in pkts[:MAX_ENGINE_PACKETS]:
                if size + len(p[1]) > MAX_ENGINE_BYTES and chosen:
                    break
                chosen.append(p)
                size += len(p[1]) + 16
            put("engine", pcap_bytes(linktype, chosen))
    for i, (req, resp) in enumerate(http_seeds(all_traces) + HANDWRITTEN):
        put("http", http_input(i % 3, i & 0xFF, req, resp))
        put("http", http_input((i + 1) % 3, (i * 7 + 3) & 0xFF, req, resp))
    for s in reassembly_seeds():
        put("reassembly", s)
    print("build_corpus: " + ", ".join(f"{k} {v}" for k, v in counts.items()) +
          f" new inputs from {len(files)} traces", file=sys.stderr)


if __name__ == "__main__":
    main()
