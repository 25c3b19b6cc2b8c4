//! Sessions in the `sessions` table: read through the pool, written through
//! the store's writer (so a login's session is group-committed with the
//! other logins of its batch). The record is stored as JSON with its expiry
//! in Unix seconds.

use super::writer::{Done, Op, Writer};
use async_trait::async_trait;
use sqlx::{AnyPool, Row};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result, SessionStore};

#[derive(Clone, Debug)]
pub struct SqlSessions {
    pool: AnyPool,
    select: String,
    writer: Writer,
}

fn backend(e: impl std::fmt::Display) -> Error {
    Error::Backend(e.to_string())
}

impl SqlSessions {
    pub fn new(pool: AnyPool, writer: Writer) -> Self {
        let select = super::dialect(
            &pool,
            "SELECT data FROM sessions WHERE id = ? AND expires_at > ?",
        );
        Self {
            pool,
            select,
            writer,
        }
    }

    async fn write(&self, record: &Record, create: bool) -> Result<bool> {
        let data = serde_json::to_vec(record).map_err(|e| Error::Encode(e.to_string()))?;
        match self
            .writer
            .submit(Op::SaveSession {
                id: record.id.to_string(),
                data,
                expires: record.expiry_date.unix_timestamp(),
                create,
            })
            .await
            .map_err(backend)?
        {
            Done::Inserted(i) => Ok(i),
            other => Err(backend(format!("the store writer answered {other:?}"))),
        }
    }
}

#[async_trait]
impl SessionStore for SqlSessions {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // A 128-bit random id colliding is all but impossible; still, never
        // overwrite another person's session.
        for _ in 0..4 {
            if self.write(record, true).await? {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(backend("could not find a free session id"))
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.write(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let row = sqlx::query(&self.select)
            .bind(id.to_string())
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let data: Vec<u8> = row.try_get("data").map_err(backend)?;
        serde_json::from_slice(&data)
            .map(Some)
            .map_err(|e| Error::Decode(e.to_string()))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.writer
            .submit(Op::DeleteSession { id: id.to_string() })
            .await
            .map_err(backend)?;
        Ok(())
    }
}
