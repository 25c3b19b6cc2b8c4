//! `/saml/*`: SP metadata, SP-initiated login and the ACS.

use super::session::KEY;
use super::{AppState, PageError, Req, RequestId};
use crate::login::{AcsInput, IssueError, LoginError, Next};
use crate::saml::{metadata, SamlError};
use axum::extract::{DefaultBodyLimit, Form, Query, State};
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
    Query(q): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let started = state
        .login
        .start(q.return_to.as_deref(), q.role.as_deref())
        .await?;
    let cfg = &state.config;
    let cookie = login_cookie(
        &started.browser_nonce,
        cfg.limits.pending_request_ttl.as_secs(),
        cfg.is_https(),
    );
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, started.redirect_url),
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
    req: Req,
    session: Session,
    headers: axum::http::HeaderMap,
    form: Result<Form<AcsForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    let flows = state.login.ctx(&req.client);
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(flows.reject(SamlError::TooLarge(0)).await.into())
        }
        Err(_) => return Err(flows.reject(SamlError::Missing).await.into()),
    };
    let accepted = flows
        .accept(AcsInput {
            saml_response: form.saml_response.unwrap_or_default(),
            relay_state: form.relay_state,
            browser_nonce: login_nonce(&headers),
        })
        .await?;
    // A new id for a browser that already had a session (session fixation);
    // a browser without one gets its first id when the session is saved, so
    // no delete is sent for an id that never existed.
    if session.id().is_some() {
        session.cycle_id().await?;
    }
    session.insert(KEY, &accepted.session).await?;
    match accepted.next {
        Next::ChooseRole => Ok(Redirect::to("/choose-role").into_response()),
        Next::Go(to) => Ok(Redirect::to(&to).into_response()),
        Next::IssueFailed(e) => Err(e.into()),
    }
}

/// The page for a sign-in that did not start a session.
pub(super) fn login_page(rid: &RequestId, e: LoginError) -> PageError {
    match e {
        LoginError::Refused(err) => {
            let status = match err {
                SamlError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                SamlError::BadSignature(_) | SamlError::Wrapped | SamlError::Unsigned => {
                    StatusCode::FORBIDDEN
                }
                _ => StatusCode::BAD_REQUEST,
            };
            PageError::new(status, "Sign-in refused", err.user_message(), &rid.0)
        }
        LoginError::Replay => PageError::new(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            "This sign-in link has already been used. Please sign in again.",
            &rid.0,
        ),
        LoginError::NoRole { reason } => {
            let mut page = PageError::new(
                StatusCode::FORBIDDEN,
                "No AWS role available",
                reason,
                &rid.0,
            );
            page.retry = false;
            page
        }
        LoginError::BadReturnTo => PageError::new(
            StatusCode::BAD_REQUEST,
            "Sign-in link not valid",
            "This sign-in link points outside this application, so it was not followed.",
            &rid.0,
        ),
        LoginError::Unavailable(e) => PageError::unavailable(&rid.0, e),
        LoginError::Internal(e) => PageError::internal(&rid.0, e),
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
    let p = super::error::Public::of_issue(&e, false);
    let mut page = PageError::new(p.status, p.title, p.message, &rid.0);
    page.retry = p.retry;
    page
}
