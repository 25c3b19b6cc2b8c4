//! Pages in a real Chromium (Debian's, driven by playwright-core from
//! tests/browser): the admin's audit page shows the events.

use crate::common::*;
use std::path::Path;
use std::process::Command;

fn browser_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser")
}

/// The session cookie from a successful ACS answer.
fn session_cookie(r: &reqwest::Response) -> String {
    let set = r.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

#[derive(Default)]
struct Check<'a> {
    url: String,
    cookie: String,
    expect: &'a [&'a str],
    screenshot: Option<&'a Path>,
    /// The page answers with an error status on purpose (e.g. 403).
    error_status: bool,
    /// A phone's viewport width: the page must fit it (see check-page.mjs).
    width: Option<u32>,
    /// The browser's time zone (Playwright's timezoneId).
    timezone: Option<&'a str>,
    /// Every `<time data-local-time>` shows local time, not its UTC fallback.
    local_times: bool,
    /// Elements holding an ARN that wraps only at its `<wbr>`s.
    wbr: &'a [&'a str],
    /// An element that ticks (the countdown) and must not change width.
    steady: Option<&'a str>,
}

fn check_page(c: &Check<'_>) -> std::process::Output {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "tests/browser/node_modules is missing: run scripts/setup.sh (the README test command does)"
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("check-page.mjs"))
        .args(["--url", &c.url, "--cookie", &c.cookie]);
    for e in c.expect {
        cmd.args(["--expect", e]);
    }
    if let Some(s) = c.screenshot {
        cmd.arg("--screenshot").arg(s);
    }
    if c.error_status {
        cmd.arg("--allow-http-error");
    }
    if let Some(w) = c.width {
        cmd.args(["--width", &w.to_string()]);
    }
    if let Some(tz) = c.timezone {
        cmd.args(["--timezone", tz]);
    }
    if c.local_times {
        cmd.arg("--local-times");
    }
    for w in c.wbr {
        cmd.args(["--wbr", w]);
    }
    if let Some(s) = c.steady {
        cmd.args(["--steady", s]);
    }
    cmd.output().expect("node runs")
}

fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "chromium check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// Multi-threaded: node blocks this thread while the server answers Chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_page_in_chromium_shows_the_events() {
    let app = TestApp::spawn(AppOptions::default()).await;
    // Someone signs in, someone is refused: there is something to review.
    let r = app
        .sign_in(&client(), "alice@example.com", &[ROLE_DEV])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.post_acs(&client(), "bm90IHhtbA==", None).await.status(),
        400
    );
    let admin = client();
    let r = app
        .sign_in_with_groups(
            &admin,
            "admin@example.com",
            &[ROLE_DEV],
            &["AWS-Broker-Admins"],
        )
        .await;
    assert_eq!(r.status(), 303);
    let shot = app.dir.0.join("admin-audit.png");
    let out = check_page(&Check {
        url: format!("{}/admin/audit", app.base),
        cookie: session_cookie(&r),
        expect: &[
            "alice@example.com",
            "login.succeeded",
            "credentials.issued",
            "login.failed",
            "config.loaded",
        ],
        screenshot: Some(&shot),
        error_status: false,
        width: None,
        ..Default::default()
    });
    assert_ok(&out);
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot was taken"
    );
    if let Ok(dest) = std::env::var("SCREENSHOT_DIR") {
        std::fs::copy(&shot, Path::new(&dest).join("admin-audit.png")).unwrap();
    }
    // A person who is not an admin sees the refusal in the browser too.
    let r = app.sign_in(&client(), "bob@example.com", &[ROLE_DEV]).await;
    let out = check_page(&Check {
        url: format!("{}/admin/audit", app.base),
        cookie: session_cookie(&r),
        expect: &["admin group"],
        screenshot: None,
        error_status: true,
        width: None,
        ..Default::default()
    });
    assert_ok(&out);
}

/// At a phone's width (390 px) the audit page fits the screen: each event is
/// a small card, the role shows as name and account, and the ARN, in a
/// details element, wraps only after `:` and `/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_page_fits_a_phone() {
    let app = TestApp::spawn(AppOptions::default()).await;
    let r = app
        .sign_in(&client(), "alice@example.com", &[ROLE_DEV])
        .await;
    assert_eq!(r.status(), 303);
    let mut e = saml_broker::audit::AuditEvent::new(
        "role.selected",
        saml_broker::audit::Outcome::Failure,
        chrono::Utc::now(),
    );
    e.subject = Some("someone.with.a.long.name@subsidiary.example.com".into());
    e.role_arn = Some(
        "arn:aws:iam::123456789012:role/engineering/platform/BrokerPlatformAdministratorsWithALongName"
            .into(),
    );
    e.reason = Some("role not in the allowed set: the policy's deny list names arn:aws:iam::123456789012:role/engineering/platform/BrokerPlatformAdministratorsWithALongName".into());
    e.source_ip = Some("2001:db8:85a3::8a2e:370:7334".into());
    app.state.audit.record(e).await.unwrap();
    let admin = client();
    let r = app
        .sign_in_with_groups(
            &admin,
            "admin@example.com",
            &[ROLE_DEV],
            &["AWS-Broker-Admins"],
        )
        .await;
    let shot = app.dir.0.join("admin-audit-phone.png");
    let out = check_page(&Check {
        url: format!("{}/admin/audit", app.base),
        cookie: session_cookie(&r),
        expect: &[
            "BrokerPlatformAdministratorsWithALongName",
            "Dev",
            "login.succeeded",
        ],
        screenshot: Some(&shot),
        error_status: false,
        width: Some(390),
        ..Default::default()
    });
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert_ok(&out);
    if let Ok(dest) = std::env::var("SCREENSHOT_DIR") {
        std::fs::copy(&shot, Path::new(&dest).join("admin-audit-phone.png")).unwrap();
    }
}

/// Item 7 of issue 14, in a browser set to Paris: the account page and the
/// app show the expiry in local time with the zone ("CET", never the UTC
/// fallback), the audit pages stay in UTC, the countdown keeps its width, and
/// ARNs (account page, role picker, event page, app) carry `<wbr>` after `/`
/// and `:` with the `arn` class.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_are_local_with_their_zone_and_arns_wrap_only_at_separators() {
    // The event to open is looked up in the SQLite file.
    let app = TestApp::spawn(AppOptions {
        store: Backing::Sqlite,
        ..Default::default()
    })
    .await;
    assert!(
        saml_broker::web::assets::available(),
        "frontend/dist was not built into the broker: run scripts/setup.sh"
    );
    let paris = Some("Europe/Paris");
    // One role: in use straight after sign-in.
    let r = app
        .sign_in(&client(), "alice@example.com", &[ROLE_DEV])
        .await;
    assert_eq!(r.status(), 303);
    let alice = session_cookie(&r);
    let out = check_page(&Check {
        url: format!("{}/", app.base),
        cookie: alice.clone(),
        expect: &["Credentials expire", "CET"],
        timezone: paris,
        local_times: true,
        wbr: &["#principal-arn code.arn"],
        ..Default::default()
    });
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert_ok(&out);
    let out = check_page(&Check {
        url: format!("{}/app/", app.base),
        cookie: alice,
        expect: &["left", "CET"],
        timezone: paris,
        wbr: &["#principal-arn"],
        steady: Some("#time-left"),
        ..Default::default()
    });
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert_ok(&out);
    // Two roles: the picker, with each role's ARN.
    let two = [
        ROLE_DEV,
        "arn:aws:iam::222222222222:role/team/ReadOnly,arn:aws:iam::222222222222:saml-provider/ADFS",
    ];
    let admin = client();
    let r = app
        .sign_in_with_groups(&admin, "admin@example.com", &two, &["AWS-Broker-Admins"])
        .await;
    assert_eq!(r.headers()["location"], "/choose-role");
    let cookie = session_cookie(&r);
    let out = check_page(&Check {
        url: format!("{}/choose-role", app.base),
        cookie: cookie.clone(),
        expect: &["arn:aws:iam::222222222222:role/team/ReadOnly"],
        wbr: &[".role-option code.arn"],
        ..Default::default()
    });
    assert_ok(&out);
    // The audit trail stays in UTC, in Paris too; the event page's role ARN wraps at separators.
    let (id,): (String,) = sqlx::query_as(
        "SELECT id FROM audit_events WHERE role_arn IS NOT NULL ORDER BY seq LIMIT 1",
    )
    .fetch_one(app.state.store.sql_pool().unwrap())
    .await
    .unwrap();
    let out = check_page(&Check {
        url: format!("{}/admin/audit", app.base),
        cookie: cookie.clone(),
        expect: &["Time (UTC)", " UTC, "],
        timezone: paris,
        ..Default::default()
    });
    assert_ok(&out);
    let out = check_page(&Check {
        url: format!("{}/admin/audit/{id}", app.base),
        cookie,
        expect: &["role_arn"],
        timezone: paris,
        wbr: &["#field-role_arn code.arn"],
        ..Default::default()
    });
    assert_ok(&out);
}

/// The whole person-facing flow in Chromium; see tests/browser/e2e.mjs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_end_to_end_through_a_third_party_idp() {
    use crate::interop::{start_samlp_for, SAMLP_ISSUER};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let idp = start_samlp_for(
        idp_key(),
        &format!("{base}/saml/metadata"),
        &format!("{base}/saml/acs"),
    );
    let verifier_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_on(
        listener,
        AppOptions {
            idp_entity: SAMLP_ISSUER.into(),
            idp_sso: format!("{}/sso", idp.base),
            extra_toml: format!(
                "[frontend]\napi_endpoints = [{{ name = \"PING\", url = \"http://127.0.0.1:{verifier_port}/prod/ping\" }}]\n"
            ),
            // The page calls STS GetCallerIdentity with the issued credentials,
            // and the trail is read back from the SQLite file.
            aws: Aws::Moto,
            store: Backing::Sqlite,
            ..Default::default()
        },
    )
    .await;
    assert!(
        saml_broker::web::assets::available(),
        "frontend/dist was not built into the broker: run scripts/setup.sh"
    );
    let shots = std::env::var("SCREENSHOT_DIR").unwrap_or_else(|_| app.dir.0.display().to_string());
    let out = Command::new("node")
        .arg(browser_dir().join("e2e.mjs"))
        .args([
            "--base",
            &base,
            "--verifier-port",
            &verifier_port.to_string(),
            "--screenshots",
            &shots,
        ])
        .output()
        .expect("node runs");
    assert_ok(&out);
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("e2e: all steps passed"), "{log}");
    // What the browser did is in the audit trail, with the signed-in person.
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT event, subject FROM audit_events ORDER BY seq")
            .fetch_all(app.state.store.sql_pool().unwrap())
            .await
            .unwrap();
    let carol = |e: &str| {
        rows.iter()
            .filter(|r| r.0 == e && r.1.as_deref() == Some("carol@example.com"))
            .count()
    };
    assert_eq!(carol("login.succeeded"), 1);
    assert!(
        carol("credentials.issued") >= 2,
        "ReadOnly, then Dev: {rows:?}"
    );
    assert_eq!(carol("logout"), 1);
    assert!(carol("admin.audit_viewed") >= 1);
}

/// Credentials that run out while the app is open (tests/browser/expiry.mjs):
/// the calls turn off with the reason, nothing is signed with the old key, the
/// broker's hand-over page explains the sign-in, and after it the person is
/// back on /app/ (the sign-in started at `/`, the return is still the app).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_credentials_in_the_app_turn_calls_off_and_sign_in_again_back_to_the_app() {
    use std::io::{BufRead, BufReader, Write};
    let clock = std::sync::Arc::new(saml_broker::clock::FixedClock::new(chrono::Utc::now()));
    // The IdP's SSO URL is answered by the browser script (same site as the broker).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let idp_sso = format!("http://127.0.0.1:{port}/sso");
    let app = TestApp::spawn(AppOptions {
        clock: Some(clock.clone()),
        idp_sso: idp_sso.clone(),
        ..Default::default()
    })
    .await;
    let r = app
        .sign_in(&client(), "alice@example.com", &[ROLE_DEV])
        .await;
    assert_eq!(r.status(), 303);
    let shots = std::env::var("SCREENSHOT_DIR").unwrap_or_else(|_| app.dir.0.display().to_string());
    let mut child = Command::new("node")
        .arg(browser_dir().join("expiry.mjs"))
        .args(["--base", &app.base, "--cookie", &session_cookie(&r)])
        .args(["--idp-sso", &idp_sso, "--screenshots", &shots])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut log = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line == "ready-to-expire" {
            // Past the assertion's life: the broker can no longer renew.
            clock.set(chrono::Utc::now() + chrono::Duration::hours(3));
            writeln!(stdin, "go").unwrap();
        } else if let Some(rest) = line.strip_prefix("idp-request ") {
            clock.set(chrono::Utc::now());
            let request = rest.split(' ').next().unwrap();
            let xml = saml_broker::saml::authn::decode_redirect_request(request).unwrap();
            let req = saml_broker::saml::xml::parse(&xml).unwrap();
            let spec = app.spec("alice@example.com", Some(req.attr("ID").unwrap()));
            writeln!(stdin, "{}", spec.sign_base64(idp_key()).unwrap()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && log.contains("expiry: all steps passed"),
        "chromium check failed:\n{log}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One header on every page (product name, Account, Web app, Audit trail for
/// admins, Sign out), a skip link first, and the same links, buttons and
/// focus ring on the broker's pages and in the web app (tests/browser/pages.mjs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_has_the_one_header_a_skip_link_and_the_same_controls() {
    let app = TestApp::spawn(AppOptions::default()).await;
    let two = [
        ROLE_DEV,
        "arn:aws:iam::222222222222:role/ReadOnly,arn:aws:iam::222222222222:saml-provider/ADFS",
    ];
    let c = client();
    let r = app
        .sign_in_with_groups(&c, "admin@example.com", &two, &["AWS-Broker-Admins"])
        .await;
    assert_eq!(r.headers()["location"], "/choose-role");
    let cookie = session_cookie(&r);
    let run = |cookie: Option<&str>, paths: &[&str], header: &str| {
        let mut cmd = Command::new("node");
        cmd.arg(browser_dir().join("pages.mjs"))
            .args(["--base", &app.base, "--header", header]);
        if let Some(c) = cookie {
            cmd.args(["--cookie", c]);
        }
        for p in paths {
            cmd.args(["--path", p]);
        }
        let out = cmd.output().expect("node runs");
        println!("{}", String::from_utf8_lossy(&out.stdout));
        out
    };
    let signed_in = "saml-broker|Account|Web app|Audit trail|Sign out";
    // Before a role is chosen, then with one in use.
    assert_ok(&run(
        Some(&cookie),
        &["/choose-role", "/", "/app/"],
        signed_in,
    ));
    let csrf = app.get_json(&c, "/api/session").await.1["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c
        .post(format!("{}/choose-role", app.base))
        .form(&[
            ("role_arn", "arn:aws:iam::111111111111:role/Dev"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_ok(&run(
        Some(&cookie),
        &["/", "/app/", "/admin/audit", "/choose-role"],
        signed_in,
    ));
    // Signed out: the same header with only the way in.
    assert_ok(&run(
        None,
        &["/signed-out", "/signing-in", "/app/"],
        "saml-broker|Sign in",
    ));
}
