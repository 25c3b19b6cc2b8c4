//! The admin view of the audit trail over real HTTP: who may open it, the
//! filters, keyset pages, one event, the exports (hostile values included),
//! and that every admin read is itself audited, fail closed.

use crate::common::*;
use chrono::{DateTime, Utc};
use saml_broker::audit::{AuditEvent, Outcome};
use saml_broker::saml::claims::ATTR_GROUP;
use sqlx::Row;

const ADMIN: &str = "root@example.com";
const HOSTILE: &str = "=HYPERLINK(\"http://evil\") and \"quotes\"\nsecond line, with a comma";

/// Sign in as a member of the test app's admin group.
async fn sign_in_admin(app: &TestApp, c: &reqwest::Client) {
    let (rid, relay) = app.start_login(c, None).await;
    let mut spec = app.spec(ADMIN, Some(&rid));
    spec.attributes.retain(|(n, _)| n != ATTR_GROUP);
    let spec = spec.with_attribute(ATTR_GROUP, &["AWS-Broker-Admins"]);
    let r = app
        .post_acs(c, &spec.sign_base64(idp_key()).unwrap(), Some(&relay))
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
}

async fn admin_app() -> (TestApp, reqwest::Client) {
    let app = TestApp::spawn(AppOptions {
        store: Backing::Sqlite,
        ..Default::default()
    })
    .await;
    let c = client();
    sign_in_admin(&app, &c).await;
    (app, c)
}

async fn get(app: &TestApp, c: &reqwest::Client, path: &str) -> (u16, String) {
    let r = c.get(format!("{}{path}", app.base)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Seed {
    name: &'static str,
    outcome: Outcome,
    time: &'static str,
    subject: &'static str,
    reason: Option<&'static str>,
    role: Option<&'static str>,
    ip: Option<&'static str>,
}

impl Seed {
    fn new(
        name: &'static str,
        outcome: Outcome,
        time: &'static str,
        subject: &'static str,
    ) -> Self {
        Self {
            name,
            outcome,
            time,
            subject,
            reason: None,
            role: None,
            ip: None,
        }
    }
}

/// Record an event through the real trail; returns its seq.
async fn seed(app: &TestApp, s: Seed) -> i64 {
    let mut e = AuditEvent::new(s.name, s.outcome, at(s.time));
    e.subject = Some(s.subject.into());
    e.reason = s.reason.map(str::to_string);
    e.role_arn = s.role.map(str::to_string);
    e.source_ip = s.ip.map(str::to_string);
    seed_event(app, e).await
}

async fn seed_event(app: &TestApp, e: AuditEvent) -> i64 {
    let id = e.id.clone();
    app.state.audit.record(e).await.unwrap();
    sqlx::query_scalar("SELECT seq FROM audit_events WHERE id = ?")
        .bind(id)
        .fetch_one(app.state.store.sql_pool().unwrap())
        .await
        .unwrap()
}

async fn count(app: &TestApp, event: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE event = ?")
        .bind(event)
        .fetch_one(app.state.store.sql_pool().unwrap())
        .await
        .unwrap()
}

/// The detail of the newest event named `event`.
async fn last_detail(app: &TestApp, event: &str) -> serde_json::Value {
    let r = sqlx::query("SELECT detail, subject, outcome FROM audit_events WHERE event = ? ORDER BY seq DESC LIMIT 1")
        .bind(event)
        .fetch_one(app.state.store.sql_pool().unwrap())
        .await
        .unwrap();
    assert_eq!(r.get::<String, _>("subject"), ADMIN);
    assert_eq!(r.get::<String, _>("outcome"), "success");
    serde_json::from_str(&r.get::<String, _>("detail")).unwrap()
}

/// Decode the HTML entities askama writes (`&#38;`, `&#34;`, …) and the named ones.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|&e| e <= 8);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                n if n.starts_with("#x") => u32::from_str_radix(&n[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
                n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The seq of every row in the list, in page order.
fn seqs(html: &str) -> Vec<i64> {
    html.split("data-seq=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

/// The href of the element with this id, when the page has one.
fn link(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\" href=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

/// A strict RFC 4180 reader: rows of cells.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR outside quotes only in CRLF");
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => {
                assert!(c != '"' && c != '\n', "bare {c:?} outside quotes");
                cell.push(c);
            }
        }
    }
    assert!(
        !quoted && cell.is_empty() && row.is_empty(),
        "unterminated row"
    );
    rows
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in() {
    let app = TestApp::spawn(AppOptions {
        store: Backing::Sqlite,
        ..Default::default()
    })
    .await;
    let c = client();
    for path in [
        "/admin/audit",
        "/admin/audit?subject=x",
        "/admin/audit.csv",
        "/admin/audit.jsonl",
        "/admin/audit/some-id",
    ] {
        let r = c.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(
            r.headers()["location"],
            "/saml/login?return_to=/admin/audit",
            "{path}"
        );
    }
    assert_eq!(count(&app, "admin.audit_viewed").await, 0);
}

#[tokio::test]
async fn non_admins_are_refused_and_the_refusal_is_audited() {
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
    let (_, home) = get(&app, &c, "/").await;
    assert!(!home.contains("/admin/audit"), "no admin link for others");
    for path in [
        "/admin/audit",
        "/admin/audit.csv",
        "/admin/audit.jsonl",
        "/admin/audit/x",
    ] {
        let (status, body) = get(&app, &c, path).await;
        assert_eq!(status, 403, "{path}");
        assert!(
            body.contains("You need to be in an admin group to view the audit trail"),
            "{body}"
        );
        assert!(
            !body.contains("login.succeeded"),
            "no events leak on the refusal page"
        );
    }
    let r = sqlx::query("SELECT subject, outcome, reason, detail FROM audit_events WHERE event = 'admin.audit_denied' ORDER BY seq")
        .fetch_all(app.state.store.sql_pool().unwrap())
        .await
        .unwrap();
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].get::<String, _>("subject"), "alice@example.com");
    assert_eq!(r[0].get::<String, _>("outcome"), "failure");
    assert!(r[0].get::<Option<String>, _>("reason").is_some());
    assert!(r[1].get::<String, _>("detail").contains("/admin/audit.csv"));
    assert_eq!(count(&app, "admin.audit_viewed").await, 0);
    assert_eq!(count(&app, "admin.audit_exported").await, 0);
}

#[tokio::test]
async fn admins_see_sign_ins_and_issued_credentials() {
    let (app, c) = admin_app().await;
    let (_, home) = get(&app, &c, "/").await;
    assert!(
        home.contains("href=\"/admin/audit\""),
        "admins get a link: {home}"
    );
    app.state.audit.verify().await.unwrap();
    let r = c
        .get(format!("{}/admin/audit", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    for want in [
        "login.succeeded",
        "role.selected",
        "credentials.issued",
        ADMIN,
    ] {
        assert!(html.contains(want), "{want} on the page");
    }
    // The role: its name and account in the table, the ARN (breaking only
    // after : and /) in a details element.
    assert!(
        html.contains("<span class=\"role-name\">Dev</span> <span class=\"muted\">in 111111111111</span><details>"),
        "{html}"
    );
    assert!(html.contains(
        "<code class=\"arn\">arn:<wbr>aws:<wbr>iam:<wbr>:<wbr>111111111111:<wbr>role/<wbr>Dev</code>"
    ));
    // The last check: what it covered, when (UTC), and what arrived since
    // (this view's own event).
    let summary = app.state.audit.chain_status().summary();
    let html_text = unescape(&html);
    assert!(html_text.contains(&summary), "chain status line: {summary}");
    let verified = app.state.audit.chain_status().events().unwrap();
    assert!(
        summary.starts_with("Chain intact at the last check (")
            && summary.contains(" UTC, ")
            && summary.ends_with(&format!("): {verified} events verified.")),
        "{summary}"
    );
    assert!(
        html_text.contains(&format!(
            "{summary} 1 event written since, not yet checked."
        )),
        "{html_text}"
    );
    app.state.audit.verify().await.unwrap();
    let (_, html) = get(&app, &c, "/admin/audit").await;
    assert!(unescape(&html).contains("1 event written since"));
    let (_, html) = get(&app, &c, "/admin/audit").await;
    assert!(unescape(&html).contains("2 events written since"));
    // The chart: inline SVG with an accessible title and a text legend; the
    // CSP allows no inline script or style, so the page has none.
    assert!(html.contains("<svg class=\"chart\"") && html.contains("<title id=\"chart-title\">"));
    assert!(html.contains("id=\"total-success\""));
    // The one script is the broker's own file (local times on the person's pages).
    assert!(
        !html.contains("style=")
            && html
                .split("<script")
                .skip(1)
                .all(|s| s.starts_with(" type=\"module\" src=\"/static/local-time.js\"></script>")),
        "no inline style or script"
    );
    assert!(
        html.contains("href=\"/admin/audit.csv\"") && html.contains("href=\"/admin/audit.jsonl\"")
    );
    // Newest first: this view's own event heads the list.
    let s = seqs(&html);
    assert!(s.windows(2).all(|w| w[0] > w[1]), "{s:?}");
    assert_eq!(count(&app, "admin.audit_viewed").await, 3);
    assert_eq!(link(&html, "older"), None);
}

#[tokio::test]
async fn the_event_filter_offers_every_event_the_broker_writes() {
    let (app, c) = admin_app().await;
    // A fresh trail holds no renewal yet; the filter still offers it, once.
    assert_eq!(count(&app, "credentials.renewed").await, 0);
    let (_, html) = get(&app, &c, "/admin/audit").await;
    for name in saml_broker::audit::EVENT_NAMES {
        assert_eq!(
            html.matches(&format!("<option value=\"{name}\"")).count(),
            1,
            "{name} offered once"
        );
    }
    let (status, html) = get(&app, &c, "/admin/audit?event=credentials.renewed").await;
    assert_eq!(status, 200);
    assert!(html.contains("<option value=\"credentials.renewed\" selected>"));
}

#[tokio::test]
async fn filters_narrow_the_list() {
    let (app, c) = admin_app().await;
    let dev = "arn:aws:iam::111111111111:role/Seeded";
    let e1 = seed(
        &app,
        Seed {
            reason: Some("Signature invalid"),
            ip: Some("198.51.100.7"),
            ..Seed::new(
                "login.failed",
                Outcome::Failure,
                "2020-01-01T10:00:00Z",
                "mallory@example.com",
            )
        },
    )
    .await;
    let e2 = seed(
        &app,
        Seed::new(
            "login.succeeded",
            Outcome::Success,
            "2020-01-02T10:00:00Z",
            "carol@example.com",
        ),
    )
    .await;
    let e3 = seed(
        &app,
        Seed {
            role: Some(dev),
            ..Seed::new(
                "credentials.issued",
                Outcome::Success,
                "2020-01-02T10:00:01Z",
                "carol@example.com",
            )
        },
    )
    .await;
    let e4 = seed(
        &app,
        Seed {
            reason: Some("Audience mismatch"),
            ..Seed::new(
                "login.failed",
                Outcome::Failure,
                "2020-01-03T00:00:00Z",
                "carol@example.com",
            )
        },
    )
    .await;
    let cases: Vec<(String, Vec<i64>)> = vec![
        ("subject=carol%40example.com".into(), vec![e4, e3, e2]),
        (
            "event=login.failed&since=2020-01-01&until=2020-01-03".into(),
            vec![e4, e1],
        ),
        ("outcome=failure&until=2020-01-02".into(), vec![e1]),
        ("text=SIGNATURE".into(), vec![e1]),
        (format!("role={}", urlencode(dev)), vec![e3]),
        ("source_ip=198.51.100.7".into(), vec![e1]),
        (
            "since=2020-01-02T00:00:00Z&until=2020-01-02T10:00:01Z".into(),
            vec![e2],
        ),
        (
            "subject=carol%40example.com&outcome=success&event=credentials.issued".into(),
            vec![e3],
        ),
        ("subject=nobody".into(), vec![]),
    ];
    for (qs, want) in cases {
        let (status, html) = get(&app, &c, &format!("/admin/audit?{qs}")).await;
        assert_eq!(status, 200, "{qs}: {html}");
        assert_eq!(seqs(&html), want, "{qs}");
        let filter = last_detail(&app, "admin.audit_viewed").await["filter"].clone();
        assert!(
            !filter.as_str().unwrap().is_empty(),
            "the view records its filter"
        );
    }
    // The form shows the filter again, and the chart counts what matches.
    let (_, html) = get(
        &app,
        &c,
        "/admin/audit?event=login.failed&subject=carol%40example.com",
    )
    .await;
    assert!(html.contains("value=\"carol@example.com\""));
    assert!(html.contains("<option value=\"login.failed\" selected>"));
    assert!(
        html.contains("id=\"total-failure\">1<") && html.contains("id=\"total-success\">0<"),
        "{html}"
    );
    assert_eq!(
        link(&html, "export-csv").unwrap(),
        "/admin/audit.csv?subject=carol%40example.com&event=login.failed"
    );
}

#[tokio::test]
async fn pages_are_keyset_paginated() {
    let (app, c) = admin_app().await;
    let mut seeded = Vec::new();
    for _ in 0..120 {
        seeded.push(
            seed(
                &app,
                Seed::new(
                    "test.paged",
                    Outcome::Success,
                    "2021-06-01T00:00:00Z",
                    "pager@example.com",
                ),
            )
            .await,
        );
    }
    let mut next = Some("/admin/audit?subject=pager%40example.com".to_string());
    let mut pages: Vec<Vec<i64>> = Vec::new();
    while let Some(url) = next {
        let (status, html) = get(&app, &c, &url).await;
        assert_eq!(status, 200);
        pages.push(seqs(&html));
        next = link(&html, "older");
        if let Some(n) = &next {
            assert!(
                n.contains("subject=pager%40example.com&before="),
                "the filter is kept: {n}"
            );
        }
        if pages.len() > 1 {
            assert_eq!(
                link(&html, "newest").unwrap(),
                "/admin/audit?subject=pager%40example.com"
            );
        }
        if pages.len() == 1 {
            // Events appended meanwhile do not shift the next page.
            seed(
                &app,
                Seed::new(
                    "test.paged",
                    Outcome::Success,
                    "2021-06-01T00:00:01Z",
                    "pager@example.com",
                ),
            )
            .await;
        }
        assert!(pages.len() <= 3, "too many pages");
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![50, 50, 20]
    );
    let all: Vec<i64> = pages.concat();
    seeded.reverse();
    assert_eq!(all, seeded, "every seeded event once, newest first");
    let (status, body) = get(&app, &c, "/admin/audit?before=abc").await;
    assert_eq!(status, 400);
    assert!(body.contains("before"));
}

#[tokio::test]
async fn an_event_page_shows_every_field() {
    let (app, c) = admin_app().await;
    let mut e = AuditEvent::new(
        "login.failed",
        Outcome::Failure,
        at("2022-02-02T02:02:02.250Z"),
    )
    .detail("code", "bad_signature")
    .detail(
        "nested",
        serde_json::json!({"list": [1, 2], "html": "<b>x</b>"}),
    );
    e.subject = Some("eve@example.com".into());
    e.source_ip = Some("203.0.113.9".into());
    e.user_agent = Some("curl/8.0 <script>".into());
    e.request_id = Some("req-123".into());
    e.idp = Some("https://adfs.example.com/adfs/services/trust".into());
    e.assertion_id = Some("_assert-9".into());
    e.role_arn = Some("arn:aws:iam::111111111111:role/Dev".into());
    e.access_key_id = Some("ASIAEXAMPLEKEY".into());
    e.reason = Some(HOSTILE.into());
    let id = e.id.clone();
    seed_event(&app, e).await;
    let stored = app.state.audit.get(&id).await.unwrap().unwrap();
    let (status, html) = get(&app, &c, &format!("/admin/audit/{id}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        !html.contains("<script>") && !html.contains("<b>"),
        "values are escaped"
    );
    let text = unescape(&html);
    for field in [
        "seq",
        "id",
        "time",
        "event",
        "outcome",
        "subject",
        "source_ip",
        "user_agent",
        "request_id",
        "idp",
        "assertion_id",
        "role_arn",
        "access_key_id",
        "reason",
        "prev_hash",
        "hash",
    ] {
        assert!(html.contains(&format!("id=\"field-{field}\"")), "{field}");
    }
    for want in [
        id.as_str(),
        "2022-02-02T02:02:02.250Z",
        "eve@example.com",
        "203.0.113.9",
        "curl/8.0 <script>",
        "req-123",
        "_assert-9",
        "ASIAEXAMPLEKEY",
        HOSTILE,
        stored.prev_hash.as_str(),
        stored.hash.as_str(),
        "\"nested\": {",
        "\"html\": \"<b>x</b>\"",
    ] {
        assert!(text.contains(want), "{want:?} on the event page");
    }
    assert!(
        html.contains("href=\"/admin/audit?subject=eve%40example.com\""),
        "filter links"
    );
    assert_eq!(
        last_detail(&app, "admin.audit_viewed").await["event_id"],
        id.as_str()
    );
    let (status, _) = get(&app, &c, "/admin/audit/no-such-event").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn exports_round_trip_hostile_values() {
    let (app, c) = admin_app().await;
    let mut e = AuditEvent::new("login.failed", Outcome::Failure, at("2023-03-03T03:03:03Z"))
        .detail("note", "line1\nline2, \"q\"");
    e.subject = Some("hostile@example.com".into());
    e.user_agent = Some("Mozilla/5.0, \"quoted\"".into());
    e.reason = Some(HOSTILE.into());
    e.role_arn = Some("+1".into());
    e.source_ip = Some("-1".into());
    e.request_id = Some("@SUM(A1:A9)".into());
    e.assertion_id = Some("ünïcødé ✓".into());
    let id = e.id.clone();
    let seq = seed_event(&app, e).await;

    let r = c
        .get(format!(
            "{}/admin/audit.csv?subject=hostile%40example.com",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cd.starts_with("attachment; filename=\"audit-") && cd.ends_with(".csv\""),
        "{cd}"
    );
    let rows = parse_csv(&r.text().await.unwrap());
    assert_eq!(rows.len(), 2, "header and one event: {rows:?}");
    let col = |name: &str| {
        rows[0]
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} column"))
    };
    let row = &rows[1];
    assert_eq!(row[col("seq")], seq.to_string());
    assert_eq!(row[col("id")], id);
    assert_eq!(
        row[col("reason")],
        format!("'{HOSTILE}"),
        "formula neutralised, text intact"
    );
    assert_eq!(row[col("role_arn")], "'+1");
    assert_eq!(row[col("source_ip")], "'-1");
    assert_eq!(row[col("request_id")], "'@SUM(A1:A9)");
    assert_eq!(row[col("assertion_id")], "ünïcødé ✓");
    assert_eq!(row[col("user_agent")], "Mozilla/5.0, \"quoted\"");
    assert_eq!(row[col("subject")], "hostile@example.com");
    let detail: serde_json::Value = serde_json::from_str(&row[col("detail")]).unwrap();
    assert_eq!(detail["note"], "line1\nline2, \"q\"");
    for key in [
        "time",
        "event",
        "outcome",
        "idp",
        "access_key_id",
        "prev_hash",
        "hash",
    ] {
        col(key);
    }

    let r = c
        .get(format!(
            "{}/admin/audit.jsonl?subject=hostile%40example.com",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .ends_with(".jsonl\""));
    let body = r.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 1, "{body}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["reason"], HOSTILE);
    assert_eq!(v["role_arn"], "+1");
    assert_eq!(v["assertion_id"], "ünïcødé ✓");
    assert_eq!(v["seq"], seq);
    for key in [
        "id",
        "time",
        "event",
        "outcome",
        "subject",
        "source_ip",
        "user_agent",
        "request_id",
        "idp",
        "assertion_id",
        "role_arn",
        "access_key_id",
        "reason",
        "prev_hash",
        "hash",
        "detail",
    ] {
        assert!(v.get(key).is_some(), "{key}");
    }

    // Unfiltered: oldest first, and the export's own event is already in it
    // (it was recorded before the response started).
    let body = c
        .get(format!("{}/admin/audit.jsonl", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let all: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(all
        .windows(2)
        .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64()));
    let last = all.last().unwrap();
    assert_eq!(last["event"], "admin.audit_exported");
    assert_eq!(last["detail"]["format"], "jsonl");
    assert!(all.iter().any(|e| e["event"] == "credentials.issued"));
}

#[tokio::test]
async fn views_and_exports_are_each_audited() {
    let (app, c) = admin_app().await;
    let (viewed, exported) = (
        count(&app, "admin.audit_viewed").await,
        count(&app, "admin.audit_exported").await,
    );
    assert_eq!(
        get(&app, &c, "/admin/audit?outcome=failure&text=bad")
            .await
            .0,
        200
    );
    assert_eq!(count(&app, "admin.audit_viewed").await, viewed + 1);
    let d = last_detail(&app, "admin.audit_viewed").await;
    assert_eq!(d["filter"], "outcome=failure&text=bad");
    assert_eq!(d["before"], serde_json::Value::Null);
    assert_eq!(
        get(&app, &c, "/admin/audit?outcome=failure&before=7")
            .await
            .0,
        200
    );
    assert_eq!(last_detail(&app, "admin.audit_viewed").await["before"], 7);
    assert_eq!(
        get(&app, &c, "/admin/audit.csv?event=login.succeeded")
            .await
            .0,
        200
    );
    assert_eq!(count(&app, "admin.audit_exported").await, exported + 1);
    let d = last_detail(&app, "admin.audit_exported").await;
    assert_eq!(d["format"], "csv");
    assert_eq!(d["filter"], "event=login.succeeded");
    assert_eq!(get(&app, &c, "/admin/audit.jsonl").await.0, 200);
    assert_eq!(count(&app, "admin.audit_exported").await, exported + 2);
    assert_eq!(
        last_detail(&app, "admin.audit_exported").await["format"],
        "jsonl"
    );
}

#[tokio::test]
async fn bad_filter_values_are_refused_with_400() {
    let (app, c) = admin_app().await;
    let before = count(&app, "admin.audit_viewed").await;
    for (path, field) in [
        ("/admin/audit?since=yesterday", "since"),
        ("/admin/audit?until=2026-02-30", "until"),
        ("/admin/audit?since=2026-01-02&until=2026-01-01", "until"),
        ("/admin/audit?outcome=maybe", "outcome"),
        ("/admin/audit.csv?since=nope", "since"),
        ("/admin/audit.jsonl?outcome=ok", "outcome"),
    ] {
        let (status, body) = get(&app, &c, path).await;
        assert_eq!(status, 400, "{path}");
        assert!(
            body.contains(&format!("{field}:")),
            "{path} names {field}: {body}"
        );
    }
    assert_eq!(
        count(&app, "admin.audit_viewed").await,
        before,
        "nothing shown, nothing recorded"
    );
    // The page comes back with the form as typed and the error next to the field.
    let (status, html) = get(
        &app,
        &c,
        "/admin/audit?since=yesterday&subject=carol%40example.com&outcome=failure",
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("<h1>Audit trail</h1>"), "{html}");
    assert!(html.contains(
        "id=\"f-since\" name=\"since\" aria-invalid=\"true\" aria-describedby=\"f-since-error\" value=\"yesterday\""
    ));
    let text = unescape(&html);
    assert!(
        text.contains(
            "<p class=\"field-error\" id=\"f-since-error\">since: \"yesterday\" is not a date"
        ),
        "{text}"
    );
    assert!(html.contains("value=\"carol@example.com\""));
    assert!(html.contains("<option value=\"failure\" selected>"));
    assert!(html.contains("id=\"filter-error\""));
    assert!(
        !html.contains("aria-invalid=\"true\" aria-describedby=\"f-subject-error\""),
        "only the bad field is marked"
    );
    assert!(
        seqs(&html).is_empty() && !html.contains("<svg"),
        "no events shown"
    );
    let (status, html) = get(&app, &c, "/admin/audit?before=abc&subject=x").await;
    assert_eq!(status, 400);
    assert!(html.contains("before: expected an event number") && html.contains("value=\"x\""));
    assert_eq!(count(&app, "admin.audit_viewed").await, before);
}

#[tokio::test]
async fn the_chart_fits_its_range_to_the_events_and_says_what_it_is() {
    let (app, c) = admin_app().await;
    let at = |subject: &'static str, time: &'static str| {
        Seed::new("login.succeeded", Outcome::Success, time, subject)
    };
    // Two events ten minutes apart: at least an hour, from the start of the hour.
    seed(&app, at("close@example.com", "2026-12-01T12:10:00Z")).await;
    seed(&app, at("close@example.com", "2026-12-01T12:20:00Z")).await;
    let (_, html) = get(&app, &c, "/admin/audit?subject=close%40example.com").await;
    assert!(
        unescape(&html)
            .contains("id=\"chart-range\" class=\"chart-range\">12:00–13:00 UTC, 1 Dec 2026<"),
        "{html}"
    );
    // Spread over a day: first to last event, the outer bars hold them.
    for t in [
        "2026-12-01T10:00:00Z",
        "2026-12-01T14:00:00Z",
        "2026-12-01T18:00:00Z",
    ] {
        seed(&app, at("spread@example.com", t)).await;
    }
    let (_, html) = get(&app, &c, "/admin/audit?subject=spread%40example.com").await;
    let text = unescape(&html);
    assert!(text.contains(">10:00–18:00 UTC, 1 Dec 2026<"), "{text}");
    assert!(
        text.contains("<title>12-01 10:00 to 12-01 10:20 UTC: 1 succeeded, 0 refused</title>"),
        "{text}"
    );
    assert_eq!(text.matches(": 1 succeeded").count(), 3, "{text}");
    // The whole trail of a fresh install (everything within seconds): an
    // hour, not 30 days.
    let (_, html) = get(&app, &c, "/admin/audit?since=2026-12-02").await;
    assert!(!html.contains("chart-range\">30"), "{html}");
    let (_, html) = get(&app, &c, "/admin/audit?subject=root%40example.com").await;
    let range = unescape(&html);
    let range = range
        .split("id=\"chart-range\" class=\"chart-range\">")
        .nth(1)
        .unwrap();
    let range = &range[..range.find('<').unwrap()];
    let (from, to) = range.split_once(" UTC").unwrap().0.split_once('–').unwrap();
    let minutes = |s: &str| {
        let (h, m) = s.split_once(':').unwrap();
        h.parse::<i32>().unwrap() * 60 + m.parse::<i32>().unwrap()
    };
    assert_eq!(minutes(to) - minutes(from), 60, "{range}");
}

#[tokio::test]
async fn admin_reads_fail_closed_when_the_trail_cannot_be_written() {
    let (app, c) = admin_app().await;
    sqlx::query("CREATE TRIGGER no_admin_events BEFORE INSERT ON audit_events WHEN NEW.event LIKE 'admin.%' BEGIN SELECT RAISE(ABORT, 'audit disk full'); END")
        .execute(app.state.store.sql_pool().unwrap())
        .await
        .unwrap();
    let id: String = sqlx::query_scalar("SELECT id FROM audit_events LIMIT 1")
        .fetch_one(app.state.store.sql_pool().unwrap())
        .await
        .unwrap();
    for path in [
        "/admin/audit".to_string(),
        "/admin/audit.csv".into(),
        "/admin/audit.jsonl".into(),
        format!("/admin/audit/{id}"),
    ] {
        let (status, body) = get(&app, &c, &path).await;
        assert_eq!(status, 503, "{path}");
        assert!(
            !body.contains("login.succeeded") && !body.contains("seq,id"),
            "{path} shows nothing"
        );
    }
}
