//! Audit events with the keys and names of docs/audit.md, the append-only
//! hash-chained store, verification, and export encoders.
//!
//! Every event is written to the store *and* as one JSON log line (target
//! `audit`) for stdout collectors. Writing is part of the request: callers
//! fail closed when [`Audit::record`] returns an error.

pub mod chain;
pub mod dynamo;
pub mod export;
pub mod query;
pub mod retention;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use std::sync::Arc;
use tokio::sync::Mutex;

pub use chain::{ChainStatus, VerifyReport};

/// Every event name the broker writes (docs/audit.md), so the admin filter
/// offers each one even before the trail holds it.
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
    #[error("audit store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("audit chain head moved {0} times in a row; giving up")]
    Contended(u32),
    #[error("audit store (DynamoDB): {0}")]
    Dynamo(String),
}

pub use crate::store::{dialect as sql, is_postgres};

/// Where the trail lives.
#[derive(Clone)]
enum Backend {
    /// SQLite or PostgreSQL, through sqlx's `Any` driver.
    Sql(AnyPool),
    /// DynamoDB (the serverless deployment).
    Dynamo(dynamo::DynamoAudit),
}

/// The audit trail: an append-only, hash-chained table in the store.
#[derive(Clone)]
pub struct Audit {
    backend: Backend,
    /// Serialises this process's appends (other processes are kept linear by
    /// the database: a write lock and UNIQUE constraints, or DynamoDB's
    /// conditional transaction on the chain head).
    head: Arc<Mutex<()>>,
    status: Arc<std::sync::Mutex<ChainStatus>>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Audit")
    }
}

fn dyn_err(e: crate::store::dynamo::DynamoError) -> AuditError {
    match e {
        crate::store::dynamo::DynamoError::Contended(n) => AuditError::Contended(n),
        other => AuditError::Dynamo(other.to_string()),
    }
}

impl Audit {
    pub fn new(pool: AnyPool) -> Self {
        Self::with(Backend::Sql(pool))
    }

    pub fn dynamo(d: dynamo::DynamoAudit) -> Self {
        Self::with(Backend::Dynamo(d))
    }

    fn with(backend: Backend) -> Self {
        Self {
            backend,
            head: Arc::new(Mutex::new(())),
            status: Arc::new(std::sync::Mutex::new(ChainStatus::NotChecked)),
        }
    }

    /// The SQL pool, when the trail is in SQLite or PostgreSQL.
    pub fn sql_pool(&self) -> Option<&AnyPool> {
        match &self.backend {
            Backend::Sql(p) => Some(p),
            Backend::Dynamo(_) => None,
        }
    }

    /// Append `event` to the chain and log it. An error means the event is
    /// not recorded and the caller must not carry out the request.
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let line = serde_json::to_string(&event)?;
        let _guard = self.head.lock().await;
        match &self.backend {
            Backend::Sql(p) => {
                chain::append(p, &event).await?;
            }
            Backend::Dynamo(d) => {
                d.append(&event).await.map_err(dyn_err)?;
            }
        }
        tracing::info!(target: "audit", event = %event.event, outcome = event.outcome.as_str(), "{line}");
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
        let report = match &self.backend {
            Backend::Sql(p) => chain::verify(p).await?,
            Backend::Dynamo(d) => d.verify().await.map_err(dyn_err)?,
        };
        if let Ok(mut s) = self.status.lock() {
            *s = ChainStatus::from_report(&report, Utc::now());
        }
        Ok(report)
    }

    /// A page of events, newest first (keyset pagination on `seq`).
    pub async fn page(
        &self,
        f: &query::Filter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Record>, AuditError> {
        match &self.backend {
            Backend::Sql(p) => Ok(query::page(p, f, before, limit).await?),
            Backend::Dynamo(d) => d.page(f, before, limit).await.map_err(dyn_err),
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Record>, AuditError> {
        match &self.backend {
            Backend::Sql(p) => Ok(query::get(p, id).await?),
            Backend::Dynamo(d) => d.get(id).await.map_err(dyn_err),
        }
    }

    pub async fn histogram(
        &self,
        f: &query::Filter,
        buckets: usize,
    ) -> Result<Vec<query::Bucket>, AuditError> {
        match &self.backend {
            Backend::Sql(p) => Ok(query::histogram(p, f, buckets).await?),
            Backend::Dynamo(d) => d.histogram(f, buckets).await.map_err(dyn_err),
        }
    }

    pub async fn distinct_events(&self) -> Vec<String> {
        match &self.backend {
            Backend::Sql(p) => query::distinct_events(p).await,
            Backend::Dynamo(d) => d.distinct_events().await,
        }
    }

    /// The first matching event's time, when the backend can find it
    /// cheaply (SQL; None on DynamoDB or on an error).
    pub async fn first_time(&self, f: &query::Filter) -> Option<DateTime<Utc>> {
        match &self.backend {
            Backend::Sql(p) => query::first_time(p, f).await.ok().flatten(),
            Backend::Dynamo(_) => None,
        }
    }

    /// How many events match, when the backend can count cheaply (SQL).
    pub async fn count(&self, f: &query::Filter) -> Option<u64> {
        match &self.backend {
            Backend::Sql(p) => query::count(p, f)
                .await
                .ok()
                .and_then(|n| u64::try_from(n).ok()),
            Backend::Dynamo(_) => None,
        }
    }

    /// Every matching event, oldest first, streamed.
    pub fn stream(
        &self,
        f: query::Filter,
    ) -> std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Record, AuditError>> + Send>>
    {
        use futures_util::StreamExt;
        match &self.backend {
            Backend::Sql(p) => {
                Box::pin(query::stream_owned(p.clone(), f).map(|r| r.map_err(AuditError::from)))
            }
            Backend::Dynamo(d) => Box::pin(d.stream(&f).map(|r| r.map_err(dyn_err))),
        }
    }
}
