//! The signed-in pages: the landing page, `/api/session` and logout.

use super::session::{tokens_equal, SessionData, KEY};
use super::{ApiError, AppState, ClientInfo, PageError, RequestId};
use crate::audit::{AuditEvent, Outcome};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home_get))
        .route("/logout", post(logout_post))
        .route("/signed-out", get(signed_out_get))
        .route("/api/session", get(api_session_get))
        .route("/static/app.css", get(css_get))
}

/// The session if it exists and has not passed its absolute expiry.
pub async fn current(state: &AppState, session: &Session) -> Option<SessionData> {
    let data: SessionData = session.get(KEY).await.ok().flatten()?;
    if state.clock.now() >= data.expires_at {
        let _ = session.flush().await;
        return None;
    }
    Some(data)
}

pub struct RoleRow {
    pub account_id: String,
    pub role_name: String,
    pub role_arn: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    data: SessionData,
    roles: Vec<RoleRow>,
}

async fn home_get(State(state): State<AppState>, session: Session) -> Response {
    let Some(data) = current(&state, &session).await else {
        return Redirect::to("/saml/login?return_to=/").into_response();
    };
    let roles = data
        .roles
        .iter()
        .map(|g| RoleRow {
            account_id: g.role.account_id().to_string(),
            role_name: g.role.role_name().to_string(),
            role_arn: g.role.as_str().to_string(),
        })
        .collect();
    let mut resp = HomePage { data, roles }.into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    resp
}

#[derive(Template, WebTemplate)]
#[template(path = "signed_out.html")]
struct SignedOutPage;

async fn signed_out_get() -> impl IntoResponse {
    SignedOutPage
}

async fn css_get() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
}

#[derive(Serialize)]
struct RoleJson {
    role_arn: String,
    provider_arn: String,
    account_id: String,
    role_name: String,
}

#[derive(Serialize)]
struct SessionJson {
    subject: String,
    session_name: Option<String>,
    groups: Vec<String>,
    roles: Vec<RoleJson>,
    role_arn: Option<String>,
    expiration: String,
    is_admin: bool,
    csrf_token: String,
}

async fn api_session_get(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    session: Session,
) -> Result<Response, ApiError> {
    let data = current(&state, &session)
        .await
        .ok_or_else(|| ApiError::unauthenticated(&rid.0))?;
    let body = SessionJson {
        subject: data.subject.clone(),
        session_name: data.session_name.clone(),
        groups: data.groups.clone(),
        roles: data
            .roles
            .iter()
            .map(|g| RoleJson {
                role_arn: g.role.as_str().into(),
                provider_arn: g.provider.as_str().into(),
                account_id: g.role.account_id().into(),
                role_name: g.role.role_name().into(),
            })
            .collect(),
        role_arn: data.role_arn.clone(),
        expiration: data
            .expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        is_admin: data.is_admin,
        csrf_token: data.csrf_token.clone(),
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf_token: Option<String>,
}

/// A state-changing request must carry the session's CSRF token (header or
/// form field) and, when the browser sends one, a same-origin Origin header.
pub fn csrf_ok(
    state: &AppState,
    headers: &HeaderMap,
    data: &SessionData,
    form_token: Option<&str>,
) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let public = url::Url::parse(&state.config.server.public_url)
            .ok()
            .map(|u| u.origin().ascii_serialization());
        if public.as_deref() != Some(origin) {
            return false;
        }
    }
    let header_token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    header_token
        .or(form_token)
        .is_some_and(|t| tokens_equal(t, &data.csrf_token))
}

async fn logout_post(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(client): Extension<ClientInfo>,
    session: Session,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    let Some(data) = current(&state, &session).await else {
        return Ok(Redirect::to("/signed-out").into_response());
    };
    let token = form.as_ref().ok().and_then(|f| f.csrf_token.as_deref());
    if !csrf_ok(&state, &headers, &data, token) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This request did not come from this application's own page, so it was refused. Reload the page and try again.",
            &rid.0,
        ));
    }
    let mut event = AuditEvent::new("logout", Outcome::Success, state.clock.now());
    event.subject = Some(data.subject.clone());
    event.request_id = Some(rid.0.clone());
    event.source_ip = client.ip.clone();
    event.user_agent = client.user_agent.clone();
    event.idp = Some(data.idp.clone());
    event.assertion_id = Some(data.assertion_id.clone());
    event.role_arn = data.role_arn.clone();
    state
        .audit
        .record(event)
        .await
        .map_err(|e| PageError::unavailable(&rid.0, e))?;
    session
        .flush()
        .await
        .map_err(|e| PageError::unavailable(&rid.0, e))?;
    Ok(Redirect::to("/signed-out").into_response())
}
