//! What the broker answers over HTTP: the dev IdP round trip, refusals as a
//! person sees them, replay, return_to, CSRF, health and metadata. The dev
//! IdP round trips and the tests of cookies across a real client go through
//! the real server (`TestApp::spawn`); the rest ask the router in process
//! (`TestApp::in_process`, `crate::oneshot`).

use crate::common::*;
use saml_broker::clock::FixedClock;
use saml_broker::devidp::server::{router as idp_router, DevIdp, DevIdpOptions};
use std::sync::Arc;

async fn spawn_dev_idp(app_base: &str, dir: &std::path::Path) -> (String, Arc<DevIdp>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let users = concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/dev-idp-users.toml");
    let idp = Arc::new(
        DevIdp::new(&DevIdpOptions {
            listen: "127.0.0.1:0".into(),
            public_url: base.clone(),
            users_file: users.into(),
            state_dir: dir.join("idp"),
            sp_acs_url: format!("{app_base}/saml/acs"),
            sp_entity_id: format!("{app_base}/saml/metadata"),
            metadata_out: None,
        })
        .unwrap(),
    );
    let r = idp_router(idp.clone());
    tokio::spawn(async move { axum::serve(listener, r).await });
    (base, idp)
}

/// A broker trusting a dev IdP; the app's port must be known before the IdP is built.
async fn app_with_dev_idp() -> (TestApp, String) {
    // Bind the IdP first on a known port so the broker can load its metadata.
    let dir = TempDir::new();
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_addr = probe.local_addr().unwrap();
    drop(probe);
    let app_base = format!("http://{app_addr}");
    let (idp_base, idp) = spawn_dev_idp(&app_base, &dir.0).await;
    let app = TestApp::spawn_at(
        app_addr,
        AppOptions {
            idp_entity: idp.entity_id.clone(),
            idp_sso: idp.sso_url.clone(),
            metadata: Some(idp.metadata().unwrap()),
            ..Default::default()
        },
    )
    .await;
    (app, idp_base)
}

#[tokio::test]
async fn dev_idp_round_trip_through_the_real_servers() {
    let (app, _idp) = app_with_dev_idp().await;
    let c = client();
    // The broker's front page sends a stranger to sign in.
    let r = c.get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let r = c
        .get(format!("{}/saml/login?return_to=/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let to_idp = r.headers()["location"].to_str().unwrap().to_string();
    // The IdP's login form, then sign in as bob (three roles).
    let form = c.get(&to_idp).send().await.unwrap().text().await.unwrap();
    let request_id = form_value(&form, "request_id").unwrap();
    let relay = form_value(&form, "relay_state").unwrap();
    assert!(request_id.starts_with('_'));
    let idp_base = to_idp.split("/sso").next().unwrap().to_string();
    let posted = c
        .post(format!("{idp_base}/sso"))
        .form(&[
            ("username", "bob"),
            ("password", "bob"),
            ("request_id", &request_id),
            ("relay_state", &relay),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let saml = form_value(&posted, "SAMLResponse").unwrap();
    assert_eq!(form_value(&posted, "RelayState").unwrap(), relay);
    let r = app.post_acs(&c, &saml, Some(&relay)).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(
        r.headers()["location"],
        "/choose-role",
        "three roles: the person chooses"
    );
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "http public_url: no Secure flag"
    );
    let picker = c
        .get(format!("{}/choose-role", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        picker.contains("BrokerDeveloper")
            && picker.contains("ReadOnly")
            && picker.contains("Operator")
    );
    // The landing page shows who signed in and every role with account and name.
    let home = c
        .get(format!("{}/", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("bob@example.com"));
    assert!(home.contains("Developers, Operators"));
    for (acct, role) in [
        ("123456789012", "BrokerDeveloper"),
        ("210987654321", "ReadOnly"),
        ("345678901234", "Operator"),
    ] {
        assert!(
            home.contains(&format!(
                "<span class=\"role-name\">{role}</span>\n      <span class=\"role-account\">{acct}</span>"
            )),
            "{acct}/{role}: {home}"
        );
    }
    // The session API.
    let s: serde_json::Value = c
        .get(format!("{}/api/session", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["subject"], "bob@example.com");
    assert_eq!(s["roles"].as_array().unwrap().len(), 3);
    assert_eq!(s["role_arn"], serde_json::Value::Null);
    assert_eq!(s["is_admin"], false);
    let csrf = s["csrf_token"].as_str().unwrap().to_string();
    // Logout without the CSRF token is refused; with it, the session ends.
    let r = c
        .post(format!("{}/logout", app.base))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(format!("{}/logout", app.base))
        .header("origin", "https://evil.example")
        .form(&[("csrf_token", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "a foreign Origin is refused even with the token"
    );
    let r = c
        .post(format!("{}/logout", app.base))
        .form(&[("csrf_token", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = c
        .get(format!("{}/api/session", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "not_signed_in");
    assert!(body["request_id"].as_str().unwrap().len() >= 16);
}

#[tokio::test]
async fn admin_group_marks_the_session_admin() {
    let (app, idp_base) = app_with_dev_idp().await;
    let c = client();
    let (rid, relay) = app.start_login(&c, None).await;
    let posted = c
        .post(format!("{idp_base}/sso"))
        .form(&[
            ("username", "admin"),
            ("password", "admin"),
            ("request_id", &rid),
            ("relay_state", &relay),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = app
        .post_acs(
            &c,
            &form_value(&posted, "SAMLResponse").unwrap(),
            Some(&relay),
        )
        .await;
    assert_eq!(r.status(), 303);
    let s: serde_json::Value = c
        .get(format!("{}/api/session", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["is_admin"], true);
    // One role: taken at once.
    assert_eq!(
        s["role_arn"],
        "arn:aws:iam::123456789012:role/BrokerAuditor"
    );
}

#[tokio::test]
async fn dev_idp_refuses_a_wrong_password_and_keeps_the_pending_sign_in() {
    let (app, idp_base) = app_with_dev_idp().await;
    let c = client();
    let r = c
        .get(format!("{}/saml/login?return_to=/", app.base))
        .send()
        .await
        .unwrap();
    let to_idp = r.headers()["location"].to_str().unwrap().to_string();
    let form = c.get(&to_idp).send().await.unwrap().text().await.unwrap();
    let request_id = form_value(&form, "request_id").unwrap();
    let relay = form_value(&form, "relay_state").unwrap();
    let r = c
        .post(format!("{idp_base}/sso"))
        .form(&[
            ("username", "bob"),
            ("password", "alice"),
            ("request_id", &request_id),
            ("relay_state", &relay),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The form again, with the message, the name typed and the pending sign-in.
    let again = r.text().await.unwrap();
    assert!(
        again.contains("id=\"login-error\"") && again.contains("wrong password"),
        "{again}"
    );
    assert!(again.contains("<form method=\"post\" action=\"/sso\">"));
    assert_eq!(form_value(&again, "username").as_deref(), Some("bob"));
    assert_eq!(form_value(&again, "request_id").unwrap(), request_id);
    assert_eq!(form_value(&again, "relay_state").unwrap(), relay);
    // The right password now completes the same sign-in.
    let posted = c
        .post(format!("{idp_base}/sso"))
        .form(&[
            ("username", "bob"),
            ("password", "bob"),
            ("request_id", &form_value(&again, "request_id").unwrap()),
            ("relay_state", &form_value(&again, "relay_state").unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let saml = form_value(&posted, "SAMLResponse").unwrap();
    let r = app.post_acs(&c, &saml, Some(&relay)).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["location"], "/choose-role");
}

#[tokio::test]
async fn unknown_paths_get_a_404_page_or_json_and_error_pages_know_who_is_signed_in() {
    let app = TestApp::in_process(AppOptions::default()).await;
    let b = app.browser();
    let r = b.get("/no/such/page").send().await;
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text();
    assert!(html.contains("<h1>Page not found</h1>"), "{html}");
    assert!(html.contains("class=\"bar\"") && html.contains("id=\"nav-sign-in\""));
    assert!(html.contains("id=\"request-id\""));
    let r = b.get("/api/nothing").send().await;
    assert_eq!(r.status(), 404);
    let body = r.json();
    assert_eq!(body["error"], "not_found", "{body}");
    assert!(body["request_id"].as_str().is_some_and(|s| !s.is_empty()));
    // Signed in: the 404 page, and any other error page, has the signed-in header.
    assert_eq!(
        b.sign_in("alice@example.com", &[ROLE_DEV]).await.status(),
        303
    );
    let html = b.get("/nowhere").send().await.text();
    assert!(
        html.contains("id=\"sign-out\"") && html.contains("id=\"nav-account\""),
        "{html}"
    );
    assert!(!html.contains("id=\"nav-sign-in\""));
    let r = b.get("/admin/audit").send().await;
    assert_eq!(r.status(), 403);
    let html = r.text();
    assert!(html.contains("admin group") && html.contains("id=\"sign-out\""));
}

#[tokio::test]
async fn a_refusal_names_the_problem_and_the_request_id_and_hides_the_rest() {
    let app = TestApp::in_process(AppOptions::default()).await;
    let b = app.browser();
    let (rid, relay) = b.start_login(None).await;
    let mut s = app.spec("alice@example.com", Some(&rid));
    s.audiences = Some(vec!["https://some-other-app.example.com".into()]);
    let r = b
        .post_acs(&s.sign_base64(idp_key()).unwrap(), Some(&relay))
        .await;
    assert_eq!(r.status(), 400);
    let header_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no session on refusal"
    );
    let page = r.text();
    assert!(page.contains("This sign-in response was meant for a different application."));
    assert!(page.contains(&header_id), "the request id is on the page");
    assert!(
        !page.contains("some-other-app"),
        "technical detail stays in the logs"
    );
    assert!(!page.contains("Assertion") && !page.contains("SAMLResponse"));
}

#[tokio::test]
async fn replay_is_refused_by_the_replay_cache() {
    let app = TestApp::in_process(AppOptions {
        idp_initiated: true,
        ..Default::default()
    })
    .await;
    let saml = app
        .spec("alice@example.com", None)
        .sign_base64(idp_key())
        .unwrap();
    let first = app.browser().post_acs(&saml, None).await;
    assert_eq!(first.status(), 303);
    let second = app.browser().post_acs(&saml, None).await;
    assert_eq!(second.status(), 400);
    assert!(second
        .text()
        .contains("This sign-in link has already been used"));
}

#[tokio::test]
async fn a_used_relay_state_cannot_be_used_again() {
    let app = TestApp::in_process(AppOptions::default()).await;
    let b = app.browser();
    let (rid, relay) = b.start_login(Some("/app/page?x=1")).await;
    let saml = app
        .spec("alice@example.com", Some(&rid))
        .sign_base64(idp_key())
        .unwrap();
    let r = b.post_acs(&saml, Some(&relay)).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/app/page?x=1",
        "return_to is honoured"
    );
    let again = app.browser().post_acs(&saml, Some(&relay)).await;
    assert_eq!(again.status(), 400);
    assert!(again.text().contains("already been used"));
}

#[tokio::test]
async fn unsolicited_responses_are_refused_by_default() {
    let app = TestApp::in_process(AppOptions::default()).await;
    let saml = app
        .spec("alice@example.com", None)
        .sign_base64(idp_key())
        .unwrap();
    let r = app.browser().post_acs(&saml, None).await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .contains("Sign-in must be started from this application"));
}

#[tokio::test]
async fn return_to_outside_the_app_is_refused() {
    let app = TestApp::in_process(AppOptions::default()).await;
    for bad in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let r = app
            .browser()
            .get(&format!("/saml/login?return_to={}", urlencode(bad)))
            .send()
            .await;
        assert_eq!(r.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn the_clock_is_injectable_end_to_end() {
    let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
    let app = TestApp::in_process(AppOptions {
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    let b = app.browser();
    let (rid, relay) = b.start_login(None).await;
    let saml = app
        .spec("alice@example.com", Some(&rid))
        .sign_base64(idp_key())
        .unwrap();
    clock.set(chrono::Utc::now() + chrono::Duration::hours(2));
    let r = b.post_acs(&saml, Some(&relay)).await;
    // The pending request expired too (10 minutes), so the person is told to sign in again.
    assert_eq!(r.status(), 400);
    let page = r.text();
    assert!(
        page.contains("sign in again") || page.contains("Sign in again"),
        "{page}"
    );
}

#[tokio::test]
async fn oversized_posts_are_refused_before_parsing() {
    let app = TestApp::in_process(AppOptions::default()).await;
    let big = "A".repeat(700 * 1024);
    let r = app.browser().post_acs(&big, None).await;
    assert_eq!(r.status(), 413);
    let big = "A".repeat(400 * 1024);
    let r = app.browser().post_acs(&big, None).await;
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn metadata_health_and_headers() {
    // The store writer's counters are the SQL store's.
    let app = TestApp::in_process(AppOptions {
        store: Backing::Sqlite,
        ..Default::default()
    })
    .await;
    let b = app.browser();
    let r = b.get("/saml/metadata").send().await;
    assert_eq!(r.headers()["content-type"], "application/samlmetadata+xml");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let md = r.text();
    assert!(md.contains(&format!("Location=\"{}/saml/acs\"", app.base)));
    assert!(md.contains(&format!("entityID=\"{}/saml/metadata\"", app.base)));
    assert_eq!(b.get("/healthz").send().await.status(), 200);
    assert_eq!(b.get("/readyz").send().await.status(), 200);
    // A refusal shows up in the metrics with its reason code.
    let _ = b.post_acs("bm90IHhtbA==", None).await;
    let m = b.get("/metrics").send().await.text();
    assert!(
        m.contains("broker_login_total{outcome=\"failure\",reason=\"xml_refused\"} 1"),
        "{m}"
    );
    // The refusal's audit event went through the store's writer.
    let count = |name: &str| -> u64 {
        m.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing: {m}"))
    };
    assert!(count("broker_store_writes_total") >= 1, "{m}");
    assert!(count("broker_store_batches_total") >= 1, "{m}");
    assert_eq!(count("broker_store_write_failures_total"), 0, "{m}");
}

#[tokio::test]
async fn a_broker_without_a_metadata_signing_certificate_does_not_start() {
    let dir = TempDir::new();
    std::fs::write(
        dir.0.join("idp.xml"),
        metadata_for(IDP, "https://adfs/sso", &[]),
    )
    .unwrap();
    let cfg = saml_broker::config::Config::from_toml_str(
        "[idp]\nmetadata_file = \"idp.xml\"\n[storage]\nurl = \"sqlite://b.db\"\n",
        &dir.0.join("broker.toml"),
        std::iter::empty(),
    )
    .unwrap();
    let Err(err) = saml_broker::startup::Builder::new(cfg).build().await else {
        panic!("the broker started without a signing certificate");
    };
    assert!(
        format!("{err:#}").contains("no signing certificate"),
        "{err:#}"
    );
}

#[tokio::test]
async fn the_acs_and_api_are_rate_limited_per_address() {
    let app = TestApp::in_process(AppOptions {
        extra_toml: "[limits]\nrequests_per_minute = 3\n".into(),
        ..Default::default()
    })
    .await;
    let b = app.browser();
    for _ in 0..3 {
        assert_eq!(b.post_acs("bm90IHhtbA==", None).await.status(), 400);
    }
    let r = b.post_acs("bm90IHhtbA==", None).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "60");
    let r = b.get("/api/session").send().await;
    assert_eq!(r.status(), 429, "the same bucket covers /api");
    // Pages and health checks are not limited.
    assert_eq!(b.get("/healthz").send().await.status(), 200);
    assert_eq!(b.get("/saml/metadata").send().await.status(), 200);
}

#[tokio::test]
async fn idp_metadata_loads_from_a_url_and_a_bad_url_is_named() {
    let dir = TempDir::new();
    let (idp_base, idp) = spawn_dev_idp("http://127.0.0.1:1", &dir.0).await;
    let md = saml_broker::saml::metadata::load(None, Some(&format!("{idp_base}/metadata")))
        .await
        .unwrap();
    assert_eq!(md.entity_id, idp.entity_id);
    assert_eq!(md.certs.len(), 1);
    assert_eq!(md.certs[0].der, idp.key.cert_der().unwrap());
    let missing = format!("{idp_base}/no-such-metadata");
    let err = saml_broker::saml::metadata::load(None, Some(&missing))
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&missing), "{err}");
}

#[tokio::test]
async fn a_sign_in_cannot_be_finished_in_another_browser() {
    // Login CSRF: an attacker starts a sign-in, gets their own response, and
    // makes the victim's browser post it.
    let app = TestApp::spawn(AppOptions::default()).await;
    let attacker = client();
    let r = attacker
        .get(format!("{}/saml/login", app.base))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("broker_login="), "{cookie}");
    assert!(
        cookie.contains("Path=/saml/acs")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let (rid, relay) = app.start_login(&attacker, None).await;
    let saml = app
        .spec("mallory@example.com", Some(&rid))
        .sign_base64(idp_key())
        .unwrap();
    let victim = client();
    let r = app.post_acs(&victim, &saml, Some(&relay)).await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("started in another browser"));
    let (status, _) = app.get_json(&victim, "/api/session").await;
    assert_eq!(status, 401, "the victim got no session");
    // Nor was the pending sign-in burned: the browser that started it finishes it.
    let r = app.post_acs(&attacker, &saml, Some(&relay)).await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn on_https_the_login_cookie_survives_the_idps_cross_site_post() {
    let app = TestApp::in_process(AppOptions {
        public_url: Some("https://broker.example.com".into()),
        ..Default::default()
    })
    .await;
    let r = app.browser().get("/saml/login").send().await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("SameSite=None; Secure"), "{cookie}");
}

/// The hand-over page the web app opens when its session ended: it says why,
/// then follows the broker's own sign-in URL, and nothing else.
#[tokio::test]
async fn the_hand_over_page_explains_the_sign_in_and_follows_only_the_brokers_login() {
    let app = TestApp::in_process(AppOptions::default()).await;
    let b = app.browser();
    let next =
        "/saml/login?role=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2FDev&return_to=%2Fapp%2F%23x";
    let r = b
        .get(&format!("/signing-in?next={}", urlencode(next)))
        .send()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().replace("&#38;", "&");
    assert!(
        html.contains("Your AWS session ended; signing you in again…"),
        "{html}"
    );
    assert!(
        html.contains(&format!("content=\"3;url={next}\"")),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"{next}\"")), "{html}");
    assert!(html.contains("id=\"continue-sign-in\""), "{html}");
    for evil in [
        "https://evil.example/saml/login",
        "//evil.example/saml/login",
        "/saml/login\\@evil.example",
        "/admin/audit",
        "/saml/login/../../x",
        "javascript:alert(1)",
    ] {
        let html = b
            .get(&format!("/signing-in?next={}", urlencode(evil)))
            .send()
            .await
            .text();
        assert!(!html.contains("evil"), "{evil}: {html}");
        assert!(
            html.contains("url=/saml/login?return_to=%2Fapp%2F\""),
            "{evil} falls back to a sign-in back to the app: {html}"
        );
    }
}

/// The session cookie a response sets, if any.
fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("broker_session="))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
}

#[tokio::test]
async fn every_sign_in_gets_a_new_session_id_and_the_old_one_ends() {
    let app = TestApp::spawn(AppOptions {
        idp_initiated: true,
        ..Default::default()
    })
    .await;
    let c = client();
    let roles = [
        ROLE_DEV,
        "arn:aws:iam::222222222222:role/ReadOnly,arn:aws:iam::222222222222:saml-provider/ADFS",
    ];
    let first = app.sign_in(&c, "alice@example.com", &roles).await;
    assert_eq!(first.status(), 303);
    let old = session_cookie(&first).expect("a session cookie");
    // The same browser signs in again (or someone planted a cookie in it):
    // the session gets a new id, and the old id no longer works.
    let second = app.sign_in(&c, "alice@example.com", &roles).await;
    assert_eq!(second.status(), 303);
    let new = session_cookie(&second).expect("a new session cookie");
    assert_ne!(old, new);
    let stale = reqwest::Client::new()
        .get(format!("{}/api/session", app.base))
        .header(reqwest::header::COOKIE, format!("broker_session={old}"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
    let fresh = reqwest::Client::new()
        .get(format!("{}/api/session", app.base))
        .header(reqwest::header::COOKIE, format!("broker_session={new}"))
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
}
