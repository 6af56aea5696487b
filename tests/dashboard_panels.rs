//! The dashboard's panels drawn on ratatui's `TestBackend`: states are built from engine
//! events (as the pipeline sends them), rendered, and the cells are read back.

use lsrmon::dashboard::state::{Action, Command, DashboardState, HealthSnapshot, StateConfig};
use lsrmon::dashboard::view;
use lsrmon::detect::{EngineCounters, EngineEvent};
use lsrmon::model::{
    BaselineInfo, Branch, ChannelInfo, Marker, MonitorState, Muscle, RejectReason, Role,
    SampleFormat, StateEvent, SurgicalStep, SweepResult, SweepStatus, DISPLAY_POINTS,
};
use lsrmon::pipeline::latency::LatencySummary;
use lsrmon::pipeline::Output;
use lsrmon::settings::Settings;
use lsrmon::source::SourceInfo;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;

// ----- building states ---------------------------------------------------------------------

fn ch(label: &str, muscle: Muscle, role: Role) -> ChannelInfo {
    ChannelInfo {
        label: label.into(),
        muscle,
        role,
        volts_per_unit: 0.2e-6,
        offset_volts: 0.0,
        range_units: Some((-32768.0, 32767.0)),
        trigger_branch: (role == Role::Trigger).then_some(Branch::Zygomatic),
    }
}

/// The simulated patient's montage: oculi (direct), oris and mentalis (LSR), trigger.
fn info() -> SourceInfo {
    SourceInfo {
        sample_rate_hz: 10_000.0,
        channels: vec![
            ch("orbicularis_oculi", Muscle::OrbicularisOculi, Role::Emg),
            ch("orbicularis_oris", Muscle::OrbicularisOris, Role::Emg),
            ch("mentalis", Muscle::Mentalis, Role::Emg),
            ch("trigger", Muscle::None, Role::Trigger),
        ],
        sample_format: SampleFormat::I16,
        description: "simulated patient (test)".into(),
        stimulus_events: false,
        total_frames: None,
    }
}

fn trace(amplitude: f32) -> [f32; DISPLAY_POINTS] {
    let mut t = [0.0f32; DISPLAY_POINTS];
    for (i, v) in t.iter_mut().enumerate() {
        let ms = -10.0 + 70.0 * (i as f32 + 0.5) / DISPLAY_POINTS as f32;
        if (9.5..22.0).contains(&ms) {
            *v = amplitude * ((ms - 9.5) * 0.9).sin();
        }
    }
    t
}

fn sweep(channel: usize, t: f64, status: SweepStatus, state: MonitorState) -> SweepResult {
    let present = status == SweepStatus::Present;
    SweepResult {
        stim_index: t as u64,
        stim_time_s: t,
        branch: Branch::Zygomatic,
        channel,
        status,
        reject_reason: None,
        lsr_p2p_uv: if present { 200.0 } else { 8.0 },
        lsr_onset_ms: present.then_some(9.5),
        noise_p2p_uv: 10.0,
        noise_rms_uv: 2.0,
        snr: if present { 5.0 } else { 1.0 },
        template_corr: f32::NAN,
        direct_p2p_uv: 2500.0,
        crosstalk_gain: 0.02,
        tail_removed_uv: 0.0,
        tail_at_window_uv: 0.0,
        evidence: if present { -3.0 } else { 1.0 },
        state,
        percent_of_baseline: match (state, present) {
            (MonitorState::Baseline | MonitorState::NoBaseline, _) => f32::NAN,
            (_, true) => 100.0,
            (_, false) => 4.0,
        },
        trace: trace(if present { 100.0 } else { 3.0 }),
        direct_trace: [0.0; DISPLAY_POINTS],
    }
}

fn rejected(channel: usize, t: f64, reason: RejectReason, state: MonitorState) -> SweepResult {
    let mut r = sweep(channel, t, SweepStatus::Rejected, state);
    r.reject_reason = Some(reason);
    r
}

fn feed(st: &mut DashboardState, e: EngineEvent) {
    st.apply_output(&Output::Engine(e));
}

fn markers() -> Vec<Marker> {
    vec![
        Marker {
            time_s: 3.0,
            label: "dura opened".into(),
        },
        Marker {
            time_s: 12.0,
            label: "pad placed".into(),
        },
    ]
}

fn new_state(cfg: StateConfig) -> DashboardState {
    DashboardState::new(&info(), &Settings::default(), markers(), cfg)
}

/// Baseline (10 present sweeps on both LSR channels) established at t = 10 s.
fn with_baseline(st: &mut DashboardState) {
    for k in 1..=10 {
        let state = if k == 10 {
            MonitorState::Present
        } else {
            MonitorState::Baseline
        };
        for c in [1, 2] {
            feed(
                st,
                EngineEvent::Sweep(sweep(c, k as f64, SweepStatus::Present, state)),
            );
            if k == 10 {
                feed(
                    st,
                    EngineEvent::Baseline(BaselineInfo {
                        channel: c,
                        present: true,
                        p2p_uv: 200.0,
                        onset_ms: 9.5,
                        established_at_s: 10.0,
                        trace: trace(100.0),
                    }),
                );
            }
        }
    }
}

/// Mentalis (channel 2) goes absent after the pad (12 s): absent sweeps 13-17, declared at 17
/// with the run starting at 13; oris stays present.
fn with_absence(st: &mut DashboardState) {
    with_baseline(st);
    for k in 11..=17 {
        let t = k as f64;
        let (status, state) = match k {
            11 | 12 => (SweepStatus::Present, MonitorState::Present),
            17 => (SweepStatus::Absent, MonitorState::Absent),
            _ => (SweepStatus::Absent, MonitorState::Present),
        };
        feed(st, EngineEvent::Sweep(sweep(2, t, status, state)));
        feed(
            st,
            EngineEvent::Sweep(sweep(1, t, SweepStatus::Present, MonitorState::Present)),
        );
    }
    feed(
        st,
        EngineEvent::State(StateEvent {
            channel: 2,
            state: MonitorState::Absent,
            time_s: 13.0,
            declared_at_s: 17.0,
        }),
    );
}

// ----- drawing and reading back ------------------------------------------------------------

fn draw(st: &DashboardState, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| view::render(f, st)).unwrap();
    term.backend().buffer().clone()
}

fn lines(buf: &Buffer) -> Vec<String> {
    let a = buf.area;
    (a.y..a.y + a.height)
        .map(|y| {
            (a.x..a.x + a.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

fn screen(buf: &Buffer) -> String {
    lines(buf).join("\n")
}

/// Row and column of the first occurrence of `needle`.
fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    for (y, l) in lines(buf).iter().enumerate() {
        if let Some(i) = l.find(needle) {
            let col = l[..i].chars().count();
            return Some((y as u16, col as u16));
        }
    }
    None
}

/// Row and column of `needle` at or right of column `x0`.
fn find_right_of(buf: &Buffer, needle: &str, x0: u16) -> Option<(u16, u16)> {
    for (y, l) in lines(buf).iter().enumerate() {
        let tail: String = l.chars().skip(x0 as usize).collect();
        if let Some(i) = tail.find(needle) {
            return Some((y as u16, x0 + tail[..i].chars().count() as u16));
        }
    }
    None
}

fn assert_shows(buf: &Buffer, needle: &str) {
    assert!(
        find(buf, needle).is_some(),
        "expected {needle:?} on screen:\n{}",
        screen(buf)
    );
}

fn bg_at(buf: &Buffer, needle: &str) -> Color {
    let (y, x) = find(buf, needle).unwrap_or_else(|| panic!("{needle:?} not on screen"));
    buf[(x, y)].bg
}

// ----- banners -----------------------------------------------------------------------------

#[test]
fn banner_while_collecting_the_baseline() {
    let mut st = new_state(StateConfig::default());
    for k in 1..=3 {
        feed(
            &mut st,
            EngineEvent::Sweep(sweep(
                2,
                k as f64,
                SweepStatus::Present,
                MonitorState::Baseline,
            )),
        );
    }
    let buf = draw(&st, 120, 40);
    assert_shows(&buf, "BASELINE (3/10)");
    assert_shows(&buf, "BASELINE (0/10)");
    assert_eq!(bg_at(&buf, "BASELINE (3/10)"), Color::Cyan);
}

#[test]
fn banner_present_with_percentage_of_baseline() {
    let mut st = new_state(StateConfig::default());
    with_baseline(&mut st);
    let buf = draw(&st, 120, 40);
    assert_shows(&buf, "LSR PRESENT since 0:00:10.0 · 100% of baseline");
    assert_shows(&buf, "baseline 200 µV, onset 9.5 ms");
    assert_eq!(bg_at(&buf, "LSR PRESENT since"), Color::Yellow);
}

#[test]
fn banner_absent_since_with_marker_context() {
    let mut st = new_state(StateConfig::default());
    with_absence(&mut st);
    let buf = draw(&st, 140, 44);
    assert_shows(
        &buf,
        "LSR ABSENT since 0:00:13.0 (1 s after \"pad placed\") · 4% of baseline · declared 0:00:17.0",
    );
    assert_eq!(bg_at(&buf, "LSR ABSENT since"), Color::Green);
    // The other channel is still present.
    assert_shows(&buf, "LSR PRESENT since 0:00:10.0");
    // Tall enough: the state word in big letters (first row of "LSR ABSENT").
    let big = lsrmon::dashboard::panels::bigtext::lines("LSR ABSENT");
    assert_shows(&buf, &big[0]);
}

#[test]
fn banner_no_lsr_at_baseline() {
    let mut st = new_state(StateConfig::default());
    for k in 1..=10 {
        let state = if k == 10 {
            MonitorState::NoBaseline
        } else {
            MonitorState::Baseline
        };
        feed(
            &mut st,
            EngineEvent::Sweep(sweep(1, k as f64, SweepStatus::Absent, state)),
        );
        feed(
            &mut st,
            EngineEvent::Sweep(sweep(2, k as f64, SweepStatus::Absent, state)),
        );
    }
    feed(
        &mut st,
        EngineEvent::Baseline(BaselineInfo {
            channel: 1,
            present: false,
            p2p_uv: f32::NAN,
            onset_ms: f32::NAN,
            established_at_s: 10.0,
            trace: trace(0.0),
        }),
    );
    let buf = draw(&st, 120, 40);
    assert_shows(
        &buf,
        "NO LSR AT BASELINE · nothing can disappear on this channel",
    );
    assert_eq!(bg_at(&buf, "NO LSR AT BASELINE"), Color::Blue);
    assert_shows(&buf, "no LSR in the baseline sweeps");
}

#[test]
fn banner_cannot_judge_names_the_reason() {
    for (reason, words) in [
        (RejectReason::Electrocautery, "CANNOT JUDGE: electrocautery"),
        (
            RejectReason::NoDirectResponse,
            "CANNOT JUDGE: no direct response",
        ),
        (RejectReason::LostSamples, "CANNOT JUDGE: signal lost"),
    ] {
        let mut st = new_state(StateConfig::default());
        with_baseline(&mut st);
        for t in [11.0, 12.0] {
            feed(
                &mut st,
                EngineEvent::Sweep(rejected(2, t, reason, MonitorState::Present)),
            );
            feed(
                &mut st,
                EngineEvent::Sweep(sweep(1, t, SweepStatus::Present, MonitorState::Present)),
            );
        }
        let buf = draw(&st, 140, 44);
        assert_shows(
            &buf,
            &format!("{words} · last 2 sweeps rejected · before: LSR present, 100% of baseline"),
        );
        assert_eq!(bg_at(&buf, words), Color::Magenta);
        assert_shows(&buf, "LSR PRESENT since 0:00:10.0");
    }
}

#[test]
fn banner_says_when_the_stimuli_stop_and_when_the_source_fails() {
    let mut st = new_state(StateConfig::default());
    with_baseline(&mut st);
    st.apply_health(HealthSnapshot {
        frames_in: 170_000,
        frames_processed: 170_000,
        ..Default::default()
    });
    let buf = draw(&st, 120, 40);
    assert_shows(
        &buf,
        "CANNOT JUDGE: no stimuli for 7 s · check the stimulator",
    );
    st.apply_output(&Output::SourceFailed("serial port closed".into()));
    let buf = draw(&st, 120, 40);
    assert_shows(&buf, "CANNOT JUDGE: signal lost (source failed)");
    assert_shows(&buf, "SOURCE FAILED: serial port closed");
}

// ----- sweep chart, direct response, cascade -------------------------------------------------

#[test]
fn sweep_chart_legend_and_marks() {
    let mut st = new_state(StateConfig::default());
    with_baseline(&mut st);
    let buf = draw(&st, 200, 60);
    assert_shows(&buf, "LSR window 6–40 ms");
    assert_shows(&buf, "baseline average");
    assert_shows(&buf, "sweep: present");
    assert_shows(&buf, "onset 9.5 ms");
    assert_shows(&buf, "50 µV/div");
    assert_shows(&buf, "200 µV");
    assert_shows(&buf, "60 ms");
    // The baseline average is drawn in its colour, the sweep in the present colour.
    let cells: Vec<Color> = buf.content().iter().map(|c| c.fg).collect();
    assert!(cells.contains(&Color::Cyan));
    assert!(cells.contains(&Color::LightRed), "onset line");
    // Both LSR channels' charts side by side at this width, each titled.
    assert_shows(&buf, "▶ orbicularis_oris 0:00:10.0 present");
    assert_shows(&buf, " mentalis 0:00:10.0 present");
    // The direct response.
    assert_shows(&buf, "direct response");
    assert_shows(&buf, "2.50 mV");
    assert_shows(&buf, "present (min 100 µV)");
}

#[test]
fn sweep_chart_scale_follows_the_sensitivity_keys() {
    let mut st = new_state(StateConfig::default());
    with_baseline(&mut st);
    st.apply_action(Action::Enlarge);
    let buf = draw(&st, 200, 60);
    assert_shows(&buf, "20 µV/div");
    assert_shows(&buf, "80 µV");
    st.apply_action(Action::Shrink);
    st.apply_action(Action::Shrink);
    let buf = draw(&st, 200, 60);
    assert_shows(&buf, "100 µV/div");
    assert_shows(&buf, "400 µV");
}

#[test]
fn sweep_chart_without_room_for_a_legend_keys_in_words() {
    let mut st = new_state(StateConfig::default());
    with_baseline(&mut st);
    let buf = draw(&st, 80, 24);
    assert_shows(&buf, "50µV/div, window 6–40, baseline, onset 9.5");
    assert_shows(&buf, "direct (orbicularis_oculi): 2.50 mV present");
}

#[test]
fn missing_direct_response_is_said() {
    let mut st = new_state(StateConfig::default());
    with_baseline(&mut st);
    let mut r = rejected(
        2,
        11.0,
        RejectReason::NoDirectResponse,
        MonitorState::Present,
    );
    r.direct_p2p_uv = 40.0;
    feed(&mut st, EngineEvent::Sweep(r));
    st.apply_action(Action::NextChannel);
    let buf = draw(&st, 200, 60);
    assert_shows(&buf, "40 µV");
    assert_shows(&buf, "MISSING (min 100 µV)");
}

#[test]
fn cascade_rows_newest_on_top_with_times_and_words() {
    let mut st = new_state(StateConfig::default());
    with_absence(&mut st);
    st.apply_action(Action::NextChannel); // mentalis
    let buf = draw(&st, 160, 50);
    assert_shows(&buf, "cascade · mentalis · newest on top");
    assert_shows(&buf, "0:00:13.0 absent");
    let (_, title_x) = find(&buf, "cascade · ").unwrap();
    let x0 = title_x - 2;
    let newest = find_right_of(&buf, "0:00:17.0 absent", x0).expect("newest sweep row");
    let older = find_right_of(&buf, "0:00:13.0 absent", x0).expect("older sweep row");
    let present = find_right_of(&buf, "0:00:12.0 present", x0).expect("present sweep row");
    assert!(newest.0 < older.0 && older.0 < present.0);
    assert_eq!(newest.1, older.1);
}

#[test]
fn cascade_when_narrow_uses_a_letter_and_a_key() {
    let mut st = new_state(StateConfig::default());
    with_absence(&mut st);
    st.apply_action(Action::NextChannel);
    let buf = draw(&st, 80, 24);
    assert_shows(&buf, "0:00:17.0a");
    assert_shows(&buf, "p=present a=absent");
}

#[test]
fn freeze_holds_the_waveforms_and_says_so() {
    let mut st = new_state(StateConfig::default());
    with_baseline(&mut st);
    st.apply_action(Action::ToggleFreeze);
    with_absence_after_freeze(&mut st);
    let buf = draw(&st, 160, 50);
    assert_shows(&buf, "FROZEN  mentalis 0:00:10.0");
    assert_shows(&buf, "WAVEFORMS FROZEN");
    assert_shows(
        &buf,
        "waveforms frozen at 0:00:10.0 (verdicts, trend and acquisition carry on)",
    );
    // The chart still shows the frozen sweep, the banner the live verdict.
    assert_shows(&buf, "LSR ABSENT since 0:00:13.0");
    st.apply_action(Action::ToggleFreeze);
    let buf = draw(&st, 160, 50);
    assert_shows(&buf, "mentalis 0:00:17.0 absent");
    assert!(find(&buf, "FROZEN").is_none());
}

fn with_absence_after_freeze(st: &mut DashboardState) {
    for k in 11..=17 {
        let t = k as f64;
        let state = if k == 17 {
            MonitorState::Absent
        } else {
            MonitorState::Present
        };
        feed(
            st,
            EngineEvent::Sweep(sweep(2, t, SweepStatus::Absent, state)),
        );
        feed(
            st,
            EngineEvent::Sweep(sweep(1, t, SweepStatus::Present, MonitorState::Present)),
        );
    }
    feed(
        st,
        EngineEvent::State(StateEvent {
            channel: 2,
            state: MonitorState::Absent,
            time_s: 13.0,
            declared_at_s: 17.0,
        }),
    );
}

// ----- trend -------------------------------------------------------------------------------

#[test]
fn trend_shows_marker_labels_and_the_state_band() {
    let mut st = new_state(StateConfig::default());
    with_absence(&mut st);
    st.apply_action(Action::NextChannel);
    st.apply_action(Action::Marker(SurgicalStep::SecondVessel));
    let buf = draw(&st, 160, 50);
    assert_shows(&buf, "trend · mentalis");
    assert_shows(&buf, "▏dura opened");
    assert_shows(&buf, "▏pad placed");
    assert_shows(&buf, "▏second vessel");
    // The band: present before the absence, absent after, baseline at the start.
    let (row, _) = find(&buf, "  state").expect("band row");
    let band = &lines(&buf)[row as usize];
    let first_present = band.find('▆').expect("present glyph");
    let first_absent = band.find('▁').expect("absent glyph");
    let first_baseline = band.find('·').expect("baseline glyph");
    assert!(first_baseline < first_present && first_present < first_absent);
    assert_shows(&buf, "▆ present  ▁ absent  × cannot judge");
    // The direct response beneath.
    assert_shows(&buf, " direct");
}

#[test]
fn crowded_marker_labels_keep_the_latest() {
    let mut st = new_state(StateConfig::default());
    with_baseline(&mut st);
    for (i, step) in SurgicalStep::ALL.iter().enumerate() {
        st.apply_health(HealthSnapshot {
            frames_in: 100_000 + i as u64 * 1000,
            frames_processed: 100_000,
            ..Default::default()
        });
        st.apply_action(Action::Marker(*step));
    }
    let buf = draw(&st, 80, 24);
    assert_shows(&buf, "▏dura closed");
}

// ----- health, title, footer, dialogs --------------------------------------------------------

#[test]
fn health_line_reports_the_pipeline() {
    let cfg = StateConfig {
        title: "demo x10".into(),
        ring_frames: 1000,
        recording: Some("case-07.nwb".into()),
        report: None,
    };
    let mut st = new_state(cfg);
    with_baseline(&mut st);
    feed(&mut st, EngineEvent::Mains(Some(50.0)));
    st.apply_health(HealthSnapshot {
        frames_in: 101_000,
        frames_dropped: 0,
        frames_processed: 100_500,
        outputs_dropped: 3,
        ring_fill: 500,
        source_done: false,
        recording: Some(lsrmon::dashboard::RecordingSnapshot {
            bytes: Some(12_300_000),
            elapsed_s: 151.0,
            failed: false,
        }),
        ..Default::default()
    });
    let buf = draw(&st, 160, 50);
    assert_shows(&buf, "10.0 kHz");
    assert_shows(&buf, "mains 50 Hz removed");
    assert_shows(&buf, "ring 50%");
    assert_shows(&buf, "lost 0 frames, 0 sweeps");
    assert_shows(&buf, "3 results not shown");
    assert_eq!(bg_at(&buf, "3 results not shown"), Color::Red);
    assert_shows(&buf, "latency: no verdict yet");
    // Once verdicts are timed, both figures are shown; slow processing is a warning.
    let lat = |p50_us: u64, p99_us: u64, max_us: u64| LatencySummary {
        count: 40,
        p50_ns: p50_us * 1000,
        p99_ns: p99_us * 1000,
        max_ns: max_us * 1000,
    };
    let mut h = st.health.clone();
    h.decision = lat(41_020, 41_880, 42_500);
    h.processing = lat(300, 620, 900);
    st.apply_health(h.clone());
    let buf = draw(&st, 160, 50);
    assert_shows(
        &buf,
        "verdict 41.0 ms after window, p99 41.9 · processing p99 0.62 ms",
    );
    assert_shows(&buf, "processing p99 0.62 ms");
    assert_ne!(bg_at(&buf, "processing p99"), Color::Red);
    h.processing = lat(30_000, 75_000, 90_000);
    st.apply_health(h);
    let buf = draw(&st, 160, 50);
    assert_eq!(bg_at(&buf, "processing p99 75.00 ms"), Color::Red);
    assert_shows(&buf, "REC case-07.nwb 12.3 MB 0:02:31");
    assert_shows(&buf, "research tool — not a medical device");
    assert_shows(&buf, "demo x10");
    assert_shows(&buf, "case 0:00:10.1");
}

#[test]
fn health_line_without_recording_and_after_the_end() {
    let mut st = new_state(StateConfig::default());
    with_baseline(&mut st);
    st.apply_output(&Output::End(EngineCounters {
        frames: 200_000,
        gaps: 2,
        ..Default::default()
    }));
    let buf = draw(&st, 120, 40);
    assert_shows(
        &buf,
        "stream ended · research tool — not a medical device · not recording",
    );
    assert_shows(&buf, "the stream has ended: q quits");
    assert_shows(&buf, "· stream ended");
}

#[test]
fn help_overlay_lists_every_key() {
    let mut st = new_state(StateConfig::default());
    with_baseline(&mut st);
    st.apply_action(Action::ToggleHelp);
    let buf = draw(&st, 100, 40);
    for s in [
        " keys ",
        "1  marker: baseline",
        "5  marker: pad placed",
        "7  marker: dura closed",
        "m  marker with your own words",
        "b  re-baseline every channel (asks first)",
        "f  freeze / unfreeze the waveforms",
        "+ / -  larger / smaller sweeps",
        "Tab  next channel",
        "r  write the case report so far",
        "q  quit",
    ] {
        assert_shows(&buf, s);
    }
    st.apply_action(Action::Cancel);
    let buf = draw(&st, 100, 40);
    assert!(find(&buf, "marker: dura closed").is_none());
}

#[test]
fn dialogs_for_marker_text_rebaseline_and_quit() {
    let mut st = new_state(StateConfig::default());
    with_baseline(&mut st);
    st.apply_action(Action::OpenMarkerInput);
    for c in "felt moved".chars() {
        st.apply_action(Action::TypeChar(c));
    }
    let buf = draw(&st, 100, 30);
    assert_shows(&buf, "> felt moved");
    assert_shows(&buf, "Enter adds it, Esc cancels");
    st.apply_action(Action::Submit);
    let buf = draw(&st, 100, 30);
    assert_shows(&buf, "marker \"felt moved\" at 0:00:10.0");

    st.apply_action(Action::AskRebaseline);
    let buf = draw(&st, 100, 30);
    assert_shows(&buf, "Re-baseline every channel?");
    assert_shows(&buf, "y = yes, n or Esc = no");
    st.apply_action(Action::Confirm);
    let buf = draw(&st, 100, 30);
    assert_shows(&buf, "BASELINE (0/10) · re-baseline asked for");

    st.apply_action(Action::AskQuit);
    let buf = draw(&st, 100, 30);
    assert_shows(&buf, "Quit lsrmon?");
    assert_shows(&buf, "y = quit, n or Esc = stay");
}

#[test]
fn report_key_is_in_the_footer_and_says_where_the_page_goes_or_how_to_get_one() {
    // Without --report: the footer says how to get a report.
    let mut st = new_state(StateConfig::default());
    with_baseline(&mut st);
    let buf = draw(&st, 160, 45);
    assert_shows(&buf, "Tab channel · r report · ? help");
    assert_eq!(st.apply_action(Action::ReportSoFar), None);
    let buf = draw(&st, 160, 45);
    assert_shows(&buf, "no report file: start with --report CASE.html");
    // With it: the footer says the page is being written and where (the run loop then
    // replaces the notice with the outcome).
    let mut st = new_state(StateConfig {
        report: Some("case-07.html".into()),
        ..StateConfig::default()
    });
    with_baseline(&mut st);
    match st.apply_action(Action::ReportSoFar) {
        Some(Command::WriteReport { at_s }) => assert_eq!(at_s, st.stream_time_s),
        c => panic!("{c:?}"),
    }
    let buf = draw(&st, 160, 45);
    assert_shows(
        &buf,
        "writing the report so far (0:00:10.0) to case-07.html",
    );
    st.notice("report so far (0:00:10.0) written to case-07.html in 0.3 s");
    let buf = draw(&st, 160, 45);
    assert_shows(
        &buf,
        "report so far (0:00:10.0) written to case-07.html in 0.3 s",
    );
}

// ----- sizes -------------------------------------------------------------------------------

#[test]
fn at_80x24_every_banner_and_the_note_are_shown() {
    let mut st = new_state(StateConfig::default());
    with_absence(&mut st);
    let buf = draw(&st, 80, 24);
    assert_shows(&buf, "orbicularis_oris: LSR PRESENT since 0:00:10.0");
    assert_shows(
        &buf,
        "mentalis: LSR ABSENT since 0:00:13.0 (1 s after \"pad placed\")",
    );
    assert_shows(&buf, "research tool — not a medical device");
    assert_shows(&buf, "trend · orbicularis_oris");
    assert_shows(&buf, "cascade");
}

#[test]
fn any_size_draws_without_panic() {
    let mut states = Vec::new();
    let mut empty = new_state(StateConfig::default());
    states.push(empty.clone());
    with_absence(&mut empty);
    states.push(empty.clone());
    empty.apply_action(Action::ToggleHelp);
    states.push(empty.clone());
    empty.apply_action(Action::Cancel);
    empty.apply_action(Action::OpenMarkerInput);
    states.push(empty);
    for st in &states {
        for w in [1u16, 2, 5, 10, 20, 33, 40, 60, 79, 80, 81, 100, 130, 250] {
            for h in [1u16, 2, 3, 4, 6, 8, 10, 12, 15, 16, 20, 24, 30, 40, 45, 70] {
                let buf = draw(st, w, h);
                if w >= 80 && h >= 24 && st.mode == lsrmon::dashboard::Mode::Normal {
                    assert_shows(&buf, "orbicularis_oris");
                    assert_shows(&buf, "mentalis");
                }
            }
        }
    }
}
