//! The case report: one self-contained HTML page per case, which the technologist files and
//! the surgeon reads (`lsrmon report`, `replay --report`, `live --report`).
//!
//! - [`traces`]: the few sweep traces the page draws, kept in bounded memory;
//! - [`model`]: every number on the page, from the analysis result and those traces;
//! - [`phase`]: the case's class by surgical phase, from the technician's markers;
//! - [`verdict`]: the one-line verdict per muscle;
//! - [`words`]: the detection criterion in words and every setting;
//! - [`plots`]: inline SVG plots (plotters);
//! - [`page`]: the page from a template (minijinja).
//!
//! The page is a pure function of the analysis and the settings: no clock, no path other than
//! the file's name, so the same input gives the same bytes. It is written to a temporary file
//! next to the destination and renamed, never left half-written.
//!
//! (`crate::report` is the headless text output; this module is the filed report.)

pub mod model;
pub mod page;
pub mod phase;
pub mod plots;
pub mod traces;
pub mod verdict;
pub mod words;

#[cfg(test)]
mod sim_tests;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::analysis::{Analysis, Collector};
use crate::detect::{EngineCounters, EngineEvent, REJECT_REASONS};
use crate::model::SweepStatus;
use crate::source::SourceInfo;

pub use model::{build, CaseFacts, CaseReport};
pub use page::{render, PageError};
pub use phase::PhaseClass;
pub use traces::TraceStore;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Page {
        path: PathBuf,
        #[source]
        source: PageError,
    },
    #[error("{path}: could not write the report: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Collects what a report needs while a case runs: the analysis collector and the traces.
#[derive(Clone, Debug)]
pub struct CaseRecorder {
    pub collector: Collector,
    pub traces: TraceStore,
    /// The engine's counters as far as its results tell, for a report while the case runs
    /// (the engine sends its own only at the end): stimuli, and sweeps by status and reason.
    /// Frames, gaps, lost frames and dropped stimuli are known only at the end (left 0).
    pub counted: EngineCounters,
}

impl CaseRecorder {
    pub fn new(info: &SourceInfo) -> Self {
        Self {
            collector: Collector::new(info),
            traces: TraceStore::default(),
            counted: EngineCounters::default(),
        }
    }

    pub fn push(&mut self, e: &EngineEvent) {
        self.collector.push(e);
        self.traces.push(e);
        let c = &mut self.counted;
        match e {
            EngineEvent::Stimulus(_) => c.stimuli += 1,
            EngineEvent::Sweep(r) => match r.status {
                SweepStatus::Present => c.sweeps_present += 1,
                SweepStatus::Absent => c.sweeps_absent += 1,
                SweepStatus::Rejected => {
                    c.sweeps_rejected += 1;
                    let i = REJECT_REASONS
                        .iter()
                        .position(|x| Some(*x) == r.reject_reason);
                    if let Some(i) = i {
                        c.rejected_by_reason[i] += 1;
                    }
                }
            },
            _ => {}
        }
    }
}

/// Renders the page for an analysed case.
pub fn page_for(a: &Analysis, traces: &TraceStore, facts: &CaseFacts) -> Result<String, PageError> {
    render(&build(a, traces, facts))
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// the destination is either the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let werr = |source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(werr)
}

/// Renders and writes one page.
pub fn write_page(
    path: &Path,
    a: &Analysis,
    traces: &TraceStore,
    facts: &CaseFacts,
) -> Result<(), ReportError> {
    let html = page_for(a, traces, facts).map_err(|source| ReportError::Page {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, html.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("lsrmon-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("case.html");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1);
        // A destination in a directory that does not exist: an error naming it, nothing left.
        let bad = dir.join("missing").join("case.html");
        let e = write_atomic(&bad, b"x").unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
