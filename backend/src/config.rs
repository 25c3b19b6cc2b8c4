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

/// A configuration problem, naming where it comes from: the file (with the
/// line when there is one) or the environment variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The cause (not found, permission denied) is the error's source, printed
    /// once after this message.
    #[error("cannot read configuration file {path} (create it, see docs/configuration.md, or pass --config FILE)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {}{}: {message}", path.display(), line_suffix(*line))]
    Parse {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("environment variable {var} (configuration key `{key}`): {message}")]
    InvalidEnv {
        var: String,
        key: &'static str,
        message: String,
    },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|n| format!(", line {n}")).unwrap_or_default()
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

impl AwsMode {
    /// The one spelling of the mode: the value of `aws.mode`, also used in
    /// logs and audit details.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cognito => "cognito",
            Self::StsSaml => "sts-saml",
        }
    }
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
        let parse_err = |line: Option<usize>, message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            message,
        };
        let file: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            parse_err(
                e.span().map(|s| line_of(text, s.start)),
                e.message().to_string(),
            )
        })?;
        // Unknown keys first, named with their line and the closest known key.
        if let Some(key) = unknown_keys(&file).into_iter().next() {
            let path_str = key.join(".");
            return Err(parse_err(
                key_line(text, &key),
                format!(
                    "unknown key `{path_str}`{}",
                    suggest_key(&key)
                        .map(|s| format!("; did you mean `{}`?", s.join(".")))
                        .unwrap_or_default()
                ),
            ));
        }
        // Then the file alone, so that a wrong type is reported at its line.
        if let Err(e) = toml::from_str::<Config>(text) {
            let line = e.span().map(|s| line_of(text, s.start));
            let shown = line
                .and_then(|n| text.lines().nth(n - 1))
                .map(|l| format!(" (`{}`)", l.trim()))
                .unwrap_or_default();
            return Err(parse_err(line, format!("{}{shown}", e.message())));
        }
        // Then the environment, each variable named when it is at fault.
        let mut overrides = Vec::new();
        for (k, v) in env {
            // BROKER_CONFIG names the file (Lambda); it is not a key.
            let Some(rest) = k.strip_prefix("BROKER_").filter(|_| k != "BROKER_CONFIG") else {
                continue;
            };
            let keys: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            if !is_known_key(&keys) {
                let hint = suggest_key(&keys)
                    .map(|s| format!("; did you mean {}?", env_name(&s)))
                    .unwrap_or_default();
                return Err(ConfigError::Env {
                    var: k,
                    message: format!(
                        "there is no configuration key `{}`{hint} (levels are separated by two underscores, see docs/configuration.md)",
                        keys.join(".")
                    ),
                });
            }
            let value = if v.trim_start().starts_with('[') {
                format!("v = {v}")
                    .parse::<toml::Table>()
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .unwrap_or(toml::Value::String(v))
            } else {
                toml::Value::String(v)
            };
            overrides.push((k, keys, value));
        }
        let mut table = file.clone();
        for (k, keys, value) in &overrides {
            insert_path(&mut table, keys, value.clone()).map_err(|m| ConfigError::Env {
                var: k.clone(),
                message: m,
            })?;
        }
        let mut cfg: Config = match toml::Value::Table(table).try_into() {
            Ok(c) => c,
            Err(e) => {
                let e: toml::de::Error = e;
                // Find the variable that breaks the file on its own.
                let culprit = overrides.iter().find_map(|(k, keys, value)| {
                    let mut t = file.clone();
                    insert_path(&mut t, keys, value.clone()).ok()?;
                    toml::Value::Table(t)
                        .try_into::<Config>()
                        .err()
                        .map(|e| (k.clone(), e.message().to_string()))
                });
                return Err(match culprit {
                    Some((var, message)) => ConfigError::Env { var, message },
                    None => ConfigError::Env {
                        var: overrides
                            .iter()
                            .map(|(k, _, _)| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        message: e.message().to_string(),
                    },
                });
            }
        };
        cfg.base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.validate().map_err(|e| match e {
            ConfigError::Invalid { key, message } => {
                let var = env_name(&key.split('.').map(str::to_string).collect::<Vec<_>>());
                if overrides.iter().any(|(k, _, _)| *k == var) {
                    ConfigError::InvalidEnv { var, key, message }
                } else {
                    ConfigError::Invalid { key, message }
                }
            }
            other => other,
        })?;
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

    /// `storage.url` as it may be printed: a password in it is replaced by
    /// `***` (`postgres://broker:***@db/broker`).
    pub fn storage_url_redacted(&self) -> String {
        redact_url(&self.storage.url)
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

/// A URL with the password of its userinfo replaced by `***`, for logs,
/// errors and `check-config`. Text that is not a URL is returned as is
/// unless it looks like `scheme://user:password@host`, which is cut the same way.
pub fn redact_url(url: &str) -> String {
    if let Ok(mut u) = Url::parse(url) {
        if u.password().is_some() && u.set_password(Some("***")).is_ok() {
            return u.to_string();
        }
    }
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            _ => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map(|t| t.matches('\n').count() + 1)
        .unwrap_or(1)
}

/// The line on which `key` (a path such as `server.listn`) is written: under
/// its `[table]` header, as a dotted key, or the header itself. A heuristic
/// good for the files people write; `None` when it is not found.
fn key_line(text: &str, key: &[String]) -> Option<usize> {
    let split = |s: &str| -> Vec<String> {
        s.split('.')
            .map(|p| p.trim().trim_matches('"').trim_matches('\'').to_string())
            .collect()
    };
    let mut table: Vec<String> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            let inner = line.trim_start_matches('[').split(']').next().unwrap_or("");
            table = split(inner);
            if table.as_slice() == key {
                return Some(i + 1);
            }
            continue;
        }
        let Some((k, _)) = line.split_once('=') else {
            continue;
        };
        let mut full = table.clone();
        full.extend(split(k));
        if full.starts_with(key) {
            return Some(i + 1);
        }
    }
    None
}

/// The field names serde knows for `T` (its `deserialize_struct` call), so
/// the list of keys cannot drift from the structs.
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'a>(&'a std::cell::Cell<&'static [&'static str]>);
    #[derive(Debug)]
    struct Stop;
    impl fmt::Display for Stop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0.set(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let cell = std::cell::Cell::new(&[][..]);
    let _ = T::deserialize(Probe(&cell));
    cell.get()
}

/// The keys of section `name`; `None` for an unknown section. `policy` is
/// free-form (the policy module checks it) and has no list.
fn section_fields(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "server" => fields_of::<ServerConfig>(),
        "sp" => fields_of::<SpConfig>(),
        "idp" => fields_of::<IdpConfig>(),
        "aws" => fields_of::<AwsConfig>(),
        "storage" => fields_of::<StorageConfig>(),
        "admin" => fields_of::<AdminConfig>(),
        "session" => fields_of::<SessionConfig>(),
        "limits" => fields_of::<LimitsConfig>(),
        "audit" => fields_of::<AuditConfig>(),
        "frontend" => fields_of::<FrontendConfig>(),
        "policy" => &[],
        _ => return None,
    })
}

/// Whether `keys` (a section and a key) names a configuration key. Deeper
/// paths and anything under `[policy]` are left to deserialization.
fn is_known_key(keys: &[String]) -> bool {
    match keys {
        [] => false,
        [section, rest @ ..] => match (section_fields(section), rest) {
            (None, _) => false,
            (Some(_), []) => true,
            (Some(_), _) if section == "policy" => true,
            (Some(fields), [key, ..]) => fields.contains(&key.as_str()),
        },
    }
}

/// Unknown keys in a parsed file, as paths, in file order where TOML keeps it.
fn unknown_keys(table: &toml::Table) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (section, value) in table {
        let Some(fields) = section_fields(section) else {
            out.push(vec![section.clone()]);
            continue;
        };
        if section == "policy" {
            continue;
        }
        if let toml::Value::Table(t) = value {
            for (k, v) in t {
                if !fields.contains(&k.as_str()) {
                    out.push(vec![section.clone(), k.clone()]);
                } else if section == "frontend" && k == "api_endpoints" {
                    let item = fields_of::<ApiEndpoint>();
                    for e in v.as_array().into_iter().flatten() {
                        for ek in e.as_table().into_iter().flat_map(|t| t.keys()) {
                            if !item.contains(&ek.as_str()) {
                                out.push(vec![section.clone(), k.clone(), ek.clone()]);
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// Edit distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

const SECTIONS: &[&str] = &[
    "server", "sp", "idp", "aws", "storage", "admin", "session", "limits", "audit", "frontend",
    "policy",
];

/// The known key closest to an unknown one (`server.listn` → `server.listen`,
/// `servr.listen` → `server.listen`, `listen` → `server.listen`,
/// `server_listen` → `server.listen`).
fn suggest_key(keys: &[String]) -> Option<Vec<String>> {
    let (first, rest) = keys.split_first()?;
    if let Some(fields) = section_fields(first) {
        let [key, ..] = rest else { return None };
        let known = closest(key, fields.iter().copied())?;
        return Some(vec![first.clone(), known.to_string()]);
    }
    let all = SECTIONS.iter().flat_map(|s| {
        section_fields(s)
            .unwrap_or(&[])
            .iter()
            .map(move |f| (*s, *f))
    });
    if rest.is_empty() {
        // A key without its section (`BROKER_LISTEN`), or one underscore
        // where two belong (`BROKER_SERVER_LISTEN`).
        let flat: Vec<(String, &str, &str)> = all
            .flat_map(|(s, f)| [(f.to_string(), s, f), (format!("{s}_{f}"), s, f)])
            .collect();
        if let Some(hit) = closest(first, flat.iter().map(|(n, _, _)| n.as_str())) {
            let (_, s, f) = flat.iter().find(|(n, _, _)| n == hit)?;
            return Some(vec![s.to_string(), f.to_string()]);
        }
        return closest(first, SECTIONS.iter().copied()).map(|s| vec![s.to_string()]);
    }
    let section = closest(first, SECTIONS.iter().copied())?;
    let mut out = vec![section.to_string()];
    if let (Some(fields), Some(key)) = (section_fields(section), rest.first()) {
        out.push(
            closest(key, fields.iter().copied())
                .map(str::to_string)
                .unwrap_or_else(|| key.clone()),
        );
    }
    Some(out)
}

/// `server.listen` → `BROKER_SERVER__LISTEN`.
fn env_name(keys: &[String]) -> String {
    format!(
        "BROKER_{}",
        keys.iter()
            .map(|k| k.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("__")
    )
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

    #[test]
    fn the_mode_has_one_spelling_in_config_logs_and_audit() {
        for m in [AwsMode::Cognito, AwsMode::StsSaml] {
            let parsed: AwsMode = toml::Value::String(m.as_str().to_string())
                .try_into()
                .unwrap();
            assert_eq!(parsed, m);
        }
    }

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
    fn a_typo_in_an_environment_variable_names_the_variable_and_the_fix() {
        let e = load(MIN, &[("BROKER_SERVER__LISTN", "0.0.0.0:1")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("environment variable BROKER_SERVER__LISTN"),
            "{e}"
        );
        assert!(e.contains("did you mean BROKER_SERVER__LISTEN?"), "{e}");
        assert!(!e.contains("configuration file"), "{e}");
        // A section typo, a missing section, one underscore instead of two.
        for (var, want) in [
            ("BROKER_SERVR__LISTEN", "BROKER_SERVER__LISTEN"),
            ("BROKER_LISTEN", "BROKER_SERVER__LISTEN"),
            ("BROKER_SERVER_LISTEN", "BROKER_SERVER__LISTEN"),
            ("BROKER_STORAGE__URI", "BROKER_STORAGE__URL"),
        ] {
            let e = load(MIN, &[(var, "x")]).unwrap_err().to_string();
            assert!(e.contains(&format!("did you mean {want}?")), "{var}: {e}");
        }
        // A bad value from the environment names the variable too.
        let e = load(MIN, &[("BROKER_IDP__MAX_CLOCK_SKEW_SECONDS", "soon")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("environment variable BROKER_IDP__MAX_CLOCK_SKEW_SECONDS"),
            "{e}"
        );
        let e = load(MIN, &[("BROKER_SERVER__PUBLIC_URL", "not a url")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("environment variable BROKER_SERVER__PUBLIC_URL (configuration key `server.public_url`)"),
            "{e}"
        );
    }

    #[test]
    fn a_typo_in_the_file_names_its_line_and_the_fix() {
        let text = "# broker\n[server]\npublic_url = \"http://x\"\nlistn = \"x\"\n[idp]\nmetadata_file = \"a\"\n";
        let e = load(text, &[]).unwrap_err().to_string();
        assert_eq!(
            e,
            "configuration file /etc/broker/broker.toml, line 4: unknown key `server.listn`; did you mean `server.listen`?"
        );
        let e = load("[servr]\nlisten = \"x\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 1: unknown key `servr`; did you mean `server`?"),
            "{e}"
        );
        let e = load(
            "[idp]\nmetadata_file = \"a\"\n\n[[frontend.api_endpoints]]\nname = \"P\"\nurll = \"https://x\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 6: unknown key `frontend.api_endpoints.urll`"),
            "{e}"
        );
        // A wrong type is reported at its line, with the line.
        let e = load(
            "[idp]\nmetadata_file = \"a\"\nmax_clock_skew_seconds = \"soon\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 3:") && e.contains("whole number"), "{e}");
        assert!(e.contains("`max_clock_skew_seconds = \"soon\"`"), "{e}");
        // A TOML syntax error too.
        let e = load("[idp\n", &[]).unwrap_err().to_string();
        assert!(e.contains("line 1:"), "{e}");
    }

    #[test]
    fn every_section_has_its_list_of_keys() {
        let top = fields_of::<Config>();
        assert_eq!(top, SECTIONS, "SECTIONS lists Config's fields in order");
        for s in SECTIONS.iter().filter(|s| **s != "policy") {
            assert!(!section_fields(s).unwrap().is_empty(), "{s}");
        }
        assert!(fields_of::<ServerConfig>().contains(&"trust_forwarded_for"));
        assert!(is_known_key(&["policy".into(), "rules".into(), "x".into()]));
    }

    #[test]
    fn storage_urls_print_without_their_password() {
        assert_eq!(
            redact_url("postgres://broker:s3cr%40t@db.example.com:5432/broker?sslmode=require"),
            "postgres://broker:***@db.example.com:5432/broker?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://broker@db/broker"),
            "postgres://broker@db/broker"
        );
        assert_eq!(redact_url("sqlite://broker.db"), "sqlite://broker.db");
        assert_eq!(redact_url("x://u:p@w@h/d"), "x://u:***@h/d");
        let c = load(MIN, &[("BROKER_STORAGE__URL", "postgres://u:hunter2@h/d")]).unwrap();
        assert!(!c.storage_url_redacted().contains("hunter2"));
    }

    #[test]
    fn secrets_do_not_print() {
        let c = load(MIN, &[("BROKER_SESSION__KEY", "c2VjcmV0")]).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("c2VjcmV0"));
        assert!(dbg.contains("[redacted]"));
    }
}
