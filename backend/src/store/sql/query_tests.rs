#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::audit::{Audit, AuditEvent, Outcome};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use std::collections::HashMap;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A test trail: the audit facade and the read pool of a fresh SQLite store.
struct Trail {
    audit: Audit,
    pool: AnyPool,
    _dir: std::path::PathBuf,
}

impl Trail {
    async fn record(&self, e: AuditEvent) -> Result<(), crate::audit::AuditError> {
        self.audit.record(e).await
    }
    fn sql_pool(&self) -> Option<&AnyPool> {
        Some(&self.pool)
    }
}

impl Drop for Trail {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

async fn trail() -> Trail {
    let dir = std::env::temp_dir().join(format!("sb-query-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = crate::store::Store::open(&format!("sqlite://{}/t.db", dir.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Trail {
        audit: store.audit(),
        pool: store.sql_pool().unwrap().clone(),
        _dir: dir,
    }
}

async fn add(
    a: &Trail,
    name: &'static str,
    outcome: Outcome,
    time: &str,
    subject: &str,
    reason: Option<&str>,
) {
    let mut e = AuditEvent::new(name, outcome, at(time));
    e.subject = Some(subject.to_string());
    e.reason = reason.map(str::to_string);
    e.role_arn = Some(format!("arn:aws:iam::111111111111:role/{subject}"));
    e.source_ip = Some("192.0.2.1".into());
    a.record(e).await.unwrap();
}

async fn sample() -> Trail {
    let a = trail().await;
    add(
        &a,
        crate::audit::names::LOGIN_SUCCEEDED,
        Outcome::Success,
        "2026-11-24T10:00:00Z",
        "alice",
        None,
    )
    .await;
    add(
        &a,
        crate::audit::names::CREDENTIALS_ISSUED,
        Outcome::Success,
        "2026-11-24T10:00:01Z",
        "alice",
        None,
    )
    .await;
    add(
        &a,
        crate::audit::names::LOGIN_FAILED,
        Outcome::Failure,
        "2026-11-24T23:59:59.999Z",
        "bob",
        Some("Signature INVALID"),
    )
    .await;
    add(
        &a,
        crate::audit::names::LOGIN_FAILED,
        Outcome::Failure,
        "2026-11-25T00:00:00Z",
        "bob",
        Some("audience mismatch"),
    )
    .await;
    add(
        &a,
        crate::audit::names::LOGOUT,
        Outcome::Success,
        "2026-11-25T12:00:00Z",
        "alice",
        None,
    )
    .await;
    a
}

fn subjects(rs: &[Record]) -> Vec<(i64, String)> {
    rs.iter()
        .map(|r| (r.seq, r.event.subject.clone().unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn pages_are_newest_first_and_filtered() {
    let a = sample().await;
    let pool = a.sql_pool().unwrap();
    let all = page(pool, &Filter::default(), None, 50).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![5, 4, 3, 2, 1]
    );
    let f = |pairs: &[(&str, &str)]| Filter::from_query(&q(pairs)).unwrap();
    let got = page(pool, &f(&[("subject", "bob")]), None, 50)
        .await
        .unwrap();
    assert_eq!(subjects(&got), vec![(4, "bob".into()), (3, "bob".into())]);
    let got = page(
        pool,
        &f(&[
            ("outcome", "success"),
            ("event", crate::audit::names::LOGOUT),
        ]),
        None,
        50,
    )
    .await
    .unwrap();
    assert_eq!(subjects(&got), vec![(5, "alice".into())]);
    let got = page(pool, &f(&[("text", "invalid")]), None, 50)
        .await
        .unwrap();
    assert_eq!(
        subjects(&got),
        vec![(3, "bob".into())],
        "case-insensitive substring"
    );
    let got = page(
        pool,
        &f(&[("since", "2026-11-24"), ("until", "2026-11-24")]),
        None,
        50,
    )
    .await
    .unwrap();
    assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![3, 2, 1]);
    let got = page(
        pool,
        &f(&[("role", "arn:aws:iam::111111111111:role/alice")]),
        None,
        50,
    )
    .await
    .unwrap();
    assert_eq!(got.len(), 3);
    let got = page(pool, &f(&[("source_ip", "192.0.2.2")]), None, 50)
        .await
        .unwrap();
    assert!(got.is_empty());
    // Values are bound, never spliced into SQL.
    let got = page(pool, &f(&[("subject", "' OR 1=1 --")]), None, 50)
        .await
        .unwrap();
    assert!(got.is_empty());
    let got = page(pool, &f(&[("text", "%")]), None, 50).await.unwrap();
    assert!(got.is_empty(), "no LIKE wildcards");
}

#[tokio::test]
async fn keyset_pages_cover_everything_once() {
    let a = sample().await;
    let pool = a.sql_pool().unwrap();
    let first = page(pool, &Filter::default(), None, 2).await.unwrap();
    let second = page(pool, &Filter::default(), Some(first[1].seq), 2)
        .await
        .unwrap();
    let third = page(pool, &Filter::default(), Some(second[1].seq), 2)
        .await
        .unwrap();
    let seqs: Vec<i64> = [first, second, third]
        .concat()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, vec![5, 4, 3, 2, 1]);
}

#[tokio::test]
async fn get_finds_one_event_with_its_hashes() {
    let a = sample().await;
    let newest = page(a.sql_pool().unwrap(), &Filter::default(), None, 1)
        .await
        .unwrap();
    let r = get(a.sql_pool().unwrap(), &newest[0].event.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r, newest[0]);
    assert_eq!(r.hash.len(), 64);
    assert!(get(a.sql_pool().unwrap(), "no-such-id")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn stream_is_oldest_first_across_batches() {
    let a = trail().await;
    let n = usize::try_from(STREAM_BATCH).unwrap() * 2 + 7;
    for i in 0..n {
        let who = if i % 3 == 0 { "carol" } else { "dave" };
        add(
            &a,
            crate::audit::names::ROLE_SELECTED,
            Outcome::Success,
            "2026-11-25T12:00:00Z",
            who,
            None,
        )
        .await;
    }
    let all: Vec<Record> = stream_owned(a.sql_pool().unwrap().clone(), Filter::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), n);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let f = Filter {
        subject: Some("carol".into()),
        ..Filter::default()
    };
    let carol: Vec<Record> = stream_owned(a.sql_pool().unwrap().clone(), f)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(carol.len(), n.div_ceil(3));
    assert!(carol
        .iter()
        .all(|r| r.event.subject.as_deref() == Some("carol")));
}

#[tokio::test]
async fn stream_stops_at_the_head_it_started_from() {
    let a = sample().await;
    let all = Filter::default();
    let mut s = Box::pin(stream_owned(a.sql_pool().unwrap().clone(), all.clone()));
    let first = s.try_next().await.unwrap().unwrap();
    assert_eq!(first.seq, 1);
    add(
        &a,
        crate::audit::names::LOGOUT,
        Outcome::Success,
        "2026-11-25T13:00:00Z",
        "late",
        None,
    )
    .await;
    let rest: Vec<Record> = s.try_collect().await.unwrap();
    assert_eq!(
        rest.len(),
        4,
        "the event appended mid-export is not included"
    );
}

#[tokio::test]
async fn histogram_counts_per_bucket() {
    let a = sample().await;
    let pool = a.sql_pool().unwrap();
    // Open range: from the first to the last matching event.
    let h = histogram(pool, &Filter::default(), 4).await.unwrap();
    assert_eq!(h.len(), 4);
    assert_eq!(h[0].start, at("2026-11-24T10:00:00Z"));
    assert_eq!(h[3].end, at("2026-11-25T12:00:00.001Z"));
    assert!(h.windows(2).all(|w| w[0].end == w[1].start));
    let total: (u64, u64) = h
        .iter()
        .fold((0, 0), |t, b| (t.0 + b.success, t.1 + b.failure));
    assert_eq!(total, (3, 2));
    assert_eq!((h[0].success, h[0].failure), (2, 0));
    assert_eq!(
        (h[3].success, h[3].failure),
        (1, 0),
        "the last event lands in the last bucket"
    );
    // A fixed range: one bucket per day.
    let f = Filter::from_query(&q(&[("since", "2026-11-24"), ("until", "2026-11-25")])).unwrap();
    let h = histogram(pool, &f, 2).await.unwrap();
    assert_eq!(h[0].start, at("2026-11-24T00:00:00Z"));
    assert_eq!(h[1].start, at("2026-11-25T00:00:00Z"));
    assert_eq!(
        (h[0].success, h[0].failure, h[1].success, h[1].failure),
        (2, 1, 1, 1)
    );
    // Filters apply; nothing matching an open range gives no buckets.
    let f = Filter {
        subject: Some("nobody".into()),
        ..Filter::default()
    };
    assert!(histogram(pool, &f, 24).await.unwrap().is_empty());
    let f = Filter {
        outcome: Some(Outcome::Failure),
        ..Filter::default()
    };
    let h = histogram(pool, &f, 3).await.unwrap();
    assert_eq!(h.iter().map(|b| b.failure).sum::<u64>(), 2);
    assert_eq!(h.iter().map(|b| b.success).sum::<u64>(), 0);
}

#[tokio::test]
async fn distinct_events_are_sorted() {
    let a = sample().await;
    assert_eq!(
        distinct_events(a.sql_pool().unwrap()).await,
        vec![
            crate::audit::names::CREDENTIALS_ISSUED,
            crate::audit::names::LOGIN_FAILED,
            crate::audit::names::LOGIN_SUCCEEDED,
            crate::audit::names::LOGOUT
        ]
    );
}
