//! One tower-sessions store type over every backend, so the session layer
//! does not change shape with the storage URL.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Result, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

#[derive(Debug, Clone)]
pub enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
    Dynamo(super::dynamo::DynamoSessions),
}

impl Sessions {
    pub async fn migrate(&self) -> std::result::Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(s) => s.migrate().await,
            Self::Postgres(s) => s.migrate().await,
            Self::Dynamo(_) => Ok(()),
        }
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> Result<()> {
        match self {
            Self::Sqlite(s) => s.create(record).await,
            Self::Postgres(s) => s.create(record).await,
            Self::Dynamo(s) => s.create(record).await,
        }
    }
    async fn save(&self, record: &Record) -> Result<()> {
        match self {
            Self::Sqlite(s) => s.save(record).await,
            Self::Postgres(s) => s.save(record).await,
            Self::Dynamo(s) => s.save(record).await,
        }
    }
    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        match self {
            Self::Sqlite(s) => s.load(id).await,
            Self::Postgres(s) => s.load(id).await,
            Self::Dynamo(s) => s.load(id).await,
        }
    }
    async fn delete(&self, id: &Id) -> Result<()> {
        match self {
            Self::Sqlite(s) => s.delete(id).await,
            Self::Postgres(s) => s.delete(id).await,
            Self::Dynamo(s) => s.delete(id).await,
        }
    }
}
