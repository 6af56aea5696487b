//! Stimulus-artifact blanking: the artifact span is bridged by a straight line.
//!
//! Runs on the DSP thread, per sweep, before the band-pass filter (and after the mains/drift
//! fit, whose mask already leaves the artifact out). A millivolt artifact that reached the
//! filter would be smeared over ± half the filter length (±20 ms for 40 ms) and land in the
//! LSR window as a slow tail. A straight line between the last sample before and the first
//! sample after the span keeps the trace continuous (no step for the filter to ring on) and
//! adds only a short, smooth, low-amplitude segment. No allocation, no panic.

use std::ops::Range;

/// Replaces `x[range]` by the straight line from `x[start − 1]` to `x[end]` (both kept).
///
/// The range is clipped to `x`. At the start of `x` the span takes the value after it, at the
/// end the value before it; a span covering all of `x` becomes zero. Empty or out-of-bounds
/// ranges change nothing.
pub fn bridge(x: &mut [f32], range: Range<usize>) {
    let end = range.end.min(x.len());
    let start = range.start;
    if start >= end {
        return;
    }
    let before = start.checked_sub(1).and_then(|i| x.get(i)).copied();
    let after = x.get(end).copied();
    let Some(span) = x.get_mut(start..end) else {
        return;
    };
    match (before, after) {
        (Some(a), Some(b)) => {
            // Points start−1 and end are `span.len() + 1` samples apart.
            let steps = (span.len() + 1) as f64;
            let (a64, b64) = (f64::from(a), f64::from(b));
            for (i, v) in span.iter_mut().enumerate() {
                let r = (i + 1) as f64 / steps;
                *v = (a64 + (b64 - a64) * r) as f32;
            }
        }
        (Some(a), None) => span.fill(a),
        (None, Some(b)) => span.fill(b),
        (None, None) => span.fill(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridges_with_a_straight_line() {
        let mut x = [0.0, 1.0, 90.0, -70.0, 50.0, 5.0, 6.0];
        bridge(&mut x, 2..5);
        // From x[1] = 1 to x[5] = 5 over 4 steps.
        assert_eq!(x, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn handles_edges_and_bad_ranges() {
        let mut x = [9.0, 9.0, 3.0, 4.0];
        bridge(&mut x, 0..2);
        assert_eq!(x, [3.0, 3.0, 3.0, 4.0]);
        let mut x = [1.0, 2.0, 9.0, 9.0];
        bridge(&mut x, 2..10);
        assert_eq!(x, [1.0, 2.0, 2.0, 2.0]);
        let mut x = [5.0, 6.0];
        bridge(&mut x, 0..2);
        assert_eq!(x, [0.0, 0.0]);
        let mut x = [1.0, 2.0, 3.0];
        #[allow(clippy::reversed_empty_ranges)]
        bridge(&mut x, 2..1);
        bridge(&mut x, 1..1);
        bridge(&mut x, 5..9);
        assert_eq!(x, [1.0, 2.0, 3.0]);
        let mut empty: [f32; 0] = [];
        bridge(&mut empty, 0..3);
    }
}
