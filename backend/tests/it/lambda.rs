//! The Lambda entry, for real: the `saml-broker` binary runs with
//! `AWS_LAMBDA_RUNTIME_API` pointing at a loopback stand-in for the Lambda
//! Runtime API, which hands it API Gateway (HTTP API, payload v2) events and
//! collects the answers. The session key comes from Secrets Manager (moto). The session key comes from Secrets Manager (moto).

use crate::common::*;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

#[derive(Clone)]
struct Runtime {
    events: Arc<tokio::sync::Mutex<mpsc::Receiver<(String, serde_json::Value)>>>,
    answers: mpsc::Sender<(String, serde_json::Value)>,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn next(State(rt): State<Runtime>) -> axum::response::Response {
    let Some((id, event)) = rt.events.lock().await.recv().await else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    rt.seen.lock().unwrap().push(id.clone());
    axum::response::Response::builder()
        .header("lambda-runtime-aws-request-id", id)
        .header(
            "lambda-runtime-deadline-ms",
            (chrono::Utc::now().timestamp_millis() + 30_000).to_string(),
        )
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:broker",
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
        )
        .header("content-type", "application/json")
        .body(axum::body::Body::from(event.to_string()))
        .unwrap()
}

async fn response(State(rt): State<Runtime>, Path(id): Path<String>, body: String) -> &'static str {
    let _ = rt
        .answers
        .send((id, serde_json::from_str(&body).unwrap_or_default()))
        .await;
    "ok"
}

fn http_event(method: &str, path: &str, body: Option<&str>, source_ip: &str) -> serde_json::Value {
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abc.execute-api.us-east-1.amazonaws.com", "user-agent": "lambda-test", "content-type": "application/x-www-form-urlencoded"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc", "domainName": "abc.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc", "requestId": "r1", "routeKey": "$default", "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000", "timeEpoch": 1795000000000u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": "lambda-test"}
        },
        "body": body,
        "isBase64Encoded": false
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_router_under_the_lambda_runtime() {
    let (event_tx, event_rx) = mpsc::channel(4);
    let (answer_tx, mut answer_rx) = mpsc::channel(4);
    let rt = Runtime {
        events: Arc::new(tokio::sync::Mutex::new(event_rx)),
        answers: answer_tx,
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .with_state(rt);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The session key lives in Secrets Manager (moto), as on AWS.
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let sdk = saml_broker::exchange::sdk_config(&crate::moto::aws_config(
        saml_broker::config::AwsMode::Cognito,
        None,
    ))
    .await;
    let conf = aws_sdk_secretsmanager::config::Builder::from(&sdk)
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    let secret = aws_sdk_secretsmanager::Client::from_conf(conf)
        .create_secret()
        .name(format!(
            "broker-session-key-{}",
            uuid::Uuid::new_v4().simple()
        ))
        .secret_string(key)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let dir = TempDir::new();
    std::fs::write(
        dir.0.join("idp.xml"),
        metadata_for(IDP, "https://adfs.example.com/adfs/ls/", &[idp_key()]),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_saml-broker"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "broker")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/broker")
        .env("AWS_REGION", "us-east-1")
        // What the Lambda service gives the function: its role's credentials.
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_SESSION_TOKEN", "test")
        .env("BROKER_SERVER__PUBLIC_URL", "https://broker.example.com")
        .env("BROKER_IDP__METADATA_FILE", dir.0.join("idp.xml"))
        .env(
            "BROKER_STORAGE__URL",
            format!("sqlite://{}", dir.0.join("broker.db").display()),
        )
        .env("BROKER_SESSION__KEY_SECRET_ARN", &secret)
        .env("BROKER_AWS__ENDPOINT_URL", &crate::moto::moto().endpoint)
        // Its JSON logs are not this test's output.
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the broker binary starts");

    event_tx
        .send((
            "inv-1".into(),
            http_event("GET", "/saml/metadata", None, "203.0.113.7"),
        ))
        .await
        .unwrap();
    let (id, answer) = tokio::time::timeout(std::time::Duration::from_secs(20), answer_rx.recv())
        .await
        .expect("the function answered")
        .unwrap();
    assert_eq!(id, "inv-1");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body = answer["body"].as_str().unwrap();
    assert!(
        body.contains("Location=\"https://broker.example.com/saml/acs\""),
        "{body}"
    );
    assert!(answer["headers"]["content-security-policy"]
        .as_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));

    // A refused sign-in: the audit event carries API Gateway's source address.
    event_tx
        .send((
            "inv-2".into(),
            http_event(
                "POST",
                "/saml/acs",
                Some("SAMLResponse=bm90IHhtbA%3D%3D"),
                "203.0.113.7",
            ),
        ))
        .await
        .unwrap();
    let (_, answer) = tokio::time::timeout(std::time::Duration::from_secs(20), answer_rx.recv())
        .await
        .expect("the function answered")
        .unwrap();
    assert_eq!(answer["statusCode"], 400, "{answer}");
    let _ = child.kill().await;
    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.0.join("broker.db").display()))
            .await
            .unwrap();
    let ip: Option<String> =
        sqlx::query_scalar("SELECT source_ip FROM audit_events WHERE event = 'login.failed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(ip.as_deref(), Some("203.0.113.7"));
}
