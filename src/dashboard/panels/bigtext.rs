//! Large letters for the verdict word, readable from across the operating room.
//!
//! A 3x5 pixel font drawn with half-block characters: two pixel rows per text row, so each
//! letter takes 4 columns (with its gap) and 3 rows. Only capitals, digits and a few signs
//! are drawn; anything else is a blank. Kept here (a few lines) rather than as a crate.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

/// Rows of text the big letters take.
pub const HEIGHT: u16 = 3;
/// Columns per letter, gap included.
pub const ADVANCE: u16 = 4;

/// 5 rows of 3 bits (bit 2 = left pixel).
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        'A' => [0b010, 0b101, 0b111, 0b101, 0b101],
        'B' => [0b110, 0b101, 0b110, 0b101, 0b110],
        'C' => [0b011, 0b100, 0b100, 0b100, 0b011],
        'D' => [0b110, 0b101, 0b101, 0b101, 0b110],
        'E' => [0b111, 0b100, 0b110, 0b100, 0b111],
        'F' => [0b111, 0b100, 0b110, 0b100, 0b100],
        'G' => [0b011, 0b100, 0b101, 0b101, 0b011],
        'H' => [0b101, 0b101, 0b111, 0b101, 0b101],
        'I' => [0b111, 0b010, 0b010, 0b010, 0b111],
        'J' => [0b001, 0b001, 0b001, 0b101, 0b010],
        'K' => [0b101, 0b101, 0b110, 0b101, 0b101],
        'L' => [0b100, 0b100, 0b100, 0b100, 0b111],
        'M' => [0b101, 0b111, 0b111, 0b101, 0b101],
        'N' => [0b110, 0b101, 0b101, 0b101, 0b101],
        'O' => [0b010, 0b101, 0b101, 0b101, 0b010],
        'P' => [0b110, 0b101, 0b110, 0b100, 0b100],
        'Q' => [0b010, 0b101, 0b101, 0b110, 0b011],
        'R' => [0b110, 0b101, 0b110, 0b101, 0b101],
        'S' => [0b011, 0b100, 0b010, 0b001, 0b110],
        'T' => [0b111, 0b010, 0b010, 0b010, 0b010],
        'U' => [0b101, 0b101, 0b101, 0b101, 0b111],
        'V' => [0b101, 0b101, 0b101, 0b101, 0b010],
        'W' => [0b101, 0b101, 0b111, 0b111, 0b101],
        'X' => [0b101, 0b101, 0b010, 0b101, 0b101],
        'Y' => [0b101, 0b101, 0b010, 0b010, 0b010],
        'Z' => [0b111, 0b001, 0b010, 0b100, 0b111],
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b110, 0b001, 0b010, 0b100, 0b111],
        '3' => [0b110, 0b001, 0b010, 0b001, 0b110],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b110, 0b001, 0b110],
        '6' => [0b011, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b010, 0b010, 0b010],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b110],
        ':' => [0b000, 0b010, 0b000, 0b010, 0b000],
        '/' => [0b001, 0b001, 0b010, 0b100, 0b100],
        '-' => [0b000, 0b000, 0b111, 0b000, 0b000],
        '%' => [0b101, 0b001, 0b010, 0b100, 0b101],
        _ => [0; 5],
    }
}

/// Columns `text` takes in big letters (without the last gap).
pub fn width(text: &str) -> u16 {
    let n = text.chars().count() as u16;
    (n * ADVANCE).saturating_sub(1)
}

/// The three text rows of `text` in big letters.
pub fn lines(text: &str) -> [String; 3] {
    let mut rows = [String::new(), String::new(), String::new()];
    for (k, c) in text.chars().enumerate() {
        let g = glyph(c);
        for (r, row) in rows.iter_mut().enumerate() {
            if k > 0 {
                row.push(' ');
            }
            for bit in [0b100u8, 0b010, 0b001] {
                let top = g[2 * r] & bit != 0;
                let bottom = g.get(2 * r + 1).is_some_and(|b| b & bit != 0);
                row.push(match (top, bottom) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                });
            }
        }
    }
    rows
}

/// Draws `text` in big letters at the top left of `area` (clipped to it).
pub fn render(text: &str, area: Rect, buf: &mut Buffer, style: Style) {
    for (r, row) in lines(text).iter().enumerate() {
        let y = area.y + r as u16;
        if r as u16 >= area.height.min(HEIGHT) {
            break;
        }
        buf.set_stringn(area.x, y, row, area.width as usize, style);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_drawn_with_half_blocks() {
        let l = lines("LT");
        // L: left column full height, bottom bar; T: top bar, middle column.
        assert_eq!(l[0], "█   ▀█▀");
        assert_eq!(l[1], "█    █ ");
        assert_eq!(l[2], "▀▀▀  ▀ ");
        assert_eq!(width("LT"), 7);
        for row in &l {
            assert_eq!(row.chars().count(), 7);
        }
    }
}
