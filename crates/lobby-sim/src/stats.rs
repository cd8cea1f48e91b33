//! Small statistics: means, percentiles, the Gini coefficient, and Student-t confidence intervals
//! over independent replications.

use serde::Serialize;

/// A mean over independent replications with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The mean of the replications' values.
    pub mean: f64,
    /// Half the width of the confidence interval; `None` with fewer than 2 replications.
    pub half_width: Option<f64>,
}

impl Estimate {
    /// The mean and a Student-t interval at `confidence` over `values`, one per replication.
    pub fn of(values: &[f64], confidence: Confidence) -> Self {
        let n = values.len();
        let mean = mean(values);
        if n < 2 {
            return Self { mean, half_width: None };
        }
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half_width = confidence.t_quantile(n - 1) * (variance / n as f64).sqrt();
        Self { mean, half_width: Some(half_width) }
    }

    /// Whether `value` lies in the interval (always false without one).
    pub fn contains(&self, value: f64) -> bool {
        self.half_width.is_some_and(|h| (value - self.mean).abs() <= h)
    }
}

/// Two-sided confidence levels with tabulated Student-t quantiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Confidence {
    /// 95 %.
    #[default]
    NinetyFive,
    /// 99 %.
    NinetyNine,
}

impl Confidence {
    /// `0.95` or `0.99`.
    pub fn level(self) -> f64 {
        match self {
            Self::NinetyFive => 0.95,
            Self::NinetyNine => 0.99,
        }
    }

    /// The two-sided Student-t quantile for `df` degrees of freedom: exact table values up to 30,
    /// then the Cornish–Fisher expansion around the normal quantile (error below 1e-4).
    pub fn t_quantile(self, df: usize) -> f64 {
        const T975: [f64; 30] = [
            12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
            2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
        ];
        const T995: [f64; 30] = [
            63.657, 9.925, 5.841, 4.604, 4.032, 3.707, 3.499, 3.355, 3.250, 3.169, 3.106, 3.055, 3.012, 2.977, 2.947,
            2.921, 2.898, 2.878, 2.861, 2.845, 2.831, 2.819, 2.807, 2.797, 2.787, 2.779, 2.771, 2.763, 2.756, 2.750,
        ];
        let (table, z) = match self {
            Self::NinetyFive => (&T975, 1.959_963_985),
            Self::NinetyNine => (&T995, 2.575_829_304),
        };
        if (1..=30).contains(&df) {
            return table[df - 1];
        }
        let v = df.max(1) as f64;
        let z3 = z * z * z;
        let z5 = z3 * z * z;
        let z7 = z5 * z * z;
        z + (z3 + z) / (4.0 * v)
            + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * v * v)
            + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * v * v * v)
    }
}

/// The arithmetic mean; 0 for no values.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// The `q`-quantile (0 to 1) of sorted values by the nearest-rank method; 0 for no values.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The Gini coefficient of non-negative values: 0 when all are equal, towards 1 when one holds
/// everything. 0 for no values or an all-zero list.
pub fn gini(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let total: f64 = sorted.iter().sum();
    if sorted.is_empty() || total <= 0.0 {
        return 0.0;
    }
    let weighted: f64 = sorted.iter().enumerate().map(|(i, x)| (2.0 * (i as f64 + 1.0) - n - 1.0) * x).sum();
    weighted / (n * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gini_of_equal_and_concentrated_loads() {
        assert_eq!(gini(&[5.0, 5.0, 5.0, 5.0]), 0.0);
        assert!((gini(&[0.0, 0.0, 0.0, 12.0]) - 0.75).abs() < 1e-12);
        assert!((gini(&[1.0, 2.0, 3.0, 4.0]) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.5), 50.0);
        assert_eq!(percentile(&sorted, 0.95), 95.0);
        assert_eq!(percentile(&sorted, 1.0), 100.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn t_quantiles_join_the_table_smoothly() {
        // Published values for 40 and 120 degrees of freedom.
        assert!((Confidence::NinetyFive.t_quantile(40) - 2.021).abs() < 1e-3);
        assert!((Confidence::NinetyFive.t_quantile(120) - 1.980).abs() < 1e-3);
        assert!((Confidence::NinetyNine.t_quantile(60) - 2.660).abs() < 1e-3);
    }

    #[test]
    fn intervals_need_two_replications() {
        assert_eq!(Estimate::of(&[3.0], Confidence::NinetyFive).half_width, None);
        let e = Estimate::of(&[1.0, 2.0, 3.0], Confidence::NinetyFive);
        assert!((e.half_width.unwrap() - 4.303 * (1.0f64 / 3.0).sqrt()).abs() < 1e-9);
        assert!(e.contains(2.5) && !e.contains(5.0));
    }
}
