//! Colours, glyphs and words for each verdict: the one place the dashboard's look is decided.
//!
//! Every state is told by words *and* colour *and* (where a single cell has to carry it, as in
//! the trend's state band and the cascade) a distinct glyph, so a colour-blind reader, a
//! monochrome terminal or a photo of the screen loses nothing. The palette uses the 16 basic
//! ANSI colours (every terminal and SSH client shows them), plus one 256-colour grey for shading.
//!
//! - LSR present: yellow (attention: the compression that causes the spasm is still there);
//! - LSR appeared (none at baseline): light yellow, its own glyph (an LSR, but not a return);
//! - LSR absent: green (the goal of the decompression);
//! - no LSR at baseline: blue (nothing can disappear on this channel);
//! - baseline being collected: cyan;
//! - cannot judge: magenta (the latest sweeps say nothing; never read as absent).

use ratatui::style::{Color, Modifier, Style};

use super::state::VerdictKind;

/// Colour of a verdict (banner background, trend band, sweep trace).
pub fn verdict_color(kind: VerdictKind) -> Color {
    match kind {
        VerdictKind::Baseline => Color::Cyan,
        VerdictKind::Present => Color::Yellow,
        VerdictKind::Appeared => Color::LightYellow,
        VerdictKind::Absent => Color::Green,
        VerdictKind::NoBaseline => Color::Blue,
        VerdictKind::CannotJudge => Color::Magenta,
    }
}

/// Text colour that reads on [`verdict_color`].
pub fn verdict_text(kind: VerdictKind) -> Color {
    match kind {
        VerdictKind::NoBaseline | VerdictKind::CannotJudge => Color::White,
        _ => Color::Black,
    }
}

/// The banner's style: bold text on the verdict colour.
pub fn banner(kind: VerdictKind) -> Style {
    Style::default()
        .bg(verdict_color(kind))
        .fg(verdict_text(kind))
        .add_modifier(Modifier::BOLD)
}

/// One-cell glyph of a verdict in the trend's state band (shape differs, not only colour).
pub fn band_glyph(kind: VerdictKind) -> &'static str {
    match kind {
        VerdictKind::Baseline => "·",
        VerdictKind::Present => "▆",
        VerdictKind::Appeared => "▲",
        VerdictKind::Absent => "▁",
        VerdictKind::NoBaseline => "○",
        VerdictKind::CannotJudge => "×",
    }
}

/// Colour of a single sweep by its own status.
pub fn sweep_color(status: crate::model::SweepStatus) -> Color {
    match status {
        crate::model::SweepStatus::Present => Color::Yellow,
        crate::model::SweepStatus::Absent => Color::Green,
        crate::model::SweepStatus::Rejected => Color::DarkGray,
    }
}

/// The patient's baseline average, overlaid on the current sweep.
pub const BASELINE_TRACE: Color = Color::Cyan;
/// The LSR window's edges.
pub const WINDOW: Color = Color::DarkGray;
/// Shading of the LSR window behind the cascade (a 256-colour dark grey: where a terminal
/// lacks it, the shading is lost but nothing else; the window is also named in words).
pub const WINDOW_BG: Color = Color::Indexed(236);
/// The onset mark.
pub const ONSET: Color = Color::LightRed;
/// Surgical markers on the trend.
pub const MARKER: Color = Color::White;
/// The direct (M) response.
pub const DIRECT: Color = Color::LightBlue;
/// Panel titles.
pub fn title() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}
/// Warnings in the health line.
pub fn warning() -> Style {
    Style::default()
        .fg(Color::Black)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD)
}
/// Quiet text (hints, units).
pub fn dim() -> Style {
    Style::default().fg(Color::Gray)
}
