//! `/admin/audit*`: the audit trail for members of an admin group: a
//! filtered, paged list with a chart, one event in full, and JSON Lines and
//! CSV exports. Every read is audited before anything is sent, and a read
//! that cannot be audited is refused (fail closed).

mod chart;
mod event;
mod export;

use super::app::current;
use super::session::SessionData;
use super::Ctx;
use super::{AppState, PageError, Req, RequestId};
use crate::audit::query::{Filter, FILTER_KEYS};
use crate::audit::{AuditEvent, ChainStatus, Outcome, Record};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chart::Chart;
use std::collections::HashMap;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(audit_get))
        .route("/admin/audit.jsonl", get(export::audit_jsonl_get))
        .route("/admin/audit.csv", get(export::audit_csv_get))
        .route("/admin/audit/{id}", get(event::audit_event_get))
}

const PAGE_SIZE: u32 = 50;
const BUCKETS: usize = 24;
const REASON_CHARS: usize = 80;
const LIST: &str = "/admin/audit";

/// Why an admin request did not reach its page.
pub(super) enum Refused {
    /// Not signed in: sign in, then come back to the list.
    SignIn,
    Page(PageError),
}

impl From<PageError> for Refused {
    fn from(p: PageError) -> Self {
        Self::Page(p)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => Redirect::to("/saml/login?return_to=/admin/audit").into_response(),
            Self::Page(p) => p.into_response(),
        }
    }
}

fn refused(status: StatusCode, title: &'static str, message: String, rid: &RequestId) -> PageError {
    let mut p = PageError::new(status, title, message, &rid.0);
    p.retry = false;
    p
}

/// Write `event` to the trail; if it cannot be written, nothing is shown.
async fn record(ctx: &Ctx<'_>, event: AuditEvent) -> Result<(), PageError> {
    Ok(ctx.state.audit.record(event).await?)
}

/// The signed-in admin, or why not: an extractor for every admin route. A
/// signed-in person outside every admin group is refused, and the refusal
/// is audited with the path asked for.
pub(super) struct Admin {
    pub req: Req,
    pub data: SessionData,
}

impl axum::extract::FromRequestParts<AppState> for Admin {
    type Rejection = Refused;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Refused> {
        let req = Req::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, e)| PageError::internal(&req.rid.0, e))?;
        let Some(data) = current(state, &session).await else {
            return Err(Refused::SignIn);
        };
        // Checked against the configuration in force, not only the login-time flag.
        let groups = &state.config.admin.groups;
        if data.is_admin && data.groups.iter().any(|g| groups.contains(g)) {
            return Ok(Self { req, data });
        }
        let ctx = req.ctx(state);
        let mut ev = ctx.event(
            crate::audit::names::ADMIN_AUDIT_DENIED,
            Outcome::Failure,
            &data,
        );
        ev.reason = Some("not a member of any admin group".into());
        let path: String = parts.uri.path().chars().take(256).collect();
        record(&ctx, ev.detail("path", path)).await?;
        Err(refused(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "You need to be in an admin group to view the audit trail.".into(),
            &req.rid,
        )
        .into())
    }
}

fn query_map(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn parse_filter(q: &HashMap<String, String>, rid: &RequestId) -> Result<Filter, PageError> {
    Filter::from_query(q).map_err(|m| {
        refused(
            StatusCode::BAD_REQUEST,
            "Filter not valid",
            format!("The filter was not applied. {m}"),
            rid,
        )
    })
}

fn unavailable<E: std::fmt::Display>(rid: &RequestId) -> impl Fn(E) -> PageError + '_ {
    move |e| PageError::unavailable(&rid.0, e)
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `/admin/audit?<filter>` plus `extra` (`before=…`), for links.
fn list_url(filter_qs: &str, extra: &str) -> String {
    match (filter_qs.is_empty(), extra.is_empty()) {
        (true, true) => LIST.to_string(),
        (false, true) => format!("{LIST}?{filter_qs}"),
        (true, false) => format!("{LIST}?{extra}"),
        (false, false) => format!("{LIST}?{filter_qs}&{extra}"),
    }
}

/// Percent-encode a path segment (event ids are UUIDs, but ids are data).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The last check's result, and how many events arrived since it ran.
async fn chain_line(state: &AppState) -> (String, bool) {
    let status = state.audit.chain_status();
    let mut line = status.summary();
    if let (Some(checked), Some(total)) =
        (status.events(), state.audit.count(&Filter::default()).await)
    {
        match total.saturating_sub(checked) {
            0 => line.push_str(" No events written since."),
            n => line.push_str(&format!(
                " {} written since, not yet checked.",
                crate::web::text::count(n, "event", "events")
            )),
        }
    }
    (line, matches!(status, ChainStatus::Broken { .. }))
}

/// One row of the list.
struct Row {
    seq: i64,
    href: String,
    time: String,
    /// `2026-11-25 12:00:00.000`: the same instant, easier to read.
    time_shown: String,
    event: String,
    outcome: &'static str,
    subject: String,
    /// The role ARN, its account (with its alias) and its name.
    role: String,
    role_html: String,
    account: String,
    role_name: String,
    source_ip: String,
    reason: String,
    reason_short: String,
}

/// (account id, role name) from `arn:aws:iam::<account>:role/<path/><name>`.
fn role_parts(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let account = parts.nth(4)?;
    let resource = parts.next()?;
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    (!account.is_empty() && !name.is_empty()).then_some((account, name))
}

impl Row {
    fn new(state: &AppState, r: &Record) -> Self {
        let e = &r.event;
        let reason = e.reason.clone().unwrap_or_default();
        let role = e.role_arn.as_deref().unwrap_or_default();
        let reason_short = if reason.chars().count() > REASON_CHARS {
            let cut: String = reason.chars().take(REASON_CHARS - 1).collect();
            format!("{cut}…")
        } else {
            reason.clone()
        };
        Self {
            seq: r.seq,
            href: format!("{LIST}/{}", segment(&e.id)),
            time: e.time.clone(),
            time_shown: e
                .time
                .replacen('T', " ", 1)
                .trim_end_matches('Z')
                .to_string(),
            event: e.event.clone(),
            outcome: e.outcome.as_str(),
            subject: e.subject.clone().unwrap_or_default(),
            role: role.to_string(),
            role_html: crate::web::text::arn_html(role),
            account: match role_parts(role) {
                Some((id, _)) => match state.policy.account_alias(id) {
                    Some(alias) => format!("{alias} ({id})"),
                    None => id.to_string(),
                },
                None => String::new(),
            },
            role_name: role_parts(role)
                .map(|(_, n)| n.to_string())
                .unwrap_or_default(),
            source_ip: e.source_ip.clone().unwrap_or_default(),
            reason,
            reason_short,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    nav: crate::web::nav::Nav,
    admin: String,
    chain: String,
    chain_broken: bool,
    /// The form's fields as typed (trimmed), to show them again.
    form: HashMap<String, String>,
    events: Vec<String>,
    rows: Vec<Row>,
    filtered: bool,
    older: Option<String>,
    newest: Option<String>,
    jsonl: String,
    csv: String,
    chart: Option<Chart>,
    /// A filter value the broker could not read: (field, message). The page
    /// then shows the form again with the message, and no events.
    error: Option<(String, String)>,
}

impl AuditPage {
    /// The value typed into a form field, or "".
    fn value(&self, key: &str) -> &str {
        self.form.get(key).map(String::as_str).unwrap_or_default()
    }

    /// The message, when a filter value was not understood.
    fn error_message(&self) -> Option<&str> {
        self.error.as_ref().map(|(_, m)| m.as_str())
    }

    /// The message for this field, when its value was not understood.
    fn error_for(&self, key: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| f == key)
            .map(|(_, m)| m.as_str())
    }
}

/// The field a filter error names (`since: …` names `since`).
fn error_field(message: &str) -> String {
    let field = message.split(':').next().unwrap_or_default();
    if FILTER_KEYS.contains(&field) || field == "before" {
        field.to_string()
    } else {
        String::new()
    }
}

/// The form's fields as typed (trimmed).
fn typed(q: &HashMap<String, String>) -> HashMap<String, String> {
    FILTER_KEYS
        .iter()
        .filter_map(|k| q.get(*k).map(|v| (k.to_string(), v.trim().to_string())))
        .collect()
}

/// The list page again with the form as typed and the error next to its
/// field, answered 400; nothing is queried or recorded.
async fn filter_error_page(
    state: &AppState,
    data: &SessionData,
    q: &HashMap<String, String>,
    message: String,
) -> Response {
    let (chain, chain_broken) = chain_line(state).await;
    let mut events: Vec<String> = crate::audit::EVENT_NAMES
        .iter()
        .map(|e| e.to_string())
        .collect();
    if let Some(e) = q.get("event").map(|v| v.trim().to_string()) {
        if !e.is_empty() && !events.contains(&e) {
            events.push(e);
        }
    }
    let page = AuditPage {
        nav: crate::web::nav::Nav::for_session(data, crate::web::nav::Here::Audit),
        admin: data.subject.clone(),
        chain,
        chain_broken,
        form: typed(q),
        events,
        rows: Vec::new(),
        filtered: true,
        older: None,
        newest: None,
        jsonl: format!("{LIST}.jsonl"),
        csv: format!("{LIST}.csv"),
        chart: None,
        error: Some((error_field(&message), message)),
    };
    let mut r = no_store(page.into_response());
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}

/// The chart's buckets. A range the filter leaves open is fitted to the
/// matching events (first to last), and a range under an hour is widened to
/// one, from the start of the first event's hour, so a fresh install shows
/// its few events spread out instead of one bar at the edge of 30 days.
/// Without any time filter the range starts at most 30 days before `newest`
/// (the newest event shown), so a page view never counts the whole trail.
async fn chart_buckets(
    state: &AppState,
    filter: &Filter,
    newest: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Vec<crate::audit::query::Bucket>, crate::audit::AuditError> {
    let mut fitted = filter.clone();
    if filter.since.is_none() && filter.until.is_none() {
        fitted.since = newest.map(|n| n - chrono::Duration::days(30));
        // Then from the first event inside those 30 days, when the store says.
        if let Some(first) = state.audit.first_time(&fitted).await {
            fitted.since = Some(first);
        }
    }
    let mut buckets = state.audit.histogram(&fitted, BUCKETS).await?;
    // The store fits an open start to the first event, but not a start we set
    // (the 30-day cap): move it to the first busy bar until it is there.
    if filter.since.is_none() {
        for _ in 0..4 {
            let busy = buckets.iter().position(|b| b.success + b.failure > 0);
            let (Some(i), Some(last)) = (busy, buckets.last()) else {
                break;
            };
            if i == 0 {
                break;
            }
            fitted.since = Some(buckets[i].start);
            fitted.until = Some(last.end);
            buckets = state.audit.histogram(&fitted, BUCKETS).await?;
        }
    }
    let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
        return Ok(buckets);
    };
    let hour = chrono::Duration::hours(1);
    if (filter.since.is_some() && filter.until.is_some()) || last.end - first.start >= hour {
        return Ok(buckets);
    }
    let start = filter.since.unwrap_or_else(|| {
        use chrono::{DurationRound, TimeDelta};
        first
            .start
            .duration_trunc(TimeDelta::hours(1))
            .unwrap_or(first.start)
    });
    let end = filter.until.unwrap_or(last.end).max(start + hour);
    let start = filter.since.unwrap_or(start.min(end - hour));
    let mut wide = filter.clone();
    wide.since = Some(start);
    wide.until = Some(end);
    state.audit.histogram(&wide, BUCKETS).await
}

#[tracing::instrument(skip_all)]
async fn audit_get(
    State(state): State<AppState>,
    Admin { req, data }: Admin,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refused> {
    let ctx = req.ctx(&state);
    let rid = &req.rid;
    let q = query_map(raw.as_deref());
    let filter = match Filter::from_query(&q) {
        Ok(f) => f,
        Err(m) => return Ok(filter_error_page(&state, &data, &q, m).await),
    };
    let before = match q.get("before").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let m = "before: expected an event number (seq).".to_string();
                return Ok(filter_error_page(&state, &data, &q, m).await);
            }
        },
    };
    let qs = filter.to_query_string();
    let viewed = ctx
        .event(
            crate::audit::names::ADMIN_AUDIT_VIEWED,
            Outcome::Success,
            &data,
        )
        .detail("view", "list")
        .detail("filter", qs.clone())
        .detail("before", before);
    record(&ctx, viewed).await?;

    let mut records = state
        .audit
        .page(&filter, before, PAGE_SIZE + 1)
        .await
        .map_err(unavailable(rid))?;
    let more = records.len() > PAGE_SIZE as usize;
    records.truncate(PAGE_SIZE as usize);
    let older = more
        .then(|| {
            records
                .last()
                .map(|r| list_url(&qs, &format!("before={}", r.seq)))
        })
        .flatten();
    let newest = records
        .first()
        .and_then(|r| chrono::DateTime::parse_from_rfc3339(&r.event.time).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let buckets = chart_buckets(&state, &filter, newest)
        .await
        .map_err(unavailable(rid))?;
    // The names the broker writes, plus any other the trail holds (an older
    // or newer broker's), plus the one asked for.
    let mut events: Vec<String> = crate::audit::EVENT_NAMES
        .iter()
        .map(|e| e.to_string())
        .chain(state.audit.distinct_events().await)
        .chain(filter.event.clone())
        .collect();
    events.sort();
    events.dedup();
    let form = typed(&q);
    let (chain, chain_broken) = chain_line(&state).await;
    let export = |ext: &str| {
        if qs.is_empty() {
            format!("{LIST}.{ext}")
        } else {
            format!("{LIST}.{ext}?{qs}")
        }
    };
    let page = AuditPage {
        nav: crate::web::nav::Nav::for_session(&data, crate::web::nav::Here::Audit),
        admin: data.subject.clone(),
        chain,
        chain_broken,
        form,
        events,
        rows: records.iter().map(|r| Row::new(&state, r)).collect(),
        filtered: !filter.is_empty(),
        older,
        newest: before.map(|_| list_url(&qs, "")),
        jsonl: export("jsonl"),
        csv: export("csv"),
        chart: Chart::new(&buckets),
        error: None,
    };
    Ok(no_store(page.into_response()))
}
