//! Errors of the session-file code.
//!
//! Every message names the file, and where it applies the HDF5 path inside it and what was
//! expected there, so that a technologist (or a bug report) can tell at once which file is
//! wrong and how. The program maps every variant to exit code 2.

use std::path::{Path, PathBuf};

/// Something wrong with a session file, or with writing one.
#[derive(Debug, thiserror::Error)]
pub enum NwbError {
    /// The operating system refused (missing file, permissions, disk full, ...).
    #[error("{}: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with an HDF5 signature.
    #[error(
        "{}: not an HDF5 file (no HDF5 signature); expected an NWB 2.x session file (.nwb)",
        file.display()
    )]
    NotHdf5 { file: PathBuf },
    /// HDF5 could not open the file although it looks like one.
    #[error("{}: /: cannot open as HDF5 (truncated or damaged file?): {detail}", file.display())]
    Damaged { file: PathBuf, detail: String },
    /// Another process holds HDF5's lock on the file.
    #[error(
        "{}: the file is locked: another process is writing it (HDF5 file lock); a live \
         recording is viewed from the recording program, not from the file",
        file.display()
    )]
    Locked { file: PathBuf },
    /// The writer refuses to replace an existing file.
    #[error("{}: the file already exists; refusing to overwrite it", file.display())]
    Exists { file: PathBuf },
    /// The file is readable, but something in it is not what an NWB session needs.
    #[error("{}: {path}: expected {expected}, found {found}", file.display())]
    Malformed {
        file: PathBuf,
        path: String,
        expected: String,
        found: String,
    },
    /// A dataset is compressed with a filter this HDF5 build cannot decode.
    #[error(
        "{}: {path}: compressed with {filter}, which this program cannot decode (it reads \
         gzip/deflate, shuffle, fletcher32, n-bit, scale-offset and szip); convert it first, \
         e.g. `h5repack -f GZIP=4 IN OUT`",
        file.display()
    )]
    UnsupportedFilter {
        file: PathBuf,
        path: String,
        filter: String,
    },
    /// The recording program stopped before closing the file: only committed rows are valid,
    /// and the file is not yet valid NWB.
    #[error(
        "{}: the recording was not finished (the program stopped before closing the file); \
         run `lsrmon recover {}` to make it a valid NWB file",
        file.display(),
        file.display()
    )]
    NeedsRecovery { file: PathBuf },
    /// An HDF5 call failed.
    #[error("{}: {path}: {action} failed: {source}", file.display())]
    Hdf5 {
        file: PathBuf,
        path: String,
        action: &'static str,
        #[source]
        source: hdf5::Error,
    },
    /// A caller supplied inconsistent input (wrong channel count, bad metadata, ...).
    #[error("{}: {what}", file.display())]
    Invalid { file: PathBuf, what: String },
}

impl NwbError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            Self::Io { file, .. }
            | Self::NotHdf5 { file }
            | Self::Damaged { file, .. }
            | Self::Locked { file }
            | Self::Exists { file }
            | Self::Malformed { file, .. }
            | Self::UnsupportedFilter { file, .. }
            | Self::NeedsRecovery { file }
            | Self::Hdf5 { file, .. }
            | Self::Invalid { file, .. } => file,
        }
    }

    pub(crate) fn malformed(
        file: &Path,
        path: &str,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Self::Malformed {
            file: file.to_path_buf(),
            path: path.to_string(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    pub(crate) fn invalid(file: &Path, what: impl Into<String>) -> Self {
        Self::Invalid {
            file: file.to_path_buf(),
            what: what.into(),
        }
    }
}

/// Attaches file, HDF5 path and action to an `hdf5::Result`.
pub(crate) trait H5Context<T> {
    fn at(self, file: &Path, path: &str, action: &'static str) -> Result<T, NwbError>;
}

impl<T> H5Context<T> for hdf5::Result<T> {
    fn at(self, file: &Path, path: &str, action: &'static str) -> Result<T, NwbError> {
        self.map_err(|source| NwbError::Hdf5 {
            file: file.to_path_buf(),
            path: path.to_string(),
            action,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_file_and_path() {
        let e = NwbError::malformed(
            Path::new("case.nwb"),
            "/acquisition/emg_raw/data",
            "2 dimensions",
            "3",
        );
        let s = e.to_string();
        assert!(
            s.starts_with("case.nwb: /acquisition/emg_raw/data: expected 2 dimensions"),
            "{s}"
        );
        assert_eq!(e.file(), Path::new("case.nwb"));
        let r = NwbError::NeedsRecovery {
            file: "x.nwb".into(),
        }
        .to_string();
        assert!(r.contains("lsrmon recover x.nwb"), "{r}");
    }
}
