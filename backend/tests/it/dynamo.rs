//! The DynamoDB store and audit trail against moto's DynamoDB. Two store or
//! audit instances over the same tables stand for two broker instances.
//! Every test uses its own table prefix.

use crate::common::{client, idp_key, AppOptions, Backing, TestApp};
use crate::moto::aws_config;
use chrono::{DateTime, Duration as D, Utc};
use futures_util::TryStreamExt;
use saml_broker::audit::query::Filter;
use saml_broker::audit::{AuditEvent, Outcome};
use saml_broker::config::AwsMode;
use saml_broker::store::dynamo::audit::DynamoAudit;
use saml_broker::store::dynamo::{DynamoStore, EXPIRES_AT, PK};
use saml_broker::store::Pending;
use std::collections::{BTreeSet, HashMap};
use tower_sessions::session::{Id, Record as SessionRecord};
use tower_sessions::session_store::SessionStore;

/// moto's server handles requests on threads without locking its DynamoDB
/// model: concurrent TransactWriteItems can answer 500, a reader can see a
/// half-applied update, and a cancelled transaction restores a snapshot of
/// the whole table taken when it began (undoing another transaction that
/// committed meanwhile). Real DynamoDB serialises transactions. This proxy
/// forwards one request at a time (moto answers `Connection: close`), so
/// writers still race at request granularity (stale head reads, cancelled
/// transactions, retries) while moto sees one request at a time. It counts
/// the TransactWriteItems requests that pass through.
mod serial {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::Mutex;

    pub struct Serial {
        pub endpoint: String,
        pub transacts: Arc<AtomicUsize>,
    }

    pub async fn start(upstream: &str) -> Serial {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let transacts = Arc::new(AtomicUsize::new(0));
        let lock = Arc::new(Mutex::new(()));
        let count = transacts.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, lock, count) = (upstream.clone(), lock.clone(), count.clone());
                tokio::spawn(async move {
                    let _ = forward(client, &upstream, &lock, &count).await;
                });
            }
        });
        Serial {
            endpoint,
            transacts,
        }
    }

    async fn forward(
        mut client: TcpStream,
        upstream: &str,
        lock: &Mutex<()>,
        count: &AtomicUsize,
    ) -> std::io::Result<()> {
        let mut req = Vec::new();
        let mut buf = [0u8; 8192];
        let head_end = loop {
            let n = client.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            req.extend_from_slice(&buf[..n]);
            if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&req[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while req.len() < head_end + len {
            let n = client.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            req.extend_from_slice(&buf[..n]);
        }
        if head.contains("x-amz-target: dynamodb_20120810.transactwriteitems") {
            count.fetch_add(1, Ordering::SeqCst);
        }
        let mut resp = Vec::new();
        {
            let _one_at_a_time = lock.lock().await;
            let mut up = TcpStream::connect(upstream).await?;
            up.write_all(&req).await?;
            up.read_to_end(&mut resp).await?;
        }
        client.write_all(&resp).await?;
        client.shutdown().await
    }
}

/// The broker's SDK config pointing at moto, with the static credentials
/// moto's DynamoDB wants (the broker's own config has none).
async fn sdk() -> aws_config::SdkConfig {
    let sdk = saml_broker::exchange::sdk_config(&aws_config(AwsMode::Cognito, None)).await;
    sdk.to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("test", "test", None, None, "test"),
            ),
        )
        .build()
}

fn prefix() -> String {
    format!("sbt-{}", uuid::Uuid::new_v4().simple())
}

/// Two stores ("brokers") over freshly created tables.
async fn two_stores() -> (DynamoStore, DynamoStore) {
    let sdk = sdk().await;
    let p = prefix();
    let a = DynamoStore::new(&sdk, &p).await;
    a.create_tables().await.unwrap();
    // Idempotent, also from another instance.
    let b = DynamoStore::new(&sdk, &p).await;
    b.create_tables().await.unwrap();
    (a, b)
}

#[tokio::test]
async fn dynamo_tables_are_created_with_ttl_and_ping_works() {
    let (a, _b) = two_stores().await;
    a.ping().await.unwrap();
    for suffix in ["sessions", "pending", "replay"] {
        let ttl = a
            .client()
            .describe_time_to_live()
            .table_name(a.table(suffix))
            .send()
            .await
            .unwrap()
            .time_to_live_description
            .unwrap();
        assert_eq!(ttl.attribute_name.as_deref(), Some(EXPIRES_AT), "{suffix}");
        assert_eq!(
            ttl.time_to_live_status,
            Some(aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled),
            "{suffix}"
        );
    }
    let audit = a
        .client()
        .describe_table()
        .table_name(a.table("audit"))
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys: Vec<(String, String)> = audit
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name.clone(), k.key_type.as_str().to_string()))
        .collect();
    assert_eq!(
        keys,
        [("pk".into(), "HASH".into()), ("seq".into(), "RANGE".into())]
    );
    // A store whose tables do not exist fails its ping.
    let missing = DynamoStore::new(&sdk().await, &prefix()).await;
    assert!(missing.ping().await.is_err());
}

#[tokio::test]
async fn dynamo_pending_is_taken_once_and_expires() {
    let (a, b) = two_stores().await;
    let now = Utc::now();
    let p = Pending {
        request_id: "_r".into(),
        return_to: Some("/x".into()),
        role_hint: Some("arn:aws:iam::111111111111:role/Dev".into()),
        browser_nonce: "n".into(),
    };
    a.put_pending("rs1", &p, now, now + D::seconds(60))
        .await
        .unwrap();
    // Taken on the other instance, once.
    assert_eq!(
        b.take_pending("rs1", "n", now).await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(a.take_pending("rs1", "n", now).await.unwrap(), None);
    assert_eq!(b.take_pending("rs1", "n", now).await.unwrap(), None);
    // Expired (TTL has not deleted it yet): absent, and gone afterwards.
    a.put_pending("rs2", &p, now, now + D::seconds(60))
        .await
        .unwrap();
    assert_eq!(
        a.take_pending("rs2", "n", now + D::seconds(61))
            .await
            .unwrap(),
        None
    );
    assert_eq!(a.take_pending("rs2", "n", now).await.unwrap(), None);
    // Optional fields absent.
    let bare = Pending {
        request_id: "_r3".into(),
        return_to: None,
        role_hint: None,
        browser_nonce: "n".into(),
    };
    a.put_pending("rs3", &bare, now, now + D::seconds(60))
        .await
        .unwrap();
    assert_eq!(b.take_pending("rs3", "n", now).await.unwrap(), Some(bare));
    assert_eq!(a.sweep(now + D::days(1)).await.unwrap(), 0);
}

#[tokio::test]
async fn dynamo_replay_is_refused_across_instances_until_expiry() {
    let (a, b) = two_stores().await;
    let now = Utc::now();
    assert!(a
        .remember_assertion("_a", now + D::seconds(60), now)
        .await
        .unwrap());
    // The second broker sees the replay, and so does the first.
    assert!(!b
        .remember_assertion("_a", now + D::seconds(60), now)
        .await
        .unwrap());
    assert!(!a
        .remember_assertion("_a", now + D::seconds(60), now + D::seconds(59))
        .await
        .unwrap());
    // Expired but not yet deleted by TTL: may be remembered again, for the new period.
    assert!(b
        .remember_assertion("_a", now + D::seconds(200), now + D::seconds(61))
        .await
        .unwrap());
    assert!(!a
        .remember_assertion("_a", now + D::seconds(300), now + D::seconds(199))
        .await
        .unwrap());
    // Another id is independent.
    assert!(a
        .remember_assertion("_b", now + D::seconds(60), now)
        .await
        .unwrap());
}

fn session(expiry: time::OffsetDateTime) -> SessionRecord {
    let mut data = HashMap::new();
    data.insert(
        "user".to_string(),
        serde_json::json!({"sub": "alice", "roles": [1, 2]}),
    );
    SessionRecord {
        id: Id::default(),
        data,
        expiry_date: expiry,
    }
}

#[tokio::test]
async fn dynamo_session_saved_on_one_instance_loads_on_the_other() {
    let (a, b) = two_stores().await;
    let (sa, sb) = (a.sessions(), b.sessions());
    let now = time::OffsetDateTime::now_utc();
    let mut r = session(now + time::Duration::hours(1));
    sa.create(&mut r).await.unwrap();
    assert_eq!(sb.load(&r.id).await.unwrap(), Some(r.clone()));

    // save replaces.
    r.data.insert("n".into(), serde_json::json!(2));
    sb.save(&r).await.unwrap();
    assert_eq!(sa.load(&r.id).await.unwrap(), Some(r.clone()));

    // create never overwrites: a colliding id is replaced by a fresh one.
    let mut clash = session(now + time::Duration::hours(1));
    clash.id = r.id;
    sb.create(&mut clash).await.unwrap();
    assert_ne!(clash.id, r.id);
    assert_eq!(sa.load(&r.id).await.unwrap(), Some(r.clone()));
    assert_eq!(sa.load(&clash.id).await.unwrap(), Some(clash.clone()));

    // Expired records do not load (TTL deletes them later).
    let mut old = session(now - time::Duration::seconds(1));
    sa.save(&old).await.unwrap();
    assert_eq!(sb.load(&old.id).await.unwrap(), None);
    old.id = Id::default();
    assert_eq!(sb.load(&old.id).await.unwrap(), None);

    sb.delete(&r.id).await.unwrap();
    assert_eq!(sa.load(&r.id).await.unwrap(), None);
    // Deleting what is not there is fine.
    sb.delete(&r.id).await.unwrap();

    // The stored item carries its TTL.
    let item = a
        .client()
        .get_item()
        .table_name(a.table("sessions"))
        .key(
            PK,
            aws_sdk_dynamodb::types::AttributeValue::S(clash.id.to_string()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        item[EXPIRES_AT].as_n().unwrap(),
        &clash.expiry_date.unix_timestamp().to_string()
    );
}

/// Two audit instances over fresh tables.
async fn two_trails() -> (DynamoStore, DynamoAudit, DynamoAudit) {
    let sdk = sdk().await;
    let p = prefix();
    let store = DynamoStore::new(&sdk, &p).await;
    store.create_tables().await.unwrap();
    (
        store,
        DynamoAudit::new(&sdk, &p),
        DynamoAudit::new(&sdk, &p),
    )
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_audit_chain_stays_linear_with_concurrent_writers() {
    let (store, _, _) = two_trails().await;
    let proxy = serial::start(&crate::moto::moto().endpoint).await;
    let through_proxy = sdk()
        .await
        .to_builder()
        .endpoint_url(&proxy.endpoint)
        .build();
    let a = DynamoAudit::new(&through_proxy, store.prefix());
    let b = DynamoAudit::new(&through_proxy, store.prefix());
    let empty = a.verify().await.unwrap();
    assert_eq!(empty.events, 0);
    assert!(empty.broken.is_none());

    // 4 writers, two on each instance, 50 events in all.
    let mut tasks = Vec::new();
    for w in 0..4usize {
        let trail = if w % 2 == 0 { a.clone() } else { b.clone() };
        let count = if w < 2 { 13 } else { 12 };
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..count {
                let mut e = AuditEvent::new("login.succeeded", Outcome::Success, Utc::now())
                    .detail("writer", w)
                    .detail("i", i);
                e.subject = Some(format!("user{w}@example.com"));
                seqs.push(trail.append(&e).await.unwrap().seq);
            }
            seqs
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=50).collect::<Vec<i64>>());
    // The writers did race: some transactions were cancelled and retried.
    let transacts = proxy.transacts.load(std::sync::atomic::Ordering::SeqCst);
    eprintln!("{transacts} TransactWriteItems for 50 events");
    assert!(transacts > 50, "no race happened");

    for trail in [&a, &b] {
        let report = trail.verify().await.unwrap();
        assert!(report.broken.is_none(), "{report:?}");
        assert_eq!(report.events, 50);
        assert_eq!(report.anchored_at, None);
    }
    let all: Vec<_> = a.stream(&Filter::default()).try_collect().await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=50).collect::<Vec<i64>>()
    );
    assert_eq!(a.verify().await.unwrap().head, all[49].hash);

    // Tampering with one event's subject is found at that event.
    store
        .client()
        .update_item()
        .table_name(store.table("audit"))
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("chain".into()),
        )
        .key(
            "seq",
            aws_sdk_dynamodb::types::AttributeValue::N("17".into()),
        )
        .update_expression("SET subject = :s")
        .expression_attribute_values(
            ":s",
            aws_sdk_dynamodb::types::AttributeValue::S("mallory@example.com".into()),
        )
        .send()
        .await
        .unwrap();
    let report = b.verify().await.unwrap();
    let broken = report.broken.unwrap();
    assert_eq!(broken.seq, 17);
    assert_eq!(broken.id, all[16].event.id);
    assert_eq!(
        broken.reason,
        "hash does not match the event's content (the event was altered)"
    );
    assert_eq!(report.events, 17);
}

#[tokio::test]
async fn dynamo_audit_removed_event_is_found_and_anchor_is_honoured() {
    let (store, a, _b) = two_trails().await;
    let mut recs = Vec::new();
    for i in 0..5 {
        let e = AuditEvent::new("admin.viewed", Outcome::Success, Utc::now()).detail("i", i);
        recs.push(a.append(&e).await.unwrap());
    }
    let delete = |seq: i64| {
        store
            .client()
            .delete_item()
            .table_name(store.table("audit"))
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S("chain".into()),
            )
            .key(
                "seq",
                aws_sdk_dynamodb::types::AttributeValue::N(seq.to_string()),
            )
            .send()
    };
    // Archive the first two: anchor on #2, then remove them.
    a.put_anchor(2, &recs[1].hash).await.unwrap();
    delete(1).await.unwrap();
    delete(2).await.unwrap();
    let report = a.verify().await.unwrap();
    assert!(report.broken.is_none(), "{report:?}");
    assert_eq!(report.events, 3);
    assert_eq!(report.anchored_at, Some(2));
    // Appending continues the chain.
    let next = a
        .append(&AuditEvent::new(
            "admin.viewed",
            Outcome::Success,
            Utc::now(),
        ))
        .await
        .unwrap();
    assert_eq!(next.seq, 6);
    assert_eq!(next.prev_hash, recs[4].hash);
    // Removing one from the middle is a gap.
    delete(4).await.unwrap();
    let broken = a.verify().await.unwrap().broken.unwrap();
    assert_eq!(broken.seq, 5);
    assert_eq!(
        broken.reason,
        "sequence jumps from 3 to 5 (events removed or inserted)"
    );
}

#[tokio::test]
async fn dynamo_audit_page_get_stream_and_histogram_with_a_filter() {
    let (_store, a, b) = two_trails().await;
    let mut ids = Vec::new();
    // 30 events over 3 days: every third a failure by bob.
    for i in 0..30i64 {
        let t = at("2026-11-24T00:00:00Z") + D::hours(i * 2);
        let (name, outcome, subject, reason) = if i % 3 == 0 {
            (
                "login.failed",
                Outcome::Failure,
                "bob",
                Some("Signature INVALID"),
            )
        } else {
            ("credentials.issued", Outcome::Success, "alice", None)
        };
        let mut e = AuditEvent::new(name, outcome, t).detail("i", i);
        e.subject = Some(subject.into());
        e.reason = reason.map(str::to_string);
        e.role_arn = Some("arn:aws:iam::111111111111:role/Dev".into());
        let trail = if i % 2 == 0 { &a } else { &b };
        ids.push(trail.append(&e).await.unwrap().event.id);
    }

    // Newest first, keyset pages, filtered.
    let bob = Filter {
        subject: Some("bob".into()),
        ..Default::default()
    };
    let p1 = a.page(&bob, None, 4).await.unwrap();
    assert_eq!(
        p1.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [28, 25, 22, 19]
    );
    let p2 = a.page(&bob, Some(19), 4).await.unwrap();
    assert_eq!(
        p2.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [16, 13, 10, 7]
    );
    let p3 = a.page(&bob, Some(7), 4).await.unwrap();
    assert_eq!(p3.iter().map(|r| r.seq).collect::<Vec<_>>(), [4, 1]);
    let unfiltered = b.page(&Filter::default(), Some(11), 3).await.unwrap();
    assert_eq!(
        unfiltered.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [10, 9, 8]
    );
    let text = Filter {
        text: Some("signature invalid".into()),
        since: Some(at("2026-11-25T00:00:00Z")),
        until: Some(at("2026-11-26T00:00:00Z")),
        ..Default::default()
    };
    // Hours 24..46 are events 12..23; failures at 12, 15, 18, 21 (seq 13, 16, 19, 22).
    let day2 = a.page(&text, None, 100).await.unwrap();
    assert_eq!(
        day2.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [22, 19, 16, 13]
    );
    assert!(a
        .page(
            &Filter {
                subject: Some("nobody".into()),
                ..Default::default()
            },
            None,
            10
        )
        .await
        .unwrap()
        .is_empty());

    // One event by id, from either instance.
    let got = b.get(&ids[16]).await.unwrap().unwrap();
    assert_eq!(got.seq, 17);
    assert_eq!(got.event.detail["i"], 16);
    assert_eq!(
        got,
        a.page(&Filter::default(), Some(18), 1).await.unwrap()[0]
    );
    assert_eq!(a.get("no-such-id").await.unwrap(), None);

    // Oldest first, filtered.
    let success = Filter {
        outcome: Some(Outcome::Success),
        ..Default::default()
    };
    let streamed: Vec<_> = a.stream(&success).try_collect().await.unwrap();
    assert_eq!(streamed.len(), 20);
    assert!(streamed.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(streamed.iter().all(|r| r.event.outcome == Outcome::Success));

    // Histogram: 3 days in 3 buckets, 10 events a day (every third a failure).
    let range = Filter {
        since: Some(at("2026-11-24T00:00:00Z")),
        until: Some(at("2026-11-27T00:00:00Z")),
        ..Default::default()
    };
    let h = a.histogram(&range, 3).await.unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(
        h.iter().map(|b| (b.success, b.failure)).collect::<Vec<_>>(),
        [(8, 4), (8, 4), (4, 2)]
    );
    assert_eq!(h[1].start, at("2026-11-25T00:00:00Z"));
    let bob_h = a.histogram(&bob, 2).await.unwrap();
    assert_eq!(bob_h.iter().map(|b| b.success).sum::<u64>(), 0);
    assert_eq!(bob_h.iter().map(|b| b.failure).sum::<u64>(), 10);
    assert!(a
        .histogram(
            &Filter {
                subject: Some("nobody".into()),
                ..Default::default()
            },
            5
        )
        .await
        .unwrap()
        .is_empty());

    assert_eq!(
        a.distinct_events()
            .await
            .into_iter()
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["credentials.issued".to_string(), "login.failed".to_string()])
    );
}

/// Two broker instances over the same DynamoDB tables (through the
/// serialising proxy, so moto sees one request at a time), one public URL,
/// one session key.
async fn two_brokers() -> (TestApp, TestApp, serial::Serial) {
    let p = prefix();
    let proxy = serial::start(&crate::moto::moto().endpoint).await;
    let sdk = sdk()
        .await
        .to_builder()
        .endpoint_url(&proxy.endpoint)
        .build();
    let store = DynamoStore::new(&sdk, &p).await;
    store.create_tables().await.unwrap();
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let a = TestApp::spawn(AppOptions {
        store: Backing::Store(saml_broker::store::Store::dynamo(
            DynamoStore::new(&sdk, &p).await,
        )),
        session_key: Some(key.into()),
        idp_initiated: true,
        ..Default::default()
    })
    .await;
    let b = TestApp::spawn(AppOptions {
        store: Backing::Store(saml_broker::store::Store::dynamo(
            DynamoStore::new(&sdk, &p).await,
        )),
        session_key: Some(key.into()),
        idp_initiated: true,
        public_url: Some(a.public.clone()),
        aws: a.same_aws(),
        ..Default::default()
    })
    .await;
    (a, b, proxy)
}

#[tokio::test]
async fn dynamo_brokers_refuse_a_replay_accepted_by_the_other_and_share_sessions() {
    let (a, b, _proxy) = two_brokers().await;
    let saml = a
        .spec("alice@example.com", None)
        .sign_base64(idp_key())
        .unwrap();
    assert_eq!(a.post_acs(&client(), &saml, None).await.status(), 303);
    let again = b.post_acs(&client(), &saml, None).await;
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("already been used"));
    // A sign-in started on A finishes on B; the session works on both.
    let c = client();
    let (rid, relay) = a.start_login(&c, None).await;
    let saml = a
        .spec("bob@example.com", Some(&rid))
        .sign_base64(idp_key())
        .unwrap();
    assert_eq!(b.post_acs(&c, &saml, Some(&relay)).await.status(), 303);
    for app in [&a, &b] {
        let (status, s) = app.get_json(&c, "/api/session").await;
        assert_eq!(status, 200);
        assert_eq!(s["subject"], "bob@example.com");
        let (status, _) = app.get_json(&c, "/api/credentials").await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn dynamo_brokers_keep_the_audit_chain_linear_under_concurrent_logins() {
    let (a, b, _proxy) = two_brokers().await;
    let a = std::sync::Arc::new(a);
    let b = std::sync::Arc::new(b);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let saml = app
                .spec(&format!("user{i}@example.com"), None)
                .sign_base64(idp_key())
                .unwrap();
            app.post_acs(&client(), &saml, None).await.status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 303);
    }
    let report = a.state.audit.verify().await.unwrap();
    assert_eq!(report.broken, None);
    // 2 x config.loaded + 8 x (login.succeeded, role.selected, credentials.issued).
    assert_eq!(report.events, 2 + 8 * 3);
    assert_eq!(b.state.audit.verify().await.unwrap().events, report.events);
}
