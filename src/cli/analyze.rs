//! `lsrmon analyze FILE...`: session files through the engine, headless.
//!
//! Prints the `lsrmon.analysis/1` JSON (`--json`, the default) or the per-sweep table
//! (`--csv`) on stdout and nothing else there; progress and messages go to stderr. One file
//! gives one pretty-printed JSON object; several files give one compact object per line, in
//! the order given (JSON Lines). Files are analysed in parallel (`--jobs`), each on one
//! thread, streaming (memory does not grow with the file's length). The output is a pure
//! function of the file and the settings: no clock, byte-identical on every run.
//!
//! Settings: `--config` if given, else the settings recorded in the file (so a replay
//! reproduces the recording's verdicts), else the defaults.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::Args;
use indicatif::MultiProgress;

use crate::analysis::{Analysis, Collector, SweepRow};
use crate::detect::{Engine, EngineCounters, REJECT_REASONS};
use crate::edf::EdfSource;
use crate::model::{Branch, Muscle, Role};
use crate::nwb::{ChannelSpec, NwbError, NwbSource, ReadOptions};
use crate::pipeline::run_to_end;
use crate::settings::Settings;
use crate::source::Source;

use super::args::GlobalArgs;
use super::error::CliError;
use super::progress;

#[derive(Args, Debug, Clone)]
pub struct AnalyzeArgs {
    /// Session files (NWB), or EDF/EDF+/BDF/BDF+ files (.edf, .bdf).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print the lsrmon.analysis/1 JSON (the default).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print the per-sweep table as CSV instead.
    #[arg(long)]
    pub csv: bool,
    /// Files analysed at once (default: all cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// ReadOptions: the series to analyse when a file has several.
    #[arg(long, value_name = "NAME")]
    pub series: Option<String>,
    /// Channels, for files without a channel table: one per column, in order,
    /// as LABEL:MUSCLE:ROLE[:BRANCH], e.g. `--channel mentalis:mentalis:emg
    /// --channel sync:none:trigger:zygomatic`. For EDF/BDF files LABEL names a signal by
    /// its label, and only the signals named are used.
    #[arg(long = "channel", value_name = "SPEC")]
    pub channels: Vec<String>,
    /// Stimulus times from a table (CSV: time_s[,branch[,intensity_mA[,pulse_width_s]]]),
    /// for files with neither a stimuli table nor a trigger channel.
    #[arg(long, value_name = "FILE.csv")]
    pub stimuli: Option<PathBuf>,
}

/// An input file: a session file (NWB) or an EDF/BDF file (by its extension).
pub enum Input {
    Nwb(NwbSource),
    Edf(EdfSource),
}

impl Input {
    pub fn path(&self) -> &Path {
        match self {
            Self::Nwb(s) => s.path(),
            Self::Edf(s) => s.path(),
        }
    }

    /// Seconds from the file's time zero to the first sample.
    pub fn starting_time_s(&self) -> f64 {
        match self {
            Self::Nwb(s) => s.starting_time_s(),
            Self::Edf(s) => s.starting_time_s(),
        }
    }

    /// The pseudonymous subject id: the NWB subject id, or the patient code of an EDF+
    /// header (its first field; never the name or birth date that follow it).
    pub fn subject_id(&self) -> Option<String> {
        match self {
            Self::Nwb(s) => s.subject_id(),
            Self::Edf(s) => s
                .header()
                .patient
                .split_whitespace()
                .next()
                .filter(|c| *c != "X")
                .map(str::to_string),
        }
    }

    /// What recorded the signal, as the file says (else how the file is read).
    pub fn device(&self) -> String {
        let read = self.info().description.clone();
        match self {
            Self::Nwb(s) => match s.series_description() {
                Some(d) => format!("{d}; read from {read}"),
                None => read,
            },
            Self::Edf(_) => read,
        }
    }

    /// The detection settings the recording used (NWB files lsrmon wrote).
    pub fn recorded_settings(&self) -> Option<String> {
        match self {
            Self::Nwb(s) => s.recorded_settings(),
            Self::Edf(_) => None,
        }
    }
}

impl Source for Input {
    fn info(&self) -> &crate::source::SourceInfo {
        match self {
            Self::Nwb(s) => s.info(),
            Self::Edf(s) => s.info(),
        }
    }
    fn read(
        &mut self,
        buf: &mut [f32],
        events: &mut Vec<crate::source::SourceEvent>,
    ) -> Result<usize, crate::source::SourceError> {
        match self {
            Self::Nwb(s) => s.read(buf, events),
            Self::Edf(s) => s.read(buf, events),
        }
    }
    fn markers(&self) -> Vec<crate::model::Marker> {
        match self {
            Self::Nwb(s) => s.markers(),
            Self::Edf(s) => s.markers(),
        }
    }
}

/// Wraps a source with a stimulus table, if one is given.
pub fn with_table(
    source: Input,
    table: Option<&Path>,
    settings: &Settings,
) -> Result<Box<dyn Source>, CliError> {
    match table {
        None => Ok(Box::new(source)),
        Some(p) => {
            let t = crate::source::table::load(p, settings.stimulus.default_branch)
                .map_err(|e| CliError::bad_input(e.to_string()))?;
            Ok(Box::new(crate::source::table::WithStimuli::new(source, t)))
        }
    }
}

/// Parses `LABEL:MUSCLE:ROLE[:BRANCH]`.
pub fn parse_channel(spec: &str) -> Result<ChannelSpec, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    if !(3..=4).contains(&parts.len()) || parts[0].is_empty() {
        return Err(format!(
            "--channel '{spec}': expected LABEL:MUSCLE:ROLE[:BRANCH]"
        ));
    }
    let muscle: Muscle = parts[1]
        .parse()
        .map_err(|e| format!("--channel '{spec}': muscle {e}"))?;
    let role: Role = parts[2]
        .parse()
        .map_err(|e| format!("--channel '{spec}': role {e}"))?;
    let trigger_branch = match parts.get(3) {
        Some(b) => Some(
            b.parse::<Branch>()
                .map_err(|e| format!("--channel '{spec}': branch {e}"))?,
        ),
        None => None,
    };
    Ok(ChannelSpec {
        label: parts[0].to_string(),
        muscle,
        role,
        trigger_branch,
    })
}

/// Read options from the command line.
pub fn read_options(series: &Option<String>, channels: &[String]) -> Result<ReadOptions, CliError> {
    let channels = if channels.is_empty() {
        None
    } else {
        Some(
            channels
                .iter()
                .map(|c| parse_channel(c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(CliError::bad_input)?,
        )
    };
    Ok(ReadOptions {
        series: series.clone(),
        channels,
        require_finished: true,
    })
}

/// Opens an input file: `.edf`/`.bdf` as EDF (notes about left-out signals go to stderr),
/// anything else as a session file, offering recovery when its recording did not finish.
pub fn open(path: &Path, opts: &ReadOptions) -> Result<Input, CliError> {
    if crate::edf::is_edf_path(path) {
        if opts.series.is_some() {
            return Err(CliError::bad_input(format!(
                "{}: --series applies to NWB files only",
                path.display()
            )));
        }
        let s = EdfSource::open(path, opts.channels.as_deref())
            .map_err(|e| CliError::bad_input(e.to_string()))?;
        for n in s.notes() {
            eprintln!("lsrmon: {}: {n}", path.display());
        }
        return Ok(Input::Edf(s));
    }
    match NwbSource::open(path, opts) {
        Ok(s) => Ok(Input::Nwb(s)),
        Err(NwbError::NeedsRecovery { .. }) => {
            super::recover::offer(path)?;
            NwbSource::open(path, opts)
                .map(Input::Nwb)
                .map_err(|e| CliError::bad_input(e.to_string()))
        }
        Err(e) => Err(CliError::bad_input(e.to_string())),
    }
}

/// The settings to analyse a file with.
pub fn settings_for(g: &GlobalArgs, source: &Input) -> Result<(Settings, &'static str), CliError> {
    if g.config.is_some() {
        return Ok((super::demo::settings(g)?, "--config"));
    }
    if let Some(text) = source.recorded_settings() {
        match serde_json::from_str::<Settings>(&text) {
            Ok(s) if s.validate().is_ok() => return Ok((s, "recorded in the file")),
            _ => eprintln!(
                "lsrmon: {}: the recorded settings are not usable by this version; using the defaults",
                source.path().display()
            ),
        }
    }
    Ok((Settings::default(), "defaults"))
}

/// Engine counters as named values (for the session file and the JSON).
pub fn counter_list(c: &EngineCounters) -> Vec<(String, u64)> {
    let mut v = vec![
        ("frames".to_string(), c.frames),
        ("stimuli".to_string(), c.stimuli),
        ("stimuli_dropped".to_string(), c.stimuli_dropped),
        ("gaps".to_string(), c.gaps),
        ("lost_frames".to_string(), c.lost_frames),
        ("sweeps_present".to_string(), c.sweeps_present),
        ("sweeps_absent".to_string(), c.sweeps_absent),
        ("sweeps_rejected".to_string(), c.sweeps_rejected),
    ];
    for (r, n) in REJECT_REASONS.iter().zip(c.rejected_by_reason) {
        v.push((format!("rejected_{}", r.as_str()), n));
    }
    v
}

/// Analyses one file.
pub fn analyse_file(
    g: &GlobalArgs,
    path: &Path,
    opts: &ReadOptions,
    stimuli: Option<&Path>,
    bars: Option<&MultiProgress>,
) -> Result<Analysis, CliError> {
    analyse_file_with(g, path, opts, stimuli, bars, &mut |_| {}).map(|(a, _)| a)
}

/// What a file says about its case besides the signal (for the case report).
#[derive(Clone, Debug, PartialEq)]
pub struct FileFacts {
    pub subject_id: Option<String>,
    /// The source's own description (device, or simulated patient).
    pub device: String,
    /// Where the settings came from.
    pub settings_from: &'static str,
    /// The series' starting time: stream time + this = file time.
    pub offset_s: f64,
}

/// Analyses one file, handing every engine event to `sink` as well.
pub fn analyse_file_with(
    g: &GlobalArgs,
    path: &Path,
    opts: &ReadOptions,
    stimuli: Option<&Path>,
    bars: Option<&MultiProgress>,
    sink: &mut dyn FnMut(&crate::detect::EngineEvent),
) -> Result<(Analysis, FileFacts), CliError> {
    let source = open(path, opts)?;
    let subject_id = source.subject_id();
    let device = source.device();
    let (settings, from) = settings_for(g, &source)?;
    let offset = source.starting_time_s();
    let mut source = with_table(source, stimuli, &settings)?;
    let info = source.info().clone();
    let mut engine = Engine::new(&info, &settings)
        .map_err(|e| CliError::bad_input(format!("{}: {e}", path.display())))?;
    let markers = source.markers();
    let mut collector = Collector::new(&info);
    let total = info.total_frames.unwrap_or(0);
    let bar = progress::bar(total, &path.display().to_string(), bars.is_some());
    let bar = match bars {
        Some(m) => m.add(bar),
        None => bar,
    };
    let mut frames = 0u64;
    let block = ((info.sample_rate_hz * 0.5) as usize).max(256);
    run_to_end(
        &mut source,
        &mut engine,
        block,
        &mut |e| {
            collector.push(e);
            sink(e);
        },
        &mut |n| {
            frames = n;
            bar.set_position(n);
        },
    )
    .map_err(|e| CliError::bad_input(format!("{}: {e}", path.display())))?;
    bar.finish_and_clear();
    eprintln!(
        "lsrmon: {}: {:.0} s, {} stimuli from the {}, settings {from}",
        path.display(),
        frames as f64 / info.sample_rate_hz,
        engine.counters().stimuli,
        engine.timing_name()
    );
    let analysis = collector.finish(
        &path.display().to_string(),
        &info,
        &settings,
        engine.timing_name(),
        &markers,
        engine.counters(),
        frames,
        offset,
    );
    let facts = FileFacts {
        subject_id,
        device,
        settings_from: from,
        offset_s: offset,
    };
    Ok((analysis, facts))
}

pub fn run(g: &GlobalArgs, a: &AnalyzeArgs) -> Result<(), CliError> {
    let opts = read_options(&a.series, &a.channels)?;
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, a.files.len().max(1));
    let bars = MultiProgress::new();
    let show = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let results: Vec<Mutex<Option<Result<Analysis, CliError>>>> =
        a.files.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = a.files.get(i) else { break };
                let r = analyse_file(g, path, &opts, a.stimuli.as_deref(), show.then_some(&bars));
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    let mut out = std::io::stdout().lock();
    let mut failed = Vec::new();
    let many = a.files.len() > 1;
    if a.csv {
        writeln!(out, "{}{}", if many { "file," } else { "" }, CSV_HEADER)?;
    }
    for (path, slot) in a.files.iter().zip(results) {
        let r = slot
            .into_inner()
            .ok()
            .flatten()
            .unwrap_or_else(|| Err(CliError::internal("analysis thread failed")));
        match r {
            Ok(analysis) => {
                if a.csv {
                    for row in &analysis.sweeps {
                        let prefix = if many {
                            format!("{},", csv_field(&path.display().to_string()))
                        } else {
                            String::new()
                        };
                        writeln!(out, "{prefix}{}", csv_row(row))?;
                    }
                } else if many {
                    serde_json::to_writer(&mut out, &analysis)
                        .map_err(|e| CliError::internal(e.to_string()))?;
                    writeln!(out)?;
                } else {
                    serde_json::to_writer_pretty(&mut out, &analysis)
                        .map_err(|e| CliError::internal(e.to_string()))?;
                    writeln!(out)?;
                }
            }
            Err(e) => {
                eprintln!("lsrmon: {e}");
                failed.push(path.display().to_string());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::bad_input(format!(
            "{} of {} files could not be analysed: {}",
            failed.len(),
            a.files.len(),
            failed.join(", ")
        )))
    }
}

const CSV_HEADER: &str = "stim_index,stim_time_s,branch,channel,status,reject_reason,lsr_p2p_uv,lsr_onset_ms,noise_p2p_uv,noise_rms_uv,snr,direct_p2p_uv,template_corr,percent_of_baseline,state";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn csv_row(r: &SweepRow) -> String {
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        r.stim_index,
        r.stim_time_s,
        r.branch,
        csv_field(&r.channel),
        r.status,
        r.reject_reason.as_deref().unwrap_or(""),
        r.lsr_p2p_uv,
        num(r.lsr_onset_ms),
        r.noise_p2p_uv,
        r.noise_rms_uv,
        r.snr,
        num(r.direct_p2p_uv),
        num(r.template_corr),
        num(r.percent_of_baseline),
        r.state
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_specs_parse_and_explain_mistakes() {
        let c = parse_channel("sync:none:trigger:zygomatic").unwrap();
        assert_eq!(
            (c.role, c.trigger_branch),
            (Role::Trigger, Some(Branch::Zygomatic))
        );
        assert_eq!(
            parse_channel("m:mentalis:emg").unwrap().muscle,
            Muscle::Mentalis
        );
        assert!(parse_channel("m:chin:emg")
            .unwrap_err()
            .contains("mentalis"));
        assert!(parse_channel("m")
            .unwrap_err()
            .contains("LABEL:MUSCLE:ROLE"));
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
