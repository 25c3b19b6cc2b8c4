//! The `saml-broker` command line. Thin: everything lives in the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use saml_broker::clock::SystemClock;
use saml_broker::config::{Config, LogFormat, StorageUrl};
#[cfg(feature = "dev-idp")]
use saml_broker::devidp::server::{DevIdp, DevIdpOptions, WARNING};
use saml_broker::saml::metadata;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "saml-broker",
    version,
    about = "Turns a verified SAML login into short-lived, scoped AWS credentials"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web service.
    Serve {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
    },
    /// Validate configuration and IdP metadata and print what would be used.
    CheckConfig {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
    },
    /// Print the SP metadata XML.
    Metadata {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
    },
    /// Create or upgrade the store's schema.
    Migrate {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
    },
    /// The audit trail: verify the hash chain, export, archive.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// A development IdP issuing ADFS-shaped signed assertions. Demos only
    /// (left out of builds without the default `dev-idp` feature).
    #[cfg(feature = "dev-idp")]
    DevIdp {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
        #[arg(long, default_value = "dev-idp-users.toml")]
        users: PathBuf,
        /// Base URL the browser uses to reach this IdP (default http://LISTEN).
        #[arg(long)]
        public_url: Option<String>,
        /// Where the IdP key and certificate are kept (created on first start).
        #[arg(long, default_value = ".dev-idp")]
        state_dir: PathBuf,
        #[arg(long, default_value = "http://127.0.0.1:8080/saml/acs")]
        sp_acs_url: String,
        #[arg(long, default_value = "http://127.0.0.1:8080/saml/metadata")]
        sp_entity_id: String,
        /// Also write the IdP metadata to this file (for idp.metadata_file).
        #[arg(long)]
        metadata_out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain; exit 0 when intact, 1 naming the first broken event.
    Verify {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
    },
    /// Write events to stdout (oldest first), streaming.
    Export {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// RFC 3339 time or YYYY-MM-DD (inclusive).
        #[arg(long)]
        since: Option<String>,
        /// RFC 3339 time or YYYY-MM-DD (exclusive).
        #[arg(long)]
        until: Option<String>,
    },
    /// Archive events older than N days to JSONL and remove them (anchoring the chain).
    Archive {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
        #[arg(long)]
        older_than_days: u64,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Jsonl,
    Csv,
}

async fn open_audit(config: &Path) -> anyhow::Result<(Config, saml_broker::audit::Audit)> {
    let cfg = load_config(config)?;
    let store = open_store(&cfg).await?;
    if store.migrates_on_start() {
        store.migrate().await.context("migrating the store")?;
    }
    let audit = store.audit();
    Ok((cfg, audit))
}

/// Open `storage.url`, naming it (without its password) when that fails.
async fn open_store(cfg: &Config) -> anyhow::Result<saml_broker::store::Store> {
    saml_broker::store::Store::open_with(&cfg.storage.url, &cfg.aws)
        .await
        .with_context(|| format!("opening storage.url {}", cfg.storage_url_redacted()))
}

async fn audit_command(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { config } => {
            // Exit 1 means a broken chain; 2 means the check could not run.
            let r = match open_audit(&config).await {
                Ok((_, audit)) => audit.verify().await.map_err(anyhow::Error::from),
                Err(e) => Err(e),
            };
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    eprintln!(
                        "{}",
                        report(&e.context("the audit chain could not be checked"))
                    );
                    return Ok(ExitCode::from(2));
                }
            };
            match r.broken {
                None => {
                    let anchor = r
                        .anchored_at
                        .map(|s| format!(" (anchored after archived event #{s})"))
                        .unwrap_or_default();
                    println!(
                        "audit chain intact: {} events{anchor}, head {}",
                        r.events, r.head
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    println!(
                        "audit chain BROKEN at event #{} (id {}): {}",
                        b.seq, b.id, b.reason
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Export {
            config,
            format,
            since,
            until,
        } => {
            let (_, audit) = open_audit(&config).await?;
            match export(&audit, format, since, until).await {
                // The reader went away (`audit export | head`): it has what it
                // wanted, so stop quietly, as cat and grep do.
                Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
                r => r.map(|()| ExitCode::SUCCESS),
            }
        }
        AuditCommand::Archive {
            config,
            older_than_days,
        } => {
            let (cfg, audit) = open_audit(&config).await?;
            let cutoff =
                chrono::Utc::now() - chrono::Duration::days(i64::try_from(older_than_days)?);
            let dir = &cfg.audit.archive_dir;
            match saml_broker::audit::retention::archive_older_than(&audit, cutoff, dir).await? {
                Some(r) => println!(
                    "archived {} events (#{}..#{}) to {}",
                    r.archived,
                    r.first_seq,
                    r.last_seq,
                    r.file.display()
                ),
                None => println!("no events older than {older_than_days} days"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn export(
    audit: &saml_broker::audit::Audit,
    format: ExportFormat,
    since: Option<String>,
    until: Option<String>,
) -> anyhow::Result<()> {
    use futures_util::TryStreamExt;
    use saml_broker::audit::{export, query};
    use std::io::{IsTerminal, Write};
    let mut q = std::collections::HashMap::new();
    if let Some(s) = since {
        q.insert("since".to_string(), s);
    }
    if let Some(u) = until {
        q.insert("until".to_string(), u);
    }
    let filter = query::Filter::from_query(&q).map_err(|e| anyhow::anyhow!(e))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let progress = std::io::stderr().is_terminal();
    let total = if progress {
        audit.count(&filter).await
    } else {
        None
    };
    if matches!(format, ExportFormat::Csv) {
        out.write_all(export::CSV_HEADER.as_bytes())?;
    }
    let mut n = 0u64;
    let mut rows = audit.stream(filter);
    while let Some(rec) = rows.try_next().await? {
        let line = match format {
            ExportFormat::Jsonl => export::jsonl_line(&rec),
            ExportFormat::Csv => export::csv_line(&rec),
        };
        out.write_all(line.as_bytes())?;
        n += 1;
        if progress && n % 10_000 == 0 {
            eprint!("\r{}", progress_line(n, total));
        }
    }
    out.flush()?;
    if progress {
        eprintln!("\r{}", progress_line(n, total.map(|t| t.max(n))));
    }
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `[#########-----------]  45%  450000/1000000 events` (or a plain count).
fn progress_line(done: u64, total: Option<u64>) -> String {
    match total.filter(|t| *t > 0) {
        Some(t) => {
            let width = 30u64;
            let filled = (done.min(t) * width / t) as usize;
            let bar = format!(
                "{}{}",
                "#".repeat(filled),
                "-".repeat(width as usize - filled)
            );
            format!("[{bar}] {:>3}%  {done}/{t} events", done.min(t) * 100 / t)
        }
        None => format!("exported {done} events"),
    }
}

fn init_tracing(json: bool) {
    saml_broker::logging::init(json);
}

fn load_config(path: &Path) -> anyhow::Result<Config> {
    Ok(Config::load(path, std::env::vars())?)
}

#[tokio::main]
async fn main() -> ExitCode {
    if saml_broker::lambda::in_lambda() {
        return lambda_main().await;
    }
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", report(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error for a person: the outermost context on the first line, then each
/// cause once. A cause whose text an earlier line already shows (an error that
/// embeds its source, like sqlx's) is not repeated.
fn report(e: &anyhow::Error) -> String {
    let mut lines: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || lines.iter().any(|l| l.contains(text)) {
            continue;
        }
        lines.push(text.to_string());
    }
    let mut out = format!("error: {}", lines.first().map_or("", String::as_str));
    for l in lines.iter().skip(1) {
        out.push_str("\n  caused by: ");
        out.push_str(l);
    }
    out
}

/// Under AWS Lambda: configuration from `BROKER_…` environment variables (or
/// the file named by `BROKER_CONFIG`), the same Router through lambda_http.
async fn lambda_main() -> ExitCode {
    let path = std::env::var("BROKER_CONFIG").unwrap_or_else(|_| "/var/task/broker.toml".into());
    let cfg = match load_config(Path::new(&path)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", report(&e));
            return ExitCode::FAILURE;
        }
    };
    init_tracing(true);
    let state = match saml_broker::startup::prepare(cfg, Arc::new(SystemClock)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %report_inline(&e), "cannot start");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = saml_broker::startup::record_start(&state).await {
        tracing::error!(error = %report_inline(&e), "cannot start");
        return ExitCode::FAILURE;
    }
    match saml_broker::lambda::run(state).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

/// `check-config`: what the broker would use, each fact once, with the store
/// and the AWS endpoint actually tried. Secrets (the session key, a password
/// in `storage.url`) are never printed. Exit 1 with one line per problem.
async fn check_config(path: &Path) -> anyhow::Result<ExitCode> {
    use saml_broker::config::AwsMode;
    let cfg = load_config(path)?;
    let idp = saml_broker::startup::load_metadata(&cfg).await?;
    let policy =
        saml_broker::policy::Policy::from_table(&cfg.policy, &cfg.base_dir).context("[policy]")?;
    let mut lines: Vec<(&str, String)> = vec![
        ("public URL", cfg.server.public_url.to_string()),
        ("web app", format!("{}/app/", cfg.public_base())),
        ("SP entity id", cfg.sp_entity_id()),
        ("ACS URL", cfg.acs_url()),
        ("IdP entity id", idp.entity_id.clone()),
        ("IdP SSO URL", idp.sso_redirect_url.clone()),
    ];
    let mut usable = 0;
    for c in &idp.certs {
        let why = saml_broker::saml::dsig::unusable_key(&c.der);
        usable += usize::from(why.is_none());
        lines.push((
            "IdP signing cert",
            format!(
                "{} (subject {}, expires {}){}",
                c.fingerprint,
                c.subject,
                c.not_after,
                why.map(|w| format!(": UNUSABLE, {w}")).unwrap_or_default()
            ),
        ));
    }
    let allowed = |b: bool, yes: &str| if b { yes.to_string() } else { "refused".into() };
    lines.push((
        "IdP-initiated",
        allowed(cfg.idp.allow_idp_initiated, "allowed"),
    ));
    lines.push((
        "clock skew",
        format!("{} s", cfg.idp.max_clock_skew.as_secs()),
    ));
    lines.push((
        "SHA-1",
        allowed(cfg.idp.allow_sha1, "ACCEPTED (idp.allow_sha1)"),
    ));
    lines.push((
        "AWS mode",
        format!("{} in {}", cfg.aws.mode.as_str(), cfg.aws.region),
    ));
    let mut problems: Vec<String> = Vec::new();
    if usable == 0 && !idp.certs.is_empty() {
        problems.push(
            "no IdP signing certificate can verify a signature (see the UNUSABLE lines above)"
                .into(),
        );
    }
    match check_aws_endpoint(&cfg).await {
        Ok(line) => lines.push(("AWS endpoint", line)),
        Err(p) => problems.push(p),
    }
    match check_store(&cfg).await {
        Ok(line) => lines.push(("storage", line)),
        Err(p) => problems.push(p),
    }
    lines.push(("admin groups", cfg.admin.groups.join(", ")));
    if policy.is_empty() {
        lines.push((
            "policy",
            "no rules: every role in the assertion is allowed; the person chooses when there are several".into(),
        ));
    } else {
        for line in policy.summary() {
            lines.push(("policy", line));
        }
    }
    if cfg.aws.mode == AwsMode::Cognito {
        if let Some(key) = policy.session_policy_key() {
            problems.push(format!("{key}: aws.mode = \"cognito\" cannot pass a session policy; use aws.mode = \"sts-saml\" or remove it"));
        }
    }
    problems.extend(policy.lint());
    if problems.is_empty() {
        println!("configuration {} is valid", path.display());
    } else {
        println!("configuration {}", path.display());
    }
    for (k, v) in &lines {
        println!("  {k:<17} {v}");
    }
    if problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        eprintln!("problem: {p}");
    }
    eprintln!(
        "error: {} problem(s); fix them and run check-config again",
        problems.len()
    );
    Ok(ExitCode::FAILURE)
}

/// The store answers (SQL: a query; DynamoDB: the tables). A SQLite file
/// that does not exist yet is not created here; its directory is checked.
async fn check_store(cfg: &Config) -> Result<String, String> {
    let shown = cfg.storage_url_redacted();
    if let StorageUrl::Sqlite {
        file: Some(file), ..
    } = &cfg.storage.url
    {
        if !file.exists() {
            let dir = file
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            return if dir.is_dir() {
                Ok(format!(
                    "{shown}: not created yet; serve creates it in {}",
                    dir.display()
                ))
            } else {
                Err(format!(
                    "storage.url {shown}: the directory {} does not exist",
                    dir.display()
                ))
            };
        }
    }
    let ping = async {
        let store = saml_broker::store::Store::open_with(&cfg.storage.url, &cfg.aws).await?;
        store.ping().await
    };
    match tokio::time::timeout(std::time::Duration::from_secs(15), ping).await {
        Ok(Ok(())) => Ok(format!("{shown}: reachable")),
        Ok(Err(e)) => Err(format!(
            "storage.url {shown}: cannot be reached: {}",
            report_inline(&anyhow::Error::new(e))
        )),
        Err(_) => Err(format!(
            "storage.url {shown}: cannot be reached: no answer in 15 s"
        )),
    }
}

/// The host the broker sends AWS calls to resolves in DNS.
async fn check_aws_endpoint(cfg: &Config) -> Result<String, String> {
    let url = cfg.aws_endpoint();
    let parsed = url::Url::parse(&url).map_err(|e| format!("aws endpoint {url}: {e}"))?;
    let host = parsed.host_str().unwrap_or_default().to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let bare = host.trim_matches(['[', ']']).to_string();
    let lookup = tokio::net::lookup_host((bare, port));
    let found = tokio::time::timeout(std::time::Duration::from_secs(10), lookup).await;
    match found {
        Ok(Ok(mut addrs)) => match addrs.next() {
            Some(a) => Ok(format!("{url} (resolves to {})", a.ip())),
            None => Err(format!("AWS endpoint {url}: {host} has no address")),
        },
        Ok(Err(e)) => Err(format!("AWS endpoint {url}: {host} does not resolve: {e}")),
        Err(_) => Err(format!(
            "AWS endpoint {url}: looking up {host} took more than 10 s"
        )),
    }
}

/// Bind `server.listen`, saying what to do when the port is taken.
async fn bind(listen: std::net::SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(anyhow::anyhow!(
            "cannot listen on {listen} (server.listen): another process is using that port. Stop it, or set server.listen (BROKER_SERVER__LISTEN) to a free address"
        )),
        Err(e) => Err(anyhow::Error::new(e)
            .context(format!("cannot listen on {listen} (server.listen)"))),
    }
}

/// [`report`] on one line, for a log line or a finding.
fn report_inline(e: &anyhow::Error) -> String {
    report(e)
        .trim_start_matches("error: ")
        .replace("\n  caused by: ", ": ")
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { config } => {
            let cfg = load_config(&config)?;
            init_tracing(cfg.server.log_format == LogFormat::Json);
            let public = cfg.public_base().to_string();
            // The port first: a busy port stops the start before the store is
            // opened or anything is written to it.
            let listener = bind(cfg.server.listen).await?;
            let state = saml_broker::startup::prepare(cfg, Arc::new(SystemClock)).await?;
            saml_broker::startup::record_start(&state).await?;
            let addr = listener.local_addr()?;
            let app = format!("{public}/app/");
            tracing::info!(listen = %addr, app = %app, "saml-broker listening on {addr}; web app {app}, account page {public}/");
            saml_broker::startup::run(listener, state).await?;
        }
        Command::CheckConfig { config } => return check_config(&config).await,
        Command::Metadata { config } => {
            let cfg = load_config(&config)?;
            print!(
                "{}",
                metadata::sp_metadata(&cfg.sp_entity_id(), &cfg.acs_url())
            );
        }
        Command::Migrate { config } => {
            let cfg = load_config(&config)?;
            let store = open_store(&cfg).await?;
            store.migrate().await.context("migrating the store")?;
            println!("store {} is up to date", cfg.storage_url_redacted());
        }
        Command::Audit { command } => return audit_command(command).await,
        #[cfg(feature = "dev-idp")]
        Command::DevIdp {
            listen,
            users,
            public_url,
            state_dir,
            sp_acs_url,
            sp_entity_id,
            metadata_out,
        } => {
            init_tracing(false);
            eprintln!("{WARNING}");
            let opts = DevIdpOptions {
                public_url: public_url.unwrap_or_else(|| format!("http://{listen}")),
                listen,
                users_file: users,
                state_dir,
                sp_acs_url,
                sp_entity_id,
                metadata_out,
            };
            let idp = DevIdp::new(&opts)?;
            if let Some(out) = &opts.metadata_out {
                std::fs::write(out, idp.metadata()?)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            let listener = tokio::net::TcpListener::bind(&opts.listen)
                .await
                .with_context(|| format!("binding {}", opts.listen))?;
            eprintln!(
                "dev-idp listening on http://{} ({} users)",
                listener.local_addr()?,
                idp.users.len()
            );
            axum::serve(listener, saml_broker::devidp::server::router(Arc::new(idp))).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::{progress_line, report};

    #[test]
    fn an_error_shows_its_context_once_then_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("database error: {0}")]
        struct Embeds(#[source] std::io::Error);
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "unable to open database file");
        let e = anyhow::Error::new(Embeds(io)).context("opening storage.url sqlite:///x/y.db");
        assert_eq!(
            report(&e),
            "error: opening storage.url sqlite:///x/y.db\n  caused by: database error: unable to open database file"
        );
        assert_eq!(report(&anyhow::anyhow!("plain")), "error: plain");
    }

    #[test]
    fn progress_shows_a_bar_when_the_total_is_known() {
        assert_eq!(
            progress_line(0, Some(10)),
            format!("[{}]   0%  0/10 events", "-".repeat(30))
        );
        assert_eq!(
            progress_line(5, Some(10)),
            format!("[{}{}]  50%  5/10 events", "#".repeat(15), "-".repeat(15))
        );
        assert_eq!(
            progress_line(10, Some(10)),
            format!("[{}] 100%  10/10 events", "#".repeat(30))
        );
        assert_eq!(progress_line(7, None), "exported 7 events");
    }
}
