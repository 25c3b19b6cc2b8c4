//! The audit trail in DynamoDB (`<prefix>-audit`, partition key `pk` (S),
//! sort key `seq` (N)): the same hash chain as [`crate::audit::chain`], kept linear
//! across instances by conditional transactions.
//!
//! Items:
//! - events: `pk = "chain"`, `seq` = 1, 2, …, every field of the event
//!   (optional ones absent when `None`), `time_ms`, `detail` as the exact
//!   JSON text hashed, `prev_hash`, `hash`;
//! - the head: `pk = "head"`, `seq = 0`, `head_seq` and `hash` of the newest
//!   event (a key attribute cannot be updated, hence `head_seq`);
//! - anchors (retention): `pk = "anchor"`, `seq` = the last archived event's
//!   seq, `hash` = its hash; the highest one counts.
//!
//! Append reads the head, then writes the event and moves the head in one
//! TransactWriteItems whose conditions fail when another writer got there
//! first (the event's seq already exists, or the head moved); it then
//! retries on the new head. Reads filter in Rust ([`matches`]), with the
//! same meaning as the SQL filter ([`crate::audit::query::matches`]).

use super::{get_n, get_s, n, put_opt, s, DynamoError, Item};
use crate::audit::chain::{self, VerifyReport, GENESIS};
use crate::audit::query::{histogram_of, matches};
use crate::audit::{
    AuditError, AuditEvent, AuditLog, Bucket, Filter, Outcome, Record, RecordStream,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use futures_util::{Stream, StreamExt, TryStreamExt};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

pub const CHAIN_PK: &str = "chain";
pub const HEAD_PK: &str = "head";
pub const ANCHOR_PK: &str = "anchor";
/// The sort key of the head item.
const HEAD_SEQ_KEY: i64 = 0;

/// Appends tried before [`DynamoError::Contended`].
const ATTEMPTS: u32 = 16;
/// Items read per Query page by streams and scans.
const BATCH: i32 = 500;

/// The audit trail in one DynamoDB table.
#[derive(Clone)]
pub struct DynamoAudit {
    client: Client,
    table: String,
    /// Serialises this instance's appends (other instances are kept linear
    /// by the conditional transaction); saves needless conflicts.
    lock: Arc<Mutex<()>>,
}

impl std::fmt::Debug for DynamoAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoAudit")
            .field("table", &self.table)
            .finish()
    }
}

/// Which part of the chain a Query reads.
#[derive(Debug, Clone, Copy)]
enum Range {
    All,
    /// `seq < n`
    Below(i64),
    /// `a <= seq <= b`
    Between(i64, i64),
}

// ---------------------------------------------------------------- conversion

/// The item of a chain event. `detail_text` is the exact JSON text hashed.
pub fn record_to_item(rec: &Record, detail_text: &str) -> Item {
    let e = &rec.event;
    let mut item = Item::new();
    item.insert("pk".into(), s(CHAIN_PK));
    item.insert("seq".into(), n(rec.seq));
    item.insert("id".into(), s(e.id.clone()));
    item.insert("time".into(), s(e.time.clone()));
    item.insert("time_ms".into(), n(e.time_ms()));
    item.insert("event".into(), s(e.event.clone()));
    item.insert("outcome".into(), s(e.outcome.as_str()));
    put_opt(&mut item, "subject", &e.subject);
    put_opt(&mut item, "source_ip", &e.source_ip);
    put_opt(&mut item, "user_agent", &e.user_agent);
    put_opt(&mut item, "request_id", &e.request_id);
    put_opt(&mut item, "idp", &e.idp);
    put_opt(&mut item, "assertion_id", &e.assertion_id);
    put_opt(&mut item, "role_arn", &e.role_arn);
    put_opt(&mut item, "access_key_id", &e.access_key_id);
    put_opt(&mut item, "reason", &e.reason);
    item.insert("detail".into(), s(detail_text));
    item.insert("prev_hash".into(), s(rec.prev_hash.clone()));
    item.insert("hash".into(), s(rec.hash.clone()));
    item
}

/// A chain event's item back into a record and the exact detail text.
pub fn record_from_item(item: &Item, table: &str) -> Result<(Record, String), DynamoError> {
    let req_s = |key: &str| {
        get_s(item, key)
            .map(str::to_string)
            .ok_or_else(|| DynamoError::item(table, format!("event without {key}")))
    };
    let opt = |key: &str| get_s(item, key).map(str::to_string);
    let seq = get_n(item, "seq").ok_or_else(|| DynamoError::item(table, "event without seq"))?;
    let detail_text = req_s("detail")?;
    let detail = serde_json::from_str(&detail_text).unwrap_or_default();
    let outcome = if req_s("outcome")? == "success" {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    Ok((
        Record {
            seq,
            event: AuditEvent {
                id: req_s("id")?,
                time: req_s("time")?,
                event: req_s("event")?,
                outcome,
                subject: opt("subject"),
                source_ip: opt("source_ip"),
                user_agent: opt("user_agent"),
                request_id: opt("request_id"),
                idp: opt("idp"),
                assertion_id: opt("assertion_id"),
                role_arn: opt("role_arn"),
                access_key_id: opt("access_key_id"),
                reason: opt("reason"),
                detail,
            },
            prev_hash: req_s("prev_hash")?,
            hash: req_s("hash")?,
        },
        detail_text,
    ))
}

fn is_contention(err: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            let reasons = c.cancellation_reasons();
            // No reasons given: treat as a race (bounded by ATTEMPTS anyway).
            reasons.is_empty()
                || reasons.iter().any(|r| {
                    matches!(
                        r.code(),
                        Some("ConditionalCheckFailed" | "TransactionConflict")
                    )
                })
        }
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => true,
        _ => false,
    }
}

// -------------------------------------------------------------------- trail

impl DynamoAudit {
    /// The trail in `<prefix>-audit`, using `sdk` as given.
    pub fn new(sdk: &aws_config::SdkConfig, prefix: &str) -> Self {
        Self::from_client(Client::new(sdk), format!("{prefix}-audit"))
    }

    /// The trail in `table` through an existing client.
    pub fn from_client(client: Client, table: String) -> Self {
        Self {
            client,
            table,
            lock: Arc::new(Mutex::new(())),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The head item's `(seq, hash)`, if any event was ever appended.
    async fn head_item(&self) -> Result<Option<(i64, String)>, DynamoError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(HEAD_PK))
            .key("seq", n(HEAD_SEQ_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| DynamoError::call("GetItem", e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        match (get_n(&item, "head_seq"), get_s(&item, "hash")) {
            (Some(seq), Some(h)) => Ok(Some((seq, h.to_string()))),
            _ => Err(DynamoError::item(
                &self.table,
                "head without head_seq or hash",
            )),
        }
    }

    /// The newest retention anchor's `(seq, hash)`.
    pub async fn anchor(&self) -> Result<Option<(i64, String)>, DynamoError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":pk", s(ANCHOR_PK))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| DynamoError::call("Query", e))?;
        let Some(item) = out.items.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        match (get_n(&item, "seq"), get_s(&item, "hash")) {
            (Some(seq), Some(h)) => Ok(Some((seq, h.to_string()))),
            _ => Err(DynamoError::item(&self.table, "anchor without seq or hash")),
        }
    }

    /// Record that events up to `seq` (whose hash was `hash`) have been
    /// archived and may be deleted: `verify` then starts after it.
    pub async fn put_anchor(&self, seq: i64, hash: &str) -> Result<(), DynamoError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(ANCHOR_PK))
            .item("seq", n(seq))
            .item("hash", s(hash))
            .send()
            .await
            .map_err(|e| DynamoError::call("PutItem", e))?;
        Ok(())
    }

    /// The seq and hash the next event links to.
    async fn head(&self) -> Result<(Option<i64>, i64, String), DynamoError> {
        if let Some((seq, h)) = self.head_item().await? {
            return Ok((Some(seq), seq, h));
        }
        Ok(match self.anchor().await? {
            Some((seq, h)) => (None, seq, h),
            None => (None, 0, GENESIS.to_string()),
        })
    }

    /// Append one event at the head of the chain. An error means the event
    /// is not recorded (or, after a lost answer, not known to be).
    pub async fn append(&self, e: &AuditEvent) -> Result<Record, DynamoError> {
        let detail_text = serde_json::to_string(&e.detail)?;
        let text = chain::canonical(e, &detail_text);
        let _guard = self.lock.lock().await;
        for attempt in 0..ATTEMPTS {
            let (head_seq, last_seq, prev) = self.head().await?;
            let rec = Record {
                seq: last_seq + 1,
                event: e.clone(),
                hash: chain::hash(&prev, &text),
                prev_hash: prev,
            };
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(record_to_item(&rec, &detail_text)))
                .condition_expression("attribute_not_exists(#seq)")
                .expression_attribute_names("#seq", "seq")
                .build()?;
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(HEAD_PK))
                .key("seq", n(HEAD_SEQ_KEY))
                .update_expression("SET #hs = :seq, #h = :hash")
                .expression_attribute_names("#hs", "head_seq")
                .expression_attribute_names("#h", "hash")
                .expression_attribute_values(":seq", n(rec.seq))
                .expression_attribute_values(":hash", s(rec.hash.clone()));
            let update = match head_seq {
                Some(prev_seq) => update
                    .condition_expression("#hs = :prev")
                    .expression_attribute_values(":prev", n(prev_seq)),
                None => update
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", "pk"),
            }
            .build()?;
            let done = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put).build())
                .transact_items(TransactWriteItem::builder().update(update).build())
                .send()
                .await;
            match done {
                Ok(_) => return Ok(rec),
                Err(err) if is_contention(&err) => {
                    tracing::debug!(attempt, seq = rec.seq, "audit head moved; retrying");
                    let cap = 10u64 << attempt.min(4);
                    let wait = rand::random_range(1..=cap);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                Err(err) => return Err(DynamoError::call("TransactWriteItems", err)),
            }
        }
        Err(DynamoError::Contended(ATTEMPTS))
    }

    /// One Query page of chain events.
    async fn query_page(
        &self,
        range: Range,
        forward: bool,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), DynamoError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":pk", s(CHAIN_PK))
            .scan_index_forward(forward)
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(start);
        let q = match range {
            Range::All => q.key_condition_expression("#pk = :pk"),
            Range::Below(b) => q
                .key_condition_expression("#pk = :pk AND #seq < :b")
                .expression_attribute_names("#seq", "seq")
                .expression_attribute_values(":b", n(b)),
            Range::Between(a, b) => q
                .key_condition_expression("#pk = :pk AND #seq BETWEEN :a AND :b")
                .expression_attribute_names("#seq", "seq")
                .expression_attribute_values(":a", n(a))
                .expression_attribute_values(":b", n(b)),
        };
        let out = q.send().await.map_err(|e| DynamoError::call("Query", e))?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    /// Walk the chain in seq order and check every link and every hash,
    /// with the same checks and messages as [`chain::verify`].
    pub async fn verify(&self) -> Result<VerifyReport, DynamoError> {
        let mut walk = chain::Walk::new(self.anchor().await?);
        let mut start = None;
        loop {
            let (items, next) = self.query_page(Range::All, true, BATCH, start).await?;
            for item in &items {
                let (rec, detail_text) = record_from_item(item, &self.table)?;
                if let Some(b) = walk.check(&rec, &detail_text) {
                    return Ok(walk.report(Some(b)));
                }
            }
            start = next;
            if start.is_none() {
                break;
            }
        }
        Ok(walk.report(None))
    }

    /// Up to `limit` (1..=1000) matching events, newest first, all with
    /// `seq < before_seq` when given (keyset pagination as in
    /// the SQL store's page). Reads on until `limit` match or the chain
    /// is exhausted.
    pub async fn page(
        &self,
        filter: &Filter,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Record>, DynamoError> {
        let limit = usize::try_from(limit.clamp(1, 1000)).unwrap_or(50);
        let range = before_seq.map_or(Range::All, Range::Below);
        // Without a filter every item read is a match: read no more than needed.
        let batch = if filter.is_empty() {
            i32::try_from(limit).unwrap_or(BATCH)
        } else {
            BATCH
        };
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let (items, next) = self.query_page(range, false, batch, start).await?;
            for item in &items {
                let (rec, _) = record_from_item(item, &self.table)?;
                if matches(filter, &rec) {
                    out.push(rec);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            start = next;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// One event by its `id` (a filtered Query over the chain: fine for an
    /// admin view, not for a hot path).
    pub async fn get(&self, id: &str) -> Result<Option<Record>, DynamoError> {
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .filter_expression("#id = :id")
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_names("#id", "id")
                .expression_attribute_values(":pk", s(CHAIN_PK))
                .expression_attribute_values(":id", s(id))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| DynamoError::call("Query", e))?;
            if let Some(item) = out.items.unwrap_or_default().first() {
                return Ok(Some(record_from_item(item, &self.table)?.0));
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(None);
            }
        }
    }

    /// Every matching event, oldest first, read in Query pages of up to
    /// [`BATCH`] items. Bounded by the head when the first page is read:
    /// events appended during the download are not included. `'static`,
    /// for `Body::from_stream`.
    pub fn stream(
        &self,
        filter: &Filter,
    ) -> impl Stream<Item = Result<Record, DynamoError>> + Send + 'static {
        struct Cursor {
            audit: DynamoAudit,
            filter: Filter,
            /// The last seq read.
            after: i64,
            upto: Option<i64>,
            done: bool,
        }
        let start = Cursor {
            audit: self.clone(),
            filter: filter.clone(),
            after: 0,
            upto: None,
            done: false,
        };
        let batches = futures_util::stream::unfold(start, |mut c| async move {
            if c.done {
                return None;
            }
            let result = c.next_batch().await;
            if result.is_err() {
                c.done = true;
            }
            Some((result, c))
        });
        impl Cursor {
            async fn next_batch(&mut self) -> Result<Vec<Record>, DynamoError> {
                let upto = match self.upto {
                    Some(u) => u,
                    None => {
                        let u = self.audit.head_item().await?.map_or(0, |h| h.0);
                        self.upto = Some(u);
                        u
                    }
                };
                if self.after >= upto {
                    self.done = true;
                    return Ok(Vec::new());
                }
                let (items, next) = self
                    .audit
                    .query_page(Range::Between(self.after + 1, upto), true, BATCH, None)
                    .await?;
                let mut out = Vec::new();
                for item in &items {
                    let (rec, _) = record_from_item(item, &self.audit.table)?;
                    self.after = rec.seq;
                    if matches(&self.filter, &rec) {
                        out.push(rec);
                    }
                }
                if next.is_none() {
                    self.done = true;
                }
                Ok(out)
            }
        }
        batches.flat_map(|batch| {
            let items: Vec<Result<Record, DynamoError>> = match batch {
                Ok(rows) => rows.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures_util::stream::iter(items)
        })
    }

    /// Successes and failures in `buckets` (1..=1000) equal slices of the
    /// filter's time range, as the SQL store's histogram, computed over
    /// the filtered stream.
    pub async fn histogram(
        &self,
        filter: &Filter,
        buckets: usize,
    ) -> Result<Vec<Bucket>, DynamoError> {
        let points: Vec<(i64, Outcome)> = self
            .stream(filter)
            .map_ok(|r| (r.event.time_ms(), r.event.outcome))
            .try_collect()
            .await?;
        Ok(histogram_of(filter, &points, buckets))
    }

    /// The event names present in the trail, sorted. A store error is
    /// logged and gives an empty list (the page still works).
    pub async fn distinct_events(&self) -> Vec<String> {
        let names: Result<BTreeSet<String>, DynamoError> = self
            .stream(&Filter::default())
            .map_ok(|r| r.event.event)
            .try_collect()
            .await;
        match names {
            Ok(v) => v.into_iter().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "listing audit event names failed");
                Vec::new()
            }
        }
    }
}

fn audit_err(e: DynamoError) -> AuditError {
    match e {
        DynamoError::Contended(n) => AuditError::Contended(n),
        other => AuditError::Store(other.to_string()),
    }
}

#[async_trait]
impl AuditLog for DynamoAudit {
    /// One conditional transaction per event, in order: a failure part way
    /// leaves the earlier events recorded (the caller still fails closed).
    async fn append(&self, events: Vec<AuditEvent>) -> Result<Vec<Record>, AuditError> {
        let mut out = Vec::with_capacity(events.len());
        for e in &events {
            out.push(DynamoAudit::append(self, e).await.map_err(audit_err)?);
        }
        Ok(out)
    }

    async fn anchor(&self) -> Result<Option<(i64, String)>, AuditError> {
        DynamoAudit::anchor(self).await.map_err(audit_err)
    }

    fn chain(&self) -> RecordStream<(Record, String)> {
        let start = (self.clone(), None, false);
        let pages = futures_util::stream::unfold(start, |(audit, start, done)| async move {
            if done {
                return None;
            }
            let (batch, next) = match audit.query_page(Range::All, true, BATCH, start).await {
                Ok((items, next)) => (
                    items
                        .iter()
                        .map(|i| record_from_item(i, &audit.table).map_err(audit_err))
                        .collect::<Vec<_>>(),
                    next,
                ),
                Err(e) => (vec![Err(audit_err(e))], None),
            };
            let done = next.is_none();
            Some((batch, (audit, next, done)))
        });
        Box::pin(pages.flat_map(futures_util::stream::iter))
    }

    async fn page(
        &self,
        f: &Filter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Record>, AuditError> {
        DynamoAudit::page(self, f, before, limit)
            .await
            .map_err(audit_err)
    }

    async fn get(&self, id: &str) -> Result<Option<Record>, AuditError> {
        DynamoAudit::get(self, id).await.map_err(audit_err)
    }

    async fn histogram(&self, f: &Filter, buckets: usize) -> Result<Vec<Bucket>, AuditError> {
        DynamoAudit::histogram(self, f, buckets)
            .await
            .map_err(audit_err)
    }

    async fn distinct_events(&self) -> Vec<String> {
        DynamoAudit::distinct_events(self).await
    }

    fn stream(&self, f: Filter) -> RecordStream<Record> {
        Box::pin(DynamoAudit::stream(self, &f).map(|r| r.map_err(audit_err)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::Utc;

    fn chained(events: Vec<AuditEvent>) -> Vec<(Record, String)> {
        let mut prev = GENESIS.to_string();
        events
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let detail = serde_json::to_string(&e.detail).unwrap();
                let h = chain::hash(&prev, &chain::canonical(&e, &detail));
                let rec = Record {
                    seq: i64::try_from(i).unwrap() + 1,
                    event: e,
                    prev_hash: prev.clone(),
                    hash: h.clone(),
                };
                prev = h;
                (rec, detail)
            })
            .collect()
    }

    #[test]
    fn item_round_trip_keeps_every_field_and_leaves_none_absent() {
        let mut full = AuditEvent::new("credentials.issued", Outcome::Success, Utc::now())
            .detail("duration", 3600)
            .detail("z", "last")
            .detail("a", serde_json::json!({"nested": [1, 2]}));
        full.subject = Some("alice@example.com".into());
        full.source_ip = Some("192.0.2.1".into());
        full.user_agent = Some("curl/8".into());
        full.request_id = Some("_req".into());
        full.idp = Some("https://idp.example/".into());
        full.assertion_id = Some("_a1".into());
        full.role_arn = Some("arn:aws:iam::111111111111:role/Dev".into());
        full.access_key_id = Some("ASIAEXAMPLE".into());
        full.reason = Some(String::new());
        let bare = AuditEvent::new("login.failed", Outcome::Failure, Utc::now());
        for (rec, detail) in chained(vec![full, bare]) {
            let item = record_to_item(&rec, &detail);
            assert_eq!(get_s(&item, "pk"), Some(CHAIN_PK));
            assert_eq!(get_n(&item, "time_ms"), Some(rec.event.time_ms()));
            let (back, back_detail) = record_from_item(&item, "t").unwrap();
            assert_eq!(back, rec);
            assert_eq!(back_detail, detail);
            // The hash recomputes from what was stored.
            assert_eq!(
                chain::hash(
                    &back.prev_hash,
                    &chain::canonical(&back.event, &back_detail)
                ),
                back.hash
            );
            for (key, v) in [
                ("subject", &rec.event.subject),
                ("reason", &rec.event.reason),
                ("access_key_id", &rec.event.access_key_id),
            ] {
                assert_eq!(item.contains_key(key), v.is_some(), "{key}");
            }
        }
        let mut missing = record_to_item(
            &chained(vec![AuditEvent::new("x", Outcome::Success, Utc::now())])[0].0,
            "{}",
        );
        missing.remove("hash");
        assert!(record_from_item(&missing, "t").is_err());
    }
}
