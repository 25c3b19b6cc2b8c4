//! `aws.mode = "cognito"`: GetId + GetCredentialsForIdentity with
//! CustomRoleArn (the enhanced flow; the only one Cognito offers for SAML).

use super::errors::from_sdk;
use super::{
    caller_identity, to_utc, BoxFuture, Credentials, ErrorKind, Exchange, ExchangeError,
    ExchangeRequest, Issued,
};
use crate::config::Secret;

pub struct CognitoExchange {
    sdk: aws_config::SdkConfig,
    client: aws_sdk_cognitoidentity::Client,
    identity_pool_id: String,
    /// The Logins key; when None, the provider ARN from the chosen role pair.
    provider_arn: Option<String>,
}

impl CognitoExchange {
    pub fn new(
        sdk: &aws_config::SdkConfig,
        identity_pool_id: String,
        provider_arn: Option<String>,
    ) -> Self {
        Self {
            sdk: sdk.clone(),
            client: aws_sdk_cognitoidentity::Client::new(sdk),
            identity_pool_id,
            provider_arn,
        }
    }

    #[tracing::instrument(skip_all, fields(role = %req.role.role, pool = %self.identity_pool_id))]
    async fn run(&self, req: &ExchangeRequest) -> Result<Issued, ExchangeError> {
        let provider = self
            .provider_arn
            .clone()
            .unwrap_or_else(|| req.role.provider.as_str().to_string());
        let id = self
            .client
            .get_id()
            .identity_pool_id(&self.identity_pool_id)
            .logins(&provider, req.saml_response.expose())
            .send()
            .await
            .map_err(|e| from_sdk("cognito-identity:GetId", e))?;
        let identity_id = id.identity_id.ok_or_else(|| {
            ExchangeError::new(
                ErrorKind::Other,
                "cognito-identity:GetId",
                "answer without an IdentityId",
            )
        })?;
        let out = self
            .client
            .get_credentials_for_identity()
            .identity_id(&identity_id)
            .logins(&provider, req.saml_response.expose())
            .custom_role_arn(req.role.role.as_str())
            .send()
            .await
            .map_err(|e| from_sdk("cognito-identity:GetCredentialsForIdentity", e))?;
        let c = out.credentials.ok_or_else(|| {
            ExchangeError::new(
                ErrorKind::Other,
                "cognito-identity:GetCredentialsForIdentity",
                "answer without Credentials",
            )
        })?;
        let missing = || {
            ExchangeError::new(
                ErrorKind::Other,
                "cognito-identity:GetCredentialsForIdentity",
                "incomplete Credentials",
            )
        };
        let credentials = Credentials {
            access_key_id: c.access_key_id.ok_or_else(missing)?,
            secret_access_key: Secret::new(c.secret_key.ok_or_else(missing)?),
            session_token: Secret::new(c.session_token.ok_or_else(missing)?),
            expiration: c.expiration.as_ref().map(to_utc).ok_or_else(missing)?,
        };
        let principal_arn = caller_identity(&self.sdk, &credentials).await?;
        tracing::info!(identity_id = %identity_id, access_key_id = %credentials.access_key_id, principal = %principal_arn, "cognito credentials issued");
        Ok(Issued {
            credentials,
            principal_arn,
            duration_seconds: req.duration_seconds,
            duration_fallback: false,
        })
    }
}

impl Exchange for CognitoExchange {
    fn exchange<'a>(
        &'a self,
        req: &'a ExchangeRequest,
    ) -> BoxFuture<'a, Result<Issued, ExchangeError>> {
        Box::pin(self.run(req))
    }
    fn mode(&self) -> &'static str {
        crate::config::AwsMode::Cognito.as_str()
    }
}
