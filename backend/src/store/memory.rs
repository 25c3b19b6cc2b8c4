//! A store in this process's memory, for tests that need no database: the
//! same rules as the SQL and DynamoDB backends (a pending request is taken
//! once, by its browser; an assertion id once until it expires; one linear
//! hash chain), nothing durable.

use super::{Pending, Sessions, StateStore, StoreError};
use crate::audit::chain;
use crate::audit::query::{histogram_of, matches};
use crate::audit::{AuditError, AuditEvent, AuditLog, Bucket, Filter, Record, RecordStream};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use tower_sessions::session::{Id, Record as SessionRecord};
use tower_sessions::session_store::{self, SessionStore};

#[derive(Default)]
struct Mem {
    /// relay_state → (pending, expires)
    pending: HashMap<String, (Pending, i64)>,
    /// assertion id → expires
    replay: HashMap<String, i64>,
    sessions: HashMap<String, SessionRecord>,
    /// The chain, oldest first, with each event's detail text.
    trail: Vec<(Record, String)>,
}

#[derive(Clone, Default)]
pub struct MemoryStore(Arc<Mutex<Mem>>);

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    fn mem(&self) -> MutexGuard<'_, Mem> {
        // A panic while holding the lock cannot leave Mem half-written in a
        // way that matters to a test; keep going.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn put_pending(
        &self,
        relay_state: &str,
        pending: &Pending,
        _now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut m = self.mem();
        if m.pending.contains_key(relay_state) {
            return Err(StoreError::Write("duplicate relay state".into()));
        }
        m.pending.insert(
            relay_state.to_string(),
            (pending.clone(), expires.timestamp()),
        );
        Ok(())
    }

    async fn take_pending(
        &self,
        relay_state: &str,
        browser_nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Pending>, StoreError> {
        let mut m = self.mem();
        let ours = m
            .pending
            .get(relay_state)
            .is_some_and(|(p, _)| p.browser_nonce == browser_nonce);
        if !ours {
            return Ok(None);
        }
        Ok(m.pending
            .remove(relay_state)
            .and_then(|(p, expires)| (expires > now.timestamp()).then_some(p)))
    }

    async fn remember_assertion(
        &self,
        assertion_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut m = self.mem();
        match m.replay.get(assertion_id) {
            Some(&expires) if expires > now.timestamp() => Ok(false),
            _ => {
                m.replay.insert(assertion_id.to_string(), until.timestamp());
                Ok(true)
            }
        }
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let now_s = now.timestamp();
        let mut m = self.mem();
        let before = m.pending.len() + m.replay.len() + m.sessions.len();
        m.pending.retain(|_, (_, e)| *e > now_s);
        m.replay.retain(|_, e| *e > now_s);
        m.sessions
            .retain(|_, r| r.expiry_date.unix_timestamp() > now_s);
        let after = m.pending.len() + m.replay.len() + m.sessions.len();
        Ok(u64::try_from(before - after).unwrap_or(0))
    }

    fn sessions(&self) -> Sessions {
        Sessions::new(MemorySessions(self.clone()))
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append(&self, events: Vec<AuditEvent>) -> Result<Vec<Record>, AuditError> {
        let mut m = self.mem();
        let (mut seq, mut prev) = m
            .trail
            .last()
            .map(|(r, _)| (r.seq, r.hash.clone()))
            .unwrap_or((0, chain::GENESIS.to_string()));
        let mut linked = Vec::with_capacity(events.len());
        for e in &events {
            let (rec, text) = chain::link(seq, &prev, e)?;
            seq = rec.seq;
            prev.clone_from(&rec.hash);
            linked.push((rec, text));
        }
        let out = linked.iter().map(|(r, _)| r.clone()).collect();
        m.trail.extend(linked);
        Ok(out)
    }

    async fn anchor(&self) -> Result<Option<(i64, String)>, AuditError> {
        Ok(None)
    }

    fn chain(&self) -> RecordStream<(Record, String)> {
        let all: Vec<_> = self.mem().trail.iter().cloned().map(Ok).collect();
        Box::pin(futures_util::stream::iter(all))
    }

    async fn page(
        &self,
        f: &Filter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Record>, AuditError> {
        let limit = usize::try_from(limit.clamp(1, 1000)).unwrap_or(50);
        Ok(self
            .mem()
            .trail
            .iter()
            .rev()
            .map(|(r, _)| r)
            .filter(|r| before.is_none_or(|b| r.seq < b) && matches(f, r))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn get(&self, id: &str) -> Result<Option<Record>, AuditError> {
        Ok(self
            .mem()
            .trail
            .iter()
            .find(|(r, _)| r.event.id == id)
            .map(|(r, _)| r.clone()))
    }

    async fn histogram(&self, f: &Filter, buckets: usize) -> Result<Vec<Bucket>, AuditError> {
        let points: Vec<_> = self
            .mem()
            .trail
            .iter()
            .filter(|(r, _)| matches(f, r))
            .map(|(r, _)| (r.event.time_ms(), r.event.outcome))
            .collect();
        Ok(histogram_of(f, &points, buckets))
    }

    async fn distinct_events(&self) -> Vec<String> {
        let names: BTreeSet<String> = self
            .mem()
            .trail
            .iter()
            .map(|(r, _)| r.event.event.clone())
            .collect();
        names.into_iter().collect()
    }

    async fn count(&self, f: &Filter) -> Option<u64> {
        let n = self
            .mem()
            .trail
            .iter()
            .filter(|(r, _)| matches(f, r))
            .count();
        u64::try_from(n).ok()
    }

    fn stream(&self, f: Filter) -> RecordStream<Record> {
        let all: Vec<_> = self
            .mem()
            .trail
            .iter()
            .filter(|(r, _)| matches(&f, r))
            .map(|(r, _)| Ok(r.clone()))
            .collect();
        Box::pin(futures_util::stream::iter(all))
    }
}

/// Sessions in a [`MemoryStore`].
#[derive(Clone, Debug)]
pub struct MemorySessions(MemoryStore);

#[async_trait]
impl SessionStore for MemorySessions {
    async fn create(&self, record: &mut SessionRecord) -> session_store::Result<()> {
        let mut m = self.0.mem();
        while m.sessions.contains_key(&record.id.to_string()) {
            record.id = Id::default();
        }
        m.sessions.insert(record.id.to_string(), record.clone());
        Ok(())
    }

    async fn save(&self, record: &SessionRecord) -> session_store::Result<()> {
        self.0
            .mem()
            .sessions
            .insert(record.id.to_string(), record.clone());
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<SessionRecord>> {
        let now = time::OffsetDateTime::now_utc();
        Ok(self
            .0
            .mem()
            .sessions
            .get(&id.to_string())
            .filter(|r| r.expiry_date > now)
            .cloned())
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0.mem().sessions.remove(&id.to_string());
        Ok(())
    }
}
