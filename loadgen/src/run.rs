//! `loadgen run`: the timed login storm.
//!
//! Everything expensive for the generator happens before the clock starts:
//! the responses are minted (on every core it may use), then, with
//! `--pin-core`, the process pins itself to one core. The storm itself runs on
//! a current-thread tokio runtime: one core drives `--concurrency` workers,
//! each with its own keep-alive HTTP/1.1 connection (hyper's client
//! connection, no pool, no cross-thread hand-off), so what is measured is the
//! broker and not the generator's scheduler.
//!
//! Closed loop by default: each worker sends its next login as soon as the
//! previous answer is in. With `--rate`, open loop: login `i` is due at
//! `start + i / rate` whatever happened before, and its latency counts from
//! when it was due, so queueing behind a slow broker shows in the figures
//! (no coordinated omission).

use crate::mint::Minter;
use crate::procfs;
use crate::setup::Settings;
use crate::stats::{micros, Summary};
use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header;
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The directory `loadgen setup` wrote.
    #[arg(long)]
    pub dir: PathBuf,
    /// The broker's address, http only (e.g. http://127.0.0.1:18080).
    #[arg(long)]
    pub url: String,
    /// Logins to mint before the clock starts. Without --duration, the run
    /// is exactly these logins; with it, they are the head of the pool.
    #[arg(long, default_value_t = 20_000)]
    pub logins: usize,
    /// Keep-alive connections, one worker each.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// The broker's pid: its VmRSS is read at the start, every 10 s and at the end.
    #[arg(long)]
    pub broker_pid: Option<u32>,
    /// Also read GET /api/session at this rate, with the cookies of successful logins.
    #[arg(long, default_value_t = 0.0)]
    pub session_reads_per_sec: f64,
    /// Connections used for the session reads.
    #[arg(long, default_value_t = 8)]
    pub session_readers: usize,
    /// Open loop: start this many logins per second, whatever the answers.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Run this long (a soak). Logins beyond the pre-minted pool are minted
    /// while the run goes, on the generator's core; make --logins at least
    /// rate × duration for a clean measurement.
    #[arg(long)]
    pub duration: Option<f64>,
    /// After minting, pin the whole generator to this core (taskset), so
    /// minting uses every core and the storm one.
    #[arg(long)]
    pub pin_core: Option<usize>,
    /// Seconds a minted response stays usable (SubjectConfirmationData
    /// NotOnOrAfter). Default: 600, plus --duration.
    #[arg(long)]
    pub validity_secs: Option<u64>,
}

const MAX_ERROR_BODIES: usize = 5;
const MAX_COOKIES: usize = 100_000;
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// What the workers share. The runtime has one thread, so the locks are never contended.
struct Shared {
    authority: String,
    started: Instant,
    rate: Option<f64>,
    deadline: Option<Instant>,
    /// Without --duration: the number of logins; with it, unbounded.
    limit: usize,
    pool: Vec<Bytes>,
    /// Logins minted while the run goes (--duration).
    extra: Option<Mutex<mpsc::Receiver<Bytes>>>,
    next: AtomicUsize,
    ok: AtomicU64,
    failed: AtomicU64,
    transport_errors: AtomicU64,
    starved: AtomicU64,
    by_status: Mutex<BTreeMap<String, u64>>,
    error_bodies: Mutex<Vec<String>>,
    cookies: Mutex<Vec<String>>,
    cookies_seen: AtomicUsize,
    reads_next: AtomicUsize,
    reads_ok: AtomicU64,
    reads_failed: AtomicU64,
    reads_by_status: Mutex<BTreeMap<String, u64>>,
    stop: AtomicBool,
}

enum Take {
    Body(Bytes),
    /// The pool is used up and the minter has not caught up yet.
    Starved,
    Done,
}

impl Shared {
    fn take(&self, i: usize) -> Take {
        if let Some(b) = self.pool.get(i) {
            return Take::Body(b.clone());
        }
        let Some(rx) = &self.extra else {
            return Take::Done;
        };
        let Ok(rx) = rx.lock() else {
            return Take::Done;
        };
        match rx.try_recv() {
            Ok(b) => Take::Body(b),
            Err(mpsc::TryRecvError::Empty) => Take::Starved,
            Err(mpsc::TryRecvError::Disconnected) => Take::Done,
        }
    }

    fn count(&self, map: &Mutex<BTreeMap<String, u64>>, key: String) {
        if let Ok(mut m) = map.lock() {
            *m.entry(key).or_default() += 1;
        }
    }

    fn error_body(&self, what: String) {
        if let Ok(mut b) = self.error_bodies.lock() {
            if b.len() < MAX_ERROR_BODIES {
                eprintln!("loadgen: error #{}: {what}", b.len() + 1);
                b.push(what);
            }
        }
    }

    fn add_cookie(&self, c: String) {
        let n = self.cookies_seen.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut v) = self.cookies.lock() {
            if v.len() < MAX_COOKIES {
                v.push(c);
            } else {
                v[n % MAX_COOKIES] = c;
            }
        }
    }

    fn due(&self, i: usize, rate: f64) -> Instant {
        self.started + Duration::from_secs_f64(i as f64 / rate)
    }

    fn past_deadline(&self, t: Instant) -> bool {
        self.deadline.is_some_and(|d| t >= d)
    }
}

pub fn run(a: RunArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.concurrency >= 1, "--concurrency must be at least 1");
    anyhow::ensure!(
        a.logins >= 1 || a.duration.is_some(),
        "--logins must be at least 1"
    );
    if let Some(r) = a.rate {
        anyhow::ensure!(r > 0.0, "--rate must be positive");
    }
    anyhow::ensure!(
        a.session_reads_per_sec >= 0.0,
        "--session-reads-per-sec must not be negative"
    );
    let authority = authority(&a.url)?;
    let settings = Settings::load(&a.dir)?;
    if settings.public_url.trim_end_matches('/') != a.url.trim_end_matches('/') {
        eprintln!(
            "loadgen: note: the responses name {} (server.public_url); requests go to {}",
            settings.public_url, a.url
        );
    }
    let validity = a
        .validity_secs
        .unwrap_or(600 + a.duration.map_or(0, |d| d.ceil() as u64));
    let minter = Minter::load(&a.dir, &settings, validity)?;

    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    eprintln!(
        "loadgen: minting {} signed responses on {threads} thread(s)…",
        a.logins
    );
    let mint_started = Instant::now();
    let pool = minter.mint_many(0, a.logins)?;
    let mint_s = mint_started.elapsed().as_secs_f64();
    eprintln!(
        "loadgen: minted {} in {mint_s:.1} s ({:.0}/s)",
        pool.len(),
        pool.len() as f64 / mint_s.max(1e-9)
    );
    if let Some(core) = a.pin_core {
        procfs::pin_self(core)?;
        eprintln!("loadgen: pinned to core {core}");
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let report = rt.block_on(storm(&a, authority, pool, minter))?;
    let mut report = report;
    report["mint"] = json!({
        "count": a.logins,
        "seconds": round3(mint_s),
        "per_s": round1(a.logins as f64 / mint_s.max(1e-9)),
        "threads": threads,
        "validity_s": validity,
    });
    report["storage"] = json!(settings.storage_url);

    // Successful logins over every run into this directory: what `check` expects.
    let last = a.dir.join(crate::LAST_RUN_FILE);
    let before = std::fs::read_to_string(&last)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("cumulative_logins_ok").and_then(|c| c.as_u64()))
        .unwrap_or(0);
    let ok = report["logins_ok"].as_u64().unwrap_or(0);
    report["cumulative_logins_ok"] = json!(before + ok);
    std::fs::write(&last, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", last.display()))?;

    print_summary(&report);
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

async fn storm(
    a: &RunArgs,
    authority: String,
    pool: Vec<Bytes>,
    minter: Minter,
) -> anyhow::Result<serde_json::Value> {
    // Every connection is opened before the clock starts.
    let mut senders = Vec::with_capacity(a.concurrency);
    for _ in 0..a.concurrency {
        senders.push(connect(&authority).await?);
    }
    let readers = if a.session_reads_per_sec > 0.0 {
        a.session_readers.max(1)
    } else {
        0
    };
    let mut read_senders = Vec::with_capacity(readers);
    for _ in 0..readers {
        read_senders.push(connect(&authority).await?);
    }

    // --duration: keep minting beyond the pool, a bounded distance ahead.
    let extra = a.duration.map(|_| {
        let (tx, rx) = mpsc::sync_channel::<Bytes>(4096);
        let first = pool.len() as u64;
        let m = minter.clone();
        std::thread::spawn(move || {
            let mut n = first;
            loop {
                match m.mint(n) {
                    Ok(b) => {
                        if tx.send(b).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        eprintln!("loadgen: minting stopped: {e:#}");
                        return;
                    }
                }
                n += 1;
            }
        });
        Mutex::new(rx)
    });

    let rss_start = a.broker_pid.and_then(procfs::rss_kb);
    let broker_cpu_start = a.broker_pid.and_then(procfs::cpu_seconds);
    let self_cpu_start = procfs::cpu_seconds(std::process::id());
    let io_start = procfs::pressure_some_us("io");
    let cpu_start = procfs::pressure_some_us("cpu");
    let started = Instant::now();
    let shared = Arc::new(Shared {
        authority,
        started,
        rate: a.rate,
        deadline: a.duration.map(|d| started + Duration::from_secs_f64(d)),
        limit: if a.duration.is_some() {
            usize::MAX
        } else {
            pool.len()
        },
        pool,
        extra,
        next: AtomicUsize::new(0),
        ok: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        transport_errors: AtomicU64::new(0),
        starved: AtomicU64::new(0),
        by_status: Mutex::new(BTreeMap::new()),
        error_bodies: Mutex::new(Vec::new()),
        cookies: Mutex::new(Vec::new()),
        cookies_seen: AtomicUsize::new(0),
        reads_next: AtomicUsize::new(0),
        reads_ok: AtomicU64::new(0),
        reads_failed: AtomicU64::new(0),
        reads_by_status: Mutex::new(BTreeMap::new()),
        stop: AtomicBool::new(false),
    });
    eprintln!(
        "loadgen: storm: {} connection(s){}{}{}",
        a.concurrency,
        a.rate
            .map(|r| format!(", open loop at {r}/s"))
            .unwrap_or_else(|| ", closed loop".into()),
        a.duration
            .map(|d| format!(", for {d} s"))
            .unwrap_or_else(|| format!(", {} logins", shared.limit)),
        if readers > 0 {
            format!(
                ", session reads at {}/s on {readers} connection(s)",
                a.session_reads_per_sec
            )
        } else {
            String::new()
        }
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = senders
        .into_iter()
        .map(|s| tokio::spawn(login_worker(shared.clone(), s)))
        .collect();
    let read_tasks: Vec<_> = read_senders
        .into_iter()
        .map(|s| {
            tokio::spawn(read_worker(
                shared.clone(),
                s,
                a.session_reads_per_sec,
                stop_rx.clone(),
            ))
        })
        .collect();
    let samples = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    if let Some(kb) = rss_start {
        if let Ok(mut s) = samples.lock() {
            s.push(json!([0.0, kb]));
        }
    }
    let intervals = Arc::new(Mutex::new(Vec::<Interval>::new()));
    let progress = tokio::spawn(progress(
        shared.clone(),
        a.broker_pid,
        samples.clone(),
        intervals.clone(),
    ));

    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.context("a login worker failed")?);
    }
    let wall = started.elapsed();
    let elapsed = wall.as_secs_f64();
    let io_pct = procfs::pressure_pct(io_start, procfs::pressure_some_us("io"), wall);
    let cpu_pct = procfs::pressure_pct(cpu_start, procfs::pressure_some_us("cpu"), wall);
    shared.stop.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    let mut read_latencies = Vec::new();
    for r in read_tasks {
        read_latencies.extend(r.await.context("a session reader failed")?);
    }
    progress.abort();
    let rss_end = a.broker_pid.and_then(procfs::rss_kb);
    let broker_cpu = a
        .broker_pid
        .and_then(procfs::cpu_seconds)
        .zip(broker_cpu_start)
        .map(|(end, start)| end - start);
    let self_cpu = procfs::cpu_seconds(std::process::id())
        .zip(self_cpu_start)
        .map(|(end, start)| end - start);
    let mut rss_samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    if let Some(kb) = rss_end {
        rss_samples.push(json!([round1(elapsed), kb]));
    }
    let rss_max = rss_samples
        .iter()
        .filter_map(|s| s.get(1).and_then(|v| v.as_u64()))
        .max();

    let intervals = intervals.lock().map(|i| i.clone()).unwrap_or_default();
    let mut rates: Vec<f64> = intervals.iter().map(|i| i.logins_per_s).collect();
    rates.sort_by(f64::total_cmp);
    let median_rate = rates.get(rates.len() / 2).copied();

    let ok = shared.ok.load(Ordering::Relaxed);
    let failed = shared.failed.load(Ordering::Relaxed);
    let transport = shared.transport_errors.load(Ordering::Relaxed);
    let reads_ok = shared.reads_ok.load(Ordering::Relaxed);
    let reads_failed = shared.reads_failed.load(Ordering::Relaxed);
    let lat = Summary::of(latencies);
    let read_lat = Summary::of(read_latencies);
    let by_status = shared
        .by_status
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    let reads_by_status = shared
        .reads_by_status
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    let bodies = shared
        .error_bodies
        .lock()
        .map(|b| b.clone())
        .unwrap_or_default();
    Ok(json!({
        "loadgen": "run",
        "url": a.url,
        "concurrency": a.concurrency,
        "rate": a.rate,
        "duration_s": a.duration,
        "elapsed_s": round3(elapsed),
        "requests": ok + failed + transport,
        "logins_ok": ok,
        "logins_per_s": round1(ok as f64 / elapsed.max(1e-9)),
        "median_10s_logins_per_s": median_rate.map(round1),
        "intervals": intervals.iter().map(Interval::json).collect::<Vec<_>>(),
        "machine": {
            "io_pressure_some_pct": io_pct.map(round1),
            "cpu_pressure_some_pct": cpu_pct.map(round1),
            "loadavg": std::fs::read_to_string("/proc/loadavg").ok().map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")),
        },
        "errors": {
            "total": failed + transport,
            "by_status": by_status,
            "transport": transport,
            "first_bodies": bodies,
        },
        "mint_starved_waits": shared.starved.load(Ordering::Relaxed),
        "latency_ms": lat.json(),
        "session_reads": {
            "target_per_s": a.session_reads_per_sec,
            "ok": reads_ok,
            "errors": reads_failed,
            "by_status": reads_by_status,
            "per_s": round1(reads_ok as f64 / elapsed.max(1e-9)),
            "latency_ms": read_lat.json(),
        },
        "broker": {
            "pid": a.broker_pid,
            "rss_kb_start": rss_start,
            "rss_kb_end": rss_end,
            "rss_kb_max": rss_max,
            "rss_kb_samples": rss_samples,
            "cpu_s": broker_cpu.map(round3),
            "cpu_ms_per_login": broker_cpu.filter(|_| ok > 0).map(|c| round3(c * 1000.0 / ok as f64)),
            "cpu_util": broker_cpu.map(|c| round3(c / elapsed.max(1e-9))),
        },
        "loadgen_cpu_s": self_cpu.map(round3),
    }))
}

async fn login_worker(shared: Arc<Shared>, mut sender: SendRequest<Full<Bytes>>) -> Vec<u32> {
    let mut latencies = Vec::new();
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= shared.limit {
            break;
        }
        let due = shared.rate.map(|r| shared.due(i, r));
        if let Some(due) = due {
            if shared.past_deadline(due) {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
        } else if shared.past_deadline(Instant::now()) {
            break;
        }
        let body = loop {
            match shared.take(i) {
                Take::Body(b) => break Some(b),
                Take::Done => break None,
                Take::Starved => {
                    shared.starved.fetch_add(1, Ordering::Relaxed);
                    if shared.past_deadline(Instant::now()) {
                        break None;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        };
        let Some(body) = body else { break };
        let sent = Instant::now();
        let result = post_acs(&shared, &mut sender, body).await;
        let done = Instant::now();
        match result {
            Ok(answer) => {
                latencies.push(micros(done - due.unwrap_or(sent)));
                record_login(&shared, answer);
            }
            Err(e) => {
                shared.transport_errors.fetch_add(1, Ordering::Relaxed);
                shared.error_body(format!("transport: {e:#}"));
                match reconnect(&shared).await {
                    Some(s) => sender = s,
                    None => break,
                }
            }
        }
    }
    latencies
}

struct Answer {
    status: u16,
    location: Option<String>,
    cookie: Option<String>,
    body: Bytes,
}

async fn post_acs(
    shared: &Shared,
    sender: &mut SendRequest<Full<Bytes>>,
    body: Bytes,
) -> anyhow::Result<Answer> {
    let req = hyper::Request::post("/saml/acs")
        .header(header::HOST, &shared.authority)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::USER_AGENT, "saml-broker-loadgen")
        .body(Full::new(body))?;
    send(sender, req).await
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: hyper::Request<Full<Bytes>>,
) -> anyhow::Result<Answer> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let cookie = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("broker_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string);
    // Read the whole body, so that the connection can carry the next request.
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Answer {
        status,
        location,
        cookie,
        body,
    })
}

fn record_login(shared: &Shared, a: Answer) {
    if a.status == 303 && a.location.as_deref() == Some("/choose-role") {
        shared.ok.fetch_add(1, Ordering::Relaxed);
        shared.count(&shared.by_status, "303".into());
        if let Some(c) = a.cookie {
            shared.add_cookie(c);
        }
        return;
    }
    shared.failed.fetch_add(1, Ordering::Relaxed);
    let key = match (a.status, &a.location) {
        (s, Some(l)) if (300..400).contains(&s) => format!("{s} to {l}"),
        (s, _) => s.to_string(),
    };
    shared.count(&shared.by_status, key.clone());
    shared.error_body(format!("{key}: {}", excerpt(&a.body)));
}

async fn read_worker(
    shared: Arc<Shared>,
    mut sender: SendRequest<Full<Bytes>>,
    rate: f64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<u32> {
    let mut latencies = Vec::new();
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let j = shared.reads_next.fetch_add(1, Ordering::Relaxed);
        let due = shared.due(j, rate);
        tokio::select! {
            () = tokio::time::sleep_until(due.into()) => {}
            _ = stop.changed() => break,
        }
        let cookie = shared
            .cookies
            .lock()
            .ok()
            .and_then(|c| (!c.is_empty()).then(|| c[j % c.len()].clone()));
        // No session yet: this read is skipped, not counted.
        let Some(cookie) = cookie else { continue };
        let req = match hyper::Request::get("/api/session")
            .header(header::HOST, &shared.authority)
            .header(header::COOKIE, cookie)
            .header(header::USER_AGENT, "saml-broker-loadgen")
            .body(Full::new(Bytes::new()))
        {
            Ok(r) => r,
            Err(_) => break,
        };
        match send(&mut sender, req).await {
            Ok(a) => {
                latencies.push(micros(Instant::now() - due));
                shared.count(&shared.reads_by_status, a.status.to_string());
                if a.status == 200 {
                    shared.reads_ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    shared.reads_failed.fetch_add(1, Ordering::Relaxed);
                    shared.error_body(format!(
                        "GET /api/session {}: {}",
                        a.status,
                        excerpt(&a.body)
                    ));
                }
            }
            Err(e) => {
                shared.reads_failed.fetch_add(1, Ordering::Relaxed);
                shared.error_body(format!("GET /api/session transport: {e:#}"));
                match reconnect(&shared).await {
                    Some(s) => sender = s,
                    None => break,
                }
            }
        }
    }
    latencies
}

/// A new connection after a transport error; None when the broker stays unreachable.
async fn reconnect(shared: &Shared) -> Option<SendRequest<Full<Bytes>>> {
    for attempt in 0..20u64 {
        if shared.stop.load(Ordering::Relaxed) {
            return None;
        }
        match connect(&shared.authority).await {
            Ok(s) => return Some(s),
            Err(e) if attempt == 19 => {
                eprintln!("loadgen: giving up a connection: {e:#}");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await,
        }
    }
    None
}

async fn connect(authority: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One 10-second interval of the run, as the progress line printed it.
#[derive(Clone)]
struct Interval {
    t: f64,
    logins_per_s: f64,
    errors: u64,
    io_pressure_pct: Option<f64>,
    cpu_pressure_pct: Option<f64>,
}

impl Interval {
    fn json(&self) -> serde_json::Value {
        json!({
            "t": round1(self.t),
            "logins_per_s": round1(self.logins_per_s),
            "errors": self.errors,
            "io_pressure_some_pct": self.io_pressure_pct.map(round1),
            "cpu_pressure_some_pct": self.cpu_pressure_pct.map(round1),
        })
    }
}

async fn progress(
    shared: Arc<Shared>,
    pid: Option<u32>,
    samples: Arc<Mutex<Vec<serde_json::Value>>>,
    intervals: Arc<Mutex<Vec<Interval>>>,
) {
    let mut tick = tokio::time::interval_at((shared.started + REPORT_EVERY).into(), REPORT_EVERY);
    let mut last_ok = 0u64;
    let mut last_errors = 0u64;
    let mut last_io = procfs::pressure_some_us("io");
    let mut last_cpu = procfs::pressure_some_us("cpu");
    loop {
        tick.tick().await;
        let t = shared.started.elapsed().as_secs_f64();
        let ok = shared.ok.load(Ordering::Relaxed);
        let errors =
            shared.failed.load(Ordering::Relaxed) + shared.transport_errors.load(Ordering::Relaxed);
        let rss = pid.and_then(procfs::rss_kb);
        if let (Some(kb), Ok(mut s)) = (rss, samples.lock()) {
            s.push(json!([round1(t), kb]));
        }
        let (io, cpu) = (
            procfs::pressure_some_us("io"),
            procfs::pressure_some_us("cpu"),
        );
        let interval = Interval {
            t,
            logins_per_s: ok.saturating_sub(last_ok) as f64 / REPORT_EVERY.as_secs_f64(),
            errors: errors.saturating_sub(last_errors),
            io_pressure_pct: procfs::pressure_pct(last_io, io, REPORT_EVERY),
            cpu_pressure_pct: procfs::pressure_pct(last_cpu, cpu, REPORT_EVERY),
        };
        eprintln!(
            "loadgen: t={t:.0}s logins_ok={ok} ({:.0}/s in the last {} s) errors={errors} session_reads={}{}{}",
            interval.logins_per_s,
            REPORT_EVERY.as_secs(),
            shared.reads_ok.load(Ordering::Relaxed),
            rss.map(|kb| format!(" broker_rss={kb} kB")).unwrap_or_default(),
            interval
                .io_pressure_pct
                .zip(interval.cpu_pressure_pct)
                .map(|(i, c)| format!(" machine: io stall {i:.0}%, cpu stall {c:.0}%"))
                .unwrap_or_default(),
        );
        if let Ok(mut v) = intervals.lock() {
            v.push(interval);
        }
        (last_ok, last_errors, last_io, last_cpu) = (ok, errors, io, cpu);
    }
}

fn print_summary(r: &serde_json::Value) {
    let l = &r["latency_ms"];
    let s = &r["session_reads"];
    let b = &r["broker"];
    eprintln!("loadgen: ---");
    eprintln!(
        "loadgen: minted {} in {} s ({}/s, before the clock)",
        r["mint"]["count"], r["mint"]["seconds"], r["mint"]["per_s"]
    );
    eprintln!(
        "loadgen: {} logins ok in {} s: {} logins/s; errors {} {}",
        r["logins_ok"],
        r["elapsed_s"],
        r["logins_per_s"],
        r["errors"]["total"],
        r["errors"]["by_status"]
    );
    eprintln!(
        "loadgen: median 10-s interval: {} logins/s; machine during the run: io stall {}%, cpu stall {}% (PSI some), load {}",
        r["median_10s_logins_per_s"],
        r["machine"]["io_pressure_some_pct"],
        r["machine"]["cpu_pressure_some_pct"],
        r["machine"]["loadavg"]
    );
    eprintln!(
        "loadgen: latency ms: p50 {} p99 {} p99.9 {} max {} (mean {})",
        l["p50"], l["p99"], l["p99_9"], l["max"], l["mean"]
    );
    if s["target_per_s"].as_f64().unwrap_or(0.0) > 0.0 {
        eprintln!(
            "loadgen: session reads: {} ok ({}/s), {} errors; ms p50 {} p99 {}",
            s["ok"], s["per_s"], s["errors"], s["latency_ms"]["p50"], s["latency_ms"]["p99"]
        );
    }
    if !b["pid"].is_null() {
        eprintln!(
            "loadgen: broker RSS kB: start {} end {} max {}; broker CPU {} s ({} ms per login, {} cores busy)",
            b["rss_kb_start"], b["rss_kb_end"], b["rss_kb_max"], b["cpu_s"], b["cpu_ms_per_login"], b["cpu_util"]
        );
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    // An HTML error page: its text, not its markup.
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                plain.push(' ');
            }
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = plain.split_whitespace().collect();
    words.join(" ").chars().take(400).collect()
}

/// `host:port` of an http:// URL.
fn authority(url: &str) -> anyhow::Result<String> {
    let rest = url.strip_prefix("http://").with_context(|| {
        format!("--url {url:?}: must start with http:// (the storm is plain HTTP)")
    })?;
    let host = rest.split('/').next().unwrap_or_default();
    anyhow::ensure!(!host.is_empty(), "--url {url:?}: no host");
    Ok(if host.contains(':') && !host.ends_with(']') {
        host.to_string()
    } else {
        format!("{host}:80")
    })
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
