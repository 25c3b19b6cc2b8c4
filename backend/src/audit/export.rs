//! Export encoders: one record as a JSON Lines line or an RFC 4180 CSV row.
//!
//! Both carry every key of an event (docs/audit.md#events) plus `seq` and
//! `detail`, and each line ends with its terminator (`\n` for JSON Lines,
//! CRLF for CSV), so callers write them as they are.
//!
//! CSV cells that a spreadsheet would run as a formula (starting with `=`,
//! `+`, `-`, `@`, tab or carriage return) get a leading `'` inside quotes,
//! as OWASP's CSV-injection guidance says: an audit trail is full of
//! attacker-chosen text (NameIDs, user agents, refusal reasons).

use super::Record;

/// The CSV header row, CRLF-terminated; [`csv_line`] writes the same columns.
pub const CSV_HEADER: &str = "seq,id,time,event,outcome,subject,source_ip,user_agent,request_id,idp,assertion_id,role_arn,access_key_id,reason,detail,prev_hash,hash\r\n";

/// One record as one JSON object and a `\n`. Newlines and control
/// characters inside values are escaped by JSON, so a line is one event.
pub fn jsonl_line(r: &Record) -> String {
    let mut line = serde_json::to_string(r).unwrap_or_else(|e| {
        // Unreachable for these types (string keys, plain values); keep the
        // line well-formed and attributable if it ever happens.
        serde_json::json!({ "seq": r.seq, "id": r.event.id, "export_error": e.to_string() })
            .to_string()
    });
    line.push('\n');
    line
}

/// One record as one CSV row (RFC 4180) ending in CRLF, columns as [`CSV_HEADER`].
pub fn csv_line(r: &Record) -> String {
    let e = &r.event;
    let detail = serde_json::to_string(&e.detail).unwrap_or_else(|_| "{}".into());
    let seq = r.seq.to_string();
    let cells: [&str; 17] = [
        &seq,
        &e.id,
        &e.time,
        &e.event,
        e.outcome.as_str(),
        opt(&e.subject),
        opt(&e.source_ip),
        opt(&e.user_agent),
        opt(&e.request_id),
        opt(&e.idp),
        opt(&e.assertion_id),
        opt(&e.role_arn),
        opt(&e.access_key_id),
        opt(&e.reason),
        &detail,
        &r.prev_hash,
        &r.hash,
    ];
    let mut line = String::with_capacity(256);
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_cell(&mut line, cell);
    }
    line.push_str("\r\n");
    line
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// Quote a cell when it holds a separator, a quote or a line break, or when
/// it would start a formula (then also prefix `'`); double inner quotes.
fn push_cell(out: &mut String, cell: &str) {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || cell.contains([',', '"', '\r', '\n']);
    if !quote {
        out.push_str(cell);
        return;
    }
    out.push('"');
    if formula {
        out.push('\'');
    }
    out.push_str(&cell.replace('"', "\"\""));
    out.push('"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::audit::{AuditEvent, Outcome};

    fn record(reason: &str, subject: &str) -> Record {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut e = AuditEvent::new("login.failed", Outcome::Failure, t)
            .detail("code", "bad_signature")
            .detail("note", "line1\nline2, \"quoted\"");
        e.reason = Some(reason.into());
        e.subject = Some(subject.into());
        e.user_agent = Some("Mozilla/5.0 (X11; Linux) \"quoted\", comma".into());
        Record {
            seq: 7,
            event: e,
            prev_hash: "0".repeat(64),
            hash: "a".repeat(64),
        }
    }

    /// A strict RFC 4180 reader for the tests: rows of cells.
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut cell = String::new();
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => cell.push(c),
                (false, '"') if cell.is_empty() => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut cell)),
                (false, '\r') => {
                    assert_eq!(chars.next(), Some('\n'), "CR only as part of CRLF");
                    row.push(std::mem::take(&mut cell));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => {
                    assert!(c != '"' && c != '\n', "bare {c:?} outside quotes");
                    cell.push(c);
                }
            }
        }
        assert!(
            !quoted && cell.is_empty() && row.is_empty(),
            "unterminated row"
        );
        rows
    }

    #[test]
    fn csv_rows_parse_back_with_hostile_values() {
        let hostile = [
            "=HYPERLINK(\"http://evil\",\"click\")",
            "+1",
            "-1",
            "@SUM(A1:A2)",
            "\tcmd",
            "\r\nsplit",
            "plain, with \"quotes\"\nand a newline",
            "ünïcödé ✓ 日本語",
            "",
        ];
        for value in hostile {
            let r = record(value, value);
            let text = format!("{CSV_HEADER}{}", csv_line(&r));
            let rows = parse_csv(&text);
            assert_eq!(rows.len(), 2, "{value:?}");
            assert_eq!(rows[0].len(), 17);
            assert_eq!(rows[1].len(), 17);
            let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
            let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
            let want = if formula {
                format!("'{value}")
            } else {
                value.to_string()
            };
            assert_eq!(rows[1][col("reason")], want, "{value:?}");
            assert_eq!(rows[1][col("subject")], want, "{value:?}");
            assert_eq!(rows[1][col("seq")], "7");
            assert_eq!(rows[1][col("outcome")], "failure");
            assert_eq!(rows[1][col("hash")], "a".repeat(64));
            assert_eq!(rows[1][col("access_key_id")], "");
            let detail: serde_json::Value = serde_json::from_str(&rows[1][col("detail")]).unwrap();
            assert_eq!(detail["note"], "line1\nline2, \"quoted\"");
            assert_eq!(
                rows[1][col("user_agent")],
                "Mozilla/5.0 (X11; Linux) \"quoted\", comma"
            );
        }
    }

    #[test]
    fn formula_cells_are_quoted_and_prefixed() {
        let line = csv_line(&record("=1+1", "@me"));
        assert!(line.contains(",\"'=1+1\","), "{line}");
        assert!(line.contains(",\"'@me\","), "{line}");
        assert!(line.ends_with("\r\n"));
        assert!(CSV_HEADER.ends_with("\r\n"));
        // A formula character later in the cell is harmless and left alone.
        assert!(csv_line(&record("a=1", "b")).contains(",a=1,"));
    }

    #[test]
    fn jsonl_is_one_line_with_every_key() {
        let r = record("=HYPERLINK(\"http://evil\")\nsecond line", "ü \"q\"");
        let line = jsonl_line(&r);
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1, "inner newlines are escaped");
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        for key in [
            "seq",
            "id",
            "time",
            "event",
            "outcome",
            "subject",
            "source_ip",
            "user_agent",
            "request_id",
            "idp",
            "assertion_id",
            "role_arn",
            "access_key_id",
            "reason",
            "detail",
            "prev_hash",
            "hash",
        ] {
            assert!(v.get(key).is_some(), "{key} missing from {line}");
        }
        assert_eq!(v["reason"], "=HYPERLINK(\"http://evil\")\nsecond line");
        assert_eq!(v["subject"], "ü \"q\"");
        assert_eq!(v["detail"]["code"], "bad_signature");
        let back: Record = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }
}
