//! Networks ([`Net`]) and the lookup table ([`Table`]) built from many of them.
//!
//! The table flattens any number of (possibly nested or duplicated) prefixes into sorted,
//! disjoint address ranges, each labelled with the *most specific* prefix covering it; a
//! lookup is one binary search (O(log n), no allocation); large IPv4 tables add a /16 index
//! so the search stays within the ranges of one /16. On an exact duplicate the entry
//! given first wins. IPv4 and IPv6 live in separate tables; IPv4-mapped IPv6 addresses
//! (`::ffff:a.b.c.d`) are looked up, and listed, as the IPv4 address they carry.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One network: an address with its prefix length, host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Net {
    V4 { addr: u32, len: u8 },
    V6 { addr: u128, len: u8 },
}

impl Net {
    /// `a.b.c.d`, `a.b.c.d/len`, `v6`, `v6/len`. Host bits are cleared (lists are often
    /// sloppy about them); IPv4-mapped IPv6 prefixes of length ≥ 96 become IPv4 prefixes.
    pub fn parse(s: &str) -> Result<Net, &'static str> {
        let s = s.trim();
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| "not an IP address or CIDR prefix")?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            Some(l) => match l.parse::<u8>() {
                Ok(l) if l <= max => l,
                _ => return Err("bad prefix length"),
            },
            None => max,
        };
        Ok(match addr {
            IpAddr::V4(v) => Net::v4(u32::from(v), len),
            IpAddr::V6(v) => match v.to_ipv4_mapped() {
                Some(v4) if len >= 96 => Net::v4(u32::from(v4), len - 96),
                _ => Net::v6(u128::from(v), len),
            },
        })
    }

    pub fn v4(addr: u32, len: u8) -> Net {
        let len = len.min(32);
        Net::V4 {
            addr: addr & mask32(len),
            len,
        }
    }

    pub fn v6(addr: u128, len: u8) -> Net {
        let len = len.min(128);
        Net::V6 {
            addr: addr & mask128(len),
            len,
        }
    }

    pub fn is_v4(&self) -> bool {
        matches!(self, Net::V4 { .. })
    }

    pub fn prefix_len(&self) -> u8 {
        match *self {
            Net::V4 { len, .. } | Net::V6 { len, .. } => len,
        }
    }

    /// Whether `ip` (IPv4-mapped IPv6 taken as IPv4) is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, Key::of(ip)) {
            (Net::V4 { addr, len }, Key::V4(x)) => x & mask32(len) == addr,
            (Net::V6 { addr, len }, Key::V6(x)) => x & mask128(len) == addr,
            _ => false,
        }
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Net::V4 { addr, len } => write!(f, "{}/{len}", Ipv4Addr::from(addr)),
            Net::V6 { addr, len } => write!(f, "{}/{len}", Ipv6Addr::from(addr)),
        }
    }
}

fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

/// An address as a table key.
#[derive(Debug, Clone, Copy)]
enum Key {
    V4(u32),
    V6(u128),
}

impl Key {
    fn of(ip: IpAddr) -> Key {
        match ip {
            IpAddr::V4(v) => Key::V4(u32::from(v)),
            IpAddr::V6(v) => match v.to_ipv4_mapped() {
                Some(v4) => Key::V4(u32::from(v4)),
                None => Key::V6(u128::from(v)),
            },
        }
    }
}

trait Bits: Copy + Ord + Default {
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Self;
}

impl Bits for u32 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Self {
        self.saturating_sub(1)
    }
}

impl Bits for u128 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Self {
        self.saturating_sub(1)
    }
}

/// Disjoint ranges `[starts[i], ends[i]]`, ascending, each labelled with an entry id.
#[derive(Debug, Default, Clone)]
struct Ranges<K> {
    starts: Vec<K>,
    ends: Vec<K>,
    ids: Vec<u32>,
}

impl<K: Bits> Ranges<K> {
    /// `items`: (first, last, id); prefixes are nested or disjoint. Lower ids win exact ties.
    fn build(mut items: Vec<(K, K, u32)>) -> Ranges<K> {
        // Outer prefixes before the ones they contain; exact duplicates: lowest id first.
        items.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        items.dedup_by(|later, earlier| later.0 == earlier.0 && later.1 == earlier.1);
        let mut out = Ranges {
            starts: Vec::with_capacity(items.len()),
            ends: Vec::with_capacity(items.len()),
            ids: Vec::with_capacity(items.len()),
        };
        let mut emit = |s: K, e: K, id: u32| {
            out.starts.push(s);
            out.ends.push(e);
            out.ids.push(id);
        };
        // Open prefixes, outermost first; `cur` is the first address not yet emitted
        // (None: past the top of the address space).
        let mut stack: Vec<(K, u32)> = Vec::new();
        let mut cur: Option<K> = Some(K::default());
        for (s, e, id) in items {
            while let Some(&(te, tid)) = stack.last() {
                if te >= s {
                    break;
                }
                stack.pop();
                if let Some(c) = cur.filter(|c| *c <= te) {
                    emit(c, te, tid);
                }
                cur = te.succ();
            }
            // What is left on the stack contains the new prefix: its part before it.
            if let Some(&(_, tid)) = stack.last() {
                if let Some(c) = cur.filter(|c| *c < s) {
                    emit(c, s.pred(), tid);
                }
            }
            stack.push((e, id));
            cur = Some(s);
        }
        while let Some((te, tid)) = stack.pop() {
            if let Some(c) = cur.filter(|c| *c <= te) {
                emit(c, te, tid);
            }
            cur = te.succ();
        }
        out.starts.shrink_to_fit();
        out.ends.shrink_to_fit();
        out.ids.shrink_to_fit();
        out
    }

    fn lookup(&self, x: K) -> Option<u32> {
        let i = self.starts.partition_point(|s| *s <= x).checked_sub(1)?;
        (x <= *self.ends.get(i)?).then(|| self.ids.get(i).copied())?
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

/// IPv4 tables with at least this many ranges get the /16 index.
const V4_INDEX_MIN_RANGES: usize = 256;

/// Longest-prefix-match lookup over IPv4 and IPv6 networks.
#[derive(Debug, Default, Clone)]
pub struct Table {
    v4: Ranges<u32>,
    /// For large IPv4 tables: `v4_index[h]` is the first range starting at or after `h << 16`
    /// (65,537 entries, 256 KiB), so a lookup binary-searches only the ranges starting in
    /// its own /16 instead of the whole table (which misses the cache on every step).
    v4_index: Vec<u32>,
    v6: Ranges<u128>,
}

impl Table {
    /// Builds the table; each network carries an id (its entry). On an exact duplicate the
    /// lowest id wins; otherwise the most specific prefix does.
    pub fn build(nets: impl IntoIterator<Item = (Net, u32)>) -> Table {
        Self::build_with(nets, V4_INDEX_MIN_RANGES)
    }

    fn build_with(nets: impl IntoIterator<Item = (Net, u32)>, index_min: usize) -> Table {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for (net, id) in nets {
            match net {
                Net::V4 { addr, len } => v4.push((addr, addr | !mask32(len), id)),
                Net::V6 { addr, len } => v6.push((addr, addr | !mask128(len), id)),
            }
        }
        let v4 = Ranges::build(v4);
        let v4_index = if v4.len() >= index_min && !v4.starts.is_empty() {
            let mut idx = Vec::with_capacity(65_537);
            let mut i = 0usize;
            for h in 0u64..=65_536 {
                while v4.starts.get(i).is_some_and(|s| u64::from(*s) < h << 16) {
                    i += 1;
                }
                idx.push(i as u32);
            }
            idx
        } else {
            Vec::new()
        };
        Table {
            v4,
            v4_index,
            v6: Ranges::build(v6),
        }
    }

    fn lookup_v4(&self, x: u32) -> Option<u32> {
        let h = (x >> 16) as usize;
        let (Some(&lo), Some(&hi)) = (self.v4_index.get(h), self.v4_index.get(h + 1)) else {
            return self.v4.lookup(x);
        };
        let (lo, hi) = (lo as usize, hi as usize);
        let j = self.v4.starts.get(lo..hi)?.partition_point(|s| *s <= x);
        // Ranges before `lo` start below this /16, so the one holding `x` is the last range
        // starting in it at or before `x`, or else the last range before it.
        let i = (lo + j).checked_sub(1)?;
        (x <= *self.v4.ends.get(i)?).then(|| self.v4.ids.get(i).copied())?
    }

    /// The id of the most specific network containing `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<u32> {
        match Key::of(ip) {
            Key::V4(x) => self.lookup_v4(x),
            Key::V6(x) => self.v6.lookup(x),
        }
    }

    /// Disjoint ranges held (for memory figures).
    pub fn ranges(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn nets_parse_and_mask() {
        assert_eq!(Net::parse("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(Net::parse("1.2.3.4").unwrap().to_string(), "1.2.3.4/32");
        assert_eq!(
            Net::parse(" 2001:db8::1/32 ").unwrap().to_string(),
            "2001:db8::/32"
        );
        assert_eq!(
            Net::parse("::ffff:1.2.3.0/120").unwrap().to_string(),
            "1.2.3.0/24"
        );
        assert_eq!(Net::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert!(Net::parse("::/0").unwrap().contains(ip("2001:db8::5")));
        assert!(!Net::parse("::/0").unwrap().contains(ip("1.2.3.4")));
        assert!(Net::parse("1.2.3.0/24")
            .unwrap()
            .contains(ip("::ffff:1.2.3.9")));
        assert!(Net::parse("10.0.0.0/33").is_err());
        assert!(Net::parse("10.0.0.0/").is_err());
        assert!(Net::parse("10.0.0/8").is_err());
        assert!(Net::parse("example.com").is_err());
        assert!(Net::parse("").is_err());
    }

    #[test]
    fn most_specific_wins_and_first_wins_ties() {
        let t = Table::build([
            (Net::parse("10.0.0.0/8").unwrap(), 0),
            (Net::parse("10.1.0.0/16").unwrap(), 1),
            (Net::parse("10.1.2.3").unwrap(), 2),
            (Net::parse("10.1.0.0/16").unwrap(), 3),
            (Net::parse("2001:db8::/32").unwrap(), 4),
            (Net::parse("2001:db8:1::/48").unwrap(), 5),
        ]);
        assert_eq!(t.lookup(ip("10.200.0.1")), Some(0));
        assert_eq!(t.lookup(ip("10.1.2.2")), Some(1));
        assert_eq!(t.lookup(ip("10.1.2.3")), Some(2));
        assert_eq!(t.lookup(ip("10.1.2.4")), Some(1));
        assert_eq!(t.lookup(ip("10.1.255.255")), Some(1));
        assert_eq!(t.lookup(ip("10.2.0.0")), Some(0));
        assert_eq!(t.lookup(ip("11.0.0.0")), None);
        assert_eq!(t.lookup(ip("9.255.255.255")), None);
        assert_eq!(t.lookup(ip("::ffff:10.1.2.3")), Some(2));
        assert_eq!(t.lookup(ip("2001:db8:1::7")), Some(5));
        assert_eq!(t.lookup(ip("2001:db8:2::7")), Some(4));
        assert_eq!(t.lookup(ip("2001:db9::")), None);
    }

    #[test]
    fn edges_of_the_address_space() {
        let t = Table::build([
            (Net::parse("0.0.0.0/0").unwrap(), 0),
            (Net::parse("255.255.255.255/32").unwrap(), 1),
            (Net::parse("0.0.0.0/32").unwrap(), 2),
            (Net::parse("::/0").unwrap(), 3),
            (
                Net::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128").unwrap(),
                4,
            ),
        ]);
        assert_eq!(t.lookup(ip("255.255.255.255")), Some(1));
        assert_eq!(t.lookup(ip("255.255.255.254")), Some(0));
        assert_eq!(t.lookup(ip("0.0.0.0")), Some(2));
        assert_eq!(t.lookup(ip("0.0.0.1")), Some(0));
        assert_eq!(
            t.lookup(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            Some(4)
        );
        assert_eq!(t.lookup(ip("::1")), Some(3));
        assert_eq!(Table::build([]).lookup(ip("1.2.3.4")), None);
    }

    /// The dumb model: every network, longest containing one, lowest id on ties.
    fn naive(nets: &[(Net, u32)], x: IpAddr) -> Option<u32> {
        nets.iter()
            .filter(|(n, _)| n.contains(x))
            .min_by_key(|(n, id)| (std::cmp::Reverse(n.prefix_len()), *id))
            .map(|(_, id)| *id)
    }

    /// Networks clustered in a small space so that they nest and collide often.
    fn arb_net() -> impl Strategy<Value = Net> {
        prop_oneof![
            (0u32..64, 0u8..=32, any::<u32>()).prop_map(|(hi, len, lo)| {
                Net::v4(0x0a00_0000 | (hi << 20) | (lo & 0xfffff), len.max(4))
            }),
            (0u32..4, 0u8..=32).prop_map(|(x, len)| Net::v4(x.wrapping_mul(0x4000_0000), len)),
            (any::<u16>(), 0u8..=128, any::<u64>()).prop_map(|(hi, len, lo)| {
                Net::v6(
                    (0x2001_0db8u128 << 96) | (u128::from(hi & 0xff) << 80) | u128::from(lo),
                    len.max(16),
                )
            }),
        ]
    }

    fn arb_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            (0u32..64, any::<u32>()).prop_map(|(hi, lo)| IpAddr::V4(Ipv4Addr::from(
                0x0a00_0000 | (hi << 20) | (lo & 0xfffff)
            ))),
            any::<u32>().prop_map(|x| IpAddr::V4(Ipv4Addr::from(x))),
            (any::<u16>(), any::<u64>()).prop_map(|(hi, lo)| IpAddr::V6(Ipv6Addr::from(
                (0x2001_0db8u128 << 96) | (u128::from(hi & 0xff) << 80) | u128::from(lo)
            ))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn lookup_agrees_with_a_linear_scan(
            nets in proptest::collection::vec(arb_net(), 0..60),
            probes in proptest::collection::vec(arb_ip(), 1..60),
        ) {
            let nets: Vec<(Net, u32)> = nets.into_iter().zip(0u32..).collect();
            let t = Table::build(nets.iter().copied());
            let indexed = Table::build_with(nets.iter().copied(), 0);
            // Probe the networks' own edges as well as random addresses.
            let mut all = probes;
            for (n, _) in &nets {
                match *n {
                    Net::V4 { addr, len } => {
                        let last = addr | !mask32(len);
                        for x in [addr, last, addr.wrapping_sub(1), last.wrapping_add(1)] {
                            all.push(IpAddr::V4(Ipv4Addr::from(x)));
                        }
                    }
                    Net::V6 { addr, len } => {
                        let last = addr | !mask128(len);
                        for x in [addr, last, addr.wrapping_sub(1), last.wrapping_add(1)] {
                            all.push(IpAddr::V6(Ipv6Addr::from(x)));
                        }
                    }
                }
            }
            for x in all {
                prop_assert_eq!(t.lookup(x), naive(&nets, x), "address {}", x);
                prop_assert_eq!(indexed.lookup(x), naive(&nets, x), "indexed, address {}", x);
            }
        }
    }
}
