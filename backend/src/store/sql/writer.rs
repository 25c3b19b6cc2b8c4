//! One writer per SQL store, with group commit.
//!
//! Every write of the broker (pending requests, the replay cache, audit
//! appends, sessions, the sweep) is a [`Job`] sent to one task that owns one
//! connection. The task takes every job that is waiting, runs them in one
//! transaction (`BEGIN IMMEDIATE` on SQLite; on PostgreSQL the chain's
//! advisory lock is taken once, before the first audit append), commits
//! once, so one sync covers the whole batch, and then answers each caller.
//! A caller is answered only after its batch is committed.
//!
//! The audit chain is computed here, in order: the head is read once per
//! batch inside the transaction (so other processes or instances that wrote
//! in between are seen), and every append links to the one before.
//!
//! Failure: when a statement fails, the batch is rolled back and each job is
//! run again on its own, so one bad job cannot fail the others. A failed
//! COMMIT is not retried (its outcome is unknown); every caller of that
//! batch gets the error (a 503) and nothing is issued. After any error the
//! connection is dropped and the next batch opens a new one, so the writer
//! recovers by itself when the disk has room again or the database is back.

use super::{pending_from_row, SqlError};
use crate::audit::chain::{self, GENESIS};
use crate::audit::{AuditEvent, Record};
use crate::store::Pending;
use sqlx::{AnyConnection, Connection, Row};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Most jobs in one transaction.
const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer before callers wait to enqueue (backpressure).
const QUEUE: usize = 8192;
/// How long opening the writer's connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A write, in the store's terms. Times are Unix seconds.
pub enum Op {
    PutPending {
        relay_state: String,
        pending: Pending,
        now: i64,
        expires: i64,
    },
    TakePending {
        relay_state: String,
        browser_nonce: String,
        now: i64,
    },
    Remember {
        assertion_id: String,
        until: i64,
        now: i64,
    },
    Append(Vec<AuditEvent>),
    /// A sign-in in one unit: remember the assertion id, then append
    /// `fresh` when it was new, or `replay` when it was a replay.
    Accept {
        assertion_id: String,
        until: i64,
        now: i64,
        fresh: Vec<AuditEvent>,
        replay: Vec<AuditEvent>,
    },
    SaveSession {
        id: String,
        data: Vec<u8>,
        expires: i64,
        /// Insert only (a new id): `Done::Inserted(false)` on a collision.
        create: bool,
    },
    DeleteSession {
        id: String,
    },
    Sweep {
        now: i64,
    },
}

/// What a job returns.
#[derive(Debug)]
pub enum Done {
    Unit,
    Pending(Option<Pending>),
    /// Remember: whether the assertion id was new.
    Fresh(bool),
    Records(Vec<Record>),
    /// Accept: whether the assertion id was new, and the events appended.
    Accepted(bool, Vec<Record>),
    /// SaveSession with `create`: whether the row was inserted.
    Inserted(bool),
    Rows(u64),
}

struct Job {
    op: Op,
    reply: oneshot::Sender<Result<Done, SqlError>>,
}

/// The handle callers submit jobs through (cheap to clone).
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

/// Committed batches and the jobs in them, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub batches: AtomicU64,
    pub jobs: AtomicU64,
    pub failed_jobs: AtomicU64,
}

impl Writer {
    /// Start the writer task for the database at `url`.
    pub fn start(url: String, pg: bool) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(Stats::default());
        tokio::spawn(run(rx, url, pg, stats.clone()));
        Self { tx, stats }
    }

    /// `(batches committed, jobs committed, jobs failed)` so far.
    pub fn stats(&self) -> (u64, u64, u64) {
        (
            self.stats.batches.load(Ordering::Relaxed),
            self.stats.jobs.load(Ordering::Relaxed),
            self.stats.failed_jobs.load(Ordering::Relaxed),
        )
    }

    /// Run `op` in the next batch and wait until that batch is committed.
    /// Dropping the future does not cancel the write.
    pub async fn submit(&self, op: Op) -> Result<Done, SqlError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { op, reply })
            .await
            .map_err(|_| SqlError::new("the store writer has stopped"))?;
        answer
            .await
            .map_err(|_| SqlError::new("the store writer dropped the write"))?
    }
}

struct State {
    stats: Arc<Stats>,
    url: String,
    pg: bool,
    conn: Option<AnyConnection>,
    /// Failures since the last one logged (logged at most once a second).
    quiet: u64,
    last_logged: Option<Instant>,
}

async fn run(mut rx: mpsc::Receiver<Job>, url: String, pg: bool, stats: Arc<Stats>) {
    let mut st = State {
        stats,
        url,
        pg,
        conn: None,
        quiet: 0,
        last_logged: None,
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        st.commit(&mut batch).await;
    }
    if let Some(conn) = st.conn.take() {
        let _ = conn.close().await;
    }
}

/// How a batch failed.
enum Failure {
    /// A statement failed before COMMIT: the transaction was rolled back.
    Statement(SqlError),
    /// COMMIT itself failed: the outcome is unknown.
    Commit(SqlError),
}

impl State {
    async fn commit(&mut self, batch: &mut Vec<Job>) {
        let ops: Vec<&Op> = batch.iter().map(|j| &j.op).collect();
        match self.attempt(&ops).await {
            Ok(results) => {
                self.recovered();
                self.committed(batch.len());
                for (job, r) in batch.drain(..).zip(results) {
                    let _ = job.reply.send(Ok(r));
                }
            }
            Err(Failure::Statement(e)) if batch.len() > 1 => {
                tracing::debug!(error = %e, jobs = batch.len(), "a write failed; running the batch's writes one by one");
                self.conn = None;
                // Isolate: each job on its own transaction.
                for job in batch.drain(..) {
                    let r = match self.attempt(&[&job.op]).await {
                        Ok(mut done) => {
                            self.recovered();
                            self.committed(1);
                            Ok(done.pop().unwrap_or(Done::Unit))
                        }
                        Err(Failure::Statement(e) | Failure::Commit(e)) => {
                            self.failed(&e, 1);
                            Err(e)
                        }
                    };
                    let _ = job.reply.send(r);
                }
            }
            Err(Failure::Statement(e) | Failure::Commit(e)) => {
                self.failed(&e, batch.len());
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }

    fn committed(&self, jobs: usize) {
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats
            .jobs
            .fetch_add(u64::try_from(jobs).unwrap_or(0), Ordering::Relaxed);
    }

    fn recovered(&mut self) {
        if self.quiet > 0 || self.last_logged.is_some() {
            tracing::info!(
                failed_since_last_log = self.quiet,
                "store writes succeed again"
            );
            self.quiet = 0;
            self.last_logged = None;
        }
    }

    fn failed(&mut self, e: &SqlError, jobs: usize) {
        self.stats
            .failed_jobs
            .fetch_add(u64::try_from(jobs).unwrap_or(0), Ordering::Relaxed);
        // The connection may be unusable (a restarted server, a full disk
        // that left the file in an unknown state): start afresh.
        self.conn = None;
        let due = self
            .last_logged
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if due {
            tracing::error!(error = %e, jobs, failed_since_last_log = self.quiet, "store write failed and was rolled back; callers get 503 and nothing is issued");
            self.quiet = 0;
            self.last_logged = Some(Instant::now());
        } else {
            self.quiet += 1;
        }
    }

    async fn connection(&mut self) -> Result<&mut AnyConnection, SqlError> {
        if self.conn.is_none() {
            let c = tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect(&self.url))
                .await
                .map_err(|_| SqlError::new("connecting to the database timed out"))??;
            self.conn = Some(c);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| SqlError::new("no connection"))
    }

    async fn attempt(&mut self, ops: &[&Op]) -> Result<Vec<Done>, Failure> {
        let pg = self.pg;
        let conn = self.connection().await.map_err(Failure::Statement)?;
        let begin = if pg { "BEGIN" } else { "BEGIN IMMEDIATE" };
        sqlx::query(begin)
            .execute(&mut *conn)
            .await
            .map_err(|e| Failure::Statement(e.into()))?;
        let mut head: Option<(i64, String)> = None;
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            match run_op(conn, pg, &mut head, op).await {
                Ok(d) => out.push(d),
                Err(e) => {
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                    return Err(Failure::Statement(e));
                }
            }
        }
        sqlx::query("COMMIT")
            .execute(&mut *conn)
            .await
            .map_err(|e| Failure::Commit(e.into()))?;
        Ok(out)
    }
}

/// `s` in the connection's dialect. PostgreSQL's numbered form of each of
/// the writer's few fixed statements is made once, not on every write.
fn sql(pg: bool, s: &'static str) -> &'static str {
    if !pg {
        return s;
    }
    static NUMBERED: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<&'static str, &'static str>>,
    > = std::sync::OnceLock::new();
    let mut map = NUMBERED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Bounded: the keys are the string literals in this file.
    map.entry(s)
        .or_insert_with(|| Box::leak(super::numbered(s).into_boxed_str()))
}

async fn run_op(
    conn: &mut AnyConnection,
    pg: bool,
    head: &mut Option<(i64, String)>,
    op: &Op,
) -> Result<Done, SqlError> {
    Ok(match op {
        Op::PutPending {
            relay_state,
            pending,
            now,
            expires,
        } => {
            sqlx::query(sql(pg, "INSERT INTO pending_requests (relay_state, request_id, return_to, role_hint, browser_nonce, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)"))
                .bind(relay_state)
                .bind(&pending.request_id)
                .bind(&pending.return_to)
                .bind(&pending.role_hint)
                .bind(&pending.browser_nonce)
                .bind(*now)
                .bind(*expires)
                .execute(&mut *conn)
                .await?;
            Done::Unit
        }
        Op::TakePending {
            relay_state,
            browser_nonce,
            now,
        } => {
            let row = sqlx::query(sql(pg, "DELETE FROM pending_requests WHERE relay_state = ? AND browser_nonce = ? RETURNING request_id, return_to, role_hint, browser_nonce, expires_at"))
                .bind(relay_state)
                .bind(browser_nonce)
                .fetch_optional(&mut *conn)
                .await?;
            Done::Pending(row.and_then(|r| pending_from_row(&r, *now)))
        }
        Op::Remember {
            assertion_id,
            until,
            now,
        } => Done::Fresh(remember(conn, pg, assertion_id, *until, *now).await?),
        Op::Append(events) => Done::Records(append(conn, pg, head, events).await?),
        Op::Accept {
            assertion_id,
            until,
            now,
            fresh,
            replay,
        } => {
            let new = remember(conn, pg, assertion_id, *until, *now).await?;
            let events = if new { fresh } else { replay };
            Done::Accepted(new, append(conn, pg, head, events).await?)
        }
        Op::SaveSession {
            id,
            data,
            expires,
            create,
        } => {
            let q = if *create {
                "INSERT INTO sessions (id, data, expires_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING"
            } else {
                "INSERT INTO sessions (id, data, expires_at) VALUES (?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at"
            };
            let done = sqlx::query(sql(pg, q))
                .bind(id)
                .bind(data.as_slice())
                .bind(*expires)
                .execute(&mut *conn)
                .await?;
            Done::Inserted(done.rows_affected() == 1)
        }
        Op::DeleteSession { id } => {
            sqlx::query(sql(pg, "DELETE FROM sessions WHERE id = ?"))
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Done::Unit
        }
        Op::Sweep { now } => {
            let mut n = 0;
            for q in [
                "DELETE FROM pending_requests WHERE expires_at <= ?",
                "DELETE FROM replay_cache WHERE expires_at <= ?",
                "DELETE FROM sessions WHERE expires_at <= ?",
            ] {
                n += sqlx::query(sql(pg, q))
                    .bind(*now)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
            }
            Done::Rows(n)
        }
    })
}

/// Record an accepted assertion id; false when it is still remembered (a
/// replay). One statement, so two instances racing on the id cannot both win.
async fn remember(
    conn: &mut AnyConnection,
    pg: bool,
    assertion_id: &str,
    until: i64,
    now: i64,
) -> Result<bool, SqlError> {
    let done = sqlx::query(sql(
        pg,
        "INSERT INTO replay_cache (assertion_id, expires_at) VALUES (?, ?) \
         ON CONFLICT (assertion_id) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE replay_cache.expires_at <= ?",
    ))
    .bind(assertion_id)
    .bind(until)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Append `events` at the chain head (read once per batch, then carried).
async fn append(
    conn: &mut AnyConnection,
    pg: bool,
    head: &mut Option<(i64, String)>,
    events: &[AuditEvent],
) -> Result<Vec<Record>, SqlError> {
    let (mut seq, mut prev) = match head.take() {
        Some(h) => h,
        None => chain_head(conn, pg).await?,
    };
    let mut records = Vec::with_capacity(events.len());
    for e in events {
        let (rec, detail_text) = chain::link(seq, &prev, e)?;
        insert_event(conn, pg, &rec, &detail_text).await?;
        seq = rec.seq;
        prev.clone_from(&rec.hash);
        records.push(rec);
    }
    *head = Some((seq, prev));
    Ok(records)
}

/// The seq and hash the next event links to, read inside the batch's
/// transaction. On PostgreSQL the chain's advisory lock is taken first, so
/// several instances keep one linear chain (waited for at most 5 s).
async fn chain_head(conn: &mut AnyConnection, pg: bool) -> Result<(i64, String), SqlError> {
    if pg {
        sqlx::query("SET LOCAL lock_timeout = '5s'")
            .execute(&mut *conn)
            .await?;
        sqlx::query("SELECT pg_advisory_xact_lock(7272727)")
            .execute(&mut *conn)
            .await?;
    }
    if let Some(r) = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok((r.try_get("seq")?, r.try_get("hash")?));
    }
    Ok(
        match sqlx::query("SELECT seq, hash FROM audit_anchor WHERE one = 1")
            .fetch_optional(&mut *conn)
            .await?
        {
            Some(r) => (r.try_get("seq")?, r.try_get("hash")?),
            None => (0, GENESIS.to_string()),
        },
    )
}

async fn insert_event(
    conn: &mut AnyConnection,
    pg: bool,
    rec: &Record,
    detail_text: &str,
) -> Result<(), SqlError> {
    let e = &rec.event;
    sqlx::query(sql(pg, "INSERT INTO audit_events (seq, id, time, time_ms, event, outcome, subject, source_ip, user_agent, request_id, idp, assertion_id, role_arn, access_key_id, reason, detail, prev_hash, hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(rec.seq)
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
        .bind(&rec.prev_hash)
        .bind(&rec.hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
