//! The overlays: key help (`?`), the free-text marker input (`m`) and the confirmations for
//! re-baseline (`b`) and quit (`q`). Each is a bordered box in the middle of the screen over a
//! cleared area, so it reads on top of the charts.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::super::input::help_lines;
use super::super::state::{DashboardState, Mode, MARKER_TEXT_MAX};
use super::super::theme;
use crate::report::clock;

/// A box of `w` x `h` centred in `area` (clipped to it).
pub fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn boxed(area: Rect, buf: &mut Buffer, title: &str, lines: Vec<Line<'static>>, w: u16) {
    let inner_w = w.min(area.width).saturating_sub(2).max(1) as usize;
    let rows: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w).max(1))
        .sum();
    let r = centred(area, w, rows as u16 + 2);
    Clear.render(r, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(
            Block::bordered()
                .title(Span::styled(format!(" {title} "), theme::title()))
                .border_style(Style::default().add_modifier(Modifier::BOLD)),
        )
        .render(r, buf);
}

/// Draws the overlay of the current mode, if any.
pub fn render(st: &DashboardState, area: Rect, buf: &mut Buffer) {
    let key = Style::default().add_modifier(Modifier::BOLD);
    match &st.mode {
        Mode::Normal => {}
        Mode::Help => {
            let mut lines: Vec<Line> = help_lines()
                .into_iter()
                .map(|(k, d)| {
                    Line::from(vec![Span::styled(format!("{k:>6}  "), key), Span::raw(d)])
                })
                .collect();
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                "Markers go on the trend and to the session file.",
                theme::dim(),
            ));
            lines.push(Line::styled(
                "Verdicts: words and colour; never colour alone.",
                theme::dim(),
            ));
            boxed(area, buf, "keys", lines, 66);
        }
        Mode::MarkerInput(text) => {
            let lines = vec![
                Line::from(vec![
                    Span::raw("marker at "),
                    Span::styled(clock(st.acquired_s), key),
                    Span::raw(format!(" (up to {MARKER_TEXT_MAX} characters):")),
                ]),
                Line::from(vec![Span::styled(format!("> {text}▏"), key)]),
                Line::styled("Enter adds it, Esc cancels", theme::dim()),
            ];
            boxed(area, buf, "marker", lines, 70);
        }
        Mode::ConfirmRebaseline => {
            let lines = vec![
                Line::styled("Re-baseline every channel?", key),
                Line::raw(format!(
                    "The current baselines are discarded and the next {} judged sweeps make new ones.",
                    st.baseline_sweeps
                )),
                Line::styled("y = yes, n or Esc = no", key),
            ];
            boxed(area, buf, "re-baseline", lines, 60);
        }
        Mode::ConfirmQuit => {
            let mut what = String::from("Monitoring stops");
            if let Some(p) = &st.cfg.recording {
                what.push_str(&format!(" and the recording {p} is closed"));
            }
            what.push('.');
            let lines = vec![
                Line::styled("Quit lsrmon?", key),
                Line::raw(what),
                Line::styled("y = quit, n or Esc = stay", key),
            ];
            boxed(area, buf, "quit", lines, 60);
        }
    }
}
