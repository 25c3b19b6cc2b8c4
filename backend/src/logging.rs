//! The service's log output.
//!
//! Text logs go through [`EscapingFields`]: every field value, the message
//! included and span fields too, has its line breaks and other control
//! characters escaped, so a value taken from a request (signed or not) can
//! never start a new line that looks like a log entry of its own. JSON logs
//! escape by construction. Colour is used only when stderr is a terminal.

use std::fmt;
use std::io::IsTerminal;
use tracing::Subscriber;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,tower_sessions=warn";

/// Whether `c` must not appear raw in a text log line: C0 controls (CR, LF,
/// TAB, ESC, ...), DEL, C1 controls (NEL U+0085 among them) and the Unicode
/// line and paragraph separators.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Append `s` to `out` with [`needs_escape`] characters written as `\n`, `\r`,
/// `\t` or `\u{..}`.
pub fn write_escaped(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    let mut clean = 0;
    for (i, c) in s.char_indices() {
        if !needs_escape(c) {
            continue;
        }
        out.write_str(&s[clean..i])?;
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c => write!(out, "\\u{{{:x}}}", u32::from(c))?,
        }
        clean = i + c.len_utf8();
    }
    out.write_str(&s[clean..])
}

/// `s` escaped as by [`write_escaped`].
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Writing to a String cannot fail.
    let _ = write_escaped(&mut out, s);
    out
}

struct Escaping<'a, 'w>(&'a mut Writer<'w>);

impl fmt::Write for Escaping<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(&mut self.0, s)
    }
}

/// Formats fields as tracing-subscriber's default text format does
/// (`message field=value ...`), with control characters escaped.
///
/// Field names are not styled (no ANSI codes inside fields): an ESC in the
/// output of this formatter could only have come from a value.
#[derive(Debug, Default, Clone, Copy)]
pub struct EscapingFields;

impl<'writer> FormatFields<'writer> for EscapingFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut escaping = Escaping(&mut writer);
        DefaultFields::new().format_fields(Writer::new(&mut escaping), fields)
    }
}

/// The subscriber the service logs through: JSON, or text with
/// [`EscapingFields`] (colour only when `ansi`).
pub fn subscriber<W>(
    json: bool,
    ansi: bool,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if json {
        Box::new(builder.json().with_ansi(false).finish())
    } else {
        Box::new(builder.with_ansi(ansi).fmt_fields(EscapingFields).finish())
    }
}

/// Install the service's subscriber, logging to stderr (`RUST_LOG` filters).
pub fn init(json: bool) {
    use tracing_subscriber::util::SubscriberInitExt;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = json
        || std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let ansi = !json && std::io::stderr().is_terminal();
    // Fails only when a subscriber is already installed, which is then kept.
    let _ = subscriber(json, ansi, filter, std::io::stderr).try_init();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(json: bool, ansi: bool, f: impl FnOnce()) -> String {
        let buf = Buffer::default();
        let writer = buf.clone();
        let sub = subscriber(json, ansi, EnvFilter::new("info"), move || writer.clone());
        tracing::subscriber::with_default(sub, f);
        let out = buf.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    fn hostile_event() {
        let span = tracing::info_span!("request", path = %"/saml/acs\nINFO fake: span");
        let _g = span.enter();
        let unsigned = "a\r\nb";
        tracing::warn!(
            status = %unsigned,
            algorithm = ?"x\ny",
            raw = unsigned,
            other = %"\u{1b}[31mred\u{7f}\u{85}nel\u{2028}ls\u{2029}ps\u{0}",
            "sign-in refused: {}",
            "line one\nINFO saml_broker: forged"
        );
    }

    #[test]
    fn text_logs_keep_each_event_on_one_line() {
        let out = capture(false, false, hostile_event);
        assert_eq!(out.lines().count(), 1, "{out:?}");
        assert!(out.ends_with('\n'));
        let line = out.trim_end_matches('\n');
        assert!(!line.chars().any(needs_escape), "{line:?}");
        assert!(line.contains(r"sign-in refused: line one\nINFO saml_broker: forged"));
        assert!(line.contains(r"status=a\r\nb"), "{line}");
        assert!(line.contains(r"path=/saml/acs\nINFO fake: span"), "{line}");
        assert!(
            line.contains(r"other=\u{1b}[31mred\u{7f}\u{85}nel\u{2028}ls\u{2029}ps\u{0}"),
            "{line}"
        );
    }

    #[test]
    fn json_logs_stay_json_on_one_line() {
        let out = capture(true, false, hostile_event);
        assert_eq!(out.lines().count(), 1, "{out:?}");
        let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(v["fields"]["status"], "a\r\nb");
        assert!(!out.contains('\u{1b}'));
    }

    #[test]
    fn no_colour_unless_asked() {
        assert!(!capture(false, false, hostile_event).contains('\u{1b}'));
        // With colour the level is styled; values are still escaped.
        let coloured = capture(false, true, hostile_event);
        assert!(coloured.contains('\u{1b}'));
        assert_eq!(coloured.lines().count(), 1);
        assert!(coloured.contains(r"\u{1b}[31mred"));
    }

    #[test]
    fn escape_function() {
        assert_eq!(escape("plain é ✓"), "plain é ✓");
        assert_eq!(escape("a\r\nb\tc"), r"a\r\nb\tc");
        assert_eq!(
            escape("\u{0}\u{1f}\u{7f}\u{85}\u{9b}"),
            r"\u{0}\u{1f}\u{7f}\u{85}\u{9b}"
        );
        assert_eq!(escape("x\u{2028}y\u{2029}"), r"x\u{2028}y\u{2029}");
        assert_eq!(escape(r"back\slash"), r"back\slash");
    }
}
