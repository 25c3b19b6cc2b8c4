//! Server-side state: pending AuthnRequests, the replay cache and sessions.
//! The backend is chosen by the storage URL scheme; this build has SQLite.
//! Knows nothing of business rules.

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use tower_sessions_sqlx_store::SqliteStore as SqliteSessionStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage URL {0:?} is not supported; use sqlite://FILE")]
    Unsupported(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
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
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Open (creating the file when absent) the store named by `url`.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Unsupported(url.to_string()));
        }
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await?;
        Ok(Self { pool })
    }

    /// Create or upgrade the schema (ours and the session store's).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await?;
        self.sessions().migrate().await?;
        Ok(())
    }

    pub fn sessions(&self) -> SqliteSessionStore {
        SqliteSessionStore::new(self.pool.clone())
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn put_pending(
        &self,
        relay_state: &str,
        pending: &Pending,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO pending_requests (relay_state, request_id, return_to, role_hint, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(relay_state)
            .bind(&pending.request_id)
            .bind(&pending.return_to)
            .bind(&pending.role_hint)
            .bind(now.timestamp())
            .bind(expires.timestamp())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Remove and return the pending request for `relay_state` if it has not expired.
    pub async fn take_pending(
        &self,
        relay_state: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Pending>, StoreError> {
        let row = sqlx::query("DELETE FROM pending_requests WHERE relay_state = ? RETURNING request_id, return_to, role_hint, expires_at")
            .bind(relay_state)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| {
            let expires: i64 = r.get("expires_at");
            (expires > now.timestamp()).then(|| Pending {
                request_id: r.get("request_id"),
                return_to: r.get("return_to"),
                role_hint: r.get("role_hint"),
            })
        }))
    }

    /// Record an accepted assertion id. Returns false when it was already
    /// seen and is still remembered (a replay).
    pub async fn remember_assertion(
        &self,
        assertion_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO replay_cache (assertion_id, expires_at) VALUES (?, ?) \
             ON CONFLICT (assertion_id) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE replay_cache.expires_at <= ?",
        )
        .bind(assertion_id)
        .bind(until.timestamp())
        .bind(now.timestamp())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Delete expired pending requests and replay entries; returns rows removed.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let a = sqlx::query("DELETE FROM pending_requests WHERE expires_at <= ?")
            .bind(now.timestamp())
            .execute(&self.pool)
            .await?
            .rows_affected();
        let b = sqlx::query("DELETE FROM replay_cache WHERE expires_at <= ?")
            .bind(now.timestamp())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(a + b)
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
        };
        s.put_pending("rs1", &p, now, now + D::seconds(60))
            .await
            .unwrap();
        assert_eq!(s.take_pending("rs1", now).await.unwrap(), Some(p.clone()));
        assert_eq!(s.take_pending("rs1", now).await.unwrap(), None);
        s.put_pending("rs2", &p, now, now + D::seconds(60))
            .await
            .unwrap();
        assert_eq!(
            s.take_pending("rs2", now + D::seconds(61)).await.unwrap(),
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
