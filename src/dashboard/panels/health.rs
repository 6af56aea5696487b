//! The health line: is the monitor itself working? Sample and stimulation rate, mains,
//! ring-buffer fill, lost samples, results that did not reach the screen, how old the verdicts
//! are when they leave the DSP thread (decision and processing latency, see
//! [`crate::pipeline::latency`]), the recording, and the reminder that this is a research tool. Problems are shown in words on red.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::super::state::DashboardState;
use super::super::theme;
use super::hms;

/// The reminder shown on every screen.
pub const NOTE: &str = "research tool — not a medical device";

fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

/// The acquisition and processing figures (first row).
pub fn acquisition_spans(st: &DashboardState) -> Vec<Span<'static>> {
    let h = &st.health;
    let ok = Style::default();
    let sep = || Span::styled(" · ", theme::dim());
    let mut v = vec![Span::styled(
        format!("{:.1} kHz", st.sample_rate_hz / 1000.0),
        ok,
    )];
    v.push(sep());
    v.push(Span::raw(match st.stim_rate_hz() {
        Some(r) => format!("stim {r:.1} Hz"),
        None => "stim -".to_string(),
    }));
    v.push(sep());
    v.push(Span::raw(match st.mains_hz {
        Some(Some(hz)) => format!("mains {hz:.0} Hz removed"),
        Some(None) => "no mains".to_string(),
        None => "mains ?".to_string(),
    }));
    v.push(sep());
    let fill = if st.cfg.ring_frames > 0 {
        100.0 * h.ring_fill as f64 / st.cfg.ring_frames as f64
    } else {
        0.0
    };
    v.push(Span::styled(
        format!("ring {fill:.0}%"),
        if fill >= 80.0 { theme::warning() } else { ok },
    ));
    v.push(sep());
    let lost = format!(
        "lost {} frames, {} sweeps",
        h.frames_dropped, st.lost_sample_sweeps
    );
    v.push(Span::styled(
        lost,
        if h.frames_dropped > 0 || st.lost_sample_sweeps > 0 {
            theme::warning()
        } else {
            ok
        },
    ));
    if let Some(c) = &st.ended {
        if c.gaps > 0 {
            v.push(Span::styled(
                format!(" in {} gaps", c.gaps),
                theme::warning(),
            ));
        }
    }
    v.push(sep());
    v.push(Span::styled(
        format!("{} results not shown", h.outputs_dropped),
        if h.outputs_dropped > 0 {
            theme::warning()
        } else {
            ok
        },
    ));
    v
}

/// Processing this slow means the monitor is falling behind the patient.
const SLOW_PROCESSING_MS: f64 = 50.0;

/// How old a verdict is when it reaches the screen: from the end of its LSR window (which
/// includes the signal the sweep waits for after the window), and the pipeline's own part.
fn latency_spans(st: &DashboardState) -> Vec<Span<'static>> {
    let h = &st.health;
    match (h.decision.ms(), h.processing.ms()) {
        (Some((p50, p99, _)), Some((_, proc99, _))) => vec![
            Span::raw(format!("verdict {p50:.1} ms after window, p99 {p99:.1} · ")),
            Span::styled(
                format!("processing p99 {proc99:.2} ms"),
                if proc99 > SLOW_PROCESSING_MS {
                    theme::warning()
                } else {
                    Style::default()
                },
            ),
        ],
        _ => vec![Span::raw("latency: no verdict yet")],
    }
}

/// Stream end or failure, the note, the recording and the latency (second row).
pub fn session_spans(st: &DashboardState) -> Vec<Span<'static>> {
    let sep = || Span::styled(" · ", theme::dim());
    let mut v = Vec::new();
    if let Some(msg) = &st.source_failed {
        v.push(Span::styled(
            format!("SOURCE FAILED: {msg}"),
            theme::warning(),
        ));
        v.push(sep());
    } else if st.ended.is_some() {
        v.push(Span::styled("stream ended", theme::title()));
        v.push(sep());
    }
    // The note first, so a narrow terminal never cuts it.
    v.push(Span::styled(NOTE, theme::title()));
    v.push(sep());
    match (&st.cfg.recording, &st.health.recording) {
        (Some(path), rec) => {
            let failed = rec.as_ref().is_some_and(|r| r.failed);
            let mut s = format!("REC {path}");
            if let Some(r) = rec {
                if let Some(b) = r.bytes {
                    s.push_str(&format!(" {}", size(b)));
                }
                s.push_str(&format!(" {}", hms(r.elapsed_s)));
            }
            if failed {
                v.push(Span::styled(
                    format!("RECORDING FAILED ({path})"),
                    theme::warning(),
                ));
            } else {
                v.push(Span::raw(s));
            }
        }
        (None, _) => v.push(Span::styled("not recording", theme::dim())),
    }
    v.push(sep());
    v.extend(latency_spans(st));
    v
}

/// Draws the health line into `area` (two rows if it has them, else one, wrapped).
pub fn render(st: &DashboardState, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    if area.height >= 2 {
        Paragraph::new(vec![
            Line::from(acquisition_spans(st)),
            Line::from(session_spans(st)),
        ])
        .render(area, buf);
    } else {
        // One row, wrapped: the note (first in the session part) and the acquisition.
        let mut spans = session_spans(st);
        spans.push(Span::raw(" · "));
        spans.extend(acquisition_spans(st));
        Paragraph::new(Line::from(spans))
            .wrap(Wrap { trim: true })
            .render(area, buf);
    }
}
