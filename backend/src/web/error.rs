//! One page error type for browsers and one JSON error type for `/api`; both
//! carry the request id. 5xx details go to the log, never to the person.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

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

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            nav: super::nav::Nav::signed_out(),
            title: self.title,
            message: &self.message,
            request_id: &self.request_id,
            retry: self.retry,
        };
        let mut resp = page.into_response();
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        resp
    }
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
        let mut body = serde_json::json!({
            "error": self.code,
            "message": self.message,
            "request_id": self.request_id,
        });
        if let Some(u) = self.login_url {
            body["login_url"] = serde_json::Value::String(u);
        }
        let mut resp = (self.status, Json(body)).into_response();
        resp.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        resp
    }
}
