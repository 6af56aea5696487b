//! Shared by the benches (`analyze`, `live_memory`, `latency`, `stages`): where things are,
//! the machine and date for the report, child processes measured with `wait4` (wall time and
//! peak resident memory), and the markdown report.

#![allow(dead_code)]

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The crate's `target/` (or `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The `lsrmon` binary cargo built for this bench (`target/release/lsrmon`, bench profile),
/// or `LSRMON_BIN`.
pub fn lsrmon_bin() -> PathBuf {
    std::env::var_os("LSRMON_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_lsrmon")))
}

/// `target/venv/bin/python` (made by `./dev setup`), if present.
pub fn python() -> Option<PathBuf> {
    let p = target_dir().join("venv/bin/python");
    p.exists().then_some(p)
}

pub fn env_f64(name: &str, default: f64) -> f64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a number")),
        Err(_) => default,
    }
}

pub fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The 1, 5 and 15-minute load averages (other work on the machine), e.g. "0.52 1.10 0.98".
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// CPU model and core count, e.g. "AMD EPYC 7763 64-Core Processor, 2 cores, 23 GB RAM".
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(String::new(), |kb| {
            format!(", {:.0} GB RAM", kb / 1024.0 / 1024.0)
        });
    format!("{cpu}, {cores} cores{mem_gb}")
}

/// The current UTC date and time, `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // `YYYY-MM-DDTHH:MM:SS+00:00`, the session files' own format, to the minute.
    let iso = lsrmon::report::utc_iso8601(secs);
    format!("{} UTC", iso[..16].replace('T', " "))
}

/// The command that ran this bench: the LSRMON_* variables set, then cargo's command.
pub fn command_line(bench: &str) -> String {
    let mut vars: Vec<String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("LSRMON_"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vars.sort();
    vars.push(format!("cargo bench --bench {bench}"));
    vars.join(" ")
}

/// Prints the report and writes it to `target/bench/<name>.md`.
pub fn publish(name: &str, body: &str) {
    let report = format!(
        "{body}\n- machine: {}\n- load average at the end: {}\n- date: {}\n- command: `{}`\n",
        machine(),
        load_average(),
        utc_now(),
        command_line(name)
    );
    println!("\n{report}");
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).expect("creating target/bench");
    let path = dir.join(format!("{name}.md"));
    std::fs::write(&path, &report).expect("writing the report");
    eprintln!("bench: wrote {}", path.display());
}

/// A finished child process.
#[derive(Clone, Debug)]
pub struct Measured {
    pub wall: Duration,
    /// Peak resident set of the child (`ru_maxrss`), bytes.
    pub max_rss: u64,
    /// CPU time of the child, user + system.
    pub cpu: Duration,
    pub status: ExitStatus,
}

impl Measured {
    pub fn rss_mb(&self) -> f64 {
        self.max_rss as f64 / 1e6
    }

    /// Cores busy on average (CPU time / wall time).
    pub fn cores_used(&self) -> f64 {
        self.cpu.as_secs_f64() / self.wall.as_secs_f64()
    }
}

/// What `wait4` tells about a finished child.
#[derive(Clone, Copy, Debug)]
pub struct Exit {
    pub status: ExitStatus,
    /// Peak resident set, bytes.
    pub max_rss: u64,
    /// User + system CPU time.
    pub cpu: Duration,
}

/// Waits for `pid` (a child of ours) with `wait4`; `Ok(None)` if `nohang` and it still runs.
pub fn wait4(pid: u32, nohang: bool) -> io::Result<Option<Exit>> {
    use std::os::unix::process::ExitStatusExt;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 only writes to the two pointers.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let flags = if nohang { libc::WNOHANG } else { 0 };
    loop {
        // SAFETY: valid pointers to locals; pid is a child of this process.
        let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, flags, &mut ru) };
        if r == pid as libc::pid_t {
            let tv = |t: libc::timeval| {
                Duration::from_secs(t.tv_sec.max(0) as u64)
                    + Duration::from_micros(t.tv_usec.max(0) as u64)
            };
            return Ok(Some(Exit {
                status: ExitStatus::from_raw(status),
                // ru_maxrss is in kilobytes on Linux.
                max_rss: (ru.ru_maxrss.max(0) as u64) * 1024,
                cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
            }));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Runs `cmd` to the end with stdout and stderr into files; wall time and peak memory.
/// Panics with the child's stderr if it fails.
pub fn run_measured(cmd: &mut Command, stdout: &Path, stderr: &Path) -> Measured {
    cmd.stdin(Stdio::null())
        .stdout(File::create(stdout).expect("stdout file"))
        .stderr(File::create(stderr).expect("stderr file"));
    let start = Instant::now();
    let child: Child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    // The child is reaped by wait4 below, not by `Child::wait`.
    let Exit {
        status,
        max_rss,
        cpu,
    } = wait4(child.id(), false)
        .expect("wait4")
        .expect("the child exited");
    let wall = start.elapsed();
    drop(child);
    if !status.success() {
        panic!(
            "{cmd:?} failed ({status}):\n{}",
            std::fs::read_to_string(stderr).unwrap_or_default()
        );
    }
    Measured {
        wall,
        max_rss,
        cpu,
        status,
    }
}

/// Median of a non-empty list.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Least-squares slope of y over x.
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return f64::NAN;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), &(x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    num / den
}

/// Writes a session file with `lsrmon simulate` unless it exists (written under a temporary
/// name, then renamed, so an interrupted run leaves nothing that looks finished).
pub fn simulated_file(path: &Path, rate: f64, seconds: f64, args: &[&str]) {
    if path.exists() {
        return;
    }
    std::fs::create_dir_all(path.parent().unwrap()).expect("creating the data directory");
    let tmp = path.with_extension("partial.nwb");
    let _ = std::fs::remove_file(&tmp);
    eprintln!(
        "bench: generating {} ({seconds:.0} s at {rate:.0} Hz{})...",
        path.display(),
        if args.is_empty() {
            String::new()
        } else {
            format!(", {}", args.join(" "))
        }
    );
    let t = Instant::now();
    let out = Command::new(lsrmon_bin())
        .args(["simulate", "--out"])
        .arg(&tmp)
        .args([
            "--rate",
            &rate.to_string(),
            "--duration",
            &seconds.to_string(),
            "--seed",
            "1",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running lsrmon simulate");
    assert!(
        out.status.success(),
        "lsrmon simulate failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, path).expect("renaming the generated file");
    eprintln!("bench: generated in {:.0} s", t.elapsed().as_secs_f64());
}

pub fn file_mb(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(f64::NAN, |m| m.len() as f64 / 1e6)
}

/// True when cargo runs this bench as a test (`cargo test --all-targets` passes no `--bench`):
/// the process-level benches take minutes and gigabytes, so they only say how to run them.
pub fn skipped_under_cargo_test(name: &str) -> bool {
    if std::env::args().any(|a| a == "--bench") {
        return false;
    }
    eprintln!("{name}: a benchmark; run it with `cargo bench --bench {name}` (or `./dev bench`)");
    true
}
