//! Per-source-address rate limit for `/saml/acs`, `/api/*` and `/admin/*`: a token
//! bucket per client address, in memory on each instance (a bound on abuse,
//! not an accounting system).

use super::{ClientInfo, RequestId};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone)]
pub struct RateLimiter {
    per_minute: f64,
    buckets: Arc<Mutex<HashMap<String, (f64, Instant)>>>,
}

impl RateLimiter {
    pub fn new(per_minute: u64) -> Self {
        Self {
            per_minute: per_minute as f64,
            buckets: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Take one token for `key`; false when the bucket is empty.
    pub fn allow(&self, key: &str) -> bool {
        let now = Instant::now();
        let Ok(mut b) = self.buckets.lock() else {
            return true;
        };
        if b.len() > 50_000 {
            let per_minute = self.per_minute;
            b.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_minute / 60.0 < per_minute
            });
        }
        let (tokens, at) = b.entry(key.to_string()).or_insert((self.per_minute, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_minute / 60.0)
            .min(self.per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub async fn limit(limiter: RateLimiter, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !(path == "/saml/acs" || path.starts_with("/api/") || path.starts_with("/admin")) {
        return next.run(req).await;
    }
    let key = req
        .extensions()
        .get::<ClientInfo>()
        .and_then(|c| c.ip.clone())
        .unwrap_or_else(|| "unknown".into());
    if limiter.allow(&key) {
        return next.run(req).await;
    }
    let rid = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    tracing::warn!(source_ip = %key, path, "rate limit reached");
    let body = serde_json::json!({
        "error": "rate_limited",
        "message": "Too many requests from your address. Please wait a minute and try again.",
        "request_id": rid,
    });
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_is_per_key() {
        let l = RateLimiter::new(3);
        assert!(l.allow("a") && l.allow("a") && l.allow("a"));
        assert!(!l.allow("a"));
        assert!(l.allow("b"));
    }
}
