//! The hash-chained audit trail: every decision is recorded, the chain
//! verifies, each kind of tampering is detected, concurrent writers stay
//! linear, and an unwritable trail refuses the request (fail closed).

use crate::common::*;
use saml_broker::audit::{AuditEvent, Outcome};
use sqlx::Row;

async fn events(app: &TestApp) -> Vec<(i64, String, String, Option<String>)> {
    sqlx::query("SELECT seq, event, outcome, access_key_id FROM audit_events ORDER BY seq")
        .fetch_all(app.state.store.sql_pool().unwrap())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get("seq"),
                r.get("event"),
                r.get("outcome"),
                r.get("access_key_id"),
            )
        })
        .collect()
}

/// What an attacker with write access to the database would do first.
async fn drop_guards(app: &TestApp) {
    for t in ["audit_no_update", "audit_no_delete"] {
        sqlx::query(&format!("DROP TRIGGER {t}"))
            .execute(app.state.store.sql_pool().unwrap())
            .await
            .unwrap();
    }
}

async fn seeded(n: usize) -> TestApp {
    let app = TestApp::spawn(AppOptions {
        store: Backing::Sqlite,
        ..Default::default()
    })
    .await;
    for i in 0..n {
        let e = AuditEvent::new("test.event", Outcome::Success, chrono::Utc::now())
            .detail("i", i as u64);
        app.state.audit.record(e).await.unwrap();
    }
    app
}

#[tokio::test]
async fn every_decision_is_recorded_and_the_chain_verifies() {
    let app = TestApp::spawn(AppOptions {
        store: Backing::Sqlite,
        ..Default::default()
    })
    .await;
    let c = client();
    assert_eq!(
        app.sign_in(&c, "alice@example.com", &[ROLE_DEV])
            .await
            .status(),
        303
    );
    let refused = app.post_acs(&client(), "bm90IHhtbA==", None).await;
    assert_eq!(refused.status(), 400);
    let ev = events(&app).await;
    let names: Vec<&str> = ev.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(
        names,
        [
            "config.loaded",
            "login.succeeded",
            "role.selected",
            "credentials.issued",
            "login.failed"
        ]
    );
    let issued = ev.iter().find(|e| e.1 == "credentials.issued").unwrap();
    // The exchange (the fake, shaped like moto's) issues a temporary ASIA key.
    assert!(
        issued.3.as_deref().is_some_and(|k| k.starts_with("ASIA")),
        "the access key id is recorded: {:?}",
        issued.3
    );
    // Never the secret or the assertion.
    let dump: Vec<String> = sqlx::query("SELECT * FROM audit_events")
        .fetch_all(app.state.store.sql_pool().unwrap())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{:?}{:?}",
                r.get::<Option<String>, _>("reason"),
                r.get::<String, _>("detail")
            )
        })
        .collect();
    let dump = dump.join("\n");
    assert!(
        !dump.contains("ABCSECRETKEY")
            && !dump.contains("ABC12345")
            && !dump.contains("fakeSecretAccessKey")
            && !dump.contains("FQoGZXIvYXdzEFakeSessionToken"),
        "no secret in the audit trail"
    );
    assert!(
        !dump.contains("SAMLResponse") && !dump.contains("PFNhbWxw"),
        "no assertion in the audit trail"
    );
    let r = app.state.audit.verify().await.unwrap();
    assert_eq!(r.broken, None);
    assert_eq!(r.events, 5);
}

#[tokio::test]
async fn the_store_refuses_updates_and_deletes() {
    let app = seeded(3).await;
    let pool = app.state.store.sql_pool().unwrap();
    assert!(
        sqlx::query("UPDATE audit_events SET subject = 'x' WHERE seq = 2")
            .execute(pool)
            .await
            .is_err()
    );
    assert!(sqlx::query("DELETE FROM audit_events WHERE seq = 2")
        .execute(pool)
        .await
        .is_err());
    assert_eq!(app.state.audit.verify().await.unwrap().broken, None);
}

#[tokio::test]
async fn an_updated_event_is_detected() {
    let app = seeded(5).await;
    drop_guards(&app).await;
    sqlx::query("UPDATE audit_events SET subject = 'mallory' WHERE seq = 3")
        .execute(app.state.store.sql_pool().unwrap())
        .await
        .unwrap();
    let b = app
        .state
        .audit
        .verify()
        .await
        .unwrap()
        .broken
        .expect("detected");
    assert_eq!(b.seq, 3);
    assert!(b.reason.contains("altered"), "{}", b.reason);
}

#[tokio::test]
async fn a_deleted_event_is_detected() {
    let app = seeded(5).await;
    drop_guards(&app).await;
    sqlx::query("DELETE FROM audit_events WHERE seq = 3")
        .execute(app.state.store.sql_pool().unwrap())
        .await
        .unwrap();
    let b = app
        .state
        .audit
        .verify()
        .await
        .unwrap()
        .broken
        .expect("detected");
    assert_eq!(b.seq, 4);
    // Renumbering to hide the gap still breaks the link.
    sqlx::query("UPDATE audit_events SET seq = seq - 1 WHERE seq > 3")
        .execute(app.state.store.sql_pool().unwrap())
        .await
        .unwrap();
    let b = app
        .state
        .audit
        .verify()
        .await
        .unwrap()
        .broken
        .expect("detected");
    assert_eq!(b.seq, 3);
    assert!(b.reason.contains("prev_hash"), "{}", b.reason);
}

#[tokio::test]
async fn reordered_events_are_detected() {
    let app = seeded(5).await;
    drop_guards(&app).await;
    let pool = app.state.store.sql_pool().unwrap();
    sqlx::query("UPDATE audit_events SET seq = 100 WHERE seq = 3")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_events SET seq = 3 WHERE seq = 4")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_events SET seq = 4 WHERE seq = 100")
        .execute(pool)
        .await
        .unwrap();
    let b = app
        .state
        .audit
        .verify()
        .await
        .unwrap()
        .broken
        .expect("detected");
    assert_eq!(b.seq, 3);
}

#[tokio::test]
async fn an_inserted_event_is_detected() {
    let app = seeded(5).await;
    drop_guards(&app).await;
    let pool = app.state.store.sql_pool().unwrap();
    // Make room after #2 and insert a forged event that links to #2 correctly.
    sqlx::query("UPDATE audit_events SET seq = seq + 1000 WHERE seq > 2")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_events SET seq = seq - 999 WHERE seq > 1000")
        .execute(pool)
        .await
        .unwrap();
    let prev: String = sqlx::query("SELECT hash FROM audit_events WHERE seq = 2")
        .fetch_one(pool)
        .await
        .unwrap()
        .get("hash");
    let forged = AuditEvent::new("credentials.issued", Outcome::Success, chrono::Utc::now());
    let detail = "{}";
    let hash = saml_broker::audit::chain::hash(
        &prev,
        &saml_broker::audit::chain::canonical(&forged, detail),
    );
    sqlx::query("INSERT INTO audit_events (seq, id, time, time_ms, event, outcome, detail, prev_hash, hash) VALUES (3, ?, ?, 0, ?, 'success', ?, ?, ?)")
        .bind(&forged.id)
        .bind(&forged.time)
        .bind(&forged.event)
        .bind(detail)
        .bind(format!("{prev}x"))
        .bind(&hash)
        .execute(pool)
        .await
        .unwrap();
    let b = app
        .state
        .audit
        .verify()
        .await
        .unwrap()
        .broken
        .expect("detected");
    assert_eq!(b.seq, 3);
}

#[tokio::test]
async fn concurrent_writers_keep_the_chain_linear() {
    let app = TestApp::spawn(AppOptions {
        store: Backing::Sqlite,
        ..Default::default()
    })
    .await;
    // A second Audit over its own connection pool to the same file: another "process".
    let url = format!("sqlite://{}", app.dir.0.join("broker.db").display());
    let other = saml_broker::store::Store::open(&url).await.unwrap();
    let other = other.audit();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let a = if w % 2 == 0 {
            app.state.audit.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let e = AuditEvent::new("test.concurrent", Outcome::Success, chrono::Utc::now())
                    .detail("writer", w)
                    .detail("i", i);
                a.record(e).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = app.state.audit.verify().await.unwrap();
    assert_eq!(r.broken, None);
    assert_eq!(r.events, 101, "config.loaded + 100");
}

#[tokio::test]
async fn an_unwritable_audit_trail_refuses_the_login() {
    let app = TestApp::spawn(AppOptions {
        store: Backing::Sqlite,
        ..Default::default()
    })
    .await;
    // The trail becomes unwritable mid-test.
    sqlx::query("ALTER TABLE audit_events RENAME TO audit_events_gone")
        .execute(app.state.store.sql_pool().unwrap())
        .await
        .unwrap();
    let c = client();
    let r = app.sign_in(&c, "alice@example.com", &[ROLE_DEV]).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("set-cookie").is_none(), "no session");
    let page = r.text().await.unwrap();
    assert!(page.contains("Temporarily unavailable"), "{page}");
    let (status, _) = app.get_json(&c, "/api/credentials").await;
    assert_eq!(status, 401, "nothing was issued");
}

#[tokio::test]
async fn retention_archives_old_events_and_the_chain_still_verifies() {
    let app = seeded(10).await;
    let pool = app.state.store.sql_pool().unwrap();
    let archive = app.dir.0.join("archive");
    // Archive everything older than the seventh event.
    let sixth: i64 = sqlx::query("SELECT time_ms FROM audit_events WHERE seq = 7")
        .fetch_one(pool)
        .await
        .unwrap()
        .get("time_ms");
    let cut = chrono::DateTime::from_timestamp_millis(sixth).unwrap();
    let r = saml_broker::audit::retention::archive_older_than(&app.state.audit, cut, &archive)
        .await
        .unwrap()
        .expect("something archived");
    assert!(r.archived >= 1);
    let lines = std::fs::read_to_string(&r.file).unwrap();
    assert_eq!(lines.lines().count() as u64, r.archived);
    assert!(lines
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["hash"].is_string()));
    let v = app.state.audit.verify().await.unwrap();
    assert_eq!(v.broken, None, "the anchored chain verifies");
    assert_eq!(v.anchored_at, Some(r.last_seq));
    // And the retained events can still not be deleted.
    assert!(sqlx::query("DELETE FROM audit_events WHERE seq = ?")
        .bind(r.last_seq + 1)
        .execute(pool)
        .await
        .is_err());
}

/// `saml-broker audit verify` and `audit export`, as an operator runs them.
#[tokio::test]
async fn the_audit_cli_verifies_and_exports() {
    let app = seeded(4).await;
    let cfg = app.dir.0.join("cli.toml");
    std::fs::write(
        &cfg,
        format!(
            "[idp]\nmetadata_file = \"idp.xml\"\n[storage]\nurl = \"sqlite://{}\"\n",
            app.dir.0.join("broker.db").display()
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_saml-broker");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .arg("--config")
            .arg(&cfg)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let ok = run(&["audit", "verify"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("audit chain intact: 5 events"));
    let jsonl = run(&["audit", "export", "--format", "jsonl"]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&jsonl.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["event"], "config.loaded");
    assert!(lines
        .iter()
        .all(|l| l["hash"].as_str().unwrap().len() == 64));
    let csv = run(&[
        "audit",
        "export",
        "--format",
        "csv",
        "--since",
        "2000-01-01",
        "--until",
        "2001-01-01",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&csv.stdout).lines().count(),
        1,
        "only the header: nothing in that range"
    );
    // Tamper, then verify names the event and exits 1.
    drop_guards(&app).await;
    sqlx::query("UPDATE audit_events SET reason = 'edited' WHERE seq = 3")
        .execute(app.state.store.sql_pool().unwrap())
        .await
        .unwrap();
    let broken = run(&["audit", "verify"]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&broken.stdout).contains("BROKEN at event #3"),
        "{}",
        String::from_utf8_lossy(&broken.stdout)
    );
    // A store that cannot be opened is not a broken chain: exit 2.
    std::fs::write(&cfg, "[idp]\nmetadata_file = \"idp.xml\"\n[storage]\nurl = \"sqlite:///nonexistent-dir/x/y.db\"\n").unwrap();
    assert_eq!(run(&["audit", "verify"]).status.code(), Some(2));
}

/// A Role value pairing a role with another account's SAML provider is not
/// offered; the login.succeeded event says why, like any malformed value.
#[tokio::test]
async fn cross_account_role_pair_is_recorded_as_malformed() {
    let app = TestApp::spawn(AppOptions {
        store: Backing::Sqlite,
        ..Default::default()
    })
    .await;
    let c = client();
    let cross = "arn:aws:iam::111111111111:role/Cross,arn:aws:iam::222222222222:saml-provider/ADFS";
    let r = app
        .sign_in(&c, "alice@example.com", &[ROLE_DEV, cross])
        .await;
    assert_eq!(r.status(), 303);
    let (status, s) = app.get_json(&c, "/api/session").await;
    assert_eq!(status, 200, "{s}");
    assert!(!s.to_string().contains("role/Cross"), "{s}");
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE event = 'login.succeeded'")
            .fetch_one(app.state.store.sql_pool().unwrap())
            .await
            .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(
        detail["malformed_roles"],
        serde_json::json!([format!(
            "{cross}: role account 111111111111 differs from its SAML provider's account 222222222222"
        )]),
        "{detail}"
    );
    assert_eq!(
        detail["roles"],
        serde_json::json!(["arn:aws:iam::111111111111:role/Dev"])
    );
}
