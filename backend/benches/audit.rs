//! Audit trail at scale: seed 1,000,000 chained events into a fresh SQLite
//! file, then time filtered admin pages (the queries `/admin/audit` runs)
//! and a full streaming export.
//!
//!   cargo bench --bench audit            (AUDIT_EVENTS=… to change the size)
//!
//! Results are recorded in docs/performance.md.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use chrono::{Duration, Utc};
use futures_util::TryStreamExt;
use saml_broker::audit::chain::{canonical, hash, GENESIS};
use saml_broker::audit::Filter;
use saml_broker::audit::{export, AuditEvent, Outcome};
use std::time::Instant;

const EVENTS: [&str; 5] = [
    "login.succeeded",
    "role.selected",
    "credentials.issued",
    "login.failed",
    "logout",
];

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let n: usize = std::env::var("AUDIT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("sb-audit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}/bench.db", dir.display());
    let store = saml_broker::store::Store::open(&url).await.expect("open");
    store.migrate().await.expect("migrate");
    let trail = store.audit();
    // The rows are written directly, through the same Any driver the audit trail uses.
    let pool = sqlx::AnyPool::connect(&url).await.expect("any pool");
    let pool = &pool;

    let t = Instant::now();
    let start = Utc::now() - Duration::days(90);
    let mut prev = GENESIS.to_string();
    let mut tx = pool.begin().await.expect("tx");
    for i in 0..n {
        let subject = format!("user{}@example.com", i % 10_000);
        let ev = EVENTS[i % EVENTS.len()];
        let outcome = if ev == "login.failed" {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        let at = start + Duration::milliseconds((i as i64) * (90 * 86_400_000 / n as i64));
        let mut e = AuditEvent::new("x", outcome, at);
        e.event = ev.to_string();
        e.subject = Some(subject);
        e.source_ip = Some(format!("10.0.{}.{}", (i / 250) % 250, i % 250));
        e.role_arn = Some(format!(
            "arn:aws:iam::{:012}:role/Role{}",
            100_000_000_000u64 + (i % 7) as u64,
            i % 3
        ));
        e.reason = (outcome == Outcome::Failure)
            .then(|| format!("audience {} does not include our entity id", i % 13));
        let detail = "{}";
        let h = hash(&prev, &canonical(&e, detail));
        sqlx::query("INSERT INTO audit_events (seq, id, time, time_ms, event, outcome, subject, source_ip, role_arn, reason, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")
            .bind(i as i64 + 1).bind(&e.id).bind(&e.time).bind(e.time_ms()).bind(&e.event).bind(e.outcome.as_str())
            .bind(&e.subject).bind(&e.source_ip).bind(&e.role_arn).bind(&e.reason).bind(detail).bind(&prev).bind(&h)
            .execute(&mut *tx).await.expect("insert");
        prev = h;
        if i % 100_000 == 99_999 {
            tx.commit().await.expect("commit");
            tx = pool.begin().await.expect("tx");
        }
    }
    tx.commit().await.expect("commit");
    sqlx::query("ANALYZE").execute(pool).await.expect("analyze");
    println!("seeded {n} events in {:.1} s", t.elapsed().as_secs_f64());

    let mid = start + Duration::days(45);
    let cases: Vec<(&str, Filter)> = vec![
        ("no filter, first page", Filter::default()),
        (
            "subject",
            Filter {
                subject: Some("user42@example.com".into()),
                ..Default::default()
            },
        ),
        (
            "event + outcome",
            Filter {
                event: Some("login.failed".into()),
                outcome: Some(Outcome::Failure),
                ..Default::default()
            },
        ),
        (
            "time range (1 day)",
            Filter {
                since: Some(mid),
                until: Some(mid + Duration::days(1)),
                ..Default::default()
            },
        ),
        (
            "role",
            Filter {
                role: Some("arn:aws:iam::100000000003:role/Role1".into()),
                ..Default::default()
            },
        ),
        (
            "source ip",
            Filter {
                source_ip: Some("10.0.7.7".into()),
                ..Default::default()
            },
        ),
        (
            "subject + time range",
            Filter {
                subject: Some("user42@example.com".into()),
                since: Some(mid),
                until: Some(mid + Duration::days(30)),
                ..Default::default()
            },
        ),
        (
            "reason text (scan)",
            Filter {
                text: Some("audience 7".into()),
                ..Default::default()
            },
        ),
    ];
    println!(
        "{:<28} {:>10} {:>10} {:>8}",
        "filtered page (50 rows)", "median ms", "max ms", "rows"
    );
    for (name, f) in &cases {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..21 {
            let t = Instant::now();
            let page = trail.page(f, None, 50).await.expect("page");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            rows = page.len();
            // The next page, keyset.
            if let Some(last) = page.last() {
                let _ = trail.page(f, Some(last.seq), 50).await.expect("page 2");
            }
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{:<28} {:>10.2} {:>10.2} {:>8}",
            name,
            times[times.len() / 2],
            times[times.len() - 1],
            rows
        );
    }

    for format in ["jsonl", "csv"] {
        let t = Instant::now();
        let filter = Filter::default();
        let mut stream = trail.stream(filter);
        let mut bytes = 0usize;
        let mut count = 0usize;
        while let Some(r) = stream.try_next().await.expect("row") {
            let line = if format == "jsonl" {
                export::jsonl_line(&r)
            } else {
                export::csv_line(&r)
            };
            bytes += line.len();
            count += 1;
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "full export {format}: {count} events, {:.0} MB in {s:.1} s ({:.0} events/s)",
            bytes as f64 / 1e6,
            count as f64 / s
        );
    }
    let t = Instant::now();
    let r = trail.verify().await.expect("verify");
    println!(
        "audit verify: {} events, intact={} in {:.1} s",
        r.events,
        r.broken.is_none(),
        t.elapsed().as_secs_f64()
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
