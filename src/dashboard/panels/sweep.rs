//! The current sweep of an LSR channel, with the patient's baseline average overlaid, the LSR
//! window's edges and the onset marked; and the direct (M) response beside it.
//!
//! The trace is the engine's conditioned display trace (artifact blanked, filtered, mains and
//! the direct response's crosstalk removed), 256 peak-preserving points from -10 to +60 ms.
//! The direct-response channel has no trace in the results (only its peak-to-peak per
//! stimulus), so it is shown as a number, a bar against the largest seen, and a small history.
//!
//! The chart's vertical scale is fixed in microvolts per division (`+`/`-`), like an EMG
//! machine, not automatic: a fading response must look smaller, not be rescaled back up.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker as Dots;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Chart, Dataset, GraphType, LegendPosition, Paragraph, Sparkline, Widget,
};

use super::super::state::DashboardState;
use super::super::theme;
use crate::model::{SweepResult, SweepStatus};
use crate::report::clock;

/// Divisions above and below zero on the sweep chart.
pub const HALF_DIVISIONS: f32 = 4.0;

/// Amplitude in words: `850 µV` or `2.31 mV`.
pub fn fmt_uv(v: f32) -> String {
    if !v.is_finite() {
        "n/a".into()
    } else if v.abs() >= 1000.0 {
        format!("{:.2} mV", v / 1000.0)
    } else {
        format!("{v:.0} µV")
    }
}

/// A sweep's own verdict in words.
pub fn status_words(r: &SweepResult) -> String {
    match (r.status, r.reject_reason) {
        (SweepStatus::Rejected, Some(reason)) => format!("rejected: {}", reason.describe()),
        (s, _) => s.as_str().to_string(),
    }
}

fn vline(x: f64, half: f64) -> [(f64, f64); 2] {
    [(x, -half), (x, half)]
}

/// Draws the sweep chart of channel `i`.
pub fn render(st: &DashboardState, i: usize, area: Rect, buf: &mut Buffer) {
    let Some(c) = st.channels.get(i) else {
        return;
    };
    let Some(d) = st.display_sweeps(i) else {
        return;
    };
    let uv_div = st.uv_per_div();
    let half = (HALF_DIVISIONS * uv_div) as f64;
    let sel = if i == st.selected && st.channels.len() > 1 {
        "▶ "
    } else {
        ""
    };
    let mut title = Vec::new();
    if st.frozen.is_some() {
        title.push(Span::styled(" FROZEN ", theme::warning()));
    }
    title.push(Span::styled(format!(" {sel}{} ", c.label), theme::title()));
    if let Some(r) = d.latest {
        title.push(Span::styled(
            format!("{} {} ", clock(r.stim_time_s), status_words(r)),
            Style::default().fg(theme::sweep_color(r.status)),
        ));
        // The artifact's tail removed before filtering (shown when it mattered).
        if r.tail_removed_uv.abs() >= 1.0 {
            title.push(Span::raw(format!(
                "artifact tail removed {} ({} at window) ",
                fmt_uv(r.tail_removed_uv),
                fmt_uv(r.tail_at_window_uv)
            )));
        }
    }
    let block = Block::bordered().title(Line::from(title));
    let Some(r) = d.latest else {
        Paragraph::new("waiting for the first sweep")
            .block(block)
            .render(area, buf);
        return;
    };
    let clip = |v: f32| (v as f64).clamp(-half, half);
    let sweep: Vec<(f64, f64)> = r
        .trace
        .iter()
        .enumerate()
        .map(|(k, &v)| (st.trace_ms(k), clip(v)))
        .collect();
    let baseline: Option<Vec<(f64, f64)>> = c.baseline.filter(|b| b.present).map(|b| {
        b.trace
            .iter()
            .enumerate()
            .map(|(k, &v)| (st.trace_ms(k), clip(v)))
            .collect()
    });
    let [w0, w1] = st.lsr_window_ms;
    let win0 = vline(w0, half);
    let win1 = vline(w1, half);
    let onset = r.lsr_onset_ms.map(|o| vline(o as f64, half));

    let window_name = format!("LSR window {w0:.0}–{w1:.0} ms");
    let sweep_name = format!("sweep: {}", status_words(r));
    let onset_name = r.lsr_onset_ms.map(|o| format!("onset {o:.1} ms"));
    let mut sets = vec![
        Dataset::default()
            .name(window_name.clone())
            .data(&win0)
            .marker(Dots::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(theme::WINDOW)),
        Dataset::default()
            .data(&win1)
            .marker(Dots::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(theme::WINDOW)),
    ];
    if let Some(b) = &baseline {
        sets.push(
            Dataset::default()
                .name("baseline average")
                .data(b)
                .marker(Dots::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(theme::BASELINE_TRACE)),
        );
    }
    sets.push(
        Dataset::default()
            .name(sweep_name)
            .data(&sweep)
            .marker(Dots::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(theme::sweep_color(r.status))),
    );
    if let (Some(o), Some(name)) = (&onset, &onset_name) {
        sets.push(
            Dataset::default()
                .name(name.clone())
                .data(o)
                .marker(Dots::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(theme::ONSET)),
        );
    }
    let inner_h = area.height.saturating_sub(2);
    let inner_w = area.width.saturating_sub(2);
    let show_legend = inner_h >= 12 && inner_w >= 56;
    let [a, b] = st.display_ms;
    let x_labels: Vec<String> = if inner_w >= 50 && ((b - a) / 10.0).fract() == 0.0 {
        let n = ((b - a) / 10.0) as i64;
        (0..=n)
            .map(|k| format!("{:.0}", a + 10.0 * k as f64))
            .collect()
    } else {
        vec![
            format!("{a:.0}"),
            format!("{:.0}", (a + b) / 2.0),
            format!("{b:.0}"),
        ]
    };
    let mut x_labels = x_labels;
    if let Some(last) = x_labels.last_mut() {
        last.push_str(" ms");
    }
    let mut block = block;
    if show_legend {
        block = block.title_bottom(Line::from(format!(" {uv_div:.0} µV/div ")));
    } else {
        // No room for the legend: the key in words under the chart, each word in the colour
        // of what it names.
        let mut key = vec![
            Span::raw(format!("{uv_div:.0}µV/div, ")),
            Span::styled(
                format!("window {w0:.0}–{w1:.0}"),
                Style::default().fg(theme::WINDOW),
            ),
        ];
        if baseline.is_some() {
            key.push(Span::raw(", "));
            key.push(Span::styled(
                "baseline",
                Style::default().fg(theme::BASELINE_TRACE),
            ));
        }
        if let Some(o) = r.lsr_onset_ms {
            key.push(Span::raw(", "));
            key.push(Span::styled(
                format!("onset {o:.1}"),
                Style::default().fg(theme::ONSET),
            ));
        }
        block = block.title_bottom(Line::from(key));
    }
    Chart::new(sets)
        .block(block)
        .x_axis(
            Axis::default()
                .bounds([a, b])
                .labels(x_labels)
                .style(theme::dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([-half, half])
                .labels([format!("-{half:.0}"), "0".into(), format!("{half:.0} µV")])
                .style(theme::dim()),
        )
        .legend_position(show_legend.then_some(LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Percentage(100), Constraint::Percentage(100)))
        .render(area, buf);
}

/// Draws the direct (M) response of the stimulus of channel `i`'s latest sweep.
pub fn render_direct(st: &DashboardState, i: usize, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let d = st.display_sweeps(i);
    let latest = d.as_ref().and_then(|d| d.latest);
    let v = latest.map(|r| r.direct_p2p_uv).unwrap_or(f32::NAN);
    let ok = v.is_finite() && v >= st.min_direct_uv;
    let (word, style) = if !v.is_finite() {
        ("not measured", theme::dim())
    } else if ok {
        ("present", Style::default().fg(theme::DIRECT))
    } else {
        ("MISSING", theme::warning())
    };
    let bar_w = area.width.saturating_sub(2).min(40) as usize;
    let frac = if st.direct_max_uv > 0.0 && v.is_finite() {
        (v / st.direct_max_uv).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let filled = (frac * bar_w as f32).round() as usize;
    let bar = format!("{}{}", "█".repeat(filled), "░".repeat(bar_w - filled));
    if area.height < 5 {
        let line = Line::from(vec![
            Span::styled(format!("direct ({}): ", st.direct_label), theme::title()),
            Span::styled(format!("{} {word} ", fmt_uv(v)), style),
            Span::styled(bar, Style::default().fg(theme::DIRECT)),
        ]);
        Paragraph::new(line).render(area, buf);
        return;
    }
    let block = Block::bordered().title(Span::styled(" direct response ", theme::title()));
    let inner = block.inner(area);
    block.render(area, buf);
    let mut lines = vec![
        Line::from(Span::styled(st.direct_label.clone(), theme::dim())),
        Line::from(Span::styled(fmt_uv(v), style.add_modifier(Modifier::BOLD))),
        Line::from(Span::styled(bar, Style::default().fg(theme::DIRECT))),
        Line::from(Span::styled(
            format!("{word} (min {})", fmt_uv(st.min_direct_uv)),
            style,
        )),
    ];
    lines.truncate(inner.height as usize);
    let used = lines.len() as u16;
    Paragraph::new(lines).render(inner, buf);
    // The recent history, if there is room.
    if inner.height > used + 1 {
        if let Some(d) = d {
            let hist: Vec<u64> = d
                .cascade
                .iter()
                .rev()
                .take(inner.width as usize)
                .rev()
                .map(|r| {
                    if r.direct_p2p_uv.is_finite() {
                        r.direct_p2p_uv.max(0.0) as u64
                    } else {
                        0
                    }
                })
                .collect();
            let r = Rect::new(
                inner.x,
                inner.y + used,
                inner.width,
                (inner.height - used).min(3),
            );
            Sparkline::default()
                .data(&hist)
                .max(st.direct_max_uv.max(1.0) as u64)
                .style(Style::default().fg(theme::DIRECT))
                .render(r, buf);
        }
    }
}
