//! The broker's counters for `/metrics` (Prometheus text format) and the
//! names it exports: one place, shared by the sign-in flows and the web layer.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Counters for `/metrics` (Prometheus text format).
#[derive(Default)]
pub struct Metrics(Mutex<BTreeMap<String, u64>>);

/// The Prometheus metric names the broker exports (docs/operations.md).
pub mod names {
    /// SP-initiated sign-ins started (`/saml/login`).
    pub const LOGIN_STARTED: &str = "broker_login_started_total";
    /// Responses at the ACS, by `outcome` and refusal `code`.
    pub const LOGIN: &str = "broker_login_total";
    /// Credential exchanges, by `mode` and `outcome`.
    pub const EXCHANGE: &str = "broker_exchange_total";
    /// SQL stores: transactions the writer committed (group commit).
    pub const STORE_BATCHES: &str = "broker_store_batches_total";
    /// SQL stores: writes committed in those transactions.
    pub const STORE_WRITES: &str = "broker_store_writes_total";
    /// SQL stores: writes that failed (answered 503).
    pub const STORE_WRITE_FAILURES: &str = "broker_store_write_failures_total";
}

impl Metrics {
    pub fn inc(&self, name: &str, labels: &[(&str, &str)]) {
        let key = if labels.is_empty() {
            name.to_string()
        } else {
            let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            format!("{name}{{{}}}", l.join(","))
        };
        if let Ok(mut m) = self.0.lock() {
            *m.entry(key).or_default() += 1;
        }
    }

    pub fn render(&self) -> String {
        let m = self.0.lock().map(|m| m.clone()).unwrap_or_default();
        let mut out = String::new();
        let mut last_name = String::new();
        for (k, v) in m {
            let name = k.split('{').next().unwrap_or_default().to_string();
            if name != last_name {
                out.push_str(&format!("# TYPE {name} counter\n"));
                last_name = name;
            }
            out.push_str(&format!("{k} {v}\n"));
        }
        out
    }
}
