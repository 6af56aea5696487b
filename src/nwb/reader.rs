//! [`NwbSource`]: replays a session file (ours or another tool's) as a [`Source`].
//!
//! Opening does all the checking (series, calibration, timing, tables), so that a bad file
//! fails at once with a clear message rather than halfway through a replay. Samples are
//! then streamed in blocks: memory does not depend on the file's length. Events (stimuli
//! from `/intervals/stimuli`, gaps from `/intervals/gaps` and from jumps in `timestamps`)
//! are read at open, sorted, and handed out with the block they fall in.
//!
//! Channels come, in this order, from the command line ([`ReadOptions::channels`]), our
//! `emg_channels` table, an `ElectricalSeries`' electrodes table (`location`), the series'
//! `comments` (our comma-separated labels), or are numbered `ch1`, `ch2`, ... Calibration
//! always comes from the file.
//!
//! Times: frame 0 of the stream is the first sample of the series; event times are placed
//! relative to it (see [`NwbSource::starting_time_s`] for the series' own start).

use std::io::Read;
use std::path::{Path, PathBuf};

use hdf5::File;
use ndarray::{s, Ix1, Ix2};

use super::chunks::ChunkReader;
use super::dyntable::{read_annotations, read_table, Table};
use super::error::{H5Context, NwbError};
use super::h5util::{attr_text, read_str};
use super::layout as l;
use super::recover::has_counters;
use super::series::{locate, open_series, Series, Timing};
use super::timing::{scan_timestamps, SkipMap};
use crate::model::{Branch, ChannelInfo, Marker, Muscle, Role};
use crate::source::{Source, SourceError, SourceEvent, SourceInfo};

/// Set to `1`, every file's samples are read through HDF5's own calls (see
/// [`NwbSource::set_plain_read`]).
pub const PLAIN_READ_ENV: &str = "LSRMON_PLAIN_READ";

/// A channel named on the command line (for files without a channel table).
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelSpec {
    pub label: String,
    pub muscle: Muscle,
    pub role: Role,
    pub trigger_branch: Option<Branch>,
}

/// How to read a file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadOptions {
    /// The series to replay (a name in /acquisition or an absolute path).
    pub series: Option<String>,
    /// Channel labels, muscles and roles, overriding what the file says (one per column).
    pub channels: Option<Vec<ChannelSpec>>,
    /// Refuse a file whose recording did not finish ([`NwbError::NeedsRecovery`]).
    /// Otherwise such a file is read up to its last commit.
    pub require_finished: bool,
}

/// A session file as a source of samples and events.
pub struct NwbSource {
    path: PathBuf,
    // Keeps the file open for the datasets.
    _file: File,
    series: Series,
    info: SourceInfo,
    t0: f64,
    skip: SkipMap,
    /// Next file frame to read.
    pos: u64,
    /// Stream frames handed out so far.
    stream_pos: u64,
    events: Vec<SourceEvent>,
    next_event: usize,
    markers: Vec<Marker>,
    settings: Option<String>,
    counters: Vec<(String, u64)>,
    unfinished: bool,
    dropped_events: usize,
    /// Decoded chunks read ahead in worker threads (compressed datasets; started at the
    /// first read unless [`NwbSource::set_plain_read`] said otherwise).
    chunks: Option<ChunkReader>,
    chunks_tried: bool,
    plain_read: bool,
}

/// Opens an HDF5 file read-only (or read-write), telling "not HDF5", "locked" and
/// "damaged" apart.
pub(crate) fn open_file(path: &Path, rw: bool) -> Result<File, NwbError> {
    let meta = std::fs::metadata(path).map_err(|source| NwbError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        return Err(NwbError::Io {
            file: path.to_path_buf(),
            source: std::io::Error::other("is a directory, expected a file"),
        });
    }
    if !has_hdf5_signature(path, meta.len()) {
        return Err(NwbError::NotHdf5 {
            file: path.to_path_buf(),
        });
    }
    let r = if rw {
        super::h5util::file_builder().open_rw(path)
    } else {
        super::h5util::file_builder().open(path)
    };
    r.map_err(|e| {
        let s = e.to_string();
        if s.contains("unable to lock file")
            || s.contains("errno = 11")
            || s.contains("already open")
        {
            NwbError::Locked {
                file: path.to_path_buf(),
            }
        } else {
            NwbError::Damaged {
                file: path.to_path_buf(),
                detail: s,
            }
        }
    })
}

/// HDF5's signature sits at 0, 512, 1024, 2048, ... (after a user block).
fn has_hdf5_signature(path: &Path, len: u64) -> bool {
    const SIG: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut off = 0u64;
    let mut buf = [0u8; 8];
    while off + 8 <= len {
        use std::io::Seek;
        if f.seek(std::io::SeekFrom::Start(off)).is_err() || f.read_exact(&mut buf).is_err() {
            return false;
        }
        if buf == SIG {
            return true;
        }
        off = if off == 0 { 512 } else { off * 2 };
    }
    false
}

impl NwbSource {
    pub fn open(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<Self, NwbError> {
        let fname = path.as_ref();
        let file = open_file(fname, false)?;
        match attr_text(&file, "neurodata_type") {
            Some(t) if t == "NWBFile" => {}
            other => {
                return Err(NwbError::malformed(
                    fname,
                    "/",
                    "an NWB 2.x file (@neurodata_type NWBFile)",
                    other.map_or("no @neurodata_type".into(), |t| format!("'{t}'")),
                ))
            }
        }
        let unfinished = has_counters(&file);
        if unfinished && opts.require_finished {
            return Err(NwbError::NeedsRecovery {
                file: fname.to_path_buf(),
            });
        }
        let spath = locate(&file, fname, opts.series.as_deref())?;
        let series = open_series(&file, fname, &spath)?;
        let channels = channels(&file, fname, &series, opts)?;

        // Tables.
        let stim_table = read_table(&file, fname, l::STIMULI)?;
        let gap_table = read_table(&file, fname, l::GAPS)?;
        let annotations = markers_in(&file, fname)?;

        // Times to place: stimuli, gap starts (our gaps carry frames), markers.
        let stim_times: Vec<f64> = stim_table
            .as_ref()
            .and_then(|t| t.num("start_time"))
            .map(<[f64]>::to_vec)
            .unwrap_or_default();
        let marker_times: Vec<f64> = annotations.iter().map(|m| m.0).collect();
        let mut times = stim_times.clone();
        times.extend_from_slice(&marker_times);

        let n = series.frames;
        let (t0, rate, mut ts_gaps, placed): (f64, f64, Vec<(u64, u64)>, Vec<f64>) =
            match &series.timing {
                Timing::Rate { t0, rate } => (
                    *t0,
                    *rate,
                    Vec::new(),
                    times.iter().map(|t| (t - t0) * rate).collect(),
                ),
                Timing::Timestamps { ds, path } => {
                    let sc = scan_timestamps(fname, path, ds, n as usize, &times)?;
                    (sc.t0, sc.rate, sc.gaps, sc.frames)
                }
            };

        // Our gaps table: recorder gaps are skipped, source gaps are reported.
        let mut skip_spans = Vec::new();
        if let Some(g) = &gap_table {
            let frames = g.num("frame");
            let lost = g.num("lost_frames");
            let kind = g.text("kind");
            for i in 0..g.rows {
                let start = g.num("start_time").map_or(f64::NAN, |v| v[i]);
                let stop = g.num("stop_time").map_or(f64::NAN, |v| v[i]);
                let f = frames.map_or(((start - t0) * rate).round(), |v| v[i]);
                let lf = lost.map_or(((stop - start) * rate).round(), |v| v[i]);
                if !(f.is_finite() && lf.is_finite() && f >= 0.0 && lf >= 0.0) {
                    continue;
                }
                if kind.is_some_and(|k| k[i] == l::GAP_KIND_RECORDER) {
                    skip_spans.push((f as u64, lf as u64));
                } else {
                    ts_gaps.push((f as u64, lf as u64));
                }
            }
        }
        let skip = SkipMap::new(skip_spans, n);
        let total = n - skip.skipped();

        let mut events = Vec::new();
        let mut dropped = 0;
        for &(f, lost) in &ts_gaps {
            events.push(SourceEvent::Gap {
                frame: skip.to_stream(f as f64) as u64,
                lost_frames: lost,
            });
        }
        for &(a, len) in skip.spans() {
            events.push(SourceEvent::Gap {
                frame: skip.to_stream(a as f64) as u64,
                lost_frames: len,
            });
        }
        if let Some(st) = &stim_table {
            for (i, &ff) in placed.iter().take(stim_times.len()).enumerate() {
                let ft = skip.to_stream(ff);
                if !(ft.is_finite() && ft >= 0.0 && ft < total as f64) {
                    dropped += 1;
                    continue;
                }
                let (branch, ma, pw) = stimulus_fields(st, i);
                events.push(SourceEvent::Stimulus {
                    frame_time: ft,
                    branch,
                    intensity_ma: ma,
                    pulse_width_s: pw,
                });
            }
        }
        events.retain(|e| e.frame() <= total as f64);
        // Gaps first at equal frames: the engine must know before it cuts the sweep.
        events.sort_by(|a, b| {
            a.frame().total_cmp(&b.frame()).then_with(|| {
                let k = |e: &SourceEvent| matches!(e, SourceEvent::Stimulus { .. }) as u8;
                k(a).cmp(&k(b))
            })
        });
        let markers = annotations
            .iter()
            .zip(placed.iter().skip(stim_times.len()))
            .map(|((_, label), &ff)| Marker {
                time_s: skip.to_stream(ff) / rate,
                label: label.clone(),
            })
            .collect();

        let settings = file
            .dataset(l::SETTINGS)
            .ok()
            .and_then(|d| read_str(&d).ok())
            .filter(|s| serde_json::from_str::<serde_json::Value>(s).is_ok_and(|v| v.is_object()));
        let counters = read_table(&file, fname, l::LSR_COUNTERS)?
            .map(|t| match (t.text("counter"), t.num("value")) {
                (Some(n), Some(v)) => n
                    .iter()
                    .cloned()
                    .zip(v.iter().map(|x| x.max(0.0) as u64))
                    .collect(),
                _ => Vec::new(),
            })
            .unwrap_or_default();

        let name = fname.file_name().map_or_else(
            || fname.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let info = SourceInfo {
            sample_rate_hz: rate,
            channels,
            sample_format: series.format,
            description: format!("NWB file {name}, series {}", series.path),
            stimulus_events: stim_table
                .as_ref()
                .is_some_and(|t| t.num("start_time").is_some()),
            total_frames: Some(total),
        };
        Ok(Self {
            path: fname.to_path_buf(),
            _file: file,
            series,
            info,
            t0,
            skip,
            pos: 0,
            stream_pos: 0,
            events,
            next_event: 0,
            markers,
            settings,
            counters,
            unfinished,
            dropped_events: dropped,
            chunks: None,
            chunks_tried: false,
            plain_read: std::env::var_os(PLAIN_READ_ENV).is_some_and(|v| v == "1"),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The HDF5 path of the series being replayed.
    pub fn series_path(&self) -> &str {
        &self.series.path
    }

    /// The series' `starting_time` (or first timestamp), seconds from the file's time zero.
    /// Stream times are relative to it.
    pub fn starting_time_s(&self) -> f64 {
        self.t0
    }

    /// The detection settings JSON the recording used, if the file has it.
    pub fn recorded_settings(&self) -> Option<String> {
        self.settings.clone()
    }

    /// The pseudonymous subject id (`/general/subject/subject_id`), if the file has one.
    pub fn subject_id(&self) -> Option<String> {
        let ds = self._file.dataset("general/subject/subject_id").ok()?;
        let id = super::h5util::read_str(&ds).ok()?;
        let id = id.trim();
        (!id.is_empty()).then(|| id.to_string())
    }

    /// The series' own description (for files lsrmon wrote: the device or simulated patient
    /// it was recorded from), if it has one.
    pub fn series_description(&self) -> Option<String> {
        let g = self._file.group(&self.series.path).ok()?;
        let d = super::h5util::attr_text(&g, "description")?;
        let d = d.trim();
        (!d.is_empty()).then(|| d.trim_start_matches("raw EMG: ").to_string())
    }

    /// The named counters the recording stored at its end.
    pub fn recorded_counters(&self) -> Vec<(String, u64)> {
        self.counters.clone()
    }

    /// True when the recording did not finish (killed or still running): the file is read
    /// up to its last commit, and `lsrmon recover` should be run on it.
    pub fn is_unfinished(&self) -> bool {
        self.unfinished
    }

    /// Stimuli in the table that fall outside the recorded samples (not replayed).
    pub fn dropped_events(&self) -> usize {
        self.dropped_events
    }

    /// Reads every sample through HDF5's own calls (`true`) instead of the chunk pipeline
    /// of [`super::chunks`]; the samples are the same. Only before the first read. The
    /// environment variable `LSRMON_PLAIN_READ=1` does the same for every file opened.
    pub fn set_plain_read(&mut self, plain: bool) {
        self.plain_read = plain;
    }

    /// True when samples come from the chunk pipeline (known after the first read).
    pub fn reads_chunks_directly(&self) -> bool {
        self.chunks.is_some()
    }

    fn read_block(&mut self, buf: &mut [f32], frames: usize) -> Result<usize, NwbError> {
        if !self.chunks_tried {
            self.chunks_tried = true;
            if !self.plain_read {
                let s = &self.series;
                self.chunks = ChunkReader::start(&s.data, s.frames, s.channels, s.two_d);
            }
        }
        let c = self.series.channels;
        let end = self.series.frames;
        // Skip filled spans (their gap event is already queued).
        while let Some((_, e)) = self.skip.span_at(self.pos) {
            self.pos = e;
        }
        if self.pos >= end || frames == 0 {
            return Ok(0);
        }
        let limit = self.skip.next_start_after(self.pos).unwrap_or(end).min(end);
        let n = (frames as u64).min(limit - self.pos) as usize;
        let (a, b) = (self.pos as usize, self.pos as usize + n);
        let p = &self.path;
        let dpath = &self.series.data_path;
        if let Some(ch) = &mut self.chunks {
            ch.read(a, b, &mut buf[..n * c])
                .at(p, dpath, "reading samples")?;
        } else if self.series.two_d {
            let x = self
                .series
                .data
                .read_slice::<f32, _, Ix2>(s![a..b, ..])
                .at(p, dpath, "reading samples")?;
            for (dst, src) in buf[..n * c].iter_mut().zip(x.iter()) {
                *dst = *src;
            }
        } else {
            let x = self.series.data.read_slice::<f32, _, Ix1>(s![a..b]).at(
                p,
                dpath,
                "reading samples",
            )?;
            for (dst, src) in buf[..n].iter_mut().zip(x.iter()) {
                *dst = *src;
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Source for NwbSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<SourceEvent>,
    ) -> Result<usize, SourceError> {
        let frames = buf.len() / self.series.channels;
        if frames == 0 && !buf.is_empty() {
            return Err(SourceError::Other(format!(
                "{}: read buffer of {} values is smaller than one frame ({} channels)",
                self.path.display(),
                buf.len(),
                self.series.channels
            )));
        }
        let n = self
            .read_block(buf, frames)
            .map_err(|e| SourceError::Other(e.to_string()))?;
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

/// Branch, intensity and pulse width of stimulus row `i`.
fn stimulus_fields(t: &Table, i: usize) -> (Branch, f32, f32) {
    let branch = t
        .text("branch")
        .map_or(Branch::Other, |v| parse_branch(&v[i]));
    let ma = ["intensity_mA", "intensity_ma", "intensity"]
        .iter()
        .find_map(|c| t.num(c))
        .map_or(f32::NAN, |v| v[i] as f32);
    let pw = match t.num("pulse_width_s") {
        Some(v) => v[i] as f32,
        None => match (t.num("start_time"), t.num("stop_time")) {
            (Some(a), Some(b)) if b[i] > a[i] => (b[i] - a[i]) as f32,
            _ => f32::NAN,
        },
    };
    (branch, ma, pw)
}

/// Our branch names, or words other tools use ("facial nerve, zygomatic branch").
pub fn parse_branch(s: &str) -> Branch {
    if let Ok(b) = s.parse() {
        return b;
    }
    let s = s.to_ascii_lowercase();
    if s.contains("zygomatic") || s.contains("temporal") || s.contains("frontal") {
        Branch::Zygomatic
    } else if s.contains("mandibular") {
        Branch::MarginalMandibular
    } else if s.contains("buccal") {
        Branch::Buccal
    } else {
        Branch::Other
    }
}

/// Markers from AnnotationSeries in /acquisition (ours first) and EventsTables in /events.
fn markers_in(file: &File, fname: &Path) -> Result<Vec<(f64, String)>, NwbError> {
    let mut out = read_annotations(file, fname, l::SURGICAL_EVENTS)?;
    if let Ok(acq) = file.group(l::ACQUISITION) {
        for n in acq.member_names().unwrap_or_default() {
            let p = format!("/{}/{n}", l::ACQUISITION);
            if p == l::SURGICAL_EVENTS {
                continue;
            }
            if let Ok(g) = acq.group(&n) {
                if attr_text(&g, "neurodata_type").as_deref() == Some("AnnotationSeries") {
                    out.extend(read_annotations(file, fname, &p)?);
                }
            }
        }
    }
    if let Ok(ev) = file.group(l::EVENTS) {
        for n in ev.member_names().unwrap_or_default() {
            let p = format!("{}/{n}", l::EVENTS);
            let Some(t) = read_table(file, fname, &p)? else {
                continue;
            };
            let Some(times) = t.num("timestamp") else {
                continue;
            };
            let labels = t
                .text("annotation")
                .or_else(|| t.text("label"))
                .or_else(|| t.first_text());
            for i in 0..t.rows {
                let label = labels.map_or_else(|| n.clone(), |v| v[i].clone());
                out.push((times[i], label));
            }
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(out)
}

/// The channel list: command line, our table, electrodes, comments, or numbered.
fn channels(
    file: &File,
    fname: &Path,
    s: &Series,
    opts: &ReadOptions,
) -> Result<Vec<ChannelInfo>, NwbError> {
    let c = s.channels;
    let table = if s.path == l::EMG_RAW {
        read_table(file, fname, l::EMG_CHANNELS)?
    } else {
        None
    };
    let table = table.filter(|t| t.rows == c);
    let range = |i: usize| -> Option<(f64, f64)> {
        let from_table =
            table
                .as_ref()
                .and_then(|t| match (t.num("range_min"), t.num("range_max")) {
                    (Some(a), Some(b)) if a[i].is_finite() && b[i].is_finite() => {
                        Some((a[i], b[i]))
                    }
                    _ => None,
                });
        from_table.or(s.type_range)
    };
    let make =
        |i: usize, label: String, muscle: Muscle, role: Role, tb: Option<Branch>| ChannelInfo {
            label,
            muscle,
            role,
            volts_per_unit: s.volts_per_unit[i],
            offset_volts: s.offset_volts,
            range_units: range(i),
            trigger_branch: tb,
        };
    if let Some(spec) = &opts.channels {
        if spec.len() != c {
            return Err(NwbError::invalid(
                fname,
                format!(
                    "{} channels were named, but {} has {c} columns",
                    spec.len(),
                    s.data_path
                ),
            ));
        }
        return Ok(spec
            .iter()
            .enumerate()
            .map(|(i, x)| make(i, x.label.clone(), x.muscle, x.role, x.trigger_branch))
            .collect());
    }
    if let Some(t) = &table {
        if let Some(labels) = t.text("label") {
            return Ok((0..c)
                .map(|i| {
                    let muscle = t
                        .text("muscle")
                        .and_then(|v| v[i].parse().ok())
                        .unwrap_or(Muscle::Other);
                    let role = t
                        .text("role")
                        .and_then(|v| v[i].parse().ok())
                        .unwrap_or(Role::Emg);
                    let tb = t.text("trigger_branch").and_then(|v| v[i].parse().ok());
                    make(i, labels[i].clone(), muscle, role, tb)
                })
                .collect());
        }
    }
    let labels = electrode_labels(file, fname, s)?
        .or_else(|| comment_labels(s))
        .unwrap_or_else(|| (1..=c).map(|i| format!("ch{i}")).collect());
    Ok(labels
        .into_iter()
        .enumerate()
        .map(|(i, label)| {
            let (muscle, role) = guess(&label);
            make(i, label, muscle, role, None)
        })
        .collect())
}

/// Muscle and role from a label alone: a muscle name, or a trigger/sync channel.
fn guess(label: &str) -> (Muscle, Role) {
    let low = label.to_ascii_lowercase();
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

/// ElectricalSeries: labels from the electrodes table's `location`, rows chosen by the
/// series' `electrodes` region. Duplicates get `_2`, `_3`, ...
fn electrode_labels(
    file: &File,
    fname: &Path,
    s: &Series,
) -> Result<Option<Vec<String>>, NwbError> {
    if s.neurodata_type != "ElectricalSeries" {
        return Ok(None);
    }
    let Ok(region) = s.group.dataset("electrodes") else {
        return Ok(None);
    };
    let rows = region.read_raw::<i64>().at(
        fname,
        &format!("{}/electrodes", s.path),
        "reading the electrode region",
    )?;
    let Some(t) = read_table(file, fname, "/general/extracellular_ephys/electrodes")? else {
        return Ok(None);
    };
    let Some(loc) = t.text("location").or_else(|| t.text("label")) else {
        return Ok(None);
    };
    if rows.len() != s.channels || rows.iter().any(|&r| r < 0 || r as usize >= loc.len()) {
        return Err(NwbError::malformed(
            fname,
            &format!("{}/electrodes", s.path),
            format!("{} valid rows of the electrodes table", s.channels),
            format!("{rows:?}"),
        ));
    }
    Ok(Some(unique(
        rows.iter().map(|&r| loc[r as usize].clone()).collect(),
    )))
}

/// Our `@comments` hold the labels, comma-separated.
fn comment_labels(s: &Series) -> Option<Vec<String>> {
    let c = attr_text(&s.group, "comments")?;
    if c.trim().eq_ignore_ascii_case("no comments") {
        return None;
    }
    let parts: Vec<String> = c.split(',').map(|p| p.trim().to_string()).collect();
    let mut sorted = parts.clone();
    sorted.sort();
    sorted.dedup();
    (parts.len() == s.channels
        && sorted.len() == parts.len()
        && parts.iter().all(|p| !p.is_empty()))
    .then_some(parts)
}

fn unique(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(v.len());
    for x in v {
        let base = if x.trim().is_empty() {
            "ch".to_string()
        } else {
            x
        };
        let mut name = base.clone();
        let mut k = 2;
        while out.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        out.push(name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_from_other_tools() {
        assert_eq!(
            parse_branch("marginal_mandibular"),
            Branch::MarginalMandibular
        );
        assert_eq!(
            parse_branch("facial nerve, zygomatic branch"),
            Branch::Zygomatic
        );
        assert_eq!(
            parse_branch("facial nerve, frontal branch"),
            Branch::Zygomatic
        );
        assert_eq!(
            parse_branch("facial nerve, marginal mandibular branch"),
            Branch::MarginalMandibular
        );
        assert_eq!(parse_branch("?"), Branch::Other);
    }

    #[test]
    fn labels_are_made_unique_and_guessed() {
        assert_eq!(
            unique(vec!["face".into(), "face".into(), "".into()]),
            vec!["face", "face_2", "ch"]
        );
        assert_eq!(guess("Mentalis"), (Muscle::Mentalis, Role::Emg));
        assert_eq!(guess("oculi_2"), (Muscle::OrbicularisOculi, Role::Emg));
        assert_eq!(guess("trigger"), (Muscle::None, Role::Trigger));
        assert_eq!(guess("L4 myotome"), (Muscle::Other, Role::Emg));
    }
}
