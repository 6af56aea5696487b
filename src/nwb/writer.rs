//! [`SessionWriter`]: writes a monitoring session as an NWB 2.x file while it happens.
//!
//! Design (see the session-format spec):
//! - Every group, dataset and attribute is created at the start with zero rows; afterwards
//!   the writer only resizes and writes. HDF5's default file format, no SWMR (a killed SWMR
//!   or `libver_latest` file needs `h5clear` before anything opens it).
//! - Crash safety is a two-phase commit: write the rows, flush, raise each object's
//!   `lsrmon_committed_rows` attribute, flush again. Readers of a live or killed file trust
//!   only committed rows; [`super::recover`] trims the rest. Measured on this stack, a plain
//!   flush per block left a zeroed or unreadable last block in 5% of kills; the counter made
//!   every kill readable.
//! - Rows and samples are queued in memory and written at [`SessionWriter::commit`] (or when
//!   a sample queue passes ~64k frames), so each commit is one resize per dataset. With
//!   compression (the default: shuffle + deflate 1, 43% smaller for EMG-like int16) only
//!   whole chunks are written before the end: a compressed chunk rewritten at a later commit
//!   moves in the file, and a kill in that commit broke the committed rows it held.
//! - [`SessionWriter::finish`] removes the counters and the empty tables and series that
//!   nwbinspector flags, leaving a plain, valid NWB file.
//! - Text is variable-length UTF-8 as pynwb writes it; times are seconds from
//!   `timestamps_reference_time` = `session_start_time` = frame 0 of the stream.

use std::path::{Path, PathBuf};

use hdf5::{Dataset, File, Group};

use super::append::{AppendTable, Val};
use super::error::{H5Context, NwbError};
use super::h5util::{self, attr_f64, attr_i32, attr_str, ds_str, ds_str_1d, typed};
use super::layout::{self as l, ColKind};
use super::recover::finalize;
use super::samples::{ConversionCounts, NativeBuf, Storage};
use crate::detect::verdict::{Now, VerdictBook, VerdictKind};
use crate::model::{Marker, SampleFormat, Stimulus, SweepResult};
use crate::source::SourceInfo;

/// Pulse width stored when the stimulator did not say (NWB needs stop > start).
pub const DEFAULT_PULSE_WIDTH_S: f64 = 0.2e-3;

/// Queued frames written to HDF5 (not yet committed) beyond this many.
const MAX_PENDING_FRAMES: usize = 1 << 16;

/// Session-level metadata. No names or birth dates: `subject_id` is pseudonymous.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionMeta {
    pub session_description: String,
    /// A UUID string, unique per session.
    pub identifier: String,
    /// ISO 8601 with a UTC offset, e.g. `2026-03-02T08:30:00+09:00`. Time zero of the file.
    pub session_start_time: String,
    /// ISO 8601 with offset; `None` uses `session_start_time` (keeps the writer clock-free).
    pub file_create_date: Option<String>,
    pub institution: Option<String>,
    pub session_id: Option<String>,
    /// Pseudonymous subject id.
    pub subject_id: String,
    /// e.g. "Homo sapiens".
    pub species: String,
    /// "M", "F", "U" (unknown) or "O". Required by nwbinspector (empty: "U").
    pub sex: String,
    /// ISO 8601 duration, e.g. "P45Y", or a range "P40Y/P50Y", "P18Y/". Required by
    /// nwbinspector (a birth date is the alternative, and is never stored); empty: "P0D/",
    /// meaning unknown.
    pub age: String,
    /// Free text about the subject (never a name or a birth date).
    pub subject_description: Option<String>,
    /// Who ran the monitoring (staff, not patients); may be empty.
    pub experimenter: Vec<String>,
    pub keywords: Vec<String>,
    pub experiment_description: Option<String>,
}

impl SessionMeta {
    /// Metadata with the required fields and sensible defaults for the rest.
    pub fn new(identifier: &str, session_start_time: &str, subject_id: &str) -> Self {
        Self {
            session_description: "Intraoperative monitoring of the lateral spread response".into(),
            identifier: identifier.into(),
            session_start_time: session_start_time.into(),
            file_create_date: None,
            institution: None,
            session_id: None,
            subject_id: subject_id.into(),
            species: "Homo sapiens".into(),
            sex: "U".into(),
            age: "P0D/".into(),
            subject_description: Some("patient, identified only by a pseudonymous id".into()),
            experimenter: Vec::new(),
            keywords: vec![
                "EMG".into(),
                "lateral spread response".into(),
                "hemifacial spasm".into(),
            ],
            experiment_description: Some(
                "Lateral spread response monitoring during microvascular decompression".into(),
            ),
        }
    }
}

/// How the writer creates the file.
#[derive(Clone, Debug, PartialEq)]
pub struct WriterOptions {
    /// Replace an existing file (default: refuse).
    pub overwrite: bool,
    /// Shuffle + deflate level for the samples (`None`: uncompressed).
    pub deflate: Option<u8>,
    /// Frames per HDF5 chunk (`None`: 0.1 s, between 1024 and 16384).
    pub chunk_frames: Option<usize>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            overwrite: false,
            deflate: Some(1),
            chunk_frames: None,
        }
    }
}

/// Writes one session file. Not thread-safe by itself: [`super::Recorder`] runs it on its
/// own thread.
pub struct SessionWriter {
    path: PathBuf,
    file: File,
    channels: usize,
    rate: f64,
    storage: Storage,
    data: Dataset,
    pending: NativeBuf,
    /// Rows in `data` / covered by its counter.
    frames_written: u64,
    frames_committed: u64,
    /// Stored-unit value for filled (recorder-gap) frames.
    fill_value: f64,
    /// With compression, only whole chunks are written while recording (see `whole_chunks`).
    whole_chunks: Option<usize>,
    stimuli: AppendTable,
    gaps: AppendTable,
    markers: AppendTable,
    sweeps: AppendTable,
    /// The channels' verdicts, for the sweep rows.
    verdicts: VerdictBook,
    counters: AppendTable,
    conv: ConversionCounts,
    user_counters: Vec<(String, u64)>,
    counters_stored: Vec<(String, u64)>,
}

impl SessionWriter {
    /// Creates the file with default options (refuses to overwrite; shuffle+deflate level 1).
    pub fn create(
        path: impl AsRef<Path>,
        info: &SourceInfo,
        meta: &SessionMeta,
        settings_json: &str,
    ) -> Result<Self, NwbError> {
        Self::create_with(path, info, meta, settings_json, &WriterOptions::default())
    }

    /// Creates the file: the whole layout with zero rows, flushed, committed at zero.
    pub fn create_with(
        path: impl AsRef<Path>,
        info: &SourceInfo,
        meta: &SessionMeta,
        settings_json: &str,
        opts: &WriterOptions,
    ) -> Result<Self, NwbError> {
        let path = path.as_ref().to_path_buf();
        check_inputs(&path, info, meta)?;
        let file = if opts.overwrite {
            h5util::file_builder().create(&path)
        } else {
            if path.exists() {
                return Err(NwbError::Exists { file: path });
            }
            h5util::file_builder().create_excl(&path)
        }
        .map_err(|e| open_error(&path, e))?;
        let p = path.as_path();
        let w = Self::build(&path, file, info, meta, settings_json, opts).at(
            p,
            "/",
            "creating the layout",
        )?;
        w.file.flush().at(p, "/", "flushing")?;
        Ok(w)
    }

    fn build(
        path: &Path,
        file: File,
        info: &SourceInfo,
        meta: &SessionMeta,
        settings_json: &str,
        opts: &WriterOptions,
    ) -> hdf5::Result<Self> {
        let id = meta.identifier.as_str();
        root(&file, meta)?;
        general(&file, meta, settings_json)?;

        let channels = info.channels.len();
        let storage = Storage::for_channels(info.sample_format, &info.channels);
        let acq = file.group(l::ACQUISITION)?;
        let (data, fill_value, chunk) = emg_raw(&acq, info, &storage, opts, id)?;
        emg_channels(&acq, info, &storage, id)?;

        let ann = acq.create_group("surgical_events")?;
        typed(&ann, "AnnotationSeries", "core", id)?;
        attr_str(
            &ann,
            "description",
            "surgical steps and notes marked during the session",
        )?;
        attr_str(&ann, "comments", "times in seconds from the session start")?;
        let markers = AppendTable::create(
            l::SURGICAL_EVENTS,
            ann.clone(),
            l::ANNOTATION_DATASETS,
            false,
            id,
        )?;
        let d = ann.dataset("data")?;
        attr_str(&d, "unit", "n/a")?;
        attr_f64(&d, "resolution", -1.0)?;
        attr_f64(&d, "conversion", 1.0)?;
        attr_f64(&d, "offset", 0.0)?;
        let t = ann.dataset("timestamps")?;
        attr_i32(&t, "interval", 1)?;
        attr_str(&t, "unit", "seconds")?;

        let intervals = file.create_group(l::INTERVALS)?;
        let stimuli = table(
            &intervals,
            "stimuli",
            l::STIMULI,
            "TimeIntervals",
            "core",
            "electrical stimuli delivered to the facial nerve",
            l::STIMULI_COLUMNS,
            id,
        )?;
        let gaps = table(
            &intervals,
            "gaps",
            l::GAPS,
            "TimeIntervals",
            "core",
            "samples lost during the recording: sweeps over these intervals cannot be judged",
            l::GAPS_COLUMNS,
            id,
        )?;

        let ecephys = file.group(l::PROCESSING)?.create_group("ecephys")?;
        typed(&ecephys, "ProcessingModule", "core", id)?;
        attr_str(
            &ecephys,
            "description",
            "lateral spread response analysis of the raw EMG",
        )?;
        let sweeps = table(
            &ecephys,
            "lsr_sweeps",
            l::LSR_SWEEPS,
            "DynamicTable",
            "hdmf-common",
            "one row per analysed sweep and channel",
            l::SWEEP_COLUMNS,
            id,
        )?;
        let counters = table(
            &ecephys,
            "lsr_counters",
            l::LSR_COUNTERS,
            "DynamicTable",
            "hdmf-common",
            "final values of the program's counters (lost samples, overruns, rejected sweeps, ...)",
            l::COUNTER_COLUMNS,
            id,
        )?;

        Ok(Self {
            path: path.to_path_buf(),
            file,
            channels,
            rate: info.sample_rate_hz,
            pending: NativeBuf::new(storage.format()),
            storage,
            data,
            frames_written: 0,
            frames_committed: 0,
            fill_value,
            whole_chunks: opts.deflate.map(|_| chunk),
            stimuli,
            gaps,
            markers,
            sweeps,
            counters,
            verdicts: VerdictBook::default(),
            conv: ConversionCounts::default(),
            user_counters: Vec::new(),
            counters_stored: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames appended so far (written or queued).
    pub fn frames(&self) -> u64 {
        self.frames_written + (self.pending.len() / self.channels) as u64
    }

    /// Frames covered by the last commit.
    pub fn frames_committed(&self) -> u64 {
        self.frames_committed
    }

    /// How the samples are stored.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Appends interleaved frames in device units (`channels` values per frame; a trailing
    /// partial frame is ignored).
    pub fn append_frames(&mut self, interleaved: &[f32]) -> Result<(), NwbError> {
        let whole = interleaved.len() / self.channels * self.channels;
        self.pending.extend(
            &self.storage,
            self.channels,
            &interleaved[..whole],
            &mut self.conv,
        );
        self.spill()
    }

    /// Appends `frames` filler frames for samples the recorder lost, and records them as a
    /// `recorder` gap so a replay skips them (file time stays equal to stream time).
    pub fn append_lost_frames(&mut self, frames: u64) -> Result<(), NwbError> {
        if frames == 0 {
            return Ok(());
        }
        let start = self.frames();
        let mut left = frames;
        while left > 0 {
            let n = left.min(MAX_PENDING_FRAMES as u64);
            self.pending
                .extend_fill(n as usize * self.channels, self.fill_value);
            self.spill()?;
            left -= n;
        }
        self.push_gap(start, frames, l::GAP_KIND_RECORDER);
        Ok(())
    }

    /// Records a stimulus (time in frames of the stream, which are frames of the file).
    pub fn add_stimulus(&mut self, s: &Stimulus) {
        let start = s.frame_time / self.rate;
        let pw = s.pulse_width_s as f64;
        let width = if pw.is_finite() && pw > 0.0 {
            pw
        } else {
            DEFAULT_PULSE_WIDTH_S
        };
        self.stimuli.push(&[
            Val::F(start),
            Val::F(start + width),
            Val::S(s.branch.name()),
            Val::F(s.intensity_ma as f64),
            Val::F(s.pulse_width_s as f64),
            Val::I(s.index as i64),
        ]);
    }

    /// Records a surgical marker.
    pub fn add_marker(&mut self, m: &Marker) {
        self.markers.push(&[Val::S(&m.label), Val::F(m.time_s)]);
    }

    /// Records the result of one sweep of one channel, with the channel's verdict after it
    /// (`crate::detect::verdict`: it follows from the channel's sweeps alone).
    pub fn add_sweep(&mut self, r: &SweepResult, channel_label: &str) {
        self.verdicts.channel_mut(r.channel).on_sweep(r);
        let v = self
            .verdicts
            .verdict(r.channel, Now::at_sweep(r.stim_time_s));
        let verdict = v.as_ref().map_or(VerdictKind::Baseline, |v| v.kind());
        let reason = v.and_then(|v| v.reason()).unwrap_or_default();
        self.sweeps.push(&[
            Val::I(r.stim_index as i64),
            Val::F(r.stim_time_s),
            Val::S(r.branch.name()),
            Val::S(channel_label),
            Val::S(r.status.as_str()),
            Val::S(r.reject_reason.map_or("", |x| x.as_str())),
            Val::F(r.lsr_p2p_uv as f64),
            Val::F(r.lsr_onset_ms.map_or(f64::NAN, |x| x as f64)),
            Val::F(r.noise_p2p_uv as f64),
            Val::F(r.noise_rms_uv as f64),
            Val::F(r.snr as f64),
            Val::F(r.direct_p2p_uv as f64),
            Val::F(r.template_corr as f64),
            Val::F(r.percent_of_baseline as f64),
            Val::S(r.state.as_str()),
            Val::F(r.tail_removed_uv as f64),
            Val::F(r.tail_at_window_uv as f64),
            Val::F(r.evidence as f64),
            Val::S(verdict.as_str()),
            Val::S(&reason),
        ]);
    }

    /// Records samples lost before they reached the program: `lost_frames` are missing just
    /// before frame `start_frame` (they are not in the file either).
    pub fn add_gap(&mut self, start_frame: u64, lost_frames: u64) {
        self.push_gap(start_frame, lost_frames, l::GAP_KIND_SOURCE);
    }

    fn push_gap(&mut self, frame: u64, lost: u64, kind: &str) {
        let start = frame as f64 / self.rate;
        let stop = start + lost.max(1) as f64 / self.rate;
        self.gaps.push(&[
            Val::F(start),
            Val::F(stop),
            Val::I(frame as i64),
            Val::I(lost as i64),
            Val::S(kind),
        ]);
    }

    /// Sets the named counters stored in the file (replaces the previous set). The writer
    /// adds its own (`samples_clamped`, `samples_non_finite`) when they are not zero.
    pub fn set_counters(&mut self, counters: &[(String, u64)]) {
        self.user_counters = counters.to_vec();
    }

    /// Two-phase commit: write everything queued, flush, raise the committed-row counters,
    /// flush. After it returns, a crash loses nothing appended before the call, except, with
    /// compression, the samples of the last, partly filled chunk (at most one chunk: 0.1 s
    /// by default), which stay queued until the chunk is full (see `write_samples`).
    pub fn commit(&mut self) -> Result<(), NwbError> {
        self.write_pending(false)?;
        let p = self.path.clone();
        self.file.flush().at(&p, "/", "flushing")?;
        if self.frames_committed != self.frames_written {
            h5util::set_attr_i64(&self.data, l::COMMITTED_ROWS, self.frames_written as i64).at(
                &p,
                l::EMG_DATA,
                "updating the committed-row counter",
            )?;
            self.frames_committed = self.frames_written;
        }
        for t in self.tables_mut() {
            let path = t.path;
            t.commit_counter()
                .at(&p, path, "updating the committed-row counter")?;
        }
        self.file.flush().at(&p, "/", "flushing")
    }

    /// Ends the session: writes everything queued, removes the counters and the empty
    /// tables and series, closes the file.
    pub fn finish(mut self) -> Result<(), NwbError> {
        self.write_pending(true)?;
        let p = self.path.clone();
        self.file.flush().at(&p, "/", "flushing")?;
        finalize(&self.file, &p)?;
        let Self {
            file,
            data,
            stimuli,
            gaps,
            markers,
            sweeps,
            counters,
            ..
        } = self;
        drop((data, stimuli, gaps, markers, sweeps, counters));
        file.close().at(&p, "/", "closing")
    }

    /// Writes queued samples: everything at the end (`last`), else, with compression,
    /// whole chunks only. A compressed chunk changes size when rewritten, so HDF5 moves it;
    /// rewriting a partly filled chunk at every commit could leave the *committed* rows of
    /// that chunk pointing at a half-written copy after a kill (seen as "inflate() failed"
    /// in crash tests). Written once, a chunk is never touched again. Uncompressed chunks
    /// are rewritten in place with the same bytes for committed rows, which is safe.
    fn write_samples(&mut self, last: bool) -> Result<(), NwbError> {
        let queued = self.pending.len() / self.channels;
        let rows = match self.whole_chunks {
            Some(chunk) if !last => queued / chunk * chunk,
            _ => queued,
        };
        let p = self.path.clone();
        let at = self.frames_written as usize;
        let rows = self
            .pending
            .write_at(&self.data, at, self.channels, Some(rows))
            .at(&p, l::EMG_DATA, "writing samples")?;
        self.frames_written += rows as u64;
        Ok(())
    }

    fn write_pending(&mut self, last: bool) -> Result<(), NwbError> {
        let p = self.path.clone();
        self.write_samples(last)?;
        let mut all = self.user_counters.clone();
        for (name, v) in [
            ("samples_clamped", self.conv.clamped),
            ("samples_non_finite", self.conv.non_finite),
        ] {
            if v > 0 && !all.iter().any(|(n, _)| n == name) {
                all.push((name.to_string(), v));
            }
        }
        // Rewritten only when a value changed (a rewrite is the one non-append here).
        if all != self.counters_stored {
            let rows: Vec<Vec<Val>> = all
                .iter()
                .map(|(n, v)| vec![Val::S(n), Val::I(i64::try_from(*v).unwrap_or(i64::MAX))])
                .collect();
            self.counters.replace(&rows);
            self.counters_stored = all;
        }
        for t in self.tables_mut() {
            let path = t.path;
            t.write_pending().at(&p, path, "writing rows")?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<(), NwbError> {
        if self.pending.len() / self.channels >= MAX_PENDING_FRAMES {
            self.write_samples(false)?;
        }
        Ok(())
    }

    fn tables_mut(&mut self) -> [&mut AppendTable; 5] {
        [
            &mut self.stimuli,
            &mut self.gaps,
            &mut self.markers,
            &mut self.sweeps,
            &mut self.counters,
        ]
    }
}

fn check_inputs(path: &Path, info: &SourceInfo, meta: &SessionMeta) -> Result<(), NwbError> {
    let bad = |w: String| Err(NwbError::invalid(path, w));
    if info.channels.is_empty() {
        return bad("the source has no channels".into());
    }
    if !(info.sample_rate_hz.is_finite() && info.sample_rate_hz > 0.0) {
        return bad(format!(
            "sample rate {} Hz is not a positive number",
            info.sample_rate_hz
        ));
    }
    for c in &info.channels {
        if !(c.volts_per_unit.is_finite() && c.volts_per_unit > 0.0 && c.offset_volts.is_finite()) {
            return bad(format!(
                "channel '{}': calibration {} V/unit, offset {} V is not usable",
                c.label, c.volts_per_unit, c.offset_volts
            ));
        }
    }
    let mut labels: Vec<&str> = info.channels.iter().map(|c| c.label.as_str()).collect();
    labels.sort_unstable();
    if labels.windows(2).any(|w| w[0] == w[1]) || labels.iter().any(|l| l.is_empty()) {
        return bad("channel labels must be unique and not empty".into());
    }
    if meta.identifier.trim().is_empty() {
        return bad("the session identifier is empty".into());
    }
    if meta.subject_id.trim().is_empty() {
        return bad("the subject id is empty (use a pseudonymous id)".into());
    }
    for (what, t) in [
        ("session_start_time", Some(&meta.session_start_time)),
        ("file_create_date", meta.file_create_date.as_ref()),
    ] {
        if let Some(t) = t {
            if !has_utc_offset(t) {
                return bad(format!(
                    "{what} '{t}' must be ISO 8601 with a UTC offset, e.g. 2026-03-02T08:30:00+09:00"
                ));
            }
        }
    }
    Ok(())
}

/// `YYYY-MM-DDThh:mm[:ss[.f]]` followed by `Z` or `±hh:mm`.
pub(crate) fn has_utc_offset(t: &str) -> bool {
    let b = t.as_bytes();
    if b.len() < 17 || b.get(10) != Some(&b'T') || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    if t.ends_with('Z') {
        return true;
    }
    let n = b.len();
    n >= 22
        && matches!(b[n - 6], b'+' | b'-')
        && b[n - 3] == b':'
        && b[n - 5..n - 3]
            .iter()
            .chain(&b[n - 2..])
            .all(u8::is_ascii_digit)
}

pub(crate) fn open_error(path: &Path, e: hdf5::Error) -> NwbError {
    let s = e.to_string();
    if s.contains("unable to lock file") || s.contains("errno = 11") {
        NwbError::Locked {
            file: path.to_path_buf(),
        }
    } else if s.contains("file exists") || s.contains("File exists") {
        NwbError::Exists {
            file: path.to_path_buf(),
        }
    } else {
        NwbError::Hdf5 {
            file: path.to_path_buf(),
            path: "/".into(),
            action: "creating the file",
            source: e,
        }
    }
}

fn root(file: &File, meta: &SessionMeta) -> hdf5::Result<()> {
    let id = meta.identifier.as_str();
    attr_str(file, "nwb_version", l::NWB_VERSION)?;
    typed(file, "NWBFile", "core", id)?;
    ds_str(file, "identifier", id)?;
    ds_str(file, "session_description", &meta.session_description)?;
    ds_str(file, "session_start_time", &meta.session_start_time)?;
    ds_str(file, "timestamps_reference_time", &meta.session_start_time)?;
    let created = meta
        .file_create_date
        .as_deref()
        .unwrap_or(&meta.session_start_time);
    ds_str_1d(file, "file_create_date", &[created])?;
    for g in [
        l::ACQUISITION,
        l::ANALYSIS,
        l::PROCESSING,
        l::GENERAL,
        "stimulus",
    ] {
        file.create_group(g)?;
    }
    file.create_group(l::STIMULUS_PRESENTATION)?;
    file.create_group(l::STIMULUS_TEMPLATES)?;
    Ok(())
}

fn general(file: &File, meta: &SessionMeta, settings_json: &str) -> hdf5::Result<()> {
    let g = file.group(l::GENERAL)?;
    let opt = |name: &str, v: &Option<String>| -> hdf5::Result<()> {
        match v.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => ds_str(&g, name, s).map(|_| ()),
            _ => Ok(()),
        }
    };
    opt("experiment_description", &meta.experiment_description)?;
    opt("institution", &meta.institution)?;
    opt("session_id", &meta.session_id)?;
    let kw: Vec<&str> = meta
        .keywords
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if !kw.is_empty() {
        ds_str_1d(&g, "keywords", &kw)?;
    }
    let ex: Vec<&str> = meta
        .experimenter
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if !ex.is_empty() {
        ds_str_1d(&g, "experimenter", &ex)?;
    }
    if !settings_json.trim().is_empty() {
        ds_str(&g, "data_collection", settings_json)?;
    }
    let s = g.create_group("subject")?;
    typed(&s, "Subject", "core", &meta.identifier)?;
    ds_str(&s, "subject_id", &meta.subject_id)?;
    ds_str(&s, "species", &meta.species)?;
    let opt_s = |name: &str, v: &Option<String>| -> hdf5::Result<()> {
        match v.as_deref().map(str::trim) {
            Some(x) if !x.is_empty() => ds_str(&s, name, x).map(|_| ()),
            _ => Ok(()),
        }
    };
    ds_str(&s, "sex", non_empty(&meta.sex, "U"))?;
    ds_str(&s, "age", non_empty(&meta.age, "P0D/"))?;
    opt_s("description", &meta.subject_description)?;
    Ok(())
}

fn non_empty<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.trim().is_empty() {
        default
    } else {
        s.trim()
    }
}

fn emg_raw(
    acq: &Group,
    info: &SourceInfo,
    storage: &Storage,
    opts: &WriterOptions,
    id: &str,
) -> hdf5::Result<(Dataset, f64, usize)> {
    let c = info.channels.len();
    let ts = acq.create_group(l::EMG_RAW_NAME)?;
    typed(&ts, "TimeSeries", "core", id)?;
    let desc = if info.description.trim().is_empty() {
        "raw EMG"
    } else {
        info.description.as_str()
    };
    attr_str(&ts, "description", &format!("raw EMG: {desc}"))?;
    let labels: Vec<&str> = info.channels.iter().map(|c| c.label.as_str()).collect();
    attr_str(&ts, "comments", &labels.join(","))?;

    let rate = info.sample_rate_hz;
    let chunk = opts
        .chunk_frames
        .unwrap_or(((rate / 10.0).round() as usize).clamp(1024, 16384))
        .max(1);
    let mut b = ts.new_dataset_builder().chunk((chunk, c));
    if let Some(level) = opts.deflate {
        b = b.shuffle().deflate(level.min(9));
    }
    let b = match storage.format() {
        SampleFormat::I16 => b.empty::<i16>(),
        SampleFormat::U16 => b.empty::<u16>(),
        SampleFormat::I32 => b.empty::<i32>(),
        SampleFormat::F32 => b.empty::<f32>(),
    };
    let data = b.shape((0.., c)).create("data")?;
    let (conversion, offset) = storage.conversion_offset();
    attr_str(&data, "unit", "volts")?;
    attr_f64(&data, "conversion", conversion)?;
    attr_f64(&data, "offset", offset)?;
    attr_f64(&data, "resolution", storage.resolution())?;
    attr_str(&data, "continuity", "continuous")?;
    h5util::attr_i64(&data, l::COMMITTED_ROWS, 0)?;

    let st = ts.new_dataset::<f64>().create("starting_time")?;
    st.write_scalar(&0.0f64)?;
    attr_f64(&st, "rate", rate)?;
    attr_str(&st, "unit", "seconds")?;

    // Filler for recorder gaps: the middle of the device range when known (0 would be a
    // rail for unsigned converters), else 0.
    let fill = info.channels[0]
        .range_units
        .map(|(lo, hi)| storage.to_stored(0, (lo + hi) / 2.0).round())
        .filter(|v| v.is_finite())
        .unwrap_or(0.0);
    let fill = if matches!(storage, Storage::MicroVolts { .. }) {
        0.0
    } else {
        fill
    };
    Ok((data, fill, chunk))
}

fn emg_channels(acq: &Group, info: &SourceInfo, storage: &Storage, id: &str) -> hdf5::Result<()> {
    let g = acq.create_group("emg_channels")?;
    typed(&g, "DynamicTable", "hdmf-common", id)?;
    attr_str(
        &g,
        "description",
        "the channels of acquisition/emg_raw, one row per data column",
    )?;
    let mut t = AppendTable::create(l::EMG_CHANNELS, g.clone(), l::EMG_CHANNEL_COLUMNS, true, id)?;
    let (conv, off) = storage.conversion_offset();
    for (i, c) in info.channels.iter().enumerate() {
        let (lo, hi) = c.range_units.map_or((f64::NAN, f64::NAN), |(a, b)| {
            let (x, y) = (storage.to_stored(i, a), storage.to_stored(i, b));
            (x.min(y), x.max(y))
        });
        let tb = c.trigger_branch.map_or("none", |b| b.name());
        t.push(&[
            Val::S(&c.label),
            Val::S(c.muscle.name()),
            Val::S(c.role.name()),
            Val::F(conv),
            Val::F(off),
            Val::F(lo),
            Val::F(hi),
            Val::S(tb),
        ]);
    }
    t.write_pending()?;
    // Written in full before the first flush: no counter needed.
    g.delete_attr(l::COMMITTED_ROWS)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn table(
    parent: &Group,
    name: &str,
    path: &'static str,
    ndt: &str,
    ns: &str,
    description: &str,
    cols: &[l::ColDef],
    id: &str,
) -> hdf5::Result<AppendTable> {
    let g = parent.create_group(name)?;
    typed(&g, ndt, ns, id)?;
    attr_str(&g, "description", description)?;
    debug_assert!(cols.iter().all(|c| c.1 != ColKind::Str || !c.0.is_empty()));
    AppendTable::create(path, g, cols, true, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_need_an_offset() {
        assert!(has_utc_offset("2026-03-02T08:30:00+09:00"));
        assert!(has_utc_offset("2026-03-02T08:30:00.123-05:00"));
        assert!(has_utc_offset("2026-03-02T08:30:00Z"));
        assert!(!has_utc_offset("2026-03-02T08:30:00"));
        assert!(!has_utc_offset("2026-03-02"));
        assert!(!has_utc_offset("2026-03-02 08:30:00+09:00"));
    }
}
