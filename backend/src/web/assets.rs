//! The browser app (frontend/), embedded at build time with content-hashed
//! asset names: `/app/` serves index.html (never cached), `/app/assets/*`
//! the hashed files (cached for a year), `/api/app-config` what it needs.

use super::api_types::{ApiEndpointJson, AppConfigJson};
use super::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/frontend_assets.rs"));
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app", get(|| async { Redirect::permanent("/app/") }))
        .route("/app/", get(index_get))
        .route("/app/assets/{name}", get(asset_get))
        .route("/api/app-config", get(app_config_get))
}

pub fn available() -> bool {
    embedded::AVAILABLE
}

async fn index_get() -> Response {
    if !embedded::AVAILABLE {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Html("<!doctype html><title>App not built</title><p>The browser app was not built into this broker. Run <code>npm ci &amp;&amp; npm run build</code> in <code>frontend/</code> and rebuild the broker (scripts/demo.sh does both).</p>"),
        )
            .into_response();
    }
    let mut r = Html(embedded::INDEX_HTML).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn asset_get(Path(name): Path<String>) -> Response {
    match embedded::ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ctype, bytes)) => (
            [
                (header::CONTENT_TYPE, *ctype),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// What the browser app needs to know: where STS is and which API Gateway
/// endpoints to offer. Public configuration, no secrets.
async fn app_config_get(State(state): State<AppState>) -> impl IntoResponse {
    let cfg = &state.config;
    Json(AppConfigJson {
        region: cfg.aws.region.clone(),
        sts_endpoint: cfg.sts_endpoint(),
        api_endpoints: cfg
            .frontend
            .api_endpoints
            .iter()
            .map(|e| ApiEndpointJson {
                name: e.name.clone(),
                url: e.url.to_string(),
                region: e.region.clone(),
                method: e.method.clone(),
                service: e.service.clone(),
            })
            .collect(),
    })
}
