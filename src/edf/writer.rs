//! [`EdfWriter`]: writes an EDF/BDF file record by record, into a temporary file that is
//! renamed over the target only when every record declared in the header is written (a
//! failed export never leaves a half-written file).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::header::Header;
use super::EdfError;

/// A file being written.
pub struct EdfWriter {
    out: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
    header: Header,
    annotation: Option<usize>,
    written: u64,
    record: Vec<u8>,
}

impl EdfWriter {
    /// Starts `out` with `header` (whose `records` must be the number that will be written).
    pub fn create(out: &Path, header: Header) -> Result<Self, EdfError> {
        let bytes = header.to_bytes().map_err(|e| EdfError::Field {
            file: out.to_path_buf(),
            field: e.field,
            problem: e.problem,
        })?;
        let name = out
            .file_name()
            .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
        let tmp = out.with_file_name(format!(".{name}.part"));
        let io = |source| EdfError::Io {
            file: out.to_path_buf(),
            source,
        };
        let mut file = BufWriter::with_capacity(1 << 16, File::create(&tmp).map_err(io)?);
        file.write_all(&bytes).map_err(io)?;
        let annotation = header.annotation_signal();
        let rb = header.record_bytes();
        Ok(Self {
            out: out.to_path_buf(),
            tmp,
            file: Some(file),
            header,
            annotation,
            written: 0,
            record: Vec::with_capacity(rb),
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// One data record: `samples[k]` holds the digital samples of the k-th ordinary signal
    /// (header order, annotation signal skipped), `tals` the annotation signal's bytes
    /// (padded with zeros to its size; longer is an error).
    pub fn write_record(&mut self, samples: &[&[i32]], tals: &[u8]) -> Result<(), EdfError> {
        let bad = |detail: String| EdfError::Invalid {
            file: self.out.clone(),
            detail,
        };
        if self.written >= self.header.records {
            return Err(bad(format!(
                "more than the {} data records the header declares",
                self.header.records
            )));
        }
        self.record.clear();
        let bdf = self.header.bdf;
        let mut k = 0;
        for (i, s) in self.header.signals.iter().enumerate() {
            if Some(i) == self.annotation {
                let n = s.samples_per_record * self.header.sample_bytes();
                if tals.len() > n {
                    return Err(bad(format!(
                        "record {}: {} bytes of annotations do not fit the {n} of the annotation signal",
                        self.written + 1,
                        tals.len()
                    )));
                }
                self.record.extend_from_slice(tals);
                self.record.extend(std::iter::repeat_n(0u8, n - tals.len()));
                continue;
            }
            let x = samples.get(k).copied().unwrap_or(&[]);
            k += 1;
            if x.len() != s.samples_per_record {
                return Err(bad(format!(
                    "record {}: signal '{}' got {} samples, the header says {}",
                    self.written + 1,
                    s.label,
                    x.len(),
                    s.samples_per_record
                )));
            }
            for &v in x {
                let v = v.clamp(s.digital_min, s.digital_max);
                if bdf {
                    self.record.extend_from_slice(&v.to_le_bytes()[..3]);
                } else {
                    self.record.extend_from_slice(&(v as i16).to_le_bytes());
                }
            }
        }
        let out = &self.out;
        if let Some(f) = self.file.as_mut() {
            f.write_all(&self.record).map_err(|source| EdfError::Io {
                file: out.clone(),
                source,
            })?;
        }
        self.written += 1;
        Ok(())
    }

    /// Checks the record count, flushes, and renames the file into place.
    pub fn finish(mut self) -> Result<(), EdfError> {
        if self.written != self.header.records {
            return Err(EdfError::Invalid {
                file: self.out.clone(),
                detail: format!(
                    "{} data records written, the header declares {}",
                    self.written, self.header.records
                ),
            });
        }
        let io = |source| EdfError::Io {
            file: self.out.clone(),
            source,
        };
        let f = self.file.take().expect("file is open until finish");
        let f = f.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&self.tmp, &self.out).map_err(io)?;
        Ok(())
    }
}

impl Drop for EdfWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
