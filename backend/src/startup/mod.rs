//! Building the application from configuration, shared by `serve`, the
//! Lambda entry and the tests ([`Builder`]), and the checks `serve` and
//! `check-config` share ([`preflight`]).

use crate::clock::{Clock, SystemClock};
use crate::config::{chrono_duration, Config, SessionKey};
use crate::exchange::Exchange;
use crate::saml::{Verifier, VerifySettings};
use crate::store::Store;
use crate::web::cipher::SessionCipher;
use crate::web::Parts;
use crate::web::{build_router, AppState};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub mod preflight;
mod report;

pub use report::{report, report_inline};

/// Builds the application state from a configuration: the one way `serve`,
/// the Lambda entry and the tests get an [`AppState`]. A test may hand in
/// its own clock, exchange or store.
pub struct Builder {
    config: Config,
    clock: Arc<dyn Clock>,
    exchange: Option<Arc<dyn Exchange>>,
    store: Option<Store>,
}

impl Builder {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            clock: Arc::new(SystemClock),
            exchange: None,
            store: None,
        }
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Use this exchange instead of the one `[aws]` configures.
    pub fn exchange(mut self, exchange: Arc<dyn Exchange>) -> Self {
        self.exchange = Some(exchange);
        self
    }

    /// Use this store instead of opening `storage.url`.
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Check the policy, read the session key, load the IdP metadata, open
    /// and migrate the store, and build the state. Nothing is audited yet:
    /// [`Builder::start`] (or [`record_start`]) writes `config.loaded` once
    /// the broker can serve.
    pub async fn build(self) -> anyhow::Result<AppState> {
        let Self {
            config,
            clock,
            exchange,
            store,
        } = self;
        let policy = preflight::load_policy(&config)?;
        for warning in policy.lint() {
            tracing::warn!(%warning, "policy");
        }
        if let Some(key) = preflight::cognito_session_policy(&config, &policy) {
            anyhow::bail!("{key}: aws.mode = \"cognito\" cannot pass a session policy (GetCredentialsForIdentity has no policy parameter); use aws.mode = \"sts-saml\" or remove it");
        }
        let cipher = session_cipher(&config).await?;
        let idp = preflight::load_metadata(&config).await?;
        let unusable: Vec<String> = preflight::certificate_checks(&idp)
            .into_iter()
            .filter_map(|(c, why)| why.map(|why| format!("{}: {why}", c.fingerprint)))
            .collect();
        for problem in &unusable {
            tracing::warn!(%problem, "IdP signing certificate cannot verify signatures");
        }
        if !idp.certs.is_empty() && unusable.len() == idp.certs.len() {
            anyhow::bail!(
                "no IdP signing certificate can verify a signature: {}",
                unusable.join("; ")
            );
        }
        if config.idp.allow_sha1 {
            tracing::warn!(
                "idp.allow_sha1 = true: RSA-SHA1 signatures and SHA-1 digests are accepted"
            );
        }
        let store = match store {
            Some(s) => s,
            None => preflight::open_store(&config).await?,
        };
        preflight::migrate_on_start(&store).await?;
        let settings = VerifySettings {
            sp_entity_id: config.sp_entity_id(),
            acs_url: config.acs_url(),
            max_clock_skew: chrono_duration(config.idp.max_clock_skew),
            allow_sha1: config.idp.allow_sha1,
            allow_idp_initiated: config.idp.allow_idp_initiated,
            max_bytes: config.limits.max_saml_bytes,
        };
        tracing::info!(
            idp = %idp.entity_id,
            certificates = ?idp.fingerprints(),
            sp = %settings.sp_entity_id,
            acs = %settings.acs_url,
            mode = ?config.aws.mode,
            "configuration in force"
        );
        let verifier = Verifier::new(settings, idp);
        let exchange = match exchange {
            Some(e) => e,
            None => crate::exchange::from_config(&config.aws).await,
        };
        Ok(AppState::new(Parts {
            config,
            verifier,
            policy,
            exchange,
            cipher,
            store,
            clock,
        }))
    }

    /// [`Builder::build`], then [`record_start`]: a state that may serve.
    pub async fn start(self) -> anyhow::Result<AppState> {
        let state = self.build().await?;
        record_start(&state).await?;
        Ok(state)
    }
}

/// The session cipher from `session.key`, `session.key_secret_arn` or
/// `session.key_file` (created on first start).
async fn session_cipher(config: &Config) -> anyhow::Result<SessionCipher> {
    match &config.session.key {
        SessionKey::Inline(k) => SessionCipher::from_base64(k.expose()).context("session.key"),
        SessionKey::SecretArn(arn) => {
            let key = secret_value(config, arn)
                .await
                .context("session.key_secret_arn")?;
            SessionCipher::from_base64(key.expose())
                .context("session.key_secret_arn: the secret must hold a base64 32-byte key")
        }
        SessionKey::File(path) => SessionCipher::load_or_create(path).context("session.key_file"),
    }
}

/// `saml-broker serve`: bind `server.listen` first (a busy port stops the
/// start before the store is opened or anything is written to it), build,
/// record `config.loaded`, say where the web app is, then [`run`].
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = bind(config.server.listen).await?;
    let public = config.public_base().to_string();
    let state = Builder::new(config).start().await?;
    let addr = listener.local_addr()?;
    let app = format!("{public}/app/");
    tracing::info!(listen = %addr, app = %app, "saml-broker listening on {addr}; web app {app}, account page {public}/");
    run(listener, state).await
}

/// Bind `server.listen`, saying what to do when the port is taken.
pub async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(anyhow::anyhow!(
            "cannot listen on {listen} (server.listen): another process is using that port. Stop it, or set server.listen (BROKER_SERVER__LISTEN) to a free address"
        )),
        Err(e) => Err(anyhow::Error::new(e)
            .context(format!("cannot listen on {listen} (server.listen)"))),
    }
}

/// Write the `config.loaded` event: the configuration this instance serves
/// with. Called once the broker can serve (the listener is bound, or the
/// Lambda runtime is next), so a start that fails leaves no event behind;
/// and before the first request, so that a broker whose audit trail cannot
/// be written does not serve at all.
pub async fn record_start(state: &AppState) -> anyhow::Result<()> {
    let idp = state.verifier.idp();
    let settings = state.verifier.settings();
    let event = crate::audit::AuditEvent::new(
        crate::audit::names::CONFIG_LOADED,
        crate::audit::Outcome::Success,
        state.clock.now(),
    )
    .detail("idp", idp.entity_id.clone())
    .detail("idp_certificates", idp.fingerprints())
    .detail("sp_entity_id", settings.sp_entity_id.clone())
    .detail("acs_url", settings.acs_url.clone())
    .detail("mode", state.config.aws.mode.as_str())
    .detail("allow_idp_initiated", settings.allow_idp_initiated)
    .detail("allow_sha1", settings.allow_sha1)
    .detail("policy_rules", state.policy.summary())
    .detail("version", env!("CARGO_PKG_VERSION"));
    state
        .audit
        .record(event)
        .await
        .context("writing the config.loaded audit event (the audit trail must be writable)")?;
    Ok(())
}

/// Read a Secrets Manager secret with the default AWS credentials (the
/// Lambda function's role, or the instance's).
async fn secret_value(config: &Config, arn: &str) -> anyhow::Result<crate::config::Secret> {
    let sdk = crate::awssdk::sdk_config_with_credentials(&config.aws).await;
    let out = aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "GetSecretValue {arn}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?;
    out.secret_string
        .map(crate::config::Secret::new)
        .ok_or_else(|| anyhow::anyhow!("secret {arn} has no SecretString"))
}

/// Serve until ctrl-c / SIGTERM, without recording the start (the caller
/// did, with [`record_start`]). Sweeps expired store rows every minute,
/// re-verifies the audit chain and applies audit retention in the background.
pub async fn run(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<()> {
    spawn_audit_tasks(&state);
    let store = state.store.clone();
    let clock = state.clock.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = store.sweep(clock.now()).await {
                tracing::warn!(error = %e, "sweeping expired store rows failed");
            }
        }
    });
    let app = build_router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await?;
    Ok(())
}

fn spawn_audit_tasks(state: &AppState) {
    let audit = state.audit.clone();
    let cfg = state.config.audit.clone();
    let clock = state.clock.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(cfg.verify_interval);
        loop {
            tick.tick().await;
            // A retention beyond the calendar's start keeps everything.
            let cutoff = cfg
                .retention
                .and_then(|r| clock.now().checked_sub_signed(chrono_duration(r)));
            if let Some(cutoff) = cutoff {
                match crate::audit::retention::archive_older_than(&audit, cutoff, &cfg.archive_dir)
                    .await
                {
                    Ok(Some(r)) => {
                        tracing::info!(archived = r.archived, file = %r.file.display(), "audit retention archived events")
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "audit retention failed"),
                }
            }
            match audit.verify().await {
                Ok(r) if r.broken.is_none() => {
                    tracing::info!(events = r.events, "audit chain verified")
                }
                Ok(r) => tracing::error!(broken = ?r.broken, "AUDIT CHAIN BROKEN"),
                Err(e) => tracing::error!(error = %e, "audit chain verification failed to run"),
            }
        }
    });
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
