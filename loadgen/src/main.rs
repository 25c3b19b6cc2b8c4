//! Login-storm load generator for saml-broker (docs/performance.md, "Login
//! storm: load generator").
//!
//! - `loadgen setup`: an IdP key, its metadata and a broker configuration in
//!   a directory of their own;
//! - `loadgen run`: mints unique, validly signed IdP-initiated responses
//!   before the clock starts, then drives `POST /saml/acs` over keep-alive
//!   connections and reports throughput, latency, errors and the broker's RSS;
//! - `loadgen check`: the audit chain verifies and holds one
//!   `login.succeeded` per successful login of the runs.

mod check;
mod mint;
mod procfs;
mod run;
mod setup;
mod stats;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "loadgen", about = "Login-storm load generator for saml-broker")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write an IdP key, IdP metadata and a broker configuration into DIR.
    Setup(setup::SetupArgs),
    /// Mint signed responses, then drive POST /saml/acs and report.
    Run(run::RunArgs),
    /// Check the audit trail against the successful logins of the runs.
    Check(check::CheckArgs),
}

/// What `setup` leaves for `run` and `check` (DIR/loadgen.json).
pub const SETTINGS_FILE: &str = "loadgen.json";
/// What `run` leaves for `check` (DIR/last-run.json).
pub const LAST_RUN_FILE: &str = "last-run.json";
pub const CONFIG_FILE: &str = "broker.toml";
pub const KEY_FILE: &str = "idp-key.pem";
pub const CERT_FILE: &str = "idp-cert.pem";
pub const METADATA_FILE: &str = "idp.xml";

pub fn settings_path(dir: &std::path::Path) -> PathBuf {
    dir.join(SETTINGS_FILE)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup(a) => setup::setup(&a).map(|()| ExitCode::SUCCESS),
        Command::Run(a) => run::run(a).map(|()| ExitCode::SUCCESS),
        Command::Check(a) => check::check(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loadgen: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
