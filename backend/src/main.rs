//! The `saml-broker` command line. Thin: one small function per
//! subcommand; everything else lives in the library (`startup` builds and
//! checks the broker, `audit` reads the trail).

use anyhow::Context;
use clap::{Parser, Subcommand};
use saml_broker::config::{Config, LogFormat};
#[cfg(feature = "dev-idp")]
use saml_broker::devidp::server::{DevIdp, DevIdpOptions, WARNING};
use saml_broker::saml::metadata;
use saml_broker::startup::{preflight, report, report_inline, Builder};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
#[cfg(feature = "dev-idp")]
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

#[tokio::main]
async fn main() -> ExitCode {
    if saml_broker::lambda::in_lambda() {
        return lambda_main().await;
    }
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", report(&e));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { config } => serve(&config).await,
        Command::CheckConfig { config } => check_config(&config).await,
        Command::Metadata { config } => sp_metadata(&config),
        Command::Migrate { config } => migrate(&config).await,
        Command::Audit { command } => match command {
            AuditCommand::Verify { config } => audit_verify(&config).await,
            AuditCommand::Export {
                config,
                format,
                since,
                until,
            } => audit_export(&config, format, since, until).await,
            AuditCommand::Archive {
                config,
                older_than_days,
            } => audit_archive(&config, older_than_days).await,
        },
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
            dev_idp(DevIdpOptions {
                public_url: public_url.unwrap_or_else(|| format!("http://{listen}")),
                listen,
                users_file: users,
                state_dir,
                sp_acs_url,
                sp_entity_id,
                metadata_out,
            })
            .await
        }
    }
}

fn load_config(path: &Path) -> anyhow::Result<Config> {
    Ok(Config::load(path, std::env::vars())?)
}

/// `serve`: the web service until ctrl-c / SIGTERM.
async fn serve(path: &Path) -> anyhow::Result<ExitCode> {
    let cfg = load_config(path)?;
    saml_broker::logging::init(cfg.server.log_format == LogFormat::Json);
    saml_broker::startup::serve(cfg).await?;
    Ok(ExitCode::SUCCESS)
}

/// Under AWS Lambda: configuration from `BROKER_…` environment variables (or
/// the file named by `BROKER_CONFIG`), the same Router through lambda_http.
/// Logs are JSON.
async fn lambda_main() -> ExitCode {
    let path = std::env::var("BROKER_CONFIG").unwrap_or_else(|_| "/var/task/broker.toml".into());
    let cfg = match load_config(Path::new(&path)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", report(&e));
            return ExitCode::FAILURE;
        }
    };
    saml_broker::logging::init(true);
    let state = match Builder::new(cfg).start().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %report_inline(&e), "cannot start");
            return ExitCode::FAILURE;
        }
    };
    match saml_broker::lambda::run(state).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

/// `check-config`: print what would be used; exit 1 with one line per problem.
async fn check_config(path: &Path) -> anyhow::Result<ExitCode> {
    let cfg = load_config(path)?;
    let r = preflight::check(&cfg).await?;
    let valid = if r.problems.is_empty() {
        " is valid"
    } else {
        ""
    };
    println!("configuration {}{valid}", path.display());
    for (k, v) in &r.lines {
        println!("  {k:<17} {v}");
    }
    if r.problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for p in &r.problems {
        eprintln!("problem: {p}");
    }
    eprintln!(
        "error: {} problem(s); fix them and run check-config again",
        r.problems.len()
    );
    Ok(ExitCode::FAILURE)
}

/// `metadata`: the SP metadata XML.
fn sp_metadata(path: &Path) -> anyhow::Result<ExitCode> {
    let cfg = load_config(path)?;
    print!(
        "{}",
        metadata::sp_metadata(&cfg.sp_entity_id(), &cfg.acs_url())
    );
    Ok(ExitCode::SUCCESS)
}

/// `migrate`: create or upgrade the schema (DynamoDB: the tables).
async fn migrate(path: &Path) -> anyhow::Result<ExitCode> {
    let cfg = load_config(path)?;
    let store = preflight::open_store(&cfg).await?;
    store.migrate().await.context("migrating the store")?;
    println!("store {} is up to date", cfg.storage_url_redacted());
    Ok(ExitCode::SUCCESS)
}

async fn open_audit(config: &Path) -> anyhow::Result<(Config, saml_broker::audit::Audit)> {
    let cfg = load_config(config)?;
    let store = preflight::open_store(&cfg).await?;
    preflight::migrate_on_start(&store).await?;
    Ok((cfg, store.audit()))
}

/// `audit verify`: exit 0 when the chain is intact, 1 when it is broken, 2
/// when the check could not run.
async fn audit_verify(config: &Path) -> anyhow::Result<ExitCode> {
    let r = match open_audit(config).await {
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

/// `audit export`: events to stdout, oldest first.
async fn audit_export(
    config: &Path,
    format: ExportFormat,
    since: Option<String>,
    until: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (_, audit) = open_audit(config).await?;
    match export(&audit, format, since, until).await {
        // The reader went away (`audit export | head`): it has what it
        // wanted, so stop quietly, as cat and grep do.
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        r => r.map(|()| ExitCode::SUCCESS),
    }
}

/// `audit archive`: archive and remove events older than N days.
async fn audit_archive(config: &Path, older_than_days: u64) -> anyhow::Result<ExitCode> {
    let (cfg, audit) = open_audit(config).await?;
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::try_from(older_than_days)?);
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

/// `dev-idp`: the development IdP (demos only).
#[cfg(feature = "dev-idp")]
async fn dev_idp(opts: DevIdpOptions) -> anyhow::Result<ExitCode> {
    saml_broker::logging::init(false);
    eprintln!("{WARNING}");
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
    Ok(ExitCode::SUCCESS)
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

#[cfg(test)]
mod tests {
    use super::progress_line;

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
