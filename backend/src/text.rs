//! Small text helpers shared by the broker's pages: times in one format, and
//! long ARNs that break only after `/` or `:`.

use chrono::{DateTime, Utc};

/// HTML-escape `s`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An ARN (or any identifier) as HTML, escaped, with `<wbr>` after each `/`
/// and `:` so that it wraps only there (the CSS keeps it from breaking
/// anywhere else).
pub fn arn_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        out.push_str(&escape(c.encode_utf8(&mut [0; 4])));
        if c == '/' || c == ':' {
            out.push_str("<wbr>");
        }
    }
    out
}

/// `12:00:05 UTC, 1 Dec 2026`: the audit trail's time, always labelled UTC.
pub fn utc_words(t: &DateTime<Utc>) -> String {
    t.format("%H:%M:%S UTC, %-d %b %Y").to_string()
}

/// `1 Dec 2026, 21:03 UTC`: a time on the person's own pages, the fallback
/// text of a `<time data-local-time>` that /static/local-time.js rewrites to
/// the browser's zone in the same shape (`1 Dec 2026, 22:03 CET`).
pub fn utc_short(t: &DateTime<Utc>) -> String {
    t.format("%-d %b %Y, %H:%M UTC").to_string()
}

/// `RFC 3339, UTC, seconds`, for `<time datetime>`.
pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// "1 event", "3 events".
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn arns_break_only_after_slash_and_colon() {
        assert_eq!(
            arn_html("arn:aws:iam::1:role/a<b"),
            "arn:<wbr>aws:<wbr>iam:<wbr>:<wbr>1:<wbr>role/<wbr>a&lt;b"
        );
    }

    #[test]
    fn words() {
        let t = DateTime::parse_from_rfc3339("2026-12-01T09:05:03Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(utc_words(&t), "09:05:03 UTC, 1 Dec 2026");
        assert_eq!(utc_short(&t), "1 Dec 2026, 09:05 UTC");
        assert_eq!(count(1, "event", "events"), "1 event");
        assert_eq!(count(0, "event", "events"), "0 events");
    }
}
