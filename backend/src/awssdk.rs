//! The AWS SDK configuration every AWS client of the broker uses: the
//! exchange (STS, Cognito), the DynamoDB store and Secrets Manager. Imports
//! only the configuration.

use crate::config::AwsConfig;
use aws_config::BehaviorVersion;
use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::config::timeout::TimeoutConfig;
use std::time::Duration;

/// SDK configuration for the exchange (STS, Cognito): region, optional
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
    let timeout = aws.timeout;
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
        .retry_config(RetryConfig::standard().with_max_attempts(aws.max_attempts));
    match &aws.endpoint_url {
        Some(e) => loader.endpoint_url(e.as_str()),
        None => loader,
    }
}
