//! Server-side state: pending AuthnRequests, the replay cache and sessions.
//! The backend is chosen by the storage URL scheme: `sqlite://FILE` or
//! `postgres://…`.
//! Knows nothing of business rules.

use chrono::{DateTime, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::AnyPool;
use sqlx::{Row, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use tower_sessions_sqlx_store::{
    PostgresStore as PostgresSessionStore, SqliteStore as SqliteSessionStore,
};

pub mod dynamo;
mod sessions;
pub use sessions::Sessions;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage URL {0:?} is not supported; use sqlite://FILE or postgres://USER@HOST/DB")]
    Unsupported(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error(
        "the directory {dir} for the SQLite file does not exist; create it or change storage.url"
    )]
    NoDirectory { dir: String },
    #[error("DynamoDB: {0}")]
    Dynamo(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

fn dyn_err(e: dynamo::DynamoError) -> StoreError {
    StoreError::Dynamo(e.to_string())
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

/// Which database a [`Store`] talks to.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    Dynamo(dynamo::DynamoStore),
}

#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    /// The same database through sqlx's `Any` driver (SQL backends), for the
    /// audit module, whose SQL is written once for both engines.
    any: Option<AnyPool>,
}

/// `?` placeholders in order, as PostgreSQL's `$1, $2, …`.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
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

impl Store {
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
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            if let Some(dir) = sqlite_missing_dir(url) {
                return Err(StoreError::NoDirectory { dir });
            }
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await?;
            let any = AnyPoolOptions::new()
                .max_connections(4)
                .connect(url)
                .await?;
            return Ok(Self {
                backend: Backend::Sqlite(pool),
                any: Some(any),
            });
        }
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = match PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await
            {
                Ok(p) => p,
                Err(sqlx::Error::PoolTimedOut) => return Err(pg_cause(url).await),
                Err(e) => return Err(e.into()),
            };
            let any = AnyPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await?;
            return Ok(Self {
                backend: Backend::Postgres(pool),
                any: Some(any),
            });
        }
        Err(StoreError::Unsupported(url.to_string()))
    }

    /// Create or upgrade the schema (ours and the session store's).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
            Backend::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
            Backend::Dynamo(d) => {
                d.create_tables().await.map_err(dyn_err)?;
                return Ok(());
            }
        }
        self.sessions().migrate().await?;
        Ok(())
    }

    pub fn sessions(&self) -> Sessions {
        match &self.backend {
            Backend::Sqlite(p) => Sessions::Sqlite(SqliteSessionStore::new(p.clone())),
            Backend::Postgres(p) => Sessions::Postgres(PostgresSessionStore::new(p.clone())),
            Backend::Dynamo(d) => Sessions::Dynamo(d.sessions()),
        }
    }

    /// A store over DynamoDB tables (`dynamodb://<prefix>`).
    pub fn dynamo(d: dynamo::DynamoStore) -> Self {
        Self {
            backend: Backend::Dynamo(d),
            any: None,
        }
    }

    /// Whether `serve` creates or upgrades the schema itself (SQL stores).
    /// DynamoDB tables come from the deployment (template.yaml) or `migrate`.
    pub fn migrates_on_start(&self) -> bool {
        !matches!(self.backend, Backend::Dynamo(_))
    }

    /// The audit trail in this store.
    pub fn audit(&self) -> crate::audit::Audit {
        match (&self.backend, &self.any) {
            (Backend::Dynamo(d), _) => crate::audit::Audit::dynamo(d.audit()),
            (_, Some(p)) => crate::audit::Audit::new(p.clone()),
            // `open` builds every SQL store with its Any pool.
            (_, None) => unreachable!("a SQL store without its Any pool"),
        }
    }

    fn pool(&self) -> Result<&AnyPool, StoreError> {
        self.any
            .as_ref()
            .ok_or(StoreError::Unsupported("no SQL pool for this store".into()))
    }

    fn dynamo_store(&self) -> Option<&dynamo::DynamoStore> {
        match &self.backend {
            Backend::Dynamo(d) => Some(d),
            _ => None,
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        if let Some(d) = self.dynamo_store() {
            return d.ping().await.map_err(dyn_err);
        }
        sqlx::query("SELECT 1").execute(self.pool()?).await?;
        Ok(())
    }

    fn dialect(&self, s: &str) -> String {
        match &self.any {
            Some(pool) => dialect(pool, s),
            None => s.to_string(),
        }
    }

    pub async fn put_pending(
        &self,
        relay_state: &str,
        pending: &Pending,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(d) = self.dynamo_store() {
            return d
                .put_pending(relay_state, pending, now, expires)
                .await
                .map_err(dyn_err);
        }
        let sql = self.dialect("INSERT INTO pending_requests (relay_state, request_id, return_to, role_hint, browser_nonce, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
        sqlx::query(&sql)
            .bind(relay_state)
            .bind(&pending.request_id)
            .bind(&pending.return_to)
            .bind(&pending.role_hint)
            .bind(&pending.browser_nonce)
            .bind(now.timestamp())
            .bind(expires.timestamp())
            .execute(self.pool()?)
            .await?;
        Ok(())
    }

    /// Remove and return the pending request for `relay_state` if it was
    /// started by the browser holding `browser_nonce` and has not expired.
    /// A request from another browser is left in place (it cannot be burned
    /// by someone who merely saw the RelayState).
    pub async fn take_pending(
        &self,
        relay_state: &str,
        browser_nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Pending>, StoreError> {
        if let Some(d) = self.dynamo_store() {
            return d
                .take_pending(relay_state, browser_nonce, now)
                .await
                .map_err(dyn_err);
        }
        let sql = self.dialect("DELETE FROM pending_requests WHERE relay_state = ? AND browser_nonce = ? RETURNING request_id, return_to, role_hint, browser_nonce, expires_at");
        let row = sqlx::query(&sql)
            .bind(relay_state)
            .bind(browser_nonce)
            .fetch_optional(self.pool()?)
            .await?;
        Ok(row.and_then(|r| {
            let expires: i64 = r.get("expires_at");
            (expires > now.timestamp()).then(|| Pending {
                request_id: r.get("request_id"),
                return_to: r.get("return_to"),
                role_hint: r.get("role_hint"),
                browser_nonce: r.get("browser_nonce"),
            })
        }))
    }

    /// Record an accepted assertion id. Returns false when it was already
    /// seen and is still remembered (a replay). One statement, so two
    /// instances racing on the same id cannot both win.
    pub async fn remember_assertion(
        &self,
        assertion_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if let Some(d) = self.dynamo_store() {
            return d
                .remember_assertion(assertion_id, until, now)
                .await
                .map_err(dyn_err);
        }
        let sql = self.dialect(
            "INSERT INTO replay_cache (assertion_id, expires_at) VALUES (?, ?) \
             ON CONFLICT (assertion_id) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE replay_cache.expires_at <= ?",
        );
        let done = sqlx::query(&sql)
            .bind(assertion_id)
            .bind(until.timestamp())
            .bind(now.timestamp())
            .execute(self.pool()?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Delete expired pending requests and replay entries; returns rows removed.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        if let Some(d) = self.dynamo_store() {
            return d.sweep(now).await.map_err(dyn_err);
        }
        let mut n = 0;
        for table in ["pending_requests", "replay_cache"] {
            let sql = self.dialect(&format!("DELETE FROM {table} WHERE expires_at <= ?"));
            n += sqlx::query(&sql)
                .bind(now.timestamp())
                .execute(self.pool()?)
                .await?
                .rows_affected();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::Duration as D;

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
    }
}
