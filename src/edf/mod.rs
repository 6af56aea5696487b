//! EDF, EDF+, BDF and BDF+ files: a small reader and writer of our own.
//!
//! - [`header`]: the ASCII header, parsed field by field with errors that name the field;
//! - [`tal`]: the annotation signal's time-stamped annotation lists (TALs);
//! - [`time`]: times as exact integer ticks of 100 ns (no float drift, no 32-bit overflow);
//! - [`EdfSource`]: a file as a [`crate::source::Source`], streamed record by record;
//! - [`EdfWriter`]: writes records into a temporary file, renamed into place when complete.
//!
//! `lsrmon export` (see `docs/edf.md`) writes EDF+C and BDF+C with this module; `analyze`,
//! `replay` and `report` read `.edf`/`.bdf` through [`EdfSource`]. The Rust EDF crates we
//! looked at were early single releases; this implementation is checked against pyedflib,
//! edfio and MNE by `tests/edf_interop.rs`.

pub mod header;
mod source;
pub mod tal;
pub mod time;
mod writer;

use std::path::PathBuf;

pub use header::{Continuity, Header, HeaderError, SignalHeader};
pub use source::{EdfSource, STATE_PREFIX};
pub use writer::EdfWriter;

/// Why an EDF/BDF file could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum EdfError {
    #[error("{}: {source}", file.display())]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: field '{field}': {problem}", file.display())]
    Field {
        file: PathBuf,
        field: String,
        problem: String,
    },
    #[error("{}: {detail}", file.display())]
    Invalid { file: PathBuf, detail: String },
}

/// True when `path` names an EDF or BDF file (by its extension).
pub fn is_edf_path(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("edf") || e.eq_ignore_ascii_case("bdf"))
}
