//! Audit events with the keys and names of CONTRACT.md.
//!
//! This slice writes each event as one structured JSON log line (target
//! `audit`). The hash-chained, append-only store replaces the sink behind
//! [`Audit::record`] without changing callers; `record` already returns a
//! `Result` so that callers fail closed.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

/// One audit event. Never holds a secret, an assertion or a token.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub id: String,
    pub time: String,
    pub event: &'static str,
    pub outcome: Outcome,
    pub subject: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub idp: Option<String>,
    pub assertion_id: Option<String>,
    pub role_arn: Option<String>,
    pub access_key_id: Option<String>,
    pub reason: Option<String>,
    /// Extra, event-specific detail (never secret).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

impl AuditEvent {
    pub fn new(event: &'static str, outcome: Outcome, now: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            time: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            event,
            outcome,
            subject: None,
            source_ip: None,
            user_agent: None,
            request_id: None,
            idp: None,
            assertion_id: None,
            role_arn: None,
            access_key_id: None,
            reason: None,
            detail: serde_json::Map::new(),
        }
    }

    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.detail.insert(key.to_string(), value.into());
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit event could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

#[derive(Debug, Clone, Default)]
pub struct Audit;

impl Audit {
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let line = serde_json::to_string(&event)?;
        tracing::info!(target: "audit", event = event.event, outcome = ?event.outcome, "{line}");
        Ok(())
    }
}
