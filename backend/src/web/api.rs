//! The JSON API the browser client uses (docs/api.md): `/api/session`,
//! `/api/credentials`, `/api/role`.

use super::app::{csrf_ok, current, login_url, APP_PATH};
use super::flow::{Ctx, IssueError};
use super::session::{SessionData, KEY};
use super::{ApiError, AppState, ClientInfo, RequestId};
use crate::audit::Outcome;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/session", get(session_get))
        .route("/api/credentials", get(credentials_get))
        .route("/api/role", post(role_post))
}

#[derive(Serialize)]
struct RoleJson {
    role_arn: String,
    provider_arn: String,
    account_id: String,
    account_alias: Option<String>,
    role_name: String,
    duration_seconds: i32,
}

#[derive(Serialize)]
struct SessionJson {
    subject: String,
    session_name: Option<String>,
    groups: Vec<String>,
    roles: Vec<RoleJson>,
    role_arn: Option<String>,
    principal_arn: Option<String>,
    expiration: String,
    credentials_expiration: Option<String>,
    duration_fallback: bool,
    is_admin: bool,
    csrf_token: String,
    region: String,
    endpoint_url: Option<String>,
}

fn session_json(state: &AppState, data: &SessionData) -> SessionJson {
    SessionJson {
        subject: data.subject.clone(),
        session_name: data.session_name.clone(),
        groups: data.groups.clone(),
        roles: data
            .allowed
            .iter()
            .map(|r| RoleJson {
                role_arn: r.grant.role.as_str().into(),
                provider_arn: r.grant.provider.as_str().into(),
                account_id: r.grant.role.account_id().into(),
                account_alias: state
                    .policy
                    .account_alias(r.grant.role.account_id())
                    .map(str::to_string),
                role_name: r.grant.role.role_name().into(),
                duration_seconds: r.duration_seconds,
            })
            .collect(),
        role_arn: data.role_arn().map(str::to_string),
        principal_arn: data.current.as_ref().map(|c| c.principal_arn.clone()),
        expiration: rfc3339(data.expires_at),
        credentials_expiration: data.current.as_ref().map(|c| rfc3339(c.expiration)),
        duration_fallback: data.current.as_ref().is_some_and(|c| c.duration_fallback),
        is_admin: data.is_admin,
        csrf_token: data.csrf_token.clone(),
        region: state.config.aws.region.clone(),
        endpoint_url: state
            .config
            .aws
            .endpoint_url
            .as_ref()
            .map(|u| u.to_string()),
    }
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn no_store<T: IntoResponse>(r: T) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], r).into_response()
}

async fn session_get(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    session: Session,
) -> Result<Response, ApiError> {
    let data = current(&state, &session)
        .await
        .ok_or_else(|| ApiError::unauthenticated(&rid.0))?;
    Ok(no_store(Json(session_json(&state, &data))))
}

/// The AWS credential_process shape plus `RoleArn` and `Region`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CredentialsJson {
    version: u8,
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
    role_arn: String,
    region: String,
}

fn issue_error(rid: &RequestId, e: IssueError, role: &str, return_to: &str) -> ApiError {
    match e {
        IssueError::NeedsSignIn => {
            let mut err = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "sign_in_required",
                "Your sign-in is too old to get new AWS credentials. Please sign in again.",
                &rid.0,
            );
            err.login_url = Some(login_url(role, return_to));
            err
        }
        IssueError::Exchange(x) => {
            tracing::warn!(code = x.code(), detail = %x.detail, "credential exchange failed");
            let status = if x.needs_new_sign_in() {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_GATEWAY
            };
            ApiError::new(status, x.code(), x.user_message(), &rid.0)
        }
        IssueError::Audit(a) => {
            tracing::error!(error = %a, "audit trail unavailable");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "The broker cannot record this request right now, so it was not carried out. Please try again shortly.", &rid.0)
        }
        IssueError::Internal(i) => ApiError::internal(&rid.0, i),
    }
}

async fn credentials_get(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(client): Extension<ClientInfo>,
    session: Session,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut data = current(&state, &session)
        .await
        .ok_or_else(|| ApiError::unauthenticated(&rid.0))?;
    let ctx = Ctx {
        state: &state,
        rid: &rid,
        client: &client,
    };
    let now = state.clock.now();
    // Renewing calls AWS and writes audit events: only for a request that
    // carries the session's CSRF token (a cross-site navigation cannot).
    let may_renew = csrf_ok(&state, &headers, &data, None);
    let Some(cur) = data.current.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_role",
            "Choose an AWS role first.",
            &rid.0,
        ));
    };
    if !may_renew && now >= cur.expiration {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "Renewing AWS credentials needs the session's CSRF token (X-CSRF-Token).",
            &rid.0,
        ));
    }
    // Refresh ahead of expiry while the assertion still allows it; after that the session ends.
    if may_renew && now + chrono::Duration::seconds(60) >= cur.expiration {
        let role = data.allowed_role(&cur.role_arn).cloned();
        let refreshed = match role {
            Some(r) => ctx.renew(&mut data, &r).await,
            None => Err(IssueError::NeedsSignIn),
        };
        match refreshed {
            Ok(()) => {
                session
                    .insert(KEY, &data)
                    .await
                    .map_err(|e| ApiError::internal(&rid.0, e))?;
            }
            Err(IssueError::NeedsSignIn) if now >= cur.expiration => {
                let mut ev = ctx.event(
                    crate::audit::names::SESSION_EXPIRED,
                    Outcome::Failure,
                    &data,
                );
                ev.role_arn = Some(cur.role_arn.clone());
                ev.access_key_id = Some(cur.access_key_id.clone());
                ev.reason =
                    Some("credentials expired and the assertion can no longer be exchanged".into());
                state
                    .audit
                    .record(ev)
                    .await
                    .map_err(|e| issue_error(&rid, e.into(), "", APP_PATH))?;
                let _ = session.flush().await;
                let mut err = ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "credentials_expired",
                    "Your AWS credentials have expired. Please sign in again.",
                    &rid.0,
                );
                // The API's caller is the web app: the new sign-in comes back to it
                // (the app puts its exact page in return_to), not to where this
                // session's sign-in started.
                err.login_url = Some(login_url(&cur.role_arn, APP_PATH));
                return Err(err);
            }
            Err(IssueError::NeedsSignIn) => {}
            Err(e) => return Err(issue_error(&rid, e, &cur.role_arn, APP_PATH)),
        }
    }
    let cur = data
        .current
        .as_ref()
        .ok_or_else(|| ApiError::internal(&rid.0, "no current role after refresh"))?;
    let creds = match ctx.credentials(cur) {
        Ok(c) => c,
        Err(e) => {
            // Unreadable (the session key changed): end the session, ask for a sign-in.
            let _ = session.flush().await;
            return Err(issue_error(&rid, e, &cur.role_arn, APP_PATH));
        }
    };
    Ok(no_store(Json(CredentialsJson {
        version: 1,
        access_key_id: creds.access_key_id,
        secret_access_key: creds.secret_access_key.expose().to_string(),
        session_token: creds.session_token.expose().to_string(),
        expiration: rfc3339(creds.expiration),
        role_arn: cur.role_arn.clone(),
        region: state.config.aws.region.clone(),
    })))
}

#[derive(Deserialize)]
struct RoleRequest {
    role_arn: String,
}

async fn role_post(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(client): Extension<ClientInfo>,
    session: Session,
    headers: HeaderMap,
    body: Result<Json<RoleRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let mut data = current(&state, &session)
        .await
        .ok_or_else(|| ApiError::unauthenticated(&rid.0))?;
    if !csrf_ok(&state, &headers, &data, None) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "This request is missing the session's CSRF token (X-CSRF-Token).",
            &rid.0,
        ));
    }
    let Json(body) = body.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("Expected JSON {{\"role_arn\": \"…\"}}: {e}"),
            &rid.0,
        )
    })?;
    let ctx = Ctx {
        state: &state,
        rid: &rid,
        client: &client,
    };
    let Some(role) = data.allowed_role(&body.role_arn).cloned() else {
        let mut ev = ctx.event(crate::audit::names::ROLE_SELECTED, Outcome::Failure, &data);
        ev.role_arn = Some(body.role_arn.chars().take(256).collect());
        ev.reason = Some("role not in the allowed set".into());
        state
            .audit
            .record(ev.detail("via", "api"))
            .await
            .map_err(|e| issue_error(&rid, e.into(), "", APP_PATH))?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "role_not_allowed",
            "That role is not one you may use here.",
            &rid.0,
        ));
    };
    ctx.issue(&mut data, &role, "api")
        .await
        .map_err(|e| issue_error(&rid, e, role.grant.role.as_str(), APP_PATH))?;
    session
        .insert(KEY, &data)
        .await
        .map_err(|e| ApiError::internal(&rid.0, e))?;
    Ok(no_store(Json(session_json(&state, &data))))
}
