//! Policy and the credential exchange end to end, through the HTTP server,
//! against a real moto server: sign in -> policy -> exchange ->
//! /api/credentials -> GetCallerIdentity with the returned credentials.
//! Each test that exchanges says so (`aws: Aws::Moto` or `Aws::Real`); the
//! few that never reach AWS use the default fake exchange.

use crate::common::*;
use crate::moto::{aws_config, caller_arn, identity_pool};
use saml_broker::config::AwsMode;

const DEV: &str = "arn:aws:iam::111111111111:role/Dev,arn:aws:iam::111111111111:saml-provider/ADFS";
const RO: &str =
    "arn:aws:iam::222222222222:saml-provider/ADFS,arn:aws:iam::222222222222:role/ReadOnly";
const OPS: &str = "arn:aws:iam::333333333333:role/Ops,arn:aws:iam::333333333333:saml-provider/ADFS";

fn sts_app() -> AppOptions {
    AppOptions {
        aws: Aws::Real(Box::new(aws_config(AwsMode::StsSaml, None))),
        ..Default::default()
    }
}

#[tokio::test]
async fn cognito_mode_end_to_end() {
    let app = TestApp::spawn(AppOptions {
        aws: Aws::Moto,
        ..Default::default()
    })
    .await;
    let c = client();
    let r = app.sign_in(&c, "alice@example.com", &[DEV]).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["location"], "/");
    let (status, creds) = app.get_json(&c, "/api/credentials").await;
    assert_eq!(status, 200, "{creds}");
    assert_eq!(creds["Version"], 1);
    assert_eq!(creds["RoleArn"], "arn:aws:iam::111111111111:role/Dev");
    assert_eq!(creds["Region"], "us-east-1");
    for k in [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ] {
        assert!(creds[k].as_str().is_some_and(|v| !v.is_empty()), "{k}");
    }
    // The browser's view: the credentials work against (emulated) AWS.
    let arn = caller_arn(&creds).await;
    let (_, s) = app.get_json(&c, "/api/session").await;
    assert_eq!(s["principal_arn"], arn.as_str());
    assert_eq!(s["role_arn"], "arn:aws:iam::111111111111:role/Dev");
    // The landing page shows the assumed principal.
    let home = c
        .get(format!("{}/", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // ARNs carry <wbr> break points after ':' and '/' (docs/frontend.md).
    assert!(home.replace("<wbr>", "").contains(&arn), "{home}");
    assert!(
        !home.contains(creds["SecretAccessKey"].as_str().unwrap()),
        "no secret on the page"
    );
    let r = c
        .get(format!("{}/api/credentials", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn sts_saml_mode_end_to_end() {
    let app = TestApp::spawn(sts_app()).await;
    let c = client();
    // Two roles in the assertion, the second one chosen: STS must assume the
    // requested pair, not the assertion's first Role value.
    let r = app.sign_in(&c, "alice@example.com", &[RO, DEV]).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
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
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let (status, creds) = app.get_json(&c, "/api/credentials").await;
    assert_eq!(status, 200, "{creds}");
    assert_eq!(creds["RoleArn"], "arn:aws:iam::111111111111:role/Dev");
    let arn = caller_arn(&creds).await;
    assert_eq!(
        arn,
        "arn:aws:sts::111111111111:assumed-role/Dev/alice@example.com"
    );
    let (_, s) = app.get_json(&c, "/api/session").await;
    assert_eq!(s["principal_arn"], arn.as_str());
}

/// The demo's bob: three roles in three accounts. Whatever he picks,
/// GetCallerIdentity with the issued credentials names that role in that
/// account, and the broker shows the same principal (moto_broker.py makes
/// the emulator honour Cognito's CustomRoleArn).
#[tokio::test]
async fn the_principal_is_the_role_bob_chose_in_its_account() {
    const BOB: [&str; 3] = [
        "arn:aws:iam::123456789012:role/BrokerDeveloper,arn:aws:iam::123456789012:saml-provider/DevIdP",
        "arn:aws:iam::210987654321:saml-provider/DevIdP,arn:aws:iam::210987654321:role/ReadOnly",
        "arn:aws:iam::345678901234:role/Operator,arn:aws:iam::345678901234:saml-provider/DevIdP",
    ];
    let app = TestApp::spawn(AppOptions {
        aws: Aws::Moto,
        ..Default::default()
    })
    .await;
    let c = client();
    let r = app.sign_in(&c, "bob@example.com", &BOB).await;
    assert_eq!(r.headers()["location"], "/choose-role");
    let csrf = app.get_json(&c, "/api/session").await.1["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    let pick = |role: &'static str| {
        c.post(format!("{}/choose-role", app.base))
            .form(&[("role_arn", role), ("csrf_token", &csrf)])
            .send()
    };
    assert_eq!(
        pick("arn:aws:iam::210987654321:role/ReadOnly")
            .await
            .unwrap()
            .status(),
        303
    );
    let (status, creds) = app.get_json(&c, "/api/credentials").await;
    assert_eq!(status, 200, "{creds}");
    let want = "arn:aws:sts::210987654321:assumed-role/ReadOnly/CognitoIdentityCredentials";
    assert_eq!(caller_arn(&creds).await, want);
    let (_, s) = app.get_json(&c, "/api/session").await;
    assert_eq!(
        s["principal_arn"], want,
        "the broker shows the same principal"
    );
    // Another role, another principal (not one fixed identity for every role).
    assert_eq!(
        pick("arn:aws:iam::345678901234:role/Operator")
            .await
            .unwrap()
            .status(),
        303
    );
    let (_, creds) = app.get_json(&c, "/api/credentials").await;
    assert_eq!(
        caller_arn(&creds).await,
        "arn:aws:sts::345678901234:assumed-role/Operator/CognitoIdentityCredentials"
    );
}

#[tokio::test]
async fn a_person_with_three_roles_picks_one_and_switches() {
    let app = TestApp::spawn(AppOptions {
        aws: Aws::Moto,
        extra_toml: "[policy.accounts]\n\"222222222222\" = \"staging\"\n".into(),
        ..Default::default()
    })
    .await;
    let c = client();
    let r = app.sign_in(&c, "bob@example.com", &[DEV, RO, OPS]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/choose-role");
    let (status, body) = app.get_json(&c, "/api/credentials").await;
    assert_eq!(status, 409);
    assert_eq!(body["error"], "no_role");
    let picker = c
        .get(format!("{}/choose-role", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in ["Dev", "ReadOnly", "Ops", "staging"] {
        assert!(picker.contains(name), "{name} on the picker");
    }
    // One picker, the same words on every page (and in the web app, see browser.rs).
    assert!(picker.contains(">Use this role</button>"), "{picker}");
    assert_eq!(
        picker.matches("type=\"radio\" name=\"role_arn\"").count(),
        3
    );
    let home = c
        .get(format!("{}/", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Choose an AWS role"), "{home}");
    assert!(home.contains(">Use this role</button>"), "{home}");
    assert!(!home.contains(">Use</button>") && !home.contains(">Continue</button>"));
    let (_, s) = app.get_json(&c, "/api/session").await;
    assert_eq!(s["roles"].as_array().unwrap().len(), 3);
    assert_eq!(s["roles"][1]["account_alias"], "staging");
    let csrf = s["csrf_token"].as_str().unwrap().to_string();
    // The picker form refuses a missing token.
    let r = c
        .post(format!("{}/choose-role", app.base))
        .form(&[("role_arn", "arn:aws:iam::222222222222:role/ReadOnly")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(format!("{}/choose-role", app.base))
        .form(&[
            ("role_arn", "arn:aws:iam::222222222222:role/ReadOnly"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (status, creds) = app.get_json(&c, "/api/credentials").await;
    assert_eq!(status, 200);
    assert_eq!(creds["RoleArn"], "arn:aws:iam::222222222222:role/ReadOnly");
    let home = c
        .get(format!("{}/", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Switch role") && home.contains(">Use this role</button>"));
    assert!(home.contains("up to 60 min · in use"), "{home}");
    // Switch through the JSON API.
    let r = c
        .post(format!("{}/api/role", app.base))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"role_arn": "arn:aws:iam::333333333333:role/Ops"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s: serde_json::Value = r.json().await.unwrap();
    assert_eq!(s["role_arn"], "arn:aws:iam::333333333333:role/Ops");
}

#[tokio::test]
async fn a_role_outside_the_assertion_is_refused_and_csrf_is_enforced() {
    // Two roles: the picker, and nothing is ever exchanged; no AWS needed.
    let app = TestApp::spawn(AppOptions::default()).await;
    let c = client();
    assert_eq!(
        app.sign_in(&c, "bob@example.com", &[DEV, RO])
            .await
            .status(),
        303
    );
    let (_, s) = app.get_json(&c, "/api/session").await;
    let csrf = s["csrf_token"].as_str().unwrap().to_string();
    let admin = serde_json::json!({"role_arn": "arn:aws:iam::111111111111:role/Admin"});
    // No CSRF token: refused before anything else.
    let r = c
        .post(format!("{}/api/role", app.base))
        .json(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "csrf"
    );
    // A wrong token.
    let r = c
        .post(format!("{}/api/role", app.base))
        .header("x-csrf-token", "nope")
        .json(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The right token, a role the assertion does not grant.
    let r = c
        .post(format!("{}/api/role", app.base))
        .header("x-csrf-token", &csrf)
        .json(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "role_not_allowed"
    );
    let (status, _) = app.get_json(&c, "/api/credentials").await;
    assert_eq!(status, 409, "nothing was issued");
}

#[tokio::test]
async fn policy_decides_and_denies_with_a_readable_reason() {
    let policy = r#"
[policy]
prefer = ["arn:aws:iam::*:role/ReadOnly"]
[[policy.rules]]
name = "developers"
groups = ["Developers"]
roles = ["arn:aws:iam::111111111111:role/*", "arn:aws:iam::222222222222:role/*"]
[[policy.rules]]
name = "no-ops"
effect = "deny"
roles = ["arn:aws:iam::*:role/Ops"]
"#;
    let app = TestApp::spawn(AppOptions {
        aws: Aws::Moto,
        extra_toml: policy.into(),
        ..Default::default()
    })
    .await;
    let c = client();
    // Three roles in the assertion; Ops is denied, ReadOnly is preferred: taken without asking.
    let r = app.sign_in(&c, "bob@example.com", &[DEV, RO, OPS]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    let (_, s) = app.get_json(&c, "/api/session").await;
    assert_eq!(s["role_arn"], "arn:aws:iam::222222222222:role/ReadOnly");
    assert_eq!(
        s["roles"].as_array().unwrap().len(),
        2,
        "Ops is not offered"
    );
    // Only the denied role: a refusal the person can read.
    let c2 = client();
    let r = app.sign_in(&c2, "carol@example.com", &[OPS]).await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());
    let page = r.text().await.unwrap();
    assert!(page.contains("No AWS role available"), "{page}");
}

#[tokio::test]
async fn an_unreachable_aws_endpoint_is_explained() {
    // The real exchange (the SDK's connection error), with no moto behind it.
    let aws = saml_broker::config::AwsConfig {
        endpoint_url: Some("http://127.0.0.1:9".parse().unwrap()),
        mode: AwsMode::Cognito,
        identity_pool_id: Some("us-east-1:00000000-0000-0000-0000-000000000000".into()),
        timeout: std::time::Duration::from_secs(5),
        max_attempts: 1,
        ..Default::default()
    };
    let app = TestApp::spawn(AppOptions {
        aws: Aws::Real(Box::new(aws)),
        ..Default::default()
    })
    .await;
    let r = app.sign_in(&client(), "alice@example.com", &[DEV]).await;
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("AWS could not be reached"));
}

#[tokio::test]
async fn an_aws_error_answer_is_explained() {
    // moto answers ResourceNotFoundException for an identity pool that does not exist.
    let aws = aws_config(
        AwsMode::Cognito,
        Some("us-east-1:11111111-2222-3333-4444-555555555555".into()),
    );
    let app = TestApp::spawn(AppOptions {
        aws: Aws::Real(Box::new(aws)),
        ..Default::default()
    })
    .await;
    let r = app.sign_in(&client(), "alice@example.com", &[DEV]).await;
    assert_eq!(r.status(), 502);
    let page = r.text().await.unwrap();
    assert!(page.contains("AWS could not issue credentials"), "{page}");
    assert!(
        !page.contains("ResourceNotFound"),
        "technical detail stays in logs and audit"
    );
}

#[tokio::test]
async fn cognito_mode_refuses_a_session_policy_at_start() {
    let dir = TempDir::new();
    std::fs::write(
        dir.0.join("idp.xml"),
        metadata_for(IDP, "https://adfs/sso", &[idp_key()]),
    )
    .unwrap();
    let toml = "[idp]\nmetadata_file = \"idp.xml\"\n[storage]\nurl = \"sqlite://b.db\"\n[aws]\nmode = \"cognito\"\n[[policy.rules]]\nname = \"p\"\nsession_policy = '{\"Version\":\"2012-10-17\",\"Statement\":[]}'\n";
    let cfg = saml_broker::config::Config::from_toml_str(
        toml,
        &dir.0.join("broker.toml"),
        std::iter::empty(),
    )
    .unwrap();
    let Err(e) = saml_broker::startup::Builder::new(cfg).build().await else {
        panic!("started with a session policy in cognito mode");
    };
    assert!(
        format!("{e:#}").contains("policy.rules[0].session_policy"),
        "{e:#}"
    );
}

#[tokio::test]
async fn expired_credentials_send_the_person_back_to_sign_in_with_the_role() {
    let clock = std::sync::Arc::new(saml_broker::clock::FixedClock::new(chrono::Utc::now()));
    let app = TestApp::spawn(AppOptions {
        clock: Some(clock.clone()),
        ..sts_app()
    })
    .await;
    let c = client();
    assert_eq!(
        app.sign_in(&c, "alice@example.com", &[DEV]).await.status(),
        303
    );
    let (status, creds) = app.get_json(&c, "/api/credentials").await;
    assert_eq!(status, 200);
    let exp = chrono::DateTime::parse_from_rfc3339(creds["Expiration"].as_str().unwrap()).unwrap();
    let (_, session) = app.get_json(&c, "/api/session").await;
    let csrf = session["csrf_token"].as_str().unwrap().to_string();
    clock.set(exp.with_timezone(&chrono::Utc) + chrono::Duration::seconds(1));
    // Renewal is a state change: a request without the CSRF token (say, a
    // cross-site navigation) cannot trigger it.
    let (status, body) = app.get_json(&c, "/api/credentials").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "csrf");
    // The app's own request: the assertion can no longer be exchanged, so sign in again, same role.
    let r = c
        .get(format!("{}/api/credentials", app.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "credentials_expired", "{body}");
    let login = body["login_url"].as_str().unwrap();
    assert!(
        login.starts_with("/saml/login?role=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2FDev"),
        "{login}"
    );
    // The sign-in started at `/` (no return_to), but the API's caller is the web
    // app: the new sign-in comes back to it.
    assert!(login.ends_with("&return_to=%2Fapp%2F"), "{login}");
    let (status, _) = app.get_json(&c, "/api/session").await;
    assert_eq!(status, 401, "the session ended");
}

#[tokio::test]
async fn a_pool_is_created_in_moto() {
    // Guards the harness itself: the pool id has moto's region:uuid shape.
    let id = identity_pool(PROVIDER).await;
    assert!(id.starts_with("us-east-1:"), "{id}");
}

#[tokio::test]
async fn a_rotated_session_key_asks_for_a_new_sign_in_instead_of_failing() {
    // The second instance opens the first one's SQLite file; the
    // credentials themselves do not matter here (the fake's will do).
    let a = TestApp::spawn(AppOptions {
        store: Backing::Sqlite,
        session_key: Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into()),
        ..Default::default()
    })
    .await;
    let c = client();
    assert_eq!(
        a.sign_in(&c, "alice@example.com", &[DEV]).await.status(),
        303
    );
    // The same store, served with a new key (the operator rotated it).
    let b = TestApp::spawn(AppOptions {
        store: Backing::Url(format!("sqlite://{}", a.dir.0.join("broker.db").display())),
        session_key: Some("ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=".into()),
        public_url: Some(a.public.clone()),
        aws: a.same_aws(),
        ..Default::default()
    })
    .await;
    let (status, body) = b.get_json(&c, "/api/credentials").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "sign_in_required");
    let (status, _) = b.get_json(&c, "/api/session").await;
    assert_eq!(status, 401, "the session ended");
}

/// A loopback STS that enforces a role's MaxSessionDuration of one hour
/// (moto does not), to prove the one retry at 3600 seconds.
#[tokio::test]
async fn sts_mode_retries_once_at_3600_when_the_role_refuses_the_duration() {
    use axum::routing::post;
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let sts = axum::Router::new().route(
        "/",
        post(move |body: String| {
            let seen = s2.clone();
            async move {
                let form: std::collections::HashMap<String, String> =
                    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                let ns = "https://sts.amazonaws.com/doc/2011-06-15/";
                match form.get("Action").map(String::as_str) {
                    Some("AssumeRoleWithSAML") => {
                        let d = form.get("DurationSeconds").cloned().unwrap_or_default();
                        seen.lock().unwrap().push(d.clone());
                        if d.parse::<u32>().unwrap_or(0) > 3600 {
                            return (
                                axum::http::StatusCode::BAD_REQUEST,
                                format!("<ErrorResponse xmlns=\"{ns}\"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>The requested DurationSeconds exceeds the MaxSessionDuration set for this role.</Message></Error><RequestId>r1</RequestId></ErrorResponse>"),
                            );
                        }
                        (axum::http::StatusCode::OK, format!("<AssumeRoleWithSAMLResponse xmlns=\"{ns}\"><AssumeRoleWithSAMLResult><Credentials><AccessKeyId>ASIAFAKE</AccessKeyId><SecretAccessKey>fake-secret</SecretAccessKey><SessionToken>fake-token</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/Dev/alice</Arn><AssumedRoleId>AROAFAKE:alice</AssumedRoleId></AssumedRoleUser></AssumeRoleWithSAMLResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></AssumeRoleWithSAMLResponse>"))
                    }
                    _ => (axum::http::StatusCode::OK, format!("<GetCallerIdentityResponse xmlns=\"{ns}\"><GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/Dev/alice</Arn><UserId>AROAFAKE:alice</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r3</RequestId></ResponseMetadata></GetCallerIdentityResponse>")),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, sts).await });
    let mut aws = saml_broker::config::AwsConfig {
        mode: AwsMode::StsSaml,
        ..Default::default()
    };
    aws.endpoint_url = Some(endpoint.parse().unwrap());
    let sdk = saml_broker::exchange::sdk_config(&aws).await;
    let ex = saml_broker::exchange::StsExchange::new(&sdk);
    let grant = saml_broker::saml::RoleGrant::parse(DEV).unwrap();
    let req = saml_broker::exchange::ExchangeRequest {
        saml_response: saml_broker::config::Secret::new("PHNhbWxwOlJlc3BvbnNlLz4="),
        role: grant,
        duration_seconds: 7200,
        session_policy: None,
    };
    use saml_broker::exchange::Exchange;
    let issued = ex.exchange(&req).await.unwrap();
    assert!(issued.duration_fallback);
    assert_eq!(issued.duration_seconds, 3600);
    assert_eq!(
        issued.principal_arn,
        "arn:aws:sts::123456789012:assumed-role/Dev/alice"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["7200".to_string(), "3600".to_string()]
    );
}

/// Each AWS error the issue names becomes its own kind and plain words; a
/// loopback STS answers with the error, the way AWS does.
#[tokio::test]
async fn aws_errors_become_words_a_person_understands() {
    use axum::routing::post;
    use saml_broker::exchange::{ErrorKind, Exchange, ExchangeRequest, StsExchange};
    let cases = [
        (
            "IDPRejectedClaim",
            403,
            ErrorKind::IdpRejectedClaim,
            "did not accept your sign-in",
        ),
        (
            "InvalidIdentityToken",
            400,
            ErrorKind::InvalidIdentityToken,
            "did not accept your sign-in",
        ),
        (
            "ExpiredTokenException",
            400,
            ErrorKind::ExpiredToken,
            "sign in again",
        ),
        ("AccessDenied", 403, ErrorKind::AccessDenied, "trust policy"),
        ("Throttling", 400, ErrorKind::Throttled, "busy"),
    ];
    for (code, status, kind, words) in cases {
        let sts = axum::Router::new().route(
            "/",
            post(move || async move {
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    format!("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>detail for {code}</Message></Error><RequestId>r</RequestId></ErrorResponse>"),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, sts).await });
        let aws = saml_broker::config::AwsConfig {
            mode: AwsMode::StsSaml,
            endpoint_url: Some(endpoint.parse().unwrap()),
            max_attempts: 1,
            ..Default::default()
        };
        let ex = StsExchange::new(&saml_broker::exchange::sdk_config(&aws).await);
        let req = ExchangeRequest {
            saml_response: saml_broker::config::Secret::new("PHNhbWxwOlJlc3BvbnNlLz4="),
            role: saml_broker::saml::RoleGrant::parse(DEV).unwrap(),
            duration_seconds: 3600,
            session_policy: None,
        };
        let err = ex.exchange(&req).await.unwrap_err();
        assert_eq!(err.kind, kind, "{code}: {err}");
        assert!(
            err.user_message().contains(words),
            "{code}: {}",
            err.user_message()
        );
        assert!(
            err.detail.contains(code),
            "the admin sees the code: {}",
            err.detail
        );
        assert!(!err.user_message().contains(code), "the person does not");
    }
}

/// The events named `name`, in order: (role_arn, access_key_id, detail).
async fn events_named(
    app: &TestApp,
    name: &str,
) -> Vec<(Option<String>, Option<String>, serde_json::Value)> {
    let rows: Vec<(Option<String>, Option<String>, String)> = sqlx::query_as(
        "SELECT role_arn, access_key_id, detail FROM audit_events WHERE event = ? ORDER BY seq",
    )
    .bind(name)
    .fetch_all(app.state.store.sql_pool().unwrap())
    .await
    .unwrap();
    rows.into_iter()
        .map(|(r, k, d)| (r, k, serde_json::from_str(&d).unwrap()))
        .collect()
}

#[tokio::test]
async fn a_background_renewal_is_one_credentials_renewed_event_and_a_choice_stays_two() {
    let clock = std::sync::Arc::new(saml_broker::clock::FixedClock::new(chrono::Utc::now()));
    // Cognito mode: moto's 90-second credentials, so a renewal comes due
    // while the assertion can still be exchanged. The events are read from
    // the SQLite file.
    let app = TestApp::spawn(AppOptions {
        aws: Aws::Moto,
        store: Backing::Sqlite,
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    let c = client();
    assert_eq!(
        app.sign_in(&c, "alice@example.com", &[DEV, RO])
            .await
            .status(),
        303
    );
    let (_, session) = app.get_json(&c, "/api/session").await;
    let csrf = session["csrf_token"].as_str().unwrap().to_string();
    let creds = |c: &reqwest::Client| {
        let req = c
            .get(format!("{}/api/credentials", app.base))
            .header("x-csrf-token", &csrf);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    // An explicit choice through the API: role.selected + credentials.issued.
    let r = c
        .post(format!("{}/api/role", app.base))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"role_arn": "arn:aws:iam::111111111111:role/Dev"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let expiry = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v["Expiration"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let mut held = creds(&c).await;
    let mut keys = vec![held["AccessKeyId"].as_str().unwrap().to_string()];
    // Two background renewals: the web app's refresh close to expiry.
    for _ in 0..2 {
        clock.set(expiry(&held) - chrono::Duration::seconds(30));
        held = creds(&c).await;
        assert_eq!(held["RoleArn"], "arn:aws:iam::111111111111:role/Dev");
        keys.push(held["AccessKeyId"].as_str().unwrap().to_string());
    }
    assert_ne!(keys[0], keys[1], "new credentials each time");
    let count = |n: &'static str| {
        let app = &app;
        async move { events_named(app, n).await.len() }
    };
    assert_eq!(count("role.selected").await, 1, "only the explicit choice");
    assert_eq!(count("credentials.issued").await, 1);
    assert_eq!(count("credentials.renewed").await, 2);
    let renewed = events_named(&app, "credentials.renewed").await;
    for (i, (role, key, detail)) in renewed.iter().enumerate() {
        assert_eq!(role.as_deref(), Some("arn:aws:iam::111111111111:role/Dev"));
        assert_eq!(key.as_deref(), Some(keys[i + 1].as_str()));
        assert_eq!(
            detail["previous_access_key_id"],
            keys[i].as_str(),
            "{detail}"
        );
        for k in ["principal_arn", "expiration", "duration_seconds", "mode"] {
            assert!(!detail[k].is_null(), "{k} in {detail}");
        }
    }
}
