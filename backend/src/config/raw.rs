//! The configuration as written: serde structs that mirror the TOML keys
//! (their field names are the key lists of "unknown key" errors), turned into
//! the typed [`Config`](super::Config) by [`Config::build`], the one place
//! where values are checked and defaults applied.

use super::{
    defaults, invalid, ApiEndpoint, AwsMode, ConfigError, ConfigUrl, LogFormat, MetadataSource,
    ProviderArn, Secret, SessionKey, StorageUrl,
};
use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Config {
    #[serde(default)]
    pub server: Server,
    #[serde(default)]
    pub sp: Sp,
    #[serde(default)]
    pub idp: Idp,
    #[serde(default)]
    pub aws: Aws,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default)]
    pub admin: Admin,
    #[serde(default)]
    pub session: Session,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub audit: Audit,
    #[serde(default)]
    pub frontend: Frontend,
    /// Role-selection rules; interpreted by the policy module.
    #[serde(default)]
    pub policy: toml::Table,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Server {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    #[serde(default, deserialize_with = "de_bool")]
    pub trust_forwarded_for: bool,
    pub log_format: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Sp {
    pub entity_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Idp {
    pub metadata_file: Option<PathBuf>,
    pub metadata_url: Option<String>,
    #[serde(default, deserialize_with = "de_bool")]
    pub allow_idp_initiated: bool,
    #[serde(default, deserialize_with = "de_u64")]
    pub max_clock_skew_seconds: Option<u64>,
    #[serde(default, deserialize_with = "de_bool")]
    pub allow_sha1: bool,
    #[serde(default, deserialize_with = "de_bool")]
    pub allow_insecure_metadata_url: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Aws {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub mode: Option<AwsMode>,
    pub identity_pool_id: Option<String>,
    pub saml_provider_arn: Option<String>,
    #[serde(default, deserialize_with = "de_u64")]
    pub timeout_seconds: Option<u64>,
    #[serde(default, deserialize_with = "de_u64")]
    pub max_attempts: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Storage {
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Admin {
    #[serde(default, deserialize_with = "de_list")]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Session {
    pub key: Option<Secret>,
    pub key_file: Option<PathBuf>,
    pub key_secret_arn: Option<String>,
    #[serde(default, deserialize_with = "de_u64")]
    pub idle_timeout_seconds: Option<u64>,
    #[serde(default, deserialize_with = "de_u64")]
    pub absolute_timeout_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Limits {
    #[serde(default, deserialize_with = "de_u64")]
    pub max_saml_bytes: Option<u64>,
    #[serde(default, deserialize_with = "de_u64")]
    pub pending_request_ttl_seconds: Option<u64>,
    #[serde(default, deserialize_with = "de_u64")]
    pub requests_per_minute: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Audit {
    #[serde(default, deserialize_with = "de_u64")]
    pub retention_days: Option<u64>,
    pub archive_dir: Option<PathBuf>,
    #[serde(default, deserialize_with = "de_u64")]
    pub verify_interval_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Frontend {
    pub sts_endpoint: Option<String>,
    #[serde(default)]
    pub api_endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Endpoint {
    pub name: String,
    pub url: String,
    pub region: Option<String>,
    pub method: Option<String>,
    pub service: Option<String>,
}

/// `n` seconds.
fn secs(n: Option<u64>, default: u64) -> Duration {
    Duration::from_secs(n.unwrap_or(default))
}

impl Config {
    /// Check every value and build the typed configuration; relative paths
    /// resolve against `base_dir`. The checks run in a fixed order, so the
    /// first problem reported is always the same one.
    pub fn build(self, base_dir: PathBuf) -> Result<super::Config, ConfigError> {
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base_dir.join(p)
            }
        };
        let Self {
            server,
            sp,
            idp,
            aws,
            storage,
            admin,
            session,
            limits,
            audit,
            frontend,
            policy,
        } = self;

        let listen_text = server.listen.unwrap_or_else(|| defaults::LISTEN.into());
        let listen = listen_text.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "server.listen",
                format!("{listen_text:?} is not an address like 127.0.0.1:8080"),
            )
        })?;
        let public_url = ConfigUrl::parse(
            &server
                .public_url
                .unwrap_or_else(|| defaults::PUBLIC_URL.into()),
        )
        .map_err(|e| {
            invalid(
                "server.public_url",
                format!("{e}; use a full URL like https://broker.example.com"),
            )
        })?;
        let public = public_url.url();
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
        let log_format = match server.log_format.as_deref().unwrap_or(defaults::LOG_FORMAT) {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(invalid("server.log_format", "must be \"text\" or \"json\"")),
        };

        let metadata = match (idp.metadata_file, idp.metadata_url) {
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
                let url = ConfigUrl::parse(&u).map_err(|e| invalid("idp.metadata_url", e.to_string()))?;
                let loopback = matches!(url.url().host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
                if url.url().scheme() != "https" && !(idp.allow_insecure_metadata_url && loopback) {
                    return Err(invalid("idp.metadata_url", "must be https (http is accepted only on a loopback address with idp.allow_insecure_metadata_url = true)"));
                }
                MetadataSource::Url(url)
            }
            (Some(file), None) => MetadataSource::File(resolve(&file)),
        };
        let max_clock_skew = secs(idp.max_clock_skew_seconds, defaults::MAX_CLOCK_SKEW_SECONDS);
        if max_clock_skew > Duration::from_secs(600) {
            return Err(invalid(
                "idp.max_clock_skew_seconds",
                "at most 600; fix the clocks instead (NTP)",
            ));
        }

        let endpoint_url = aws
            .endpoint_url
            .map(|e| {
                ConfigUrl::parse(&e).map_err(|err| invalid("aws.endpoint_url", err.to_string()))
            })
            .transpose()?;
        let region = aws.region.unwrap_or_else(|| defaults::REGION.into());
        if region.trim().is_empty() {
            return Err(invalid(
                "aws.region",
                "must name a region such as us-east-1",
            ));
        }
        let mut api_endpoints = Vec::with_capacity(frontend.api_endpoints.len());
        for (i, e) in frontend.api_endpoints.into_iter().enumerate() {
            let url = ConfigUrl::parse(&e.url)
                .map_err(|err| invalid("frontend.api_endpoints", format!("[{i}] url: {err}")))?;
            if !matches!(url.url().scheme(), "https" | "http") {
                return Err(invalid(
                    "frontend.api_endpoints",
                    format!("[{i}] url must be https"),
                ));
            }
            api_endpoints.push(ApiEndpoint {
                name: e.name,
                url,
                // The top-level region unless the endpoint names its own (docs/frontend.md).
                region: e.region.unwrap_or_else(|| region.clone()),
                method: e.method.unwrap_or_else(|| defaults::API_METHOD.into()),
                service: e.service.unwrap_or_else(|| defaults::API_SERVICE.into()),
            });
        }

        let saml_provider_arn = aws
            .saml_provider_arn
            .map(|p| {
                ProviderArn::parse(&p).ok_or_else(|| {
                    invalid(
                        "aws.saml_provider_arn",
                        "must look like arn:aws:iam::123456789012:saml-provider/ADFS",
                    )
                })
            })
            .transpose()?;
        let max_attempts = aws
            .max_attempts
            .unwrap_or(defaults::AWS_MAX_ATTEMPTS)
            .try_into()
            .ok()
            .filter(|n| (1..=10).contains(n))
            .ok_or_else(|| invalid("aws.max_attempts", "between 1 and 10"))?;

        let storage_text = storage.url.unwrap_or_else(|| defaults::STORAGE_URL.into());
        let storage_url = StorageUrl::parse(&storage_text, &base_dir).ok_or_else(|| {
            let scheme = storage_text.split(':').next().unwrap_or_default();
            invalid(
                "storage.url",
                format!("scheme {scheme:?} is not supported; use sqlite://FILE, postgres://USER@HOST/DB or dynamodb://TABLE_PREFIX"),
            )
        })?;

        let idle_timeout = secs(session.idle_timeout_seconds, defaults::IDLE_TIMEOUT_SECONDS);
        let absolute_timeout = secs(
            session.absolute_timeout_seconds,
            defaults::ABSOLUTE_TIMEOUT_SECONDS,
        );
        if idle_timeout < Duration::from_secs(60) || absolute_timeout < idle_timeout {
            return Err(invalid(
                "session.idle_timeout_seconds",
                "at least 60 and not above session.absolute_timeout_seconds",
            ));
        }
        let requests_per_minute = limits
            .requests_per_minute
            .unwrap_or(defaults::REQUESTS_PER_MINUTE);
        if requests_per_minute == 0 {
            return Err(invalid("limits.requests_per_minute", "at least 1"));
        }
        let max_saml_bytes = limits
            .max_saml_bytes
            .unwrap_or(defaults::MAX_SAML_BYTES)
            .try_into()
            .ok()
            .filter(|n| (4096..=4 * 1024 * 1024).contains(n))
            .ok_or_else(|| invalid("limits.max_saml_bytes", "between 4096 and 4194304"))?;

        let key = match (session.key, session.key_secret_arn) {
            (Some(k), _) => SessionKey::Inline(k),
            (None, Some(arn)) => SessionKey::SecretArn(arn),
            (None, None) => SessionKey::File(resolve(
                session
                    .key_file
                    .as_deref()
                    .unwrap_or(Path::new(defaults::KEY_FILE)),
            )),
        };

        Ok(super::Config {
            server: super::ServerConfig {
                listen,
                public_url,
                trust_forwarded_for: server.trust_forwarded_for,
                log_format,
            },
            sp: super::SpConfig {
                entity_id: sp.entity_id,
            },
            idp: super::IdpConfig {
                metadata,
                allow_idp_initiated: idp.allow_idp_initiated,
                max_clock_skew,
                allow_sha1: idp.allow_sha1,
            },
            aws: super::AwsConfig {
                region,
                endpoint_url,
                mode: aws.mode.unwrap_or(defaults::AWS_MODE),
                identity_pool_id: aws.identity_pool_id,
                saml_provider_arn,
                timeout: secs(aws.timeout_seconds, defaults::AWS_TIMEOUT_SECONDS),
                max_attempts,
            },
            storage: super::StorageConfig {
                url: storage_url,
                written: storage_text,
            },
            admin: super::AdminConfig {
                groups: admin.groups,
            },
            session: super::SessionConfig {
                key,
                idle_timeout,
                absolute_timeout,
            },
            limits: super::LimitsConfig {
                max_saml_bytes,
                pending_request_ttl: secs(
                    limits.pending_request_ttl_seconds,
                    defaults::PENDING_REQUEST_TTL_SECONDS,
                ),
                requests_per_minute,
            },
            audit: super::AuditConfig {
                retention: audit
                    .retention_days
                    .filter(|d| *d > 0)
                    .map(|d| Duration::from_secs(d.saturating_mul(86_400))),
                archive_dir: resolve(
                    audit
                        .archive_dir
                        .as_deref()
                        .unwrap_or(Path::new(defaults::ARCHIVE_DIR)),
                ),
                // Never more often than once a minute (a whole-chain read).
                verify_interval: secs(
                    audit.verify_interval_seconds,
                    defaults::VERIFY_INTERVAL_SECONDS,
                )
                .max(Duration::from_secs(60)),
            },
            frontend: super::FrontendConfig {
                sts_endpoint: frontend.sts_endpoint,
                api_endpoints,
            },
            policy,
            base_dir,
        })
    }
}

/// Accepts a TOML integer or a string holding one (environment values are strings).
fn de_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        N(u64),
        S(String),
    }
    match N::deserialize(d)? {
        N::N(n) => Ok(Some(n)),
        N::S(s) => {
            s.trim().parse().map(Some).map_err(|_| {
                serde::de::Error::custom(format!("expected a whole number, got {s:?}"))
            })
        }
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
