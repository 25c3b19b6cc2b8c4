//! What the broker keeps in a signed-in person's server-side session.
//! Secrets (AWS credentials, the SAMLResponse) are sealed with the session
//! cipher before they reach the store.

use crate::policy::AllowedRole;
use crate::saml::VerifiedAssertion;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const KEY: &str = "broker";
pub const AAD_CREDENTIALS: &[u8] = b"saml-broker credentials v1";
pub const AAD_ASSERTION: &[u8] = b"saml-broker assertion v1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionData {
    pub subject: String,
    pub session_name: Option<String>,
    pub groups: Vec<String>,
    pub is_admin: bool,
    pub idp: String,
    pub assertion_id: String,
    pub login_at: DateTime<Utc>,
    /// The session ends at this instant whatever the activity.
    pub expires_at: DateTime<Utc>,
    pub csrf_token: String,
    /// Roles the policy allows, in the order to show them.
    pub allowed: Vec<AllowedRole>,
    /// Where to go once a role is chosen.
    pub return_to: Option<String>,
    /// The SAMLResponse, sealed, kept while the assertion can still be exchanged.
    pub sealed_assertion: Option<String>,
    pub assertion_valid_until: DateTime<Utc>,
    pub current: Option<CurrentRole>,
}

/// The role in use and the (sealed) credentials issued for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurrentRole {
    pub role_arn: String,
    pub principal_arn: String,
    pub access_key_id: String,
    pub expiration: DateTime<Utc>,
    pub duration_seconds: i32,
    pub duration_fallback: bool,
    pub sealed_credentials: String,
}

impl SessionData {
    pub fn from_login(
        v: &VerifiedAssertion,
        allowed: Vec<AllowedRole>,
        admin_groups: &[String],
        now: DateTime<Utc>,
        absolute: chrono::Duration,
    ) -> Self {
        let mut expires_at = now + absolute;
        if let Some(s) = v.session_not_on_or_after {
            expires_at = expires_at.min(s);
        }
        Self {
            subject: v.claims.name_id.clone(),
            session_name: v.claims.session_name.clone(),
            groups: v.claims.groups.clone(),
            is_admin: v.claims.groups.iter().any(|g| admin_groups.contains(g)),
            idp: v.issuer.clone(),
            assertion_id: v.assertion_id.clone(),
            login_at: now,
            expires_at,
            csrf_token: new_token(),
            allowed,
            return_to: None,
            sealed_assertion: None,
            assertion_valid_until: v.exchange_until,
            current: None,
        }
    }

    pub fn allowed_role(&self, role_arn: &str) -> Option<&AllowedRole> {
        self.allowed
            .iter()
            .find(|r| r.grant.role.as_str() == role_arn)
    }

    pub fn role_arn(&self) -> Option<&str> {
        self.current.as_ref().map(|c| c.role_arn.as_str())
    }
}

pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub use crate::ids::tokens_equal;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_equal_compares_whole_tokens() {
        let t = new_token();
        assert!(tokens_equal(&t, &t.clone()));
        assert!(!tokens_equal(&t, &new_token()));
        assert!(!tokens_equal(&t, &t[..t.len() - 1]));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("", "a"));
        assert!(tokens_equal("", ""));
    }
}
