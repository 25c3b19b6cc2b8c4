//! `aws.mode = "sts-saml"`: AssumeRoleWithSAML with the chosen role and
//! provider, the duration and the rule's session policy.

use super::errors::from_sdk;
use super::{
    caller_identity, to_utc, BoxFuture, Credentials, ErrorKind, Exchange, ExchangeError,
    ExchangeRequest, Issued,
};
use crate::config::Secret;

pub const FALLBACK_DURATION: i32 = 3600;

pub struct StsExchange {
    sdk: aws_config::SdkConfig,
    client: aws_sdk_sts::Client,
}

impl StsExchange {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            sdk: sdk.clone(),
            client: aws_sdk_sts::Client::new(sdk),
        }
    }

    async fn assume(
        &self,
        req: &ExchangeRequest,
        duration: i32,
    ) -> Result<Credentials, ExchangeError> {
        let mut call = self
            .client
            .assume_role_with_saml()
            .role_arn(req.role.role.as_str())
            .principal_arn(req.role.provider.as_str())
            .saml_assertion(req.saml_response.expose())
            .duration_seconds(duration);
        if let Some(p) = &req.session_policy {
            call = call.policy(p);
        }
        let out = call
            .send()
            .await
            .map_err(|e| from_sdk("sts:AssumeRoleWithSAML", e))?;
        let c = out.credentials.ok_or_else(|| {
            ExchangeError::new(
                ErrorKind::Other,
                "sts:AssumeRoleWithSAML",
                "answer without Credentials",
            )
        })?;
        Ok(Credentials {
            access_key_id: c.access_key_id,
            secret_access_key: Secret::new(c.secret_access_key),
            session_token: Secret::new(c.session_token),
            expiration: to_utc(&c.expiration),
        })
    }

    #[tracing::instrument(skip_all, fields(role = %req.role.role, duration = req.duration_seconds))]
    async fn run(&self, req: &ExchangeRequest) -> Result<Issued, ExchangeError> {
        let duration = req.duration_seconds.clamp(900, 43200);
        let (credentials, duration, fallback) = match self.assume(req, duration).await {
            Ok(c) => (c, duration, false),
            Err(e) if e.kind == ErrorKind::MaxSessionDuration && duration > FALLBACK_DURATION => {
                tracing::warn!(requested = duration, detail = %e.detail, "role refused the requested duration; retrying once at 3600 s");
                (
                    self.assume(req, FALLBACK_DURATION).await?,
                    FALLBACK_DURATION,
                    true,
                )
            }
            Err(e) => return Err(e),
        };
        let principal_arn = caller_identity(&self.sdk, &credentials).await?;
        tracing::info!(access_key_id = %credentials.access_key_id, principal = %principal_arn, "sts credentials issued");
        Ok(Issued {
            credentials,
            principal_arn,
            duration_seconds: duration,
            duration_fallback: fallback,
        })
    }
}

impl Exchange for StsExchange {
    fn exchange<'a>(
        &'a self,
        req: &'a ExchangeRequest,
    ) -> BoxFuture<'a, Result<Issued, ExchangeError>> {
        Box::pin(self.run(req))
    }
    fn mode(&self) -> &'static str {
        crate::config::AwsMode::StsSaml.as_str()
    }
}
