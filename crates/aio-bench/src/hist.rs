//! A fixed-size log-linear latency histogram: recording is an index computation and an
//! increment, never an allocation.
//!
//! Values below 64 are counted exactly; above, every power of two is split into 32 equal
//! buckets, so a reported percentile is within 1/32 (3.1 %) of the true value. 1920 buckets
//! cover the whole `u64` range. The C baseline of `cargo xtask bench` uses the same buckets.

/// Number of buckets: values up to `u64::MAX`.
pub const BUCKETS: usize = 1920;

/// Sub-buckets per power of two (`2^SUB_BITS`).
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Values below this are their own bucket.
const LINEAR: u64 = 2 * SUB;

/// Latencies in nanoseconds (or any `u64`), with exact count, sum, minimum and maximum.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    count: u64,
    sum: u128,
    /// The sum of the squares, for the standard deviation.
    sum_sq: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("min", &self.min())
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

/// The bucket of `v`.
#[inline]
pub fn bucket_index(v: u64) -> usize {
    if v < LINEAR {
        v as usize
    } else {
        let group = 63 - v.leading_zeros() - SUB_BITS;
        (SUB * u64::from(group) + (v >> group)) as usize
    }
}

/// The smallest and largest value counted in bucket `index`.
pub fn bucket_bounds(index: usize) -> (u64, u64) {
    let i = index as u64;
    if i < LINEAR {
        (i, i)
    } else {
        let group = i / SUB - 1;
        let low = (i % SUB + SUB) << group;
        (low, low + ((1u64 << group) - 1))
    }
}

impl Histogram {
    /// An empty histogram (allocates its buckets once).
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            sum: 0,
            sum_sq: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Counts one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[bucket_index(v)] += 1;
        self.count += 1;
        self.sum += u128::from(v);
        self.sum_sq += u128::from(v) * u128::from(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Values counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The smallest value (0 when empty).
    pub fn min(&self) -> u64 {
        if self.count == 0 { 0 } else { self.min }
    }

    /// The largest value (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The exact mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The population standard deviation, exact (0 with fewer than two values), as fio's
    /// `stddev`.
    pub fn stddev(&self) -> f64 {
        if self.count < 2 {
            return 0.0;
        }
        let n = self.count as f64;
        let mean = self.sum as f64 / n;
        (self.sum_sq as f64 / n - mean * mean).max(0.0).sqrt()
    }

    /// The value at quantile `q` (0.5 for the median, 0.999 for p99.9): the upper bound of the
    /// bucket holding the `ceil(q × count)`-th smallest value, clamped to the exact minimum and
    /// maximum. 0 when empty.
    pub fn percentile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (index, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_bounds(index).1.clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_range() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(63), 63);
        assert_eq!(bucket_index(64), 64);
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
        let mut next = 0u64;
        for index in 0..BUCKETS {
            let (low, high) = bucket_bounds(index);
            assert_eq!(low, next, "bucket {index} starts where the previous ended");
            assert!(high >= low);
            assert_eq!(bucket_index(low), index);
            assert_eq!(bucket_index(high), index);
            next = high.wrapping_add(1);
        }
        assert_eq!(next, 0, "the last bucket ends at u64::MAX");
    }

    #[test]
    fn relative_error_is_bounded() {
        for v in [100u64, 1_000, 12_345, 999_999, 1 << 40, u64::MAX / 3] {
            let (low, high) = bucket_bounds(bucket_index(v));
            assert!(low <= v && v <= high);
            assert!((high - low) as f64 / low as f64 <= 1.0 / 32.0 + 1e-12);
        }
    }

    #[test]
    fn empty() {
        let h = Histogram::new();
        assert_eq!(h.count(), 0);
        assert_eq!(h.percentile(0.5), 0);
        assert_eq!((h.min(), h.max(), h.mean()), (0, 0, 0.0));
    }

    #[test]
    fn exact_below_64() {
        let mut h = Histogram::new();
        for v in 1..=50 {
            h.record(v);
        }
        assert_eq!(h.percentile(0.5), 25);
        assert_eq!(h.percentile(0.9), 45);
        assert_eq!(h.percentile(0.99), 50);
        assert_eq!(h.percentile(0.0), 1);
        assert_eq!(h.percentile(1.0), 50);
        assert_eq!(h.mean(), 25.5);
    }

    #[test]
    fn percentiles_of_a_uniform_range() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v * 10); // 10 ns .. 1 ms
        }
        for (q, exact) in [(0.5, 500_000.0), (0.9, 900_000.0), (0.99, 990_000.0)] {
            let got = h.percentile(q) as f64;
            assert!(
                got >= exact && got <= exact * (1.0 + 1.0 / 32.0),
                "p{q}: {got}"
            );
        }
        assert_eq!(
            h.percentile(0.999_99),
            1_000_000,
            "clamped to the exact maximum"
        );
        assert_eq!((h.min(), h.max()), (10, 1_000_000));
    }

    #[test]
    fn one_outlier() {
        let mut h = Histogram::new();
        for _ in 0..999 {
            h.record(2_000);
        }
        h.record(5_000_000);
        // 2000 lies in the bucket [1984, 2015]: the upper bound is reported.
        assert_eq!(h.percentile(0.5), 2_015);
        assert_eq!(h.percentile(0.999), 2_015);
        assert_eq!(h.percentile(0.9999), 5_000_000);
        assert_eq!(h.max(), 5_000_000);
    }

    #[test]
    fn stddev_is_the_population_one() {
        let mut h = Histogram::new();
        assert_eq!(h.stddev(), 0.0);
        for v in [2, 4, 4, 4, 5, 5, 7, 9] {
            h.record(v);
        }
        assert_eq!((h.mean(), h.stddev()), (5.0, 2.0));
        let mut merged = Histogram::new();
        merged.merge(&h);
        assert_eq!(merged.stddev(), 2.0);
    }

    #[test]
    fn merge_adds() {
        let (mut a, mut b) = (Histogram::new(), Histogram::new());
        a.record(10);
        b.record(1_000);
        b.record(3);
        a.merge(&b);
        assert_eq!((a.count(), a.min(), a.max()), (3, 3, 1_000));
        assert_eq!(a.percentile(0.5), 10);
    }
}
