//! The checks `serve` and `check-config` share: the policy and what it asks
//! of the exchange, the IdP metadata and its certificates, the store. `serve`
//! stops at the first problem; `check-config` ([`check`]) lists them all and
//! also tries what the broker will reach (the store, the AWS endpoint)
//! without creating anything.

use super::report_inline;
use crate::config::{AwsMode, Config, MetadataSource, StorageUrl};
use crate::policy::Policy;
use crate::saml::metadata::{self, IdpMetadata, SigningCert};
use crate::store::Store;
use anyhow::Context;
use std::path::Path;
use std::time::Duration;

/// The IdP metadata the configuration names (`idp.metadata_file` or
/// `idp.metadata_url`).
pub async fn load_metadata(config: &Config) -> anyhow::Result<IdpMetadata> {
    let (file, url) = match &config.idp.metadata {
        MetadataSource::File(p) => (Some(p.as_path()), None),
        MetadataSource::Url(u) => (None, Some(u.as_str())),
    };
    metadata::load(file, url)
        .await
        .context("loading IdP metadata (idp.metadata_file / idp.metadata_url)")
}

/// Each signing certificate, with why its key can never verify (`None`: usable).
pub fn certificate_checks(idp: &IdpMetadata) -> Vec<(&SigningCert, Option<String>)> {
    idp.certs
        .iter()
        .map(|c| (c, crate::saml::dsig::unusable_key(&c.der)))
        .collect()
}

/// The `[policy]` table as rules.
pub fn load_policy(config: &Config) -> anyhow::Result<Policy> {
    Policy::from_table(&config.policy, &config.base_dir).context("[policy]")
}

/// The policy key asking for a session policy that the configured exchange
/// cannot pass (Cognito's GetCredentialsForIdentity has no policy parameter).
pub fn cognito_session_policy(config: &Config, policy: &Policy) -> Option<String> {
    (config.aws.mode == AwsMode::Cognito)
        .then(|| policy.session_policy_key())
        .flatten()
}

/// Open `storage.url`, naming it (without its password) when that fails.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open_with(&config.storage.url, &config.aws)
        .await
        .with_context(|| format!("opening storage.url {}", config.storage_url_redacted()))
}

/// Create or upgrade the schema when this backend does that on start (SQL;
/// DynamoDB tables are created by `migrate` only).
pub async fn migrate_on_start(store: &Store) -> anyhow::Result<()> {
    if store.migrates_on_start() {
        store.migrate().await.context("migrating the store")?;
    }
    Ok(())
}

/// What `check-config` found: facts to print, and problems (none: valid).
pub struct CheckReport {
    pub lines: Vec<(&'static str, String)>,
    pub problems: Vec<String>,
}

/// `check-config`: what the broker would use, each fact once, with the store
/// and the AWS endpoint actually tried. Secrets (the session key, a password
/// in `storage.url`) are never put in the report. An error is a check that
/// could not run at all (the metadata, the policy).
pub async fn check(cfg: &Config) -> anyhow::Result<CheckReport> {
    let idp = load_metadata(cfg).await?;
    let policy = load_policy(cfg)?;
    let mut lines: Vec<(&str, String)> = vec![
        ("public URL", cfg.server.public_url.to_string()),
        ("web app", format!("{}/app/", cfg.public_base())),
        ("SP entity id", cfg.sp_entity_id()),
        ("ACS URL", cfg.acs_url()),
        ("IdP entity id", idp.entity_id.clone()),
        ("IdP SSO URL", idp.sso_redirect_url.clone()),
    ];
    let mut usable = 0;
    for (c, why) in certificate_checks(&idp) {
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
    match resolve_aws_endpoint(cfg).await {
        Ok(line) => lines.push(("AWS endpoint", line)),
        Err(p) => problems.push(p),
    }
    match ping_store(cfg).await {
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
    if let Some(key) = cognito_session_policy(cfg, &policy) {
        problems.push(format!("{key}: aws.mode = \"cognito\" cannot pass a session policy; use aws.mode = \"sts-saml\" or remove it"));
    }
    problems.extend(policy.lint());
    Ok(CheckReport { lines, problems })
}

/// The store answers (SQL: a query; DynamoDB: the tables). A SQLite file
/// that does not exist yet is not created here; its directory is checked.
async fn ping_store(cfg: &Config) -> Result<String, String> {
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
        let store = Store::open_with(&cfg.storage.url, &cfg.aws).await?;
        store.ping().await
    };
    match tokio::time::timeout(Duration::from_secs(15), ping).await {
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
async fn resolve_aws_endpoint(cfg: &Config) -> Result<String, String> {
    let url = cfg.aws_endpoint();
    let parsed = url::Url::parse(&url).map_err(|e| format!("aws endpoint {url}: {e}"))?;
    let host = parsed.host_str().unwrap_or_default().to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let bare = host.trim_matches(['[', ']']).to_string();
    let lookup = tokio::net::lookup_host((bare, port));
    let found = tokio::time::timeout(Duration::from_secs(10), lookup).await;
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
