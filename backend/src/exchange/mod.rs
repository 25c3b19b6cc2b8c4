//! The credential exchange: one trait, two implementations over the AWS SDK
//! for Rust (Cognito identity pool, STS AssumeRoleWithSAML), then
//! sts:GetCallerIdentity with the new credentials. Knows nothing of HTTP or
//! SAML XML.

mod cognito;
mod errors;
mod sts;

pub use cognito::CognitoExchange;
pub use errors::{ErrorKind, ExchangeError};
pub use sts::StsExchange;

use crate::config::{AwsConfig, AwsMode, Secret};
use crate::saml::RoleGrant;
use aws_config::BehaviorVersion;
use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::config::timeout::TimeoutConfig;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the broker asks for.
#[derive(Debug, Clone)]
pub struct ExchangeRequest {
    /// The base64 SAMLResponse exactly as the IdP posted it.
    pub saml_response: Secret,
    pub role: RoleGrant,
    pub duration_seconds: i32,
    pub session_policy: Option<String>,
}

/// Temporary AWS credentials. The secret parts never print.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    pub expiration: DateTime<Utc>,
}

/// What the exchange produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Issued {
    pub credentials: Credentials,
    /// From sts:GetCallerIdentity with the new credentials.
    pub principal_arn: String,
    pub duration_seconds: i32,
    /// True when AWS refused the requested duration (the role's MaxSessionDuration)
    /// and the broker retried once at 3600 seconds.
    pub duration_fallback: bool,
}

pub trait Exchange: Send + Sync {
    fn exchange<'a>(
        &'a self,
        req: &'a ExchangeRequest,
    ) -> BoxFuture<'a, Result<Issued, ExchangeError>>;
    fn mode(&self) -> &'static str;
}

/// SDK configuration shared by both implementations: region, optional
/// emulator endpoint, rustls/ring HTTPS, timeouts, bounded retries, and no
/// ambient credentials (these calls are authorised by the SAML assertion).
pub async fn sdk_config(aws: &AwsConfig) -> aws_config::SdkConfig {
    loader(aws).no_credentials().load().await
}

/// Like [`sdk_config`], with the default credential chain (the Lambda
/// function's role, the instance's, or the environment's): for the broker's
/// own AWS resources, such as its DynamoDB tables and its session-key secret.
pub async fn sdk_config_with_credentials(aws: &AwsConfig) -> aws_config::SdkConfig {
    loader(aws).load().await
}

fn loader(aws: &AwsConfig) -> aws_config::ConfigLoader {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let timeout = Duration::from_secs(aws.timeout_seconds);
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(aws.region.clone()))
        .http_client(http)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3).min(timeout))
                .operation_attempt_timeout(timeout)
                .operation_timeout(timeout * 2)
                .build(),
        )
        .retry_config(
            RetryConfig::standard().with_max_attempts(u32::try_from(aws.max_attempts).unwrap_or(3)),
        );
    match &aws.endpoint_url {
        Some(e) => loader.endpoint_url(e),
        None => loader,
    }
}

/// Build the configured exchange.
pub async fn from_config(aws: &AwsConfig) -> Arc<dyn Exchange> {
    let sdk = sdk_config(aws).await;
    match aws.mode {
        AwsMode::Cognito => Arc::new(CognitoExchange::new(
            &sdk,
            aws.identity_pool_id.clone().unwrap_or_default(),
            aws.saml_provider_arn.clone(),
        )),
        AwsMode::StsSaml => Arc::new(StsExchange::new(&sdk)),
    }
}

/// sts:GetCallerIdentity with freshly issued credentials.
pub(crate) async fn caller_identity(
    sdk: &aws_config::SdkConfig,
    c: &Credentials,
) -> Result<String, ExchangeError> {
    let creds = aws_credential_types::Credentials::new(
        c.access_key_id.clone(),
        c.secret_access_key.expose().to_string(),
        Some(c.session_token.expose().to_string()),
        Some(c.expiration.into()),
        "saml-broker",
    );
    let conf = aws_sdk_sts::config::Builder::from(sdk)
        .credentials_provider(creds)
        .build();
    let out = aws_sdk_sts::Client::from_conf(conf)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| errors::from_sdk("sts:GetCallerIdentity", e))?;
    out.arn.ok_or_else(|| {
        ExchangeError::new(
            ErrorKind::Other,
            "sts:GetCallerIdentity",
            "answer without an Arn",
        )
    })
}

pub(crate) fn to_utc(t: &aws_smithy_types::DateTime) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_else(Utc::now)
}
