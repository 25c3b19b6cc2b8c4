//! What to read from the audit trail: a filter parsed from a query string,
//! the meaning of a match ([`matches`]) and the histogram of outcomes over
//! time ([`histogram_of`]). Every backend (store::sql, store::dynamo,
//! store::memory) reads with these meanings; the SQL one pushes them into
//! its WHERE clause.

use super::{Outcome, Record};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use std::collections::HashMap;

/// Longest accepted filter value, in characters.
const MAX_VALUE_CHARS: usize = 512;

/// Which events to read. Every field narrows the set; `None` leaves it open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Events strictly before this instant (a bare date means "through that day").
    pub until: Option<DateTime<Utc>>,
    pub subject: Option<String>,
    pub event: Option<String>,
    pub outcome: Option<Outcome>,
    /// Exact role ARN.
    pub role: Option<String>,
    pub source_ip: Option<String>,
    /// A substring of `reason`, case-insensitive (ASCII letters).
    pub text: Option<String>,
}

/// The query-string keys of a [`Filter`], in the order links write them.
pub const FILTER_KEYS: [&str; 8] = [
    "since",
    "until",
    "subject",
    "event",
    "outcome",
    "role",
    "source_ip",
    "text",
];

impl Filter {
    /// Parse the filter keys of a query string; other keys are ignored and
    /// empty values mean "any". The error names the offending key.
    pub fn from_query(q: &HashMap<String, String>) -> Result<Self, String> {
        let get = |key: &str| -> Result<Option<String>, String> {
            match q.get(key).map(|v| v.trim()) {
                None | Some("") => Ok(None),
                Some(v) if v.chars().count() > MAX_VALUE_CHARS => Err(format!(
                    "{key}: the value is longer than {MAX_VALUE_CHARS} characters"
                )),
                Some(v) if v.chars().any(char::is_control) => {
                    Err(format!("{key}: the value contains control characters"))
                }
                Some(v) => Ok(Some(v.to_string())),
            }
        };
        let since = get("since")?
            .map(|v| parse_time("since", &v, false))
            .transpose()?;
        let until = get("until")?
            .map(|v| parse_time("until", &v, true))
            .transpose()?;
        if let (Some(s), Some(u)) = (since, until) {
            if s >= u {
                return Err("until: must be later than since".into());
            }
        }
        let outcome = match get("outcome")?.as_deref() {
            None => None,
            Some("success") => Some(Outcome::Success),
            Some("failure") => Some(Outcome::Failure),
            Some(other) => {
                return Err(format!(
                    "outcome: {} is not an outcome; use success or failure",
                    quoted(other)
                ))
            }
        };
        Ok(Self {
            since,
            until,
            subject: get("subject")?,
            event: get("event")?,
            outcome,
            role: get("role")?,
            source_ip: get("source_ip")?,
            text: get("text")?,
        })
    }

    /// The filter as `key=value&…` (URL-encoded, no leading `?`), for links
    /// that keep it; [`Filter::from_query`] reads it back to an equal filter.
    pub fn to_query_string(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in self.pairs() {
            s.append_pair(key, &value);
        }
        s.finish()
    }

    /// The set fields as (key, value) pairs in [`FILTER_KEYS`] order.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        let mut out = Vec::new();
        let mut push = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                out.push((k, v));
            }
        };
        push("since", self.since.as_ref().map(time));
        push("until", self.until.as_ref().map(time));
        push("subject", self.subject.clone());
        push("event", self.event.clone());
        push("outcome", self.outcome.map(|o| o.as_str().to_string()));
        push("role", self.role.clone());
        push("source_ip", self.source_ip.clone());
        push("text", self.text.clone());
        out
    }

    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

fn quoted(v: &str) -> String {
    let short: String = v.chars().take(40).collect();
    if short.len() < v.len() {
        format!("\"{short}…\"")
    } else {
        format!("\"{short}\"")
    }
}

/// RFC 3339, or a bare `YYYY-MM-DD` (UTC): its first instant, or for an
/// exclusive upper bound the first instant of the next day.
fn parse_time(key: &str, v: &str, end_of_day: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        format!(
            "{key}: {} is not a date; use YYYY-MM-DD or an RFC 3339 time such as 2026-11-25T12:00:00Z",
            quoted(v)
        )
    })?;
    let day = if end_of_day {
        day.succ_opt()
    } else {
        Some(day)
    };
    day.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{key}: {} is out of range", quoted(v)))
}

/// Outcome counts over one slice of time, `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub success: u64,
    pub failure: u64,
}

/// Whether `r` passes `f`: the same tests as the SQL filter (`since`
/// inclusive, `until` exclusive on the event's time in ms; exact subject,
/// event, outcome, role and source IP; `text` a case-insensitive substring
/// of `reason`).
pub fn matches(f: &Filter, r: &Record) -> bool {
    let e = &r.event;
    let t = e.time_ms();
    let eq = |want: &Option<String>, have: &Option<String>| {
        want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
    };
    f.since.is_none_or(|s| t >= s.timestamp_millis())
        && f.until.is_none_or(|u| t < u.timestamp_millis())
        && eq(&f.subject, &e.subject)
        && f.event.as_ref().is_none_or(|w| w == &e.event)
        && f.outcome.is_none_or(|o| o == e.outcome)
        && eq(&f.role, &e.role_arn)
        && eq(&f.source_ip, &e.source_ip)
        && f.text.as_ref().is_none_or(|t| {
            e.reason
                .as_ref()
                .is_some_and(|r| r.to_lowercase().contains(&t.to_lowercase()))
        })
}

/// The histogram the admin page draws, over the matching events'
/// `(time_ms, outcome)`: `buckets` (1..=1000) equal slices of the filter's
/// range, an open end closed at the first or last event.
pub fn histogram_of(filter: &Filter, points: &[(i64, Outcome)], buckets: usize) -> Vec<Bucket> {
    let n = i64::try_from(buckets.clamp(1, 1000)).unwrap_or(24);
    let (start, end) = match (filter.since, filter.until) {
        (Some(s), Some(u)) => (s.timestamp_millis(), u.timestamp_millis()),
        (since, until) => {
            let (Some(first), Some(last)) = (
                points.iter().map(|p| p.0).min(),
                points.iter().map(|p| p.0).max(),
            ) else {
                return Vec::new();
            };
            (
                since.map_or(first, |s| s.timestamp_millis()),
                until.map_or(last.saturating_add(1), |u| u.timestamp_millis()),
            )
        }
    };
    let span = end.saturating_sub(start);
    if span <= 0 {
        return Vec::new();
    }
    let edge = |i: i64| -> i64 {
        let off = (i128::from(span) * i128::from(i) + i128::from(n) - 1) / i128::from(n);
        start.saturating_add(i64::try_from(off).unwrap_or(i64::MAX))
    };
    let ms = |v: i64| DateTime::from_timestamp_millis(v).unwrap_or_default();
    let mut out: Vec<Bucket> = (0..n)
        .map(|i| Bucket {
            start: ms(edge(i)),
            end: ms(edge(i + 1)),
            success: 0,
            failure: 0,
        })
        .collect();
    for &(t, outcome) in points {
        if t < start || t >= end {
            continue;
        }
        let b = (i128::from(t - start) * i128::from(n)) / i128::from(span);
        if let Some(bucket) = usize::try_from(b).ok().and_then(|b| out.get_mut(b)) {
            match outcome {
                Outcome::Success => bucket.success += 1,
                Outcome::Failure => bucket.failure += 1,
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filter_reads_dates_and_rfc3339() {
        let f = Filter::from_query(&q(&[
            ("since", "2026-11-24"),
            ("until", "2026-11-24"),
            ("page", "ignored"),
        ]))
        .unwrap();
        assert_eq!(f.since, Some(at("2026-11-24T00:00:00Z")));
        assert_eq!(
            f.until,
            Some(at("2026-11-25T00:00:00Z")),
            "a bare until date includes that day"
        );
        let f = Filter::from_query(&q(&[("since", "2026-11-24T10:00:00+02:00")])).unwrap();
        assert_eq!(f.since, Some(at("2026-11-24T08:00:00Z")));
        let f =
            Filter::from_query(&q(&[("subject", "  "), ("outcome", ""), ("text", " x ")])).unwrap();
        assert_eq!(
            f,
            Filter {
                text: Some("x".into()),
                ..Filter::default()
            }
        );
    }

    #[test]
    fn filter_errors_name_the_key() {
        let cases = [
            (("since", "yesterday"), "since:"),
            (("until", "2026-13-01"), "until:"),
            (("outcome", "maybe"), "outcome:"),
            (("subject", "a\u{0}b"), "subject:"),
        ];
        for ((k, v), want) in cases {
            let e = Filter::from_query(&q(&[(k, v)])).unwrap_err();
            assert!(e.starts_with(want), "{e}");
        }
        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        assert!(Filter::from_query(&q(&[("text", &long)]))
            .unwrap_err()
            .starts_with("text:"));
        let e = Filter::from_query(&q(&[("since", "2026-11-25"), ("until", "2026-11-24")]))
            .unwrap_err();
        assert!(e.starts_with("until:"), "{e}");
    }

    #[test]
    fn query_string_round_trips() {
        let f = Filter {
            since: Some(at("2026-11-24T10:00:00.250Z")),
            until: Some(at("2026-11-25T00:00:00Z")),
            subject: Some("o'brien&co=1 ü".into()),
            event: Some(crate::audit::names::LOGIN_FAILED.into()),
            outcome: Some(Outcome::Failure),
            role: Some("arn:aws:iam::1:role/A+B".into()),
            source_ip: Some("2001:db8::1".into()),
            text: Some("50% #done".into()),
        };
        let s = f.to_query_string();
        assert!(
            s.starts_with("since=2026-11-24T10%3A00%3A00.250Z&until="),
            "{s}"
        );
        let back: HashMap<String, String> = url::form_urlencoded::parse(s.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(Filter::from_query(&back).unwrap(), f);
        assert_eq!(Filter::default().to_query_string(), "");
        assert!(Filter::default().is_empty());
    }
}
