//! `/saml/*`: SP metadata, SP-initiated login and the ACS.

use super::flow::{Ctx, IssueError};
use super::session::AAD_ASSERTION;
use super::session::{SessionData, KEY};
use super::{AppState, ClientInfo, PageError, RequestId};
use crate::audit::Outcome;
use crate::policy::Decision;
use crate::saml::authn::{self, RelayState, ReturnTo};
use crate::saml::{metadata, Refusal, RoleArn, SamlError, VerifiedAssertion};
use crate::store::Pending;
use axum::extract::{DefaultBodyLimit, Extension, Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/saml/metadata", get(metadata_get))
        .route("/saml/login", get(login_get))
        .route(
            "/saml/acs",
            post(acs_post).layer(DefaultBodyLimit::max(600 * 1024)),
        )
}

async fn metadata_get(State(state): State<AppState>) -> Response {
    let cfg = &state.config;
    (
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        metadata::sp_metadata(&cfg.sp_entity_id(), &cfg.acs_url()),
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    /// A role to select after sign-in (a role switch that needs a fresh assertion).
    role: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn login_get(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Query(q): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let return_to = match q.return_to.as_deref() {
        None | Some("") => None,
        Some(r) => Some(ReturnTo::parse(r).ok_or_else(|| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "Sign-in link not valid",
                "This sign-in link points outside this application, so it was not followed.",
                &rid.0,
            )
        })?),
    };
    let cfg = &state.config;
    let now = state.clock.now();
    let relay = RelayState::generate();
    let request_id = crate::ids::new_id();
    let ttl = crate::config::chrono_duration(cfg.limits.pending_request_ttl);
    let pending = Pending {
        request_id: request_id.clone(),
        return_to: return_to.map(|r| r.as_str().to_string()),
        role_hint: q
            .role
            .as_deref()
            .and_then(RoleArn::parse)
            .map(|r| r.as_str().to_string()),
        browser_nonce: super::session::new_token(),
    };
    state
        .store
        .put_pending(relay.as_str(), &pending, now, now + ttl)
        .await
        .map_err(|e| PageError::unavailable(&rid.0, e))?;
    let url = authn::redirect_url(
        &state.verifier.idp().sso_redirect_url,
        &request_id,
        now,
        &cfg.sp_entity_id(),
        &cfg.acs_url(),
        &relay,
    )
    .map_err(|e| PageError::internal(&rid.0, e))?;
    state.metrics.inc(super::metric::LOGIN_STARTED, &[]);
    let cookie = login_cookie(
        &pending.browser_nonce,
        cfg.limits.pending_request_ttl.as_secs(),
        cfg.is_https(),
    );
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, url),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response())
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn acs_post(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(client): Extension<ClientInfo>,
    session: Session,
    headers: axum::http::HeaderMap,
    form: Result<Form<AcsForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let nonce = login_nonce(&headers);
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => {
            let err = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                SamlError::TooLarge(0)
            } else {
                SamlError::Missing
            };
            return Err(refuse(&state, &rid, &client, err.into()).await);
        }
    };
    let saml_response = form.saml_response.unwrap_or_default();
    let saml_for_exchange = saml_response.split_ascii_whitespace().collect::<String>();
    // Look up the pending request by RelayState, server side.
    let relay = form.relay_state.as_deref().and_then(RelayState::parse);
    let pending = match &relay {
        Some(r) => state
            .store
            .take_pending(r.as_str(), nonce.as_deref().unwrap_or_default(), now)
            .await
            .map_err(|e| PageError::unavailable(&rid.0, e))?,
        None => None,
    };
    let expected = pending.as_ref().map(|p| p.request_id.clone());
    let inner = state.verifier_arc();
    let verified = tokio::task::spawn_blocking(move || {
        inner
            .verifier
            .verify(&saml_response, expected.as_deref(), now)
    })
    .await
    .map_err(|e| PageError::internal(&rid.0, e))?;
    let verified = match verified {
        Ok(v) => v,
        Err(refusal) => return Err(refuse(&state, &rid, &client, refusal).await),
    };
    // Replay cache, shared by every instance through the store.
    let fresh = state
        .store
        .remember_assertion(&verified.assertion_id, verified.replay_until, now)
        .await
        .map_err(|e| PageError::unavailable(&rid.0, e))?;
    if !fresh {
        return Err(refuse_replay(&state, &rid, &client, &verified).await);
    }
    for m in &verified.claims.malformed_roles {
        tracing::warn!(subject = %verified.claims.name_id, value = %m.value, problem = %m.problem, "malformed Role attribute value ignored");
    }
    let ctx = Ctx {
        state: &state,
        rid: &rid,
        client: &client,
    };
    let event = ctx.event_about(
        crate::audit::names::LOGIN_SUCCEEDED,
        Outcome::Success,
        Some(&verified.claims.name_id),
        Some(&verified.assertion_id),
    );
    let event = event
        .detail(
            "roles",
            verified
                .claims
                .roles
                .iter()
                .map(|r| r.role.as_str())
                .collect::<Vec<_>>(),
        )
        .detail("groups", verified.claims.groups.clone())
        .detail(
            "malformed_roles",
            verified
                .claims
                .malformed_roles
                .iter()
                .map(|m| format!("{}: {}", m.value, m.problem))
                .collect::<Vec<_>>(),
        )
        .detail("idp_initiated", pending.is_none());
    state
        .audit
        .record(event)
        .await
        .map_err(|e| PageError::unavailable(&rid.0, e))?;
    state
        .metrics
        .inc(super::metric::LOGIN, &[("outcome", "success")]);
    tracing::info!(subject = %verified.claims.name_id, assertion_id = %verified.assertion_id, roles = verified.claims.roles.len(), "sign-in accepted");

    // Policy: one role, a choice, or a refusal.
    let hint = pending
        .as_ref()
        .and_then(|p| p.role_hint.as_deref())
        .and_then(RoleArn::parse);
    let decision = state.policy.decide(&verified.claims, hint.as_ref());
    let role = match decision {
        Decision::Deny(d) => {
            tracing::warn!(subject = %verified.claims.name_id, detail = %d.detail, "no role allowed");
            let mut event = ctx.event_about(
                crate::audit::names::LOGIN_FAILED,
                Outcome::Failure,
                Some(&verified.claims.name_id),
                Some(&verified.assertion_id),
            );
            event.reason = Some(d.detail.clone());
            state
                .audit
                .record(event.detail("code", "policy_denied"))
                .await
                .map_err(|e| PageError::unavailable(&rid.0, e))?;
            let mut page = PageError::new(
                StatusCode::FORBIDDEN,
                "No AWS role available",
                d.reason,
                &rid.0,
            );
            page.retry = false;
            return Err(page);
        }
        Decision::Role(r) => Some(r),
        Decision::Choose(_) => None,
    };
    let cfg = &state.config;
    let absolute = crate::config::chrono_duration(cfg.session.absolute_timeout);
    let mut data = SessionData::from_login(
        &verified,
        state.policy.allowed(&verified.claims),
        &cfg.admin.groups,
        now,
        absolute,
    );
    data.return_to = pending
        .and_then(|p| p.return_to)
        .and_then(|r| ReturnTo::parse(&r))
        .map(|r| r.as_str().to_string());
    data.sealed_assertion = Some(
        state
            .cipher
            .seal(saml_for_exchange.as_bytes(), AAD_ASSERTION)
            .map_err(|e| PageError::internal(&rid.0, e))?,
    );
    let ctx = Ctx {
        state: &state,
        rid: &rid,
        client: &client,
    };
    let outcome = match &role {
        Some(r) => Some(
            ctx.issue(
                &mut data,
                r,
                if hint.is_some() {
                    "preselected"
                } else {
                    "automatic"
                },
            )
            .await,
        ),
        None => None,
    };
    session
        .cycle_id()
        .await
        .map_err(|e| PageError::unavailable(&rid.0, e))?;
    session
        .insert(KEY, &data)
        .await
        .map_err(|e| PageError::unavailable(&rid.0, e))?;
    match outcome {
        None => Ok(Redirect::to("/choose-role").into_response()),
        Some(Ok(())) => Ok(Redirect::to(data.return_to.as_deref().unwrap_or("/")).into_response()),
        Some(Err(e)) => Err(issue_page(&rid, e)),
    }
}

/// The cookie that binds a pending sign-in to the browser that started it.
/// It must survive the IdP's cross-site POST back to the ACS, so on https it
/// is `SameSite=None; Secure`; it is scoped to the ACS path and short-lived.
const LOGIN_COOKIE: &str = "broker_login";

fn login_cookie(nonce: &str, ttl_seconds: u64, https: bool) -> String {
    let same_site = if https {
        "SameSite=None; Secure"
    } else {
        "SameSite=Lax"
    };
    format!("{LOGIN_COOKIE}={nonce}; Path=/saml/acs; Max-Age={ttl_seconds}; HttpOnly; {same_site}")
}

fn login_nonce(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == LOGIN_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The page for a failed exchange.
pub fn issue_page(rid: &RequestId, e: IssueError) -> PageError {
    match e {
        IssueError::Exchange(x) => {
            tracing::warn!(code = x.code(), detail = %x.detail, "credential exchange failed");
            let mut p = PageError::new(
                StatusCode::BAD_GATEWAY,
                "Could not get AWS credentials",
                x.user_message(),
                &rid.0,
            );
            p.retry = x.needs_new_sign_in();
            p
        }
        IssueError::NeedsSignIn => PageError::new(
            StatusCode::UNAUTHORIZED,
            "Please sign in again",
            "Your sign-in is too old to get new AWS credentials. Please sign in again.",
            &rid.0,
        ),
        IssueError::Audit(a) => PageError::unavailable(&rid.0, a),
        IssueError::Internal(i) => PageError::internal(&rid.0, i),
    }
}

async fn refuse(
    state: &AppState,
    rid: &RequestId,
    client: &ClientInfo,
    refusal: Refusal,
) -> PageError {
    let err = &refusal.error;
    let reason: String = err.to_string().chars().take(300).collect();
    tracing::warn!(code = err.code(), %reason, subject = ?refusal.subject, "sign-in refused");
    state.metrics.inc(
        super::metric::LOGIN,
        &[("outcome", "failure"), ("reason", err.code())],
    );
    let mut event = Ctx { state, rid, client }.event_about(
        crate::audit::names::LOGIN_FAILED,
        Outcome::Failure,
        refusal.subject.as_deref(),
        refusal.assertion_id.as_deref(),
    );
    // Parts of the reason may come from unsigned input: keep it short.
    event.reason = Some(reason);
    let event = event.detail("code", err.code());
    if let Err(e) = state.audit.record(event).await {
        return PageError::unavailable(&rid.0, e);
    }
    let status = match err {
        SamlError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        SamlError::BadSignature(_) | SamlError::Wrapped | SamlError::Unsigned => {
            StatusCode::FORBIDDEN
        }
        _ => StatusCode::BAD_REQUEST,
    };
    PageError::new(status, "Sign-in refused", err.user_message(), &rid.0)
}

async fn refuse_replay(
    state: &AppState,
    rid: &RequestId,
    client: &ClientInfo,
    v: &VerifiedAssertion,
) -> PageError {
    tracing::warn!(code = "replay", assertion_id = %v.assertion_id, subject = %v.claims.name_id, "sign-in refused: assertion replayed");
    state.metrics.inc(
        super::metric::LOGIN,
        &[("outcome", "failure"), ("reason", "replay")],
    );
    let mut event = Ctx { state, rid, client }.event_about(
        crate::audit::names::LOGIN_FAILED,
        Outcome::Failure,
        Some(&v.claims.name_id),
        Some(&v.assertion_id),
    );
    event.reason = Some("assertion id already used (replay)".into());
    let event = event.detail("code", "replay");
    if let Err(e) = state.audit.record(event).await {
        return PageError::unavailable(&rid.0, e);
    }
    PageError::new(
        StatusCode::BAD_REQUEST,
        "Sign-in refused",
        "This sign-in link has already been used. Please sign in again.",
        &rid.0,
    )
}
