//! Recovery of a file whose recording died in the middle of a commit (a torn table row and
//! uncommitted samples), built deterministically in-process.

mod nwb_common;

use std::process::Stdio;

use lsrmon::model::Branch;
use lsrmon::nwb::{needs_recovery, recover, NwbSource, ReadOptions, SessionWriter};
use lsrmon::source::{Source, SourceEvent};
use ndarray::{Array1, Array2};
use nwb_common::*;

#[test]
fn torn_rows_and_uncommitted_samples_are_trimmed() {
    let path = scratch("torn.nwb");
    let info = info(5_000.0);
    let mut w = SessionWriter::create(&path, &info, &meta(), "{}").unwrap();
    // 10 whole chunks (1024 frames at 5 kHz): with compression only whole chunks commit.
    w.append_frames(&frames(9, 0, 10_240, 4)).unwrap();
    for k in 0..3 {
        w.add_stimulus(&stimulus(k, 1_000.0 + 3_000.0 * k as f64, Branch::Buccal));
    }
    w.set_counters(&[("overruns".into(), 2)]);
    w.commit().unwrap();
    assert_eq!(w.frames_committed(), 10_240);
    drop(w); // the program dies: no finish

    // The crash hit the next commit halfway: samples written past the counter, and a
    // stimulus row in two of the five columns.
    {
        let f = hdf5::File::open_rw(&path).unwrap();
        let d = f.dataset("/acquisition/emg_raw/data").unwrap();
        d.resize((10_740, 4)).unwrap();
        d.write_slice(
            &Array2::<i16>::from_elem((500, 4), 1234),
            (10_240..10_740, ..),
        )
        .unwrap();
        for c in ["start_time", "stop_time"] {
            let col = f.dataset(&format!("/intervals/stimuli/{c}")).unwrap();
            col.resize(4).unwrap();
            col.write_slice(&Array1::from_elem(1, 1.9), 3..4).unwrap();
        }
        f.close().unwrap();
    }
    assert!(needs_recovery(&path));

    // pynwb cannot read it as it is: a torn row is not a valid table.
    let out = command(python())
        .arg(py_script("check_nwb.py"))
        .arg(&path)
        .arg("--quiet")
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains("FAIL"),
        "a torn file should fail the check:\n{text}"
    );

    // We can: up to the last commit.
    let mut src = NwbSource::open(&path, &ReadOptions::default()).unwrap();
    assert!(src.is_unfinished());
    assert_eq!(src.info().total_frames, Some(10_240));
    let (samples, events) = read_all(&mut src, 4_096);
    assert_eq!(samples, frames(9, 0, 10_240, 4));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, SourceEvent::Stimulus { .. }))
            .count(),
        3
    );
    drop(src);
    let e = NwbSource::open(
        &path,
        &ReadOptions {
            require_finished: true,
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("lsrmon recover"), "{e}");

    let rep = recover(&path).unwrap();
    eprintln!("{rep}");
    assert!(rep.was_unfinished);
    assert_eq!((rep.frames_kept, rep.frames_dropped), (10_240, 500));
    assert!(
        rep.tables.contains(&("/intervals/stimuli".into(), 3, 1)),
        "{:?}",
        rep.tables
    );
    assert!(
        rep.removed.contains(&"/intervals/gaps".to_string()),
        "{:?}",
        rep.removed
    );
    assert!(!needs_recovery(&path));
    let again = recover(&path).unwrap();
    assert!(!again.was_unfinished);
    assert!(again.to_string().contains("nothing to recover"));

    let mut src = NwbSource::open(
        &path,
        &ReadOptions {
            require_finished: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(src.recorded_counters(), vec![("overruns".to_string(), 2)]);
    let (after, _) = read_all(&mut src, 10_000);
    assert_eq!(after, samples);
    drop(src);
    check_nwb(&[&path], true);
}

#[test]
fn other_files_need_no_recovery() {
    let ours = scratch("recover_done.nwb");
    write_session(&ours, &info(1_000.0), 1, 0.5, &Default::default());
    assert!(!needs_recovery(&ours));
    assert!(!needs_recovery(scratch("recover_missing.nwb")));
    let e = recover(scratch("recover_missing.nwb")).err().unwrap();
    assert!(e.to_string().contains("recover_missing.nwb"), "{e}");
}
