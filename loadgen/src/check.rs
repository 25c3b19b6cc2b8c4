//! `loadgen check`: after the runs, the audit trail must verify and hold
//! exactly one `login.succeeded` per successful login (303 to the role
//! picker) the runs recorded, no more and no fewer.

use anyhow::Context;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The directory `loadgen setup` wrote and `loadgen run` used.
    #[arg(long)]
    pub dir: PathBuf,
    /// The number of `login.succeeded` events expected. Default: the
    /// successful logins of every run into DIR (DIR/last-run.json). When
    /// both are known they must agree too.
    #[arg(long)]
    pub expect: Option<u64>,
    /// The saml-broker binary. Default: $CARGO_TARGET_DIR/release/saml-broker,
    /// else target/release/saml-broker, else saml-broker on PATH.
    #[arg(long)]
    pub broker_bin: Option<PathBuf>,
}

const LOGIN_SUCCEEDED: &str = "login.succeeded";

pub fn default_broker_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let candidate = target.join("release").join("saml-broker");
    if candidate.exists() {
        candidate.canonicalize().unwrap_or(candidate)
    } else {
        PathBuf::from("saml-broker")
    }
}

pub fn check(a: &CheckArgs) -> anyhow::Result<ExitCode> {
    let bin = a.broker_bin.clone().unwrap_or_else(default_broker_bin);
    let config = a.dir.join(crate::CONFIG_FILE);
    anyhow::ensure!(
        config.exists(),
        "{} does not exist: run `loadgen setup` first",
        config.display()
    );
    let recorded = recorded_logins(&a.dir)?;
    let expect = match (a.expect, recorded) {
        (Some(e), _) => e,
        (None, Some(r)) => r,
        (None, None) => anyhow::bail!(
            "no --expect and no {} in {}: nothing to compare with",
            crate::LAST_RUN_FILE,
            a.dir.display()
        ),
    };
    let mut problems = Vec::new();

    // 1. The chain verifies.
    let out = Command::new(&bin)
        .args(["audit", "verify", "--config"])
        .arg(&config)
        .output()
        .with_context(|| format!("running {} audit verify", bin.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verify_line = stdout.trim().to_string();
    if out.status.success() && verify_line.starts_with("audit chain intact") {
        println!("check: {verify_line}");
    } else {
        problems.push(format!(
            "audit verify exited {}: {} {}",
            out.status,
            verify_line,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }

    // 2. One login.succeeded per successful login.
    let counts = count_events(&bin, &config)?;
    let found = counts.login_succeeded;
    println!(
        "check: {} events exported, {found} {LOGIN_SUCCEEDED}, {} login.failed",
        counts.total, counts.login_failed
    );
    if found != expect {
        problems.push(format!(
            "{found} {LOGIN_SUCCEEDED} events in the audit trail, but {expect} expected{}",
            if a.expect.is_some() {
                " (--expect)"
            } else {
                " (successful logins recorded by the runs)"
            }
        ));
    }
    if let (Some(e), Some(r)) = (a.expect, recorded) {
        if e != r {
            problems.push(format!(
                "--expect {e} disagrees with the {r} successful logins the runs recorded in {}",
                crate::LAST_RUN_FILE
            ));
        }
    }

    if problems.is_empty() {
        println!(
            "check: OK: the chain verifies and holds {found} {LOGIN_SUCCEEDED} events, as expected"
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            eprintln!("check: MISMATCH: {p}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// `cumulative_logins_ok` from DIR/last-run.json, if a run wrote one.
fn recorded_logins(dir: &Path) -> anyhow::Result<Option<u64>> {
    let path = dir.join(crate::LAST_RUN_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    v.get("cumulative_logins_ok")
        .and_then(|c| c.as_u64())
        .map(Some)
        .with_context(|| format!("{}: no cumulative_logins_ok", path.display()))
}

struct Counts {
    total: u64,
    login_succeeded: u64,
    login_failed: u64,
}

/// Stream `saml-broker audit export` (JSON Lines) and count the events by name.
fn count_events(bin: &Path, config: &Path) -> anyhow::Result<Counts> {
    let mut child = Command::new(bin)
        .args(["audit", "export", "--format", "jsonl", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {} audit export", bin.display()))?;
    let stdout = child
        .stdout
        .take()
        .context("audit export: no standard output")?;
    let mut counts = Counts {
        total: 0,
        login_succeeded: 0,
        login_failed: 0,
    };
    for (n, line) in std::io::BufReader::new(stdout).lines().enumerate() {
        let line = line.context("reading audit export")?;
        let v: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("audit export line {}: not JSON", n + 1))?;
        counts.total += 1;
        match v.get("event").and_then(|e| e.as_str()) {
            Some(LOGIN_SUCCEEDED) => counts.login_succeeded += 1,
            Some("login.failed") => counts.login_failed += 1,
            _ => {}
        }
    }
    let out = child
        .wait_with_output()
        .context("waiting for audit export")?;
    anyhow::ensure!(
        out.status.success(),
        "audit export exited {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(counts)
}
