//! Faults under load (issue 10, item 6): the real `saml-broker serve`
//! process, driven by concurrent IdP-initiated logins over HTTP, while the
//! process is killed, its disk fills up, its PostgreSQL restarts, or AWS
//! hangs or throttles. What the person sees, what the log says and that the
//! broker recovers by itself are each checked.
//!
//! Logins carry three roles, so the broker answers 303 to /choose-role
//! without calling AWS: every 303 is a sign-in whose replay entry, audit
//! event and session were committed.

use crate::cli::{bin, plain, run_in, stderr, stdout};
use crate::common::*;
use saml_broker::devidp::ResponseSpec;
use saml_broker::saml::claims::{ATTR_GROUP, ATTR_ROLE};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PUBLIC: &str = "http://broker.test";
const ROLES: [&str; 3] = [
    "arn:aws:iam::111111111111:role/Dev,arn:aws:iam::111111111111:saml-provider/ADFS",
    "arn:aws:iam::111111111111:role/Ops,arn:aws:iam::111111111111:saml-provider/ADFS",
    "arn:aws:iam::111111111111:role/ReadOnly,arn:aws:iam::111111111111:saml-provider/ADFS",
];
/// What the writer logs when a batch fails (backend/src/store/sql/writer.rs).
const WRITE_FAILED: &str = "store write failed and was rolled back";
const WRITES_BACK: &str = "store writes succeed again";

/// A broker configuration: IdP-initiated logins, STS mode against `aws`,
/// the store at `storage`, no rate limit in the way of a storm.
fn toml(storage: &str, aws: &str, aws_extra: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\npublic_url = \"{PUBLIC}\"\n\
         [idp]\nmetadata_file = \"idp.xml\"\nallow_idp_initiated = true\n\
         [aws]\nmode = \"sts-saml\"\nendpoint_url = \"{aws}\"\n{aws_extra}\
         [storage]\nurl = \"{storage}\"\n\
         [limits]\nrequests_per_minute = 1000000\n"
    )
}

/// `saml-broker serve` as a child process, its stderr collected line by line.
struct Broker {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Broker {
    fn start(dir: &Path) -> Self {
        let mut child = bin()
            .arg("serve")
            .arg("--config")
            .arg(dir.join("broker.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        let l2 = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                let line = plain(&line);
                if line.contains("saml-broker listening on ") {
                    let _ = tx.send(line.clone());
                }
                l2.lock().unwrap().push(line);
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the broker did not start:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|r| r.split(';').next())
            .unwrap()
            .trim()
            .to_string();
        Self {
            child,
            base: format!("http://{addr}"),
            log,
        }
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        let _ = self.child.wait();
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A validly signed IdP-initiated response with a fresh assertion id.
#[derive(Clone)]
struct Login {
    assertion_id: String,
    saml: String,
}

fn login(name: &str, roles: &[&str]) -> Login {
    let spec = ResponseSpec::adfs(
        chrono::Utc::now(),
        IDP,
        &format!("{PUBLIC}/saml/acs"),
        &format!("{PUBLIC}/saml/metadata"),
        name,
    )
    .with_attribute(ATTR_ROLE, roles)
    .with_attribute(ATTR_GROUP, &["Developers"]);
    Login {
        assertion_id: spec.assertion_id.clone(),
        saml: spec.sign_base64(idp_key()).unwrap(),
    }
}

/// What the broker answered to one ACS post.
#[derive(Clone, Debug)]
struct Answer {
    assertion_id: String,
    saml: String,
    /// None: no answer (the connection failed).
    status: Option<u16>,
    location: Option<String>,
    /// `broker_session=…` from the answer's Set-Cookie.
    cookie: Option<String>,
    body: String,
    elapsed: Duration,
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn post(http: &reqwest::Client, base: &str, l: &Login) -> Answer {
    let t = Instant::now();
    let r = http
        .post(format!("{base}/saml/acs"))
        .form(&[("SAMLResponse", l.saml.as_str())])
        .send()
        .await;
    let mut a = Answer {
        assertion_id: l.assertion_id.clone(),
        saml: l.saml.clone(),
        status: None,
        location: None,
        cookie: None,
        body: String::new(),
        elapsed: Duration::ZERO,
    };
    if let Ok(r) = r {
        a.status = Some(r.status().as_u16());
        a.location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        a.cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("broker_session="))
            .and_then(|c| c.split(';').next())
            .map(str::to_string);
        a.body = r.text().await.unwrap_or_default();
    }
    a.elapsed = t.elapsed();
    a
}

/// Sign a fresh login (off the async threads) and post it.
async fn sign_and_post(
    http: &reqwest::Client,
    base: &str,
    name: String,
    roles: &'static [&'static str],
) -> Answer {
    let l = tokio::task::spawn_blocking(move || login(&name, roles))
        .await
        .unwrap();
    post(http, base, &l).await
}

/// `tasks` concurrent loops of fresh three-role logins until stopped.
struct Storm {
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<Answer>>>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Storm {
    fn start(base: &str, tasks: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let n = Arc::new(AtomicUsize::new(0));
        let handles = (0..tasks)
            .map(|_| {
                let (stop, answers, n) = (stop.clone(), answers.clone(), n.clone());
                let base = base.to_string();
                tokio::spawn(async move {
                    let http = http();
                    while !stop.load(Ordering::SeqCst) {
                        let i = n.fetch_add(1, Ordering::SeqCst);
                        let a = sign_and_post(&http, &base, format!("user{i}@example.com"), &ROLES)
                            .await;
                        answers.lock().unwrap().push(a);
                    }
                })
            })
            .collect();
        Self {
            stop,
            answers,
            handles,
        }
    }

    fn count(&self, status: Option<u16>) -> usize {
        self.answers
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.status == status)
            .count()
    }

    async fn until(&self, what: &str, secs: u64, f: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !f(self) {
            if Instant::now() > deadline {
                panic!(
                    "{what} within {secs} s; answers so far: {:?}",
                    self.summary()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn summary(&self) -> HashMap<Option<u16>, usize> {
        tally(&self.answers.lock().unwrap())
    }

    async fn finish(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::SeqCst);
        for h in self.handles {
            h.await.unwrap();
        }
        Arc::try_unwrap(self.answers).unwrap().into_inner().unwrap()
    }
}

/// How many answers had each status (None: no answer).
fn tally(answers: &[Answer]) -> HashMap<Option<u16>, usize> {
    let mut m = HashMap::new();
    for a in answers {
        *m.entry(a.status).or_default() += 1;
    }
    m
}

/// Every 303 is to the role picker with a session cookie.
fn assert_picker(answers: &[Answer]) {
    for a in answers.iter().filter(|a| a.status == Some(303)) {
        assert_eq!(a.location.as_deref(), Some("/choose-role"), "{a:?}");
        assert!(a.cookie.is_some(), "a 303 without a session cookie: {a:?}");
    }
}

/// Every 503 is the broker's page, in plain words.
fn assert_unavailable_pages(answers: &[Answer]) {
    for a in answers.iter().filter(|a| a.status == Some(503)) {
        assert!(
            a.body.contains("cannot complete this request right now"),
            "{a:?}"
        );
    }
}

/// The audit trail as rows: (event id, event, assertion id, detail).
async fn audit_rows(url: &str) -> Vec<(String, String, Option<String>, Option<String>)> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let rows =
        sqlx::query_as("SELECT id, event, assertion_id, detail FROM audit_events ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    rows
}

/// How many `login.succeeded` rows each assertion id has.
fn succeeded_by_assertion(
    rows: &[(String, String, Option<String>, Option<String>)],
) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for (_, event, aid, _) in rows {
        if event == "login.succeeded" {
            *m.entry(aid.clone().unwrap_or_default()).or_default() += 1;
        }
    }
    m
}

fn assert_verify_passes(dir: &Path) {
    let o = run_in(dir, &["audit", "verify"], &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "audit verify: {}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(stdout(&o).contains("audit chain intact"), "{}", stdout(&o));
}

/// kill -9 while logins are in flight, restart on the same SQLite file:
/// every login that was answered 303 has its audit event and its session,
/// its assertion is still refused as a replay, and the chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_storm_loses_no_answered_login() {
    let dir = crate::cli::config_dir(&toml("sqlite://broker.db", "http://127.0.0.1:9", ""));
    let mut broker = Broker::start(&dir.0);
    let storm = Storm::start(&broker.base, 24);
    storm
        .until("300 logins answered 303", 60, |s| s.count(Some(303)) >= 300)
        .await;
    broker.kill9();
    let answers = storm.finish().await;
    eprintln!("kill -9: answers {:?}", tally(&answers));
    let ok: Vec<&Answer> = answers.iter().filter(|a| a.status == Some(303)).collect();
    assert!(
        answers.iter().any(|a| a.status.is_none()),
        "the kill interrupted no login, so it proves nothing"
    );
    for a in &answers {
        assert!(
            matches!(a.status, None | Some(303)),
            "before the kill every login succeeds: {a:?}"
        );
    }
    assert_picker(&answers);

    let broker = Broker::start(&dir.0);
    // Every answered login has its login.succeeded event, once.
    let db = format!("sqlite://{}", dir.0.join("broker.db").display());
    let rows = audit_rows(&db).await;
    let succeeded = succeeded_by_assertion(&rows);
    for a in &ok {
        assert_eq!(
            succeeded.get(&a.assertion_id),
            Some(&1),
            "login {} was answered 303 before the kill",
            a.assertion_id
        );
    }
    // And its session.
    let http = http();
    for a in &ok {
        let r = http
            .get(format!("{}/api/session", broker.base))
            .header("cookie", a.cookie.as_deref().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "session of {} after the restart",
            a.assertion_id
        );
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["roles"].as_array().map(Vec::len), Some(3), "{s}");
    }
    // Posting an answered response again is a replay.
    for a in ok.iter().take(3) {
        let again = post(
            &http,
            &broker.base,
            &Login {
                assertion_id: a.assertion_id.clone(),
                saml: a.saml.clone(),
            },
        )
        .await;
        assert_eq!(again.status, Some(400), "{again:?}");
        assert!(again.body.contains("already been used"), "{}", again.body);
    }
    let rows = audit_rows(&db).await;
    for a in ok.iter().take(3) {
        let replay = rows.iter().any(|(_, event, aid, detail)| {
            event == "login.failed"
                && aid.as_deref() == Some(a.assertion_id.as_str())
                && detail
                    .as_deref()
                    .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                    .is_some_and(|d| d["code"] == "replay")
        });
        assert!(
            replay,
            "no login.failed replay event for {}",
            a.assertion_id
        );
    }
    assert_verify_passes(&dir.0);
}

/// A size-limited tmpfs, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Err: why it cannot be mounted here (not root, no permission).
    fn mount(dir: &Path, size: &str) -> Result<Self, String> {
        std::fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if o.status.success() {
            return Ok(Self(dir.to_path_buf()));
        }
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let lower = err.to_lowercase();
        if lower.contains("permission denied")
            || lower.contains("operation not permitted")
            || lower.contains("must be superuser")
        {
            return Err(format!("mount -t tmpfs failed (EPERM): {err}"));
        }
        panic!("mount -t tmpfs {} failed: {err}", dir.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Write `path` until the file system says ENOSPC.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    for chunk in [1 << 20, 4096, 512] {
        let buf = vec![0xa5u8; chunk];
        loop {
            match f.write_all(&buf) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
}

/// The disk holding the SQLite file fills up: logins get 503 (never 500,
/// never a 303 without its audit event), the log names the failed write,
/// and once there is room again logins succeed without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_answers_503_and_recovers_without_a_restart() {
    let dir = TempDir::new();
    let store = dir.0.join("store");
    let _tmpfs = match Tmpfs::mount(&store, "16m") {
        Ok(t) => t,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let db = store.join("broker.db");
    let url = format!("sqlite://{}", db.display());
    std::fs::write(
        dir.0.join("idp.xml"),
        metadata_for(IDP, "https://adfs.example.com/adfs/ls/", &[idp_key()]),
    )
    .unwrap();
    std::fs::write(
        dir.0.join("broker.toml"),
        toml(&url, "http://127.0.0.1:9", ""),
    )
    .unwrap();
    let mut broker = Broker::start(&dir.0);
    let http = http();
    for i in 0..3 {
        let a = sign_and_post(
            &http,
            &broker.base,
            format!("before{i}@example.com"),
            &ROLES,
        )
        .await;
        assert_eq!(a.status, Some(303), "{a:?}");
    }

    let filler = store.join("filler");
    fill(&filler);
    let storm = Storm::start(&broker.base, 8);
    storm
        .until("30 logins answered 503 on a full disk", 20, |s| {
            s.count(Some(503)) >= 30
        })
        .await;
    let full = storm.finish().await;
    eprintln!("disk full: answers {:?}", tally(&full));
    // Still full: a lone login is refused too.
    let lone = sign_and_post(&http, &broker.base, "lone@example.com".into(), &ROLES).await;
    assert_eq!(lone.status, Some(503), "{lone:?}");
    assert!(
        lone.body.contains("cannot complete this request right now"),
        "{}",
        lone.body
    );
    for a in &full {
        assert!(
            matches!(a.status, Some(303 | 503)),
            "a full disk is 503 (or, while the WAL still had room, 303): {a:?}"
        );
    }
    assert_picker(&full);
    assert_unavailable_pages(&full);
    assert!(
        broker.log_text().contains(WRITE_FAILED),
        "the log names the failed store write:\n{}",
        broker.log_text()
    );

    std::fs::remove_file(&filler).unwrap();
    // Room again: the same process signs people in.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = sign_and_post(&http, &broker.base, "after@example.com".into(), &ROLES).await;
        if a.status == Some(303) {
            break;
        }
        assert_eq!(a.status, Some(503), "{a:?}");
        assert!(
            Instant::now() < deadline,
            "no recovery after the disk had room"
        );
    }
    let mut after = Vec::new();
    for i in 0..5 {
        let a = sign_and_post(&http, &broker.base, format!("after{i}@example.com"), &ROLES).await;
        assert_eq!(a.status, Some(303), "{a:?}");
        after.push(a);
    }
    assert!(broker.running(), "recovered without a restart");
    assert!(
        broker.log_text().contains(WRITES_BACK),
        "{}",
        broker.log_text()
    );

    // No 303 without its audit event.
    let succeeded = succeeded_by_assertion(&audit_rows(&url).await);
    for a in full.iter().chain(&after).filter(|a| a.status == Some(303)) {
        assert_eq!(succeeded.get(&a.assertion_id), Some(&1), "{a:?}");
    }
    assert_verify_passes(&dir.0);
}

/// A throwaway PostgreSQL cluster of its own (never the system one on
/// 5432), on a free loopback port; stopped and removed on drop.
struct PgCluster {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    as_postgres: bool,
}

impl PgCluster {
    /// Err: why there is none here (no PostgreSQL binaries).
    fn start() -> Result<Self, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("no /usr/lib/postgresql: {e}"))?
            .filter_map(Result::ok)
            .map(|d| d.path().join("bin"))
            .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .max_by_key(|b| {
                b.parent()
                    .and_then(|v| v.file_name())
                    .and_then(|v| v.to_str())
                    .and_then(|v| v.parse::<u32>().ok())
            })
            .ok_or("no initdb/pg_ctl under /usr/lib/postgresql/*/bin")?;
        let dir = TempDir::new();
        // initdb refuses to run as root: the cluster belongs to `postgres`.
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if root {
            let ok = Command::new("chown")
                .arg("postgres:")
                .arg(&dir.0)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err("running as root and cannot chown to the postgres user".into());
            }
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let pg = Self {
            bin,
            dir,
            port,
            as_postgres: root,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "-N"],
        );
        pg.ctl_start();
        pg.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "broker",
            ],
        );
        Ok(pg)
    }

    fn data(&self) -> String {
        self.dir.0.join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/broker", self.port)
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let o = self.command(tool).args(args).output().unwrap();
        assert!(
            o.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn ctl_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.0.display()
        );
        let log = self.dir.0.join("pg.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &opts,
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
    }

    fn ctl_stop(&self, mode: &str) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", mode, "-w", "-t", "30", "stop"],
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// PostgreSQL stops mid-storm and comes back: logins are 503 while it is
/// down and succeed again by themselves; every 303 has exactly one
/// login.succeeded event, no event is written twice, and the chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_restart_mid_storm_is_503_then_recovers_by_itself() {
    let pg = match PgCluster::start() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let dir = crate::cli::config_dir(&toml(&pg.url(), "http://127.0.0.1:9", ""));
    let mut broker = Broker::start(&dir.0);
    let storm = Storm::start(&broker.base, 16);
    storm
        .until("100 logins answered 303", 30, |s| s.count(Some(303)) >= 100)
        .await;
    pg.ctl_stop("fast");
    storm
        .until("a login answered 503 while PostgreSQL is down", 10, |s| {
            s.count(Some(503)) >= 1
        })
        .await;
    pg.ctl_start();
    let before = storm.count(Some(303));
    storm
        .until(
            "100 more logins answered 303 after PostgreSQL is back",
            30,
            |s| s.count(Some(303)) >= before + 100,
        )
        .await;
    let answers = storm.finish().await;
    eprintln!("postgres restart: answers {:?}", tally(&answers));
    assert!(broker.running(), "recovered without a restart");
    for a in &answers {
        assert!(
            matches!(a.status, Some(303 | 503)),
            "a database outage is 503: {a:?}"
        );
    }
    assert_picker(&answers);
    assert_unavailable_pages(&answers);
    assert!(
        broker.log_text().contains(WRITE_FAILED),
        "{}",
        broker.log_text()
    );
    assert!(
        broker.log_text().contains(WRITES_BACK),
        "{}",
        broker.log_text()
    );

    let rows = audit_rows(&pg.url()).await;
    let ids: HashSet<&String> = rows.iter().map(|r| &r.0).collect();
    assert_eq!(ids.len(), rows.len(), "an event id was written twice");
    let succeeded = succeeded_by_assertion(&rows);
    assert!(
        succeeded.values().all(|n| *n == 1),
        "a login.succeeded event was written twice"
    );
    let ok: HashSet<&String> = answers
        .iter()
        .filter(|a| a.status == Some(303))
        .map(|a| &a.assertion_id)
        .collect();
    for a in &ok {
        assert!(
            succeeded.contains_key(*a),
            "answered 303 without its event: {a}"
        );
    }
    // A login whose event was committed just before the outage, and whose
    // session write then failed, was answered 503 and keeps its event (no
    // session, nothing issued). Any other extra event is a bug.
    let refused: HashSet<&String> = answers
        .iter()
        .filter(|a| a.status == Some(503))
        .map(|a| &a.assertion_id)
        .collect();
    let extra: Vec<&String> = succeeded.keys().filter(|a| !ok.contains(a)).collect();
    for a in &extra {
        assert!(
            refused.contains(a),
            "a login.succeeded event for a login that was never posted: {a}"
        );
    }
    eprintln!(
        "postgres restart: {} login.succeeded events, {} answered 303, {} answered 503 after their event",
        succeeded.len(),
        ok.len(),
        extra.len()
    );
    assert_verify_passes(&dir.0);
}

/// A loopback "AWS" that accepts connections and answers nothing for 5 s.
fn tarpit() -> (String, Arc<AtomicUsize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            h.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let _held = s;
                std::thread::sleep(Duration::from_secs(5));
            });
        }
    });
    (url, hits)
}

/// A loopback STS that answers every call with HTTP 400 `code`, as AWS
/// does when it throttles.
fn throttling_sts(code: &'static str) -> (String, Arc<AtomicUsize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            h.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || answer_throttled(s, code));
        }
    });
    (url, hits)
}

/// Read one request in full (so closing does not reset it), answer 400.
fn answer_throttled(mut s: std::net::TcpStream, code: &str) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let body_start = loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..body_start]).to_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < body_start + len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    );
    let _ = write!(
        s,
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// While single-role logins wait on a slow or throttling AWS, three-role
/// logins (no AWS call) are answered at once; the waiting ones end with
/// the plain error page within the configured timeout and a margin.
async fn aws_trouble(
    endpoint: &str,
    hits: &AtomicUsize,
    aws_extra: &str,
    limit: Duration,
    words: &str,
    code: &str,
) {
    let dir = crate::cli::config_dir(&toml("sqlite://broker.db", endpoint, aws_extra));
    let broker = Broker::start(&dir.0);
    let slow: Vec<_> = (0..8)
        .map(|i| {
            let base = broker.base.clone();
            tokio::spawn(async move {
                sign_and_post(
                    &http(),
                    &base,
                    format!("single{i}@example.com"),
                    &ROLES[..1],
                )
                .await
            })
        })
        .collect();
    // The single-role logins have reached "AWS".
    let deadline = Instant::now() + Duration::from_secs(10);
    while hits.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no AWS call was made");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fast: Vec<_> = (0..4)
        .map(|t| {
            let base = broker.base.clone();
            tokio::spawn(async move {
                let http = http();
                let mut out = Vec::new();
                for i in 0..4 {
                    out.push(
                        sign_and_post(&http, &base, format!("three{t}-{i}@example.com"), &ROLES)
                            .await,
                    );
                }
                out
            })
        })
        .collect();
    for f in fast {
        for a in f.await.unwrap() {
            assert_eq!(a.status, Some(303), "{a:?}");
            assert!(
                a.elapsed < Duration::from_millis(1500),
                "a login that needs no AWS call waited {:?} behind the ones that do",
                a.elapsed
            );
        }
    }
    let mut slowest = Duration::ZERO;
    for s in slow {
        let a = s.await.unwrap();
        slowest = slowest.max(a.elapsed);
        assert_eq!(a.status, Some(502), "{a:?}");
        assert!(a.body.contains(words), "{}", a.body);
        assert!(
            a.elapsed < limit,
            "the AWS failure took {:?}, more than {limit:?}",
            a.elapsed
        );
    }
    eprintln!("AWS trouble: the slowest error page took {slowest:?} (limit {limit:?})");
    let log = broker.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("credential exchange failed")
                && l.contains(&format!("code=\"{code}\""))),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_aws_fails_within_the_timeout_and_does_not_slow_other_logins() {
    let (url, hits) = tarpit();
    // One attempt: the person waits the configured timeout, plus a margin.
    aws_trouble(
        &url,
        &hits,
        "timeout_seconds = 2\nmax_attempts = 1\n",
        Duration::from_secs(2 + 3),
        "AWS could not be reached",
        "aws_timeout",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_throttling_aws_is_explained_and_does_not_slow_other_logins() {
    let (url, hits) = throttling_sts("ThrottlingException");
    // Retried (three attempts) within twice the timeout, plus a margin.
    aws_trouble(
        &url,
        &hits,
        "timeout_seconds = 2\n",
        Duration::from_secs(2 * 2 + 3),
        "AWS is busy right now",
        "throttled",
    )
    .await;
    assert!(hits.load(Ordering::SeqCst) > 8, "throttling is retried");
}
