//! Small, mergeable summaries the baselines are made of.
//!
//! [`LogHistogram`]: a fixed log-bucket histogram of byte sizes (4 buckets per power of two,
//! so any quantile is read within 25 %; 0 to 1 TiB in [`BUCKETS`] `f32` counts, 660 bytes).
//! Counts are `f32` so a merged baseline can be split evenly over N shards and summed back
//! without rounding rare buckets away. Reads return the bucket's upper bound (a quantile is
//! never under-estimated, which errs on the quiet side for "far above p99" rules).
//!
//! [`HourlyRate`]: events per minute as an EWMA, one per hour of the day (packet time, UTC)
//! plus an overall one; minutes without an event count as zero.
//!
//! Why not a crate: a t-digest or DDSketch (`sketches-ddsketch`) would do for the quantiles,
//! but the baselines need two things those do not offer cheaply: a fixed size chosen at
//! build time (no growth with the data), and splitting one merged summary evenly over N
//! shards (`scale`) when a snapshot is loaded by N workers. A fixed log-bucket histogram
//! gives both in a few lines, with a bounded relative error that suits "far above p99"
//! rules.

use serde::{Deserialize, Serialize};

/// Sub-buckets per power of two.
const SUB: u32 = 4;
/// Largest tracked power of two (values above land in the last bucket).
const MAX_EXP: u32 = 40;
/// Buckets: one for 0, then `SUB` per power of two up to 2^`MAX_EXP`.
pub const BUCKETS: usize = 1 + (SUB * (MAX_EXP + 1)) as usize;

/// A log-bucket histogram of sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogHistogram {
    counts: Vec<f32>,
    total: f32,
}

impl Default for LogHistogram {
    fn default() -> Self {
        LogHistogram {
            counts: vec![0.0; BUCKETS],
            total: 0.0,
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v == 0 {
        return 0;
    }
    let e = 63 - v.leading_zeros();
    if e > MAX_EXP {
        return BUCKETS - 1;
    }
    // The two bits after the leading one pick the sub-bucket.
    let m = if e >= 2 {
        ((v >> (e - 2)) & 3) as u32
    } else {
        ((v << (2 - e)) & 3) as u32
    };
    (1 + e * SUB + m) as usize
}

/// Upper bound (exclusive) of bucket `b`.
fn upper_of(b: usize) -> f64 {
    if b == 0 {
        return 0.0;
    }
    let e = (b as u32 - 1) / SUB;
    let m = (b as u32 - 1) % SUB;
    2f64.powi(e as i32) * (1.0 + f64::from(m + 1) / f64::from(SUB))
}

impl LogHistogram {
    pub fn add(&mut self, v: u64) {
        self.counts[bucket_of(v)] += 1.0;
        self.total += 1.0;
    }

    /// Weight of everything added (after decay and splitting).
    pub fn total(&self) -> f64 {
        f64::from(self.total)
    }

    /// The value below which a share `q` (0–1) of the weight lies (bucket upper bound).
    pub fn quantile(&self, q: f64) -> f64 {
        if self.total <= 0.0 {
            return 0.0;
        }
        let target = q.clamp(0.0, 1.0) * f64::from(self.total);
        let mut acc = 0.0f64;
        for (b, &c) in self.counts.iter().enumerate() {
            acc += f64::from(c);
            if acc >= target && c > 0.0 {
                return upper_of(b);
            }
        }
        upper_of(BUCKETS - 1)
    }

    /// Multiplies every count by `f` (decay, or splitting a merged baseline over shards).
    pub fn scale(&mut self, f: f32) {
        for c in &mut self.counts {
            *c *= f;
        }
        self.total *= f;
    }

    pub fn merge(&mut self, other: &LogHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    /// A deserialized histogram has the bucket layout this build uses.
    pub fn is_valid(&self) -> bool {
        self.counts.len() == BUCKETS && self.counts.iter().all(|c| c.is_finite() && *c >= 0.0)
    }

    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.counts.capacity() * 4
    }
}

const MINUTE: u64 = 60 * crate::detectors::SECOND;
/// Smoothing per minute of the overall rate (memory of about half an hour).
const ALPHA_ALL: f32 = 1.0 / 30.0;
/// Smoothing per minute of one hour-of-day bucket (60 updates a day: memory of about 2 days).
const ALPHA_HOUR: f32 = 1.0 / 120.0;
/// Minutes an hour-of-day bucket must have learned before it is trusted over the overall rate.
const HOUR_TRUSTED_AFTER: u8 = 30;

/// Requests per minute, overall and by hour of the day (132 bytes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HourlyRate {
    /// Index of the minute being counted (packet time / 60 s); 0 before the first event.
    minute: u32,
    count: f32,
    overall: f32,
    by_hour: [f32; 24],
    /// Minutes each hour bucket has learned from (saturating).
    minutes_by_hour: [u8; 24],
    /// The first minute (partial: counting began in its middle) has passed unlearned.
    started: bool,
}

fn minute_index(ts: u64) -> u32 {
    (ts / MINUTE).min(u64::from(u32::MAX)) as u32
}

/// `times` EWMA steps towards a zero count, exactly as [`HourlyRate::fold`] computes each.
fn decay_towards_zero(v: &mut f32, alpha: f32, times: u32) {
    for _ in 0..times {
        if *v == 0.0 {
            return;
        }
        *v += alpha * (0.0 - *v);
    }
}

fn hour_of(minute: u32) -> usize {
    ((minute / 60) % 24) as usize
}

impl HourlyRate {
    /// Adds one event at `ts`; returns the event count of the minute this closed, when that
    /// minute had events (the first one too, although the actor may have begun mid-minute).
    pub fn add(&mut self, ts: u64) -> Option<f32> {
        let closed = (minute_index(ts) > self.minute && self.minute != 0)
            .then_some(self.count)
            .filter(|&c| c > 0.0);
        self.add_n(ts, 1.0);
        closed
    }

    /// Adds `n` events at `ts` (events out of order by less than a minute count in the
    /// current minute).
    pub fn add_n(&mut self, ts: u64, n: f32) {
        self.advance(ts);
        self.count += n;
    }

    /// Closes the minutes before `ts` (each empty one counts as zero).
    pub fn advance(&mut self, ts: u64) {
        let m = minute_index(ts);
        if self.minute == 0 {
            self.minute = m;
        }
        if m > self.minute {
            self.close_minutes(m);
        }
    }

    /// Folds the counted minute and the empty ones up to `m` into the averages.
    fn close_minutes(&mut self, m: u32) {
        // Nothing learned yet: the first minute folded sets the averages instead of moving
        // them (checked once here, not once per minute of a long gap).
        let mut fresh = self.minutes_by_hour.iter().all(|&m| m == 0);
        if self.started {
            self.fold(self.minute, self.count, &mut fresh);
        }
        self.started = true;
        let gap = m - self.minute - 1;
        // Empty minutes: at most one day of them minute by minute, a longer gap as a whole.
        self.fold_empty(self.minute + 1, gap.min(24 * 60), &mut fresh);
        if gap > 24 * 60 {
            let per_bucket = ((gap - 24 * 60) / 24).min(i32::MAX as u32) as i32;
            self.overall *= (1.0 - ALPHA_ALL).powi(per_bucket.saturating_mul(24));
            for r in &mut self.by_hour {
                *r *= (1.0 - ALPHA_HOUR).powi(per_bucket);
            }
        }
        self.minute = m;
        self.count = 0.0;
    }

    /// Folds `n` empty minutes from `first` on: the same arithmetic as `n` calls of
    /// [`Self::fold`] with a zero count, in the same order per average (the overall and each
    /// hour bucket are independent), but with the hour looked up once per run of minutes in
    /// that hour, and a zero average left as it is (decaying zero gives zero). An actor back
    /// after an hour away folded 60 minutes at about 27 instructions each, which on a replay
    /// of many returning clients was a twentieth of all the analyzer's work.
    fn fold_empty(&mut self, first: u32, n: u32, fresh: &mut bool) {
        if n == 0 {
            return;
        }
        let mut overall_minutes = n;
        if *fresh {
            self.overall = 0.0;
            *fresh = false;
            overall_minutes -= 1;
        }
        decay_towards_zero(&mut self.overall, ALPHA_ALL, overall_minutes);
        let (mut minute, mut left) = (first, n);
        while left > 0 {
            let h = hour_of(minute);
            let run = (60 - minute % 60).min(left);
            let mut decays = run;
            if self.minutes_by_hour[h] == 0 {
                self.by_hour[h] = 0.0;
                decays -= 1;
            }
            decay_towards_zero(&mut self.by_hour[h], ALPHA_HOUR, decays);
            self.minutes_by_hour[h] =
                self.minutes_by_hour[h].saturating_add(u8::try_from(run).unwrap_or(u8::MAX));
            minute += run;
            left -= run;
        }
    }

    /// Folds one minute's count in; `fresh` is true until the first minute is learned.
    fn fold(&mut self, minute: u32, count: f32, fresh: &mut bool) {
        let h = hour_of(minute);
        if *fresh {
            self.overall = count;
            *fresh = false;
        } else {
            self.overall += ALPHA_ALL * (count - self.overall);
        }
        if self.minutes_by_hour[h] == 0 {
            self.by_hour[h] = count;
        } else {
            self.by_hour[h] += ALPHA_HOUR * (count - self.by_hour[h]);
        }
        self.minutes_by_hour[h] = self.minutes_by_hour[h].saturating_add(1);
    }

    /// Expected events per minute at `ts`: the hour-of-day average once that hour has
    /// learned for 30 minutes, the overall one before.
    pub fn expected_per_minute(&self, ts: u64) -> f64 {
        let h = hour_of(minute_index(ts));
        if self.minutes_by_hour[h] >= HOUR_TRUSTED_AFTER {
            f64::from(self.by_hour[h])
        } else {
            f64::from(self.overall)
        }
    }

    /// Minutes learned in all (saturating per hour bucket).
    pub fn minutes_learned(&self) -> u32 {
        self.minutes_by_hour.iter().map(|&m| u32::from(m)).sum()
    }

    pub fn scale(&mut self, f: f32) {
        self.count *= f;
        self.overall *= f;
        for r in &mut self.by_hour {
            *r *= f;
        }
    }

    /// Sums rates learned on disjoint partitions of the traffic (shards).
    pub fn merge(&mut self, o: &HourlyRate) {
        // Bring both to the same current minute first, so the sums are of the same minutes.
        let m = self.minute.max(o.minute);
        let mut o = o.clone();
        if m > 0 {
            let ts = u64::from(m) * MINUTE;
            self.advance(ts);
            o.advance(ts);
        }
        self.count += o.count;
        self.overall += o.overall;
        for h in 0..24 {
            self.by_hour[h] += o.by_hour[h];
            self.minutes_by_hour[h] = self.minutes_by_hour[h].max(o.minutes_by_hour[h]);
        }
        self.started |= o.started;
    }

    /// Every value finite and not negative.
    pub fn is_valid(&self) -> bool {
        std::iter::once(&self.count)
            .chain([&self.overall])
            .chain(self.by_hour.iter())
            .all(|v| v.is_finite() && *v >= 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bounded() {
        let mut last = 0;
        for v in (0..100_000u64).chain([1 << 39, 1 << 41, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b >= last && b < BUCKETS, "{v}: {b}");
            assert!(
                v == 0 || (v as f64) < upper_of(b) || b == BUCKETS - 1,
                "{v}"
            );
            last = b;
        }
    }

    #[test]
    fn quantiles_within_a_quarter() {
        let mut h = LogHistogram::default();
        for v in 1..=10_000u64 {
            h.add(v);
        }
        for (q, want) in [(0.5, 5000.0), (0.95, 9500.0), (0.99, 9900.0)] {
            let got = h.quantile(q);
            assert!(got >= want && got <= want * 1.25, "q{q}: {got}");
        }
        // Splitting over 4 shards and summing back gives the same reads.
        let mut parts = h.clone();
        parts.scale(0.25);
        let mut sum = LogHistogram::default();
        for _ in 0..4 {
            sum.merge(&parts);
        }
        assert_eq!(sum.quantile(0.99), h.quantile(0.99));
        assert!(sum.is_valid());
    }

    #[test]
    fn hourly_rate_learns_per_hour() {
        let mut r = HourlyRate::default();
        let day = 24 * 60 * MINUTE;
        // Three days: 10/min during hour 9, 1/min otherwise.
        for d in 0..3u64 {
            for m in 0..24 * 60u64 {
                let n = if m / 60 == 9 { 10 } else { 1 };
                for k in 0..n {
                    r.add(d * day + m * MINUTE + k * 1000 + 1);
                }
            }
        }
        let at9 = r.expected_per_minute(3 * day + 9 * 60 * MINUTE);
        let at3 = r.expected_per_minute(3 * day + 3 * 60 * MINUTE);
        assert!(at9 > 5.0 && at3 < 2.0, "{at9} {at3}");
    }

    #[test]
    fn empty_minutes_fold_as_one_by_one() {
        // States: fresh, learned in some hours only, saturated counters; gaps that start
        // mid-hour, cross midnight, and span a whole day.
        let mut states = vec![HourlyRate::default()];
        let mut r = HourlyRate::default();
        for k in 0..500u64 {
            r.add(MINUTE * (1000 + k * 7) + k);
            if k % 50 == 0 {
                states.push(r.clone());
            }
        }
        let mut saturated = r.clone();
        saturated.minutes_by_hour = [255; 24];
        states.push(saturated);
        for state in states {
            for first in [1u32, 59, 60, 61, 1439, 1440, 2000] {
                for n in [0u32, 1, 2, 59, 60, 61, 300, 1440] {
                    for fresh in [true, false] {
                        let mut one_by_one = state.clone();
                        let mut f1 = fresh;
                        for i in 0..n {
                            one_by_one.fold(first + i, 0.0, &mut f1);
                        }
                        let mut at_once = state.clone();
                        let mut f2 = fresh;
                        at_once.fold_empty(first, n, &mut f2);
                        assert_eq!(f1, f2);
                        assert_eq!(one_by_one.overall.to_bits(), at_once.overall.to_bits());
                        for h in 0..24 {
                            assert_eq!(
                                one_by_one.by_hour[h].to_bits(),
                                at_once.by_hour[h].to_bits()
                            );
                        }
                        assert_eq!(one_by_one.minutes_by_hour, at_once.minutes_by_hour);
                    }
                }
            }
        }
    }

    #[test]
    fn long_gaps_decay_without_looping_forever() {
        let mut r = HourlyRate::default();
        for k in 0..100 {
            r.add(MINUTE + k);
        }
        r.add(MINUTE * 60 * 24 * 365);
        assert!(r.expected_per_minute(MINUTE * 60 * 24 * 365) < 1.0);
    }
}
