//! Helpers shared by the `edf_*` integration tests: the binary, the Python readers and
//! writers (pyedflib, edfio, MNE), scratch directories and raw header fields.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::nwb_common::{command, py_script};

/// The Python interpreter with pyedflib, edfio and MNE: `LSRMON_PYTHON`, else
/// `target/venv/bin/python`. Fails the test (never skips) if neither has them.
pub fn python() -> PathBuf {
    let p = match std::env::var_os("LSRMON_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv/bin/python"),
    };
    let ok = command(&p)
        .args(["-c", "import pyedflib, edfio, mne, numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "no Python with pyedflib, edfio, mne and numpy at {}; `./dev test` installs them into \
         target/venv, or set LSRMON_PYTHON",
        p.display()
    );
    p
}

/// Runs a script from tests/py; panics with its output on failure, else returns stdout.
pub fn run_py(script: &str, args: &[&Path]) -> String {
    let out = command(python())
        .arg("-W")
        .arg("ignore")
        .arg(py_script(script))
        .args(args)
        .output()
        .expect("running python");
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// A fresh scratch directory under cargo's per-target temp dir.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("edf_tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs lsrmon with `args`.
pub fn lsrmon(args: &[&str]) -> Output {
    command(env!("CARGO_BIN_EXE_lsrmon"))
        .args(args)
        .output()
        .expect("running lsrmon")
}

/// Runs lsrmon and returns stdout; panics with stderr unless it succeeds.
pub fn lsrmon_ok(args: &[&str]) -> Vec<u8> {
    let out = lsrmon(args);
    assert!(
        out.status.success(),
        "lsrmon {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `lsrmon analyze FILE --json` (with extra arguments) as JSON.
pub fn analyze(path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["analyze", path.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    serde_json::from_slice(&lsrmon_ok(&args)).expect("analyze prints one JSON object")
}

/// What pyedflib, edfio and MNE see in a file (`tests/py/read_edf.py`): per library its
/// JSON summary and its samples, one `Vec` per ordinary signal.
pub struct Seen {
    pub lib: &'static str,
    pub json: Value,
    pub samples: Vec<Vec<f64>>,
}

pub const LIBRARIES: [&str; 3] = ["pyedflib", "edfio", "mne"];

pub fn read_with_libraries(file: &Path) -> Vec<Seen> {
    let prefix = file.with_extension("seen");
    let text = run_py("read_edf.py", &[file, &prefix]);
    let all: Value = serde_json::from_str(&text).expect("read_edf.py prints JSON");
    LIBRARIES
        .iter()
        .map(|&lib| {
            let json = all[lib].clone();
            assert!(
                json.get("error").is_none(),
                "{lib} could not read {}: {}",
                file.display(),
                json["error"]
            );
            let raw = std::fs::read(format!("{}.{lib}.f64", prefix.display())).unwrap();
            let flat: Vec<f64> = raw
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                .collect();
            let mut samples = Vec::new();
            let mut at = 0;
            for n in json["counts"].as_array().unwrap() {
                let n = n.as_u64().unwrap() as usize;
                samples.push(flat[at..at + n].to_vec());
                at += n;
            }
            Seen { lib, json, samples }
        })
        .collect()
}

/// A header field as text (trailing spaces removed).
pub fn field(bytes: &[u8], at: usize, width: usize) -> String {
    String::from_utf8_lossy(&bytes[at..at + width])
        .trim_end()
        .to_string()
}

/// The `k`-th of `ns` signals' value of the per-signal field at `offset` (bytes into the
/// signal headers, per signal `width` wide).
pub fn signal_field(bytes: &[u8], ns: usize, offset: usize, width: usize, k: usize) -> String {
    field(bytes, 256 + offset * ns + k * width, width)
}

pub mod good;
