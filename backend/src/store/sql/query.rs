//! Reading the audit trail in SQL: keyset pages (newest first), one event
//! by id, a batched stream for exports (oldest first) and a histogram of
//! outcomes over time, with the filter's meaning (audit::query) pushed into
//! the WHERE clause.
//!
//! Every value reaches the database as a bound parameter; only fixed SQL
//! fragments are concatenated.

use super::dialect;
use crate::audit::{Bucket, Filter, Record};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::AnyPool;
use sqlx::{Any, Row};

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;

/// The columns [`record_from_row`] reads.
const COLUMNS: &str = "seq, id, time, event, outcome, subject, source_ip, user_agent, \
     request_id, idp, assertion_id, role_arn, access_key_id, reason, detail, prev_hash, hash";

/// Rows read per round trip by [`stream_owned`].
const STREAM_BATCH: i64 = 500;

/// A bound value.
#[derive(Debug, Clone)]
enum Value {
    Int(i64),
    Text(String),
}

/// ` WHERE …` for `f` (always present, so callers can append ` AND …`) and
/// the values to bind, in order.
fn where_clause(f: &Filter) -> (String, Vec<Value>) {
    let mut sql = String::from(" WHERE 1 = 1");
    let mut binds = Vec::new();
    let mut add = |fragment: &str, v: Value| {
        sql.push_str(" AND ");
        sql.push_str(fragment);
        binds.push(v);
    };
    if let Some(t) = f.since {
        add("time_ms >= ?", Value::Int(t.timestamp_millis()));
    }
    if let Some(t) = f.until {
        add("time_ms < ?", Value::Int(t.timestamp_millis()));
    }
    let exact = [
        ("subject = ?", &f.subject),
        ("event = ?", &f.event),
        ("role_arn = ?", &f.role),
        ("source_ip = ?", &f.source_ip),
    ];
    for (fragment, v) in exact {
        if let Some(v) = v {
            add(fragment, Value::Text(v.clone()));
        }
    }
    if let Some(o) = f.outcome {
        add("outcome = ?", Value::Text(o.as_str().to_string()));
    }
    if let Some(t) = &f.text {
        // LIKE with the user's text escaped: portable across SQLite and PostgreSQL.
        let escaped: String = t
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '\\' | '%' | '_' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        add(
            "lower(reason) LIKE ? ESCAPE '\\'",
            Value::Text(format!("%{escaped}%")),
        );
    }
    (sql, binds)
}

type Query<'q> = sqlx::query::Query<'q, Any, AnyArguments<'q>>;

fn bind_all<'q>(mut q: Query<'q>, binds: &[Value]) -> Query<'q> {
    for b in binds {
        q = match b {
            Value::Int(i) => q.bind(*i),
            Value::Text(s) => q.bind(s.clone()),
        };
    }
    q
}

/// One row of `SELECT {COLUMNS}` as a [`Record`] (the chain's reader).
fn record_from_row(row: &AnyRow) -> Result<Record, sqlx::Error> {
    super::audit::from_row(row).map(|(record, _detail_text)| record)
}

/// Up to `limit` (1..=1000) matching events, newest first, all with
/// `seq < before_seq` when given: the next page starts before the last
/// `seq` of this one (keyset pagination, stable while events are appended).
pub async fn page(
    pool: &AnyPool,
    filter: &Filter,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<Vec<Record>, sqlx::Error> {
    let (mut sql, mut binds) = where_clause(filter);
    if let Some(b) = before_seq {
        sql.push_str(" AND seq < ?");
        binds.push(Value::Int(b));
    }
    let sql = dialect(
        pool,
        &format!("SELECT {COLUMNS} FROM audit_events{sql} ORDER BY seq DESC LIMIT ?"),
    );
    let q = bind_all(sqlx::query(&sql), &binds).bind(i64::from(limit.clamp(1, 1000)));
    q.fetch_all(pool)
        .await?
        .iter()
        .map(record_from_row)
        .collect()
}

/// One event by its `id`.
pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<Record>, sqlx::Error> {
    let sql = dialect(
        pool,
        &format!("SELECT {COLUMNS} FROM audit_events WHERE id = ?"),
    );
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(record_from_row)
        .transpose()
}

/// Every matching event, oldest first, read in keyset batches of
/// [`STREAM_BATCH`] rows, so memory stays bounded and no connection or read
/// transaction is held while a slow client downloads (a long read would
/// also keep SQLite from checkpointing its WAL). The export is bounded by
/// the newest `seq` when the first batch is read: events appended during
/// the download are not included. `'static`, for `Body::from_stream`.
pub fn stream_owned(
    pool: AnyPool,
    filter: Filter,
) -> impl Stream<Item = Result<Record, sqlx::Error>> + Send + 'static {
    struct Cursor {
        pool: AnyPool,
        filter: Filter,
        after: i64,
        upto: Option<i64>,
        done: bool,
    }
    let start = Cursor {
        pool,
        filter,
        after: i64::MIN,
        upto: None,
        done: false,
    };
    let batches = futures_util::stream::unfold(start, |mut c| async move {
        if c.done {
            return None;
        }
        let result = next_batch(&c.pool, &c.filter, c.after, &mut c.upto).await;
        match &result {
            Ok(rows) => {
                c.done = i64::try_from(rows.len()).unwrap_or(0) < STREAM_BATCH;
                if let Some(last) = rows.last() {
                    c.after = last.seq;
                }
            }
            Err(_) => c.done = true,
        }
        Some((result, c))
    });
    futures_util::StreamExt::flat_map(batches, |batch| {
        let items: Vec<Result<Record, sqlx::Error>> = match batch {
            Ok(rows) => rows.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        futures_util::stream::iter(items)
    })
}

async fn next_batch(
    pool: &AnyPool,
    filter: &Filter,
    after: i64,
    upto: &mut Option<i64>,
) -> Result<Vec<Record>, sqlx::Error> {
    let limit = match *upto {
        Some(u) => u,
        None => {
            let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_events")
                .fetch_one(pool)
                .await?;
            *upto = Some(max.unwrap_or(0));
            max.unwrap_or(0)
        }
    };
    let (mut sql, mut binds) = where_clause(filter);
    sql.push_str(" AND seq > ? AND seq <= ?");
    binds.push(Value::Int(after));
    binds.push(Value::Int(limit));
    let sql = dialect(
        pool,
        &format!("SELECT {COLUMNS} FROM audit_events{sql} ORDER BY seq ASC LIMIT ?"),
    );
    let q = bind_all(sqlx::query(&sql), &binds).bind(STREAM_BATCH);
    let rows = q.fetch_all(pool).await?;
    rows.iter().map(record_from_row).collect()
}

/// Successes and failures in `buckets` (1..=1000) equal slices of the
/// filter's time range; an open end of the range is closed at the first or
/// last matching event. Empty when no event matches an open range.
pub async fn histogram(
    pool: &AnyPool,
    filter: &Filter,
    buckets: usize,
) -> Result<Vec<Bucket>, sqlx::Error> {
    let n = i64::try_from(buckets.clamp(1, 1000)).unwrap_or(24);
    let (sql, binds) = where_clause(filter);
    let (start, end) = match (filter.since, filter.until) {
        (Some(s), Some(u)) => (s.timestamp_millis(), u.timestamp_millis()),
        (since, until) => {
            let range = dialect(
                pool,
                &format!("SELECT MIN(time_ms), MAX(time_ms) FROM audit_events{sql}"),
            );
            let row = bind_all(sqlx::query(&range), &binds)
                .fetch_one(pool)
                .await?;
            let (Some(first), Some(last)) = (
                row.try_get::<Option<i64>, _>(0)?,
                row.try_get::<Option<i64>, _>(1)?,
            ) else {
                return Ok(Vec::new());
            };
            (
                since.map_or(first, |s| s.timestamp_millis()),
                until.map_or(last.saturating_add(1), |u| u.timestamp_millis()),
            )
        }
    };
    let span = end.saturating_sub(start);
    if span <= 0 {
        return Ok(Vec::new());
    }
    // Bucket i holds start + ceil(span*i/n) <= t < start + ceil(span*(i+1)/n).
    // i128 keeps (t - start) * n exact for any span.
    let edge = |i: i64| -> i64 {
        let off = (i128::from(span) * i128::from(i) + i128::from(n) - 1) / i128::from(n);
        start.saturating_add(i64::try_from(off).unwrap_or(i64::MAX))
    };
    let mut out: Vec<Bucket> = (0..n)
        .map(|i| Bucket {
            start: from_ms(edge(i)),
            end: from_ms(edge(i + 1)),
            success: 0,
            failure: 0,
        })
        .collect();
    let grouped = format!(
        "SELECT (time_ms - ?) * ? / ? AS b, \
         SUM(CASE WHEN outcome = 'success' THEN 1 ELSE 0 END), SUM(CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END) \
         FROM audit_events{sql} AND time_ms >= ? AND time_ms < ? GROUP BY b"
    );
    let grouped = dialect(pool, &grouped);
    let q = sqlx::query(&grouped).bind(start).bind(n).bind(span);
    let q = bind_all(q, &binds).bind(start).bind(end);
    for row in q.fetch_all(pool).await? {
        let b: i64 = row.try_get(0)?;
        let ok: i64 = row.try_get(1)?;
        let bad: i64 = row.try_get(2)?;
        if let Some(bucket) = usize::try_from(b).ok().and_then(|b| out.get_mut(b)) {
            bucket.success += u64::try_from(ok).unwrap_or(0);
            bucket.failure += u64::try_from(bad).unwrap_or(0);
        }
    }
    Ok(out)
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The time of the first event matching `filter`, if any.
pub async fn first_time(
    pool: &AnyPool,
    filter: &Filter,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let (sql, binds) = where_clause(filter);
    let sql = dialect(pool, &format!("SELECT MIN(time_ms) FROM audit_events{sql}"));
    let row = bind_all(sqlx::query(&sql), &binds).fetch_one(pool).await?;
    Ok(row.try_get::<Option<i64>, _>(0)?.map(from_ms))
}

/// How many events match `filter` (for an export's progress bar).
pub async fn count(pool: &AnyPool, filter: &Filter) -> Result<i64, sqlx::Error> {
    let (sql, binds) = where_clause(filter);
    let sql = dialect(pool, &format!("SELECT COUNT(*) FROM audit_events{sql}"));
    let row = bind_all(sqlx::query(&sql), &binds).fetch_one(pool).await?;
    row.try_get(0)
}

/// The event names present in the trail, sorted, for the filter's list.
/// A store error is logged and gives an empty list (the page still works).
pub async fn distinct_events(pool: &AnyPool) -> Vec<String> {
    match sqlx::query_scalar("SELECT DISTINCT event FROM audit_events ORDER BY event")
        .fetch_all(pool)
        .await
    {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "listing audit event names failed");
            Vec::new()
        }
    }
}
