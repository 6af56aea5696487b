//! Time in a session file: seconds to frames, and frames of the file to frames of the stream.
//!
//! A series is timed either by `starting_time` + `@rate` (our files, most pynwb files) or by
//! a `timestamps` dataset. Timestamps are checked in one streaming pass (memory does not grow
//! with the file): the rate is the median step of the first block, refined over all regular
//! steps; a step of more than 1.5 sample periods is a gap of lost samples (reported as
//! [`SourceEvent::Gap`](crate::source::SourceEvent)); a step that goes backwards or is
//! shorter than half a period is an error. Event times (stimuli, markers) are placed on the
//! actual timestamps during the same pass, so clock drift does not move them.
//!
//! Our recorder fills samples it could not keep up with by zeros (so the file's time stays
//! the stream's time) and records them as `recorder` gaps; a replay skips those frames and
//! sees a gap instead, exactly as if the device had lost them. [`SkipMap`] does that
//! bookkeeping.

use std::path::Path;

use hdf5::Dataset;

use super::error::{H5Context, NwbError};

/// Frames read per block when scanning a long dataset.
pub const SCAN_BLOCK: usize = 1 << 16;

/// The result of scanning a `timestamps` dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct TimestampScan {
    pub t0: f64,
    pub rate: f64,
    /// (frame, lost frames): samples missing just before `frame`.
    pub gaps: Vec<(u64, u64)>,
    /// File frame (with fraction) of every input time, in input order.
    pub frames: Vec<f64>,
}

/// Upper bound on gaps before a file counts as irregular rather than gappy.
const MAX_GAPS: usize = 100_000;

/// Scans `ts[0..n]`, checks regularity, finds gaps and places `times` (any order).
pub fn scan_timestamps(
    file: &Path,
    path: &str,
    ds: &Dataset,
    n: usize,
    times: &[f64],
) -> Result<TimestampScan, NwbError> {
    let len = ds.shape().first().copied().unwrap_or(0);
    if ds.ndim() != 1 || len < n {
        return Err(NwbError::malformed(
            file,
            path,
            format!("a 1-D dataset with one time per sample ({n})"),
            format!("shape {:?}", ds.shape()),
        ));
    }
    if n < 2 {
        return Err(NwbError::malformed(
            file,
            path,
            "at least two timestamps to derive a rate",
            format!("{n}"),
        ));
    }
    let read = |a: usize, b: usize| -> Result<Vec<f64>, NwbError> {
        Ok(ds
            .read_slice_1d::<f64, _>(a..b)
            .at(file, path, "reading timestamps")?
            .to_vec())
    };
    let first = read(0, n.min(SCAN_BLOCK))?;
    let mut steps: Vec<f64> = first
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .collect();
    steps.sort_by(f64::total_cmp);
    let median = steps.get(steps.len() / 2).copied().unwrap_or(f64::NAN);
    if !(median.is_finite() && median > 0.0) {
        return Err(NwbError::malformed(
            file,
            path,
            "increasing times in seconds",
            "no positive step",
        ));
    }
    let est = 1.0 / median;

    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
    let mut out = vec![f64::NAN; times.len()];
    let mut k = 0;
    let mut gaps = Vec::new();
    // Regular steps: count, and time spent in gaps (the rest of the span is regular; a span
    // minus gaps does not accumulate rounding like a running sum of steps would).
    let (mut reg_n, mut gap_sum) = (0u64, 0.0f64);
    let t0 = first[0];
    if !t0.is_finite() {
        return Err(NwbError::malformed(
            file,
            path,
            "finite times",
            format!("{t0} at index 0"),
        ));
    }
    let mut prev = t0;
    let mut before_start = 0;
    let mut start = 0;
    let mut block = first;
    loop {
        for (j, &t) in block.iter().enumerate() {
            let i = start + j;
            if i == 0 {
                // Before the first sample: placed with the final rate, below.
                while k < order.len() && times[order[k]] < t {
                    k += 1;
                }
                before_start = k;
                continue;
            }
            let dt = t - prev;
            if !(dt.is_finite() && dt > 0.0) || dt * est < 0.5 {
                return Err(NwbError::malformed(
                    file,
                    path,
                    format!("regular, increasing times (about {:.6} s apart)", median),
                    format!("{prev} then {t} at index {i}"),
                ));
            }
            let r = dt * est;
            let is_gap = r > 1.5;
            if is_gap {
                gap_sum += dt;
                gaps.push((i as u64, (r.round() as u64).saturating_sub(1).max(1)));
                if gaps.len() > MAX_GAPS {
                    return Err(NwbError::malformed(
                        file,
                        path,
                        "regularly spaced times with occasional gaps",
                        format!("more than {MAX_GAPS} gaps"),
                    ));
                }
            } else {
                reg_n += 1;
            }
            while k < order.len() && times[order[k]] < t {
                let into = times[order[k]] - prev;
                out[order[k]] = if is_gap {
                    // Inside lost samples: place it at the first sample after the gap
                    // unless it is within one period of the last sample before it.
                    if into * est < 1.0 {
                        (i - 1) as f64 + into * est
                    } else {
                        i as f64
                    }
                } else {
                    (i - 1) as f64 + into / dt
                };
                k += 1;
            }
            prev = t;
        }
        start += block.len();
        if start >= n {
            break;
        }
        block = read(start, n.min(start + SCAN_BLOCK))?;
    }
    let reg_span = prev - t0 - gap_sum;
    let rate = if reg_n > 0 && reg_span > 0.0 {
        reg_n as f64 / reg_span
    } else {
        est
    };
    for &j in &order[..before_start] {
        out[j] = (times[j] - t0) * rate;
    }
    while k < order.len() {
        out[order[k]] = (n - 1) as f64 + (times[order[k]] - prev) * rate;
        k += 1;
    }
    Ok(TimestampScan {
        t0,
        rate,
        gaps,
        frames: out,
    })
}

/// Spans of file frames that a replay skips (recorder gaps), and the mapping of file
/// frames to stream frames around them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SkipMap {
    /// (file frame, length), sorted, non-overlapping.
    spans: Vec<(u64, u64)>,
}

impl SkipMap {
    /// Builds the map from (file frame, length) pairs, clipped to `total` file frames.
    pub fn new(mut spans: Vec<(u64, u64)>, total: u64) -> Self {
        spans.retain(|s| s.1 > 0 && s.0 < total);
        spans.sort_unstable();
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (a, n) in spans {
            let end = (a + n).min(total);
            match out.last_mut() {
                Some(last) if a <= last.0 + last.1 => {
                    last.1 = last.1.max(end - last.0);
                }
                _ => out.push((a, end - a)),
            }
        }
        Self { spans: out }
    }

    pub fn spans(&self) -> &[(u64, u64)] {
        &self.spans
    }

    /// Frames skipped in total.
    pub fn skipped(&self) -> u64 {
        self.spans.iter().map(|s| s.1).sum()
    }

    /// Stream frame of a file frame; a frame inside a span maps to the span's start.
    pub fn to_stream(&self, file_frame: f64) -> f64 {
        let mut before = 0u64;
        for &(a, n) in &self.spans {
            let (a, e) = (a as f64, (a + n) as f64);
            if file_frame >= e {
                before += n;
            } else if file_frame >= a {
                return a - before as f64;
            } else {
                break;
            }
        }
        file_frame - before as f64
    }

    /// The span starting at or containing `file_frame`, if any: (start, end).
    pub fn span_at(&self, file_frame: u64) -> Option<(u64, u64)> {
        self.spans
            .iter()
            .find(|s| file_frame >= s.0 && file_frame < s.0 + s.1)
            .map(|s| (s.0, s.0 + s.1))
    }

    /// The first span starting after `file_frame`.
    pub fn next_start_after(&self, file_frame: u64) -> Option<u64> {
        self.spans.iter().map(|s| s.0).find(|&a| a > file_frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_map_shifts_frames_after_spans() {
        let m = SkipMap::new(vec![(100, 10), (200, 5)], 1000);
        assert_eq!(m.to_stream(50.0), 50.0);
        assert_eq!(m.to_stream(105.0), 100.0);
        assert_eq!(m.to_stream(110.0), 100.0);
        assert_eq!(m.to_stream(150.5), 140.5);
        assert_eq!(m.to_stream(300.0), 285.0);
        assert_eq!(m.skipped(), 15);
        assert_eq!(m.span_at(104), Some((100, 110)));
        assert_eq!(m.span_at(110), None);
        assert_eq!(m.next_start_after(100), Some(200));
    }

    fn ts_file(name: &str, ts: &[f64]) -> (std::path::PathBuf, hdf5::File) {
        let p =
            std::env::temp_dir().join(format!("lsrmon-timing-{}-{name}.h5", std::process::id()));
        let f = hdf5::File::create(&p).unwrap();
        f.new_dataset_builder()
            .with_data(&ndarray::Array1::from(ts.to_vec()))
            .create("t")
            .unwrap();
        (p, f)
    }

    #[test]
    fn timestamps_give_rate_gaps_and_event_frames() {
        // 1 kHz with ±5% jitter on every other sample, 3 samples lost after frame 5000
        // (the step there is 4 periods), and more than one scan block.
        let n = 100_000;
        let ts: Vec<f64> = (0..n)
            .map(|i| {
                let k = if i >= 5_000 { i + 3 } else { i } as f64;
                10.0 + k * 1e-3 + if i % 2 == 1 { 0.05e-3 } else { 0.0 }
            })
            .collect();
        let (p, f) = ts_file("gap", &ts);
        let ds = f.dataset("t").unwrap();
        // Times: on a sample, between samples, inside the gap, before and after the data.
        let times = [
            10.0 + 2.0e-3,
            10.0 + 2.5e-3,
            10.0 + 5_001.5e-3,
            9.999,
            10.0 + 99_999.0e-3 + 3e-3 + 1e-3,
        ];
        let sc = scan_timestamps(&p, "/t", &ds, n, &times).unwrap();
        assert_eq!(sc.t0, 10.0);
        // Regular steps over the time they span (the jitter's last +0.05 ms included).
        let want = (n - 2) as f64 / (ts[n - 1] - ts[0] - (ts[5_000] - ts[4_999]));
        assert!(
            (sc.rate - want).abs() < 1e-9 && (sc.rate - 1000.0).abs() < 0.01,
            "{}",
            sc.rate
        );
        assert_eq!(sc.gaps, vec![(5_000, 3)]);
        assert!((sc.frames[0] - 2.0).abs() < 1e-9);
        // Between frame 2 (10.002) and 3 (10.00305): 0.5 ms into a 1.05 ms step.
        assert!(
            (sc.frames[1] - (2.0 + 0.5 / 1.05)).abs() < 1e-9,
            "{}",
            sc.frames[1]
        );
        assert_eq!(
            sc.frames[2], 5_000.0,
            "inside the lost samples: the first sample after them"
        );
        assert!(
            (sc.frames[3] - (9.999 - 10.0) * sc.rate).abs() < 1e-9,
            "before the first sample: negative"
        );
        assert!((sc.frames[4] - 100_000.0).abs() < 0.1, "{}", sc.frames[4]);
        drop(ds);
        drop(f);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn backwards_or_too_dense_timestamps_are_errors() {
        let (p, f) = ts_file("back", &[0.0, 0.001, 0.002, 0.0015, 0.003]);
        let e = scan_timestamps(&p, "/t", &f.dataset("t").unwrap(), 5, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/t: expected regular, increasing times") && e.contains("index 3"),
            "{e}"
        );
        let e = scan_timestamps(&p, "/t", &f.dataset("t").unwrap(), 1, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least two timestamps"), "{e}");
        let e = scan_timestamps(&p, "/t", &f.dataset("t").unwrap(), 6, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("one time per sample (6)"), "{e}");
        drop(f);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn skip_map_merges_and_clips() {
        let m = SkipMap::new(vec![(10, 10), (15, 10), (95, 10), (200, 3)], 100);
        assert_eq!(m.spans(), &[(10, 15), (95, 5)]);
    }
}
