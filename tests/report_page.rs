//! The case report, end to end: `lsrmon report` on simulated session files, the page opened
//! in a real headless browser (Debian's chromium): a screenshot that is not blank, and a
//! printed A4 PDF whose text (pdftotext, from poppler-utils) holds every muscle's verdict,
//! the phase class and the ratio. Also: the same input gives the same bytes, `replay
//! --report` gives the same page, and bad input gives a page that says so or exit code 2.
//!
//! chromium and pdftotext are test tools installed by `./dev setup`; without them these
//! tests fail (they never skip).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lsrmon::model::{ChannelInfo, Muscle, Role, SampleFormat};
use lsrmon::nwb::{SessionMeta, SessionWriter};
use lsrmon::source::SourceInfo;

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("report_page")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Held while a child process is started and while a session file is written in this
/// process. The HDF5 library opens files without close-on-exec, so a child forked while a test
/// writes a file would inherit its descriptor, and with it the file's lock, for its whole
/// life (a chromium of another test would keep the file "locked" for `lsrmon report`).
static FORK: Mutex<()> = Mutex::new(());

fn fork_guard() -> MutexGuard<'static, ()> {
    FORK.lock().unwrap_or_else(|e| e.into_inner())
}

fn lsrmon(args: &[&str]) -> Output {
    let child = {
        let _g = fork_guard();
        Command::new(env!("CARGO_BIN_EXE_lsrmon"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    child.wait_with_output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A test tool on PATH; a missing one fails the test with what to do.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found on PATH: run ./dev setup (installs the Debian packages \
                 chromium and poppler-utils); this test does not skip"
            )
        })
}

/// Runs a command to its end, killing it after `limit`.
fn run_limited(mut cmd: Command, limit: Duration) -> Output {
    let mut child = {
        let _g = fork_guard();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stdout = Vec::new();
            let mut stderr = Vec::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_end(&mut stdout)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_end(&mut stderr)
                .unwrap();
            return Output {
                status,
                stdout,
                stderr,
            };
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Headless chromium with everything that talks to the network switched off.
fn chromium(work: &Path, extra: &[String], url: &str) {
    let profile = work.join("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let mut cmd = Command::new(tool("chromium"));
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url);
    let out = run_limited(cmd, Duration::from_secs(180));
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn simulate(path: &Path, scenario: &str, seed: u64) {
    let out = lsrmon(&[
        "simulate",
        "--scenario",
        scenario,
        "--rate",
        "5000",
        "--duration",
        "300",
        "--seed",
        &seed.to_string(),
        "-o",
        s(path),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn report(input: &Path, output: &Path) -> Output {
    lsrmon(&["report", s(input), "-o", s(output)])
}

fn unescape(t: &str) -> String {
    t.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The verdict lines of the per-muscle sections (`<p class="verdict">...</p>` without the
/// class badge).
fn verdicts(html: &str) -> Vec<String> {
    html.split("<p class=\"verdict\">")
        .skip(1)
        .filter_map(|rest| rest.split("</p>").next())
        .filter(|v| !v.contains("<span"))
        .map(|v| unescape(v.trim().trim_end_matches('.')))
        .collect()
}

/// Whitespace collapsed, ligatures undone (PDF text extraction).
fn normal(t: &str) -> String {
    t.replace('\u{fb01}', "fi")
        .replace('\u{fb02}', "fl")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn non_white_fraction(png_path: &Path, rows: Option<u32>) -> f64 {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.color_type.samples();
    let rows = rows.unwrap_or(info.height).min(info.height) as usize;
    let mut non_white = 0usize;
    for y in 0..rows {
        let line = &buf[y * info.line_size..(y + 1) * info.line_size];
        for px in line.chunks(bpp).take(info.width as usize) {
            if px.iter().take(3).any(|v| *v < 235) {
                non_white += 1;
            }
        }
    }
    non_white as f64 / (rows * info.width as usize) as f64
}

#[test]
fn the_page_shows_in_chromium_and_prints_with_verdicts_class_and_ratio() {
    let work = dir("chromium");
    let nwb = work.join("case.nwb");
    simulate(&nwb, "two-vessels", 4);
    let html_path = work.join("case.html");
    let out = report(&nwb, &html_path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(!html.contains("<script"), "the page must need no script");
    // Self-contained: nothing fetched (the SVG namespace URI is a name, not a fetch).
    for fetch in ["src=", "href=", "<link", "@import", "url("] {
        assert!(
            !html.contains(fetch),
            "the page refers to something outside it: {fetch}"
        );
    }
    let v = verdicts(&html);
    assert_eq!(v.len(), 2, "one verdict per LSR muscle: {v:?}");
    for line in &v {
        assert!(line.contains("% of baseline"), "{line}");
    }
    assert!(
        html.contains("gone after decompression"),
        "phase class missing"
    );
    // The direct response's averages beside each muscle's averaged sweep (an SVG each).
    let direct_plots: Vec<&str> = html
        .split("<div class=\"plot direct\">")
        .skip(1)
        .map(|rest| rest.split("</svg>").next().unwrap())
        .collect();
    assert_eq!(direct_plots.len(), 2, "one direct-response plot per muscle");
    for p in &direct_plots {
        assert!(p.contains("direct response: baseline vs final"), "{p}");
        assert!(p.contains("ms after the stimulus") && p.contains("µV"));
        // The baseline and final averages (and their legend's samples).
        assert!(p.matches("<polyline").count() >= 2, "{p}");
    }

    let png_path = work.join("case.png");
    chromium(
        &work,
        &[
            format!("--screenshot={}", png_path.display()),
            "--window-size=1200,3000".into(),
        ],
        &format!("file://{}", html_path.display()),
    );
    let whole = non_white_fraction(&png_path, None);
    let top = non_white_fraction(&png_path, Some(700));
    assert!(
        whole > 0.03,
        "screenshot nearly blank: {:.4} non-white",
        whole
    );
    assert!(
        top > 0.02,
        "no verdicts drawn at the top: {:.4} non-white",
        top
    );

    let pdf_path = work.join("case.pdf");
    chromium(
        &work,
        &[
            format!("--print-to-pdf={}", pdf_path.display()),
            "--no-pdf-header-footer".into(),
        ],
        &format!("file://{}", html_path.display()),
    );
    let mut cmd = Command::new(tool("pdftotext"));
    cmd.arg(&pdf_path).arg("-");
    let text = run_limited(cmd, Duration::from_secs(60));
    assert!(text.status.success());
    let text = normal(&String::from_utf8_lossy(&text.stdout));
    for line in &v {
        assert!(
            text.contains(&normal(line)),
            "verdict not in the printed PDF: {line}\n--- PDF text ---\n{text}"
        );
    }
    assert!(text.contains("gone after decompression"));
    assert!(text.contains("% of baseline"));
    assert_eq!(
        text.matches("direct response: baseline vs final").count(),
        2,
        "the direct-response plots are printed\n--- PDF text ---\n{text}"
    );
    assert!(text.contains("not a medical device"));
    // A4, several pages: one per muscle at least, plus events and quality.
    let pdf = std::fs::read(&pdf_path).unwrap();
    let pages = pdf
        .windows(10)
        .filter(|w| w == b"/Type /Pag" || w == b"/Type/Page")
        .count();
    assert!(pages >= 3, "expected several printed pages, found {pages}");
}

#[test]
fn the_same_input_gives_the_same_bytes_and_replay_writes_the_same_page() {
    let work = dir("same");
    let nwb = work.join("case.nwb");
    simulate(&nwb, "transient-return", 2);
    let a = work.join("a.html");
    let b = work.join("b.html");
    assert!(report(&nwb, &a).status.success());
    assert!(report(&nwb, &b).status.success());
    let (pa, pb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert!(pa == pb, "two reports of the same file differ");
    let r = work.join("replay.html");
    let out = lsrmon(&[
        "replay",
        s(&nwb),
        "--fast",
        "--headless",
        "--changes-only",
        "--report",
        s(&r),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pr = std::fs::read(&r).unwrap();
    assert!(pr == pa, "replay --report and report differ");
}

fn channel(label: &str, muscle: Muscle) -> ChannelInfo {
    ChannelInfo {
        label: label.into(),
        muscle,
        role: Role::Emg,
        volts_per_unit: 0.195e-6,
        offset_volts: 0.0,
        range_units: Some((-32768.0, 32767.0)),
        trigger_branch: None,
    }
}

/// 20 s of low noise on two EMG channels: no stimulus, no trigger, no marker.
fn write_without_stimuli(path: &Path) {
    let info = SourceInfo {
        sample_rate_hz: 5000.0,
        channels: vec![
            channel("mentalis", Muscle::Mentalis),
            channel("oculi", Muscle::OrbicularisOculi),
        ],
        sample_format: SampleFormat::I16,
        description: "test: no stimuli".into(),
        stimulus_events: false,
        total_frames: None,
    };
    let meta = SessionMeta::new(
        "0f0e0d0c-0b0a-4909-8807-060504030201",
        "2026-03-02T08:30:00+09:00",
        "case-nostim",
    );
    let _g = fork_guard();
    let mut w = SessionWriter::create(path, &info, &meta, "").unwrap();
    let mut x = 12345u64;
    let frames: Vec<f32> = (0..100_000 * 2)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 40) % 41) as f32 - 20.0
        })
        .collect();
    w.append_frames(&frames).unwrap();
    w.finish().unwrap();
}

#[test]
fn bad_input_gives_a_page_that_says_so_or_exit_code_2() {
    let work = dir("bad");
    // Not a session file: exit 2, the file named, nothing written, no temporary file left.
    let junk = work.join("junk.nwb");
    std::fs::write(&junk, b"not hdf5").unwrap();
    let out_path = work.join("junk.html");
    let out = report(&junk, &out_path);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.nwb"));
    assert!(!out_path.exists());
    // A missing file: exit 2.
    assert_eq!(
        report(&work.join("missing.nwb"), &out_path).status.code(),
        Some(2)
    );

    // No stimuli, no markers: a page that says both.
    let nostim = work.join("nostim.nwb");
    write_without_stimuli(&nostim);
    let page = work.join("nostim.html");
    let out = report(&nostim, &page);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = unescape(&std::fs::read_to_string(&page).unwrap());
    assert!(html.contains("No stimulus was found"), "{html}");
    assert!(html.contains("No surgical markers"));
    assert!(html.contains("case-nostim"));
    assert!(html.contains("not a medical device"));

    // A case too short for a baseline: the page says the baseline was never completed.
    let short = work.join("short.nwb");
    let out = lsrmon(&[
        "simulate",
        "--rate",
        "5000",
        "--duration",
        "10",
        "-o",
        s(&short),
    ]);
    assert!(out.status.success());
    let page = work.join("short.html");
    assert!(report(&short, &page).status.success());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("the baseline was never completed"));
    assert!(html.contains("no baseline"));

    // Batch: one page per case in a directory; a bad file fails alone (exit 2), the good
    // ones are written, and no temporary file is left behind.
    let out_dir = work.join("pages");
    let out = lsrmon(&["report", s(&short), s(&junk), s(&nostim), "-o", s(&out_dir)]);
    assert_eq!(out.status.code(), Some(2));
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["nostim.html", "short.html"]);
    // Two inputs with the same name would overwrite each other: refused.
    let other = work.join("again");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(&short, other.join("short.nwb")).unwrap();
    let out = lsrmon(&[
        "report",
        s(&short),
        s(&other.join("short.nwb")),
        "-o",
        s(&work.join("dup")),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn live_writes_the_report_when_the_case_ends() {
    let work = dir("live");
    let page = work.join("live.html");
    let out = lsrmon(&[
        "live",
        "--simulate",
        "--speed",
        "100",
        "--duration",
        "150",
        "--rate",
        "5000",
        "--changes-only",
        "--subject",
        "case-live-7",
        "--report",
        s(&page),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = unescape(&std::fs::read_to_string(&page).unwrap());
    assert!(html.contains("case-live-7"));
    let v = verdicts(&html);
    assert_eq!(v.len(), 2, "{v:?}");
    for line in &v {
        assert!(line.contains("after \"pad placed\""), "{line}");
    }
    assert!(html.contains("gone after decompression"));
}

#[test]
fn edf_input_shows_only_the_patient_code_never_a_name_or_birth_date() {
    let work = dir("edf");
    let nwb = work.join("case.nwb");
    simulate(&nwb, "abrupt", 1);
    let edf = work.join("case.edf");
    let out = lsrmon(&["export", s(&nwb), "--edf", s(&edf)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An EDF+ patient field as other systems write it: code, sex, birth date, name.
    let mut bytes = std::fs::read(&edf).unwrap();
    let patient = format!("{:<80}", "P-0017 M 02-MAR-1960 Smith_John");
    bytes[8..88].copy_from_slice(patient.as_bytes());
    std::fs::write(&edf, &bytes).unwrap();
    let page = work.join("case.html");
    let out = report(&edf, &page);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("P-0017"));
    for never in ["Smith", "John", "1960", "02-MAR"] {
        assert!(!html.contains(never), "the page shows '{never}'");
    }
    assert_eq!(verdicts(&html).len(), 2);
}

#[test]
fn a_session_without_samples_is_a_clear_error() {
    let work = dir("empty");
    let info = SourceInfo {
        sample_rate_hz: 5000.0,
        channels: vec![channel("mentalis", Muscle::Mentalis)],
        sample_format: SampleFormat::I16,
        description: "test: empty".into(),
        stimulus_events: false,
        total_frames: None,
    };
    let meta = SessionMeta::new(
        "0f0e0d0c-0b0a-4909-8807-0605040302aa",
        "2026-03-02T08:30:00+09:00",
        "case-empty",
    );
    let nwb = work.join("empty.nwb");
    {
        let _g = fork_guard();
        SessionWriter::create(&nwb, &info, &meta, "")
            .unwrap()
            .finish()
            .unwrap();
    }
    let page = work.join("empty.html");
    let out = report(&nwb, &page);
    let err = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        // Either the reader refuses it (exit 2, the file named, nothing written) ...
        Some(2) => {
            assert!(err.contains("empty.nwb"), "{err}");
            assert!(!page.exists());
        }
        // ... or the page says the recording is empty.
        Some(0) => {
            let html = std::fs::read_to_string(&page).unwrap();
            assert!(html.contains("The recording is empty"));
        }
        other => panic!("exit {other:?}: {err}"),
    }
    let left: Vec<_> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn an_unwritable_destination_is_refused_before_any_work() {
    let work = dir("dest");
    let nwb = work.join("missing-input-is-not-read.nwb");
    for cmd in [
        vec!["report", s(&nwb), "-o"],
        vec!["replay", s(&nwb), "--fast", "--headless", "--report"],
    ] {
        let mut args = cmd.clone();
        let dest = work.join("no-such-dir").join("case.html");
        args.push(s(&dest));
        let out = lsrmon(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        // Refused for the destination, not for the (missing) input: nothing was read.
        assert!(
            err.contains("no-such-dir") && err.contains("does not exist"),
            "{err}"
        );
    }
}
