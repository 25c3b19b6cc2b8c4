//! `GET /admin/audit/{id}`: one event with every field, its detail
//! pretty-printed and its place in the hash chain.

use super::{chain_line, list_url, no_store, record, refused, unavailable, Admin, Refused};
use crate::audit::{Outcome, Record};
use crate::web::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// One field of an event as shown on its page.
struct Field {
    label: &'static str,
    value: Option<String>,
    /// A link to the list filtered on this value.
    filter: Option<String>,
    /// The value as HTML with `<wbr>` after `/` and `:`, for ARNs.
    arn_html: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_event.html")]
struct EventPage {
    nav: crate::web::nav::Nav,
    seq: i64,
    fields: Vec<Field>,
    detail: String,
    chain: String,
    chain_broken: bool,
}

fn fields(r: &Record) -> Vec<Field> {
    let e = &r.event;
    let filter_link = |key: &str, v: &Option<String>| {
        v.as_ref().map(|v| {
            let qs = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(key, v)
                .finish();
            list_url(&qs, "")
        })
    };
    let plain = |label, value: &Option<String>| Field {
        label,
        value: value.clone(),
        filter: None,
        arn_html: None,
    };
    let linked = |label, key, value: &Option<String>| Field {
        label,
        value: value.clone(),
        filter: filter_link(key, value),
        arn_html: None,
    };
    let event = Some(e.event.clone());
    let outcome = Some(e.outcome.as_str().to_string());
    vec![
        plain("seq", &Some(r.seq.to_string())),
        plain("id", &Some(e.id.clone())),
        plain("time", &Some(e.time.clone())),
        linked("event", "event", &event),
        linked("outcome", "outcome", &outcome),
        linked("subject", "subject", &e.subject),
        linked("source_ip", "source_ip", &e.source_ip),
        plain("user_agent", &e.user_agent),
        plain("request_id", &e.request_id),
        plain("idp", &e.idp),
        plain("assertion_id", &e.assertion_id),
        Field {
            arn_html: e.role_arn.as_deref().map(crate::web::text::arn_html),
            ..linked("role_arn", "role", &e.role_arn)
        },
        plain("access_key_id", &e.access_key_id),
        plain("reason", &e.reason),
        plain("prev_hash", &Some(r.prev_hash.clone())),
        plain("hash", &Some(r.hash.clone())),
    ]
}

#[tracing::instrument(skip_all)]
pub(super) async fn audit_event_get(
    State(state): State<AppState>,
    Admin { req, data }: Admin,
    Path(id): Path<String>,
) -> Result<Response, Refused> {
    let ctx = req.ctx(&state);
    let rid = &req.rid;
    let id: String = id.chars().take(128).collect();
    let viewed = ctx
        .event(
            crate::audit::names::ADMIN_AUDIT_VIEWED,
            Outcome::Success,
            &data,
        )
        .detail("view", "event")
        .detail("event_id", id.clone());
    record(&ctx, viewed).await?;
    let Some(r) = state.audit.get(&id).await.map_err(unavailable(rid))? else {
        return Err(refused(
            StatusCode::NOT_FOUND,
            "Event not found",
            "No audit event has this id.".into(),
            rid,
        )
        .into());
    };
    let detail = serde_json::to_string_pretty(&r.event.detail).unwrap_or_else(|_| "{}".into());
    let (chain, chain_broken) = chain_line(&state).await;
    let page = EventPage {
        nav: crate::web::nav::Nav::for_session(&data, crate::web::nav::Here::Audit),
        seq: r.seq,
        fields: fields(&r),
        detail,
        chain,
        chain_broken,
    };
    Ok(no_store(page.into_response()))
}
