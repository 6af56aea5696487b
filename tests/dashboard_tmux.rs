//! End to end: the real `lsrmon demo` in a real terminal (tmux), driven by keys.
//!
//! Starts a short, fast case on a private tmux server, adds a surgical marker with a key and
//! one with free text, waits until the dashboard says `LSR ABSENT` with the markers on the
//! trend, quits with the confirmation, and checks that the program exited with 0 and gave the
//! terminal back (alternate screen left, canonical mode and cursor restored).
//!
//! tmux is required: `./dev test` installs it. Without it this test fails (it does not skip).

use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A private tmux server, killed when dropped (also when the test fails).
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("running tmux")
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        let out = self.cmd(&args);
        assert!(out.status.success(), "tmux send-keys {keys:?} failed");
        // Let the program read each key on its own (ESC-prefixed keys must not merge).
        sleep(Duration::from_millis(150));
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-t", "t", "-p"]).stdout).into_owned()
    }

    fn show(&self, format: &str) -> String {
        let out = self.cmd(&["display-message", "-t", "t", "-p", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Polls the screen until `what` holds, or fails with the last screen.
    fn wait_for(&self, label: &str, timeout: Duration, what: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if what(&s) {
                return s;
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {label}; the screen was:\n{s}");
            }
            sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn demo_dashboard_in_tmux() {
    let which = Command::new("which").arg("tmux").output();
    let found = which.as_ref().is_ok_and(|o| o.status.success());
    assert!(
        found,
        "tmux is not installed: this end-to-end test needs it. `./dev test` installs it \
         (or: apt-get install tmux)"
    );
    let bin = env!("CARGO_BIN_EXE_lsrmon");
    let tmux = Tmux {
        socket: format!("lsrmon-e2e-{}", std::process::id()),
    };
    // `env -u CI`: the dashboard falls back to the headless report under CI; here it must not.
    let script = format!(
        "env -u CI '{bin}' demo --scenario abrupt --duration 120 --speed 10; \
         echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon; sleep 60"
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "160",
        "-y",
        "45",
        &script,
    ]);
    assert!(
        out.status.success(),
        "tmux new-session failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The dashboard is up and collecting the baseline.
    tmux.wait_for("the dashboard", Duration::from_secs(20), |s| {
        s.contains("lsrmon") && s.contains("research tool — not a medical device")
    });
    assert_eq!(
        tmux.show("#{alternate_on}"),
        "1",
        "the dashboard uses the alternate screen"
    );

    // A surgical step by its key, then a marker in words.
    tmux.keys(&["6"]);
    tmux.wait_for("the key marker's notice", Duration::from_secs(5), |s| {
        s.contains("marker \"second vessel\" at")
    });
    tmux.keys(&["m"]);
    tmux.wait_for("the marker input", Duration::from_secs(5), |s| {
        s.contains("Enter adds it, Esc cancels")
    });
    tmux.keys(&["-l", "felt ok"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the text marker's notice", Duration::from_secs(5), |s| {
        s.contains("marker \"felt ok\" at")
    });

    // The LSR disappears after the pad (at about 1:02 of the case, 6 s at x10).
    let s = tmux.wait_for("LSR ABSENT", Duration::from_secs(40), |s| {
        s.contains("LSR ABSENT since")
    });
    assert!(
        s.contains("after \"pad placed\")"),
        "the absence is related to the pad:\n{s}"
    );
    for label in ["▏second vessel", "▏felt ok", "▏pad placed"] {
        assert!(s.contains(label), "{label} is not on the trend:\n{s}");
    }

    // Quit asks first while monitoring; `n` stays, `q` `y` quits.
    tmux.keys(&["q"]);
    tmux.wait_for("the quit question", Duration::from_secs(5), |s| {
        s.contains("Quit lsrmon?")
    });
    tmux.keys(&["n"]);
    tmux.wait_for("the dialog to close", Duration::from_secs(5), |s| {
        !s.contains("Quit lsrmon?")
    });
    tmux.keys(&["q"]);
    tmux.wait_for("the quit question", Duration::from_secs(5), |s| {
        s.contains("Quit lsrmon?")
    });
    tmux.keys(&["y"]);
    let s = tmux.wait_for("the exit status", Duration::from_secs(15), |s| {
        s.contains("EXIT=")
    });
    assert!(s.contains("EXIT=0"), "lsrmon did not exit with 0:\n{s}");
    assert!(
        s.contains("quit before the end of the case; 2 marker(s) added"),
        "closing line:\n{s}"
    );
    // The terminal is given back: normal screen, canonical mode (not raw), cursor shown.
    let s = tmux.wait_for("the terminal mode", Duration::from_secs(5), |s| {
        s.lines()
            .any(|l| l.trim() == "icanon" || l.trim() == "-icanon")
    });
    assert!(
        s.lines().any(|l| l.trim() == "icanon"),
        "the terminal was left in raw mode:\n{s}"
    );
    assert_eq!(tmux.show("#{alternate_on}"), "0", "alternate screen left");
    assert_eq!(tmux.show("#{cursor_flag}"), "1", "cursor shown again");
    assert!(
        !s.contains("LSR ABSENT since"),
        "the dashboard is gone:\n{s}"
    );
}

/// The dashboard's `r` key during a simulated case (`demo --report`): the report so far is
/// written to the --report file while the case runs (the footer says where), with the
/// verdicts and the marker just added; quitting writes the whole case's page over it.
#[test]
fn report_so_far_from_the_dashboard_key() {
    let which = Command::new("which").arg("tmux").output();
    assert!(
        which.as_ref().is_ok_and(|o| o.status.success()),
        "tmux is not installed: this end-to-end test needs it. `./dev test` installs it \
         (or: apt-get install tmux)"
    );
    let bin = env!("CARGO_BIN_EXE_lsrmon");
    let work = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard_tmux_report");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let page = work.join("case.html");
    let tmux = Tmux {
        socket: format!("lsrmon-e2e-report-{}", std::process::id()),
    };
    let script = format!(
        "env -u CI '{bin}' demo --scenario abrupt --duration 120 --speed 10 --report '{}'; \
         echo EXIT=$?; sleep 60",
        page.display()
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "160",
        "-y",
        "45",
        &script,
    ]);
    assert!(
        out.status.success(),
        "tmux new-session failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // After the baseline, while the case runs: a marker, then the report so far.
    tmux.wait_for("the baseline", Duration::from_secs(30), |s| {
        s.contains("LSR PRESENT since")
    });
    assert!(!page.exists(), "no page before it is asked for");
    tmux.keys(&["6"]);
    tmux.keys(&["r"]);
    let s = tmux.wait_for("the report-so-far notice", Duration::from_secs(20), |s| {
        s.contains("written to") || s.contains("could NOT")
    });
    assert!(
        s.contains(&format!("written to {}", page.display())),
        "the footer says where the page went:\n{s}"
    );
    assert!(s.contains("report so far ("), "{s}");
    let html = std::fs::read_to_string(&page).expect("the report so far was written");
    assert!(html.contains("<h1>LSR case report so far</h1>"));
    assert!(html.contains("<h2>Verdicts</h2>"));
    assert_eq!(
        html.matches("<p class=\"verdict\">").count(),
        4,
        "two muscles, twice"
    );
    assert!(
        html.contains("marker: second vessel"),
        "the key's marker is on the page"
    );
    assert!(html.ends_with("</html>\n") || html.trim_end().ends_with("</html>"));
    // No temporary file is left next to it.
    let names: Vec<String> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["case.html".to_string()], "{names:?}");

    // Quit (it asks while the case runs): the whole case's page replaces the one so far.
    tmux.keys(&["q"]);
    tmux.wait_for("the quit question", Duration::from_secs(5), |s| {
        s.contains("Quit lsrmon?")
    });
    tmux.keys(&["y"]);
    let s = tmux.wait_for("the exit status", Duration::from_secs(30), |s| {
        s.contains("EXIT=")
    });
    assert!(s.contains("EXIT=0"), "lsrmon did not exit with 0:\n{s}");
    assert!(s.contains("case report written to"), "{s}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<h1>LSR case report</h1>"), "the final page");
    assert!(html.contains("<h2>Verdicts</h2>"));
    assert!(html.contains("marker: second vessel"));
}
