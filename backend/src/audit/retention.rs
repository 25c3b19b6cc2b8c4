//! Retention: events older than the configured age are written to a JSONL
//! archive and removed, and the chain is anchored on the last removed event
//! so `audit verify` still passes on what remains.

use super::export::jsonl_line;
use super::{Audit, AuditError, AuditEvent, Outcome};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
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
    let log = audit.log();
    let Some((first, last)) = log.retention_range(cutoff).await? else {
        return Ok(None);
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RetentionError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let file = dir.join(format!("audit-{first:012}-{last:012}.jsonl"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).map_err(io(&file))?);
    let mut archived = 0u64;
    let mut last_hash = String::new();
    let mut rows = log.chain();
    while let Some((rec, _)) = rows.try_next().await? {
        if rec.seq > last {
            break;
        }
        out.write_all(jsonl_line(&rec).as_bytes())
            .map_err(io(&file))?;
        last_hash = rec.hash.clone();
        archived += 1;
    }
    drop(rows);
    out.flush().map_err(io(&file))?;
    out.get_ref().sync_all().map_err(io(&file))?;
    log.anchor_and_delete(last, &last_hash, &file.display().to_string())
        .await?;
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
