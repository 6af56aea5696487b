//! The command line: `lsrmon <command>`.
//!
//! | command    | what it does |
//! |------------|--------------|
//! | `demo`     | monitors the built-in simulated patient in real time (the main job) |
//! | `simulate` | writes a session file from the simulated patient |
//! | `analyze`  | analyses session files headless (`--json`, `--csv`) |
//! | `replay`   | plays a session file through the live pipeline |
//! | `report`   | writes the case report, one HTML page per case |
//! | `export`   | writes a session as EDF+ or BDF+ (optionally with BIDS-EMG sidecars) |
//! | `recover`  | repairs a session file whose recorder died |
//! | `validate` | scores the detector on random simulated patients (`docs/validation.md`) |
//! | `devices`  | lists audio inputs and serial ports |
//! | `live`     | monitors and records a live device (or the simulated patient) |
//!
//! Exit codes (also in the README): 0 success; 1 an unexpected internal error; 2 bad input
//! (a file, a setting or an argument: the message names it); 3 a device failed;
//! 130 interrupted.

mod analyze;
mod args;
mod demo;
mod devices;
mod error;
mod export;
mod export_bids;
mod headless;
mod live;
mod progress;
mod recover;
mod replay;
mod report;
mod simulate;
mod validate;

use std::process::ExitCode;

use clap::Parser;

pub use analyze::{analyse_file, counter_list, parse_channel};
pub use args::{Cli, Command, GlobalArgs};
pub use error::{CliError, Exit};

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => demo::run(&cli.global, &a),
        Command::Simulate(a) => simulate::run(&cli.global, &a),
        Command::Analyze(a) => analyze::run(&cli.global, &a),
        Command::Replay(a) => replay::run(&cli.global, &a),
        Command::Report(a) => report::run(&cli.global, &a),
        Command::Export(a) => export::run(&cli.global, &a),
        Command::Validate(a) => validate::run(&cli.global, &a),
        Command::Recover(a) => recover::run(&a),
        Command::Devices => devices::run(),
        Command::Live(a) => live::run(&cli.global, &a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("lsrmon: {e}");
            }
            ExitCode::from(e.exit as u8)
        }
    }
}
