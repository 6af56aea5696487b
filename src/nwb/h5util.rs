//! Small HDF5 helpers shared by the writer, the reader and recovery.
//!
//! Writing: the NWB typing attributes, text as variable-length UTF-8 (what pynwb writes),
//! growable chunked 1-D columns. Reading: text of every flavour other tools write (variable
//! or fixed length, ASCII or UTF-8), and numbers of any width, because files from pynwb,
//! MatNWB or acquisition software differ in exactly these details.

use hdf5::file::{CacheDecreaseMode, CacheIncreaseMode, FlashIncreaseMode, MetadataCacheConfig};
use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Container, Dataset, File, FileBuilder, Group, Location};
use ndarray::Array1;

use super::layout::ColKind;

/// Rows per chunk of a growable table column.
pub const TABLE_CHUNK: usize = 64;

/// Bytes of entries (their on-disk images) HDF5's metadata cache holds per open file.
pub const METADATA_CACHE_BYTES: usize = 512 << 10;

/// Chunk cache of a table column: hash slots and bytes (appends only touch the last chunk).
const TABLE_CHUNK_CACHE: (usize, usize) = (7, 16 << 10);

/// A file builder whose metadata cache has a fixed, small size.
///
/// HDF5's cache counts an entry by its on-disk image, but a chunk-index B-tree node also
/// holds about 18 KB of decoded keys in memory (room for 32 dimensions per key) for a
/// 2-3 KB image. With the default cache (2 MB, growing to 32 MB when the hit rate drops),
/// the nodes of a recording's chunk index stayed cached long after they were last
/// written: resident memory grew with the length of the case. Appending (and reading in
/// order) only ever needs the last nodes of each index and the objects' headers, well
/// under this size. Memory only: nothing written or read changes.
pub fn file_builder() -> FileBuilder {
    let mdc = MetadataCacheConfig {
        set_initial_size: true,
        initial_size: METADATA_CACHE_BYTES,
        min_size: METADATA_CACHE_BYTES,
        max_size: METADATA_CACHE_BYTES,
        incr_mode: CacheIncreaseMode::Off,
        flash_incr_mode: FlashIncreaseMode::Off,
        decr_mode: CacheDecreaseMode::Off,
        ..MetadataCacheConfig::default()
    };
    let mut b = File::with_options();
    b.with_fapl(|p| p.mdc_config(&mdc));
    b
}

/// Text as an HDF5 variable-length UTF-8 string. HDF5 strings cannot hold NUL characters;
/// they are replaced by U+FFFD rather than failing a recording over a marker text.
pub fn vlen(s: &str) -> VarLenUnicode {
    let clean: std::borrow::Cow<str> = if s.contains('\0') {
        s.replace('\0', "\u{fffd}").into()
    } else {
        s.into()
    };
    // SAFETY-free path: `from_str` only fails on interior NULs, which were removed above.
    clean.parse().unwrap_or_default()
}

/// A deterministic UUID-4-formatted object id for the object at `path` in the file with
/// `identifier` (NWB only asks for a unique id; deriving it keeps the writer free of
/// randomness and makes two writes of the same session identical).
pub fn object_id(identifier: &str, path: &str) -> String {
    let h1 = fnv1a(
        0xcbf2_9ce4_8422_2325,
        identifier.as_bytes(),
        path.as_bytes(),
    );
    let h2 = fnv1a(
        0x8422_2325_cbf2_9ce4 ^ h1.rotate_left(17),
        path.as_bytes(),
        identifier.as_bytes(),
    );
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&mix(h1).to_be_bytes());
    b[8..].copy_from_slice(&mix(h2).to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn fnv1a(seed: u64, a: &[u8], b: &[u8]) -> u64 {
    let mut h = seed;
    for &x in a.iter().chain([0xffu8].iter()).chain(b) {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// splitmix64 finaliser: spreads FNV's weak low bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ------------------------------------------------------------------------------- writing

pub fn attr_str(loc: &Location, name: &str, value: &str) -> hdf5::Result<()> {
    loc.new_attr::<VarLenUnicode>()
        .create(name)?
        .write_scalar(&vlen(value))
}

pub fn attr_str_1d(loc: &Location, name: &str, values: &[&str]) -> hdf5::Result<()> {
    let arr: Array1<VarLenUnicode> = values.iter().map(|s| vlen(s)).collect();
    loc.new_attr_builder()
        .with_data(&arr)
        .create(name)
        .map(|_| ())
}

pub fn attr_f64(loc: &Location, name: &str, value: f64) -> hdf5::Result<()> {
    loc.new_attr::<f64>().create(name)?.write_scalar(&value)
}

pub fn attr_i32(loc: &Location, name: &str, value: i32) -> hdf5::Result<()> {
    loc.new_attr::<i32>().create(name)?.write_scalar(&value)
}

pub fn attr_i64(loc: &Location, name: &str, value: i64) -> hdf5::Result<()> {
    loc.new_attr::<i64>().create(name)?.write_scalar(&value)
}

/// Sets an existing i64 attribute, creating it if needed.
pub fn set_attr_i64(loc: &Location, name: &str, value: i64) -> hdf5::Result<()> {
    match loc.attr(name) {
        Ok(a) => a.write_scalar(&value),
        Err(_) => attr_i64(loc, name, value),
    }
}

/// The three NWB typing attributes: `namespace`, `neurodata_type`, `object_id`.
pub fn typed(loc: &Location, ndt: &str, ns: &str, identifier: &str) -> hdf5::Result<()> {
    attr_str(loc, "namespace", ns)?;
    attr_str(loc, "neurodata_type", ndt)?;
    attr_str(loc, "object_id", &object_id(identifier, &loc.name()))
}

pub fn ds_str(group: &Group, name: &str, value: &str) -> hdf5::Result<Dataset> {
    let ds = group.new_dataset::<VarLenUnicode>().create(name)?;
    ds.write_scalar(&vlen(value))?;
    Ok(ds)
}

pub fn ds_str_1d(group: &Group, name: &str, values: &[&str]) -> hdf5::Result<Dataset> {
    let arr: Array1<VarLenUnicode> = values.iter().map(|s| vlen(s)).collect();
    group.new_dataset_builder().with_data(&arr).create(name)
}

/// An empty chunked 1-D dataset with an unlimited dimension (a table column). Its chunk
/// cache (an access property, not stored in the file) is a few chunks: HDF5's default
/// (521 slots, 1 MB) kept every chunk written, about 1.4 MB per hour of a recording's
/// tables.
pub fn growable_1d(group: &Group, name: &str, kind: ColKind) -> hdf5::Result<Dataset> {
    let (slots, bytes) = TABLE_CHUNK_CACHE;
    let b = group
        .new_dataset_builder()
        .chunk(TABLE_CHUNK)
        .chunk_cache(slots, bytes, 1.0);
    match kind {
        ColKind::F64 => b.empty::<f64>().shape(0..).create(name),
        ColKind::I64 => b.empty::<i64>().shape(0..).create(name),
        ColKind::Str => b.empty::<VarLenUnicode>().shape(0..).create(name),
    }
}

// ------------------------------------------------------------------------------- reading

/// Picks a fixed-string capacity at least `n` bytes (HDF5 converts between fixed sizes,
/// padding or truncating), so fixed strings of any declared size can be read.
macro_rules! fixed_dispatch {
    ($t:ident, $n:expr, |T| $body:expr) => {{
        let n: usize = $n;
        if n <= 16 {
            type T = $t<16>;
            $body
        } else if n <= 64 {
            type T = $t<64>;
            $body
        } else if n <= 256 {
            type T = $t<256>;
            $body
        } else if n <= 1024 {
            type T = $t<1024>;
            $body
        } else {
            type T = $t<8192>;
            $body
        }
    }};
}

/// Reads every element of a string dataset or attribute, whatever its string flavour.
pub fn read_strings(c: &Container) -> hdf5::Result<Vec<String>> {
    let desc = c.dtype()?.to_descriptor()?;
    Ok(match desc {
        TypeDescriptor::VarLenUnicode => c
            .read_raw::<VarLenUnicode>()?
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        TypeDescriptor::VarLenAscii => c
            .read_raw::<VarLenAscii>()?
            .iter()
            .map(|s| lossy(s.as_bytes()))
            .collect(),
        TypeDescriptor::FixedAscii(n) => read_fixed_ascii(c, n)?,
        TypeDescriptor::FixedUnicode(n) => read_fixed_unicode(c, n)?,
        other => return Err(format!("not a string (HDF5 type {other})").into()),
    })
}

/// Reads a string dataset's rows `a..b` (for long 1-D columns).
pub fn read_strings_slice(ds: &Dataset, a: usize, b: usize) -> hdf5::Result<Vec<String>> {
    let desc = ds.dtype()?.to_descriptor()?;
    macro_rules! fixed {
        ($t:ident, $n:expr) => {{
            fixed_dispatch!($t, $n, |T| ds
                .read_slice_1d::<T, _>(a..b)?
                .iter()
                .map(|s| trim_fixed(s.as_bytes()))
                .collect())
        }};
    }
    Ok(match desc {
        TypeDescriptor::VarLenUnicode => ds
            .read_slice_1d::<VarLenUnicode, _>(a..b)?
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        TypeDescriptor::VarLenAscii => ds
            .read_slice_1d::<VarLenAscii, _>(a..b)?
            .iter()
            .map(|s| lossy(s.as_bytes()))
            .collect(),
        TypeDescriptor::FixedAscii(n) => fixed!(FixedAscii, n),
        TypeDescriptor::FixedUnicode(n) => fixed!(FixedUnicode, n),
        other => return Err(format!("not a string (HDF5 type {other})").into()),
    })
}

fn read_fixed_ascii(c: &Container, n: usize) -> hdf5::Result<Vec<String>> {
    fixed_dispatch!(FixedAscii, n, |T| Ok(c
        .read_raw::<T>()?
        .iter()
        .map(|s| trim_fixed(s.as_bytes()))
        .collect()))
}

fn read_fixed_unicode(c: &Container, n: usize) -> hdf5::Result<Vec<String>> {
    fixed_dispatch!(FixedUnicode, n, |T| Ok(c
        .read_raw::<T>()?
        .iter()
        .map(|s| trim_fixed(s.as_bytes()))
        .collect()))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Fixed strings may be NUL- or space-padded.
fn trim_fixed(b: &[u8]) -> String {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    lossy(&b[..end]).trim_end_matches(' ').to_string()
}

/// The first string of a scalar or 1-D string dataset/attribute.
pub fn read_str(c: &Container) -> hdf5::Result<String> {
    read_strings(c)?
        .into_iter()
        .next()
        .ok_or_else(|| "empty string dataset".into())
}

/// A scalar numeric attribute as f64, if present and numeric (f32/f64, any integer).
pub fn attr_num(loc: &Location, name: &str) -> Option<f64> {
    let a = loc.attr(name).ok()?;
    if !is_numeric(&a.dtype().ok()?.to_descriptor().ok()?) {
        return None;
    }
    if a.is_scalar() {
        a.read_scalar::<f64>().ok()
    } else {
        a.read_raw::<f64>().ok()?.first().copied()
    }
}

/// A string attribute, if present and textual.
pub fn attr_text(loc: &Location, name: &str) -> Option<String> {
    let a = loc.attr(name).ok()?;
    read_str(&a).ok()
}

/// A 1-D string attribute (e.g. `@colnames`); `None` if absent or not text.
pub fn attr_texts(loc: &Location, name: &str) -> Option<Vec<String>> {
    let a = loc.attr(name).ok()?;
    read_strings(&a).ok()
}

pub fn is_numeric(d: &TypeDescriptor) -> bool {
    matches!(
        d,
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) | TypeDescriptor::Float(_)
    )
}

pub fn is_string(d: &TypeDescriptor) -> bool {
    matches!(
        d,
        TypeDescriptor::VarLenUnicode
            | TypeDescriptor::VarLenAscii
            | TypeDescriptor::FixedAscii(_)
            | TypeDescriptor::FixedUnicode(_)
    )
}

/// The descriptor of a dataset's type, or a readable name if HDF5 cannot describe it.
pub fn type_name(ds: &Dataset) -> String {
    match ds.dtype().and_then(|t| t.to_descriptor()) {
        Ok(d) => d.to_string(),
        Err(_) => "an unsupported HDF5 type".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_uuid4_and_distinct() {
        let a = object_id("abc", "/acquisition/emg_raw");
        let b = object_id("abc", "/acquisition/emg_channels");
        let c = object_id("abd", "/acquisition/emg_raw");
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, object_id("abc", "/acquisition/emg_raw"));
    }

    #[test]
    fn fixed_strings_trimmed() {
        assert_eq!(trim_fixed(b"abc\0\0"), "abc");
        assert_eq!(trim_fixed(b"abc  "), "abc");
        assert_eq!(vlen("a\0b").as_str(), "a\u{fffd}b");
    }
}
