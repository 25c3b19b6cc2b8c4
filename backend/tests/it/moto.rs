//! One moto server per test run (the local AWS emulator), started on a free
//! loopback port. It lives as long as this test process: a small shell
//! wrapper kills it when our end of its stdin pipe closes.
//!
//! The server is tests/moto_broker.py, moto with Cognito's CustomRoleArn and
//! STS AssumeRoleWithSAML's RoleArn honoured, so GetCallerIdentity names the
//! role the broker chose (stock moto answers `user/moto` for any role).

use std::io::Read;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

pub struct Moto {
    pub endpoint: String,
    _keepalive: Mutex<ChildStdin>,
}

/// The venv's Python (override with `MOTO_PYTHON`) and the wrapper script.
fn moto_cmd() -> (std::path::PathBuf, std::path::PathBuf) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var("MOTO_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|_| root.join(".venv/bin/python"));
    (python, root.join("tests/moto_broker.py"))
}

pub fn moto() -> &'static Moto {
    static M: OnceLock<Moto> = OnceLock::new();
    M.get_or_init(|| {
        let (python, script) = moto_cmd();
        assert!(
            python.exists(),
            "{} is missing: run scripts/setup.sh (the README test command does)",
            python.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The wrapper outlives this function on purpose: it ends with the test process.
        #[allow(clippy::zombie_processes)]
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#""$0" "$1" -H 127.0.0.1 -p "$2" >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid"#)
            .arg(&python)
            .arg(&script)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .spawn()
            .expect("start tests/moto_broker.py");
        let stdin = child.stdin.take().unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        for _ in 0..150 {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::Write;
                let _ = s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: x\r\n\r\n");
                let mut buf = [0u8; 12];
                if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.") {
                    return Moto {
                        endpoint,
                        _keepalive: Mutex::new(stdin),
                    };
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("moto (tests/moto_broker.py) did not start on port {port}");
    })
}

/// An AWS config for the broker pointing at moto.
pub fn aws_config(
    mode: saml_broker::config::AwsMode,
    pool: Option<String>,
) -> saml_broker::config::AwsConfig {
    saml_broker::config::AwsConfig {
        endpoint_url: Some(moto().endpoint.parse().unwrap()),
        mode,
        identity_pool_id: pool,
        timeout: std::time::Duration::from_secs(5),
        max_attempts: 1,
        ..Default::default()
    }
}

/// Create a Cognito identity pool trusting the SAML provider; returns its id.
pub async fn identity_pool(provider_arn: &str) -> String {
    let sdk =
        saml_broker::exchange::sdk_config(&aws_config(saml_broker::config::AwsMode::Cognito, None))
            .await;
    let conf = aws_sdk_cognitoidentity::config::Builder::from(&sdk)
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    let out = aws_sdk_cognitoidentity::Client::from_conf(conf)
        .create_identity_pool()
        .identity_pool_name(format!("broker_{}", uuid::Uuid::new_v4().simple()))
        .allow_unauthenticated_identities(false)
        .saml_provider_arns(provider_arn)
        .send()
        .await
        .unwrap();
    out.identity_pool_id
}

/// sts:GetCallerIdentity with credentials the broker handed out (as the browser would use them).
pub async fn caller_arn(creds: &serde_json::Value) -> String {
    let sdk =
        saml_broker::exchange::sdk_config(&aws_config(saml_broker::config::AwsMode::Cognito, None))
            .await;
    let conf = aws_sdk_sts::config::Builder::from(&sdk)
        .credentials_provider(aws_credential_types::Credentials::new(
            creds["AccessKeyId"].as_str().unwrap(),
            creds["SecretAccessKey"].as_str().unwrap(),
            Some(creds["SessionToken"].as_str().unwrap().to_string()),
            None,
            "test",
        ))
        .build();
    aws_sdk_sts::Client::from_conf(conf)
        .get_caller_identity()
        .send()
        .await
        .unwrap()
        .arn
        .unwrap()
}
