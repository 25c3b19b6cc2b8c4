//! The AWS Lambda entry: the same Router, served through lambda_http when
//! `AWS_LAMBDA_RUNTIME_API` is set (API Gateway HTTP or REST API).

use crate::web::{build_router, AppState};
use axum::extract::{ConnectInfo, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use std::net::{IpAddr, SocketAddr};

/// True when this process runs inside the Lambda runtime.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Serve `state` through the Lambda runtime until it stops.
pub async fn run(state: AppState) -> Result<(), lambda_http::Error> {
    let app = build_router(state).layer(middleware::from_fn(source_ip));
    lambda_http::run(app).await
}

/// API Gateway puts the client address in the request context; hand it to the
/// Router the way a socket would (`ConnectInfo`), for logs, audit and rate limits.
async fn source_ip(mut req: Request, next: Next) -> Response {
    let ip = match req.extensions().request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(c)) => c.identity.source_ip.clone(),
        _ => None,
    };
    if let Some(ip) = ip.and_then(|s| s.parse::<IpAddr>().ok()) {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    next.run(req).await
}
