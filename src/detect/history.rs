//! Recent signal, per channel, in microvolts: where sweeps are cut from.
//!
//! A sweep can only be analysed once `post` ms of signal after its stimulus have arrived, and
//! it needs `pre` ms before it. The history keeps the last `capacity` frames of every channel
//! in one pre-allocated ring (channel-major, indexed by absolute frame number), converted from
//! device units to microvolts as they arrive. It also remembers recent discontinuities (frames
//! lost by the device or the ring), so a sweep that straddles one is rejected, not analysed.

/// Calibration of one channel: microvolts = units x `gain` + `offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    pub gain: f64,
    pub offset: f64,
}

/// Recent samples of every channel.
#[derive(Clone, Debug)]
pub struct History {
    channels: usize,
    capacity: usize,
    data: Vec<f32>,
    scale: Vec<Scale>,
    /// Frames written so far (absolute index of the next frame).
    end: u64,
    /// Frame indices at which a discontinuity occurred (samples were lost just before them).
    gaps: [u64; GAP_SLOTS],
    gap_count: usize,
}

const GAP_SLOTS: usize = 64;

impl History {
    pub fn new(scale: Vec<Scale>, capacity: usize) -> Self {
        let channels = scale.len();
        Self {
            channels,
            capacity: capacity.max(1),
            data: vec![0.0; channels * capacity.max(1)],
            scale,
            end: 0,
            gaps: [0; GAP_SLOTS],
            gap_count: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Absolute index of the next frame to arrive.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Oldest frame still held.
    pub fn start(&self) -> u64 {
        self.end.saturating_sub(self.capacity as u64)
    }

    /// Appends interleaved frames (device units). Extra values of an incomplete last frame are
    /// ignored.
    pub fn push(&mut self, interleaved: &[f32]) {
        if self.channels == 0 {
            return;
        }
        for frame in interleaved.chunks_exact(self.channels) {
            let pos = (self.end % self.capacity as u64) as usize;
            for (c, (&v, s)) in frame.iter().zip(&self.scale).enumerate() {
                self.data[c * self.capacity + pos] = (v as f64 * s.gain + s.offset) as f32;
            }
            self.end += 1;
        }
    }

    /// Marks that samples were lost just before frame `frame`.
    pub fn mark_gap(&mut self, frame: u64) {
        self.gaps[self.gap_count % GAP_SLOTS] = frame;
        self.gap_count += 1;
    }

    /// True if a discontinuity lies inside the frames `[start, end)` (lost samples between two
    /// of its frames, or just before its first).
    pub fn has_gap(&self, start: u64, end: u64) -> bool {
        let n = self.gap_count.min(GAP_SLOTS);
        self.gaps[..n].iter().any(|&g| g >= start && g < end)
    }

    /// Copies frames `[start, start + out.len())` of channel `ch` into `out`. Returns false
    /// (and leaves `out` untouched) if any of them is not held.
    pub fn copy(&self, ch: usize, start: u64, out: &mut [f32]) -> bool {
        let end = start + out.len() as u64;
        if ch >= self.channels || start < self.start() || end > self.end {
            return false;
        }
        let base = ch * self.capacity;
        let first = (start % self.capacity as u64) as usize;
        let n1 = (self.capacity - first).min(out.len());
        out[..n1].copy_from_slice(&self.data[base + first..base + first + n1]);
        let rest = out.len() - n1;
        out[n1..].copy_from_slice(&self.data[base..base + rest]);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_converts() {
        let s = vec![
            Scale {
                gain: 2.0,
                offset: 1.0,
            },
            Scale {
                gain: 1.0,
                offset: 0.0,
            },
        ];
        let mut h = History::new(s, 5);
        let frames: Vec<f32> = (0..16).map(|i| i as f32).collect(); // 8 frames
        h.push(&frames);
        assert_eq!((h.start(), h.end()), (3, 8));
        let mut out = [0.0; 4];
        assert!(h.copy(0, 4, &mut out));
        assert_eq!(out, [17.0, 21.0, 25.0, 29.0]); // units 8,10,12,14
        assert!(h.copy(1, 3, &mut out));
        assert_eq!(out, [7.0, 9.0, 11.0, 13.0]);
        assert!(!h.copy(0, 2, &mut out), "frame 2 is gone");
        assert!(!h.copy(0, 5, &mut out), "frame 8 has not arrived");
        assert!(!h.copy(2, 4, &mut out), "no channel 2");
    }

    #[test]
    fn gaps_are_found_inside_a_span_only() {
        let mut h = History::new(
            vec![Scale {
                gain: 1.0,
                offset: 0.0,
            }],
            10,
        );
        h.mark_gap(100);
        assert!(h.has_gap(90, 110));
        assert!(h.has_gap(100, 101));
        assert!(!h.has_gap(101, 120));
        assert!(!h.has_gap(50, 100));
    }
}
