//! Getting credentials for a chosen role: unseal the assertion, call the
//! exchange, seal the credentials into the session, audit both steps (fail
//! closed). Shared by the ACS, the role picker and the JSON API; also the
//! renewal of the current credentials and sign-out.

use super::session::{CurrentRole, SessionData, AAD_ASSERTION, AAD_CREDENTIALS};
use super::Ctx;
use crate::audit::{AuditError, AuditEvent, Outcome};
use crate::config::Secret;
use crate::exchange::{Credentials, ExchangeError, ExchangeRequest};
use crate::policy::AllowedRole;

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

/// Why a chosen role was not granted.
#[derive(Debug, thiserror::Error)]
pub enum ChooseError {
    #[error("the role is not in the allowed set")]
    NotAllowed,
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// Why the current credentials could not be handed out.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("no role chosen yet")]
    NoRole,
    #[error("renewing needs the session's CSRF token")]
    CsrfNeeded,
    /// The credentials expired and the assertion can no longer be
    /// exchanged: the session is over (audited as session.expired).
    #[error("credentials expired for {role_arn}")]
    Expired { role_arn: String },
    /// The credentials could not be renewed for `role_arn`.
    #[error("{source}")]
    Issue {
        role_arn: String,
        source: IssueError,
    },
    /// The stored credentials cannot be read (the session key changed): the
    /// caller ends the session.
    #[error("{source}")]
    Unreadable {
        role_arn: String,
        source: IssueError,
    },
}

/// The credentials to hand out, and whether the session changed (renewed).
#[derive(Debug)]
pub struct Fresh {
    pub credentials: Credentials,
    pub role_arn: String,
    pub renewed: bool,
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
        let mut e = AuditEvent::new(name, outcome, self.login.clock.now());
        e.subject = subject.map(str::to_string);
        e.request_id = Some(self.client.request_id.clone());
        e.source_ip = self.client.ip.clone();
        e.user_agent = self.client.user_agent.clone();
        e.idp = Some(self.login.verifier.idp().entity_id.clone());
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
        let state = self.login;
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
        let state = self.login;
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
        let state = self.login;
        let issued = match state.exchange.exchange(&req).await {
            Ok(i) => i,
            Err(e) => {
                state.metrics.inc(
                    crate::metrics::names::EXCHANGE,
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
            .inc(crate::metrics::names::EXCHANGE, &[("outcome", "success")]);
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
            .login
            .cipher
            .open(&current.sealed_credentials, AAD_CREDENTIALS)
            .map_err(|e| {
                tracing::warn!(error = %e, "sealed credentials unreadable (session key rotated?)");
                IssueError::NeedsSignIn
            })?;
        serde_json::from_slice(&plain).map_err(|e| IssueError::Internal(e.to_string()))
    }

    /// A role chosen on the picker (`via = "picker"`) or through the API
    /// (`"api"`): refused and audited when it is not allowed, else issued.
    pub async fn choose(
        &self,
        data: &mut SessionData,
        role_arn: &str,
        via: &'static str,
    ) -> Result<(), ChooseError> {
        let Some(role) = data.allowed_role(role_arn).cloned() else {
            let mut ev = self.event(crate::audit::names::ROLE_SELECTED, Outcome::Failure, data);
            ev.role_arn = Some(role_arn.chars().take(256).collect());
            ev.reason = Some("role not in the allowed set".into());
            self.login
                .audit
                .record(ev.detail("via", via))
                .await
                .map_err(IssueError::from)?;
            return Err(ChooseError::NotAllowed);
        };
        self.issue(data, &role, via).await?;
        Ok(())
    }

    /// The current role's credentials, renewed when they expire within a
    /// minute and `may_renew` (the request carried the CSRF token). When the
    /// session is over, `session.expired` is audited and the caller ends it.
    pub async fn refresh(
        &self,
        data: &mut SessionData,
        may_renew: bool,
    ) -> Result<Fresh, RefreshError> {
        let now = self.login.clock.now();
        let Some(cur) = data.current.clone() else {
            return Err(RefreshError::NoRole);
        };
        if !may_renew && now >= cur.expiration {
            return Err(RefreshError::CsrfNeeded);
        }
        let issue = |source| RefreshError::Issue {
            role_arn: cur.role_arn.clone(),
            source,
        };
        let mut renewed = false;
        // Refresh ahead of expiry while the assertion still allows it; after that the session ends.
        if may_renew && now + chrono::Duration::seconds(60) >= cur.expiration {
            let refreshed = match data.allowed_role(&cur.role_arn).cloned() {
                Some(r) => self.renew(data, &r).await,
                None => Err(IssueError::NeedsSignIn),
            };
            match refreshed {
                Ok(()) => renewed = true,
                Err(IssueError::NeedsSignIn) if now >= cur.expiration => {
                    let mut ev =
                        self.event(crate::audit::names::SESSION_EXPIRED, Outcome::Failure, data);
                    ev.role_arn = Some(cur.role_arn.clone());
                    ev.access_key_id = Some(cur.access_key_id.clone());
                    ev.reason = Some(
                        "credentials expired and the assertion can no longer be exchanged".into(),
                    );
                    self.login
                        .audit
                        .record(ev)
                        .await
                        .map_err(|e| issue(e.into()))?;
                    return Err(RefreshError::Expired {
                        role_arn: cur.role_arn.clone(),
                    });
                }
                Err(IssueError::NeedsSignIn) => {}
                Err(e) => return Err(issue(e)),
            }
        }
        let cur = data
            .current
            .as_ref()
            .ok_or_else(|| issue(IssueError::Internal("no current role after refresh".into())))?;
        let credentials = self
            .credentials(cur)
            .map_err(|source| RefreshError::Unreadable {
                role_arn: cur.role_arn.clone(),
                source,
            })?;
        Ok(Fresh {
            credentials,
            role_arn: cur.role_arn.clone(),
            renewed,
        })
    }

    /// Sign-out, audited before the caller ends the session.
    pub async fn logout(&self, data: &SessionData) -> Result<(), AuditError> {
        let mut event = self.event(crate::audit::names::LOGOUT, Outcome::Success, data);
        event.role_arn = data.role_arn().map(str::to_string);
        event.access_key_id = data.current.as_ref().map(|c| c.access_key_id.clone());
        self.login.audit.record(event).await
    }
}
