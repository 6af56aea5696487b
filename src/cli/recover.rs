//! `lsrmon recover FILE`: repairs a session file whose recorder died.

use std::path::{Path, PathBuf};

use clap::Args;

use super::error::CliError;

#[derive(Args, Debug, Clone)]
pub struct RecoverArgs {
    /// The session file to repair (in place).
    pub file: PathBuf,
}

pub fn run(a: &RecoverArgs) -> Result<(), CliError> {
    let report = crate::nwb::recover(&a.file).map_err(|e| CliError::bad_input(e.to_string()))?;
    println!("{report}");
    Ok(())
}

/// When a file needs recovery: offers it on a terminal, otherwise explains what to run.
/// Returns Ok(true) if the file was recovered and can be opened again.
pub fn offer(path: &Path) -> Result<bool, CliError> {
    use std::io::{IsTerminal, Write};
    let explain = format!(
        "{}: the recording did not finish (its recorder stopped without closing it). \
         Run `lsrmon recover {}` to keep everything up to its last commit.",
        path.display(),
        path.display()
    );
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(CliError::bad_input(explain));
    }
    eprint!("{explain}\nRecover it now? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    if !line.trim().eq_ignore_ascii_case("y") {
        return Err(CliError::bad_input(format!(
            "{}: not recovered",
            path.display()
        )));
    }
    let report = crate::nwb::recover(path).map_err(|e| CliError::bad_input(e.to_string()))?;
    eprintln!("{report}");
    Ok(true)
}
