//! The `saml-broker` command line as an operator runs it: its error
//! messages, `check-config`, `serve` and the audit export in a pipeline.

use crate::common::*;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_saml-broker"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    c
}

/// Run `saml-broker ARGS --config DIR/broker.toml` with these extra variables.
pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.args(args).arg("--config").arg(dir.join("broker.toml"));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[allow(dead_code)]
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A directory holding `idp.xml` and a `broker.toml` of `toml` (with the
/// metadata file, SQLite in the directory and a loopback AWS endpoint, unless
/// `toml` says otherwise).
pub fn config_dir(toml: &str) -> TempDir {
    let dir = TempDir::new();
    std::fs::write(
        dir.0.join("idp.xml"),
        metadata_for(IDP, "https://adfs.example.com/adfs/ls/", &[idp_key()]),
    )
    .unwrap();
    std::fs::write(dir.0.join("broker.toml"), toml).unwrap();
    dir
}

pub const BASE: &str = "[idp]\nmetadata_file = \"idp.xml\"\n[aws]\nendpoint_url = \"http://127.0.0.1:9\"\n[storage]\nurl = \"sqlite://broker.db\"\n";

/// No line of an error says the same thing twice.
fn assert_no_repeats(err: &str) {
    let lines: Vec<&str> = err.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let core = l
            .trim()
            .trim_start_matches("error: ")
            .trim_start_matches("caused by: ");
        for other in &lines[i + 1..] {
            assert!(!other.contains(core), "repeated {core:?} in:\n{err}");
        }
    }
}

/// A loopback server answering every request with `answer`, on its own thread.
fn canned_server(answer: &'static str) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(answer.as_bytes());
        }
    });
    port
}

#[test]
fn a_missing_configuration_file_says_so_once() {
    let dir = TempDir::new();
    let o = run_in(&dir.0, &["check-config"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("cannot read configuration file"), "{err}");
    assert!(err.contains("broker.toml"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert_no_repeats(&err);
}

#[test]
fn a_typo_in_an_environment_variable_is_reported_as_that_variable() {
    let dir = config_dir(BASE);
    let o = run_in(
        &dir.0,
        &["check-config"],
        &[("BROKER_SERVER__LISTN", "0.0.0.0:8080")],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: environment variable BROKER_SERVER__LISTN"),
        "{err}"
    );
    assert!(err.contains("did you mean BROKER_SERVER__LISTEN?"), "{err}");
    assert!(!err.contains("configuration file"), "{err}");
}

#[test]
fn a_typo_in_the_file_names_the_line_and_the_key_meant() {
    let dir = config_dir(&format!(
        "{BASE}[server]\npublic_url = \"http://127.0.0.1:8080\"\nlistn = \"0.0.0.0:8080\"\n"
    ));
    let o = run_in(&dir.0, &["check-config"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(
            "broker.toml, line 9: unknown key `server.listn`; did you mean `server.listen`?"
        ),
        "{err}"
    );
}

#[test]
fn a_sqlite_file_in_a_missing_directory_names_the_directory_once() {
    let dir = config_dir(
        "[idp]\nmetadata_file = \"idp.xml\"\n[storage]\nurl = \"sqlite://missing/dir/broker.db\"\n",
    );
    for cmd in [&["migrate"][..], &["audit", "export"]] {
        let o = run_in(&dir.0, cmd, &[]);
        assert_eq!(o.status.code(), Some(1), "{cmd:?}");
        let err = stderr(&o);
        let missing = dir.0.join("missing/dir");
        assert!(err.contains(&format!("{}", missing.display())), "{err}");
        assert!(err.contains("does not exist"), "{err}");
        assert_eq!(err.matches("does not exist").count(), 1, "{err}");
        assert_no_repeats(&err);
    }
}

#[test]
fn an_unreachable_postgres_names_the_host_and_the_cause_once_without_the_password() {
    // Port 1 on loopback: nothing listens, the connection is refused.
    let dir = config_dir("[idp]\nmetadata_file = \"idp.xml\"\n");
    let o = run_in(
        &dir.0,
        &["migrate"],
        &[(
            "BROKER_STORAGE__URL",
            "postgres://broker:hunter2@127.0.0.1:1/broker",
        )],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("postgres://broker:***@127.0.0.1:1/broker"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.to_lowercase().contains("connection refused"), "{err}");
    assert!(
        !err.contains("pool timed out"),
        "the real cause, not the pool's: {err}"
    );
    assert_no_repeats(&err);
}

#[test]
fn a_metadata_url_that_cannot_be_fetched_names_the_cause() {
    let not_found =
        canned_server("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let cases = [
        (
            format!("http://127.0.0.1:{not_found}/metadata.xml"),
            "HTTP 404",
        ),
        // https to a server that speaks plain HTTP: the TLS handshake fails.
        (
            format!("https://127.0.0.1:{not_found}/metadata.xml"),
            "TLS failed",
        ),
        // .invalid never resolves (RFC 2606).
        (
            "https://adfs.broker-test.invalid/FederationMetadata.xml".to_string(),
            "DNS lookup failed",
        ),
        (
            "http://127.0.0.1:1/metadata.xml".to_string(),
            "cannot connect",
        ),
    ];
    for (url, want) in cases {
        let dir = config_dir(&format!(
            "[idp]\nmetadata_url = \"{url}\"\nallow_insecure_metadata_url = true\n[aws]\nendpoint_url = \"http://127.0.0.1:9\"\n"
        ));
        let o = run_in(&dir.0, &["check-config"], &[]);
        assert_eq!(o.status.code(), Some(1), "{url}");
        let err = stderr(&o);
        assert!(err.contains(&url), "{url}: {err}");
        assert!(err.contains(want), "{url}: want {want:?} in {err}");
        assert_no_repeats(&err);
    }
}

#[test]
fn check_config_reaches_the_store_and_the_aws_endpoint_and_prints_no_secret() {
    let key = b64("0123456789abcdef0123456789abcdef");
    // The test server's password is `postgres` (trust auth ignores it).
    let dir = config_dir(
        "[idp]\nmetadata_file = \"idp.xml\"\n[aws]\nendpoint_url = \"http://localhost:5000\"\n",
    );
    let o = run_in(
        &dir.0,
        &["check-config"],
        &[
            ("BROKER_SESSION__KEY", &key),
            (
                "BROKER_STORAGE__URL",
                "postgres://postgres:postgres@127.0.0.1:5432/test",
            ),
        ],
    );
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(o.status.success(), "{out}{err}");
    assert!(
        out.contains("storage           postgres://postgres:***@127.0.0.1:5432/test: reachable"),
        "{out}"
    );
    assert!(
        !out.contains(":postgres@") && !err.contains(":postgres@"),
        "{out}{err}"
    );
    assert!(!out.contains(&key) && !err.contains(&key), "{out}{err}");
    assert!(
        out.contains("AWS endpoint      http://localhost:5000 (resolves to "),
        "{out}"
    );
    assert!(
        out.contains("web app           http://127.0.0.1:8080/app/"),
        "{out}"
    );
    // Each finding once.
    assert_eq!(out.matches("no rules").count(), 1, "{out}");
    let mut seen = std::collections::HashSet::new();
    for l in out.lines() {
        assert!(seen.insert(l), "printed twice: {l}");
    }
}

#[test]
fn check_config_does_not_create_a_sqlite_file() {
    let dir = config_dir(BASE);
    let o = run_in(&dir.0, &["check-config"], &[]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(
        out.contains("broker.db: not created yet; serve creates it in"),
        "{out}"
    );
    assert!(!dir.0.join("broker.db").exists());
}

#[test]
fn check_config_fails_on_an_unreachable_store_or_an_unknown_aws_host() {
    let dir = config_dir(
        "[idp]\nmetadata_file = \"idp.xml\"\n[aws]\nendpoint_url = \"https://sts.broker-test.invalid\"\n",
    );
    let o = run_in(
        &dir.0,
        &["check-config"],
        &[(
            "BROKER_STORAGE__URL",
            "postgres://broker:hunter2@127.0.0.1:1/broker",
        )],
    );
    assert_eq!(o.status.code(), Some(1));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(!out.contains("is valid"), "{out}");
    assert!(!format!("{out}{err}").contains("hunter2"), "{out}{err}");
    let problems: Vec<&str> = err.lines().filter(|l| l.starts_with("problem: ")).collect();
    assert_eq!(problems.len(), 2, "{err}");
    assert!(
        problems[0].contains("AWS endpoint https://sts.broker-test.invalid")
            && problems[0].contains("does not resolve"),
        "{err}"
    );
    assert!(
        problems[1]
            .contains("storage.url postgres://broker:***@127.0.0.1:1/broker: cannot be reached")
            && problems[1].to_lowercase().contains("connection refused"),
        "{err}"
    );
    assert!(err.contains("error: 2 problem(s)"), "{err}");
}

/// Text without ANSI colour codes (the log lines may carry them).
pub fn plain(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn serve_on_a_busy_port_fails_clearly_and_leaves_no_event_behind() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let dir = config_dir(&format!("{BASE}[server]\nlisten = \"{addr}\"\n"));
    let o = run_in(&dir.0, &["serve"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = plain(&stderr(&o));
    assert!(
        err.contains(&format!(
            "error: cannot listen on {addr} (server.listen): another process is using that port"
        )),
        "{err}"
    );
    // The port is checked before the store is opened: no file, so no event.
    assert!(!dir.0.join("broker.db").exists(), "the store was touched");
    assert!(!err.contains("config.loaded"), "{err}");
}

#[tokio::test]
async fn nothing_is_audited_until_the_broker_can_serve() {
    let dir = config_dir(BASE);
    let cfg =
        saml_broker::config::Config::load(&dir.0.join("broker.toml"), std::iter::empty()).unwrap();
    let state = saml_broker::startup::Builder::new(cfg)
        .build()
        .await
        .unwrap();
    assert_eq!(
        state.audit.verify().await.unwrap().events,
        0,
        "building audits nothing"
    );
    saml_broker::startup::record_start(&state).await.unwrap();
    let r = state.audit.verify().await.unwrap();
    assert_eq!(r.events, 1);
}

/// `saml-broker audit export | head`: the reader goes away; the export stops
/// quietly with exit 0 instead of "Broken pipe".
#[tokio::test]
async fn audit_export_into_a_closed_pipe_ends_quietly() {
    use saml_broker::audit::{AuditEvent, Outcome};
    let dir = config_dir(BASE);
    let cfg =
        saml_broker::config::Config::load(&dir.0.join("broker.toml"), std::iter::empty()).unwrap();
    let state = saml_broker::startup::Builder::new(cfg)
        .build()
        .await
        .unwrap();
    // More than one write buffer's worth, so writes fail mid-stream too.
    for i in 0..300 {
        state
            .audit
            .record(
                AuditEvent::new("login.failed", Outcome::Failure, chrono::Utc::now())
                    .detail("n", i),
            )
            .await
            .unwrap();
    }
    for format in ["jsonl", "csv"] {
        let mut child = bin()
            .args(["audit", "export", "--format", format, "--config"])
            .arg(dir.0.join("broker.toml"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Like `head -0`: close the read end before anything is read.
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{format}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{format}: quiet");
    }
}

/// `serve` says where the web app is, writes `config.loaded` once it
/// listens, and creates the session key file (mode 0600) on first start.
#[test]
fn serve_names_the_web_app_and_creates_a_private_session_key() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    let dir = config_dir(&format!(
        "{BASE}[server]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://broker.test:8080\"\n"
    ));
    let mut child = bin()
        .arg("serve")
        .arg("--config")
        .arg(dir.0.join("broker.toml"))
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(plain(&line));
        }
    });
    let mut seen = Vec::new();
    let line = loop {
        match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(l) if l.contains("saml-broker listening") => break l,
            Ok(l) => seen.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!("no start-up line in:\n{}", seen.join("\n"));
            }
        }
    };
    assert!(
        line.contains("web app http://broker.test:8080/app/"),
        "{line}"
    );
    assert!(
        line.contains("account page http://broker.test:8080/"),
        "{line}"
    );
    let addr = line
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap()
        .to_string();
    // It serves.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let key = dir.0.join("session.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "session.key is private");
    let _ = child.kill();
    let _ = child.wait();
    let export = run_in(&dir.0, &["audit", "export"], &[]);
    let events: Vec<serde_json::Value> = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"], "config.loaded");
}

/// The demo's session key is made by the broker on first start, so no key
/// is shared by every checkout: git ignores it and does not track it.
#[test]
fn the_demo_session_key_is_not_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let ignore = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l.trim() == "/demo/session.key"),
        "{ignore}"
    );
    let demo = std::fs::read_to_string(root.join("demo/broker.toml")).unwrap();
    assert!(
        !demo.contains("[session]"),
        "the demo sets no key: session.key is generated"
    );
    if let Ok(o) = Command::new("git")
        .args(["ls-files", "--error-unmatch", "demo/session.key"])
        .current_dir(root)
        .output()
    {
        if root.join(".git").exists() {
            assert!(!o.status.success(), "demo/session.key is tracked by git");
        }
    }
}
