//! The hash chain: append (linear even with several writers) and verify.
//!
//! `hash = SHA-256(prev_hash || "\n" || canonical)`, where `canonical` is a
//! JSON array of the event's fields in a fixed order, with `detail` as the
//! exact JSON text stored. The first event's `prev_hash` is 64 zeros, or the
//! retention anchor's hash once older events have been archived.

use super::{AuditError, AuditEvent, Outcome, Record};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;
use sqlx::{AnyConnection, AnyPool};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const ATTEMPTS: u32 = 8;

/// The canonical bytes hashed for an event.
pub fn canonical(e: &AuditEvent, detail_text: &str) -> String {
    serde_json::json!([
        e.id,
        e.time,
        e.event,
        e.outcome.as_str(),
        e.subject,
        e.source_ip,
        e.user_agent,
        e.request_id,
        e.idp,
        e.assertion_id,
        e.role_arn,
        e.access_key_id,
        e.reason,
        detail_text
    ])
    .to_string()
}

pub fn hash(prev_hash: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// The chain head: the seq and hash the next event links to.
async fn head(conn: &mut AnyConnection) -> Result<(i64, String), sqlx::Error> {
    if let Some(r) = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok((r.get("seq"), r.get("hash")));
    }
    Ok(
        sqlx::query("SELECT seq, hash FROM audit_anchor WHERE one = 1")
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| (r.get("seq"), r.get("hash")))
            .unwrap_or((0, GENESIS.to_string())),
    )
}

async fn anchor(pool: &AnyPool) -> Result<Option<(i64, String)>, sqlx::Error> {
    Ok(
        sqlx::query("SELECT seq, hash FROM audit_anchor WHERE one = 1")
            .fetch_optional(pool)
            .await?
            .map(|r| (r.get("seq"), r.get("hash"))),
    )
}

fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Append one event. The head is read and the event inserted inside one
/// `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock, so writers
/// in other processes queue behind it. UNIQUE(seq), UNIQUE(prev_hash) are a
/// second line of defence: a conflicting insert is retried on the new head.
pub async fn append(pool: &AnyPool, e: &AuditEvent) -> Result<Record, AuditError> {
    // Run to completion even if the caller goes away (a client disconnect
    // drops the request future): a transaction must never be left open on a
    // pooled connection holding the chain's write lock.
    let (pool, e) = (pool.clone(), e.clone());
    tokio::spawn(async move { append_now(&pool, &e).await })
        .await
        .map_err(|err| AuditError::Dynamo(format!("audit append task failed: {err}")))?
}

async fn append_now(pool: &AnyPool, e: &AuditEvent) -> Result<Record, AuditError> {
    let detail_text = serde_json::to_string(&e.detail)?;
    let text = canonical(e, &detail_text);
    let pg = super::is_postgres(pool);
    let mut conn = pool.acquire().await?;
    for _ in 0..ATTEMPTS {
        let begin = if pg {
            // One writer at a time across every instance: a transaction-scoped
            // advisory lock, waited for at most 5 s.
            "BEGIN"
        } else {
            "BEGIN IMMEDIATE"
        };
        sqlx::query(begin).execute(&mut *conn).await?;
        let res = async {
            if pg {
                sqlx::query("SET LOCAL lock_timeout = '5s'")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("SELECT pg_advisory_xact_lock(7272727)")
                    .execute(&mut *conn)
                    .await?;
            }
            let rec = insert_at_head(&mut conn, pg, e, &detail_text, &text).await?;
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok::<_, sqlx::Error>(rec)
        }
        .await;
        match res {
            Ok(rec) => return Ok(rec),
            Err(err) => {
                // Every failure after BEGIN ends the transaction here.
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                if !is_conflict(&err) {
                    return Err(err.into());
                }
            }
        }
    }
    Err(AuditError::Contended(ATTEMPTS))
}

async fn insert_at_head(
    conn: &mut AnyConnection,
    pg: bool,
    e: &AuditEvent,
    detail_text: &str,
    text: &str,
) -> Result<Record, sqlx::Error> {
    let (last_seq, prev) = head(conn).await?;
    let h = hash(&prev, text);
    let seq = last_seq + 1;
    let insert = "INSERT INTO audit_events (seq, id, time, time_ms, event, outcome, subject, source_ip, user_agent, request_id, idp, assertion_id, role_arn, access_key_id, reason, detail, prev_hash, hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let insert = if pg {
        crate::store::numbered(insert)
    } else {
        insert.to_string()
    };
    sqlx::query(&insert)
        .bind(seq)
        .bind(&e.id)
        .bind(&e.time)
        .bind(e.time_ms())
        .bind(&e.event)
        .bind(e.outcome.as_str())
        .bind(&e.subject)
        .bind(&e.source_ip)
        .bind(&e.user_agent)
        .bind(&e.request_id)
        .bind(&e.idp)
        .bind(&e.assertion_id)
        .bind(&e.role_arn)
        .bind(&e.access_key_id)
        .bind(&e.reason)
        .bind(detail_text)
        .bind(&prev)
        .bind(&h)
        .execute(&mut *conn)
        .await?;
    Ok(Record {
        seq,
        event: e.clone(),
        prev_hash: prev,
        hash: h,
    })
}

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

/// The first problem `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub seq: i64,
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub head: String,
    pub anchored_at: Option<i64>,
    pub broken: Option<Broken>,
}

/// The checks `verify` makes, one record at a time in `seq` order; shared by
/// every backend so they all report the same problems in the same words.
pub struct Walk {
    expected_seq: i64,
    expected_prev: String,
    anchored_at: Option<i64>,
    events: u64,
}

impl Walk {
    /// Start at the retention anchor (last archived seq and hash), or at genesis.
    pub fn new(anchor: Option<(i64, String)>) -> Self {
        let anchored_at = anchor.as_ref().map(|a| a.0);
        let (expected_seq, expected_prev) = anchor
            .map(|(s, h)| (s + 1, h))
            .unwrap_or((1, GENESIS.to_string()));
        Self {
            expected_seq,
            expected_prev,
            anchored_at,
            events: 0,
        }
    }

    /// Check the next record; the first problem ends the walk.
    pub fn check(&mut self, rec: &Record, detail_text: &str) -> Option<Broken> {
        self.events += 1;
        let bad = |reason: String| Broken {
            seq: rec.seq,
            id: rec.event.id.clone(),
            reason,
        };
        if rec.seq != self.expected_seq {
            return Some(bad(format!(
                "sequence jumps from {} to {} (events removed or inserted)",
                self.expected_seq - 1,
                rec.seq
            )));
        }
        if rec.prev_hash != self.expected_prev {
            return Some(bad("prev_hash does not match the previous event's hash (events removed, inserted or reordered)".into()));
        }
        if hash(&rec.prev_hash, &canonical(&rec.event, detail_text)) != rec.hash {
            return Some(bad(
                "hash does not match the event's content (the event was altered)".into(),
            ));
        }
        self.expected_prev = rec.hash.clone();
        self.expected_seq = rec.seq + 1;
        None
    }

    pub fn report(self, broken: Option<Broken>) -> VerifyReport {
        VerifyReport {
            events: self.events,
            head: self.expected_prev,
            anchored_at: self.anchored_at,
            broken,
        }
    }
}

/// Walk the chain in seq order and check every link and every hash.
pub async fn verify(pool: &AnyPool) -> Result<VerifyReport, AuditError> {
    let mut walk = Walk::new(anchor(pool).await?);
    let mut rows = sqlx::query("SELECT * FROM audit_events ORDER BY seq").fetch(pool);
    while let Some(row) = rows.try_next().await? {
        let (rec, detail_text) = from_row(&row)?;
        if let Some(b) = walk.check(&rec, &detail_text) {
            return Ok(walk.report(Some(b)));
        }
    }
    Ok(walk.report(None))
}

/// The last verification's result, for the admin page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    NotChecked,
    Intact {
        events: u64,
        checked_at: DateTime<Utc>,
    },
    Broken {
        first_bad_seq: i64,
        first_bad_id: String,
        reason: String,
        checked_at: DateTime<Utc>,
    },
}

impl ChainStatus {
    pub fn from_report(r: &VerifyReport, at: DateTime<Utc>) -> Self {
        match &r.broken {
            None => Self::Intact {
                events: r.events,
                checked_at: at,
            },
            Some(b) => Self::Broken {
                first_bad_seq: b.seq,
                first_bad_id: b.id.clone(),
                reason: b.reason.clone(),
                checked_at: at,
            },
        }
    }

    pub fn is_broken(&self) -> bool {
        matches!(self, Self::Broken { .. })
    }

    /// When the last check ran, if one has.
    pub fn checked_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::NotChecked => None,
            Self::Intact { checked_at, .. } | Self::Broken { checked_at, .. } => Some(*checked_at),
        }
    }

    /// The events the last check covered (an intact chain only).
    pub fn events(&self) -> Option<u64> {
        match self {
            Self::Intact { events, .. } => Some(*events),
            _ => None,
        }
    }

    pub fn summary(&self) -> String {
        let t = crate::text::utc_words;
        match self {
            Self::NotChecked => "The chain has not been checked since the broker started.".into(),
            Self::Intact { events, checked_at } => format!(
                "Chain intact at the last check ({}): {} verified.",
                t(checked_at),
                crate::text::count(*events, "event", "events")
            ),
            Self::Broken {
                first_bad_seq,
                first_bad_id,
                reason,
                checked_at,
            } => format!(
                "CHAIN BROKEN at event #{first_bad_seq} ({first_bad_id}): {reason}. Found by the check at {}.",
                t(checked_at)
            ),
        }
    }
}
