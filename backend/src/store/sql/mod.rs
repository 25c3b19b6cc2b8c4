//! SQLite and PostgreSQL: the SQL is written once, through sqlx's `Any`
//! driver with `?` placeholders ([`dialect`] numbers them for PostgreSQL).
//! Reads go through a pool; every write goes through the one
//! [`writer::Writer`] of the store (group commit).

mod audit;
mod query;
mod sessions;
pub mod writer;

pub use sessions::SqlSessions;

use super::{Pending, StateStore, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{AnyPool, Row};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use writer::{Done, Op, Writer};

/// A database error, cloneable so one failed batch can answer every caller.
#[derive(Debug, Clone)]
pub struct SqlError(Arc<str>);

impl SqlError {
    pub fn new(s: impl Into<String>) -> Self {
        Self(Arc::from(s.into()))
    }
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<sqlx::Error> for SqlError {
    fn from(e: sqlx::Error) -> Self {
        Self::new(e.to_string())
    }
}

impl From<serde_json::Error> for SqlError {
    fn from(e: serde_json::Error) -> Self {
        Self::new(format!("encoding: {e}"))
    }
}

impl From<SqlError> for StoreError {
    fn from(e: SqlError) -> Self {
        StoreError::Write(e.to_string())
    }
}

impl From<SqlError> for crate::audit::AuditError {
    fn from(e: SqlError) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<sqlx::Error> for crate::audit::AuditError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.to_string())
    }
}

/// `?` placeholders in order, as PostgreSQL's `$1, $2, …`.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether an `Any` pool talks to PostgreSQL (else SQLite).
pub fn is_postgres(pool: &AnyPool) -> bool {
    pool.connect_options()
        .database_url
        .scheme()
        .starts_with("postgres")
}

/// SQL written with `?` placeholders, in the pool's dialect.
pub fn dialect(pool: &AnyPool, s: &str) -> String {
    if is_postgres(pool) {
        numbered(s)
    } else {
        s.to_string()
    }
}

/// The directory a `sqlite://FILE` URL needs, when it does not exist
/// (SQLite itself only says "unable to open database file").
fn sqlite_missing_dir(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or_default();
    if file.is_empty() || file.starts_with(':') {
        return None;
    }
    let dir = std::path::Path::new(file).parent()?;
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return None;
    }
    Some(dir.display().to_string())
}

/// Why no connection could be made: the pool only says it timed out, so
/// one connection is tried directly for the real error (refused, DNS,
/// authentication).
async fn pg_cause(url: &str) -> StoreError {
    use sqlx::Connection;
    match tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(url)).await {
        Ok(Err(e)) => StoreError::Db(e),
        _ => StoreError::Db(sqlx::Error::PoolTimedOut),
    }
}

/// Which engine, and its native pool for migrations.
#[derive(Clone, Debug)]
enum Engine {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// A SQLite or PostgreSQL store: state, audit trail and sessions.
#[derive(Clone, Debug)]
pub struct SqlStore {
    engine: Engine,
    /// Reads.
    pool: AnyPool,
    /// Every write.
    writer: Writer,
}

impl SqlStore {
    /// Open (creating a SQLite file when absent) the store named by `url`;
    /// None when the URL is not a SQL one.
    pub async fn open(url: &str) -> Result<Option<Self>, StoreError> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            if let Some(dir) = sqlite_missing_dir(url) {
                return Err(StoreError::NoDirectory { dir });
            }
            // Creates the file and switches it to WAL (a property of the file).
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5));
            let native = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await?;
            let pool = AnyPoolOptions::new()
                .max_connections(8)
                .connect(url)
                .await?;
            return Ok(Some(Self {
                engine: Engine::Sqlite(native),
                pool,
                writer: Writer::start(url.to_string(), false),
            }));
        }
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let native = match PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await
            {
                Ok(p) => p,
                Err(sqlx::Error::PoolTimedOut) => return Err(pg_cause(url).await),
                Err(e) => return Err(e.into()),
            };
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await?;
            return Ok(Some(Self {
                engine: Engine::Postgres(native),
                pool,
                writer: Writer::start(url.to_string(), true),
            }));
        }
        Ok(None)
    }

    /// The read pool (the admin queries; tests that tamper with the trail).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    fn dialect(&self, s: &str) -> String {
        dialect(&self.pool, s)
    }

    pub fn sessions(&self) -> SqlSessions {
        SqlSessions::new(self.pool.clone(), self.writer.clone())
    }
}

/// A pending request read back by `DELETE … RETURNING`, unless expired.
fn pending_from_row(r: &AnyRow, now: i64) -> Option<Pending> {
    let expires: i64 = r.try_get("expires_at").ok()?;
    (expires > now).then(|| Pending {
        request_id: r.try_get("request_id").unwrap_or_default(),
        return_to: r.try_get("return_to").ok().flatten(),
        role_hint: r.try_get("role_hint").ok().flatten(),
        browser_nonce: r.try_get("browser_nonce").unwrap_or_default(),
    })
}

fn unexpected(d: Done) -> StoreError {
    StoreError::Write(format!("the store writer answered {d:?}"))
}

#[async_trait]
impl StateStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
            Engine::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    async fn put_pending(
        &self,
        relay_state: &str,
        pending: &Pending,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(Op::PutPending {
                relay_state: relay_state.to_string(),
                pending: pending.clone(),
                now: now.timestamp(),
                expires: expires.timestamp(),
            })
            .await?;
        Ok(())
    }

    async fn take_pending(
        &self,
        relay_state: &str,
        browser_nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Pending>, StoreError> {
        match self
            .writer
            .submit(Op::TakePending {
                relay_state: relay_state.to_string(),
                browser_nonce: browser_nonce.to_string(),
                now: now.timestamp(),
            })
            .await?
        {
            Done::Pending(p) => Ok(p),
            other => Err(unexpected(other)),
        }
    }

    async fn remember_assertion(
        &self,
        assertion_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self
            .writer
            .submit(Op::Remember {
                assertion_id: assertion_id.to_string(),
                until: until.timestamp(),
                now: now.timestamp(),
            })
            .await?
        {
            Done::Fresh(f) => Ok(f),
            other => Err(unexpected(other)),
        }
    }

    /// One writer job: the replay entry and the events commit together.
    async fn accept(
        &self,
        _audit: &dyn crate::audit::AuditLog,
        a: super::Accept,
    ) -> Result<(bool, Vec<crate::audit::Record>), StoreError> {
        match self
            .writer
            .submit(Op::Accept {
                assertion_id: a.assertion_id,
                until: a.until.timestamp(),
                now: a.now.timestamp(),
                fresh: a.fresh,
                replay: a.replay,
            })
            .await?
        {
            Done::Accepted(new, records) => Ok((new, records)),
            other => Err(unexpected(other)),
        }
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        match self
            .writer
            .submit(Op::Sweep {
                now: now.timestamp(),
            })
            .await?
        {
            Done::Rows(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }

    fn sessions(&self) -> super::Sessions {
        super::Sessions::new(SqlStore::sessions(self))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::audit::{AuditEvent, AuditLog, Outcome};
    use crate::store::Accept;

    struct Db(SqlStore, std::path::PathBuf);
    impl Drop for Db {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }

    async fn db() -> Db {
        let dir = std::env::temp_dir().join(format!("sb-writer-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = SqlStore::open(&format!("sqlite://{}/w.db", dir.display()))
            .await
            .unwrap()
            .unwrap();
        s.migrate().await.unwrap();
        Db(s, dir)
    }

    fn event(i: usize) -> AuditEvent {
        let mut e = AuditEvent::new(
            crate::audit::names::LOGIN_SUCCEEDED,
            Outcome::Success,
            Utc::now(),
        );
        e.subject = Some(format!("user{i}"));
        e
    }

    /// Many concurrent sign-ins: every one is committed, the chain is one
    /// linear sequence, and they shared transactions (group commit).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_share_batches_and_keep_one_chain() {
        let d = db().await;
        let now = Utc::now();
        let n = 400;
        let mut tasks = Vec::new();
        for i in 0..n {
            let s = d.0.clone();
            tasks.push(tokio::spawn(async move {
                s.accept(
                    &s,
                    Accept {
                        assertion_id: format!("_a{i}"),
                        until: now + chrono::Duration::seconds(300),
                        now,
                        fresh: vec![event(i)],
                        replay: vec![],
                    },
                )
                .await
                .unwrap()
            }));
        }
        for t in tasks {
            let (new, recs) = t.await.unwrap();
            assert!(new);
            assert_eq!(recs.len(), 1);
        }
        let (batches, jobs, failed) = d.0.writer().stats();
        assert_eq!((jobs, failed), (400, 0));
        assert!(
            batches < jobs,
            "{batches} batches for {jobs} jobs: no grouping"
        );
        let audit = crate::audit::Audit::new(Arc::new(d.0.clone()));
        let report = audit.verify().await.unwrap();
        assert_eq!(report.events, 400);
        assert!(report.broken.is_none(), "{report:?}");
        // A replay of any of them is refused, and its own event recorded.
        let (new, recs) =
            d.0.accept(
                &d.0,
                Accept {
                    assertion_id: "_a7".into(),
                    until: now + chrono::Duration::seconds(300),
                    now,
                    fresh: vec![event(9999)],
                    replay: vec![event(7)],
                },
            )
            .await
            .unwrap();
        assert!(!new);
        assert_eq!(recs[0].seq, 401);
        assert_eq!(recs[0].event.subject.as_deref(), Some("user7"));
    }

    /// One write that fails (a duplicate key) does not fail the others that
    /// were committed in the same batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failing_write_does_not_fail_its_batch() {
        let d = db().await;
        let now = Utc::now();
        let p = Pending {
            request_id: "_r".into(),
            return_to: None,
            role_hint: None,
            browser_nonce: "n".into(),
        };
        d.0.put_pending("dup", &p, now, now + chrono::Duration::seconds(60))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let s = d.0.clone();
            let p = p.clone();
            tasks.push(tokio::spawn(async move {
                let relay = if i == 25 {
                    "dup".to_string()
                } else {
                    format!("r{i}")
                };
                s.put_pending(&relay, &p, now, now + chrono::Duration::seconds(60))
                    .await
                    .is_ok()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap());
        }
        assert_eq!(ok, 49, "only the duplicate fails");
        let (_, _, failed) = d.0.writer().stats();
        assert_eq!(failed, 1);
        // The writer goes on working after the failure.
        assert!(d.0.take_pending("r3", "n", now).await.unwrap().is_some());
        let appended = d.0.append(vec![event(1), event(2)]).await.unwrap();
        assert_eq!(
            appended.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }
}
