//! Liveness, readiness and Prometheus metrics. No session layer.

use super::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz_get))
        .route("/metrics", get(metrics_get))
}

async fn readyz_get(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) if !state.verifier.idp().certs.is_empty() => (StatusCode::OK, "ready"),
        Ok(()) => (StatusCode::SERVICE_UNAVAILABLE, "IdP metadata not loaded"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: store unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable")
        }
    }
}

async fn metrics_get(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = state.metrics.render();
    if let Some((batches, writes, failed)) = state.store.writer_stats() {
        for (name, v) in [
            (super::metric::STORE_BATCHES, batches),
            (super::metric::STORE_WRITES, writes),
            (super::metric::STORE_WRITE_FAILURES, failed),
        ] {
            body.push_str(&format!("# TYPE {name} counter\n{name} {v}\n"));
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
