//! Sliding windows on packet time with constant memory: a count and a bounded distinct-set,
//! each kept as a current and a previous half-window.
//!
//! The value at time `t` weights the previous half by how much of it still lies inside the
//! window (the usual two-bucket approximation of a sliding window); the distinct set is the
//! union of both halves, each capped at a fixed number of 64-bit hashes, so a detector can ask
//! "at least N distinct" for any N up to the cap with memory that never grows.

/// A windowed event count.
#[derive(Debug, Clone, Default)]
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
        let half = (width / 2).max(1);
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
        let half = (width / 2).max(1);
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

/// A windowed set of distinct 64-bit hashes, each half capped at `cap` members.
#[derive(Debug, Clone, Default)]
pub struct WindowDistinct {
    start: u64,
    cur: Vec<u64>,
    prev: Vec<u64>,
}

impl WindowDistinct {
    /// Adds `h` at `ts`. Returns whether it was new to the window.
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
        if self.cur.contains(&h) {
            return false;
        }
        let new = !self.prev.contains(&h);
        if self.cur.len() < cap {
            self.cur.push(h);
        }
        new
    }

    /// Distinct members in the window (at most twice the cap).
    pub fn count(&self) -> usize {
        self.cur.len() + self.prev.iter().filter(|h| !self.cur.contains(h)).count()
    }

    pub fn memory_bytes(&self) -> usize {
        (self.cur.capacity() + self.prev.capacity()) * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

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
    fn count_decays_across_halves() {
        let mut c = WindowCount::default();
        let w = 60 * S;
        for _ in 0..10 {
            c.add(0, w);
        }
        let later = c.value(45 * S, w);
        assert!(later > 0.0 && later < 10.0, "{later}");
    }

    #[test]
    fn distinct_is_capped_and_windowed() {
        let mut d = WindowDistinct::default();
        let w = 60 * S;
        for h in 0..100u64 {
            d.add(S, w, h, 32);
        }
        assert_eq!(d.count(), 32);
        assert!(!d.add(S, w, 3, 32));
        assert!(d.add(1_000 * S, w, 3, 32));
        assert_eq!(d.count(), 1);
    }
}
