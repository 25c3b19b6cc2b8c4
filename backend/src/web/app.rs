//! The server-rendered pages: the landing page, the role picker, logout.

use super::nav::{Here, Nav};
use super::session::{tokens_equal, SessionData, KEY};
use super::{AppState, PageError, Req, RequestId};
use crate::login::{ChooseError, IssueError};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home_get))
        .route("/choose-role", get(choose_role_get).post(choose_role_post))
        .route("/logout", post(logout_post))
        .route("/signed-out", get(signed_out_get))
        .route("/signing-in", get(signing_in_get))
        .route("/static/app.css", get(css_get))
        .route("/static/local-time.js", get(local_time_js_get))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
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

/// One role as a person sees it.
pub struct RoleRow {
    pub account_id: String,
    pub account_alias: String,
    pub role_name: String,
    pub role_arn: String,
    /// `role_arn` as HTML, with `<wbr>` after each `/` and `:`.
    pub role_arn_html: String,
    pub duration_minutes: i32,
    pub current: bool,
    /// Checked on the picker: the role in use, or the first when none is.
    pub checked: bool,
}

pub fn rows(state: &AppState, data: &SessionData) -> Vec<RoleRow> {
    let in_use = data.role_arn().is_some();
    data.allowed
        .iter()
        .enumerate()
        .map(|(i, r)| RoleRow {
            account_id: r.grant.role.account_id().to_string(),
            account_alias: state
                .policy
                .account_alias(r.grant.role.account_id())
                .unwrap_or_default()
                .to_string(),
            role_name: r.grant.role.role_name().to_string(),
            role_arn: r.grant.role.as_str().to_string(),
            role_arn_html: super::text::arn_html(r.grant.role.as_str()),
            duration_minutes: r.duration_seconds / 60,
            current: data.role_arn() == Some(r.grant.role.as_str()),
            checked: if in_use {
                data.role_arn() == Some(r.grant.role.as_str())
            } else {
                i == 0
            },
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    data: SessionData,
    csrf_token: String,
    roles: Vec<RoleRow>,
    current: Option<RoleRow>,
    /// The principal ARN as HTML, with `<wbr>` after each `/` and `:`.
    principal_arn: String,
    /// The expiry in UTC words, the fallback text of its `<time>`.
    expires: String,
    /// The expiry in RFC 3339, for `<time datetime>`.
    expires_at: String,
    expired: bool,
    fallback: bool,
    sign_in_again: String,
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn home_get(State(state): State<AppState>, session: Session) -> Response {
    let Some(data) = current(&state, &session).await else {
        return Redirect::to("/saml/login?return_to=/").into_response();
    };
    let roles = rows(&state, &data);
    let current = roles.iter().position(|r| r.current).map(|i| {
        let r = &roles[i];
        RoleRow {
            account_id: r.account_id.clone(),
            account_alias: r.account_alias.clone(),
            role_name: r.role_name.clone(),
            role_arn: r.role_arn.clone(),
            role_arn_html: r.role_arn_html.clone(),
            duration_minutes: r.duration_minutes,
            current: true,
            checked: true,
        }
    });
    let now = state.clock.now();
    let (principal_arn, expires, expires_at, expired, fallback, sign_in_again) = match &data.current
    {
        Some(c) => (
            super::text::arn_html(&c.principal_arn),
            super::text::utc_short(&c.expiration),
            super::text::rfc3339(&c.expiration),
            now >= c.expiration,
            c.duration_fallback,
            login_url(&c.role_arn, "/"),
        ),
        None => (
            String::new(),
            String::new(),
            String::new(),
            false,
            false,
            String::new(),
        ),
    };
    no_store(
        HomePage {
            nav: Nav::for_session(&data, Here::Account),
            csrf_token: data.csrf_token.clone(),
            data,
            roles,
            current,
            principal_arn,
            expires,
            expires_at,
            expired,
            fallback,
            sign_in_again,
        }
        .into_response(),
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "choose_role.html")]
struct ChooseRolePage {
    nav: Nav,
    roles: Vec<RoleRow>,
    subject: String,
    csrf_token: String,
}

async fn choose_role_get(State(state): State<AppState>, session: Session) -> Response {
    let Some(data) = current(&state, &session).await else {
        return Redirect::to("/saml/login?return_to=/choose-role").into_response();
    };
    let roles = rows(&state, &data);
    no_store(
        ChooseRolePage {
            nav: Nav::for_session(&data, Here::Other),
            roles,
            subject: data.subject.clone(),
            csrf_token: data.csrf_token.clone(),
        }
        .into_response(),
    )
}

#[derive(Deserialize)]
struct ChooseForm {
    csrf_token: Option<String>,
    role_arn: Option<String>,
}

fn csrf_refused(rid: &RequestId) -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This request did not come from this application's own page, so it was refused. Reload the page and try again.",
        &rid.0,
    )
}

async fn choose_role_post(
    State(state): State<AppState>,
    req: Req,
    session: Session,
    headers: HeaderMap,
    Form(f): Form<ChooseForm>,
) -> Result<Response, PageError> {
    let Some(mut data) = current(&state, &session).await else {
        return Ok(Redirect::to("/saml/login?return_to=/choose-role").into_response());
    };
    if !csrf_ok(&state, &headers, &data, f.csrf_token.as_deref()) {
        return Err(csrf_refused(&req.rid));
    }
    let wanted = f.role_arn.unwrap_or_default();
    match state
        .ctx(&req.client)
        .choose(&mut data, &wanted, "picker")
        .await
    {
        Ok(()) => {
            session.insert(KEY, &data).await?;
            Ok(Redirect::to(data.return_to.as_deref().unwrap_or("/")).into_response())
        }
        Err(ChooseError::NotAllowed) => {
            let mut p = PageError::new(
                StatusCode::FORBIDDEN,
                "Role not available",
                "That role is not one you may use here. Choose one of the roles listed.",
                &req.rid.0,
            );
            p.retry = false;
            Err(p)
        }
        Err(ChooseError::Issue(IssueError::NeedsSignIn)) => {
            let back = data.return_to.clone().unwrap_or_else(|| "/".into());
            Ok(Redirect::to(&login_url(&wanted, &back)).into_response())
        }
        Err(ChooseError::Issue(e)) => Err(e.into()),
    }
}

/// A fresh sign-in that selects `role` and comes back to `return_to`.
pub fn login_url(role: &str, return_to: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "/saml/login?role={}&return_to={}",
        enc(role),
        enc(return_to)
    )
}

/// Where the web app lives; the sign-in it starts comes back here.
pub const APP_PATH: &str = "/app/";

#[derive(Template, WebTemplate)]
#[template(path = "signing_in.html")]
struct SigningInPage {
    nav: Nav,
    next: String,
}

#[derive(Deserialize)]
struct SigningInQuery {
    next: Option<String>,
}

/// The hand-over from the web app to the IdP: a broker page that says why
/// the person is about to leave ("Your AWS session ended; signing you in
/// again…") and then follows `next`, which must be this broker's own
/// `/saml/login` (anything else falls back to a plain sign-in back to the app).
async fn signing_in_get(axum::extract::Query(q): axum::extract::Query<SigningInQuery>) -> Response {
    let next = q
        .next
        .filter(|n| is_login_path(n))
        .unwrap_or_else(|| format!("/saml/login?return_to={}", enc(APP_PATH)));
    no_store(
        SigningInPage {
            nav: Nav::signed_out(),
            next,
        }
        .into_response(),
    )
}

/// True for `/saml/login` with an optional query: a same-origin path, nothing that a browser could
/// read as another origin.
fn is_login_path(s: &str) -> bool {
    let (path, query) = s.split_once('?').unwrap_or((s, ""));
    path == "/saml/login"
        && s.len() <= 4096
        && !query.contains('#')
        && !s
            .chars()
            .any(|c| c.is_control() || c == '\\' || c == '"' || c == '<' || c == '>')
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "signed_out.html")]
struct SignedOutPage {
    nav: Nav,
}

async fn signed_out_get() -> impl IntoResponse {
    SignedOutPage {
        nav: Nav::signed_out(),
    }
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

/// Rewrites `<time data-local-time>` to the browser's time zone (the pages
/// write UTC as the fallback). A file of its own: the CSP allows no inline script.
async fn local_time_js_get() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/local-time.js"),
    )
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
    // With `Referrer-Policy: no-referrer`, browsers send `Origin: null` on
    // form posts; the token (below) is then the check that decides.
    if let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
    {
        let public = state.config.server.public_url.url().origin();
        if public.ascii_serialization() != origin {
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
    req: Req,
    session: Session,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    let Some(data) = current(&state, &session).await else {
        return Ok(Redirect::to("/signed-out").into_response());
    };
    let token = form.as_ref().ok().and_then(|f| f.csrf_token.as_deref());
    if !csrf_ok(&state, &headers, &data, token) {
        return Err(csrf_refused(&req.rid));
    }
    state.ctx(&req.client).logout(&data).await?;
    session.flush().await?;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return Ok(
            axum::Json(super::api_types::SignedOutJson { signed_out: true }).into_response(),
        );
    }
    Ok(Redirect::to("/signed-out").into_response())
}
