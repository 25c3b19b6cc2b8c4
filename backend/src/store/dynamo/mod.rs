//! The DynamoDB backend (`storage.url = "dynamodb://<table-prefix>"`), for
//! serverless deployments where several short-lived instances share state.
//!
//! Four tables, named from the prefix (the same as `template.yaml` creates):
//!
//! | table | key | what |
//! | --- | --- | --- |
//! | `<prefix>-sessions` | `pk` (S) = session id | `data` (S, the record as JSON), `expires_at` (N) |
//! | `<prefix>-pending` | `pk` (S) = RelayState | `request_id`, `return_to`?, `role_hint`?, `created_at`, `expires_at` |
//! | `<prefix>-replay` | `pk` (S) = assertion id | `expires_at` |
//! | `<prefix>-audit` | `pk` (S), `seq` (N) | see [`audit`] |
//!
//! `expires_at` is epoch seconds and the three small tables have DynamoDB
//! TTL on it, so nothing needs sweeping. TTL deletes late (up to days), so
//! every read also checks `expires_at` itself: an expired item that is still
//! there counts as absent.
//!
//! The client is built from the `SdkConfig` as given: in production the
//! default credential chain (the Lambda role), in tests static credentials.

pub mod audit;

use super::{Pending, StateStore, StoreError};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;
use tower_sessions::session::{Id, Record as SessionRecord};
use tower_sessions::session_store::{self, SessionStore};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// The attribute every table is keyed on (partition key).
pub const PK: &str = "pk";
/// The TTL attribute (epoch seconds) of the sessions, pending and replay tables.
pub const EXPIRES_AT: &str = "expires_at";

/// How long `create_tables` waits for a new table to become ACTIVE.
const ACTIVE_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum DynamoError {
    #[error("storage URL {0:?} is not a DynamoDB URL; use dynamodb://TABLE-PREFIX (letters, digits, '_', '-', '.'; 3 to 200 characters)")]
    Url(String),
    /// A DynamoDB call failed. `code` is the service's error code when it answered.
    #[error("DynamoDB {op} failed: {message}")]
    Call {
        op: &'static str,
        code: Option<String>,
        message: String,
    },
    #[error("DynamoDB request could not be built: {0}")]
    Build(#[from] aws_sdk_dynamodb::error::BuildError),
    #[error("malformed item in {table}: {reason}")]
    Item { table: String, reason: String },
    #[error("encoding failed: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("table {0} did not become ACTIVE in time")]
    NotActive(String),
    #[error("audit chain head moved {0} times in a row; giving up")]
    Contended(u32),
}

impl DynamoError {
    /// A failed SDK call, keeping the service's error code.
    pub fn call<E, R>(op: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        Self::Call {
            op,
            code: err.code().map(str::to_string),
            message: DisplayErrorContext(&err).to_string(),
        }
    }

    pub fn item(table: &str, reason: impl Into<String>) -> Self {
        Self::Item {
            table: table.to_string(),
            reason: reason.into(),
        }
    }
}

/// The table prefix of a `dynamodb://PREFIX` storage URL (a trailing `/` is
/// allowed). DynamoDB table names take `[A-Za-z0-9_.-]`, 3..=255 characters;
/// the prefix is kept short enough for the longest suffix (`-sessions`).
pub fn table_prefix(url: &str) -> Result<&str, DynamoError> {
    let bad = || DynamoError::Url(url.to_string());
    let rest = url.strip_prefix("dynamodb://").ok_or_else(bad)?;
    let prefix = rest.strip_suffix('/').unwrap_or(rest);
    let ok_chars = prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok_chars || !(3..=200).contains(&prefix.len()) {
        return Err(bad());
    }
    Ok(prefix)
}

// ---------------------------------------------------------------- attributes

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn get_s<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(crate) fn get_n(item: &Item, key: &str) -> Option<i64> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// Set `key` only when there is a value (absent, not NULL, for `None`).
pub(crate) fn put_opt(item: &mut Item, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        item.insert(key.to_string(), s(v.clone()));
    }
}

/// The item of a pending login.
pub fn pending_item(
    relay_state: &str,
    p: &Pending,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), s(relay_state));
    item.insert("request_id".into(), s(p.request_id.clone()));
    put_opt(&mut item, "return_to", &p.return_to);
    put_opt(&mut item, "role_hint", &p.role_hint);
    item.insert("browser_nonce".into(), s(p.browser_nonce.clone()));
    item.insert("created_at".into(), n(now.timestamp()));
    item.insert(EXPIRES_AT.into(), n(expires.timestamp()));
    item
}

/// A pending login and its expiry (epoch seconds) from its item.
pub fn pending_from_item(item: &Item) -> Option<(Pending, i64)> {
    Some((
        Pending {
            request_id: get_s(item, "request_id")?.to_string(),
            return_to: get_s(item, "return_to").map(str::to_string),
            role_hint: get_s(item, "role_hint").map(str::to_string),
            browser_nonce: get_s(item, "browser_nonce").unwrap_or_default().to_string(),
        },
        get_n(item, EXPIRES_AT)?,
    ))
}

// --------------------------------------------------------------------- store

/// Pending requests, the replay cache and sessions in DynamoDB: the
/// counterpart of [`super::Store`] with the same operations.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    prefix: String,
}

impl DynamoStore {
    /// A store over the tables `<prefix>-…`, using `sdk` as given (region,
    /// endpoint, credentials).
    pub async fn new(sdk: &aws_config::SdkConfig, prefix: &str) -> Self {
        Self {
            client: Client::new(sdk),
            prefix: prefix.to_string(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>-<suffix>`.
    pub fn table(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    /// The session store over `<prefix>-sessions`.
    pub fn sessions(&self) -> DynamoSessions {
        DynamoSessions {
            client: self.client.clone(),
            table: self.table("sessions"),
        }
    }

    /// The audit trail over `<prefix>-audit`.
    pub fn audit(&self) -> audit::DynamoAudit {
        audit::DynamoAudit::from_client(self.client.clone(), self.table("audit"))
    }

    /// Create the four tables when absent (PAY_PER_REQUEST), wait until they
    /// are ACTIVE and turn TTL on for `expires_at`. Idempotent, and safe to
    /// run from several instances at once. Deployments that create the
    /// tables themselves (CloudFormation) need not call it.
    pub async fn create_tables(&self) -> Result<(), DynamoError> {
        for suffix in ["sessions", "pending", "replay"] {
            let table = self.table(suffix);
            self.create_table(&table, false).await?;
            self.wait_active(&table).await?;
            self.enable_ttl(&table).await?;
        }
        let audit = self.table("audit");
        self.create_table(&audit, true).await?;
        self.wait_active(&audit).await
    }

    async fn create_table(&self, table: &str, with_seq: bool) -> Result<(), DynamoError> {
        let mut req = self
            .client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(PK)
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(PK)
                    .key_type(KeyType::Hash)
                    .build()?,
            );
        if with_seq {
            req = req
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name("seq")
                        .attribute_type(ScalarAttributeType::N)
                        .build()?,
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("seq")
                        .key_type(KeyType::Range)
                        .build()?,
                );
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(DynamoError::call("CreateTable", e)),
        }
    }

    async fn wait_active(&self, table: &str) -> Result<(), DynamoError> {
        let deadline = tokio::time::Instant::now() + ACTIVE_WAIT;
        loop {
            let out = self
                .client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| DynamoError::call("DescribeTable", e))?;
            let status = out.table.and_then(|t| t.table_status);
            if status == Some(TableStatus::Active) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(DynamoError::NotActive(table.to_string()));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn ttl_on(&self, table: &str) -> Result<bool, DynamoError> {
        let out = self
            .client
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
            .map_err(|e| DynamoError::call("DescribeTimeToLive", e))?;
        Ok(matches!(
            out.time_to_live_description
                .and_then(|d| d.time_to_live_status),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ))
    }

    async fn enable_ttl(&self, table: &str) -> Result<(), DynamoError> {
        if self.ttl_on(table).await? {
            return Ok(());
        }
        let done = self
            .client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(EXPIRES_AT)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await;
        match done {
            Ok(_) => Ok(()),
            // Another instance turned it on meanwhile ("TimeToLive is already enabled").
            Err(e) if self.ttl_on(table).await.unwrap_or(false) => {
                tracing::debug!(error = %DisplayErrorContext(&e), table, "TTL enabled concurrently");
                Ok(())
            }
            Err(e) => Err(DynamoError::call("UpdateTimeToLive", e)),
        }
    }

    /// Reachability and permission check: a GetItem of a key that never
    /// exists on `<prefix>-pending`. (GetItem rather than DescribeTable: the
    /// function role in template.yaml is granted item actions only.)
    pub async fn ping(&self) -> Result<(), DynamoError> {
        self.client
            .get_item()
            .table_name(self.table("pending"))
            .key(PK, s("__ping__"))
            .projection_expression("#pk")
            .expression_attribute_names("#pk", PK)
            .send()
            .await
            .map_err(|e| DynamoError::call("GetItem", e))?;
        Ok(())
    }

    pub async fn put_pending(
        &self,
        relay_state: &str,
        pending: &Pending,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), DynamoError> {
        self.client
            .put_item()
            .table_name(self.table("pending"))
            .set_item(Some(pending_item(relay_state, pending, now, expires)))
            .send()
            .await
            .map_err(|e| DynamoError::call("PutItem", e))?;
        Ok(())
    }

    /// Remove and return the pending request for `relay_state` if it has not
    /// expired. One DeleteItem returning the old item, so two instances
    /// taking the same RelayState cannot both get it.
    pub async fn take_pending(
        &self,
        relay_state: &str,
        browser_nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Pending>, DynamoError> {
        let res = self
            .client
            .delete_item()
            .table_name(self.table("pending"))
            .key(PK, s(relay_state))
            .condition_expression("browser_nonce = :n")
            .expression_attribute_values(":n", s(browser_nonce))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let out = match res {
            Ok(o) => o,
            // Absent, or started by another browser: nothing taken, nothing burned.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(DynamoError::call("DeleteItem", e)),
        };
        let Some(old) = out.attributes else {
            return Ok(None);
        };
        let (pending, expires) = pending_from_item(&old).ok_or_else(|| {
            DynamoError::item(&self.table("pending"), "missing request_id or expires_at")
        })?;
        Ok((expires > now.timestamp()).then_some(pending))
    }

    /// Record an accepted assertion id. Returns false when it was already
    /// seen and is still remembered (a replay). One conditional PutItem, so
    /// two instances racing on the same id cannot both win; an entry that
    /// has expired but that TTL has not deleted yet is overwritten.
    pub async fn remember_assertion(
        &self,
        assertion_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, DynamoError> {
        let done = self
            .client
            .put_item()
            .table_name(self.table("replay"))
            .item(PK, s(assertion_id))
            .item(EXPIRES_AT, n(until.timestamp()))
            .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await;
        match done {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(DynamoError::call("PutItem", e)),
        }
    }

    /// Nothing to do: DynamoDB TTL deletes expired items. Always 0.
    pub async fn sweep(&self, _now: DateTime<Utc>) -> Result<u64, DynamoError> {
        Ok(0)
    }
}

// ------------------------------------------------------------------ sessions

/// tower-sessions records in `<prefix>-sessions`: `pk` = the session id,
/// `data` = the whole record as JSON, `expires_at` = its expiry (epoch
/// seconds, the TTL attribute).
#[derive(Clone, Debug)]
pub struct DynamoSessions {
    client: Client,
    table: String,
}

/// How many fresh ids `create` tries before giving up (a collision of
/// 128-bit random ids is not expected even once).
const CREATE_ATTEMPTS: u32 = 8;

fn backend(op: &'static str) -> impl FnOnce(DynamoError) -> session_store::Error {
    move |e| session_store::Error::Backend(format!("{op}: {e}"))
}

/// The item of a session record.
pub fn session_item(record: &SessionRecord) -> Result<Item, serde_json::Error> {
    let mut item = Item::new();
    item.insert(PK.into(), s(record.id.to_string()));
    item.insert("data".into(), s(serde_json::to_string(record)?));
    item.insert(EXPIRES_AT.into(), n(record.expiry_date.unix_timestamp()));
    Ok(item)
}

/// The session record in an item, `None` when it has expired at `now`.
pub fn session_from_item(
    item: &Item,
    now: time::OffsetDateTime,
) -> Result<Option<SessionRecord>, session_store::Error> {
    let data = get_s(item, "data")
        .ok_or_else(|| session_store::Error::Decode("session item without data".into()))?;
    let record: SessionRecord =
        serde_json::from_str(data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
    Ok((record.expiry_date > now).then_some(record))
}

impl DynamoSessions {
    pub fn table(&self) -> &str {
        &self.table
    }

    async fn put(&self, record: &SessionRecord, only_new: bool) -> Result<bool, DynamoError> {
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(session_item(record)?));
        if only_new {
            req = req
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK);
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if only_new
                    && e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(DynamoError::call("PutItem", e)),
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for DynamoSessions {
    /// Store a new record without overwriting another session: on an id
    /// collision the record gets a fresh id and is tried again.
    async fn create(&self, record: &mut SessionRecord) -> session_store::Result<()> {
        for _ in 0..CREATE_ATTEMPTS {
            if self.put(record, true).await.map_err(backend("create"))? {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(session_store::Error::Backend(format!(
            "create: no free session id after {CREATE_ATTEMPTS} tries"
        )))
    }

    async fn save(&self, record: &SessionRecord) -> session_store::Result<()> {
        self.put(record, false).await.map_err(backend("save"))?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<SessionRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| DynamoError::call("GetItem", e))
            .map_err(backend("load"))?;
        match out.item {
            None => Ok(None),
            Some(item) => session_from_item(&item, time::OffsetDateTime::now_utc()),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(id.to_string()))
            .send()
            .await
            .map_err(|e| DynamoError::call("DeleteItem", e))
            .map_err(backend("delete"))?;
        Ok(())
    }
}

fn store_err(e: DynamoError) -> StoreError {
    StoreError::Dynamo(e.to_string())
}

#[async_trait]
impl StateStore for DynamoStore {
    async fn ping(&self) -> Result<(), StoreError> {
        DynamoStore::ping(self).await.map_err(store_err)
    }
    async fn migrate(&self) -> Result<(), StoreError> {
        self.create_tables().await.map_err(store_err)
    }
    fn migrates_on_start(&self) -> bool {
        false
    }
    async fn put_pending(
        &self,
        relay_state: &str,
        pending: &Pending,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        DynamoStore::put_pending(self, relay_state, pending, now, expires)
            .await
            .map_err(store_err)
    }
    async fn take_pending(
        &self,
        relay_state: &str,
        browser_nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Pending>, StoreError> {
        DynamoStore::take_pending(self, relay_state, browser_nonce, now)
            .await
            .map_err(store_err)
    }
    async fn remember_assertion(
        &self,
        assertion_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        DynamoStore::remember_assertion(self, assertion_id, until, now)
            .await
            .map_err(store_err)
    }
    async fn sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        DynamoStore::sweep(self, now).await.map_err(store_err)
    }
    fn sessions(&self) -> super::Sessions {
        super::Sessions::new(DynamoStore::sessions(self))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn table_prefix_from_url() {
        assert_eq!(
            table_prefix("dynamodb://broker-prod").unwrap(),
            "broker-prod"
        );
        assert_eq!(table_prefix("dynamodb://a_b.c/").unwrap(), "a_b.c");
        for bad in [
            "dynamodb://",
            "dynamodb://ab",
            "dynamodb://has space",
            "dynamodb://a/b",
            "sqlite://x.db",
            "dynamo://broker",
        ] {
            assert!(table_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pending_item_round_trip_leaves_none_absent() {
        let now = Utc::now();
        let later = now + chrono::Duration::seconds(300);
        let full = Pending {
            request_id: "_r1".into(),
            return_to: Some("/x?y=1".into()),
            role_hint: Some("arn:aws:iam::111111111111:role/Dev".into()),
            browser_nonce: "n".into(),
        };
        let item = pending_item("rs", &full, now, later);
        assert_eq!(get_s(&item, PK), Some("rs"));
        assert_eq!(get_n(&item, "created_at"), Some(now.timestamp()));
        assert_eq!(pending_from_item(&item), Some((full, later.timestamp())));

        let bare = Pending {
            request_id: "_r2".into(),
            return_to: None,
            role_hint: None,
            browser_nonce: "n".into(),
        };
        let item = pending_item("rs", &bare, now, later);
        assert!(!item.contains_key("return_to"));
        assert!(!item.contains_key("role_hint"));
        assert_eq!(pending_from_item(&item), Some((bare, later.timestamp())));
        assert_eq!(pending_from_item(&Item::new()), None);
    }

    #[test]
    fn session_item_round_trip_and_expiry() {
        let now = time::OffsetDateTime::now_utc();
        let mut data = HashMap::new();
        data.insert(
            "user".to_string(),
            serde_json::json!({"name": "bob", "n": 3}),
        );
        let record = SessionRecord {
            id: Id::default(),
            data,
            expiry_date: now + time::Duration::minutes(30),
        };
        let item = session_item(&record).unwrap();
        assert_eq!(get_s(&item, PK), Some(record.id.to_string().as_str()));
        assert_eq!(
            get_n(&item, EXPIRES_AT),
            Some(record.expiry_date.unix_timestamp())
        );
        assert_eq!(session_from_item(&item, now).unwrap(), Some(record.clone()));
        // Expired but not yet deleted by TTL: absent.
        assert_eq!(
            session_from_item(&item, now + time::Duration::minutes(31)).unwrap(),
            None
        );
        let mut broken = item.clone();
        broken.insert("data".into(), s("not json"));
        assert!(session_from_item(&broken, now).is_err());
    }
}
