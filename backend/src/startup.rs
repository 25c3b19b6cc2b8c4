//! Building the application from configuration, shared by `main`, the tests
//! and the Lambda entry.

use crate::clock::Clock;
use crate::config::{chrono_duration, AwsMode, Config, MetadataSource, SessionKey};
use crate::exchange::Exchange;
use crate::policy::Policy;
use crate::saml::{metadata, Verifier, VerifySettings};
use crate::store::Store;
use crate::web::cipher::SessionCipher;
use crate::web::Parts;
use crate::web::{build_router, AppState};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The IdP metadata the configuration names (`idp.metadata_file` or
/// `idp.metadata_url`); shared by `serve` and `check-config`.
pub async fn load_metadata(config: &Config) -> anyhow::Result<metadata::IdpMetadata> {
    let (file, url) = match &config.idp.metadata {
        MetadataSource::File(p) => (Some(p.as_path()), None),
        MetadataSource::Url(u) => (None, Some(u.as_str())),
    };
    metadata::load(file, url)
        .await
        .context("loading IdP metadata (idp.metadata_file / idp.metadata_url)")
}

/// Load IdP metadata, open and migrate the store, and build the state.
/// Nothing is audited yet: [`serve`] (or [`record_start`]) writes
/// `config.loaded` once the broker can serve.
pub async fn prepare(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    prepare_parts(config, clock, None, None).await
}

/// Like [`prepare`], with an exchange and/or a store of the caller's (tests).
pub async fn prepare_parts(
    config: Config,
    clock: Arc<dyn Clock>,
    exchange: Option<Arc<dyn Exchange>>,
    store: Option<Store>,
) -> anyhow::Result<AppState> {
    let policy = Policy::from_table(&config.policy, &config.base_dir).context("[policy]")?;
    for warning in policy.lint() {
        tracing::warn!(%warning, "policy");
    }
    if config.aws.mode == AwsMode::Cognito {
        if let Some(key) = policy.session_policy_key() {
            anyhow::bail!("{key}: aws.mode = \"cognito\" cannot pass a session policy (GetCredentialsForIdentity has no policy parameter); use aws.mode = \"sts-saml\" or remove it");
        }
    }
    let cipher = match &config.session.key {
        SessionKey::Inline(k) => SessionCipher::from_base64(k.expose()).context("session.key")?,
        SessionKey::SecretArn(arn) => {
            let key = secret_value(&config, arn)
                .await
                .context("session.key_secret_arn")?;
            SessionCipher::from_base64(key.expose())
                .context("session.key_secret_arn: the secret must hold a base64 32-byte key")?
        }
        SessionKey::File(path) => {
            SessionCipher::load_or_create(path).context("session.key_file")?
        }
    };
    let idp = load_metadata(&config).await?;
    let unusable: Vec<String> = idp
        .certs
        .iter()
        .filter_map(|c| {
            crate::saml::dsig::unusable_key(&c.der).map(|why| format!("{}: {why}", c.fingerprint))
        })
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
        tracing::warn!("idp.allow_sha1 = true: RSA-SHA1 signatures and SHA-1 digests are accepted");
    }
    let store = match store {
        Some(s) => s,
        None => Store::open_with(&config.storage.url, &config.aws)
            .await
            .with_context(|| format!("opening storage.url {}", config.storage_url_redacted()))?,
    };
    if store.migrates_on_start() {
        store.migrate().await.context("migrating the store")?;
    }
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

/// Record `config.loaded` ([`record_start`]), then [`run`] until ctrl-c /
/// SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<()> {
    record_start(&state).await?;
    run(listener, state).await
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
