//! [`EdfSource`]: an EDF, EDF+, BDF or BDF+ file as a [`Source`], record by record.
//!
//! Opening checks the header and the file's length, and reads the annotation signal of every
//! record (only those bytes): record start times (gaps of EDF+D files), stimuli and markers.
//! Samples are then read one data record at a time, so memory does not grow with the file.
//!
//! Channels: every signal at the EMG rate, or those `--channel` names by label (in that
//! order). Muscle and role come from `--channel`, from our transducer field
//! (`muscle=...; role=...`), or are guessed from the label. Signals at another rate than the
//! EMG channels (and the annotation signal) are left out, and [`EdfSource::notes`] says so.
//!
//! Annotations: a text starting with `stim` is a stimulus (branch and `mA` read from the
//! text), one starting with `LSR ` is a state change lsrmon wrote (counted, not replayed),
//! anything else is a marker.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::header::{Continuity, Header};
use super::tal::{parse_record, Annotation};
use super::time::{s_from_ticks, TICKS_PER_S};
use super::EdfError;
use crate::model::{Branch, ChannelInfo, Marker, Muscle, Role, SampleFormat};
use crate::nwb::{parse_branch, ChannelSpec};
use crate::source::{Source, SourceError, SourceEvent, SourceInfo};

/// Prefix of the state-change annotations lsrmon exports.
pub const STATE_PREFIX: &str = "LSR ";

/// A continuous run of records: from record `record`, starting `start` ticks after the
/// header's start time.
#[derive(Clone, Copy, Debug)]
struct Segment {
    record: u64,
    start: i64,
}

/// An EDF/BDF file as a source of samples and events.
pub struct EdfSource {
    path: PathBuf,
    file: BufReader<File>,
    header: Header,
    info: SourceInfo,
    /// (byte offset in a record, signal index) of each channel.
    columns: Vec<usize>,
    spr: usize,
    record: Vec<u8>,
    frames: Vec<f32>,
    at: usize,
    next_record: u64,
    events: Vec<SourceEvent>,
    next_event: usize,
    stream_pos: u64,
    markers: Vec<Marker>,
    t0: i64,
    notes: Vec<String>,
}

impl EdfSource {
    /// Opens `path`; `channels` as `--channel` gives them (by label).
    pub fn open(path: &Path, channels: Option<&[ChannelSpec]>) -> Result<Self, EdfError> {
        let io = |source| EdfError::Io {
            file: path.to_path_buf(),
            source,
        };
        let field = |e: super::header::HeaderError| EdfError::Field {
            file: path.to_path_buf(),
            field: e.field,
            problem: e.problem,
        };
        let invalid = |detail: String| EdfError::Invalid {
            file: path.to_path_buf(),
            detail,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            return Err(io(std::io::Error::other("is a directory, expected a file")));
        }
        let f = File::open(path).map_err(io)?;
        let mut file = BufReader::with_capacity(1 << 16, f);
        let mut prefix = Vec::with_capacity(256);
        (&mut file).take(256).read_to_end(&mut prefix).map_err(io)?;
        if prefix.is_empty() {
            return Err(invalid("the file is empty".into()));
        }
        let len = Header::length_from_prefix(&prefix).map_err(field)?;
        let mut bytes = prefix;
        (&mut file)
            .take(len as u64 - bytes.len() as u64)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let header = Header::parse(&bytes).map_err(field)?;
        let rb = header.record_bytes() as u64;
        let data = meta.len().saturating_sub(len as u64);
        let want = rb.saturating_mul(header.records);
        if data != want {
            return Err(EdfError::Field {
                file: path.to_path_buf(),
                field: "number of data records".into(),
                problem: format!(
                    "{} records of {rb} bytes make {want} bytes of data, but the file has {data}{}",
                    header.records,
                    if data < want { " (truncated?)" } else { "" }
                ),
            });
        }

        // Channels and their rate.
        let mut notes = Vec::new();
        let ordinary: Vec<usize> = (0..header.signals.len())
            .filter(|&i| !header.signals[i].annotation)
            .collect();
        let chosen: Vec<(usize, String, Muscle, Role, Option<Branch>)> = match channels {
            Some(spec) => spec
                .iter()
                .map(|c| {
                    let i = ordinary
                        .iter()
                        .copied()
                        .find(|&i| {
                            let s = &header.signals[i];
                            let full = from_transducer(&s.transducer).and_then(|x| x.3);
                            [Some(s.label.trim()), full.as_deref()]
                                .iter()
                                .flatten()
                                .any(|l| l.eq_ignore_ascii_case(c.label.trim()))
                        })
                        .ok_or_else(|| {
                            invalid(format!(
                                "--channel '{}': no signal has that label (signals: {})",
                                c.label,
                                ordinary
                                    .iter()
                                    .map(|&i| format!("'{}'", header.signals[i].label))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        })?;
                    Ok((i, c.label.clone(), c.muscle, c.role, c.trigger_branch))
                })
                .collect::<Result<_, EdfError>>()?,
            None => ordinary
                .iter()
                .map(|&i| {
                    let s = &header.signals[i];
                    let (m, r, b, full) = from_transducer(&s.transducer).unwrap_or_else(|| {
                        let (m, r) = guess(&s.label);
                        (m, r, None, None)
                    });
                    (i, full.unwrap_or_else(|| s.label.clone()), m, r, b)
                })
                .collect(),
        };
        let spr_of = |i: usize| header.signals[i].samples_per_record;
        let rate_of = |spr: usize| spr as f64 * TICKS_PER_S as f64 / header.record_ticks as f64;
        let emg: Vec<usize> = chosen
            .iter()
            .filter(|c| c.3 == Role::Emg)
            .map(|c| c.0)
            .collect();
        // Named channels must agree; otherwise the EMG channels are the signals at the
        // highest rate among those that look like EMG (EMG is sampled fastest), and slower
        // signals (respiration, temperature, ...) are left out below.
        let spr = match (channels, emg.first()) {
            (Some(_), Some(&i)) => spr_of(i),
            (None, Some(_)) => emg.iter().map(|&i| spr_of(i)).max().unwrap_or(1),
            (_, None) => spr_of(chosen.first().map_or(ordinary[0], |c| c.0)),
        };
        if let Some(&j) = emg
            .iter()
            .find(|&&j| channels.is_some() && spr_of(j) != spr)
        {
            return Err(invalid(format!(
                "the EMG channels must share one sample rate, but '{}' is at {} Hz and '{}' at {} Hz; \
                 name the channels to analyse with --channel LABEL:MUSCLE:ROLE",
                header.signals[emg[0]].label,
                rate_of(spr),
                header.signals[j].label,
                rate_of(spr_of(j))
            )));
        }
        let mut used = Vec::new();
        for c in chosen {
            if spr_of(c.0) == spr {
                used.push(c);
            } else {
                notes.push(format!(
                    "signal '{}' ({} Hz) is left out: the channels are at {} Hz",
                    header.signals[c.0].label,
                    rate_of(spr_of(c.0)),
                    rate_of(spr)
                ));
            }
        }
        let rate = rate_of(spr);
        let sample_format = if header.bdf {
            SampleFormat::I32
        } else {
            SampleFormat::I16
        };
        let mut labels: Vec<String> = Vec::new();
        let mut infos = Vec::new();
        for (i, label, muscle, role, tb) in &used {
            let s = &header.signals[*i];
            let unit = match volts_per(&s.physical_dimension) {
                Some(u) => u,
                None if *role == Role::Emg => {
                    return Err(EdfError::Field {
                        file: path.to_path_buf(),
                        field: format!("physical dimension of signal '{}'", s.label),
                        problem: format!(
                            "'{}', expected a voltage (uV, mV, V, nV) for an EMG channel",
                            s.physical_dimension
                        ),
                    })
                }
                None => 1.0,
            };
            let mut name = if label.trim().is_empty() {
                format!("ch{}", i + 1)
            } else {
                label.trim().to_string()
            };
            let base = name.clone();
            let mut k = 2;
            while labels.contains(&name) {
                name = format!("{base}_{k}");
                k += 1;
            }
            labels.push(name.clone());
            infos.push(ChannelInfo {
                label: name,
                muscle: *muscle,
                role: *role,
                volts_per_unit: s.gain() * unit,
                offset_volts: s.offset() * unit,
                range_units: Some((s.digital_min as f64, s.digital_max as f64)),
                trigger_branch: *tb,
            });
        }
        // Byte offset of each signal in a record.
        let mut offs = Vec::with_capacity(header.signals.len());
        let mut o = 0;
        for s in &header.signals {
            offs.push(o);
            o += s.samples_per_record * header.sample_bytes();
        }
        let columns: Vec<usize> = used.iter().map(|c| offs[c.0]).collect();

        // The annotation signals of every record: starts (from the first annotation
        // signal's time-keeping TAL), annotations (from every annotation signal: EDFlib
        // writes a record's second annotation into the second annotation signal).
        let mut segments = vec![Segment {
            record: 0,
            start: 0,
        }];
        let mut annotations: Vec<Annotation> = Vec::new();
        let annotation_signals: Vec<usize> = (0..header.signals.len())
            .filter(|&i| header.signals[i].annotation)
            .collect();
        if let Some(&a) = annotation_signals.first() {
            let bytes_of = |i: usize| header.signals[i].samples_per_record * header.sample_bytes();
            let mut buf = Vec::new();
            let mut f = File::open(path).map_err(io)?;
            let mut expected: Option<i64> = None;
            segments.clear();
            for r in 0..header.records {
                let mut read_tals = |i: usize| -> Result<_, EdfError> {
                    buf.resize(bytes_of(i), 0);
                    f.seek(SeekFrom::Start(len as u64 + r * rb + offs[i] as u64))
                        .map_err(io)?;
                    f.read_exact(&mut buf).map_err(io)?;
                    parse_record(&buf).map_err(|e| EdfError::Field {
                        file: path.to_path_buf(),
                        field: format!(
                            "annotations of data record {}{}",
                            r + 1,
                            if i == a {
                                String::new()
                            } else {
                                format!(" (signal {})", i + 1)
                            }
                        ),
                        problem: e,
                    })
                };
                let tals = read_tals(a)?;
                for &i in &annotation_signals[1..] {
                    annotations.extend(read_tals(i)?.annotations);
                }
                let start = match (tals.start, expected) {
                    (Some(s), _) => s,
                    (None, Some(e)) => e,
                    (None, None) => 0,
                };
                match expected {
                    None => segments.push(Segment { record: r, start }),
                    Some(e) if start == e => {}
                    Some(e) if start > e && header.continuity == Continuity::Discontinuous => {
                        segments.push(Segment { record: r, start })
                    }
                    Some(e) => {
                        return Err(EdfError::Field {
                            file: path.to_path_buf(),
                            field: format!("annotations of data record {}", r + 1),
                            problem: format!(
                                "the record starts at {} s, but the previous one ends at {} s{}",
                                s_from_ticks(start),
                                s_from_ticks(e),
                                if start > e {
                                    " (a gap, but the file says it is continuous: EDF+C)"
                                } else {
                                    ""
                                }
                            ),
                        })
                    }
                }
                expected = Some(start + header.record_ticks);
                annotations.extend(tals.annotations);
            }
        }
        let t0 = segments[0].start;
        let spr64 = spr as u64;
        let total = header.records * spr64;
        // Ticks -> stream frame, or None inside a gap / outside the file.
        let place = |t: i64| -> Option<f64> {
            let k = segments.iter().rposition(|s| s.start <= t)?;
            let s = segments[k];
            let end = segments.get(k + 1).map_or(total, |n| n.record * spr64);
            let f = s.record as f64 * spr as f64 + (t - s.start) as f64 / TICKS_PER_S as f64 * rate;
            (f <= end as f64).then_some(f)
        };
        let mut events = Vec::new();
        for w in segments.windows(2) {
            let end = w[0].start + (w[1].record - w[0].record) as i64 * header.record_ticks;
            events.push(SourceEvent::Gap {
                frame: w[1].record * spr64,
                lost_frames: ((w[1].start - end) as f64 / TICKS_PER_S as f64 * rate).round() as u64,
            });
        }
        let mut markers = Vec::new();
        let (mut stimuli, mut dropped, mut states) = (0usize, 0usize, 0usize);
        for a in &annotations {
            let low = a.text.trim().to_ascii_lowercase();
            if a.text.starts_with(STATE_PREFIX) {
                states += 1;
            } else if low.starts_with("stim") {
                match place(a.onset) {
                    Some(f) if f < total as f64 => {
                        stimuli += 1;
                        events.push(SourceEvent::Stimulus {
                            frame_time: f,
                            branch: parse_branch(stim_branch(&low)),
                            intensity_ma: milliamps(&low),
                            pulse_width_s: a.duration.map_or(f32::NAN, |d| {
                                if d > 0 {
                                    s_from_ticks(d) as f32
                                } else {
                                    f32::NAN
                                }
                            }),
                        })
                    }
                    _ => dropped += 1,
                }
            } else {
                let f = place(a.onset).unwrap_or_else(|| {
                    segments
                        .iter()
                        .rposition(|s| s.start <= a.onset)
                        .and_then(|k| segments.get(k + 1))
                        .map_or(if a.onset < t0 { 0.0 } else { total as f64 }, |n| {
                            (n.record * spr64) as f64
                        })
                });
                // On the stream's time (from the first sample), as every source gives
                // markers.
                markers.push(Marker {
                    time_s: f / rate,
                    label: a.text.clone(),
                });
            }
        }
        if dropped > 0 {
            notes.push(format!(
                "{dropped} stimulus annotations fall outside the recorded samples (not replayed)"
            ));
        }
        if states > 0 {
            notes.push(format!(
                "{states} state changes annotated by lsrmon are not replayed (the analysis finds them again)"
            ));
        }
        events.sort_by(|a, b| {
            a.frame().total_cmp(&b.frame()).then_with(|| {
                let k = |e: &SourceEvent| matches!(e, SourceEvent::Stimulus { .. }) as u8;
                k(a).cmp(&k(b))
            })
        });
        markers.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let kind = match (header.bdf, header.continuity) {
            (false, Continuity::Plain) => "EDF",
            (false, Continuity::Contiguous) => "EDF+C",
            (false, Continuity::Discontinuous) => "EDF+D",
            (true, Continuity::Plain) => "BDF",
            (true, Continuity::Contiguous) => "BDF+C",
            (true, Continuity::Discontinuous) => "BDF+D",
        };
        let info = SourceInfo {
            sample_rate_hz: rate,
            channels: infos,
            sample_format,
            description: format!("{kind} file {name}"),
            stimulus_events: stimuli > 0,
            total_frames: Some(total),
        };
        file.seek(SeekFrom::Start(len as u64)).map_err(io)?;
        let c = columns.len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            record: vec![0; rb as usize],
            frames: vec![0.0; spr * c],
            at: spr,
            spr,
            columns,
            header,
            info,
            next_record: 0,
            events,
            next_event: 0,
            stream_pos: 0,
            markers,
            t0,
            notes,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Seconds from the header's start time to the first sample (the first record's
    /// time-keeping annotation: a sub-second start time).
    pub fn starting_time_s(&self) -> f64 {
        s_from_ticks(self.t0)
    }

    /// What was left out or not replayed, in plain words.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    fn load_record(&mut self) -> Result<bool, SourceError> {
        if self.next_record >= self.header.records {
            return Ok(false);
        }
        self.file.read_exact(&mut self.record).map_err(|e| {
            SourceError::Other(format!(
                "{}: reading data record {}: {e}",
                self.path.display(),
                self.next_record + 1
            ))
        })?;
        self.next_record += 1;
        let c = self.columns.len();
        let bdf = self.header.bdf;
        for (j, &off) in self.columns.iter().enumerate() {
            for i in 0..self.spr {
                let v = if bdf {
                    let b = &self.record[off + 3 * i..off + 3 * i + 3];
                    ((b[0] as i32) | ((b[1] as i32) << 8) | ((b[2] as i8 as i32) << 16)) as f32
                } else {
                    let b = &self.record[off + 2 * i..off + 2 * i + 2];
                    i16::from_le_bytes([b[0], b[1]]) as f32
                };
                self.frames[i * c + j] = v;
            }
        }
        self.at = 0;
        Ok(true)
    }
}

impl Source for EdfSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<SourceEvent>,
    ) -> Result<usize, SourceError> {
        let c = self.columns.len();
        let want = buf.len() / c;
        if want == 0 && !buf.is_empty() {
            return Err(SourceError::Other(format!(
                "{}: read buffer of {} values is smaller than one frame ({c} channels)",
                self.path.display(),
                buf.len()
            )));
        }
        let mut n = 0;
        while n < want {
            if self.at >= self.spr && !self.load_record()? {
                break;
            }
            let k = (self.spr - self.at).min(want - n);
            buf[n * c..(n + k) * c].copy_from_slice(&self.frames[self.at * c..(self.at + k) * c]);
            self.at += k;
            n += k;
        }
        self.stream_pos += n as u64;
        let total = self.info.total_frames.unwrap_or(u64::MAX);
        let last = self.stream_pos >= total;
        while let Some(e) = self.events.get(self.next_event) {
            let f = e.frame();
            if f < self.stream_pos as f64 || (last && f <= total as f64) {
                events.push(*e);
                self.next_event += 1;
            } else {
                break;
            }
        }
        Ok(n)
    }

    fn markers(&self) -> Vec<Marker> {
        self.markers.clone()
    }
}

/// Volts per unit of a physical dimension (`uV`, `mV`, `V`, `nV`).
fn volts_per(dim: &str) -> Option<f64> {
    match dim.trim() {
        "V" => Some(1.0),
        "mV" => Some(1e-3),
        "uV" | "µV" => Some(1e-6),
        "nV" => Some(1e-9),
        _ => None,
    }
}

/// Our transducer field: `...; muscle=mentalis; role=emg[; branch=zygomatic][; label=LONG]`
/// (`label` holds a label longer than the 16 characters of the label field).
fn from_transducer(t: &str) -> Option<(Muscle, Role, Option<Branch>, Option<String>)> {
    let get = |k: &str| {
        t.split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(a, _)| a.trim() == k)
            .map(|(_, v)| v.trim().to_string())
    };
    let muscle = get("muscle")?.parse().ok()?;
    let role = get("role")?.parse().ok()?;
    let branch = get("branch").and_then(|b| b.parse().ok());
    Some((muscle, role, branch, get("label").filter(|l| !l.is_empty())))
}

/// Muscle and role from a label alone (EDF+ labels often start with the signal type).
fn guess(label: &str) -> (Muscle, Role) {
    let low = label.to_ascii_lowercase();
    let low = low.strip_prefix("emg ").unwrap_or(&low);
    if low.contains("trig") || low.contains("sync") || low.contains("stim") {
        return (Muscle::None, Role::Trigger);
    }
    let muscle = low.parse().ok().or_else(|| {
        [
            ("oculi", Muscle::OrbicularisOculi),
            ("oris", Muscle::OrbicularisOris),
            ("mentalis", Muscle::Mentalis),
            ("frontalis", Muscle::Frontalis),
            ("nasalis", Muscle::Nasalis),
        ]
        .iter()
        .find(|(k, _)| low.contains(k))
        .map(|x| x.1)
    });
    (muscle.unwrap_or(Muscle::Other), Role::Emg)
}

/// The words after "stimulus" (the branch), without an intensity.
fn stim_branch(low: &str) -> &str {
    low.split_once(' ').map_or("", |x| x.1)
}

/// `20 mA` or `20mA` in a stimulus text, else NaN.
fn milliamps(low: &str) -> f32 {
    let words: Vec<&str> = low.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if let Some(v) = w.strip_suffix("ma").and_then(|v| v.parse::<f32>().ok()) {
            return v;
        }
        if *w == "ma" && i > 0 {
            if let Ok(v) = words[i - 1].parse::<f32>() {
                return v;
            }
        }
    }
    f32::NAN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_words() {
        assert_eq!(
            parse_branch(stim_branch("stimulus marginal_mandibular 12.5 ma")),
            Branch::MarginalMandibular
        );
        assert_eq!(milliamps("stimulus zygomatic 12.5 ma"), 12.5);
        assert_eq!(milliamps("stim 3ma"), 3.0);
        assert!(milliamps("stimulus").is_nan());
        assert_eq!(
            from_transducer("EMG electrode; muscle=mentalis; role=emg; step=0.1 uV"),
            Some((Muscle::Mentalis, Role::Emg, None, None))
        );
        assert_eq!(guess("EMG Oculi"), (Muscle::OrbicularisOculi, Role::Emg));
        assert_eq!(guess("Trigger"), (Muscle::None, Role::Trigger));
        assert_eq!(volts_per(" uV"), Some(1e-6));
    }
}
