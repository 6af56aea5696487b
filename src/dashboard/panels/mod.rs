//! The panels: pure functions from [`DashboardState`](super::state::DashboardState) to cells.
//! Each draws into the area it is given and degrades when the area is small (fewer labels,
//! no legend, one-line forms) rather than failing.

pub mod banner;
pub mod bigtext;
pub mod cascade;
pub mod dialogs;
pub mod health;
pub mod sweep;
pub mod trend;

/// Column (from the left of a canvas `width` cells wide) where the canvas draws a point at
/// fraction `f` of its x range: the same rounding as ratatui's braille grid.
pub fn canvas_col(f: f64, width: u16) -> u16 {
    let dots = (2 * width.max(1) - 1) as f64;
    let dot = (f.clamp(0.0, 1.0) * dots).round() as u16;
    (dot / 2).min(width.saturating_sub(1))
}

/// Seconds as `h:mm:ss` (axis labels).
pub fn hms(t: f64) -> String {
    let t = t.max(0.0).floor() as u64;
    format!("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_clock() {
        assert_eq!(canvas_col(0.0, 10), 0);
        assert_eq!(canvas_col(1.0, 10), 9);
        assert_eq!(canvas_col(0.5, 10), 5);
        assert_eq!(canvas_col(2.0, 10), 9);
        assert_eq!(hms(3725.9), "1:02:05");
        assert_eq!(hms(-3.0), "0:00:00");
    }
}
