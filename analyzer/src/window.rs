//! Sliding windows on packet time with constant memory: a count, a sum and a bounded
//! distinct-set.
//!
//! Counts and sums keep the current and the previous window-long bucket; the value at time
//! `t` is the current bucket plus the previous one weighted by how much of it still lies
//! inside the window ending at `t` (the usual two-bucket sliding-window counter: exact for a
//! steady rate). The distinct set keeps two half-window sets and reports their union, each
//! exact up to a fixed number of 64-bit hashes and a 256-register HyperLogLog sketch beyond,
//! so distinct counts of any size cost bounded memory.

/// A windowed event count.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WindowCount {
    start: u64,
    cur: u32,
    prev: u32,
}

impl WindowCount {
    /// Adds one event at `ts` for a window of `width` ns.
    pub fn add(&mut self, ts: u64, width: u64) {
        self.roll(ts, width);
        self.cur = self.cur.saturating_add(1);
    }

    /// Events in the window ending at `ts`.
    pub fn value(&self, ts: u64, width: u64) -> f64 {
        let half = width.max(1);
        let age = ts.saturating_sub(self.start);
        if age >= 2 * half {
            return 0.0;
        }
        if age >= half {
            // `cur` has become the previous half at `ts`.
            let frac = (age - half) as f64 / half as f64;
            return f64::from(self.cur) * (1.0 - frac);
        }
        let frac = age as f64 / half as f64;
        f64::from(self.cur) + f64::from(self.prev) * (1.0 - frac)
    }

    fn roll(&mut self, ts: u64, width: u64) {
        let half = width.max(1);
        let age = ts.saturating_sub(self.start);
        if age >= 2 * half {
            self.prev = 0;
            self.cur = 0;
            self.start = ts - ts % half;
        } else if age >= half {
            self.prev = self.cur;
            self.cur = 0;
            self.start += half;
        }
    }
}

/// A windowed sum (e.g. response bytes), the same two-half approximation as [`WindowCount`].
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WindowSum {
    start: u64,
    cur: u64,
    prev: u64,
}

impl WindowSum {
    /// Adds `v` at `ts` for a window of `width` ns.
    pub fn add(&mut self, ts: u64, width: u64, v: u64) {
        let half = width.max(1);
        let age = ts.saturating_sub(self.start);
        if age >= 2 * half {
            self.prev = 0;
            self.cur = 0;
            self.start = ts - ts % half;
        } else if age >= half {
            self.prev = self.cur;
            self.cur = 0;
            self.start += half;
        }
        self.cur = self.cur.saturating_add(v);
    }

    /// The sum over the window ending at `ts`.
    pub fn value(&self, ts: u64, width: u64) -> f64 {
        let half = width.max(1);
        let age = ts.saturating_sub(self.start);
        if age >= 2 * half {
            return 0.0;
        }
        if age >= half {
            let frac = (age - half) as f64 / half as f64;
            return self.cur as f64 * (1.0 - frac);
        }
        let frac = age as f64 / half as f64;
        self.cur as f64 + self.prev as f64 * (1.0 - frac)
    }

    /// Adds another shard's sum of the same window (halves are summed as they are; exact
    /// when both shards saw the same half boundary, which they do at a snapshot tick).
    pub fn merge(&mut self, o: &WindowSum) {
        self.start = self.start.max(o.start);
        self.cur = self.cur.saturating_add(o.cur);
        self.prev = self.prev.saturating_add(o.prev);
    }

    pub fn scale(&mut self, f: f64) {
        self.cur = (self.cur as f64 * f) as u64;
        self.prev = (self.prev as f64 * f) as u64;
    }
}

/// Registers of the HyperLogLog sketch a half-window switches to past its exact cap.
const HLL_BITS: u32 = 8;
const HLL_REGISTERS: usize = 1 << HLL_BITS;

/// Distinct hashes of one half-window: exact up to the cap, then a HyperLogLog sketch
/// (256 one-byte registers, about 6.5 % standard error), like HLL++'s sparse/dense split.
#[derive(Debug, Clone)]
enum Half {
    Exact(Vec<u64>),
    Sketch(Box<[u8; HLL_REGISTERS]>),
}

impl Default for Half {
    fn default() -> Self {
        Half::Exact(Vec::new())
    }
}

fn hll_insert(regs: &mut [u8; HLL_REGISTERS], h: u64) -> bool {
    let idx = (h >> (64 - HLL_BITS)) as usize;
    let rest = h << HLL_BITS;
    let rank = (rest.leading_zeros().min(64 - HLL_BITS) + 1) as u8;
    if regs[idx] < rank {
        regs[idx] = rank;
        true
    } else {
        false
    }
}

fn hll_estimate(regs: &[u8; HLL_REGISTERS]) -> f64 {
    let m = HLL_REGISTERS as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    // 2^-r built from its exponent bits (exact; registers are at most 57).
    let sum: f64 = regs
        .iter()
        .map(|&r| f64::from_bits((1023 - u64::from(r)) << 52))
        .sum();
    let raw = alpha * m * m / sum;
    let zeros = regs.iter().filter(|&&r| r == 0).count();
    if raw <= 2.5 * m && zeros > 0 {
        m * (m / zeros as f64).ln()
    } else {
        raw
    }
}

impl Half {
    /// Empties the half, keeping an exact set's allocation (a half is cleared at every
    /// rotation, and growing a fresh vector back cost more than the set's own work).
    fn clear(&mut self) {
        match self {
            Half::Exact(v) => v.clear(),
            Half::Sketch(_) => *self = Half::Exact(Vec::new()),
        }
    }

    fn contains(&self, h: u64) -> bool {
        match self {
            Half::Exact(v) => v.contains(&h),
            Half::Sketch(_) => false,
        }
    }

    fn insert(&mut self, h: u64, cap: usize) -> bool {
        match self {
            Half::Exact(v) if v.contains(&h) => false,
            Half::Exact(v) if v.len() < cap => {
                v.push(h);
                true
            }
            Half::Exact(v) => {
                let mut regs = Box::new([0u8; HLL_REGISTERS]);
                for &x in v.iter() {
                    hll_insert(&mut regs, x);
                }
                let new = hll_insert(&mut regs, h);
                *self = Half::Sketch(regs);
                new
            }
            Half::Sketch(regs) => hll_insert(regs, h),
        }
    }

    fn registers(&self) -> [u8; HLL_REGISTERS] {
        match self {
            Half::Exact(v) => {
                let mut regs = [0u8; HLL_REGISTERS];
                for &x in v {
                    hll_insert(&mut regs, x);
                }
                regs
            }
            Half::Sketch(r) => **r,
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            Half::Exact(v) => v.capacity() * 8,
            Half::Sketch(_) => HLL_REGISTERS,
        }
    }
}

/// A windowed count of distinct 64-bit hashes (well-mixed hashes, e.g. SipHash output):
/// exact while each half holds at most `cap` of them, estimated by HyperLogLog beyond.
/// The count is remembered until an addition changes a half (detectors read it on every
/// request; most requests repeat a member or leave every register as it was).
#[derive(Debug, Clone, Default)]
pub struct WindowDistinct {
    start: u64,
    cur: Half,
    prev: Half,
    /// The last count plus one; 0 when it must be computed again.
    counted: std::cell::Cell<u32>,
}

impl WindowDistinct {
    /// Adds `h` at `ts`. Returns whether it was (as far as can be told) new to the window.
    pub fn add(&mut self, ts: u64, width: u64, h: u64, cap: usize) -> bool {
        let half = (width / 2).max(1);
        let age = ts.saturating_sub(self.start);
        if age >= 2 * half {
            self.prev.clear();
            self.cur.clear();
            self.start = ts - ts % half;
        } else if age >= half {
            std::mem::swap(&mut self.prev, &mut self.cur);
            self.cur.clear();
            self.start += half;
        }
        let (rotated, was_exact) = (age >= half, matches!(self.cur, Half::Exact(_)));
        let in_prev = self.prev.contains(h);
        let inserted = self.cur.insert(h, cap);
        if rotated || inserted || was_exact != matches!(self.cur, Half::Exact(_)) {
            self.counted.set(0);
        }
        inserted && !in_prev
    }

    /// Distinct members in the window.
    pub fn count(&self) -> usize {
        if let Some(n) = self.counted.get().checked_sub(1) {
            return n as usize;
        }
        let n = self.compute_count();
        self.counted
            .set(u32::try_from(n).map_or(0, |n| n.saturating_add(1)));
        n
    }

    fn compute_count(&self) -> usize {
        match (&self.cur, &self.prev) {
            (Half::Exact(c), Half::Exact(p)) => {
                c.len() + p.iter().filter(|h| !c.contains(h)).count()
            }
            (a, b) => {
                let (ra, rb) = (a.registers(), b.registers());
                let mut u = [0u8; HLL_REGISTERS];
                for i in 0..HLL_REGISTERS {
                    u[i] = ra[i].max(rb[i]);
                }
                hll_estimate(&u).round() as usize
            }
        }
    }

    pub fn memory_bytes(&self) -> usize {
        self.cur.memory_bytes() + self.prev.memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn remembered_distinct_count_is_always_the_computed_one() {
        // Repeats, new members, half rotations, idle gaps and the switch to a sketch.
        let mut d = WindowDistinct::default();
        let mut x: u64 = 3;
        let mut ts = 0;
        let mut sketched = false;
        for i in 0..20_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ts += (x >> 60) * S / 64 + if i % 5000 == 4999 { 500 * S } else { 0 };
            let member = crate::hashing::hash64(&((x >> 33) % if i < 10_000 { 40 } else { 5000 }));
            d.add(ts, 60 * S, member, 16);
            assert_eq!(d.count(), d.compute_count(), "at {i}");
            sketched |= matches!(d.cur, Half::Sketch(_));
        }
        assert!(sketched);
    }

    #[test]
    fn count_slides() {
        let mut c = WindowCount::default();
        for i in 0..10 {
            c.add(100 * S + i * S, 60 * S);
        }
        assert_eq!(c.value(110 * S, 60 * S), 10.0);
        // Long after, nothing is left.
        assert_eq!(c.value(300 * S, 60 * S), 0.0);
        c.add(300 * S, 60 * S);
        assert_eq!(c.value(300 * S, 60 * S), 1.0);
    }

    #[test]
    fn a_steady_rate_counts_the_whole_window() {
        let (w, mut c, mut sum) = (60 * S, WindowCount::default(), WindowSum::default());
        // 10 events a second for five minutes: every full window holds 600 of them (read
        // once two whole buckets are behind, as the estimate assumes the previous bucket full).
        for i in 0..3000u64 {
            let ts = 1_000 * S + i * S / 10;
            c.add(ts, w);
            sum.add(ts, w, 2);
            if ts >= 1_080 * S + w {
                let v = c.value(ts, w);
                assert!((v - 600.0).abs() <= 2.0, "at {i}: {v}");
                assert!((sum.value(ts, w) - 1200.0).abs() <= 4.0);
            }
        }
    }

    #[test]
    fn count_decays_across_halves() {
        let mut c = WindowCount::default();
        let w = 60 * S;
        for _ in 0..10 {
            c.add(0, w);
        }
        let later = c.value(90 * S, w);
        assert!(later > 0.0 && later < 10.0, "{later}");
    }

    fn mix(x: u64) -> u64 {
        crate::hashing::hash64(&x)
    }

    #[test]
    fn distinct_is_exact_then_estimated_and_windowed() {
        let mut d = WindowDistinct::default();
        let w = 60 * S;
        for x in 0..30u64 {
            d.add(S, w, mix(x), 32);
        }
        assert_eq!(d.count(), 30);
        assert!(!d.add(S, w, mix(3), 32));
        for x in 30..1000u64 {
            d.add(S, w, mix(x), 32);
        }
        let n = d.count() as f64;
        assert!((n - 1000.0).abs() < 200.0, "estimate {n}");
        assert!(d.memory_bytes() <= 2 * 256 + 32 * 8);
        assert!(d.add(1_000 * S, w, mix(3), 32));
        assert_eq!(d.count(), 1);
    }

    #[test]
    fn register_weights_are_exact_powers_of_two() {
        for r in 0u8..=57 {
            assert_eq!(
                f64::from_bits((1023 - u64::from(r)) << 52),
                2f64.powi(-i32::from(r))
            );
        }
    }

    #[test]
    fn sketch_accuracy_over_many_sizes() {
        for n in [100u64, 300, 1_000, 10_000, 100_000] {
            let mut d = WindowDistinct::default();
            for x in 0..n {
                d.add(S, 60 * S, mix(x + n * 1_000_003), 16);
            }
            let err = (d.count() as f64 - n as f64).abs() / n as f64;
            assert!(err < 0.2, "n={n} estimate={} err={err}", d.count());
        }
    }
}
