//! Audit events with the keys and names of docs/audit.md, the append-only
//! hash-chained store, verification, and export encoders.
//!
//! Every event is written to the store *and* as one JSON log line (target
//! `audit`) for stdout collectors. Writing is part of the request: callers
//! fail closed when [`Audit::record`] returns an error.

pub mod chain;
pub mod export;
pub mod query;
pub mod retention;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use std::pin::Pin;
use std::sync::Arc;

pub use chain::{ChainStatus, VerifyReport};
pub use query::{Bucket, Filter};

/// The audit event names (docs/audit.md). Code names events through these
/// constants, never through string literals.
pub mod names {
    pub const CONFIG_LOADED: &str = "config.loaded";
    pub const LOGIN_SUCCEEDED: &str = "login.succeeded";
    pub const LOGIN_FAILED: &str = "login.failed";
    pub const ROLE_SELECTED: &str = "role.selected";
    pub const CREDENTIALS_ISSUED: &str = "credentials.issued";
    pub const CREDENTIALS_RENEWED: &str = "credentials.renewed";
    pub const CREDENTIALS_FAILED: &str = "credentials.failed";
    pub const SESSION_EXPIRED: &str = "session.expired";
    pub const LOGOUT: &str = "logout";
    pub const ADMIN_AUDIT_VIEWED: &str = "admin.audit_viewed";
    pub const ADMIN_AUDIT_EXPORTED: &str = "admin.audit_exported";
    pub const ADMIN_AUDIT_DENIED: &str = "admin.audit_denied";
    pub const AUDIT_ARCHIVED: &str = "audit.archived";
}

/// Every event name the broker writes (docs/audit.md), so the admin filter
/// offers each one even before the trail holds it.
pub const EVENT_NAMES: &[&str] = &[
    names::CONFIG_LOADED,
    names::LOGIN_SUCCEEDED,
    names::LOGIN_FAILED,
    names::ROLE_SELECTED,
    names::CREDENTIALS_ISSUED,
    names::CREDENTIALS_RENEWED,
    names::CREDENTIALS_FAILED,
    names::SESSION_EXPIRED,
    names::LOGOUT,
    names::ADMIN_AUDIT_VIEWED,
    names::ADMIN_AUDIT_EXPORTED,
    names::ADMIN_AUDIT_DENIED,
    names::AUDIT_ARCHIVED,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// One audit event. Never holds a secret, an assertion or a token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    pub id: String,
    pub time: String,
    pub event: String,
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
    #[serde(default)]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

/// An event as stored: its place in the chain and its hashes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub seq: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    pub fn new(event: &'static str, outcome: Outcome, now: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            time: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            event: event.to_string(),
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

    pub fn time_ms(&self) -> i64 {
        DateTime::parse_from_rfc3339(&self.time)
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit event could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    /// The backend failed (its own words: a database error, DynamoDB, a full disk).
    #[error("audit store: {0}")]
    Store(String),
    #[error("audit chain head moved {0} times in a row; giving up")]
    Contended(u32),
    #[error("{0}")]
    Unsupported(&'static str),
}

/// A boxed stream of audit reads (`'static`, for `Body::from_stream`).
pub type RecordStream<T> = Pin<Box<dyn Stream<Item = Result<T, AuditError>> + Send>>;

/// Where the trail is kept: implemented by each store backend (store::sql,
/// store::dynamo, store::memory). The trail's rules (what an event holds,
/// how it is hashed, what verification checks) live here in `audit`; a
/// backend only appends in order and reads back.
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Append `events`, in order, as one durable unit: when this returns Ok,
    /// every one is committed (and synced); on an error none is.
    async fn append(&self, events: Vec<AuditEvent>) -> Result<Vec<Record>, AuditError>;
    /// The retention anchor's `(seq, hash)`, when older events were archived.
    async fn anchor(&self) -> Result<Option<(i64, String)>, AuditError>;
    /// Every event, oldest first, with the exact detail text that was hashed.
    fn chain(&self) -> RecordStream<(Record, String)>;
    /// Up to `limit` (1..=1000) matching events, newest first, all with
    /// `seq < before` when given (keyset pagination).
    async fn page(
        &self,
        f: &Filter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Record>, AuditError>;
    async fn get(&self, id: &str) -> Result<Option<Record>, AuditError>;
    async fn histogram(&self, f: &Filter, buckets: usize) -> Result<Vec<Bucket>, AuditError>;
    /// The event names present, sorted; empty on an error (logged).
    async fn distinct_events(&self) -> Vec<String>;
    /// The first matching event's time, when the backend finds it cheaply.
    async fn first_time(&self, _f: &Filter) -> Option<DateTime<Utc>> {
        None
    }
    /// How many events match, when the backend counts cheaply.
    async fn count(&self, _f: &Filter) -> Option<u64> {
        None
    }
    /// Every matching event, oldest first, bounded by the head when the
    /// first batch is read.
    fn stream(&self, f: Filter) -> RecordStream<Record>;
    /// Retention: the `(first, last)` seq of the events to archive (those up
    /// to the last one older than `cutoff`), or None when there are none.
    async fn retention_range(
        &self,
        _cutoff: DateTime<Utc>,
    ) -> Result<Option<(i64, i64)>, AuditError> {
        Err(AuditError::Unsupported(RETENTION_UNSUPPORTED))
    }
    /// Retention: anchor the chain on `(last, hash)` and delete every event
    /// up to `last`, in one transaction.
    async fn anchor_and_delete(
        &self,
        _last: i64,
        _hash: &str,
        _archive: &str,
    ) -> Result<(), AuditError> {
        Err(AuditError::Unsupported(RETENTION_UNSUPPORTED))
    }
}

const RETENTION_UNSUPPORTED: &str = "retention is not available for the DynamoDB store; archive with `saml-broker audit export` and DynamoDB's own tools";

/// Write each recorded event as one JSON log line (target `audit`), for
/// stdout collectors; called once the events are committed.
pub fn log_lines(records: &[Record]) {
    for rec in records {
        let e = &rec.event;
        match serde_json::to_string(e) {
            Ok(line) => {
                tracing::info!(target: "audit", event = %e.event, outcome = e.outcome.as_str(), "{line}");
            }
            Err(err) => tracing::warn!(error = %err, "audit event could not be logged"),
        }
    }
}

/// The audit trail: an append-only, hash-chained log in the store.
#[derive(Clone)]
pub struct Audit {
    log: Arc<dyn AuditLog>,
    status: Arc<std::sync::Mutex<ChainStatus>>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Audit")
    }
}

impl Audit {
    pub fn new(log: Arc<dyn AuditLog>) -> Self {
        Self {
            log,
            status: Arc::new(std::sync::Mutex::new(ChainStatus::NotChecked)),
        }
    }

    /// The backend, for retention.
    pub fn log(&self) -> &dyn AuditLog {
        self.log.as_ref()
    }

    /// Append `event` to the chain and log it. An error means the event is
    /// not recorded and the caller must not carry out the request.
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.record_all(vec![event]).await
    }

    /// Append `events` as one unit (all or none) and log them.
    pub async fn record_all(&self, events: Vec<AuditEvent>) -> Result<(), AuditError> {
        let records = self.log.append(events).await?;
        log_lines(&records);
        Ok(())
    }

    /// The result of the most recent full verification.
    pub fn chain_status(&self) -> ChainStatus {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or(ChainStatus::NotChecked)
    }

    /// Verify the whole chain now and remember the result.
    pub async fn verify(&self) -> Result<VerifyReport, AuditError> {
        use futures_util::TryStreamExt;
        let mut walk = chain::Walk::new(self.log.anchor().await?);
        let mut rows = self.log.chain();
        let mut broken = None;
        while let Some((rec, detail_text)) = rows.try_next().await? {
            if let Some(b) = walk.check(&rec, &detail_text) {
                broken = Some(b);
                break;
            }
        }
        let report = walk.report(broken);
        if let Ok(mut s) = self.status.lock() {
            *s = ChainStatus::from_report(&report, Utc::now());
        }
        Ok(report)
    }

    /// A page of events, newest first (keyset pagination on `seq`).
    pub async fn page(
        &self,
        f: &Filter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Record>, AuditError> {
        self.log.page(f, before, limit).await
    }

    pub async fn get(&self, id: &str) -> Result<Option<Record>, AuditError> {
        self.log.get(id).await
    }

    pub async fn histogram(&self, f: &Filter, buckets: usize) -> Result<Vec<Bucket>, AuditError> {
        self.log.histogram(f, buckets).await
    }

    pub async fn distinct_events(&self) -> Vec<String> {
        self.log.distinct_events().await
    }

    /// The first matching event's time, when the backend can find it
    /// cheaply (SQL; None on DynamoDB or on an error).
    pub async fn first_time(&self, f: &Filter) -> Option<DateTime<Utc>> {
        self.log.first_time(f).await
    }

    /// How many events match, when the backend can count cheaply (SQL).
    pub async fn count(&self, f: &Filter) -> Option<u64> {
        self.log.count(f).await
    }

    /// Every matching event, oldest first, streamed.
    pub fn stream(&self, f: Filter) -> RecordStream<Record> {
        self.log.stream(f)
    }
}
