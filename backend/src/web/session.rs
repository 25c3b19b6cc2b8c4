//! What the broker keeps in a signed-in person's server-side session.

use crate::saml::{RoleGrant, VerifiedAssertion};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const KEY: &str = "broker";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionData {
    pub subject: String,
    pub session_name: Option<String>,
    pub groups: Vec<String>,
    pub roles: Vec<RoleGrant>,
    pub is_admin: bool,
    pub idp: String,
    pub assertion_id: String,
    pub login_at: DateTime<Utc>,
    /// The session ends at this instant whatever the activity.
    pub expires_at: DateTime<Utc>,
    pub csrf_token: String,
    pub role_arn: Option<String>,
}

impl SessionData {
    pub fn from_login(
        v: &VerifiedAssertion,
        admin_groups: &[String],
        now: DateTime<Utc>,
        absolute: chrono::Duration,
    ) -> Self {
        let mut expires_at = now + absolute;
        if let Some(s) = v.session_not_on_or_after {
            expires_at = expires_at.min(s);
        }
        let role_arn = match v.claims.roles.as_slice() {
            [one] => Some(one.role.as_str().to_string()),
            _ => None,
        };
        Self {
            subject: v.claims.name_id.clone(),
            session_name: v.claims.session_name.clone(),
            groups: v.claims.groups.clone(),
            roles: v.claims.roles.clone(),
            is_admin: v.claims.groups.iter().any(|g| admin_groups.contains(g)),
            idp: v.issuer.clone(),
            assertion_id: v.assertion_id.clone(),
            login_at: now,
            expires_at,
            csrf_token: new_token(),
            role_arn,
        }
    }
}

pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Constant-time comparison of two tokens.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}
