//! Server-side state: pending AuthnRequests, the replay cache, sessions and
//! the audit trail's storage. The backend is chosen by the storage URL:
//! `sqlite://FILE`, `postgres://…` ([`sql`]), `dynamodb://PREFIX`
//! ([`dynamo`]); [`memory`] is for tests.
//!
//! Each backend implements [`StateStore`] (here) and
//! [`crate::audit::AuditLog`] (the trail's rules stay in `audit`).
//! Knows nothing of business rules.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub mod dynamo;
pub mod memory;
mod sessions;
pub mod sql;
pub use sessions::Sessions;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage URL {0:?} is not supported; use sqlite://FILE or postgres://USER@HOST/DB")]
    Unsupported(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A write (group-committed) failed; nothing of it was kept.
    #[error("database write failed: {0}")]
    Write(String),
    #[error(
        "the directory {dir} for the SQLite file does not exist; create it or change storage.url"
    )]
    NoDirectory { dir: String },
    #[error("DynamoDB: {0}")]
    Dynamo(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A pending SP-initiated login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub request_id: String,
    pub return_to: Option<String>,
    /// A role asked for before sign-in (role switch after the assertion expired).
    pub role_hint: Option<String>,
    /// A random value also set as a cookie in the browser that started the
    /// sign-in; the response must come back from that browser (login CSRF).
    pub browser_nonce: String,
}

/// An accepted assertion and the audit events that go with it
/// ([`StateStore::accept`]).
#[derive(Debug, Clone)]
pub struct Accept {
    pub assertion_id: String,
    /// Remember the id until then (the assertion's last valid instant).
    pub until: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// Appended when the id is new.
    pub fresh: Vec<crate::audit::AuditEvent>,
    /// Appended when the id was already used (a replay).
    pub replay: Vec<crate::audit::AuditEvent>,
}

/// The broker's state (everything but the audit trail), as each backend
/// keeps it. Every write is durable when the call returns Ok.
#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    async fn ping(&self) -> Result<(), StoreError>;
    /// Create or upgrade the schema.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Whether `serve` migrates by itself (SQL; DynamoDB tables come from
    /// the deployment or `migrate`).
    fn migrates_on_start(&self) -> bool {
        true
    }
    async fn put_pending(
        &self,
        relay_state: &str,
        pending: &Pending,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Remove and return the pending request for `relay_state` if it was
    /// started by the browser holding `browser_nonce` and has not expired.
    /// A request from another browser is left in place (it cannot be burned
    /// by someone who merely saw the RelayState).
    async fn take_pending(
        &self,
        relay_state: &str,
        browser_nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Pending>, StoreError>;
    /// Record an accepted assertion id. Returns false when it was already
    /// seen and is still remembered (a replay). Atomic, so two instances
    /// racing on the same id cannot both win.
    async fn remember_assertion(
        &self,
        assertion_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// A sign-in's durable unit: remember the assertion id, then append
    /// `fresh` to `audit` when it was new or `replay` when it was a replay.
    /// Returns whether it was new, and the records appended. A backend that
    /// can do both in one transaction does (SQL); the default does them in
    /// turn, which still fails closed.
    async fn accept(
        &self,
        audit: &dyn crate::audit::AuditLog,
        assertion: Accept,
    ) -> Result<(bool, Vec<crate::audit::Record>), StoreError> {
        let new = self
            .remember_assertion(&assertion.assertion_id, assertion.until, assertion.now)
            .await?;
        let events = if new {
            assertion.fresh
        } else {
            assertion.replay
        };
        let records = audit
            .append(events)
            .await
            .map_err(|e| StoreError::Write(e.to_string()))?;
        Ok((new, records))
    }
    /// Delete expired rows; returns how many.
    async fn sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// The tower-sessions store over the same backend.
    fn sessions(&self) -> Sessions;
}

/// The store the application uses: one backend seen through both traits.
#[derive(Clone)]
pub struct Store {
    state: Arc<dyn StateStore>,
    audit: Arc<dyn crate::audit::AuditLog>,
    /// The read pool, for a SQL backend (benches, and tests that tamper).
    sql: Option<sqlx::AnyPool>,
    /// The group-commit writer, for a SQL backend.
    writer: Option<sql::writer::Writer>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    fn with<B: StateStore + crate::audit::AuditLog>(b: B) -> Self {
        let b = Arc::new(b);
        Self {
            state: b.clone(),
            audit: b,
            sql: None,
            writer: None,
        }
    }

    /// Open the store named by `url`, including `dynamodb://<prefix>` (which
    /// uses the default AWS credentials and `aws.region` / `aws.endpoint_url`).
    pub async fn open_with(
        url: &crate::config::StorageUrl,
        aws: &crate::config::AwsConfig,
    ) -> Result<Self, StoreError> {
        use crate::config::StorageUrl;
        match url {
            StorageUrl::Dynamo { url } => {
                let prefix = dynamo::table_prefix(url).map_err(dyn_err)?;
                let sdk = crate::awssdk::sdk_config_with_credentials(aws).await;
                Ok(Self::dynamo(dynamo::DynamoStore::new(&sdk, prefix).await))
            }
            StorageUrl::Sqlite { url, .. } | StorageUrl::Postgres { url } => Self::open(url).await,
        }
    }

    /// Open (creating a SQLite file when absent) the SQL store named by `url`.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        match sql::SqlStore::open(url).await? {
            Some(s) => {
                let (pool, writer) = (s.pool().clone(), s.writer().clone());
                Ok(Self {
                    sql: Some(pool),
                    writer: Some(writer),
                    ..Self::with(s)
                })
            }
            None => Err(StoreError::Unsupported(url.to_string())),
        }
    }

    /// A store over DynamoDB tables (`dynamodb://<prefix>`).
    pub fn dynamo(d: dynamo::DynamoStore) -> Self {
        Self {
            audit: Arc::new(d.audit()),
            state: Arc::new(d),
            sql: None,
            writer: None,
        }
    }

    /// A store in this process's memory (tests; nothing survives a restart).
    pub fn memory() -> Self {
        Self::with(memory::MemoryStore::default())
    }

    /// The SQL read pool, when the backend is SQLite or PostgreSQL.
    pub fn sql_pool(&self) -> Option<&sqlx::AnyPool> {
        self.sql.as_ref()
    }

    /// `(batches, writes, failed writes)` of the group-commit writer (SQL).
    pub fn writer_stats(&self) -> Option<(u64, u64, u64)> {
        self.writer.as_ref().map(sql::writer::Writer::stats)
    }

    /// Create or upgrade the schema.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.state.migrate().await
    }

    pub fn sessions(&self) -> Sessions {
        self.state.sessions()
    }

    /// Whether `serve` creates or upgrades the schema itself (SQL stores).
    /// DynamoDB tables come from the deployment (template.yaml) or `migrate`.
    pub fn migrates_on_start(&self) -> bool {
        self.state.migrates_on_start()
    }

    /// The audit trail in this store.
    pub fn audit(&self) -> crate::audit::Audit {
        crate::audit::Audit::new(self.audit.clone())
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.state.ping().await
    }

    pub async fn put_pending(
        &self,
        relay_state: &str,
        pending: &Pending,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.state
            .put_pending(relay_state, pending, now, expires)
            .await
    }

    /// See [`StateStore::take_pending`].
    pub async fn take_pending(
        &self,
        relay_state: &str,
        browser_nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Pending>, StoreError> {
        self.state
            .take_pending(relay_state, browser_nonce, now)
            .await
    }

    /// See [`StateStore::remember_assertion`].
    pub async fn remember_assertion(
        &self,
        assertion_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.state
            .remember_assertion(assertion_id, until, now)
            .await
    }

    /// Remember the assertion id and record its audit events, in one unit
    /// where the backend allows; see [`StateStore::accept`]. Returns whether
    /// the id was new (false: a replay, whose events were recorded instead).
    pub async fn accept(&self, assertion: Accept) -> Result<bool, StoreError> {
        let (new, records) = self.state.accept(self.audit.as_ref(), assertion).await?;
        crate::audit::log_lines(&records);
        Ok(new)
    }

    /// Delete expired pending requests, replay entries and sessions.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.state.sweep(now).await
    }
}

fn dyn_err(e: dynamo::DynamoError) -> StoreError {
    StoreError::Dynamo(e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::audit::{AuditEvent, Filter, Outcome};
    use chrono::Duration as D;
    use std::collections::HashMap;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    async fn store() -> (Store, tempdir::Dir) {
        let dir = tempdir::Dir::new();
        let s = Store::open(&format!("sqlite://{}/t.db", dir.0.display()))
            .await
            .unwrap();
        s.migrate().await.unwrap();
        (s, dir)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                let p = std::env::temp_dir().join(format!("sb-store-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&p).unwrap();
                Self(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[tokio::test]
    async fn pending_is_taken_once_and_expires() {
        let (s, _d) = store().await;
        let now = Utc::now();
        let p = Pending {
            request_id: "_r".into(),
            return_to: Some("/x".into()),
            role_hint: Some("arn:aws:iam::111111111111:role/Dev".into()),
            browser_nonce: "n".into(),
        };
        s.put_pending("rs1", &p, now, now + D::seconds(60))
            .await
            .unwrap();
        assert_eq!(
            s.take_pending("rs1", "n", now).await.unwrap(),
            Some(p.clone())
        );
        assert_eq!(s.take_pending("rs1", "n", now).await.unwrap(), None);
        s.put_pending("rs2", &p, now, now + D::seconds(60))
            .await
            .unwrap();
        assert_eq!(
            s.take_pending("rs2", "n", now + D::seconds(61))
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn replay_cache_refuses_second_use_until_expiry() {
        let (s, _d) = store().await;
        let now = Utc::now();
        assert!(s
            .remember_assertion("_a", now + D::seconds(60), now)
            .await
            .unwrap());
        assert!(!s
            .remember_assertion("_a", now + D::seconds(60), now)
            .await
            .unwrap());
        // After expiry the id may be reused (the IdP would not, but the cache must not grow forever).
        assert!(s
            .remember_assertion("_a", now + D::seconds(200), now + D::seconds(61))
            .await
            .unwrap());
        assert_eq!(s.sweep(now + D::seconds(500)).await.unwrap(), 1);
        // The in-memory store keeps the same rules.
        let m = Store::memory();
        assert!(m
            .remember_assertion("_a", now + D::seconds(60), now)
            .await
            .unwrap());
        assert!(!m
            .remember_assertion("_a", now + D::seconds(60), now)
            .await
            .unwrap());
        assert_eq!(m.sweep(now + D::seconds(500)).await.unwrap(), 1);
    }

    /// The same events through the SQL trail and the in-memory one (which
    /// reads with `matches` / `histogram_of`, as DynamoDB does): the same
    /// records, the same pages and the same histograms.
    #[tokio::test]
    async fn memory_and_sql_trails_agree() {
        let (sql, _d) = store().await;
        let (sql, mem) = (sql.audit(), Store::memory().audit());
        let specs = [
            (
                "login.succeeded",
                Outcome::Success,
                "2026-11-24T10:00:00Z",
                "alice",
                None,
            ),
            (
                "credentials.issued",
                Outcome::Success,
                "2026-11-24T10:00:01Z",
                "alice",
                None,
            ),
            (
                "login.failed",
                Outcome::Failure,
                "2026-11-24T23:59:59.999Z",
                "bob",
                Some("Signature INVALID"),
            ),
            (
                "login.failed",
                Outcome::Failure,
                "2026-11-25T00:00:00Z",
                "bob",
                Some("audience mismatch"),
            ),
            (
                "credentials.issued",
                Outcome::Success,
                "2026-11-25T08:30:00Z",
                "carol",
                None,
            ),
            (
                "login.failed",
                Outcome::Failure,
                "2026-11-26T12:00:00Z",
                "alice",
                Some("expired signature"),
            ),
        ];
        for (name, outcome, time, subject, reason) in specs {
            let mut e = AuditEvent::new(name, outcome, at(time));
            e.subject = Some(subject.to_string());
            e.reason = reason.map(str::to_string);
            e.role_arn = Some(format!("arn:aws:iam::111111111111:role/{subject}"));
            e.source_ip = Some(
                if subject == "bob" {
                    "198.51.100.7"
                } else {
                    "192.0.2.1"
                }
                .into(),
            );
            sql.record(e.clone()).await.unwrap();
            mem.record(e).await.unwrap();
        }
        assert!(sql.verify().await.unwrap().broken.is_none());
        assert!(mem.verify().await.unwrap().broken.is_none());
        let filters: Vec<HashMap<String, String>> = [
            vec![],
            vec![("subject", "alice")],
            vec![("outcome", "failure")],
            vec![("text", "SIGNATURE")],
            vec![("since", "2026-11-25")],
            vec![("until", "2026-11-24")],
            vec![
                ("since", "2026-11-24T10:00:01Z"),
                ("until", "2026-11-25T00:00:00Z"),
            ],
            vec![("event", "login.failed"), ("source_ip", "198.51.100.7")],
            vec![("role", "arn:aws:iam::111111111111:role/carol")],
            vec![("subject", "nobody")],
        ]
        .iter()
        .map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect();
        for q in &filters {
            let f = Filter::from_query(q).unwrap();
            let sql_page = sql.page(&f, None, 1000).await.unwrap();
            assert_eq!(mem.page(&f, None, 1000).await.unwrap(), sql_page, "{q:?}");
            assert_eq!(mem.count(&f).await, sql.count(&f).await, "{q:?}");
            for n in [1, 3, 24] {
                assert_eq!(
                    mem.histogram(&f, n).await.unwrap(),
                    sql.histogram(&f, n).await.unwrap(),
                    "{q:?} in {n} buckets"
                );
            }
        }
    }
}
