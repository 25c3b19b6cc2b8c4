//! Typed configuration: a TOML file, then `BROKER_` environment overrides
//! (`__` separates nesting levels), validated once at start with errors that
//! name the offending key and say how to fix it.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use url::Url;

/// A value that must never be printed (keys, passwords, AWS secrets).
/// It serializes (for the encrypted session blob and `/api/credentials`) but
/// its `Debug` is redacted, so it cannot slip into a log line.
#[derive(Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}. Create it (see docs/configuration.md) or pass --config FILE")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub sp: SpConfig,
    #[serde(default)]
    pub idp: IdpConfig,
    #[serde(default)]
    pub aws: AwsConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub session: SessionConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub frontend: FrontendConfig,
    /// Role-selection rules; interpreted by the policy module.
    #[serde(default)]
    pub policy: toml::Table,
    /// The directory the configuration file lives in; relative paths resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// Take the client address from the last X-Forwarded-For hop (behind a proxy you run).
    #[serde(default, deserialize_with = "de_bool")]
    pub trust_forwarded_for: bool,
    /// Log format: "text" or "json".
    #[serde(default = "default_log_format")]
    pub log_format: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            public_url: default_public_url(),
            trust_forwarded_for: false,
            log_format: default_log_format(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpConfig {
    /// Defaults to `{public_url}/saml/metadata`.
    pub entity_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdpConfig {
    pub metadata_file: Option<PathBuf>,
    pub metadata_url: Option<String>,
    #[serde(default, deserialize_with = "de_bool")]
    pub allow_idp_initiated: bool,
    #[serde(default = "default_skew", deserialize_with = "de_u64")]
    pub max_clock_skew_seconds: u64,
    /// Accept RSA-SHA1 signatures and SHA-1 digests (logged at every start and use).
    #[serde(default, deserialize_with = "de_bool")]
    pub allow_sha1: bool,
    /// Allow an `http://` metadata URL on a loopback address (development only).
    #[serde(default, deserialize_with = "de_bool")]
    pub allow_insecure_metadata_url: bool,
}

impl Default for IdpConfig {
    fn default() -> Self {
        Self {
            metadata_file: None,
            metadata_url: None,
            allow_idp_initiated: false,
            max_clock_skew_seconds: default_skew(),
            allow_sha1: false,
            allow_insecure_metadata_url: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AwsMode {
    #[serde(rename = "cognito")]
    Cognito,
    #[serde(rename = "sts-saml")]
    StsSaml,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    #[serde(default = "default_region")]
    pub region: String,
    pub endpoint_url: Option<String>,
    #[serde(default = "default_mode")]
    pub mode: AwsMode,
    pub identity_pool_id: Option<String>,
    pub saml_provider_arn: Option<String>,
    #[serde(default = "default_aws_timeout", deserialize_with = "de_u64")]
    pub timeout_seconds: u64,
    #[serde(default = "default_aws_attempts", deserialize_with = "de_u64")]
    pub max_attempts: u64,
}

impl Default for AwsConfig {
    fn default() -> Self {
        Self {
            region: default_region(),
            endpoint_url: None,
            mode: default_mode(),
            identity_pool_id: None,
            saml_provider_arn: None,
            timeout_seconds: default_aws_timeout(),
            max_attempts: default_aws_attempts(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    #[serde(default = "default_storage_url")]
    pub url: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            url: default_storage_url(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    #[serde(default, deserialize_with = "de_list")]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// 32-byte AEAD key, base64. When absent, `key_file` is used (created on first start).
    pub key: Option<Secret>,
    /// Defaults to `session.key` next to the configuration file.
    pub key_file: Option<PathBuf>,
    /// A Secrets Manager secret whose value is the base64 key (Lambda, containers on AWS).
    pub key_secret_arn: Option<String>,
    #[serde(default = "default_idle", deserialize_with = "de_u64")]
    pub idle_timeout_seconds: u64,
    #[serde(default = "default_absolute", deserialize_with = "de_u64")]
    pub absolute_timeout_seconds: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            key: None,
            key_file: None,
            key_secret_arn: None,
            idle_timeout_seconds: default_idle(),
            absolute_timeout_seconds: default_absolute(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest accepted form body and decoded SAML XML, in bytes.
    #[serde(default = "default_max_body", deserialize_with = "de_u64")]
    pub max_saml_bytes: u64,
    /// Lifetime of a pending AuthnRequest (seconds).
    #[serde(default = "default_pending_ttl", deserialize_with = "de_u64")]
    pub pending_request_ttl_seconds: u64,
    /// Requests per minute per client address on `/saml/acs` and `/api/*`.
    #[serde(default = "default_rate", deserialize_with = "de_u64")]
    pub requests_per_minute: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_saml_bytes: default_max_body(),
            pending_request_ttl_seconds: default_pending_ttl(),
            requests_per_minute: default_rate(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Archive and remove events older than this many days (0 keeps everything).
    #[serde(default, deserialize_with = "de_u64")]
    pub retention_days: u64,
    /// Where archived events are written as JSONL (relative to the configuration file).
    #[serde(default = "default_archive_dir")]
    pub archive_dir: PathBuf,
    /// How often the running broker re-verifies the whole chain (seconds).
    #[serde(default = "default_verify_interval", deserialize_with = "de_u64")]
    pub verify_interval_seconds: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention_days: 0,
            archive_dir: default_archive_dir(),
            verify_interval_seconds: default_verify_interval(),
        }
    }
}

/// What the browser app is told (`/api/app-config`).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FrontendConfig {
    /// STS endpoint the browser calls GetCallerIdentity on. Default:
    /// `aws.endpoint_url` when set, else `https://sts.{region}.amazonaws.com`.
    pub sts_endpoint: Option<String>,
    /// API Gateway (execute-api) endpoints offered as buttons, like the
    /// original sample's PING.
    #[serde(default)]
    pub api_endpoints: Vec<ApiEndpoint>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiEndpoint {
    pub name: String,
    pub url: String,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_service")]
    pub service: String,
}

fn default_method() -> String {
    "GET".into()
}
fn default_service() -> String {
    "execute-api".into()
}

fn default_archive_dir() -> PathBuf {
    PathBuf::from("audit-archive")
}
fn default_verify_interval() -> u64 {
    3600
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_public_url() -> String {
    "http://127.0.0.1:8080".into()
}
fn default_log_format() -> String {
    "text".into()
}
fn default_skew() -> u64 {
    60
}
fn default_region() -> String {
    "us-east-1".into()
}
fn default_mode() -> AwsMode {
    AwsMode::Cognito
}
fn default_aws_timeout() -> u64 {
    10
}
fn default_aws_attempts() -> u64 {
    3
}
fn default_storage_url() -> String {
    "sqlite://broker.db".into()
}
fn default_idle() -> u64 {
    3600
}
fn default_absolute() -> u64 {
    12 * 3600
}
fn default_max_body() -> u64 {
    256 * 1024
}
fn default_pending_ttl() -> u64 {
    600
}
fn default_rate() -> u64 {
    300
}

/// Accepts a TOML integer or a string holding one (environment values are strings).
fn de_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        N(u64),
        S(String),
    }
    match N::deserialize(d)? {
        N::N(n) => Ok(n),
        N::S(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("expected a whole number, got {s:?}"))),
    }
}

fn de_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        B(bool),
        S(String),
    }
    match B::deserialize(d)? {
        B::B(b) => Ok(b),
        B::S(s) => match s.trim() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "expected true or false, got {other:?}"
            ))),
        },
    }
}

/// A list, or (from the environment) one comma-separated string.
fn de_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum L {
        L(Vec<String>),
        S(String),
    }
    Ok(match L::deserialize(d)? {
        L::L(v) => v,
        L::S(s) => s
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect(),
    })
}

impl Config {
    /// Load `path` (which may be absent when every key comes from the
    /// environment) and apply `BROKER_` overrides from `env`.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && has_broker_env() => String::new(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Self::from_toml_str(&text, path, env)
    }

    pub fn from_toml_str(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let parse_err = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        };
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| parse_err(e.to_string()))?;
        for (k, v) in env {
            // BROKER_CONFIG names the file (Lambda); it is not a key.
            let Some(rest) = k.strip_prefix("BROKER_").filter(|_| k != "BROKER_CONFIG") else {
                continue;
            };
            let keys: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            let value = if v.trim_start().starts_with('[') {
                format!("v = {v}")
                    .parse::<toml::Table>()
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .unwrap_or(toml::Value::String(v))
            } else {
                toml::Value::String(v)
            };
            insert_path(&mut table, &keys, value).map_err(|m| parse_err(format!("{k}: {m}")))?;
        }
        let mut cfg: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| parse_err(e.message().to_string()))?;
        cfg.base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.server.listen.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "server.listen",
                format!(
                    "{:?} is not an address like 127.0.0.1:8080",
                    self.server.listen
                ),
            )
        })?;
        let public = Url::parse(&self.server.public_url).map_err(|e| {
            invalid(
                "server.public_url",
                format!("{e}; use a full URL like https://broker.example.com"),
            )
        })?;
        if !matches!(public.scheme(), "http" | "https") || public.host_str().is_none() {
            return Err(invalid(
                "server.public_url",
                "must be an http or https URL with a host",
            ));
        }
        if public.query().is_some() || public.fragment().is_some() {
            return Err(invalid(
                "server.public_url",
                "must not carry a query or fragment",
            ));
        }
        if !matches!(self.server.log_format.as_str(), "text" | "json") {
            return Err(invalid("server.log_format", "must be \"text\" or \"json\""));
        }
        match (&self.idp.metadata_file, &self.idp.metadata_url) {
            (None, None) => {
                return Err(invalid(
                    "idp.metadata_file",
                    "set idp.metadata_file to the IdP's metadata XML, or idp.metadata_url to its https address (ADFS: https://adfs.example.com/FederationMetadata/2007-06/FederationMetadata.xml)",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(invalid("idp.metadata_url", "set either idp.metadata_file or idp.metadata_url, not both"))
            }
            (None, Some(u)) => {
                let url = Url::parse(u).map_err(|e| invalid("idp.metadata_url", e.to_string()))?;
                let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
                if url.scheme() != "https" && !(self.idp.allow_insecure_metadata_url && loopback) {
                    return Err(invalid("idp.metadata_url", "must be https (http is accepted only on a loopback address with idp.allow_insecure_metadata_url = true)"));
                }
            }
            (Some(_), None) => {}
        }
        if self.idp.max_clock_skew_seconds > 600 {
            return Err(invalid(
                "idp.max_clock_skew_seconds",
                "at most 600; fix the clocks instead (NTP)",
            ));
        }
        for (i, e) in self.frontend.api_endpoints.iter().enumerate() {
            let u = Url::parse(&e.url)
                .map_err(|err| invalid("frontend.api_endpoints", format!("[{i}] url: {err}")))?;
            if !matches!(u.scheme(), "https" | "http") {
                return Err(invalid(
                    "frontend.api_endpoints",
                    format!("[{i}] url must be https"),
                ));
            }
        }
        if let Some(e) = &self.aws.endpoint_url {
            Url::parse(e).map_err(|err| invalid("aws.endpoint_url", err.to_string()))?;
        }
        if self.aws.region.trim().is_empty() {
            return Err(invalid(
                "aws.region",
                "must name a region such as us-east-1",
            ));
        }
        if let Some(p) = &self.aws.saml_provider_arn {
            if !p.starts_with("arn:aws") || !p.contains(":saml-provider/") {
                return Err(invalid(
                    "aws.saml_provider_arn",
                    "must look like arn:aws:iam::123456789012:saml-provider/ADFS",
                ));
            }
        }
        if !(1..=10).contains(&self.aws.max_attempts) {
            return Err(invalid("aws.max_attempts", "between 1 and 10"));
        }
        let scheme = self.storage.url.split(':').next().unwrap_or_default();
        if !matches!(scheme, "sqlite" | "postgres" | "postgresql" | "dynamodb") {
            return Err(invalid(
                "storage.url",
                format!("scheme {scheme:?} is not supported; use sqlite://FILE, postgres://USER@HOST/DB or dynamodb://TABLE_PREFIX"),
            ));
        }
        if self.session.idle_timeout_seconds < 60
            || self.session.absolute_timeout_seconds < self.session.idle_timeout_seconds
        {
            return Err(invalid(
                "session.idle_timeout_seconds",
                "at least 60 and not above session.absolute_timeout_seconds",
            ));
        }
        if self.limits.requests_per_minute == 0 {
            return Err(invalid("limits.requests_per_minute", "at least 1"));
        }
        if self.limits.max_saml_bytes < 4096 || self.limits.max_saml_bytes > 4 * 1024 * 1024 {
            return Err(invalid("limits.max_saml_bytes", "between 4096 and 4194304"));
        }
        Ok(())
    }

    /// The SP entity id (explicit, or derived from the public URL).
    pub fn sp_entity_id(&self) -> String {
        self.sp
            .entity_id
            .clone()
            .unwrap_or_else(|| format!("{}/saml/metadata", self.public_base()))
    }

    /// The storage URL with a relative SQLite path resolved against the
    /// configuration file's directory.
    pub fn storage_url(&self) -> String {
        if let Some(path) = self.storage.url.strip_prefix("sqlite://") {
            let (file, query) = path
                .split_once('?')
                .map_or((path, None), |(f, q)| (f, Some(q)));
            if !file.starts_with('/') && !file.starts_with(':') {
                let full = self.base_dir.join(file);
                return match query {
                    Some(q) => format!("sqlite://{}?{q}", full.display()),
                    None => format!("sqlite://{}", full.display()),
                };
            }
        }
        self.storage.url.clone()
    }

    /// The STS endpoint the browser app uses.
    pub fn sts_endpoint(&self) -> String {
        self.frontend
            .sts_endpoint
            .clone()
            .or_else(|| self.aws.endpoint_url.clone())
            .unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", self.aws.region))
    }

    /// Origins the browser app may connect to (for the CSP's connect-src).
    pub fn connect_origins(&self) -> Vec<String> {
        let mut out: Vec<String> = std::iter::once(self.sts_endpoint())
            .chain(self.frontend.api_endpoints.iter().map(|e| e.url.clone()))
            .filter_map(|u| Url::parse(&u).ok())
            .map(|u| u.origin().ascii_serialization())
            .filter(|o| o != "null")
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub fn public_base(&self) -> &str {
        self.server.public_url.trim_end_matches('/')
    }

    pub fn acs_url(&self) -> String {
        format!("{}/saml/acs", self.public_base())
    }

    pub fn is_https(&self) -> bool {
        self.server.public_url.starts_with("https://")
    }

    /// Resolve a path from the configuration relative to the configuration file.
    pub fn resolve_path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

fn has_broker_env() -> bool {
    std::env::vars().any(|(k, _)| k.starts_with("BROKER_"))
}

fn insert_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    match keys {
        [] => Err("empty key".into()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => insert_path(t, rest, value),
                _ => Err(format!("`{first}` is not a table")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MIN: &str = r#"
[idp]
metadata_file = "idp.xml"
"#;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_toml_str(
            text,
            Path::new("/etc/broker/broker.toml"),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn defaults_fill_everything_else() {
        let c = load(MIN, &[]).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert_eq!(c.sp_entity_id(), "http://127.0.0.1:8080/saml/metadata");
        assert_eq!(c.acs_url(), "http://127.0.0.1:8080/saml/acs");
        assert!(!c.idp.allow_idp_initiated);
        assert_eq!(
            c.resolve_path(Path::new("idp.xml")),
            Path::new("/etc/broker/idp.xml")
        );
    }

    #[test]
    fn environment_overrides_nested_keys_with_types() {
        let c = load(
            MIN,
            &[
                ("BROKER_SERVER__LISTEN", "0.0.0.0:9000"),
                ("BROKER_IDP__ALLOW_IDP_INITIATED", "true"),
                ("BROKER_IDP__MAX_CLOCK_SKEW_SECONDS", "30"),
                ("BROKER_ADMIN__GROUPS", "A, B"),
                ("OTHER", "x"),
            ],
        )
        .unwrap();
        assert_eq!(c.server.listen, "0.0.0.0:9000");
        assert!(c.idp.allow_idp_initiated);
        assert_eq!(c.idp.max_clock_skew_seconds, 30);
        assert_eq!(c.admin.groups, vec!["A", "B"]);
    }

    #[test]
    fn errors_name_the_key() {
        let e = load("[idp]\n", &[]).unwrap_err().to_string();
        assert!(e.contains("idp.metadata_file"), "{e}");
        let e = load(MIN, &[("BROKER_SERVER__PUBLIC_URL", "not a url")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.public_url"), "{e}");
        let e = load(MIN, &[("BROKER_IDP__MAX_CLOCK_SKEW_SECONDS", "soon")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("whole number"), "{e}");
        let e = load("[server]\nlistn = \"x\"\n[idp]\nmetadata_file=\"a\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("listn"), "{e}");
        let e = load("[idp]\nmetadata_url = \"http://adfs.example.com/x\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("idp.metadata_url") && e.contains("https"), "{e}");
    }

    #[test]
    fn secrets_do_not_print() {
        let c = load(MIN, &[("BROKER_SESSION__KEY", "c2VjcmV0")]).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("c2VjcmV0"));
        assert!(dbg.contains("[redacted]"));
    }
}
