//! The JSON API the browser client uses (docs/api.md): `/api/session`,
//! `/api/credentials`, `/api/role`.

use super::api_types::{CredentialsJson, RoleJson, RoleRequest, SessionJson};
use super::app::{csrf_ok, current, login_url, APP_PATH};
use super::error::Public;
use super::session::{SessionData, KEY};
use super::{ApiError, AppState, Req, RequestId};
use crate::login::{ChooseError, IssueError, RefreshError};
use axum::extract::{FromRequestParts, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/session", get(session_get))
        .route("/api/credentials", get(credentials_get))
        .route("/api/role", post(role_post))
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

/// The signed-in person's session, for the JSON API: a request without
/// one is answered 401 `not_signed_in`.
struct SignedIn {
    session: Session,
    data: SessionData,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let rid = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, e)| ApiError::internal(&rid, e))?;
        let data = current(state, &session)
            .await
            .ok_or_else(|| ApiError::unauthenticated(&rid))?;
        Ok(Self { session, data })
    }
}

async fn session_get(State(state): State<AppState>, me: SignedIn) -> Response {
    no_store(Json(session_json(&state, &me.data)))
}

fn issue_error(rid: &RequestId, e: &IssueError, role: &str, return_to: &str) -> ApiError {
    let p = Public::of_issue(e, true);
    let mut err = ApiError::new(p.status, p.code, p.message, &rid.0);
    if p.sign_in {
        err.login_url = Some(login_url(role, return_to));
    }
    err
}

async fn credentials_get(
    State(state): State<AppState>,
    req: Req,
    SignedIn { session, mut data }: SignedIn,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rid = &req.rid;
    // Renewing calls AWS and writes audit events: only for a request that
    // carries the session's CSRF token (a cross-site navigation cannot).
    let may_renew = csrf_ok(&state, &headers, &data, None);
    let fresh = match state.ctx(&req.client).refresh(&mut data, may_renew).await {
        Ok(f) => f,
        Err(RefreshError::NoRole) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "no_role",
                "Choose an AWS role first.",
                &rid.0,
            ))
        }
        Err(RefreshError::CsrfNeeded) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "Renewing AWS credentials needs the session's CSRF token (X-CSRF-Token).",
                &rid.0,
            ))
        }
        Err(RefreshError::Expired { role_arn }) => {
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
            err.login_url = Some(login_url(&role_arn, APP_PATH));
            return Err(err);
        }
        Err(RefreshError::Issue { role_arn, source }) => {
            return Err(issue_error(rid, &source, &role_arn, APP_PATH))
        }
        Err(RefreshError::Unreadable { role_arn, source }) => {
            // The session key changed: end the session, ask for a sign-in.
            let _ = session.flush().await;
            return Err(issue_error(rid, &source, &role_arn, APP_PATH));
        }
    };
    if fresh.renewed {
        session.insert(KEY, &data).await?;
    }
    let creds = fresh.credentials;
    Ok(no_store(Json(CredentialsJson {
        version: 1,
        access_key_id: creds.access_key_id,
        secret_access_key: creds.secret_access_key.expose().to_string(),
        session_token: creds.session_token.expose().to_string(),
        expiration: rfc3339(creds.expiration),
        role_arn: fresh.role_arn,
        region: state.config.aws.region.clone(),
    })))
}

async fn role_post(
    State(state): State<AppState>,
    req: Req,
    SignedIn { session, mut data }: SignedIn,
    headers: HeaderMap,
    body: Result<Json<RoleRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let rid = &req.rid;
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
    match state
        .ctx(&req.client)
        .choose(&mut data, &body.role_arn, "api")
        .await
    {
        Ok(()) => {}
        Err(ChooseError::NotAllowed) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "role_not_allowed",
                "That role is not one you may use here.",
                &rid.0,
            ))
        }
        Err(ChooseError::Issue(e)) => return Err(issue_error(rid, &e, &body.role_arn, APP_PATH)),
    }
    session.insert(KEY, &data).await?;
    Ok(no_store(Json(session_json(&state, &data))))
}
