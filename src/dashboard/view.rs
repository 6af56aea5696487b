//! The screen layout: which panel goes where, for any terminal size down to 80x24.
//!
//! ```text
//! title: source, case time, flags
//! banner per LSR channel   (5 rows with big letters, 2 rows, or 1 row, as height allows)
//! sweep chart(s) | direct response | cascade
//! trend (LSR p2p, markers, state band, direct response)
//! health (2 rows)
//! footer: last notice or key hints
//! ```
//!
//! Space is given in that order of importance: the banners and the health line never go;
//! below about 16 rows the charts go first. Sweep charts of every LSR channel sit side by side
//! when each gets 45 columns, else only the selected channel's (Tab).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use ratatui::Frame;

use super::panels::{banner, cascade, dialogs, health, sweep, trend};
use super::state::{DashboardState, Mode};
use super::theme;
use crate::report::clock;

/// Draws the whole dashboard into a frame.
pub fn render(frame: &mut Frame, st: &DashboardState) {
    let area = frame.area();
    render_into(area, frame.buffer_mut(), st);
}

/// Draws the whole dashboard into a buffer area.
pub fn render_into(area: Rect, buf: &mut Buffer, st: &DashboardState) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let n = st.channels.len();
    let h = area.height;
    let banner_rows = banner::rows_per_banner(h, n);
    let banners_h = (banner_rows * n as u16).min(h.saturating_sub(2));
    let health_h: u16 = if h >= 12 { 2 } else { 1 };
    let footer_h: u16 = 1;
    let [title_a, banners_a, body_a, health_a, footer_a] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banners_h),
        Constraint::Fill(1),
        Constraint::Length(health_h),
        Constraint::Length(footer_h),
    ])
    .areas(area);

    title(st, title_a, buf);
    for i in 0..n {
        let y = banners_a.y + i as u16 * banner_rows;
        if y >= banners_a.y + banners_a.height {
            break;
        }
        let rows = banner_rows.min(banners_a.y + banners_a.height - y);
        banner::render(st, i, Rect::new(banners_a.x, y, banners_a.width, rows), buf);
    }
    body(st, body_a, buf);
    health::render(st, health_a, buf);
    footer(st, footer_a, buf);
    dialogs::render(st, area, buf);
}

fn title(st: &DashboardState, area: Rect, buf: &mut Buffer) {
    let mut spans = vec![
        Span::styled(" lsrmon ", theme::title().add_modifier(Modifier::REVERSED)),
        Span::raw(format!(" {} ", st.description)),
    ];
    if !st.cfg.title.is_empty() {
        spans.push(Span::styled(format!("· {} ", st.cfg.title), theme::dim()));
    }
    spans.push(Span::styled(
        format!("· case {} ", clock(st.stream_time_s)),
        theme::title(),
    ));
    if st.frozen.is_some() {
        spans.push(Span::styled(" WAVEFORMS FROZEN ", theme::warning()));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

fn body(st: &DashboardState, area: Rect, buf: &mut Buffer) {
    if area.height < 4 || st.channels.is_empty() {
        return;
    }
    let sel = st.selected.min(st.channels.len() - 1);
    if area.height < 12 {
        // Room for one panel: the trend says the most over a case.
        trend::render(st, sel, area, buf);
        return;
    }
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(52), Constraint::Percentage(48)]).areas(area);
    let wide = area.width >= 100;
    let (sweeps_a, direct_a, cascade_a) = if wide {
        let casc_w = (area.width * 3 / 10).clamp(30, 60);
        let [s, d, c] = Layout::horizontal([
            Constraint::Fill(1),
            Constraint::Length(22),
            Constraint::Length(casc_w),
        ])
        .areas(top);
        (s, d, c)
    } else {
        let [left, c] =
            Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(top);
        let [s, d] = Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(left);
        (s, d, c)
    };
    let n = st.channels.len();
    if n > 1 && sweeps_a.width / n as u16 >= 45 {
        let cols = Layout::horizontal(vec![Constraint::Fill(1); n]).split(sweeps_a);
        for (i, r) in cols.iter().enumerate() {
            sweep::render(st, i, *r, buf);
        }
    } else {
        sweep::render(st, sel, sweeps_a, buf);
    }
    sweep::render_direct(st, sel, direct_a, buf);
    cascade::render(st, sel, cascade_a, buf);
    trend::render(st, sel, bottom, buf);
}

fn footer(st: &DashboardState, area: Rect, buf: &mut Buffer) {
    let hints = "1-7 markers · m note · b re-baseline · f freeze · +/- scale · Tab channel · r report · ? help · q quit";
    let line = match (&st.mode, &st.notice) {
        (Mode::Normal, Some(n)) => Line::from(vec![
            Span::styled(
                format!(" {n} "),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!(" {hints}"), theme::dim()),
        ]),
        _ => Line::styled(format!(" {hints}"), theme::dim()),
    };
    Paragraph::new(line).render(area, buf);
}
