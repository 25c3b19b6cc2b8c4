//! Sign-in: an SP-initiated start (pending request and AuthnRequest), and a
//! SAMLResponse at the ACS turned into a session: the pending request,
//! verification on the blocking pool, policy, then the replay entry and the
//! audit events in one durable write, then the session and, when the policy
//! leaves one role, its credentials.

use super::issue::IssueError;
use super::session::{new_token, SessionData, AAD_ASSERTION};
use super::{Ctx, Login};
use crate::audit::{AuditEvent, Outcome};
use crate::metrics::names as metric;
use crate::policy::Decision;
use crate::saml::authn::{self, RelayState, ReturnTo};
use crate::saml::{Refusal, RoleArn, SamlError, VerifiedAssertion};
use crate::store::{Accept, Pending};
use std::sync::Arc;

/// An SP-initiated sign-in, started: send the browser to `redirect_url`,
/// with `browser_nonce` in a cookie that comes back to the ACS.
#[derive(Debug)]
pub struct Started {
    pub redirect_url: String,
    pub browser_nonce: String,
}

/// What arrived at the ACS.
#[derive(Debug, Default)]
pub struct AcsInput {
    pub saml_response: String,
    pub relay_state: Option<String>,
    /// The login cookie of the browser that posted it.
    pub browser_nonce: Option<String>,
}

/// A sign-in that was accepted: the session to start, and where to go.
#[derive(Debug)]
pub struct Accepted {
    pub session: SessionData,
    pub next: Next,
}

#[derive(Debug)]
pub enum Next {
    /// The policy leaves a choice: the role picker.
    ChooseRole,
    /// One role, issued: go to the page the sign-in was for.
    Go(String),
    /// One role, but the exchange failed (the session still starts).
    IssueFailed(IssueError),
}

/// Why a sign-in did not start a session. The precise reason is already in
/// the audit trail and the log; these carry what the person is shown.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The response was refused by a check (XML, signature, conditions…).
    #[error("sign-in refused: {0}")]
    Refused(SamlError),
    /// The assertion id was already used.
    #[error("assertion replayed")]
    Replay,
    /// The policy allows no role; `reason` is for the person.
    #[error("no role allowed: {reason}")]
    NoRole { reason: String },
    /// A return_to outside this application.
    #[error("return_to not valid")]
    BadReturnTo,
    /// The store or the audit trail could not record the sign-in: nothing
    /// was issued.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl Login {
    /// Start an SP-initiated sign-in that comes back to `return_to` and
    /// selects `role` (a role switch that needs a fresh assertion).
    pub async fn start(
        &self,
        return_to: Option<&str>,
        role: Option<&str>,
    ) -> Result<Started, LoginError> {
        let return_to = match return_to {
            None | Some("") => None,
            Some(r) => Some(ReturnTo::parse(r).ok_or(LoginError::BadReturnTo)?),
        };
        let s = &self.settings;
        let now = self.clock.now();
        let relay = RelayState::generate();
        let request_id = crate::ids::new_id();
        let pending = Pending {
            request_id: request_id.clone(),
            return_to: return_to.map(|r| r.as_str().to_string()),
            role_hint: role
                .and_then(RoleArn::parse)
                .map(|r| r.as_str().to_string()),
            browser_nonce: new_token(),
        };
        self.store
            .put_pending(relay.as_str(), &pending, now, now + s.pending_ttl)
            .await
            .map_err(|e| LoginError::Unavailable(e.to_string()))?;
        let redirect_url = authn::redirect_url(
            &self.verifier.idp().sso_redirect_url,
            &request_id,
            now,
            &s.sp_entity_id,
            &s.acs_url,
            &relay,
        )
        .map_err(|e| LoginError::Internal(e.to_string()))?;
        self.metrics.inc(metric::LOGIN_STARTED, &[]);
        Ok(Started {
            redirect_url,
            browser_nonce: pending.browser_nonce,
        })
    }
}

impl Ctx<'_> {
    /// A SAMLResponse at the ACS: verified, checked against its pending
    /// request (SP-initiated) and the replay cache, audited, and turned into
    /// a session.
    pub async fn accept(&self, input: AcsInput) -> Result<Accepted, LoginError> {
        let login = self.login;
        let now = login.clock.now();
        let unavailable = |e: &dyn std::fmt::Display| LoginError::Unavailable(e.to_string());
        let saml_for_exchange = input
            .saml_response
            .split_ascii_whitespace()
            .collect::<String>();
        // The pending request by RelayState, server side, bound to the browser.
        let relay = input.relay_state.as_deref().and_then(RelayState::parse);
        let pending = match &relay {
            Some(r) => login
                .store
                .take_pending(
                    r.as_str(),
                    input.browser_nonce.as_deref().unwrap_or_default(),
                    now,
                )
                .await
                .map_err(|e| unavailable(&e))?,
            None => None,
        };
        let expected = pending.as_ref().map(|p| p.request_id.clone());
        let verifier = Arc::clone(&login.verifier);
        let saml_response = input.saml_response;
        let verified = tokio::task::spawn_blocking(move || {
            verifier.verify(&saml_response, expected.as_deref(), now)
        })
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))?;
        let verified = match verified {
            Ok(v) => v,
            Err(refusal) => return Err(self.refuse(refusal).await),
        };
        for m in &verified.claims.malformed_roles {
            tracing::warn!(subject = %verified.claims.name_id, value = %m.value, problem = %m.problem, "malformed Role attribute value ignored");
        }
        // Policy (no I/O) first, so that the login's audit events commit in
        // one unit with its replay-cache entry: one write per sign-in.
        let hint = pending
            .as_ref()
            .and_then(|p| p.role_hint.as_deref())
            .and_then(RoleArn::parse);
        let decision = login.policy.decide(&verified.claims, hint.as_ref());
        let mut fresh = vec![self.login_succeeded(&verified, pending.is_none())];
        if let Decision::Deny(d) = &decision {
            let mut event = self.event_about(
                crate::audit::names::LOGIN_FAILED,
                Outcome::Failure,
                Some(&verified.claims.name_id),
                Some(&verified.assertion_id),
            );
            event.reason = Some(d.detail.clone());
            fresh.push(event.detail("code", "policy_denied"));
        }
        let mut replay = self.event_about(
            crate::audit::names::LOGIN_FAILED,
            Outcome::Failure,
            Some(&verified.claims.name_id),
            Some(&verified.assertion_id),
        );
        replay.reason = Some("assertion id already used (replay)".into());
        // The replay cache is shared by every instance through the store.
        let new = login
            .store
            .accept(Accept {
                assertion_id: verified.assertion_id.clone(),
                until: verified.replay_until,
                now,
                fresh,
                replay: vec![replay.detail("code", "replay")],
            })
            .await
            .map_err(|e| unavailable(&e))?;
        if !new {
            tracing::warn!(code = "replay", assertion_id = %verified.assertion_id, subject = %verified.claims.name_id, "sign-in refused: assertion replayed");
            login.metrics.inc(
                metric::LOGIN,
                &[("outcome", "failure"), ("reason", "replay")],
            );
            return Err(LoginError::Replay);
        }
        login.metrics.inc(metric::LOGIN, &[("outcome", "success")]);
        tracing::info!(subject = %verified.claims.name_id, assertion_id = %verified.assertion_id, roles = verified.claims.roles.len(), "sign-in accepted");

        // Policy: one role, a choice, or a refusal.
        let role = match decision {
            Decision::Deny(d) => {
                tracing::warn!(subject = %verified.claims.name_id, detail = %d.detail, "no role allowed");
                return Err(LoginError::NoRole { reason: d.reason });
            }
            Decision::Role(r) => Some(r),
            Decision::Choose(_) => None,
        };
        let s = &login.settings;
        let mut data = SessionData::from_login(
            &verified,
            login.policy.allowed(&verified.claims),
            &s.admin_groups,
            now,
            s.absolute_timeout,
        );
        data.return_to = pending
            .and_then(|p| p.return_to)
            .and_then(|r| ReturnTo::parse(&r))
            .map(|r| r.as_str().to_string());
        data.sealed_assertion = Some(
            login
                .cipher
                .seal(saml_for_exchange.as_bytes(), AAD_ASSERTION)
                .map_err(|e| LoginError::Internal(e.to_string()))?,
        );
        let next = match &role {
            None => Next::ChooseRole,
            Some(r) => {
                let via = if hint.is_some() {
                    "preselected"
                } else {
                    "automatic"
                };
                match self.issue(&mut data, r, via).await {
                    Ok(()) => Next::Go(data.return_to.clone().unwrap_or_else(|| "/".into())),
                    Err(e) => Next::IssueFailed(e),
                }
            }
        };
        Ok(Accepted {
            session: data,
            next,
        })
    }

    /// A response refused before verification finished (the form could not
    /// be read: too large, or no SAMLResponse), audited like any refusal.
    pub async fn reject(&self, error: SamlError) -> LoginError {
        self.refuse(error.into()).await
    }

    /// Audit and count a refusal; the error carries what the person sees.
    async fn refuse(&self, refusal: Refusal) -> LoginError {
        let err = refusal.error;
        let reason: String = err.to_string().chars().take(300).collect();
        tracing::warn!(code = err.code(), %reason, subject = ?refusal.subject, "sign-in refused");
        self.login.metrics.inc(
            metric::LOGIN,
            &[("outcome", "failure"), ("reason", err.code())],
        );
        let mut event = self.event_about(
            crate::audit::names::LOGIN_FAILED,
            Outcome::Failure,
            refusal.subject.as_deref(),
            refusal.assertion_id.as_deref(),
        );
        // Parts of the reason may come from unsigned input: keep it short.
        event.reason = Some(reason);
        let event = event.detail("code", err.code());
        if let Err(e) = self.login.audit.record(event).await {
            return LoginError::Unavailable(e.to_string());
        }
        LoginError::Refused(err)
    }

    /// The login.succeeded event with the claims that matter to a reviewer.
    fn login_succeeded(&self, v: &VerifiedAssertion, idp_initiated: bool) -> AuditEvent {
        self.event_about(
            crate::audit::names::LOGIN_SUCCEEDED,
            Outcome::Success,
            Some(&v.claims.name_id),
            Some(&v.assertion_id),
        )
        .detail(
            "roles",
            v.claims
                .roles
                .iter()
                .map(|r| r.role.as_str())
                .collect::<Vec<_>>(),
        )
        .detail("groups", v.claims.groups.clone())
        .detail(
            "malformed_roles",
            v.claims
                .malformed_roles
                .iter()
                .map(|m| format!("{}: {}", m.value, m.problem))
                .collect::<Vec<_>>(),
        )
        .detail("idp_initiated", idp_initiated)
    }
}
