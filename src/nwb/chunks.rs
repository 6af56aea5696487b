//! Reading a deflate-compressed sample dataset chunk by chunk, inflated in worker threads.
//!
//! HDF5 decompresses inside its own calls, and hdf5-metno runs every HDF5 call behind one
//! global lock: a plain `read_slice` of a gzip dataset inflates on one thread at a time, so a
//! second core (or a second file in `analyze -j 2`) does not help. Here a fetch thread asks
//! HDF5 only for the stored bytes of each chunk (`H5Dread_chunk`, a short call under the
//! lock), worker threads inflate them (libdeflate), undo HDF5's byte shuffle and convert to
//! f32, and the reader takes the decoded rows in order: reading runs ahead of the engine.
//!
//! Only what can be decoded exactly takes this path: a chunked dataset of little-endian
//! integers (8-32 bit) or floats whose filter pipeline is deflate, or shuffle then deflate.
//! Anything else (other filters, contiguous or uncompressed data, big-endian types, 64-bit
//! integers) is read by HDF5 as before. A chunk that was never written (fill value) is read
//! through HDF5 too. The same f32 values come out either way (tests/nwb_chunks.rs).
//!
//! Memory is bounded: at most `credits` row bands (one band = the chunks that share a row
//! range) are in flight between the fetch thread and the reader.

use std::collections::BTreeMap;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5::{filters::Filter, Dataset};
use ndarray::{s, Ix1, Ix2};

/// Element types decoded here (little-endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Elem {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl Elem {
    fn size(self) -> usize {
        match self {
            Elem::I8 | Elem::U8 => 1,
            Elem::I16 | Elem::U16 => 2,
            Elem::I32 | Elem::U32 | Elem::F32 => 4,
            Elem::F64 => 8,
        }
    }

    /// Element `i` of little-endian bytes `b` as f32 (as HDF5's conversion gives it: the
    /// nearest f32).
    #[inline]
    fn get(self, b: &[u8], i: usize) -> f32 {
        let n = self.size();
        let e = &b[i * n..i * n + n];
        match self {
            Elem::I8 => e[0] as i8 as f32,
            Elem::U8 => e[0] as f32,
            Elem::I16 => i16::from_le_bytes([e[0], e[1]]) as f32,
            Elem::U16 => u16::from_le_bytes([e[0], e[1]]) as f32,
            Elem::I32 => i32::from_le_bytes([e[0], e[1], e[2], e[3]]) as f32,
            Elem::U32 => u32::from_le_bytes([e[0], e[1], e[2], e[3]]) as f32,
            Elem::F32 => f32::from_le_bytes([e[0], e[1], e[2], e[3]]),
            Elem::F64 => {
                f64::from_le_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]) as f32
            }
        }
    }
}

/// What a dataset's layout allows: the shape of its chunks and how they are stored.
#[derive(Clone, Debug)]
struct Plan {
    elem: Elem,
    /// Rows to serve (committed rows; may be fewer than the dataset's).
    rows: u64,
    /// Columns of the dataset (1 for a 1-D dataset).
    cols: usize,
    two_d: bool,
    chunk_rows: usize,
    chunk_cols: usize,
    /// Pipeline position of the shuffle filter, if any.
    shuffle: Option<u32>,
    /// Pipeline position of the deflate filter.
    deflate: u32,
}

impl Plan {
    /// The plan for `ds`, or None when the plain HDF5 path must read it.
    fn for_dataset(ds: &Dataset, rows: u64, cols: usize, two_d: bool) -> Option<Plan> {
        let chunk = ds.chunk()?;
        if chunk.len() != if two_d { 2 } else { 1 } || chunk.contains(&0) {
            return None;
        }
        let dtype = ds.dtype().ok()?;
        if dtype.byte_order() != hdf5::datatype::ByteOrder::LittleEndian {
            return None;
        }
        let elem = match dtype.to_descriptor().ok()? {
            TypeDescriptor::Integer(IntSize::U1) => Elem::I8,
            TypeDescriptor::Unsigned(IntSize::U1) => Elem::U8,
            TypeDescriptor::Integer(IntSize::U2) => Elem::I16,
            TypeDescriptor::Unsigned(IntSize::U2) => Elem::U16,
            TypeDescriptor::Integer(IntSize::U4) => Elem::I32,
            TypeDescriptor::Unsigned(IntSize::U4) => Elem::U32,
            TypeDescriptor::Float(FloatSize::U4) => Elem::F32,
            TypeDescriptor::Float(FloatSize::U8) => Elem::F64,
            _ => return None,
        };
        let (shuffle, deflate) = match ds.filters().as_slice() {
            [Filter::Deflate(_)] => (None, 0),
            [Filter::Shuffle, Filter::Deflate(_)] => (Some(0), 1),
            _ => return None,
        };
        Some(Plan {
            elem,
            rows,
            cols,
            two_d,
            chunk_rows: chunk[0],
            chunk_cols: if two_d { chunk[1] } else { 1 },
            shuffle,
            deflate,
        })
    }

    fn bands(&self) -> usize {
        (self.rows as usize).div_ceil(self.chunk_rows)
    }

    fn chunks_per_band(&self) -> usize {
        self.cols.div_ceil(self.chunk_cols)
    }

    /// Rows of band `b` that are served.
    fn band_rows(&self, b: usize) -> usize {
        let start = b * self.chunk_rows;
        (self.rows as usize - start).min(self.chunk_rows)
    }

    fn chunk_bytes(&self) -> usize {
        self.chunk_rows * self.chunk_cols * self.elem.size()
    }
}

/// One stored chunk: its filter mask and bytes.
struct RawChunk {
    mask: u32,
    bytes: Vec<u8>,
}

enum Fetched {
    /// Stored chunks of a band, to be decoded.
    Raw(usize, Vec<RawChunk>),
}

type Band = Result<Vec<f32>, String>;

/// The chunk pipeline of one dataset.
pub(super) struct ChunkReader {
    plan: Plan,
    results: Receiver<(usize, Band)>,
    credits: Option<Sender<()>>,
    pending: BTreeMap<usize, Band>,
    /// The band being read from, and its decoded rows (interleaved, `cols` per row).
    current: Option<(usize, Vec<f32>)>,
    threads: Vec<JoinHandle<()>>,
}

impl ChunkReader {
    /// Starts the pipeline for `ds` (its first `rows` rows), or returns None when the
    /// dataset must be read by HDF5 (see the module doc).
    pub(super) fn start(ds: &Dataset, rows: u64, cols: usize, two_d: bool) -> Option<Self> {
        let plan = Plan::for_dataset(ds, rows, cols, two_d)?;
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 8);
        // Bands in flight: enough to keep every worker busy, bounded to ~32 MB decoded.
        let band_bytes =
            plan.chunk_rows * plan.cols * 4 + plan.chunk_bytes() * plan.chunks_per_band();
        let credits = (32 << 20) / band_bytes.max(1);
        let credits = credits.clamp(2, 4 * workers + 4);
        let (credit_tx, credit_rx) = bounded::<()>(credits);
        for _ in 0..credits {
            credit_tx.send(()).ok()?;
        }
        let (job_tx, job_rx) = bounded::<Fetched>(workers);
        let (res_tx, res_rx) = unbounded::<(usize, Band)>();
        let mut threads = Vec::with_capacity(workers + 1);
        {
            let ds = ds.clone();
            let plan = plan.clone();
            let res_tx = res_tx.clone();
            let t = std::thread::Builder::new()
                .name("nwb-fetch".into())
                .spawn(move || fetch(&ds, &plan, &credit_rx, &job_tx, &res_tx))
                .ok()?;
            threads.push(t);
        }
        for i in 0..workers {
            let plan = plan.clone();
            let job_rx = job_rx.clone();
            let res_tx = res_tx.clone();
            if let Ok(t) = std::thread::Builder::new()
                .name(format!("nwb-inflate-{i}"))
                .spawn(move || inflate_worker(&plan, &job_rx, &res_tx))
            {
                threads.push(t);
            }
        }
        Some(Self {
            plan,
            results: res_rx,
            credits: Some(credit_tx),
            pending: BTreeMap::new(),
            current: None,
            threads,
        })
    }

    /// Copies rows `a..b` (all columns, interleaved) into `out`. Rows are read forward:
    /// `a` is never before the end of the previous call (skipped rows are fine).
    pub(super) fn read(&mut self, a: usize, b: usize, out: &mut [f32]) -> hdf5::Result<()> {
        let c = self.plan.cols;
        let cr = self.plan.chunk_rows;
        let mut row = a;
        while row < b {
            let band = row / cr;
            let data = self.band(band)?;
            let start = band * cr;
            let end = (start + cr).min(b);
            let n = end - row;
            let from = (row - start) * c;
            out[(row - a) * c..(row - a + n) * c].copy_from_slice(&data[from..from + n * c]);
            row = end;
        }
        Ok(())
    }

    /// The decoded rows of `band` (dropping earlier bands).
    fn band(&mut self, band: usize) -> hdf5::Result<&[f32]> {
        if self.current.as_ref().is_some_and(|(b, _)| *b > band) {
            return Err("internal: chunk reader asked to go back".to_string().into());
        }
        while self.current.as_ref().is_none_or(|(b, _)| *b < band) {
            let next = self.current.as_ref().map_or(0, |(b, _)| b + 1);
            let got = loop {
                if let Some(d) = self.pending.remove(&next) {
                    break d;
                }
                match self.results.recv() {
                    Ok((i, d)) => {
                        self.pending.insert(i, d);
                    }
                    Err(_) => {
                        return Err("the chunk reader's threads stopped".to_string().into());
                    }
                }
            };
            if let Some(tx) = &self.credits {
                // The fetch thread may have finished: a refused credit is fine.
                let _ = tx.try_send(());
            }
            match got {
                Ok(v) => self.current = Some((next, v)),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(self.current.as_ref().map_or(&[][..], |(_, v)| v.as_slice()))
    }
}

impl Drop for ChunkReader {
    fn drop(&mut self) {
        // Closing the credits stops the fetch thread, whose end stops the workers.
        self.credits = None;
        let (_, dead) = unbounded();
        self.results = dead;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The fetch thread: the stored bytes of every band, in order, one credit per band.
fn fetch(
    ds: &Dataset,
    plan: &Plan,
    credits: &Receiver<()>,
    jobs: &Sender<Fetched>,
    results: &Sender<(usize, Band)>,
) {
    for band in 0..plan.bands() {
        if credits.recv().is_err() {
            return;
        }
        let raws = (0..plan.chunks_per_band())
            .map(|j| read_chunk(ds, plan, band, j))
            .collect::<Option<Vec<RawChunk>>>();
        let sent = match raws {
            Some(r) => jobs.send(Fetched::Raw(band, r)).is_ok(),
            // A chunk never written (fill value) or not readable directly: HDF5 reads it.
            None => results.send((band, plain_band(ds, plan, band))).is_ok(),
        };
        if !sent {
            return;
        }
    }
}

/// The stored bytes of chunk `j` of `band`, or None when it is not stored.
fn read_chunk(ds: &Dataset, plan: &Plan, band: usize, j: usize) -> Option<RawChunk> {
    let offset: [u64; 2] = [
        (band * plan.chunk_rows) as u64,
        (j * plan.chunk_cols) as u64,
    ];
    let id = ds.id();
    hdf5::sync::sync(|| {
        let mut mask: u32 = 0;
        let mut addr: u64 = 0;
        let mut size: u64 = 0;
        // SAFETY: `id` is a valid, open dataset (held by `ds`); `offset` has one entry per
        // dimension (rank 1 or 2); the outputs are plain integers. Called under the library
        // lock like every hdf5-metno call.
        let rc = unsafe {
            hdf5_sys::h5d::H5Dget_chunk_info_by_coord(
                id,
                offset.as_ptr(),
                &mut mask,
                &mut addr,
                &mut size,
            )
        };
        if rc < 0 || size == 0 || addr == hdf5_sys::h5::HADDR_UNDEF || size > (1 << 31) {
            return None;
        }
        let mut bytes = vec![0u8; size as usize];
        let mut filters: u32 = 0;
        // SAFETY: as above; `bytes` holds the chunk's stored size, which is what
        // H5Dread_chunk writes.
        let rc = unsafe {
            hdf5_sys::h5d::H5Dread_chunk(
                id,
                hdf5_sys::h5p::H5P_DEFAULT,
                offset.as_ptr(),
                &mut filters,
                bytes.as_mut_ptr().cast(),
            )
        };
        (rc >= 0).then_some(RawChunk {
            mask: filters,
            bytes,
        })
    })
}

/// Band `band` read by HDF5 itself.
fn plain_band(ds: &Dataset, plan: &Plan, band: usize) -> Band {
    let a = band * plan.chunk_rows;
    let b = a + plan.band_rows(band);
    let v = if plan.two_d {
        ds.read_slice::<f32, _, Ix2>(s![a..b, ..])
            .map(|x| x.iter().copied().collect())
    } else {
        ds.read_slice::<f32, _, Ix1>(s![a..b]).map(|x| x.to_vec())
    };
    v.map_err(|e| e.to_string())
}

fn inflate_worker(plan: &Plan, jobs: &Receiver<Fetched>, results: &Sender<(usize, Band)>) {
    let mut inflater = libdeflater::Decompressor::new();
    let mut plain = vec![0u8; plan.chunk_bytes()];
    let mut unshuffled = vec![0u8; plan.chunk_bytes()];
    while let Ok(Fetched::Raw(band, raws)) = jobs.recv() {
        let out = decode_band(
            plan,
            band,
            &raws,
            &mut inflater,
            &mut plain,
            &mut unshuffled,
        );
        if results.send((band, out)).is_err() {
            return;
        }
    }
}

/// Inflates, unshuffles and converts the chunks of one band into interleaved f32 rows.
fn decode_band(
    plan: &Plan,
    band: usize,
    raws: &[RawChunk],
    inflater: &mut libdeflater::Decompressor,
    plain: &mut [u8],
    unshuffled: &mut [u8],
) -> Band {
    let rows = plan.band_rows(band);
    let c = plan.cols;
    let cc = plan.chunk_cols;
    let mut out = vec![0f32; rows * c];
    for (j, raw) in raws.iter().enumerate() {
        let expected = plan.chunk_bytes();
        let mut bytes: &[u8] = &raw.bytes;
        if raw.mask & (1 << plan.deflate) == 0 {
            let n = inflater.zlib_decompress(bytes, plain).map_err(|e| {
                format!(
                    "chunk at row {}: inflate failed ({e})",
                    band * plan.chunk_rows
                )
            })?;
            if n != expected {
                return Err(format!(
                    "chunk at row {}: {n} bytes after inflating, expected {expected}",
                    band * plan.chunk_rows
                ));
            }
            bytes = &plain[..n];
        } else if bytes.len() != expected {
            return Err(format!(
                "chunk at row {}: {} bytes stored unfiltered, expected {expected}",
                band * plan.chunk_rows,
                bytes.len()
            ));
        }
        if let Some(pos) = plan.shuffle {
            if raw.mask & (1 << pos) == 0 {
                unshuffle(bytes, plan.elem.size(), unshuffled);
                bytes = &unshuffled[..expected];
            }
        }
        let col0 = j * cc;
        let ncols = cc.min(c - col0);
        for r in 0..rows {
            let dst = &mut out[r * c + col0..r * c + col0 + ncols];
            for (k, d) in dst.iter_mut().enumerate() {
                *d = plan.elem.get(bytes, r * cc + k);
            }
        }
    }
    Ok(out)
}

/// Undoes HDF5's shuffle filter: the stored bytes are all elements' first bytes, then all
/// second bytes, ...; bytes past the last whole element are kept as they are.
fn unshuffle(src: &[u8], size: usize, dst: &mut [u8]) {
    if size <= 1 {
        dst[..src.len()].copy_from_slice(src);
        return;
    }
    let n = src.len() / size;
    for b in 0..size {
        let plane = &src[b * n..(b + 1) * n];
        for (i, &v) in plane.iter().enumerate() {
            dst[i * size + b] = v;
        }
    }
    let tail = n * size;
    dst[tail..src.len()].copy_from_slice(&src[tail..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshuffle_restores_elements() {
        // Three 2-byte elements 0x0201, 0x0403, 0x0605 shuffled, plus one odd byte.
        let shuffled = [0x01, 0x03, 0x05, 0x02, 0x04, 0x06, 0x07];
        let mut out = [0u8; 7];
        unshuffle(&shuffled, 2, &mut out);
        assert_eq!(out, [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);
        let mut one = [0u8; 3];
        unshuffle(&[9, 8, 7], 1, &mut one);
        assert_eq!(one, [9, 8, 7]);
    }

    #[test]
    fn elements_convert_like_hdf5() {
        assert_eq!(Elem::I16.get(&(-3i16).to_le_bytes(), 0), -3.0);
        assert_eq!(Elem::U16.get(&65535u16.to_le_bytes(), 0), 65535.0);
        assert_eq!(Elem::I32.get(&16_777_217i32.to_le_bytes(), 0), 16_777_216.0);
        assert_eq!(Elem::F64.get(&0.1f64.to_le_bytes(), 0), 0.1f32);
        assert_eq!(Elem::I8.get(&[0xff], 0), -1.0);
    }
}
