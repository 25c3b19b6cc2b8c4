//! Several broker instances over one PostgreSQL database (the server on
//! 127.0.0.1:5432, a fresh database per test): replay is refused across
//! instances, a session made on one works on the other, and the audit chain
//! stays linear under concurrent logins on both.

use crate::common::*;
use saml_broker::audit::{AuditEvent, Outcome};

/// The server on 127.0.0.1:5432: trust auth on the CI machine, the password
/// `postgres` where scripts/setup.sh installed it.
const ADMIN_URL: &str = "postgres://postgres:postgres@127.0.0.1:5432/test";

/// A fresh database, dropped when the guard goes.
pub struct PgDb {
    pub url: String,
    name: String,
}

impl PgDb {
    pub async fn new() -> Self {
        let name = format!("sb_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(ADMIN_URL)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (database test, trust auth)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        Self {
            url: format!("postgres://postgres:postgres@127.0.0.1:5432/{name}"),
            name,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Best effort, on a thread of its own: the test's runtime is going away.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(ADMIN_URL).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&admin)
                        .await;
                }
            });
        })
        .join();
    }
}

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// Two instances behind one public URL, sharing the database and the session key.
async fn pair(db: &PgDb) -> (TestApp, TestApp) {
    let a = TestApp::spawn(AppOptions {
        store: Backing::Url(db.url.clone()),
        session_key: Some(KEY.into()),
        idp_initiated: true,
        ..Default::default()
    })
    .await;
    let b = TestApp::spawn(AppOptions {
        store: Backing::Url(db.url.clone()),
        session_key: Some(KEY.into()),
        idp_initiated: true,
        public_url: Some(a.public.clone()),
        aws: a.same_aws(),
        ..Default::default()
    })
    .await;
    (a, b)
}

#[tokio::test]
async fn a_response_accepted_by_one_instance_is_a_replay_on_the_other() {
    let db = PgDb::new().await;
    let (a, b) = pair(&db).await;
    let saml = a
        .spec("alice@example.com", None)
        .sign_base64(idp_key())
        .unwrap();
    assert_eq!(a.post_acs(&client(), &saml, None).await.status(), 303);
    let again = b.post_acs(&client(), &saml, None).await;
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("already been used"));
}

#[tokio::test]
async fn a_sign_in_started_on_one_instance_finishes_on_the_other_and_the_session_is_shared() {
    let db = PgDb::new().await;
    let (a, b) = pair(&db).await;
    let c = client();
    // The AuthnRequest is pending in the shared store; the IdP posts back to the other instance.
    let (rid, relay) = a.start_login(&c, None).await;
    let saml = a
        .spec("alice@example.com", Some(&rid))
        .sign_base64(idp_key())
        .unwrap();
    let r = b.post_acs(&c, &saml, Some(&relay)).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    // The cookie works on both; credentials sealed by B open on A (same key):
    // both hand out the one set B got from AWS.
    let mut keys = Vec::new();
    for app in [&a, &b] {
        let (status, s) = app.get_json(&c, "/api/session").await;
        assert_eq!(status, 200);
        assert_eq!(s["subject"], "alice@example.com");
        let (status, creds) = app.get_json(&c, "/api/credentials").await;
        assert_eq!(status, 200, "{creds}");
        keys.push(creds["AccessKeyId"].as_str().unwrap().to_string());
    }
    assert!(keys[0].starts_with("ASIA"), "{keys:?}");
    assert_eq!(keys[0], keys[1]);
}

#[tokio::test]
async fn the_audit_chain_stays_linear_under_concurrent_logins_on_both() {
    let db = PgDb::new().await;
    let (a, b) = pair(&db).await;
    let a = std::sync::Arc::new(a);
    let b = std::sync::Arc::new(b);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let saml = app
                .spec(&format!("user{i}@example.com"), None)
                .sign_base64(idp_key())
                .unwrap();
            app.post_acs(&client(), &saml, None).await.status().as_u16()
        }));
        // Direct writers too, racing the logins.
        let audit = if i % 2 == 0 {
            a.state.audit.clone()
        } else {
            b.state.audit.clone()
        };
        tasks.push(tokio::spawn(async move {
            audit
                .record(AuditEvent::new(
                    "test.concurrent",
                    Outcome::Success,
                    chrono::Utc::now(),
                ))
                .await
                .unwrap();
            303
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 303);
    }
    let report = a.state.audit.verify().await.unwrap();
    assert_eq!(report.broken, None);
    // 2 x config.loaded + 12 x (login.succeeded, role.selected, credentials.issued) + 12 direct.
    assert_eq!(report.events, 2 + 12 * 3 + 12);
    // The same store through B agrees.
    assert_eq!(b.state.audit.verify().await.unwrap().events, report.events);
}

#[tokio::test]
async fn the_postgres_trail_detects_tampering_and_serves_the_admin_queries() {
    let db = PgDb::new().await;
    let (a, _b) = pair(&db).await;
    for i in 0..5 {
        let mut e = AuditEvent::new("test.event", Outcome::Failure, chrono::Utc::now());
        e.reason = Some(format!("reason 100% _{i}_"));
        a.state.audit.record(e).await.unwrap();
    }
    // The admin queries run on PostgreSQL: text filter with LIKE wildcards taken literally.
    let mut q = std::collections::HashMap::new();
    q.insert("text".to_string(), "100% _3_".to_string());
    let f = saml_broker::audit::query::Filter::from_query(&q).unwrap();
    let page = a.state.audit.page(&f, None, 50).await.unwrap();
    assert_eq!(page.len(), 1);
    let buckets = a
        .state
        .audit
        .histogram(&Default::default(), 4)
        .await
        .unwrap();
    assert_eq!(buckets.iter().map(|b| b.failure).sum::<u64>(), 5);
    // Updates are refused by the trigger; with it gone, the change is detected.
    let pool = a.state.store.sql_pool().unwrap();
    assert!(
        sqlx::query("UPDATE audit_events SET subject = 'x' WHERE seq = 2")
            .execute(pool)
            .await
            .is_err()
    );
    sqlx::query("ALTER TABLE audit_events DISABLE TRIGGER USER")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_events SET subject = 'x' WHERE seq = 3")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(a.state.audit.verify().await.unwrap().broken.unwrap().seq, 3);
}
