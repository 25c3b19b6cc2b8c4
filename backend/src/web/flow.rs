//! Getting credentials for a chosen role: unseal the assertion, call the
//! exchange, seal the credentials into the session, audit both steps (fail
//! closed). Shared by the ACS, the role picker and the JSON API.

use super::session::{CurrentRole, SessionData, AAD_ASSERTION, AAD_CREDENTIALS};
use super::{AppState, ClientInfo, RequestId};
use crate::audit::{AuditError, AuditEvent, Outcome};
use crate::config::Secret;
use crate::exchange::{Credentials, ExchangeError, ExchangeRequest};
use crate::policy::AllowedRole;

/// Who is asking, for the audit trail.
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub rid: &'a RequestId,
    pub client: &'a ClientInfo,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("the assertion can no longer be exchanged; a fresh sign-in is needed")]
    NeedsSignIn,
    #[error("exchange failed: {0}")]
    Exchange(ExchangeError),
    #[error("audit trail unavailable: {0}")]
    Audit(#[from] AuditError),
    #[error("internal: {0}")]
    Internal(String),
}

impl Ctx<'_> {
    /// An event about this request (request id, client address and agent,
    /// the IdP) concerning `subject` and `assertion_id` when known.
    pub fn event_about(
        &self,
        name: &'static str,
        outcome: Outcome,
        subject: Option<&str>,
        assertion_id: Option<&str>,
    ) -> AuditEvent {
        let mut e = AuditEvent::new(name, outcome, self.state.clock.now());
        e.subject = subject.map(str::to_string);
        e.request_id = Some(self.rid.0.clone());
        e.source_ip = self.client.ip.clone();
        e.user_agent = self.client.user_agent.clone();
        e.idp = Some(self.state.verifier.idp().entity_id.clone());
        e.assertion_id = assertion_id.map(str::to_string);
        e
    }

    /// An event about this request by the signed-in person of `data`.
    pub fn event(&self, name: &'static str, outcome: Outcome, data: &SessionData) -> AuditEvent {
        let mut e = self.event_about(name, outcome, Some(&data.subject), Some(&data.assertion_id));
        e.idp = Some(data.idp.clone());
        e
    }

    /// A role chosen (automatically, on the picker, through the API):
    /// exchange the session's assertion for credentials for `role`, audited
    /// as `role.selected` then `credentials.issued`.
    pub async fn issue(
        &self,
        data: &mut SessionData,
        role: &AllowedRole,
        via: &'static str,
    ) -> Result<(), IssueError> {
        self.exchange(data, role, Some(via)).await
    }

    /// A background renewal for the role already in use: the same exchange,
    /// audited as one `credentials.renewed` event (no new choice was made).
    pub async fn renew(
        &self,
        data: &mut SessionData,
        role: &AllowedRole,
    ) -> Result<(), IssueError> {
        self.exchange(data, role, None).await
    }

    /// `via`: how the role was chosen, or None for a renewal.
    async fn exchange(
        &self,
        data: &mut SessionData,
        role: &AllowedRole,
        via: Option<&'static str>,
    ) -> Result<(), IssueError> {
        let state = self.state;
        let now = state.clock.now();
        let sealed = data
            .sealed_assertion
            .as_ref()
            .filter(|_| now < data.assertion_valid_until)
            .ok_or(IssueError::NeedsSignIn)?;
        // A value sealed under another key (the session key was rotated) cannot
        // be opened: a fresh sign-in is the way forward, not an error page.
        let saml = state.cipher.open(sealed, AAD_ASSERTION).map_err(|e| {
            tracing::warn!(error = %e, "sealed assertion unreadable (session key rotated?)");
            IssueError::NeedsSignIn
        })?;
        let saml = String::from_utf8(saml).map_err(|e| IssueError::Internal(e.to_string()))?;
        let req = ExchangeRequest {
            saml_response: Secret::new(saml),
            role: role.grant.clone(),
            duration_seconds: role.duration_seconds,
            session_policy: role.session_policy.clone(),
        };
        let role_arn = role.grant.role.as_str().to_string();
        let previous_key = data
            .current
            .as_ref()
            .filter(|c| c.role_arn == role_arn)
            .map(|c| c.access_key_id.clone());
        if let Some(via) = via {
            self.record_selected(data, role, via).await?;
        }
        self.exchange_and_record(data, req, role_arn, via, previous_key)
            .await
    }

    async fn record_selected(
        &self,
        data: &SessionData,
        role: &AllowedRole,
        via: &'static str,
    ) -> Result<(), IssueError> {
        let state = self.state;
        let mut selected = self.event(crate::audit::names::ROLE_SELECTED, Outcome::Success, data);
        selected.role_arn = Some(role.grant.role.as_str().to_string());
        let selected = selected
            .detail("via", via)
            .detail("rule", role.rule.clone())
            .detail("duration_seconds", role.duration_seconds)
            .detail("session_policy", role.session_policy.is_some())
            .detail(
                "account_alias",
                state
                    .policy
                    .account_alias(role.grant.role.account_id())
                    .map(str::to_string),
            );
        state.audit.record(selected).await?;
        Ok(())
    }

    async fn exchange_and_record(
        &self,
        data: &mut SessionData,
        req: ExchangeRequest,
        role_arn: String,
        via: Option<&'static str>,
        previous_key: Option<String>,
    ) -> Result<(), IssueError> {
        let state = self.state;
        let issued = match state.exchange.exchange(&req).await {
            Ok(i) => i,
            Err(e) => {
                state.metrics.inc(
                    super::metric::EXCHANGE,
                    &[("outcome", "failure"), ("reason", e.code())],
                );
                let mut failed = self.event(
                    crate::audit::names::CREDENTIALS_FAILED,
                    Outcome::Failure,
                    data,
                );
                failed.role_arn = Some(role_arn);
                failed.reason = Some(e.to_string());
                state
                    .audit
                    .record(
                        failed
                            .detail("code", e.code())
                            .detail("mode", state.exchange.mode())
                            .detail("renewal", via.is_none()),
                    )
                    .await?;
                return Err(IssueError::Exchange(e));
            }
        };
        let creds_json = serde_json::to_vec(&issued.credentials)
            .map_err(|e| IssueError::Internal(e.to_string()))?;
        let sealed_credentials = state
            .cipher
            .seal(&creds_json, AAD_CREDENTIALS)
            .map_err(|e| IssueError::Internal(e.to_string()))?;
        let name = if via.is_some() {
            crate::audit::names::CREDENTIALS_ISSUED
        } else {
            crate::audit::names::CREDENTIALS_RENEWED
        };
        let mut ev = self.event(name, Outcome::Success, data);
        ev.role_arn = Some(role_arn.clone());
        ev.access_key_id = Some(issued.credentials.access_key_id.clone());
        let ev = if via.is_none() {
            ev.detail("previous_access_key_id", previous_key)
        } else {
            ev
        };
        let ev = ev
            .detail("principal_arn", issued.principal_arn.clone())
            .detail("expiration", issued.credentials.expiration.to_rfc3339())
            .detail("duration_seconds", issued.duration_seconds)
            .detail("duration_fallback", issued.duration_fallback)
            .detail("mode", state.exchange.mode());
        state.audit.record(ev).await?;
        state
            .metrics
            .inc(super::metric::EXCHANGE, &[("outcome", "success")]);
        data.current = Some(CurrentRole {
            role_arn,
            principal_arn: issued.principal_arn,
            access_key_id: issued.credentials.access_key_id,
            expiration: issued.credentials.expiration,
            duration_seconds: issued.duration_seconds,
            duration_fallback: issued.duration_fallback,
            sealed_credentials,
        });
        Ok(())
    }

    pub fn credentials(&self, current: &CurrentRole) -> Result<Credentials, IssueError> {
        let plain = self
            .state
            .cipher
            .open(&current.sealed_credentials, AAD_CREDENTIALS)
            .map_err(|e| {
                tracing::warn!(error = %e, "sealed credentials unreadable (session key rotated?)");
                IssueError::NeedsSignIn
            })?;
        serde_json::from_slice(&plain).map_err(|e| IssueError::Internal(e.to_string()))
    }
}
