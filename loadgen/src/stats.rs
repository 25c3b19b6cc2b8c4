//! Latency summaries: every sample kept (microseconds), sorted once at the end.

use serde_json::json;

#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    pub fn of(mut micros: Vec<u32>) -> Self {
        if micros.is_empty() {
            return Self::default();
        }
        micros.sort_unstable();
        let n = micros.len();
        let at = |q: f64| {
            // Nearest rank: the smallest sample with at least q of them at or below it.
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            f64::from(micros[rank - 1]) / 1000.0
        };
        let sum: u64 = micros.iter().map(|&m| u64::from(m)).sum();
        Self {
            count: n,
            mean_ms: sum as f64 / n as f64 / 1000.0,
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: at(1.0),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        let r = |x: f64| (x * 1000.0).round() / 1000.0;
        json!({
            "count": self.count,
            "mean": r(self.mean_ms),
            "p50": r(self.p50_ms),
            "p99": r(self.p99_ms),
            "p99_9": r(self.p999_ms),
            "max": r(self.max_ms),
        })
    }
}

/// Microseconds, saturating at u32::MAX (71 minutes).
pub fn micros(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}
