//! Finalising a session file, and recovering one whose recording program died.
//!
//! A live file carries `lsrmon_committed_rows` on every appended dataset and table. After a
//! crash, rows past that count may be zeros, garbage, or a torn row (written to some columns
//! of a table and not to others), which pynwb refuses to read. [`recover`] trims every
//! dataset and column to its committed count and then does what a normal stop does
//! ([`finalize`]): remove the counters and the empty tables and series that nwbinspector
//! flags. The result is a valid NWB file holding everything committed, i.e. all but the
//! last second at most.

use std::fmt;
use std::path::{Path, PathBuf};

use hdf5::types::{TypeDescriptor, VarLenUnicode};
use hdf5::{Dataset, File, Group};
use ndarray::Array1;

use super::error::{H5Context, NwbError};
use super::h5util::{attr_num, attr_texts, read_strings_slice, vlen};
use super::layout as l;
use super::reader::open_file;

/// What [`recover`] kept and dropped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecoveryReport {
    pub file: PathBuf,
    /// False when the file had been closed properly (nothing to do).
    pub was_unfinished: bool,
    pub frames_kept: u64,
    /// Frames past the last commit (written but not confirmed).
    pub frames_dropped: u64,
    /// Per table: path, rows kept, rows dropped (torn or uncommitted).
    pub tables: Vec<(String, u64, u64)>,
    /// Empty tables and series removed.
    pub removed: Vec<String>,
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.was_unfinished {
            return write!(
                f,
                "{}: already complete, nothing to recover",
                self.file.display()
            );
        }
        writeln!(
            f,
            "{}: recovered; samples: kept {} frames, dropped {} uncommitted",
            self.file.display(),
            self.frames_kept,
            self.frames_dropped
        )?;
        for (p, kept, dropped) in &self.tables {
            writeln!(f, "  {p}: kept {kept} rows, dropped {dropped}")?;
        }
        if !self.removed.is_empty() {
            writeln!(f, "  removed empty: {}", self.removed.join(", "))?;
        }
        Ok(())
    }
}

/// True when the file still carries committed-row counters: its recording did not finish
/// (the program was killed, or is still writing it). False for finished files, files
/// written by other tools, and files that cannot be opened.
pub fn needs_recovery(path: impl AsRef<Path>) -> bool {
    match open_file(path.as_ref(), false) {
        Ok(f) => has_counters(&f),
        Err(_) => false,
    }
}

pub(crate) fn has_counters(f: &File) -> bool {
    counter_holders()
        .iter()
        .any(|p| object_attr(f, p).is_some())
}

fn counter_holders() -> Vec<&'static str> {
    let mut v = vec![l::EMG_DATA];
    v.extend_from_slice(l::APPENDED_TABLES);
    v
}

/// The committed-row counter on the object at `path`, if any.
pub(crate) fn object_attr(f: &File, path: &str) -> Option<u64> {
    if let Ok(ds) = f.dataset(path) {
        return attr_num(&ds, l::COMMITTED_ROWS).map(|v| v.max(0.0) as u64);
    }
    let g = f.group(path).ok()?;
    attr_num(&g, l::COMMITTED_ROWS).map(|v| v.max(0.0) as u64)
}

/// Makes a file whose recording died valid: trim to the committed rows, finalise.
pub fn recover(path: impl AsRef<Path>) -> Result<RecoveryReport, NwbError> {
    let path = path.as_ref();
    let f = open_file(path, true)?;
    let mut rep = RecoveryReport {
        file: path.to_path_buf(),
        ..Default::default()
    };
    if !has_counters(&f) {
        return Ok(rep);
    }
    rep.was_unfinished = true;

    if let Ok(ds) = f.dataset(l::EMG_DATA) {
        let shape = ds.shape();
        let rows = shape.first().copied().unwrap_or(0) as u64;
        let keep = attr_num(&ds, l::COMMITTED_ROWS).map_or(rows, |c| (c.max(0.0) as u64).min(rows));
        if keep < rows {
            let mut s = shape.clone();
            s[0] = keep as usize;
            ds.resize(s)
                .at(path, l::EMG_DATA, "trimming uncommitted samples")?;
        }
        rep.frames_kept = keep;
        rep.frames_dropped = rows - keep;
    }
    for &t in l::APPENDED_TABLES {
        let Ok(g) = f.group(t) else { continue };
        let cols = columns(&g);
        let longest = cols.iter().map(len).max().unwrap_or(0);
        let shortest = cols.iter().map(len).min().unwrap_or(0);
        let keep =
            attr_num(&g, l::COMMITTED_ROWS).map_or(shortest, |c| (c.max(0.0) as u64).min(shortest));
        for d in &cols {
            if len(d) > keep {
                d.resize(keep as usize)
                    .at(path, t, "trimming uncommitted rows")?;
            }
        }
        rep.tables.push((t.to_string(), keep, longest - keep));
    }
    f.flush().at(path, "/", "flushing")?;
    rep.removed = finalize(&f, path)?;
    f.close().at(path, "/", "closing")?;
    Ok(rep)
}

/// The appended 1-D datasets of a table: its `@colnames` columns and `id`, or an
/// AnnotationSeries' `data` and `timestamps`.
fn columns(g: &Group) -> Vec<Dataset> {
    let names: Vec<String> = match attr_texts(g, "colnames") {
        Some(mut c) => {
            c.push("id".into());
            c
        }
        None => vec!["data".into(), "timestamps".into()],
    };
    names.iter().filter_map(|n| g.dataset(n).ok()).collect()
}

fn len(d: &Dataset) -> u64 {
    d.shape().first().copied().unwrap_or(0) as u64
}

/// Normal end of a session: drop the counters, remove empty tables and series (and the
/// `intervals` group and processing module if nothing is left in them). Returns the paths
/// removed.
pub(crate) fn finalize(f: &File, path: &Path) -> Result<Vec<String>, NwbError> {
    for p in counter_holders() {
        if let Ok(ds) = f.dataset(p) {
            if ds.attr(l::COMMITTED_ROWS).is_ok() {
                ds.delete_attr(l::COMMITTED_ROWS)
                    .at(path, p, "removing the counter")?;
            }
        } else if let Ok(g) = f.group(p) {
            if g.attr(l::COMMITTED_ROWS).is_ok() {
                g.delete_attr(l::COMMITTED_ROWS)
                    .at(path, p, "removing the counter")?;
            }
        }
    }
    // Events can be queued out of order (a recorder gap is written when the next samples
    // arrive, a source gap when reported); nwbinspector wants interval and marker times
    // ascending.
    for (t, key) in [
        (l::STIMULI, "start_time"),
        (l::GAPS, "start_time"),
        (l::SURGICAL_EVENTS, "timestamps"),
    ] {
        if let Ok(g) = f.group(t) {
            sort_rows(&g, key).at(path, t, "sorting rows by time")?;
        }
    }
    let mut removed = Vec::new();
    for &t in l::APPENDED_TABLES {
        if let Ok(g) = f.group(t) {
            let cols = columns(&g);
            if cols.iter().map(len).min().unwrap_or(0) == 0 {
                unlink(f, t, path)?;
                removed.push(t.to_string());
            }
        }
    }
    if let Ok(ds) = f.dataset(l::EMG_DATA) {
        if len(&ds) == 0 {
            unlink(f, l::EMG_RAW, path)?;
            removed.push(l::EMG_RAW.to_string());
        }
    }
    for g in [l::INTERVALS, l::ECEPHYS] {
        if let Ok(grp) = f.group(g) {
            if grp.is_empty() {
                unlink(f, g, path)?;
                removed.push(g.to_string());
            }
        }
    }
    f.flush().at(path, "/", "flushing")?;
    Ok(removed)
}

/// Reorders every column of a table (not `id`) so that `key` ascends. A no-op when it does.
fn sort_rows(g: &Group, key: &str) -> hdf5::Result<()> {
    let cols = columns(g);
    let n = cols.iter().map(len).min().unwrap_or(0) as usize;
    let keys = g.dataset(key)?.read_slice_1d::<f64, _>(0..n)?.to_vec();
    if keys.windows(2).all(|w| w[0] <= w[1] || w[1].is_nan()) {
        return Ok(());
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    for d in cols.iter().filter(|d| !d.name().ends_with("/id")) {
        match d.dtype()?.to_descriptor()? {
            TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => permute::<i64>(d, &order)?,
            TypeDescriptor::Float(_) => permute::<f64>(d, &order)?,
            _ => {
                let v = read_strings_slice(d, 0, n)?;
                let out: Array1<VarLenUnicode> = order.iter().map(|&i| vlen(&v[i])).collect();
                d.write_slice(&out, 0..n)?;
            }
        }
    }
    Ok(())
}

fn permute<T: hdf5::H5Type + Clone>(d: &Dataset, order: &[usize]) -> hdf5::Result<()> {
    let n = order.len();
    let v = d.read_slice_1d::<T, _>(0..n)?;
    let out: Array1<T> = order.iter().map(|&i| v[i].clone()).collect();
    d.write_slice(&out, 0..n)
}

fn unlink(f: &File, p: &str, path: &Path) -> Result<(), NwbError> {
    let (parent, name) = p.rsplit_once('/').unwrap_or(("/", p));
    let parent = if parent.is_empty() { "/" } else { parent };
    f.group(parent)
        .and_then(|g| g.unlink(name))
        .at(path, p, "removing an empty object")
}
