//! Command-line arguments (clap derive). `///` comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// lsrmon: real-time monitor of the lateral spread response (LSR) during microvascular
/// decompression for hemifacial spasm. A research and teaching tool, NOT a medical device.
#[derive(Parser, Debug)]
#[command(name = "lsrmon", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 success, 1 internal error, 2 bad input (file, setting \
or argument), 3 device failure, 130 interrupted.";

/// Options every command takes.
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// Site configuration (TOML): detection settings under [detection], devices and channel
    /// maps. Unknown keys are rejected.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Monitor the built-in simulated patient in real time (no hardware needed).
    Demo(DemoArgs),
    /// Write a session file (NWB) from the simulated patient.
    Simulate(super::simulate::SimulateArgs),
    /// Analyse session files headless: lsrmon.analysis/1 JSON (or CSV) on stdout.
    Analyze(super::analyze::AnalyzeArgs),
    /// Play a session file through the live pipeline.
    Replay(super::replay::ReplayArgs),
    /// Write the case report: one self-contained HTML page per case (-o CASE.html, or -o DIR
    /// for several files).
    Report(super::report::ReportArgs),
    /// Write a session as EDF+C (--edf) or BDF+C (--bdf) for EDFbrowser, MNE and other tools.
    Export(super::export::ExportArgs),
    /// Score the detector on random simulated patients and long false-alarm cases (the
    /// tables of docs/validation.md).
    Validate(super::validate::ValidateArgs),
    /// Repair a session file whose recorder died (keeps everything up to its last commit).
    Recover(super::recover::RecoverArgs),
    /// List audio inputs (rates, channels, formats) and serial ports.
    Devices,
    /// Monitor a live device (audio input, SpikerBox) or the simulated patient in real time,
    /// recording while monitoring.
    Live(Box<super::live::LiveArgs>),
}

/// The simulated patient.
#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// Case scenario: abrupt, gradual, early, partial, persistent, transient-return,
    /// lasting-return, two-vessels, no-baseline, relaxant.
    #[arg(long, default_value = "abrupt")]
    pub scenario: String,
    /// Sample rate, Hz (5000-48000).
    #[arg(long, default_value_t = 10_000.0)]
    pub rate: f64,
    /// Length of the case, seconds.
    #[arg(long, default_value_t = 600.0)]
    pub duration: f64,
    /// Random seed: the same seed gives the same patient.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// EMG noise, microvolts RMS.
    #[arg(long, default_value_t = 5.0)]
    pub noise_uv: f64,
    /// Mains interference, microvolts.
    #[arg(long, default_value_t = 20.0)]
    pub mains_uv: f64,
    /// Mains frequency, Hz (50 or 60).
    #[arg(long, default_value_t = 50)]
    pub mains_hz: u32,
    /// Electrocautery episodes during the case.
    #[arg(long, default_value_t = 2)]
    pub cautery: u32,
    /// Spontaneous EMG bursts per minute.
    #[arg(long, default_value_t = 1.0)]
    pub bursts_per_min: f64,
    /// Baseline LSR amplitude, microvolts peak-to-peak.
    #[arg(long, default_value_t = 200.0)]
    pub lsr_uv: f64,
    /// Leave out the trigger channel (stimuli are then found from the artifact).
    #[arg(long)]
    pub no_trigger: bool,
}

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    #[command(flatten)]
    pub sim: SimArgs,
    /// Playback speed: 1 = real time, 10 = ten times faster.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Print only baselines, state changes, markers and the summary (not every sweep).
    #[arg(long)]
    pub changes_only: bool,
    /// Print the headless report instead of the dashboard, even on a terminal.
    #[arg(long)]
    pub headless: bool,
    /// Write the case report (one HTML page) here when the case ends; on the dashboard, `r`
    /// writes it as it stands ("report so far").
    #[arg(long, value_name = "CASE.html")]
    pub report: Option<std::path::PathBuf>,
}
