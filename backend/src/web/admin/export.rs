//! `GET /admin/audit.jsonl` and `GET /admin/audit.csv`: the filtered trail,
//! oldest first, streamed as it is read.

use super::{parse_filter, query_map, record, Admin, Refused};
use crate::audit::export::{csv_line, jsonl_line, CSV_HEADER};
use crate::audit::Outcome;
use crate::web::session::SessionData;
use crate::web::AppState;
use crate::web::Ctx;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

#[derive(Clone, Copy)]
enum Format {
    Jsonl,
    Csv,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
        }
    }
}

#[tracing::instrument(skip_all)]
pub(super) async fn audit_jsonl_get(
    State(state): State<AppState>,
    Admin { req, data }: Admin,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refused> {
    export(&req.ctx(&state), &data, raw.as_deref(), Format::Jsonl).await
}

#[tracing::instrument(skip_all)]
pub(super) async fn audit_csv_get(
    State(state): State<AppState>,
    Admin { req, data }: Admin,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refused> {
    export(&req.ctx(&state), &data, raw.as_deref(), Format::Csv).await
}

/// Audit the export, then stream it: rows are encoded as they are read, a
/// few hundred at a time, and a store error mid-way aborts the download
/// (the client sees a truncated transfer, never a silently short file).
async fn export(
    ctx: &Ctx<'_>,
    data: &SessionData,
    raw: Option<&str>,
    format: Format,
) -> Result<Response, Refused> {
    let filter = parse_filter(&query_map(raw), ctx.rid)?;
    let exported = ctx
        .event(
            crate::audit::names::ADMIN_AUDIT_EXPORTED,
            Outcome::Success,
            data,
        )
        .detail("format", format.name())
        .detail("filter", filter.to_query_string());
    record(ctx, exported).await?;

    let rid = ctx.rid.0.clone();
    let lines = ctx.state.audit.stream(filter).map(move |r| {
        r.map(|r| match format {
            Format::Jsonl => jsonl_line(&r),
            Format::Csv => csv_line(&r),
        })
    });
    let header = match format {
        Format::Jsonl => None,
        Format::Csv => Some(Ok(CSV_HEADER.to_string())),
    };
    let body = futures_util::stream::iter(header)
        .chain(lines)
        .ready_chunks(256)
        .map(move |chunk| {
            let text: Result<String, crate::audit::AuditError> = chunk.into_iter().collect();
            text.map_err(|e| {
                tracing::error!(request_id = %rid, error = %e, "audit export aborted");
                e
            })
        });
    let (content_type, ext) = match format {
        Format::Jsonl => ("application/x-ndjson", "jsonl"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let stamp = ctx.state.clock.now().format("%Y%m%dT%H%M%SZ");
    let disposition = format!("attachment; filename=\"audit-{stamp}.{ext}\"");
    let mut resp = Body::from_stream(body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
