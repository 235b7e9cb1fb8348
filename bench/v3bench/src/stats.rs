//! Latency percentiles and error counts, as the fields of v2bench's rows
//! (`p50_ms` ... `max_ms`, `mean_ms`, `errors`), so the same scripts read both.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// Microsecond latencies of one run, sorted once all are in.
#[derive(Default)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    pub fn push(&mut self, us: u64) {
        self.0.push(us.min(u32::MAX as u64) as u32);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The p-th percentile in ms (nearest rank: the smallest value with at
    /// least p % of the values at or below it).
    fn pctl(sorted: &[u32], p: f64) -> Option<f64> {
        let n = sorted.len();
        let rank = (p / 100.0 * n as f64).ceil() as usize;
        let i = rank.clamp(1, n.max(1)) - 1;
        sorted.get(i).map(|&us| us as f64 / 1000.0)
    }

    /// `{prefix}p50_ms`, `p90`, `p99`, `p999`, `max`, `mean`.
    pub fn fields(mut self, prefix: &str) -> Map<String, Value> {
        self.0.sort_unstable();
        let s = &self.0;
        let mean = if s.is_empty() {
            None
        } else {
            let sum: u64 = s.iter().map(|&x| x as u64).sum();
            Some((sum as f64 / s.len() as f64).round() / 1000.0)
        };
        let mut m = Map::new();
        for (name, p) in [
            ("p50", 50.0),
            ("p90", 90.0),
            ("p99", 99.0),
            ("p999", 99.9),
            ("max", 100.0),
        ] {
            m.insert(format!("{prefix}{name}_ms"), json!(Self::pctl(s, p)));
        }
        m.insert(format!("{prefix}mean_ms"), json!(mean));
        m
    }
}

/// Errors by kind (gRPC code, or "client timeout"), with one message each
/// to tell what went wrong.
#[derive(Default)]
pub struct Errors {
    counts: BTreeMap<String, u64>,
    sample: BTreeMap<String, String>,
}

impl Errors {
    pub fn add(&mut self, kind: &str, message: &str) {
        *self.counts.entry(kind.to_string()).or_default() += 1;
        self.sample
            .entry(kind.to_string())
            .or_insert_with(|| message.chars().take(200).collect());
    }

    pub fn merge(&mut self, other: Errors) {
        for (k, n) in other.counts {
            *self.counts.entry(k).or_default() += n;
        }
        for (k, s) in other.sample {
            self.sample.entry(k).or_insert(s);
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// `errors`, `error_codes` and `error_samples`.
    pub fn fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("errors".into(), json!(self.total()));
        m.insert("error_codes".into(), json!(self.counts));
        if !self.sample.is_empty() {
            m.insert("error_samples".into(), json!(self.sample));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut l = Latencies::default();
        for us in 1..=1000 {
            l.push(us * 1000);
        }
        let f = l.fields("");
        assert_eq!(f["p50_ms"], json!(500.0));
        assert_eq!(f["p99_ms"], json!(990.0));
        assert_eq!(f["max_ms"], json!(1000.0));
        assert_eq!(f["mean_ms"], json!(500.5));
    }

    #[test]
    fn empty_has_no_percentiles() {
        let f = Latencies::default().fields("x_");
        assert_eq!(f["x_p50_ms"], Value::Null);
    }
}
