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
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

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

pub use crate::awssdk::{sdk_config, sdk_config_with_credentials};

/// Build the configured exchange.
pub async fn from_config(aws: &AwsConfig) -> Arc<dyn Exchange> {
    let sdk = sdk_config(aws).await;
    match aws.mode {
        AwsMode::Cognito => Arc::new(CognitoExchange::new(
            &sdk,
            aws.identity_pool_id.clone().unwrap_or_default(),
            aws.saml_provider_arn
                .as_ref()
                .map(|p| p.as_str().to_string()),
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
