//! AWS errors turned into kinds the broker can explain to a person.

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    IdpRejectedClaim,
    InvalidIdentityToken,
    ExpiredToken,
    AccessDenied,
    Throttled,
    Unreachable,
    Timeout,
    MaxSessionDuration,
    Other,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation}: {kind:?}: {detail}")]
pub struct ExchangeError {
    pub kind: ErrorKind,
    pub operation: &'static str,
    /// Technical detail for logs and the audit trail (never a secret).
    pub detail: String,
}

impl ExchangeError {
    pub fn new(kind: ErrorKind, operation: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            operation,
            detail: detail.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self.kind {
            ErrorKind::IdpRejectedClaim => "idp_rejected_claim",
            ErrorKind::InvalidIdentityToken => "invalid_identity_token",
            ErrorKind::ExpiredToken => "expired_token",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Unreachable => "aws_unreachable",
            ErrorKind::Timeout => "aws_timeout",
            ErrorKind::MaxSessionDuration => "max_session_duration",
            ErrorKind::Other => "aws_error",
        }
    }

    /// Plain words for the person.
    pub fn user_message(&self) -> &'static str {
        match self.kind {
            ErrorKind::IdpRejectedClaim | ErrorKind::InvalidIdentityToken => {
                "AWS did not accept your sign-in for this role. The role may not trust this sign-in service; ask your administrator."
            }
            ErrorKind::ExpiredToken => "Your sign-in is too old to get new AWS credentials. Please sign in again.",
            ErrorKind::AccessDenied => "AWS refused access to this role. Ask your administrator to check the role's trust policy.",
            ErrorKind::Throttled => "AWS is busy right now. Please try again in a minute.",
            ErrorKind::Unreachable | ErrorKind::Timeout => {
                "AWS could not be reached to get your credentials. Please try again in a moment."
            }
            ErrorKind::MaxSessionDuration | ErrorKind::Other => "AWS could not issue credentials for this role. Please try again; if it keeps happening, quote the request id to support.",
        }
    }

    /// Whether a fresh sign-in is the way forward.
    pub fn needs_new_sign_in(&self) -> bool {
        matches!(self.kind, ErrorKind::ExpiredToken)
    }
}

pub(crate) fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> ExchangeError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::TimeoutError(_) => ExchangeError::new(ErrorKind::Timeout, operation, "timed out"),
        SdkError::DispatchFailure(d) => {
            let kind = if d.is_timeout() {
                ErrorKind::Timeout
            } else {
                ErrorKind::Unreachable
            };
            ExchangeError::new(
                kind,
                operation,
                format!("{:?}", d.as_connector_error().map(|c| c.to_string())),
            )
        }
        SdkError::ServiceError(s) => {
            let e = s.err();
            let code = e.code().unwrap_or("Unknown");
            let message = e.message().unwrap_or_default();
            let kind = match code {
                "IDPRejectedClaim" => ErrorKind::IdpRejectedClaim,
                "InvalidIdentityToken" | "InvalidIdentityTokenException" => {
                    ErrorKind::InvalidIdentityToken
                }
                "ExpiredTokenException" | "ExpiredToken" => ErrorKind::ExpiredToken,
                "AccessDenied" | "AccessDeniedException" | "NotAuthorizedException" => {
                    ErrorKind::AccessDenied
                }
                "Throttling"
                | "ThrottlingException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded" => ErrorKind::Throttled,
                "ValidationError"
                    if message.contains("MaxSessionDuration")
                        || message.contains("DurationSeconds") =>
                {
                    ErrorKind::MaxSessionDuration
                }
                _ => ErrorKind::Other,
            };
            ExchangeError::new(kind, operation, format!("{code}: {message}"))
        }
        other => ExchangeError::new(ErrorKind::Other, operation, format!("{other}")),
    }
}
