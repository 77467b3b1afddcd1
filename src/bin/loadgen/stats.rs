//! Latency percentiles.

use serde::Serialize;

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// From samples in microseconds (sorted here).
    pub fn of(mut micros: Vec<u32>) -> Self {
        if micros.is_empty() {
            return Self::default();
        }
        micros.sort_unstable();
        let at = |q: f64| {
            let i = ((micros.len() as f64 - 1.0) * q).round() as usize;
            f64::from(micros[i]) / 1000.0
        };
        Self {
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}
