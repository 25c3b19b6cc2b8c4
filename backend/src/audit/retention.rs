//! Retention: events older than the configured age are written to a JSONL
//! archive and removed, and the chain is anchored on the last removed event
//! so `audit verify` still passes on what remains.

use super::chain::from_row;
use super::export::jsonl_line;
use super::sql as dialect;
use super::{Audit, AuditError, AuditEvent, Outcome};
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveReport {
    pub archived: u64,
    pub first_seq: i64,
    pub last_seq: i64,
    pub file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("retention is not available for the DynamoDB store; archive with `saml-broker audit export` and DynamoDB's own tools")]
    Unsupported,
    #[error("writing the archive {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Archive and remove every event up to the last one older than `cutoff`.
pub async fn archive_older_than(
    audit: &Audit,
    cutoff: DateTime<Utc>,
    dir: &Path,
) -> Result<Option<ArchiveReport>, RetentionError> {
    let Some(pool) = audit.sql_pool() else {
        return Err(RetentionError::Unsupported);
    };
    let last: Option<i64> = sqlx::query(&dialect(
        pool,
        "SELECT MAX(seq) AS s FROM audit_events WHERE time_ms < ?",
    ))
    .bind(cutoff.timestamp_millis())
    .fetch_one(pool)
    .await?
    .try_get("s")?;
    let Some(last) = last else { return Ok(None) };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RetentionError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let first: i64 = sqlx::query("SELECT MIN(seq) AS s FROM audit_events")
        .fetch_one(pool)
        .await?
        .try_get("s")?;
    let file = dir.join(format!("audit-{first:012}-{last:012}.jsonl"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).map_err(io(&file))?);
    let mut archived = 0u64;
    let mut last_hash = String::new();
    {
        use futures_util::TryStreamExt;
        let select = dialect(
            pool,
            "SELECT * FROM audit_events WHERE seq <= ? ORDER BY seq",
        );
        let mut rows = sqlx::query(&select).bind(last).fetch(pool);
        while let Some(row) = rows.try_next().await? {
            let (rec, _) = from_row(&row)?;
            out.write_all(jsonl_line(&rec).as_bytes())
                .map_err(io(&file))?;
            last_hash = rec.hash.clone();
            archived += 1;
        }
    }
    out.flush().map_err(io(&file))?;
    out.get_ref().sync_all().map_err(io(&file))?;
    let mut tx = pool.begin().await?;
    sqlx::query(&dialect(pool, "INSERT INTO audit_anchor (one, seq, hash, archived_at, archive) VALUES (1, ?, ?, ?, ?) ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, archived_at = excluded.archived_at, archive = excluded.archive"))
        .bind(last)
        .bind(&last_hash)
        .bind(Utc::now().to_rfc3339())
        .bind(file.display().to_string())
        .execute(&mut *tx)
        .await?;
    sqlx::query(&dialect(pool, "DELETE FROM audit_events WHERE seq <= ?"))
        .bind(last)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let report = ArchiveReport {
        archived,
        first_seq: first,
        last_seq: last,
        file: file.clone(),
    };
    let event = AuditEvent::new(
        crate::audit::names::AUDIT_ARCHIVED,
        Outcome::Success,
        Utc::now(),
    )
    .detail("archived", archived)
    .detail("first_seq", first)
    .detail("last_seq", last)
    .detail("anchor_hash", last_hash)
    .detail("file", file.display().to_string());
    audit.record(event).await?;
    Ok(Some(report))
}
