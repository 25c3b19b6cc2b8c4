//! HTTP: axum routes, askama templates, cookies, CSRF, headers and errors.
//! Each area exposes `router()`; [`build_router`] merges them and writes the
//! layer order down in one place.

mod admin;
mod api;
pub mod api_types;
mod app;
pub mod assets;
mod error;
mod health;
pub mod nav;
pub mod ratelimit;
mod saml;
pub use crate::login::{cipher, session};
pub use crate::metrics::names as metric;
pub use crate::text;

use crate::audit::{AuditEvent, Outcome};
use crate::clock::Clock;
use crate::config::Config;
use crate::exchange::Exchange;
use crate::login::session::SessionData;
use crate::login::{Client, Login, Settings};
use crate::metrics::Metrics;
use crate::policy::Policy;
use crate::saml::Verifier;
use crate::store::Store;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::{header, request, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

pub use error::{ApiError, PageError};

/// Shared application state, built once in `main` (or by a test).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    /// The sign-in flows and everything they use (store, audit, verifier…).
    pub login: Login,
}

impl std::ops::Deref for Inner {
    type Target = Login;
    fn deref(&self) -> &Login {
        &self.login
    }
}

/// Everything [`AppState::new`] needs, built by `startup::prepare` (or a test).
pub struct Parts {
    pub config: Config,
    pub verifier: Verifier,
    pub policy: Policy,
    pub exchange: Arc<dyn Exchange>,
    pub cipher: cipher::SessionCipher,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(p: Parts) -> Self {
        let login = Login {
            settings: Settings::from_config(&p.config),
            verifier: Arc::new(p.verifier),
            policy: p.policy,
            exchange: p.exchange,
            cipher: p.cipher,
            audit: p.store.audit(),
            store: p.store,
            clock: p.clock,
            metrics: Metrics::default(),
        };
        Self(Arc::new(Inner {
            config: p.config,
            login,
        }))
    }
}

/// The request context every handler takes: the request id, and who is
/// asking (address, user agent), filled in by the middleware below.
#[derive(Debug, Clone)]
pub struct Req {
    pub rid: RequestId,
    pub client: Client,
}

impl<S: Send + Sync> FromRequestParts<S> for Req {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let rid = parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(String::new()));
        let info = parts
            .extensions
            .get::<ClientInfo>()
            .cloned()
            .unwrap_or_default();
        Ok(Self {
            client: Client {
                request_id: rid.0.clone(),
                ip: info.ip,
                user_agent: info.user_agent,
            },
            rid,
        })
    }
}

impl Req {
    pub fn ctx<'a>(&'a self, state: &'a AppState) -> Ctx<'a> {
        Ctx {
            state,
            rid: &self.rid,
            client: &self.client,
        }
    }
}

/// One request in a handler: the application, its id and who is asking.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub rid: &'a RequestId,
    pub client: &'a Client,
}

impl<'a> Ctx<'a> {
    /// The sign-in flows for this request.
    pub fn flows(&self) -> crate::login::Ctx<'a> {
        self.state.0.login.ctx(self.client)
    }

    /// An event about this request by the signed-in person of `data`.
    pub fn event(&self, name: &'static str, outcome: Outcome, data: &SessionData) -> AuditEvent {
        self.flows().event(name, outcome, data)
    }
}

/// The request id shown on error pages and written to logs and the audit trail.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Where the request came from, for the audit trail.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The whole application.
pub fn build_router(state: AppState) -> Router {
    let cfg = &state.config;
    let sessions = SessionManagerLayer::new(state.store.sessions())
        .with_name("broker_session")
        .with_secure(cfg.is_https())
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(
            time::Duration::saturating_seconds_f64(cfg.session.idle_timeout.as_secs_f64()),
        ));
    let https = cfg.is_https();
    let csp_value = HeaderValue::from_str(&csp(cfg))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let trust_xff = cfg.server.trust_forwarded_for;
    let limiter = ratelimit::RateLimiter::new(cfg.limits.requests_per_minute);
    // Layers run outside-in in the reverse order they are added. A request
    // meets: request id -> security headers -> client address -> rate limit
    // (ACS and /api only) -> a failed session save as 503 -> sessions (not
    // on health routes) -> the error
    // pages' header (signed in or out) -> the route, or the 404 fallback.
    Router::new()
        .merge(saml::router())
        .merge(app::router())
        .merge(api::router())
        .merge(assets::router())
        .merge(admin::router())
        .fallback(error::not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            error::with_session_nav,
        ))
        .with_state(state.clone())
        .layer(sessions)
        .layer(middleware::from_fn(error::session_save_unavailable))
        .merge(health::router().with_state(state))
        .layer(middleware::from_fn(move |req, next| {
            ratelimit::limit(limiter.clone(), req, next)
        }))
        .layer(middleware::from_fn(move |req, next| {
            client_info(req, next, trust_xff)
        }))
        .layer(middleware::from_fn(move |req, next| {
            security_headers(req, next, https, csp_value.clone())
        }))
        .layer(middleware::from_fn(request_id))
}

async fn request_id(mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let mut resp = error::with_request_id(
        id.clone(),
        tracing::Instrument::instrument(next.run(req), span),
    )
    .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    resp
}

async fn client_info(mut req: Request, next: Next, trust_xff: bool) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let forwarded = trust_xff
        .then(|| {
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(|s| s.trim().to_string())
        })
        .flatten();
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect());
    req.extensions_mut().insert(ClientInfo {
        ip: forwarded.or(peer),
        user_agent: ua,
    });
    next.run(req).await
}

/// The Content-Security-Policy: no inline script or style anywhere; the
/// browser app may connect to the broker and the configured AWS endpoints.
pub fn csp(config: &Config) -> String {
    let mut connect = vec!["'self'".to_string()];
    connect.extend(config.connect_origins());
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src {}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        connect.join(" ")
    )
}

async fn security_headers(req: Request, next: Next, https: bool, csp: HeaderValue) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}
