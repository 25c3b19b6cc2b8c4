//! Typed configuration: a TOML file, then `BROKER_` environment overrides
//! (`__` separates nesting levels), validated once at start with errors that
//! name the offending key and say how to fix it.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

mod raw;

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

/// Every default, in one place: what a key means when it is not set
/// (docs/configuration.md lists the same values).
pub mod defaults {
    use super::AwsMode;

    pub const LISTEN: &str = "127.0.0.1:8080";
    pub const PUBLIC_URL: &str = "http://127.0.0.1:8080";
    pub const LOG_FORMAT: &str = "text";
    pub const MAX_CLOCK_SKEW_SECONDS: u64 = 60;
    pub const REGION: &str = "us-east-1";
    pub const AWS_MODE: AwsMode = AwsMode::Cognito;
    pub const AWS_TIMEOUT_SECONDS: u64 = 10;
    pub const AWS_MAX_ATTEMPTS: u64 = 3;
    pub const STORAGE_URL: &str = "sqlite://broker.db";
    pub const KEY_FILE: &str = "session.key";
    pub const IDLE_TIMEOUT_SECONDS: u64 = 3600;
    pub const ABSOLUTE_TIMEOUT_SECONDS: u64 = 12 * 3600;
    pub const MAX_SAML_BYTES: u64 = 256 * 1024;
    pub const PENDING_REQUEST_TTL_SECONDS: u64 = 600;
    pub const REQUESTS_PER_MINUTE: u64 = 300;
    pub const ARCHIVE_DIR: &str = "audit-archive";
    pub const VERIFY_INTERVAL_SECONDS: u64 = 3600;
    pub const API_METHOD: &str = "GET";
    pub const API_SERVICE: &str = "execute-api";
}

/// A configuration duration as the `chrono` type the request handlers
/// compute with. Saturates: a configured duration beyond chrono's range
/// (hundreds of millions of years) means "forever" anyway.
pub fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A URL from the configuration: parsed once at load, and kept as written,
/// because it is handed on as written (to the AWS SDK, to the browser app)
/// where [`Url`]'s normal form (a trailing `/`) would change it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigUrl {
    text: String,
    url: Url,
}

impl ConfigUrl {
    pub fn parse(text: &str) -> Result<Self, url::ParseError> {
        Ok(Self {
            url: Url::parse(text)?,
            text: text.to_string(),
        })
    }
    /// The URL as written in the configuration.
    pub fn as_str(&self) -> &str {
        &self.text
    }
    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

impl std::str::FromStr for ConfigUrl {
    type Err = url::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for ConfigUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for ConfigUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl serde::Serialize for ConfigUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// An IAM SAML provider ARN (`arn:aws:iam::123456789012:saml-provider/ADFS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderArn(String);

impl ProviderArn {
    pub fn parse(s: &str) -> Option<Self> {
        (s.starts_with("arn:aws") && s.contains(":saml-provider/")).then(|| Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `server.log_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the IdP metadata comes from: `idp.metadata_file` (resolved against
/// the configuration's directory) or `idp.metadata_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataSource {
    File(PathBuf),
    Url(ConfigUrl),
}

/// The session key, in the order the keys are tried: `session.key`, else
/// `session.key_secret_arn`, else `session.key_file` (resolved; created on
/// first start).
#[derive(Debug, Clone)]
pub enum SessionKey {
    Inline(Secret),
    SecretArn(String),
    File(PathBuf),
}

/// `storage.url`, by backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// `sqlite:…`; a relative `sqlite://FILE` is resolved against the
    /// configuration's directory. `file` is the file of a `sqlite://` URL.
    Sqlite { url: String, file: Option<PathBuf> },
    /// `postgres://…` or `postgresql://…`.
    Postgres { url: String },
    /// `dynamodb://PREFIX`; the prefix is checked when the store opens.
    Dynamo { url: String },
}

impl StorageUrl {
    /// `None` when the scheme is not one of ours.
    pub fn parse(text: &str, base_dir: &Path) -> Option<Self> {
        Some(match text.split(':').next().unwrap_or_default() {
            "sqlite" => {
                let Some(path) = text.strip_prefix("sqlite://") else {
                    return Some(Self::Sqlite {
                        url: text.to_string(),
                        file: None,
                    });
                };
                let (file, query) = path
                    .split_once('?')
                    .map_or((path, None), |(f, q)| (f, Some(q)));
                if file.starts_with('/') || file.starts_with(':') {
                    return Some(Self::Sqlite {
                        url: text.to_string(),
                        file: Some(PathBuf::from(file)),
                    });
                }
                let full = base_dir.join(file);
                Self::Sqlite {
                    url: match query {
                        Some(q) => format!("sqlite://{}?{q}", full.display()),
                        None => format!("sqlite://{}", full.display()),
                    },
                    file: Some(full),
                }
            }
            "postgres" | "postgresql" => Self::Postgres {
                url: text.to_string(),
            },
            "dynamodb" => Self::Dynamo {
                url: text.to_string(),
            },
            _ => return None,
        })
    }

    /// The URL the store opens (a relative SQLite path resolved).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url } | Self::Dynamo { url } => url,
        }
    }
}

/// The validated configuration. Built once by [`Config::load`] /
/// [`Config::from_toml_str`]; every value has its type and its default, so
/// no caller parses or defaults anything again.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub sp: SpConfig,
    pub idp: IdpConfig,
    pub aws: AwsConfig,
    pub storage: StorageConfig,
    pub admin: AdminConfig,
    pub session: SessionConfig,
    pub limits: LimitsConfig,
    pub audit: AuditConfig,
    pub frontend: FrontendConfig,
    /// Role-selection rules; interpreted by the policy module.
    pub policy: toml::Table,
    /// The directory the configuration file lives in; relative paths resolve against it.
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: ConfigUrl,
    /// Take the client address from the last X-Forwarded-For hop (behind a proxy you run).
    pub trust_forwarded_for: bool,
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Default)]
pub struct SpConfig {
    /// Defaults to `{public_url}/saml/metadata`.
    pub entity_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct IdpConfig {
    pub metadata: MetadataSource,
    pub allow_idp_initiated: bool,
    /// Allowed skew for NotBefore, NotOnOrAfter and IssueInstant (at most 600 s).
    pub max_clock_skew: Duration,
    /// Accept RSA-SHA1 signatures and SHA-1 digests (logged at every start and use).
    pub allow_sha1: bool,
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

#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub region: String,
    pub endpoint_url: Option<ConfigUrl>,
    pub mode: AwsMode,
    pub identity_pool_id: Option<String>,
    pub saml_provider_arn: Option<ProviderArn>,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Bounded retries, 1..=10.
    pub max_attempts: u32,
}

impl Default for AwsConfig {
    fn default() -> Self {
        Self {
            region: defaults::REGION.into(),
            endpoint_url: None,
            mode: defaults::AWS_MODE,
            identity_pool_id: None,
            saml_provider_arn: None,
            timeout: Duration::from_secs(defaults::AWS_TIMEOUT_SECONDS),
            max_attempts: 3,
        }
    }
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub url: StorageUrl,
    /// `storage.url` as written (shown, without its password, in messages).
    written: String,
}

impl StorageConfig {
    /// `storage.url` as it may be printed: a password in it is replaced by
    /// `***` (`postgres://broker:***@db/broker`).
    pub fn redacted(&self) -> String {
        redact_url(&self.written)
    }
}

#[derive(Debug, Clone, Default)]
pub struct AdminConfig {
    pub groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub key: SessionKey,
    /// A session ends after this long without a request (at least 60 s).
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, whatever the activity.
    pub absolute_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Largest decoded SAMLResponse accepted, in bytes (4096..=4194304).
    pub max_saml_bytes: usize,
    /// Lifetime of a pending AuthnRequest.
    pub pending_request_ttl: Duration,
    /// Requests per minute per client address on `/saml/acs`, `/api/*` and `/admin/*`.
    pub requests_per_minute: u64,
}

#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Archive and remove events older than this (`None`: keep everything).
    pub retention: Option<Duration>,
    /// Where archived events are written as JSONL (resolved).
    pub archive_dir: PathBuf,
    /// How often the running broker re-verifies the whole chain (at least a minute).
    pub verify_interval: Duration,
}

/// What the browser app is told (`/api/app-config`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FrontendConfig {
    /// STS endpoint the browser calls GetCallerIdentity on, as written (see
    /// [`Config::sts_endpoint`] for the default).
    pub sts_endpoint: Option<String>,
    /// API Gateway (execute-api) endpoints offered as buttons, like the
    /// original sample's PING.
    pub api_endpoints: Vec<ApiEndpoint>,
}

#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct ApiEndpoint {
    pub name: String,
    pub url: ConfigUrl,
    pub region: String,
    pub method: String,
    pub service: String,
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
        if let Err(e) = toml::from_str::<raw::Config>(text) {
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
        let cfg: raw::Config = match toml::Value::Table(table).try_into() {
            Ok(c) => c,
            Err(e) => {
                let e: toml::de::Error = e;
                // Find the variable that breaks the file on its own.
                let culprit = overrides.iter().find_map(|(k, keys, value)| {
                    let mut t = file.clone();
                    insert_path(&mut t, keys, value.clone()).ok()?;
                    toml::Value::Table(t)
                        .try_into::<raw::Config>()
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
        let base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.build(base_dir).map_err(|e| match e {
            ConfigError::Invalid { key, message } => {
                let var = env_name(&key.split('.').map(str::to_string).collect::<Vec<_>>());
                if overrides.iter().any(|(k, _, _)| *k == var) {
                    ConfigError::InvalidEnv { var, key, message }
                } else {
                    ConfigError::Invalid { key, message }
                }
            }
            other => other,
        })
    }

    /// The SP entity id (explicit, or derived from the public URL).
    pub fn sp_entity_id(&self) -> String {
        self.sp
            .entity_id
            .clone()
            .unwrap_or_else(|| format!("{}/saml/metadata", self.public_base()))
    }

    /// `storage.url` as it may be printed: a password in it is replaced by
    /// `***` (`postgres://broker:***@db/broker`).
    pub fn storage_url_redacted(&self) -> String {
        self.storage.redacted()
    }

    /// The STS endpoint the browser app uses.
    pub fn sts_endpoint(&self) -> String {
        self.frontend
            .sts_endpoint
            .clone()
            .or_else(|| self.aws.endpoint_url.as_ref().map(|u| u.to_string()))
            .unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", self.aws.region))
    }

    /// The host the broker's own AWS calls go to: `aws.endpoint_url`, else
    /// the regional host of the configured mode's service.
    pub fn aws_endpoint(&self) -> String {
        match &self.aws.endpoint_url {
            Some(u) => u.to_string(),
            None => match self.aws.mode {
                AwsMode::Cognito => {
                    format!("https://cognito-identity.{}.amazonaws.com", self.aws.region)
                }
                AwsMode::StsSaml => format!("https://sts.{}.amazonaws.com", self.aws.region),
            },
        }
    }

    /// Origins the browser app may connect to (for the CSP's connect-src).
    pub fn connect_origins(&self) -> Vec<String> {
        // `frontend.sts_endpoint` is passed on unchecked; one that is not a
        // URL adds no origin.
        let sts = Url::parse(&self.sts_endpoint()).ok();
        let mut out: Vec<String> = sts
            .iter()
            .chain(self.frontend.api_endpoints.iter().map(|e| e.url.url()))
            .map(|u| u.origin().ascii_serialization())
            .filter(|o| o != "null")
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub fn public_base(&self) -> &str {
        self.server.public_url.as_str().trim_end_matches('/')
    }

    pub fn acs_url(&self) -> String {
        format!("{}/saml/acs", self.public_base())
    }

    pub fn is_https(&self) -> bool {
        self.server.public_url.url().scheme() == "https"
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
        "server" => fields_of::<raw::Server>(),
        "sp" => fields_of::<raw::Sp>(),
        "idp" => fields_of::<raw::Idp>(),
        "aws" => fields_of::<raw::Aws>(),
        "storage" => fields_of::<raw::Storage>(),
        "admin" => fields_of::<raw::Admin>(),
        "session" => fields_of::<raw::Session>(),
        "limits" => fields_of::<raw::Limits>(),
        "audit" => fields_of::<raw::Audit>(),
        "frontend" => fields_of::<raw::Frontend>(),
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
                    let item = fields_of::<raw::Endpoint>();
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
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.sp_entity_id(), "http://127.0.0.1:8080/saml/metadata");
        assert_eq!(c.acs_url(), "http://127.0.0.1:8080/saml/acs");
        assert!(!c.idp.allow_idp_initiated);
        assert_eq!(
            c.idp.metadata,
            MetadataSource::File(PathBuf::from("/etc/broker/idp.xml"))
        );
        assert_eq!(c.server.log_format, LogFormat::Text);
        assert_eq!(c.idp.max_clock_skew, Duration::from_secs(60));
        assert_eq!(c.aws.timeout, Duration::from_secs(10));
        assert_eq!(c.aws.max_attempts, 3);
        assert_eq!(c.session.idle_timeout, Duration::from_secs(3600));
        assert_eq!(c.session.absolute_timeout, Duration::from_secs(43200));
        assert_eq!(c.limits.max_saml_bytes, 262_144);
        assert_eq!(c.limits.pending_request_ttl, Duration::from_secs(600));
        assert_eq!(c.limits.requests_per_minute, 300);
        assert_eq!(c.audit.retention, None);
        assert_eq!(c.audit.archive_dir, Path::new("/etc/broker/audit-archive"));
        assert_eq!(c.audit.verify_interval, Duration::from_secs(3600));
        assert!(
            matches!(&c.session.key, SessionKey::File(p) if p == Path::new("/etc/broker/session.key"))
        );
        assert_eq!(
            c.storage.url,
            StorageUrl::Sqlite {
                url: "sqlite:///etc/broker/broker.db".into(),
                file: Some(PathBuf::from("/etc/broker/broker.db")),
            }
        );
        assert_eq!(c.storage_url_redacted(), "sqlite://broker.db");
        // The typed defaults of AwsConfig (tests build it directly) are the loaded ones.
        let d = AwsConfig::default();
        assert_eq!(
            (d.region, d.mode, d.timeout, d.max_attempts),
            (c.aws.region, c.aws.mode, c.aws.timeout, c.aws.max_attempts)
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
        assert_eq!(c.server.listen.to_string(), "0.0.0.0:9000");
        assert!(c.idp.allow_idp_initiated);
        assert_eq!(c.idp.max_clock_skew, Duration::from_secs(30));
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
        let top = fields_of::<raw::Config>();
        assert_eq!(top, SECTIONS, "SECTIONS lists Config's fields in order");
        for s in SECTIONS.iter().filter(|s| **s != "policy") {
            assert!(!section_fields(s).unwrap().is_empty(), "{s}");
        }
        assert!(fields_of::<raw::Server>().contains(&"trust_forwarded_for"));
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
    fn storage_urls_are_parsed_once_by_backend() {
        let dir = Path::new("/etc/broker");
        let p = |s: &str| StorageUrl::parse(s, dir);
        assert_eq!(
            p("sqlite://b.db?mode=rwc"),
            Some(StorageUrl::Sqlite {
                url: "sqlite:///etc/broker/b.db?mode=rwc".into(),
                file: Some(PathBuf::from("/etc/broker/b.db")),
            })
        );
        assert_eq!(
            p("sqlite:///var/b.db").map(|u| u.as_str().to_string()),
            Some("sqlite:///var/b.db".into())
        );
        assert_eq!(
            p("sqlite::memory:").map(|u| u.as_str().to_string()),
            Some("sqlite::memory:".into())
        );
        for pg in ["postgres://u@h/d", "postgresql://u@h/d"] {
            assert_eq!(p(pg), Some(StorageUrl::Postgres { url: pg.into() }));
        }
        assert_eq!(
            p("dynamodb://broker"),
            Some(StorageUrl::Dynamo {
                url: "dynamodb://broker".into()
            })
        );
        assert_eq!(p("mysql://h/d"), None);
    }

    #[test]
    fn urls_keep_their_written_form() {
        let c = load(
            MIN,
            &[
                ("BROKER_AWS__ENDPOINT_URL", "http://127.0.0.1:5000"),
                (
                    "BROKER_AWS__SAML_PROVIDER_ARN",
                    "arn:aws:iam::1:saml-provider/ADFS",
                ),
            ],
        )
        .unwrap();
        let e = c.aws.endpoint_url.as_ref().unwrap();
        assert_eq!(e.as_str(), "http://127.0.0.1:5000");
        assert_eq!(e.url().as_str(), "http://127.0.0.1:5000/");
        assert_eq!(c.sts_endpoint(), "http://127.0.0.1:5000");
        assert_eq!(
            c.aws.saml_provider_arn.as_ref().map(ProviderArn::as_str),
            Some("arn:aws:iam::1:saml-provider/ADFS")
        );
        assert!(ProviderArn::parse("arn:aws:iam::1:role/x").is_none());
    }

    #[test]
    fn secrets_do_not_print() {
        let c = load(MIN, &[("BROKER_SESSION__KEY", "c2VjcmV0")]).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("c2VjcmV0"));
        assert!(dbg.contains("[redacted]"));
    }

    #[test]
    fn an_api_endpoint_takes_the_aws_region_unless_it_names_its_own() {
        let c = load(
            "[idp]\nmetadata_file = \"idp.xml\"\n[aws]\nregion = \"eu-west-1\"\n\n[[frontend.api_endpoints]]\nname = \"A\"\nurl = \"https://a.example\"\n\n[[frontend.api_endpoints]]\nname = \"B\"\nurl = \"https://b.example\"\nregion = \"ap-south-1\"\n",
            &[],
        )
        .unwrap();
        let regions: Vec<_> = c
            .frontend
            .api_endpoints
            .iter()
            .map(|e| e.region.as_str())
            .collect();
        assert_eq!(regions, ["eu-west-1", "ap-south-1"]);
    }
}
