//! One page error type for browsers and one JSON error type for `/api`; both
//! carry the request id. 5xx details go to the log, never to the person.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::future::Future;

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: super::nav::Nav,
    title: &'a str,
    message: &'a str,
    request_id: &'a str,
    retry: bool,
}

/// An error shown to a person in the browser.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
    pub request_id: String,
    pub retry: bool,
}

impl PageError {
    pub fn new(
        status: StatusCode,
        title: &'static str,
        message: impl Into<String>,
        request_id: &str,
    ) -> Self {
        Self {
            status,
            title,
            message: message.into(),
            request_id: request_id.to_string(),
            retry: true,
        }
    }

    /// A failure inside the broker: logged with detail, shown without.
    pub fn internal(request_id: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(request_id, error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The sign-in service had a problem. Please try again in a moment.",
            request_id,
        )
    }

    pub fn unavailable(request_id: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(request_id, error = %detail, "service unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "The sign-in service cannot complete this request right now. Please try again in a moment.",
            request_id,
        )
    }
}

/// What an error page says, kept on the response so that [`with_session_nav`]
/// can draw it again with the signed-in header.
#[derive(Debug, Clone)]
pub struct ErrorPageParts {
    title: &'static str,
    message: String,
    request_id: String,
    retry: bool,
}

impl ErrorPageParts {
    fn render(&self, nav: super::nav::Nav) -> Response {
        ErrorPage {
            nav,
            title: self.title,
            message: &self.message,
            request_id: &self.request_id,
            retry: self.retry,
        }
        .into_response()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let parts = ErrorPageParts {
            title: self.title,
            message: self.message,
            request_id: self.request_id,
            retry: self.retry,
        };
        // Drawn signed out here; `with_session_nav` redraws it for a signed-in person.
        let mut resp = parts.render(super::nav::Nav::signed_out());
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        resp.extensions_mut().insert(parts);
        resp
    }
}

/// Middleware (inside the session layer): an error page answered to someone
/// who is signed in gets the signed-in header (Account, Web app, Audit trail,
/// Sign out), whichever handler produced it.
pub async fn with_session_nav(
    axum::extract::State(state): axum::extract::State<super::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let session = req.extensions().get::<tower_sessions::Session>().cloned();
    let resp = next.run(req).await;
    let Some(parts) = resp.extensions().get::<ErrorPageParts>().cloned() else {
        return resp;
    };
    let Some(session) = session else {
        return resp;
    };
    let Some(data) = super::app::current(&state, &session).await else {
        return resp;
    };
    let nav = super::nav::Nav::for_session(&data, super::nav::Here::Other);
    let (head, _) = resp.into_parts();
    let (_, body) = parts.render(nav).into_parts();
    let mut resp = Response::from_parts(head, body);
    resp.headers_mut()
        .remove(axum::http::header::CONTENT_LENGTH);
    resp
}

/// Middleware (just outside the session layer): when tower-sessions cannot
/// save a session (the store is down, the disk is full) it logs "failed to
/// save session" and answers a bare 500 with no body. That is the store
/// being unavailable, like any other failed write: answer 503 with the
/// page (or the JSON error under `/api/`) and the request id instead.
pub async fn session_save_unavailable(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let rid = req
        .extensions()
        .get::<super::RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let api = req.uri().path().starts_with("/api/");
    let resp = next.run(req).await;
    // The broker's own 500s always carry a page or JSON.
    if resp.status() != StatusCode::INTERNAL_SERVER_ERROR
        || resp
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE)
    {
        return resp;
    }
    let detail = "the session could not be saved (see the tower_sessions error before)";
    if api {
        tracing::error!(request_id = %rid, error = detail, "service unavailable");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The broker cannot record this request right now, so it was not carried out. Please try again shortly.",
            &rid,
        )
        .into_response();
    }
    PageError::unavailable(&rid, detail).into_response()
}

/// Any path no route answers: a JSON error under `/api/`, otherwise the
/// broker's error page with its header.
pub async fn not_found(
    axum::extract::Extension(rid): axum::extract::Extension<super::RequestId>,
    uri: axum::http::Uri,
) -> Response {
    if uri.path() == "/api" || uri.path().starts_with("/api/") {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is no such API route.",
            &rid.0,
        )
        .into_response();
    }
    let mut p = PageError::new(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address. Check the link, or start again from the home page.",
        &rid.0,
    );
    p.retry = false;
    p.into_response()
}

/// An error answered to the SPA as JSON: `{"error": code, "message": words, "request_id": id}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub request_id: String,
    /// Where to send the person for a fresh sign-in, when that is the way forward.
    pub login_url: Option<String>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        request_id: &str,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            request_id: request_id.to_string(),
            login_url: None,
        }
    }

    pub fn unauthenticated(request_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "not_signed_in",
            "You are not signed in, or your session has ended.",
            request_id,
        )
    }

    pub fn internal(request_id: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(request_id, error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "The broker had a problem. Please try again.",
            request_id,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = super::api_types::ErrorJson {
            error: self.code.into(),
            message: self.message,
            request_id: self.request_id,
            login_url: self.login_url,
        };
        let mut resp = (self.status, Json(body)).into_response();
        resp.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        resp
    }
}

/// What a person is told about a failed credential exchange: written once,
/// drawn as a page ([`Public::page`]) or as the API's JSON ([`Public::api`]).
pub struct Public {
    pub status: StatusCode,
    pub title: &'static str,
    pub code: &'static str,
    pub message: String,
    /// The page offers "try again" (a new sign-in helps).
    pub retry: bool,
    /// A fresh sign-in is the way forward (the API adds its login_url).
    pub sign_in: bool,
}

impl Public {
    /// `api`: the JSON API's status for an exchange the IdP must redo is
    /// 401 (the web app then signs in again); a page shows 502 with a retry.
    pub fn of_issue(e: &crate::login::IssueError, api: bool) -> Self {
        use crate::login::IssueError;
        const UNAVAILABLE_API: &str = "The broker cannot record this request right now, so it was not carried out. Please try again shortly.";
        const UNAVAILABLE_PAGE: &str = "The sign-in service cannot complete this request right now. Please try again in a moment.";
        match e {
            IssueError::Exchange(x) => {
                tracing::warn!(code = x.code(), detail = %x.detail, "credential exchange failed");
                let status = if api && x.needs_new_sign_in() {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::BAD_GATEWAY
                };
                Self {
                    status,
                    title: "Could not get AWS credentials",
                    code: x.code(),
                    message: x.user_message().to_string(),
                    retry: x.needs_new_sign_in(),
                    sign_in: false,
                }
            }
            IssueError::NeedsSignIn => Self {
                status: StatusCode::UNAUTHORIZED,
                title: "Please sign in again",
                code: "sign_in_required",
                message:
                    "Your sign-in is too old to get new AWS credentials. Please sign in again."
                        .into(),
                retry: true,
                sign_in: true,
            },
            IssueError::Audit(a) => {
                tracing::error!(error = %a, "audit trail unavailable");
                Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    title: "Temporarily unavailable",
                    code: "unavailable",
                    message: if api {
                        UNAVAILABLE_API
                    } else {
                        UNAVAILABLE_PAGE
                    }
                    .into(),
                    retry: true,
                    sign_in: false,
                }
            }
            IssueError::Internal(i) => {
                tracing::error!(error = %i, "internal error");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    title: "Something went wrong",
                    code: "internal",
                    message: if api {
                        "The broker had a problem. Please try again."
                    } else {
                        "The sign-in service had a problem. Please try again in a moment."
                    }
                    .into(),
                    retry: true,
                    sign_in: false,
                }
            }
        }
    }
}

tokio::task_local! {
    /// The request id of the request being answered, set by the request-id
    /// middleware, so that an error made from a lower layer's error (`?`)
    /// carries it without every handler threading it through.
    static REQUEST_ID: String;
}

/// Run `f` (the rest of the request) with `id` as its request id.
pub async fn with_request_id<F: Future>(id: String, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

/// The id of the request being answered ("" outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

impl From<crate::audit::AuditError> for PageError {
    fn from(e: crate::audit::AuditError) -> Self {
        Self::unavailable(&current_request_id(), e)
    }
}

impl From<tower_sessions::session::Error> for PageError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::unavailable(&current_request_id(), e)
    }
}

impl From<crate::login::LoginError> for PageError {
    fn from(e: crate::login::LoginError) -> Self {
        super::saml::login_page(&super::RequestId(current_request_id()), e)
    }
}

impl From<crate::login::IssueError> for PageError {
    fn from(e: crate::login::IssueError) -> Self {
        super::saml::issue_page(&super::RequestId(current_request_id()), e)
    }
}

impl From<tower_sessions::session::Error> for ApiError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::internal(&current_request_id(), e)
    }
}

impl From<crate::audit::AuditError> for ApiError {
    fn from(e: crate::audit::AuditError) -> Self {
        let p = Public::of_issue(&crate::login::IssueError::Audit(e), true);
        Self::new(p.status, p.code, p.message, &current_request_id())
    }
}
