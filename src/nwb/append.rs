//! Appendable table columns with a committed-row counter (writer and recovery side).
//!
//! A row is first kept in memory, then written (every column resized and written, `id`
//! last), and only after HDF5 has flushed those rows is the group's
//! [`COMMITTED_ROWS`](super::layout::COMMITTED_ROWS) attribute raised. A crash between the
//! per-column writes therefore leaves a torn row that readers ignore and `recover` trims.

use hdf5::types::VarLenUnicode;
use hdf5::{Dataset, Group};
use ndarray::ArrayView1;

use super::h5util::{self, growable_1d, vlen};
use super::layout::{ColDef, ColKind, COMMITTED_ROWS};

/// One cell of a row.
#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    F(f64),
    I(i64),
    S(&'a str),
}

enum Pending {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Str(Vec<VarLenUnicode>),
}

impl Pending {
    fn new(kind: ColKind) -> Self {
        match kind {
            ColKind::F64 => Self::F64(Vec::new()),
            ColKind::I64 => Self::I64(Vec::new()),
            ColKind::Str => Self::Str(Vec::new()),
        }
    }

    fn push(&mut self, v: Val) {
        match (self, v) {
            (Self::F64(p), Val::F(x)) => p.push(x),
            (Self::F64(p), Val::I(x)) => p.push(x as f64),
            (Self::I64(p), Val::I(x)) => p.push(x),
            (Self::I64(p), Val::F(x)) => p.push(x as i64),
            (Self::Str(p), Val::S(s)) => p.push(vlen(s)),
            (Self::Str(p), Val::F(x)) => p.push(vlen(&x.to_string())),
            (Self::Str(p), Val::I(x)) => p.push(vlen(&x.to_string())),
            (Self::F64(p), Val::S(_)) => p.push(f64::NAN),
            (Self::I64(p), Val::S(_)) => p.push(0),
        }
    }

    fn write_at(&mut self, ds: &Dataset, at: usize) -> hdf5::Result<()> {
        let n = self.len();
        ds.resize(at + n)?;
        match self {
            Self::F64(p) => ds.write_slice(ArrayView1::from(&p[..]), at..at + n)?,
            Self::I64(p) => ds.write_slice(ArrayView1::from(&p[..]), at..at + n)?,
            Self::Str(p) => ds.write_slice(ArrayView1::from(&p[..]), at..at + n)?,
        }
        self.clear();
        Ok(())
    }

    fn len(&self) -> usize {
        match self {
            Self::F64(p) => p.len(),
            Self::I64(p) => p.len(),
            Self::Str(p) => p.len(),
        }
    }

    fn clear(&mut self) {
        match self {
            Self::F64(p) => p.clear(),
            Self::I64(p) => p.clear(),
            Self::Str(p) => p.clear(),
        }
    }
}

/// A growable table (a `DynamicTable` with `id`, or an `AnnotationSeries`' parallel
/// datasets without one).
pub struct AppendTable {
    pub path: &'static str,
    group: Group,
    cols: Vec<(Dataset, Pending)>,
    id: Option<Dataset>,
    /// Rows in the HDF5 datasets.
    written: u64,
    /// Rows covered by the counter attribute.
    committed: u64,
    pending: usize,
}

impl AppendTable {
    /// Creates the columns (and `id` if `with_id`) in `group`, each with its
    /// `@description` and, for tables, the `VectorData` typing attributes.
    pub fn create(
        path: &'static str,
        group: Group,
        cols: &[ColDef],
        with_id: bool,
        identifier: &str,
    ) -> hdf5::Result<Self> {
        let mut out = Vec::with_capacity(cols.len());
        for &(name, kind, desc) in cols {
            let ds = growable_1d(&group, name, kind)?;
            if with_id {
                h5util::attr_str(&ds, "description", desc)?;
                h5util::typed(&ds, "VectorData", "hdmf-common", identifier)?;
            }
            out.push((ds, Pending::new(kind)));
        }
        let id = if with_id {
            let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
            h5util::attr_str_1d(&group, "colnames", &names)?;
            let id = growable_1d(&group, "id", ColKind::I64)?;
            h5util::typed(&id, "ElementIdentifiers", "hdmf-common", identifier)?;
            Some(id)
        } else {
            None
        };
        h5util::attr_i64(&group, COMMITTED_ROWS, 0)?;
        Ok(Self {
            path,
            group,
            cols: out,
            id,
            written: 0,
            committed: 0,
            pending: 0,
        })
    }

    /// Queues one row; `row` has one value per column, in column order.
    pub fn push(&mut self, row: &[Val]) {
        for ((_, p), v) in self.cols.iter_mut().zip(row.iter()) {
            p.push(*v);
        }
        // A short row (a caller bug) still keeps the columns equal in length.
        for (_, p) in self.cols.iter_mut().skip(row.len()) {
            p.push(Val::S(""));
        }
        self.pending += 1;
    }

    /// Replaces the whole content with `rows` (the counters table).
    pub fn replace(&mut self, rows: &[Vec<Val>]) {
        for (_, p) in &mut self.cols {
            p.clear();
        }
        self.pending = 0;
        self.written = 0;
        for r in rows {
            self.push(r);
        }
        // Force a rewrite even when the new content is shorter or empty.
        self.committed = u64::MAX;
    }

    /// Writes queued rows to the datasets (no counter change).
    pub fn write_pending(&mut self) -> hdf5::Result<()> {
        if self.pending == 0 && self.committed != u64::MAX {
            return Ok(());
        }
        let at = self.written as usize;
        let n = self.pending;
        for (ds, p) in &mut self.cols {
            p.write_at(ds, at)?;
        }
        if let Some(id) = &self.id {
            let ids: Vec<i64> = (at..at + n).map(|i| i as i64).collect();
            id.resize(at + n)?;
            id.write_slice(ArrayView1::from(&ids[..]), at..at + n)?;
        }
        self.written += n as u64;
        self.pending = 0;
        Ok(())
    }

    /// Raises the counter to the written rows (call after a flush).
    pub fn commit_counter(&mut self) -> hdf5::Result<()> {
        if self.committed != self.written {
            h5util::set_attr_i64(&self.group, COMMITTED_ROWS, self.written as i64)?;
            self.committed = self.written;
        }
        Ok(())
    }
}
