//! The audit trail in SQL: appends go through the writer (one transaction
//! per batch, the chain computed in order there); reads through the pool.

use super::writer::{Done, Op};
use super::{query, SqlStore};
use crate::audit::{
    AuditError, AuditEvent, AuditLog, Bucket, Filter, Outcome, Record, RecordStream,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use sqlx::any::AnyRow;
use sqlx::Row;

/// Rows read per round trip when walking the chain.
const CHAIN_BATCH: i64 = 1000;

/// Read a stored row back into a record (and the exact detail text).
pub fn from_row(r: &AnyRow) -> Result<(Record, String), sqlx::Error> {
    let detail_text: String = r.try_get("detail")?;
    let detail = serde_json::from_str(&detail_text).unwrap_or_default();
    let outcome: String = r.try_get("outcome")?;
    Ok((
        Record {
            seq: r.try_get("seq")?,
            event: AuditEvent {
                id: r.try_get("id")?,
                time: r.try_get("time")?,
                event: r.try_get("event")?,
                outcome: if outcome == "success" {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
                subject: r.try_get("subject")?,
                source_ip: r.try_get("source_ip")?,
                user_agent: r.try_get("user_agent")?,
                request_id: r.try_get("request_id")?,
                idp: r.try_get("idp")?,
                assertion_id: r.try_get("assertion_id")?,
                role_arn: r.try_get("role_arn")?,
                access_key_id: r.try_get("access_key_id")?,
                reason: r.try_get("reason")?,
                detail,
            },
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        },
        detail_text,
    ))
}

#[async_trait]
impl AuditLog for SqlStore {
    async fn append(&self, events: Vec<AuditEvent>) -> Result<Vec<Record>, AuditError> {
        match self.writer.submit(Op::Append(events)).await? {
            Done::Records(r) => Ok(r),
            other => Err(AuditError::Store(format!(
                "the store writer answered {other:?}"
            ))),
        }
    }

    async fn anchor(&self) -> Result<Option<(i64, String)>, AuditError> {
        Ok(
            sqlx::query("SELECT seq, hash FROM audit_anchor WHERE one = 1")
                .fetch_optional(&self.pool)
                .await?
                .map(|r| (r.get("seq"), r.get("hash"))),
        )
    }

    fn chain(&self) -> RecordStream<(Record, String)> {
        // Keyset batches: bounded memory, and no read transaction held for
        // the whole walk (which would keep SQLite from checkpointing).
        let select = self.dialect("SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?");
        let start = (self.pool.clone(), select, i64::MIN, false);
        let batches =
            futures_util::stream::unfold(start, |(pool, select, after, done)| async move {
                if done {
                    return None;
                }
                let rows = sqlx::query(&select)
                    .bind(after)
                    .bind(CHAIN_BATCH)
                    .fetch_all(&pool)
                    .await;
                let batch: Vec<Result<(Record, String), AuditError>> = match rows {
                    Ok(rows) => rows
                        .iter()
                        .map(|r| from_row(r).map_err(AuditError::from))
                        .collect(),
                    Err(e) => vec![Err(e.into())],
                };
                let last = batch
                    .iter()
                    .rev()
                    .find_map(|r| r.as_ref().ok().map(|(rec, _)| rec.seq));
                let done = batch.len() < usize::try_from(CHAIN_BATCH).unwrap_or(0)
                    || batch.iter().any(Result::is_err);
                Some((batch, (pool, select, last.unwrap_or(after), done)))
            });
        Box::pin(batches.flat_map(futures_util::stream::iter))
    }

    async fn page(
        &self,
        f: &Filter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Record>, AuditError> {
        Ok(query::page(&self.pool, f, before, limit).await?)
    }

    async fn get(&self, id: &str) -> Result<Option<Record>, AuditError> {
        Ok(query::get(&self.pool, id).await?)
    }

    async fn histogram(&self, f: &Filter, buckets: usize) -> Result<Vec<Bucket>, AuditError> {
        Ok(query::histogram(&self.pool, f, buckets).await?)
    }

    async fn distinct_events(&self) -> Vec<String> {
        query::distinct_events(&self.pool).await
    }

    async fn first_time(&self, f: &Filter) -> Option<DateTime<Utc>> {
        query::first_time(&self.pool, f).await.ok().flatten()
    }

    async fn count(&self, f: &Filter) -> Option<u64> {
        query::count(&self.pool, f)
            .await
            .ok()
            .and_then(|n| u64::try_from(n).ok())
    }

    fn stream(&self, f: Filter) -> RecordStream<Record> {
        Box::pin(query::stream_owned(self.pool.clone(), f).map(|r| r.map_err(AuditError::from)))
    }

    async fn retention_range(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Option<(i64, i64)>, AuditError> {
        let last: Option<i64> =
            sqlx::query(&self.dialect("SELECT MAX(seq) AS s FROM audit_events WHERE time_ms < ?"))
                .bind(cutoff.timestamp_millis())
                .fetch_one(&self.pool)
                .await?
                .try_get("s")?;
        let Some(last) = last else { return Ok(None) };
        let first: i64 = sqlx::query("SELECT MIN(seq) AS s FROM audit_events")
            .fetch_one(&self.pool)
            .await?
            .try_get("s")?;
        Ok(Some((first, last)))
    }

    async fn anchor_and_delete(
        &self,
        last: i64,
        hash: &str,
        archive: &str,
    ) -> Result<(), AuditError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&self.dialect("INSERT INTO audit_anchor (one, seq, hash, archived_at, archive) VALUES (1, ?, ?, ?, ?) ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, archived_at = excluded.archived_at, archive = excluded.archive"))
            .bind(last)
            .bind(hash)
            .bind(Utc::now().to_rfc3339())
            .bind(archive)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&self.dialect("DELETE FROM audit_events WHERE seq <= ?"))
            .bind(last)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
