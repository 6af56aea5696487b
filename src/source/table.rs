//! Stimulus times from a table file, for recordings that carry neither a stimuli table nor a
//! trigger channel (the stimulator's own log, exported).
//!
//! The file is CSV: one stimulus per line, `time_s[,branch[,intensity_mA[,pulse_width_s]]]`,
//! times in seconds from the recording's first sample; a first line that does not start with a
//! number is a header; `#` starts a comment. [`WithStimuli`] wraps any source and announces
//! each stimulus as a [`SourceEvent::Stimulus`] in the block that contains it, so the engine
//! times sweeps from the table.

use std::path::{Path, PathBuf};

use crate::model::{Branch, Marker};

use super::{Source, SourceError, SourceEvent, SourceInfo};

/// One row of a stimulus table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TableStimulus {
    pub time_s: f64,
    pub branch: Branch,
    pub intensity_ma: f32,
    pub pulse_width_s: f32,
}

/// Why a stimulus table cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("cannot read the stimulus table '{path}': {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the stimulus table '{path}', line {line}: {message}")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("the stimulus table '{path}' has no stimuli")]
    Empty { path: PathBuf },
}

/// Reads a stimulus table (sorted by time on return).
pub fn load(path: &Path, default_branch: Branch) -> Result<Vec<TableStimulus>, TableError> {
    let text = std::fs::read_to_string(path).map_err(|source| TableError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path, default_branch)
}

/// Parses stimulus-table text (`path` is only used in messages).
pub fn parse(
    text: &str,
    path: &Path,
    default_branch: Branch,
) -> Result<Vec<TableStimulus>, TableError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let err = |message: String| TableError::Line {
            path: path.to_owned(),
            line: i + 1,
            message,
        };
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let Ok(time_s) = f[0].parse::<f64>() else {
            if out.is_empty() && i == 0 {
                continue; // header
            }
            return Err(err(format!("'{}' is not a time in seconds", f[0])));
        };
        if !(time_s.is_finite() && time_s >= 0.0) {
            return Err(err(format!("time {time_s} must be 0 or more")));
        }
        let branch = match f.get(1).filter(|s| !s.is_empty()) {
            Some(b) => b
                .parse::<Branch>()
                .map_err(|e| err(format!("branch {e}")))?,
            None => default_branch,
        };
        let num = |k: usize, what: &str| -> Result<f32, TableError> {
            match f.get(k).filter(|s| !s.is_empty()) {
                Some(v) => v
                    .parse::<f32>()
                    .map_err(|_| err(format!("'{v}' is not a number ({what})"))),
                None => Ok(f32::NAN),
            }
        };
        out.push(TableStimulus {
            time_s,
            branch,
            intensity_ma: num(2, "intensity_mA")?,
            pulse_width_s: num(3, "pulse_width_s")?,
        });
    }
    if out.is_empty() {
        return Err(TableError::Empty {
            path: path.to_owned(),
        });
    }
    out.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    Ok(out)
}

/// A source whose stimuli come from a table.
pub struct WithStimuli<S> {
    inner: S,
    info: SourceInfo,
    table: Vec<TableStimulus>,
    next: usize,
    frame: u64,
}

impl<S: Source> WithStimuli<S> {
    pub fn new(inner: S, table: Vec<TableStimulus>) -> Self {
        let mut info = inner.info().clone();
        info.stimulus_events = true;
        info.description = format!("{} with a stimulus table", info.description);
        Self {
            inner,
            info,
            table,
            next: 0,
            frame: 0,
        }
    }
}

impl<S: Source> Source for WithStimuli<S> {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<SourceEvent>,
    ) -> Result<usize, SourceError> {
        let before = events.len();
        let n = self.inner.read(buf, events)?;
        // The table replaces the source's own stimulus announcements.
        let mut i = before;
        while i < events.len() {
            if matches!(events[i], SourceEvent::Stimulus { .. }) {
                events.remove(i);
            } else {
                i += 1;
            }
        }
        let end = self.frame + n as u64;
        let fs = self.info.sample_rate_hz;
        while let Some(s) = self.table.get(self.next) {
            let frame_time = s.time_s * fs;
            if frame_time >= end as f64 {
                break;
            }
            events.push(SourceEvent::Stimulus {
                frame_time,
                branch: s.branch,
                intensity_ma: s.intensity_ma,
                pulse_width_s: s.pulse_width_s,
            });
            self.next += 1;
        }
        self.frame = end;
        Ok(n)
    }

    fn markers(&self) -> Vec<Marker> {
        self.inner.markers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse_with_header_comments_and_defaults() {
        let t = parse(
            "time_s,branch,intensity_mA\n# a comment\n2.5,marginal_mandibular,12\n1.0\n",
            Path::new("s.csv"),
            Branch::Zygomatic,
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].time_s, t[0].branch), (1.0, Branch::Zygomatic));
        assert!(t[0].intensity_ma.is_nan());
        assert_eq!(
            (t[1].branch, t[1].intensity_ma),
            (Branch::MarginalMandibular, 12.0)
        );
        let e = parse("1.0\nabc\n", Path::new("s.csv"), Branch::Zygomatic).unwrap_err();
        assert!(
            e.to_string().contains("s.csv") && e.to_string().contains("line 2"),
            "{e}"
        );
        assert!(parse("# nothing\n", Path::new("s.csv"), Branch::Zygomatic).is_err());
        assert!(parse("1.0,thumb\n", Path::new("s.csv"), Branch::Zygomatic).is_err());
    }

    #[test]
    fn stimuli_arrive_in_the_block_that_contains_them() {
        use crate::sim::{SimConfig, SimPatient};
        let sim = SimPatient::new(SimConfig {
            duration_s: 10.0,
            ..SimConfig::default()
        })
        .unwrap();
        let fs = sim.info().sample_rate_hz;
        let table = vec![
            TableStimulus {
                time_s: 0.5,
                branch: Branch::Zygomatic,
                intensity_ma: 10.0,
                pulse_width_s: 2e-4,
            },
            TableStimulus {
                time_s: 3.25,
                branch: Branch::Zygomatic,
                intensity_ma: 10.0,
                pulse_width_s: 2e-4,
            },
        ];
        let mut src = WithStimuli::new(sim, table);
        assert!(src.info().stimulus_events);
        let nch = src.info().channel_count();
        let mut buf = vec![0.0; 1000 * nch];
        let mut frame = 0u64;
        let mut seen = Vec::new();
        loop {
            let mut ev = Vec::new();
            let n = src.read(&mut buf, &mut ev).unwrap();
            if n == 0 {
                break;
            }
            for e in ev {
                if let SourceEvent::Stimulus { frame_time, .. } = e {
                    assert!(frame_time >= frame as f64 && frame_time < (frame + n as u64) as f64);
                    seen.push(frame_time / fs);
                }
            }
            frame += n as u64;
        }
        assert_eq!(seen, vec![0.5, 3.25]);
    }
}
