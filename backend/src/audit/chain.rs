//! The hash chain: how an event is linked and hashed, and the checks
//! `verify` makes (the same for every backend; the store appends).
//!
//! `hash = SHA-256(prev_hash || "\n" || canonical)`, where `canonical` is a
//! JSON array of the event's fields in a fixed order, with `detail` as the
//! exact JSON text stored. The first event's `prev_hash` is 64 zeros, or the
//! retention anchor's hash once older events have been archived.

use super::{AuditEvent, Record};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The canonical bytes hashed for an event.
pub fn canonical(e: &AuditEvent, detail_text: &str) -> String {
    serde_json::json!([
        e.id,
        e.time,
        e.event,
        e.outcome.as_str(),
        e.subject,
        e.source_ip,
        e.user_agent,
        e.request_id,
        e.idp,
        e.assertion_id,
        e.role_arn,
        e.access_key_id,
        e.reason,
        detail_text
    ])
    .to_string()
}

pub fn hash(prev_hash: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// The record `e` becomes when appended after `(prev_seq, prev_hash)`, and
/// the exact detail text that was hashed (every backend stores that text).
pub fn link(
    prev_seq: i64,
    prev_hash: &str,
    e: &AuditEvent,
) -> Result<(Record, String), serde_json::Error> {
    let detail_text = serde_json::to_string(&e.detail)?;
    let h = hash(prev_hash, &canonical(e, &detail_text));
    Ok((
        Record {
            seq: prev_seq + 1,
            event: e.clone(),
            prev_hash: prev_hash.to_string(),
            hash: h,
        },
        detail_text,
    ))
}

/// The first problem `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub seq: i64,
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub head: String,
    pub anchored_at: Option<i64>,
    pub broken: Option<Broken>,
}

/// The checks `verify` makes, one record at a time in `seq` order; shared by
/// every backend so they all report the same problems in the same words.
pub struct Walk {
    expected_seq: i64,
    expected_prev: String,
    anchored_at: Option<i64>,
    events: u64,
}

impl Walk {
    /// Start at the retention anchor (last archived seq and hash), or at genesis.
    pub fn new(anchor: Option<(i64, String)>) -> Self {
        let anchored_at = anchor.as_ref().map(|a| a.0);
        let (expected_seq, expected_prev) = anchor
            .map(|(s, h)| (s + 1, h))
            .unwrap_or((1, GENESIS.to_string()));
        Self {
            expected_seq,
            expected_prev,
            anchored_at,
            events: 0,
        }
    }

    /// Check the next record; the first problem ends the walk.
    pub fn check(&mut self, rec: &Record, detail_text: &str) -> Option<Broken> {
        self.events += 1;
        let bad = |reason: String| Broken {
            seq: rec.seq,
            id: rec.event.id.clone(),
            reason,
        };
        if rec.seq != self.expected_seq {
            return Some(bad(format!(
                "sequence jumps from {} to {} (events removed or inserted)",
                self.expected_seq - 1,
                rec.seq
            )));
        }
        if rec.prev_hash != self.expected_prev {
            return Some(bad("prev_hash does not match the previous event's hash (events removed, inserted or reordered)".into()));
        }
        if hash(&rec.prev_hash, &canonical(&rec.event, detail_text)) != rec.hash {
            return Some(bad(
                "hash does not match the event's content (the event was altered)".into(),
            ));
        }
        self.expected_prev = rec.hash.clone();
        self.expected_seq = rec.seq + 1;
        None
    }

    pub fn report(self, broken: Option<Broken>) -> VerifyReport {
        VerifyReport {
            events: self.events,
            head: self.expected_prev,
            anchored_at: self.anchored_at,
            broken,
        }
    }
}

/// The last verification's result, for the admin page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    NotChecked,
    Intact {
        events: u64,
        checked_at: DateTime<Utc>,
    },
    Broken {
        first_bad_seq: i64,
        first_bad_id: String,
        reason: String,
        checked_at: DateTime<Utc>,
    },
}

impl ChainStatus {
    pub fn from_report(r: &VerifyReport, at: DateTime<Utc>) -> Self {
        match &r.broken {
            None => Self::Intact {
                events: r.events,
                checked_at: at,
            },
            Some(b) => Self::Broken {
                first_bad_seq: b.seq,
                first_bad_id: b.id.clone(),
                reason: b.reason.clone(),
                checked_at: at,
            },
        }
    }

    pub fn is_broken(&self) -> bool {
        matches!(self, Self::Broken { .. })
    }

    /// When the last check ran, if one has.
    pub fn checked_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::NotChecked => None,
            Self::Intact { checked_at, .. } | Self::Broken { checked_at, .. } => Some(*checked_at),
        }
    }

    /// The events the last check covered (an intact chain only).
    pub fn events(&self) -> Option<u64> {
        match self {
            Self::Intact { events, .. } => Some(*events),
            _ => None,
        }
    }

    pub fn summary(&self) -> String {
        let t = crate::text::utc_words;
        match self {
            Self::NotChecked => "The chain has not been checked since the broker started.".into(),
            Self::Intact { events, checked_at } => format!(
                "Chain intact at the last check ({}): {} verified.",
                t(checked_at),
                crate::text::count(*events, "event", "events")
            ),
            Self::Broken {
                first_bad_seq,
                first_bad_id,
                reason,
                checked_at,
            } => format!(
                "CHAIN BROKEN at event #{first_bad_seq} ({first_bad_id}): {reason}. Found by the check at {}.",
                t(checked_at)
            ),
        }
    }
}
