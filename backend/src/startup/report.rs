//! Errors for a person: what the broker was doing, then each cause once.

/// An error for a person: the outermost context on the first line, then each
/// cause once. A cause whose text an earlier line already shows (an error that
/// embeds its source, like sqlx's) is not repeated.
pub fn report(e: &anyhow::Error) -> String {
    let mut lines: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || lines.iter().any(|l| l.contains(text)) {
            continue;
        }
        lines.push(text.to_string());
    }
    let mut out = format!("error: {}", lines.first().map_or("", String::as_str));
    for l in lines.iter().skip(1) {
        out.push_str("\n  caused by: ");
        out.push_str(l);
    }
    out
}

/// [`report`] on one line, for a log line or a finding.
pub fn report_inline(e: &anyhow::Error) -> String {
    report(e)
        .trim_start_matches("error: ")
        .replace("\n  caused by: ", ": ")
}

#[cfg(test)]
mod tests {
    use super::report;

    #[test]
    fn an_error_shows_its_context_once_then_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("database error: {0}")]
        struct Embeds(#[source] std::io::Error);
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "unable to open database file");
        let e = anyhow::Error::new(Embeds(io)).context("opening storage.url sqlite:///x/y.db");
        assert_eq!(
            report(&e),
            "error: opening storage.url sqlite:///x/y.db\n  caused by: database error: unable to open database file"
        );
        assert_eq!(report(&anyhow::anyhow!("plain")), "error: plain");
    }
}
