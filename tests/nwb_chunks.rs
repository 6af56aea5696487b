//! The direct chunk reader (deflate chunks inflated in worker threads) gives exactly the
//! samples HDF5's own reading gives: on every fixture, on pynwb-written files in every
//! storage layout a researcher's file may have, and through `lsrmon analyze` (byte-identical
//! output).

mod nwb_common;

use std::path::{Path, PathBuf};

use lsrmon::nwb::{NwbSource, ReadOptions, PLAIN_READ_ENV};
use lsrmon::source::SourceEvent;
use nwb_common::{command, read_all, run_py, scratch};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Samples (as bits) and events of `path`, read through HDF5 (`plain`) or the chunk reader,
/// in blocks of `block` frames; and whether the chunk reader was used.
fn read(path: &Path, plain: bool, block: usize) -> (Vec<u32>, Vec<SourceEvent>, bool) {
    let mut src = NwbSource::open(path, &ReadOptions::default()).unwrap();
    src.set_plain_read(plain);
    let (x, ev) = read_all(&mut src, block);
    (
        x.iter().map(|v| v.to_bits()).collect(),
        ev,
        src.reads_chunks_directly(),
    )
}

/// Both ways agree; returns whether the chunk reader was used.
fn same_both_ways(path: &Path) -> bool {
    let (want, want_ev, used_plain) = read(path, true, 4096);
    assert!(
        !used_plain,
        "plain read of {} used the chunk reader",
        path.display()
    );
    assert!(!want.is_empty(), "{} has no samples", path.display());
    let mut direct = None;
    // Blocks smaller than, equal to and larger than the chunks, and not dividing them.
    for block in [1000, 4096, 24_000] {
        let (got, ev, used) = read(path, false, block);
        assert_eq!(got.len(), want.len(), "{}: sample count", path.display());
        if let Some(i) = got.iter().zip(&want).position(|(a, b)| a != b) {
            panic!(
                "{}: sample {i} differs: {} (direct) vs {} (HDF5), blocks of {block}",
                path.display(),
                f32::from_bits(got[i]),
                f32::from_bits(want[i])
            );
        }
        assert_eq!(ev, want_ev, "{}: events", path.display());
        assert!(direct.is_none_or(|d| d == used));
        direct = Some(used);
    }
    direct.unwrap_or(false)
}

#[test]
fn fixtures_read_the_same_both_ways() {
    let mut n = 0;
    for e in std::fs::read_dir(fixture("")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "nwb") {
            // Every fixture is shuffle + deflate: the chunk reader must take it.
            assert!(same_both_ways(&p), "{} was not read directly", p.display());
            n += 1;
        }
    }
    assert!(n >= 4, "only {n} fixtures found");
}

fn pynwb_file(storage: &str, test: &str) -> PathBuf {
    let out = scratch(&format!("chunks_{test}_{storage}.nwb"));
    let src = fixture("abrupt_5k.nwb");
    run_py(
        "write_pynwb_storage.py",
        &[
            out.to_str().unwrap(),
            "--from",
            src.to_str().unwrap(),
            "--storage",
            storage,
        ],
    );
    out
}

#[test]
fn pynwb_layouts_read_the_same_both_ways() {
    // (storage, read directly)
    let cases = [
        ("i16_gzip", true),
        ("i16_gzip_shuffle", true),
        ("i16_gzip_colchunks", true),
        ("i16_gzip_1d", true),
        ("i16_gzip_unwritten", true),
        ("f32_gzip_shuffle", true),
        ("f64_gzip", true),
        ("f32_contiguous", false),
    ];
    for (storage, direct) in cases {
        let p = pynwb_file(storage, "layouts");
        assert_eq!(same_both_ways(&p), direct, "{storage}: chunk reader used?");
    }
    // The rows never written read as HDF5's fill value, both ways.
    let p = scratch_path("chunks_layouts_i16_gzip_unwritten.nwb");
    let (x, _, _) = read(&p, false, 4096);
    assert!(x[x.len() - 4 * 2500..]
        .iter()
        .all(|&b| f32::from_bits(b) == 0.0));
}

/// A scratch path without removing the file.
fn scratch_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("nwb_tests")
        .join(name)
}

fn analyze_json(path: &Path, plain: bool) -> Vec<u8> {
    let mut cmd = command(env!("CARGO_BIN_EXE_lsrmon"));
    cmd.arg("analyze").arg(path).arg("--json");
    if plain {
        cmd.env(PLAIN_READ_ENV, "1");
    } else {
        cmd.env_remove(PLAIN_READ_ENV);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "lsrmon analyze {} failed:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn analyze_output_is_byte_identical() {
    for p in [
        fixture("relaxant_5k.nwb"),
        pynwb_file("i16_gzip", "analyze"),
    ] {
        let a = analyze_json(&p, true);
        let b = analyze_json(&p, false);
        assert!(a.len() > 1000, "{}: short output", p.display());
        assert!(a == b, "{}: analyze output differs", p.display());
    }
}
