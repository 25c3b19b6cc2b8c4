//! The geometry of the admin page's chart: stacked bars of successes and
//! refusals per time bucket, axis ticks and labels, computed here so the
//! template only places finished numbers into inline SVG (no script, no
//! style attributes: the CSP allows neither).

use crate::audit::query::Bucket;
use chrono::{DateTime, Utc};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 44.0;

/// Everything the template draws.
pub struct Chart {
    pub width: f64,
    pub height: f64,
    /// The plot area: left, right, top and bottom edges.
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
    /// Where the tick labels and the axis title go.
    pub tick_x: f64,
    pub label_y: f64,
    pub title_x: f64,
    pub title_y: f64,
    pub bars: Vec<Bar>,
    pub y_ticks: Vec<Tick>,
    pub x_labels: Vec<XLabel>,
    pub success: u64,
    pub failure: u64,
    /// One sentence for screen readers (the SVG's `<desc>`).
    pub summary: String,
    /// The range covered, in words: `12:00–13:00 UTC, 1 Dec 2026`.
    pub range: String,
}

/// `12:00–13:00 UTC, 1 Dec 2026`, or across days
/// `30 Nov 2026 22:00 – 1 Dec 2026 01:00 UTC`. Minutes, to the nearest.
pub fn range_words(start: &DateTime<Utc>, end: &DateTime<Utc>) -> String {
    use chrono::{DurationRound, TimeDelta};
    let minute = |t: &DateTime<Utc>| t.duration_round(TimeDelta::minutes(1)).unwrap_or(*t);
    let (s, e) = (minute(start), minute(end));
    if s.date_naive() == e.date_naive()
        || e == s.duration_trunc(TimeDelta::days(1)).unwrap_or(s) + TimeDelta::days(1)
    {
        let end_clock = if e.date_naive() == s.date_naive() {
            e.format("%H:%M").to_string()
        } else {
            "24:00".into()
        };
        format!(
            "{}–{end_clock} UTC, {}",
            s.format("%H:%M"),
            s.format("%-d %b %Y")
        )
    } else {
        format!(
            "{} – {} UTC",
            s.format("%-d %b %Y %H:%M"),
            e.format("%-d %b %Y %H:%M")
        )
    }
}

/// One bucket: a success bar with the failure bar stacked on it.
pub struct Bar {
    pub x: f64,
    pub w: f64,
    pub ok_y: f64,
    pub ok_h: f64,
    pub bad_y: f64,
    pub bad_h: f64,
    /// Shown as the bar's tooltip (`<title>`).
    pub label: String,
}

pub struct Tick {
    pub y: f64,
    /// The label's baseline, a little below the line so it sits centred on it.
    pub text_y: f64,
    pub label: u64,
}

pub struct XLabel {
    pub x: f64,
    /// SVG `text-anchor`: start, middle or end.
    pub anchor: &'static str,
    pub label: String,
}

/// One decimal is plenty for pixel positions and keeps the markup short.
fn px(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The smallest 1, 2 or 5 × 10^k step that splits `max` into at most four.
fn step_for(max: u64) -> u64 {
    let mut magnitude = 1u64;
    loop {
        for m in [1, 2, 5] {
            let step = m * magnitude;
            if step.saturating_mul(4) >= max {
                return step;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

fn label_format(span_ms: i64) -> &'static str {
    const MINUTE: i64 = 60_000;
    const DAY: i64 = 24 * 60 * MINUTE;
    if span_ms >= 4 * DAY {
        "%Y-%m-%d"
    } else if span_ms >= 2 * MINUTE {
        "%m-%d %H:%M"
    } else {
        "%H:%M:%S%.3f"
    }
}

/// "about 1 hour", "5 minutes": the width of one bucket in words.
pub fn duration_words(ms: i64) -> String {
    let units = [
        (86_400_000, "day"),
        (3_600_000, "hour"),
        (60_000, "minute"),
        (1_000, "second"),
    ];
    for (size, name) in units {
        if ms >= size {
            let n = (ms + size / 2) / size;
            let s = if n == 1 { "" } else { "s" };
            let about = if ms % size == 0 { "" } else { "about " };
            return format!("{about}{n} {name}{s}");
        }
    }
    format!("{ms} ms")
}

impl Chart {
    /// None when there is nothing to draw.
    pub fn new(buckets: &[Bucket]) -> Option<Self> {
        let (first, last) = (buckets.first()?, buckets.last()?);
        let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM);
        let success: u64 = buckets.iter().map(|b| b.success).sum();
        let failure: u64 = buckets.iter().map(|b| b.failure).sum();
        let max = buckets
            .iter()
            .map(|b| b.success + b.failure)
            .max()
            .unwrap_or(0);
        let step = step_for(max);
        let top = max.div_ceil(step).max(1) * step;
        let scale = (y1 - y0) / top as f64;
        let span = last.end - first.start;
        let format = label_format(span.num_milliseconds());
        let when = |t: &DateTime<Utc>| t.format(format).to_string();
        let slot = (x1 - x0) / buckets.len() as f64;
        let bars = buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let ok_h = b.success as f64 * scale;
                let bad_h = b.failure as f64 * scale;
                Bar {
                    x: px(x0 + i as f64 * slot + slot * 0.1),
                    w: px((slot * 0.8).max(1.0)),
                    ok_y: px(y1 - ok_h),
                    ok_h: px(ok_h),
                    bad_y: px(y1 - ok_h - bad_h),
                    bad_h: px(bad_h),
                    label: format!(
                        "{} to {} UTC: {} succeeded, {} refused",
                        when(&b.start),
                        when(&b.end),
                        b.success,
                        b.failure
                    ),
                }
            })
            .collect();
        let y_ticks = (0..=top / step)
            .map(|k| {
                let y = y1 - (k * step) as f64 * scale;
                Tick {
                    y: px(y),
                    text_y: px(y + 4.0),
                    label: k * step,
                }
            })
            .collect();
        let middle = &buckets[buckets.len() / 2];
        let x_labels = vec![
            XLabel {
                x: x0,
                anchor: "start",
                label: when(&first.start),
            },
            XLabel {
                x: px(x0 + (buckets.len() / 2) as f64 * slot),
                anchor: "middle",
                label: when(&middle.start),
            },
            XLabel {
                x: x1,
                anchor: "end",
                label: when(&last.end),
            },
        ];
        let per =
            duration_words((span / i32::try_from(buckets.len()).unwrap_or(1)).num_milliseconds());
        let summary = format!(
            "From {} to {} UTC, {success} events succeeded and {failure} were refused, in {} bars of {per} each; the busiest bar has {max} events.",
            first.start.format("%Y-%m-%d %H:%M:%S"),
            last.end.format("%Y-%m-%d %H:%M:%S"),
            buckets.len(),
        );
        Some(Self {
            range: range_words(&first.start, &last.end),
            width: WIDTH,
            height: HEIGHT,
            x0,
            x1,
            y0,
            y1,
            tick_x: x0 - 6.0,
            label_y: y1 + 16.0,
            title_x: px((x0 + x1) / 2.0),
            title_y: HEIGHT - 6.0,
            bars,
            y_ticks,
            x_labels,
            success,
            failure,
            summary,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn steps_are_round_numbers() {
        assert_eq!(step_for(0), 1);
        assert_eq!(step_for(4), 1);
        assert_eq!(step_for(5), 2);
        assert_eq!(step_for(9), 5);
        assert_eq!(step_for(37), 10);
        assert_eq!(step_for(1234), 500);
    }

    #[test]
    fn bars_stack_inside_the_plot() {
        let b = |h: u32, ok, bad| Bucket {
            start: t("2026-11-25T00:00:00Z") + chrono::Duration::hours(i64::from(h)),
            end: t("2026-11-25T01:00:00Z") + chrono::Duration::hours(i64::from(h)),
            success: ok,
            failure: bad,
        };
        let c = Chart::new(&[b(0, 3, 1), b(1, 0, 0), b(2, 0, 7)]).unwrap();
        assert_eq!((c.success, c.failure), (3, 8));
        assert_eq!(c.bars.len(), 3);
        for bar in &c.bars {
            assert!(bar.bad_y >= c.y0 - 0.1 && bar.ok_y + bar.ok_h <= c.y1 + 0.1);
            assert!((bar.bad_y + bar.bad_h - bar.ok_y).abs() < 0.2, "stacked");
        }
        assert_eq!(c.bars[1].ok_h + c.bars[1].bad_h, 0.0);
        assert_eq!(
            c.y_ticks.last().unwrap().label,
            8,
            "top tick covers the busiest bar"
        );
        assert_eq!(c.x_labels[0].label, "11-25 00:00");
        assert_eq!(c.x_labels[2].label, "11-25 03:00");
        assert!(c.bars[0].label.contains("3 succeeded, 1 refused"));
        assert!(
            c.summary.contains("in 3 bars of 1 hour each"),
            "{}",
            c.summary
        );
        assert!(Chart::new(&[]).is_none());
    }

    #[test]
    fn ranges_in_words() {
        assert_eq!(
            range_words(&t("2026-12-01T12:00:00Z"), &t("2026-12-01T13:00:00Z")),
            "12:00–13:00 UTC, 1 Dec 2026"
        );
        assert_eq!(
            range_words(&t("2026-12-01T00:00:00Z"), &t("2026-12-02T00:00:00Z")),
            "00:00–24:00 UTC, 1 Dec 2026"
        );
        assert_eq!(
            range_words(&t("2026-11-30T22:00:00Z"), &t("2026-12-01T01:00:00.001Z")),
            "30 Nov 2026 22:00 – 1 Dec 2026 01:00 UTC"
        );
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(duration_words(3_600_000), "1 hour");
        assert_eq!(duration_words(5_400_001), "about 2 hours");
        assert_eq!(duration_words(120_000), "2 minutes");
        assert_eq!(duration_words(250), "250 ms");
    }
}
