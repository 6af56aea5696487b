//! Reading hdmf `DynamicTable`s (and `AnnotationSeries`) from any writer.
//!
//! Only the columns `@colnames` lists are read (a dataset missing from it is invisible to
//! pynwb as well). Ragged columns (`X_index`), references and compound columns are skipped:
//! nothing the replay needs is stored that way. In a live or killed file only the committed
//! rows count; a torn last row (columns of unequal length) is cut to the shortest column.
//! Tables hold events, not samples, so they are read whole.

use std::path::Path;

use hdf5::{Dataset, File, Group};

use super::error::{H5Context, NwbError};
use super::h5util::{attr_num, attr_texts, is_numeric, is_string, read_strings_slice};
use super::layout::COMMITTED_ROWS;

/// A column's values.
#[derive(Clone, Debug, PartialEq)]
pub enum Col {
    Num(Vec<f64>),
    Text(Vec<String>),
}

/// The readable columns of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub path: String,
    pub rows: usize,
    pub cols: Vec<(String, Col)>,
}

impl Table {
    pub fn num(&self, name: &str) -> Option<&[f64]> {
        self.cols.iter().find_map(|(n, c)| match c {
            Col::Num(v) if n.eq_ignore_ascii_case(name) => Some(v.as_slice()),
            _ => None,
        })
    }

    pub fn text(&self, name: &str) -> Option<&[String]> {
        self.cols.iter().find_map(|(n, c)| match c {
            Col::Text(v) if n.eq_ignore_ascii_case(name) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The first text column, for tables whose label column has an unknown name.
    pub fn first_text(&self) -> Option<&[String]> {
        self.cols.iter().find_map(|(_, c)| match c {
            Col::Text(v) => Some(v.as_slice()),
            _ => None,
        })
    }
}

fn len(d: &Dataset) -> usize {
    d.shape().first().copied().unwrap_or(0)
}

/// Committed rows of a group (counter attribute), if it has one.
fn committed(g: &Group) -> Option<usize> {
    attr_num(g, COMMITTED_ROWS).map(|v| v.max(0.0) as usize)
}

/// Reads the table at `gpath`; `Ok(None)` if there is no group there.
pub fn read_table(file: &File, fname: &Path, gpath: &str) -> Result<Option<Table>, NwbError> {
    let Ok(g) = file.group(gpath) else {
        return Ok(None);
    };
    let Some(colnames) = attr_texts(&g, "colnames") else {
        return Err(NwbError::malformed(
            fname,
            gpath,
            "a table with a @colnames attribute",
            "none",
        ));
    };
    let mut usable: Vec<(String, Dataset)> = Vec::new();
    for c in colnames {
        if g.link_exists(&format!("{c}_index")) {
            continue; // ragged column
        }
        let Ok(ds) = g.dataset(&c) else { continue };
        if ds.ndim() != 1 {
            continue;
        }
        let Ok(desc) = ds.dtype().and_then(|t| t.to_descriptor()) else {
            continue;
        };
        if is_numeric(&desc) || is_string(&desc) {
            usable.push((c, ds));
        }
    }
    let mut rows = g.dataset("id").map(|d| len(&d)).unwrap_or(usize::MAX);
    for (_, d) in &usable {
        rows = rows.min(len(d));
    }
    if rows == usize::MAX {
        rows = 0;
    }
    if let Some(c) = committed(&g) {
        rows = rows.min(c);
    }
    let mut cols = Vec::with_capacity(usable.len());
    for (name, ds) in usable {
        let cpath = format!("{gpath}/{name}");
        cols.push((name, read_column(fname, &cpath, &ds, rows)?));
    }
    Ok(Some(Table {
        path: gpath.to_string(),
        rows,
        cols,
    }))
}

pub fn read_column(fname: &Path, cpath: &str, ds: &Dataset, rows: usize) -> Result<Col, NwbError> {
    let desc =
        ds.dtype()
            .and_then(|t| t.to_descriptor())
            .at(fname, cpath, "reading the column type")?;
    if rows == 0 {
        return Ok(if is_string(&desc) {
            Col::Text(Vec::new())
        } else {
            Col::Num(Vec::new())
        });
    }
    if is_string(&desc) {
        Ok(Col::Text(read_strings_slice(ds, 0, rows).at(
            fname,
            cpath,
            "reading text",
        )?))
    } else {
        Ok(Col::Num(
            ds.read_slice_1d::<f64, _>(0..rows)
                .at(fname, cpath, "reading numbers")?
                .to_vec(),
        ))
    }
}

/// Reads an `AnnotationSeries`-like group: (time in file seconds, text) pairs.
pub fn read_annotations(
    file: &File,
    fname: &Path,
    gpath: &str,
) -> Result<Vec<(f64, String)>, NwbError> {
    let Ok(g) = file.group(gpath) else {
        return Ok(Vec::new());
    };
    let dpath = format!("{gpath}/data");
    let data = g
        .dataset("data")
        .map_err(|_| NwbError::malformed(fname, &dpath, "a text dataset", "none"))?;
    let mut n = len(&data);
    if let Some(c) = committed(&g) {
        n = n.min(c);
    }
    let times: Vec<f64> = if let Ok(ts) = g.dataset("timestamps") {
        n = n.min(len(&ts));
        let tpath = format!("{gpath}/timestamps");
        match read_column(fname, &tpath, &ts, n)? {
            Col::Num(v) => v,
            Col::Text(_) => {
                return Err(NwbError::malformed(fname, &tpath, "numeric times", "text"))
            }
        }
    } else if let Ok(st) = g.dataset("starting_time") {
        let t0 = st.read_scalar::<f64>().unwrap_or(0.0);
        let rate = attr_num(&st, "rate").filter(|r| *r > 0.0).ok_or_else(|| {
            NwbError::malformed(
                fname,
                &format!("{gpath}/starting_time"),
                "a @rate attribute",
                "none",
            )
        })?;
        (0..n).map(|i| t0 + i as f64 / rate).collect()
    } else {
        return Err(NwbError::malformed(
            fname,
            gpath,
            "timestamps or starting_time",
            "neither",
        ));
    };
    let text = match read_column(fname, &dpath, &data, n)? {
        Col::Text(v) => v,
        Col::Num(v) => v.iter().map(|x| x.to_string()).collect(),
    };
    Ok(times.into_iter().zip(text).collect())
}
