//! `lsrmon export SESSION.nwb --edf OUT.edf` (EDF+C, 16-bit) or `--bdf OUT.bdf` (BDF+C,
//! 24-bit), optionally with BIDS-EMG sidecars (`--bids DIR`).
//!
//! Two passes over the session: the first finds each channel's range (and runs the same
//! analysis as `analyze`, for the state changes), the second writes the records. What is
//! written (see `docs/edf.md`):
//! - every channel with its label; muscle, role and quantisation step in the transducer
//!   field (`EMG electrode; muscle=mentalis; role=emg; step=0.1 uV`);
//! - scaling: integer sessions whose device range fits the format keep their rails as the
//!   digital range (lossless, the device's own step); others map the data onto the middle
//!   half of the digital range (so no sample clips or reads as saturated);
//! - an annotation signal: every stimulus (`stimulus BRANCH [I mA]`, duration = pulse width),
//!   every marker (its label) and every state change (`LSR CHANNEL: STATE (declared at T s)`,
//!   from the analysis), with the sub-second start time in each record's time-keeping TAL;
//! - records of a duration that holds a whole number of samples (at most 61 440 bytes where
//!   possible, as the EDF+ specification recommends);
//! - an anonymised header: patient `SUBJECT_ID X X X`, recording `Startdate dd-MMM-yyyy X X X`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::analysis::Analysis;
use crate::edf::header::{number8_rounded, Continuity, Header, SignalHeader};
use crate::edf::tal::{encode, time_keeping, Annotation};
use crate::edf::time::{format_ticks, ticks_from_s, TICKS_PER_S};
use crate::edf::EdfWriter;
use crate::model::{ChannelInfo, Role, SampleFormat};
use crate::nwb::ReadOptions;
use crate::source::{Source, SourceEvent};

use super::analyze::{analyse_file, open, Input};
use super::args::GlobalArgs;
use super::error::CliError;

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// The session file (NWB).
    pub file: PathBuf,
    /// Write EDF+C (16-bit samples).
    #[arg(
        long,
        value_name = "OUT.edf",
        conflicts_with = "bdf",
        required_unless_present = "bdf"
    )]
    pub edf: Option<PathBuf>,
    /// Write BDF+C (24-bit samples).
    #[arg(long, value_name = "OUT.bdf")]
    pub bdf: Option<PathBuf>,
    /// Also write the BIDS-EMG sidecars (_emg.json, _channels.tsv, _events.tsv) into DIR.
    #[arg(long, value_name = "DIR")]
    pub bids: Option<PathBuf>,
}

/// The recommended largest data record (EDF+ specification).
const RECORD_BYTES: usize = 61_440;

/// How one channel's samples become digital values.
struct Scale {
    gain: f64,
    pmin: f64,
    dmin: i32,
    /// Microvolts (or the channel's units, x 1e6) per physical unit written.
    per_unit: f64,
}

pub fn run(g: &GlobalArgs, a: &ExportArgs) -> Result<(), CliError> {
    let (out, bdf) = match (&a.edf, &a.bdf) {
        (Some(p), None) => (p.clone(), false),
        (None, Some(p)) => (p.clone(), true),
        _ => {
            return Err(CliError::bad_input(
                "give one of --edf OUT.edf or --bdf OUT.bdf",
            ))
        }
    };
    let opts = ReadOptions {
        require_finished: true,
        ..ReadOptions::default()
    };
    let path = &a.file;
    let fail = |m: String| CliError::bad_input(format!("{}: {m}", path.display()));
    let (start, subject) = session_meta(path);
    let analysis = analyse_file(g, path, &opts, None, None)?;

    // Pass 1: ranges, stimuli, gaps.
    let mut src = open(path, &opts)?;
    if !matches!(src, Input::Nwb(_)) {
        return Err(fail("export reads session files (NWB)".into()));
    }
    let info = src.info().clone();
    let c = info.channel_count();
    let rate = info.sample_rate_hz;
    let markers = src.markers();
    let t0 = src.starting_time_s();
    let mut lo = vec![f64::INFINITY; c];
    let mut hi = vec![f64::NEG_INFINITY; c];
    let mut stimuli = Vec::new();
    let mut gaps = 0u64;
    let mut frames = 0u64;
    let mut buf = vec![0f32; 4096 * c];
    let mut ev = Vec::new();
    loop {
        ev.clear();
        let n = src
            .read(&mut buf, &mut ev)
            .map_err(|e| fail(e.to_string()))?;
        for e in &ev {
            match *e {
                SourceEvent::Gap { .. } => gaps += 1,
                s @ SourceEvent::Stimulus { .. } => stimuli.push(s),
            }
        }
        if n == 0 {
            break;
        }
        for f in buf[..n * c].chunks_exact(c) {
            for (j, &v) in f.iter().enumerate() {
                lo[j] = lo[j].min(v as f64);
                hi[j] = hi[j].max(v as f64);
            }
        }
        frames += n as u64;
    }
    drop(src);
    if gaps > 0 {
        return Err(fail(format!(
            "the session has {gaps} gaps (lost samples); export writes continuous EDF+C/BDF+C only"
        )));
    }
    if frames == 0 {
        return Err(fail("the session has no samples".into()));
    }

    // Record duration, scaling, header.
    let bps = if bdf { 3 } else { 2 };
    let (record_ticks, spr) = record_duration(rate, c * bps).ok_or_else(|| {
        fail(format!(
            "no record duration holds a whole number of samples at {rate} Hz"
        ))
    })?;
    let records = frames.div_ceil(spr as u64);
    let padding = (records * spr as u64 - frames) as usize;
    let (dlo, dhi) = if bdf {
        (-8_388_608i64, 8_388_607i64)
    } else {
        (-32_768, 32_767)
    };
    let mut signals = Vec::new();
    let mut scales = Vec::new();
    for (j, ch) in info.channels.iter().enumerate() {
        let (s, sig) = scale(ch, info.sample_format, lo[j], hi[j], dlo, dhi)
            .map_err(|m| fail(format!("channel '{}': {m}", ch.label)))?;
        let mut sig = sig;
        sig.samples_per_record = spr;
        signals.push(sig);
        scales.push(s);
    }
    let (start_ticks, start_date, start_time, recording) = start_fields(&start, t0);
    let frac = start_ticks.rem_euclid(TICKS_PER_S);

    // Annotations, in onset order, each in the record its onset falls in.
    let at = |stream_s: f64| frac + ticks_from_s(stream_s);
    let mut notes: Vec<Annotation> = Vec::new();
    let stim_source = if stimuli.is_empty() {
        stimuli_from_analysis(&analysis, t0, rate)
    } else {
        stimuli
    };
    for s in &stim_source {
        if let SourceEvent::Stimulus {
            frame_time,
            branch,
            intensity_ma,
            pulse_width_s,
        } = *s
        {
            let ma = if intensity_ma.is_finite() {
                format!(" {intensity_ma} mA")
            } else {
                String::new()
            };
            notes.push(Annotation {
                onset: at(frame_time / rate),
                duration: (pulse_width_s.is_finite() && pulse_width_s > 0.0)
                    .then(|| ticks_from_s(pulse_width_s as f64)),
                text: format!("stimulus {}{ma}", branch.name()),
            });
        }
    }
    for m in &markers {
        // Markers are on the stream's time (from the first sample), as sources give them.
        notes.push(Annotation {
            onset: at(m.time_s),
            duration: None,
            text: m.label.clone(),
        });
    }
    for ch in &analysis.channels {
        for e in &ch.events {
            notes.push(Annotation {
                onset: at(e.time_s - t0),
                duration: None,
                text: format!(
                    "{}{}: {} (declared at {} s)",
                    crate::edf::STATE_PREFIX,
                    ch.channel,
                    e.state,
                    e.declared_at_s
                ),
            });
        }
    }
    if padding > 0 {
        notes.push(Annotation {
            onset: at(frames as f64 / rate),
            duration: Some(ticks_from_s(padding as f64 / rate)),
            text: format!("end of recording: the last {padding} samples repeat the last value"),
        });
    }
    notes.sort_by_key(|n| n.onset);
    let record_of =
        |onset: i64| ((onset - frac).max(0) / record_ticks).min(records as i64 - 1) as u64;
    let mut most = 0usize;
    let mut i = 0;
    while i < notes.len() {
        let r = record_of(notes[i].onset);
        let mut bytes = time_keeping(frac + r as i64 * record_ticks).len();
        while i < notes.len() && record_of(notes[i].onset) == r {
            bytes += encode(&notes[i]).len();
            i += 1;
        }
        most = most.max(bytes);
    }
    most = most.max(time_keeping(frac + (records as i64 - 1) * record_ticks).len());
    let annot_spr = (most + 1).div_ceil(bps).max(1);
    signals.push(SignalHeader {
        label: if bdf {
            "BDF Annotations"
        } else {
            "EDF Annotations"
        }
        .into(),
        transducer: String::new(),
        physical_dimension: String::new(),
        physical_min: -1.0,
        physical_max: 1.0,
        digital_min: dlo as i32,
        digital_max: dhi as i32,
        prefilter: String::new(),
        samples_per_record: annot_spr,
        annotation: true,
    });
    let header = Header {
        bdf,
        continuity: Continuity::Contiguous,
        patient: format!("{subject} X X X"),
        recording,
        start_date,
        start_time,
        records,
        record_ticks,
        signals,
    };

    // Pass 2: the records.
    let mut w = EdfWriter::create(&out, header).map_err(|e| CliError::bad_input(e.to_string()))?;
    let mut src = open(path, &opts)?;
    let mut block = vec![0f32; spr * c];
    let mut digital: Vec<Vec<i32>> = vec![vec![0; spr]; c];
    let mut tals = Vec::new();
    let mut next_note = 0;
    for r in 0..records {
        let mut got = 0;
        while got < spr {
            ev.clear();
            let n = src
                .read(&mut block[got * c..], &mut ev)
                .map_err(|e| fail(e.to_string()))?;
            if n == 0 {
                break;
            }
            got += n;
        }
        for (j, (d, s)) in digital.iter_mut().zip(&scales).enumerate() {
            for (k, v) in d.iter_mut().enumerate() {
                // Past the end of the session: the last sample again (annotated as padding).
                let from = k.min(got.saturating_sub(1));
                let phys = physical(&info.channels[j], block[from * c + j]) / s.per_unit;
                *v = ((phys - s.pmin) / s.gain).round() as i32 + s.dmin;
            }
        }
        tals.clear();
        tals.extend(time_keeping(frac + r as i64 * record_ticks));
        while next_note < notes.len() && record_of(notes[next_note].onset) == r {
            tals.extend(encode(&notes[next_note]));
            next_note += 1;
        }
        let refs: Vec<&[i32]> = digital.iter().map(|d| d.as_slice()).collect();
        w.write_record(&refs, &tals)
            .map_err(|e| CliError::bad_input(e.to_string()))?;
    }
    let header = w.header().clone();
    w.finish().map_err(|e| CliError::bad_input(e.to_string()))?;
    eprintln!(
        "lsrmon: wrote {} ({}+C, {} records of {} s, {} Hz, {} annotations: {} stimuli, {} markers, {} state changes{})",
        out.display(),
        if bdf { "BDF" } else { "EDF" },
        records,
        format_ticks(record_ticks),
        rate,
        notes.len(),
        stim_source.len(),
        markers.len(),
        analysis.channels.iter().map(|c| c.events.len()).sum::<usize>(),
        if padding > 0 { format!(", {padding} padding samples at the end") } else { String::new() }
    );
    for (s, h) in header.signals.iter().zip(&scales) {
        eprintln!(
            "lsrmon:   {:<16} {} to {} {} (digital {} to {}), quantisation step {} {}",
            s.label,
            s.physical_min,
            s.physical_max,
            s.physical_dimension,
            s.digital_min,
            s.digital_max,
            h.gain,
            s.physical_dimension
        );
    }
    if let Some(dir) = &a.bids {
        super::export_bids::write(
            dir,
            &out,
            &header,
            &info,
            &notes,
            frac,
            frames,
            analysis.source.mains_hz,
        )
        .map_err(|e| CliError::bad_input(format!("{}: {e}", dir.display())))?;
    }
    Ok(())
}

/// The longest record duration (of a fixed list, 10 s down to 0.01 s) that holds a whole
/// number of samples in at most 61 440 bytes; if none is that small, the shortest that holds
/// whole samples; rates that fit no duration up to 1 s get 2, 5 or 10 s.
fn record_duration(rate: f64, bytes_per_frame: usize) -> Option<(i64, usize)> {
    const CANDIDATES: [i64; 14] = [
        10_000_000,
        5_000_000,
        4_000_000,
        2_500_000,
        2_000_000,
        1_000_000,
        500_000,
        400_000,
        250_000,
        200_000,
        100_000,
        20_000_000,
        50_000_000,
        100_000_000,
    ];
    let fits = |t: i64| {
        let spr = rate * t as f64 / TICKS_PER_S as f64;
        let r = spr.round();
        (r >= 1.0 && (spr - r).abs() < 1e-6 * r.max(1.0)).then_some(r as usize)
    };
    let whole: Vec<(i64, usize)> = CANDIDATES
        .iter()
        .filter_map(|&t| fits(t).map(|s| (t, s)))
        .collect();
    whole
        .iter()
        .copied()
        .find(|&(_, s)| s * bytes_per_frame <= RECORD_BYTES)
        .or_else(|| whole.iter().copied().rfind(|&(t, _)| t <= TICKS_PER_S))
        .or_else(|| whole.first().copied())
}

/// A sample in microvolts (volts x 1e6; for non-voltage channels, their unit x 1e6).
fn physical(ch: &ChannelInfo, v: f32) -> f64 {
    (v as f64 * ch.volts_per_unit + ch.offset_volts) * 1e6
}

/// The digital and physical ranges of one channel.
fn scale(
    ch: &ChannelInfo,
    format: SampleFormat,
    lo: f64,
    hi: f64,
    dlo: i64,
    dhi: i64,
) -> Result<(Scale, SignalHeader), String> {
    let label_ok = !ch.label.is_empty()
        && ch.label.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && !ch.label.contains(';')
        && !ch.label.ends_with(" Annotations");
    if !label_ok {
        return Err("an EDF label is printable ASCII without ';'".into());
    }
    // Labels are 16 characters: a longer one is cut there, and kept whole in the transducer.
    let short: String = ch.label.chars().take(16).collect();
    let full = if short.len() < ch.label.len() {
        format!("; label={}", ch.label)
    } else {
        String::new()
    };
    if !(lo.is_finite() && hi.is_finite()) {
        return Err("no finite samples".into());
    }
    let integer = matches!(
        format,
        SampleFormat::I16 | SampleFormat::U16 | SampleFormat::I32
    );
    let rails = ch
        .range_units
        .filter(|&(a, b)| integer && b > a && b - a <= (dhi - dlo) as f64 && lo >= a && hi <= b);
    let (dmin, dmax, p_lo, p_hi) = match rails {
        Some((a, b)) => {
            // Lossless: the device's rails become the digital range (shifted to fit).
            let shift = if a >= dlo as f64 && b <= dhi as f64 {
                0.0
            } else {
                a - dlo as f64
            };
            let (pa, pb) = (physical(ch, a as f32), physical(ch, b as f32));
            (
                (a - shift) as i64,
                (b - shift) as i64,
                pa.min(pb),
                pa.max(pb),
            )
        }
        None => {
            // The data on the middle half of the range: nothing clips or reads as saturated.
            let (pa, pb) = (physical(ch, lo as f32), physical(ch, hi as f32));
            let (a, b) = (pa.min(pb), pa.max(pb));
            let (mid, half) = ((a + b) / 2.0, ((b - a) / 2.0).max(1.0));
            (dlo, dhi, mid - 2.0 * half, mid + 2.0 * half)
        }
    };
    let (dim, per_unit) = [("uV", 1.0), ("mV", 1e3), ("V", 1e6)]
        .into_iter()
        .find(|&(_, u)| p_lo.abs().max(p_hi.abs()) / u < 9_999_999.0)
        .ok_or("the range is too large for an 8-character header field")?;
    let pmin = number8_rounded(p_lo / per_unit, false).ok_or("physical minimum")?;
    let pmax = number8_rounded(p_hi / per_unit, true).ok_or("physical maximum")?;
    let gain = (pmax - pmin) / (dmax - dmin) as f64;
    let kind = match ch.role {
        Role::Emg => "EMG electrode; ",
        Role::Trigger => "stimulator sync; ",
        Role::Other => "",
    };
    let branch = ch
        .trigger_branch
        .map_or(String::new(), |b| format!("; branch={}", b.name()));
    let fields = format!(
        "muscle={}; role={}{branch}; step={gain:.5e} {dim}{full}",
        ch.muscle.name(),
        ch.role.name()
    );
    let transducer = if kind.len() + fields.len() <= 80 {
        format!("{kind}{fields}")
    } else {
        fields
    };
    if transducer.len() > 80 {
        return Err("the label is too long to keep in the transducer field".into());
    }
    Ok((
        Scale {
            gain,
            pmin,
            dmin: dmin as i32,
            per_unit,
        },
        SignalHeader {
            label: short,
            transducer,
            physical_dimension: dim.into(),
            physical_min: pmin,
            physical_max: pmax,
            digital_min: dmin as i32,
            digital_max: dmax as i32,
            prefilter: String::new(),
            samples_per_record: 0,
            annotation: false,
        },
    ))
}

/// Stimuli the analysis found (trigger channel or artifact) when the session has no table.
fn stimuli_from_analysis(a: &Analysis, t0: f64, rate: f64) -> Vec<SourceEvent> {
    let mut v: Vec<(u64, f64, String)> = a
        .sweeps
        .iter()
        .map(|s| (s.stim_index, s.stim_time_s, s.branch.clone()))
        .collect();
    v.sort_by_key(|x| x.0);
    v.dedup_by_key(|x| x.0);
    v.into_iter()
        .map(|(_, t, b)| SourceEvent::Stimulus {
            frame_time: (t - t0) * rate,
            branch: crate::nwb::parse_branch(&b),
            intensity_ma: f32::NAN,
            pulse_width_s: f32::NAN,
        })
        .collect()
}

/// The session's start time (ISO 8601 text) and pseudonymous subject id, as the file has them.
fn session_meta(path: &Path) -> (Option<String>, String) {
    let read = |name: &str| -> Option<String> {
        let f = hdf5::File::open(path).ok()?;
        let d = f.dataset(name).ok()?;
        if let Ok(s) = d.read_scalar::<hdf5::types::VarLenUnicode>() {
            return Some(s.as_str().to_string());
        }
        d.read_scalar::<hdf5::types::VarLenAscii>()
            .ok()
            .map(|s| s.as_str().to_string())
    };
    let subject: String = read("general/subject/subject_id")
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(60)
        .collect();
    (
        read("session_start_time"),
        if subject.is_empty() {
            "X".into()
        } else {
            subject
        },
    )
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Header start fields from the session start (local clock time as written) plus `t0`:
/// (first sample in ticks since that day's midnight, dd.mm.yy, hh.mm.ss, recording field).
fn start_fields(start: &Option<String>, t0: f64) -> (i64, String, String, String) {
    let parsed = start.as_deref().and_then(parse_iso);
    let Some((days, ticks)) = parsed else {
        // Unknown date: the EDF+ convention for an anonymised date.
        let t = ticks_from_s(t0).max(0);
        let s = t / TICKS_PER_S;
        return (
            t,
            "01.01.85".into(),
            format!("{:02}.{:02}.{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60),
            "Startdate X X X X".into(),
        );
    };
    let total =
        days as i128 * 86_400 * TICKS_PER_S as i128 + ticks as i128 + ticks_from_s(t0) as i128;
    let day = total.div_euclid(86_400 * TICKS_PER_S as i128) as i64;
    let in_day = total.rem_euclid(86_400 * TICKS_PER_S as i128) as i64;
    let (y, m, d) = civil_from_days(day);
    let s = in_day / TICKS_PER_S;
    (
        in_day,
        format!("{d:02}.{m:02}.{:02}", y.rem_euclid(100)),
        format!("{:02}.{:02}.{:02}", s / 3600, (s / 60) % 60, s % 60),
        format!("Startdate {d:02}-{}-{y:04} X X X", MONTHS[(m - 1) as usize]),
    )
}

/// `YYYY-MM-DDThh:mm:ss[.fff][Z|+hh:mm]` -> (days since 1970-01-01, ticks into the day),
/// in the clock time written (the offset is not applied: EDF holds local time).
fn parse_iso(s: &str) -> Option<(i64, i64)> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    let n = |a: usize, z: usize| s.get(a..z)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        n(0, 4)?,
        n(5, 7)?,
        n(8, 10)?,
        n(11, 13)?,
        n(14, 16)?,
        n(17, 19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let rest = &s[19..];
    let frac = match rest.strip_prefix('.') {
        Some(r) => {
            let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
            crate::edf::time::parse_ticks(&format!("0.{digits}"))?
        }
        None => 0,
    };
    Some((
        days_from_civil(y, mo, d),
        (h * 3600 + mi * 60 + se) * TICKS_PER_S + frac,
    ))
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

/// Writes `text` to `path` through a temporary file.
pub(super) fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("part");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_hold_whole_samples() {
        assert_eq!(record_duration(5000.0, 8), Some((10_000_000, 5000)));
        assert_eq!(record_duration(48_000.0, 8), Some((1_000_000, 4800)));
        assert_eq!(record_duration(44_100.0, 6), Some((2_000_000, 8820)));
        assert_eq!(record_duration(1234.5, 2), Some((20_000_000, 2469)));
        assert_eq!(record_duration(1.0 / 3.0, 2), None);
    }

    #[test]
    fn start_time_with_fraction_and_offset() {
        let s = Some("2026-12-31T23:59:59.75+09:00".to_string());
        let (t, d, h, r) = start_fields(&s, 0.5);
        assert_eq!((d.as_str(), h.as_str()), ("01.01.27", "00.00.00"));
        assert_eq!(t, 2_500_000);
        assert_eq!(r, "Startdate 01-JAN-2027 X X X");
        assert_eq!(start_fields(&None, 0.0).3, "Startdate X X X X");
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }
}
