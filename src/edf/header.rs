//! The EDF/BDF header: 256 bytes, then 256 bytes per signal, every field ASCII text.
//!
//! [`Header::parse`] checks every field and names the one that is wrong
//! ([`HeaderError`]); it never panics, whatever the bytes (the fuzz target
//! `fuzz/fuzz_targets/edf_header.rs` and the proptests in this module feed it random input).
//! [`Header::to_bytes`] writes the same layout back.

use super::time::{format_ticks, parse_ticks, TICKS_PER_S};

/// A header field that is missing or wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("header field '{field}': {problem}")]
pub struct HeaderError {
    pub field: String,
    pub problem: String,
}

fn err(field: impl Into<String>, problem: impl Into<String>) -> HeaderError {
    HeaderError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// EDF+ continuity (the reserved field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continuity {
    /// Plain EDF or BDF: no annotation signal required, records contiguous.
    Plain,
    /// EDF+C / BDF+C: contiguous records with an annotation signal.
    Contiguous,
    /// EDF+D / BDF+D: records may have gaps between them (their start times say where).
    Discontinuous,
}

/// One signal's header.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalHeader {
    pub label: String,
    pub transducer: String,
    pub physical_dimension: String,
    pub physical_min: f64,
    pub physical_max: f64,
    pub digital_min: i32,
    pub digital_max: i32,
    pub prefilter: String,
    pub samples_per_record: usize,
    /// The "EDF Annotations" / "BDF Annotations" signal.
    pub annotation: bool,
}

impl SignalHeader {
    /// Physical units per digital step.
    pub fn gain(&self) -> f64 {
        (self.physical_max - self.physical_min)
            / (self.digital_max as f64 - self.digital_min as f64)
    }
    /// Physical value of digital 0.
    pub fn offset(&self) -> f64 {
        self.physical_min - self.digital_min as f64 * self.gain()
    }
}

/// A whole header.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// BDF (24-bit samples) rather than EDF (16-bit).
    pub bdf: bool,
    pub continuity: Continuity,
    pub patient: String,
    pub recording: String,
    /// `dd.mm.yy`
    pub start_date: String,
    /// `hh.mm.ss`
    pub start_time: String,
    pub records: u64,
    /// Record duration in ticks (1e-7 s), exactly as the header's decimal text says.
    pub record_ticks: i64,
    pub signals: Vec<SignalHeader>,
}

/// Most signals a header may declare (EDFbrowser's limit is 4096 too).
pub const MAX_SIGNALS: usize = 4096;
/// Largest data record accepted, in bytes (keeps a corrupt header from asking for gigabytes).
pub const MAX_RECORD_BYTES: usize = 64 << 20;

const BDF_VERSION: &[u8] = b"\xffBIOSEMI";

fn text(b: &[u8], field: &str, strict: bool) -> Result<String, HeaderError> {
    if let Some(p) = b.iter().position(|&c| !(0x20..=0x7e).contains(&c)) {
        if strict {
            return Err(err(
                field,
                format!(
                    "byte 0x{:02x} at position {} is not printable ASCII (EDF headers are ASCII)",
                    b[p],
                    p + 1
                ),
            ));
        }
    }
    Ok(String::from_utf8_lossy(b).trim_end().to_string())
}

fn int(b: &[u8], field: &str) -> Result<i64, HeaderError> {
    let s = text(b, field, true)?;
    s.trim()
        .parse::<i64>()
        .map_err(|_| err(field, format!("'{}' is not a whole number", s.trim())))
}

fn num(b: &[u8], field: &str) -> Result<f64, HeaderError> {
    let s = text(b, field, true)?;
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(err(field, format!("'{}' is not a number", s.trim()))),
    }
}

impl Header {
    /// Bytes per sample: 2 (EDF) or 3 (BDF).
    pub fn sample_bytes(&self) -> usize {
        if self.bdf {
            3
        } else {
            2
        }
    }

    /// Header length in bytes.
    pub fn header_bytes(&self) -> usize {
        256 * (self.signals.len() + 1)
    }

    /// Bytes of one data record.
    pub fn record_bytes(&self) -> usize {
        self.signals
            .iter()
            .map(|s| s.samples_per_record)
            .sum::<usize>()
            * self.sample_bytes()
    }

    /// Record duration in seconds.
    pub fn record_duration_s(&self) -> f64 {
        self.record_ticks as f64 / TICKS_PER_S as f64
    }

    /// The index of the annotation signal, if any (the first one).
    pub fn annotation_signal(&self) -> Option<usize> {
        self.signals.iter().position(|s| s.annotation)
    }

    /// How long the header is, from its first 256 bytes (so a reader knows how much to read).
    pub fn length_from_prefix(prefix: &[u8]) -> Result<usize, HeaderError> {
        if prefix.len() < 256 {
            return Err(err(
                "header",
                format!("{} bytes, an EDF/BDF header has at least 256", prefix.len()),
            ));
        }
        let ns = int(&prefix[252..256], "number of signals")?;
        if ns < 1 || ns as usize > MAX_SIGNALS {
            return Err(err(
                "number of signals",
                format!("{ns}, expected 1 to {MAX_SIGNALS}"),
            ));
        }
        Ok(256 * (ns as usize + 1))
    }

    /// Parses a whole header (`bytes` may run on into the data; only the header is read).
    pub fn parse(bytes: &[u8]) -> Result<Self, HeaderError> {
        let len = Self::length_from_prefix(bytes)?;
        if bytes.len() < len {
            return Err(err(
                "signal headers",
                format!(
                    "the header declares {} signals ({len} bytes) but only {} bytes are there",
                    len / 256 - 1,
                    bytes.len()
                ),
            ));
        }
        let b = &bytes[..len];
        let bdf = if &b[0..8] == BDF_VERSION {
            true
        } else if &b[0..8] == b"0       " {
            false
        } else {
            return Err(err(
                "version",
                format!(
                    "{:?}, expected \"0\" (EDF) or 0xFF \"BIOSEMI\" (BDF)",
                    String::from_utf8_lossy(&b[0..8])
                ),
            ));
        };
        let patient = text(&b[8..88], "patient", false)?;
        let recording = text(&b[88..168], "recording", false)?;
        let start_date = text(&b[168..176], "start date", true)?;
        check_dotted(&start_date, "start date", "dd.mm.yy", [31, 12, 99])?;
        let start_time = text(&b[176..184], "start time", true)?;
        check_dotted(&start_time, "start time", "hh.mm.ss", [23, 59, 59])?;
        let hb = int(&b[184..192], "number of bytes in header")?;
        if hb != len as i64 {
            return Err(err(
                "number of bytes in header",
                format!("{hb}, but {} signals make {len}", len / 256 - 1),
            ));
        }
        let reserved = text(&b[192..236], "reserved", true)?;
        let continuity = if reserved.starts_with("EDF+C") || reserved.starts_with("BDF+C") {
            Continuity::Contiguous
        } else if reserved.starts_with("EDF+D") || reserved.starts_with("BDF+D") {
            Continuity::Discontinuous
        } else {
            Continuity::Plain
        };
        let records = int(&b[236..244], "number of data records")?;
        if records == -1 {
            return Err(err(
                "number of data records",
                "-1: the recording did not finish (the writer never set the count)",
            ));
        }
        if records < 1 {
            return Err(err(
                "number of data records",
                format!("{records}, expected at least 1"),
            ));
        }
        let dur = text(&b[244..252], "duration of a data record", true)?;
        let record_ticks = match parse_ticks(dur.trim()) {
            Some(t) if t > 0 => t,
            _ => {
                return Err(err(
                    "duration of a data record",
                    format!("'{}', expected a positive number of seconds", dur.trim()),
                ))
            }
        };
        let ns = len / 256 - 1;
        let sig = &b[256..];
        let field = |i: usize, off: usize, w: usize| -> &[u8] {
            let start = off * ns + i * w;
            &sig[start..start + w]
        };
        let (dmin_lim, dmax_lim) = if bdf {
            (-8_388_608i64, 8_388_607i64)
        } else {
            (-32_768, 32_767)
        };
        let mut signals = Vec::with_capacity(ns);
        for i in 0..ns {
            let n = i + 1;
            let label = text(field(i, 0, 16), &format!("label of signal {n}"), true)?;
            let annotation = label == "EDF Annotations" || label == "BDF Annotations";
            let name = if label.is_empty() {
                format!("signal {n}")
            } else {
                format!("signal {n} '{label}'")
            };
            let transducer = text(
                field(i, 16, 80),
                &format!("transducer type of {name}"),
                false,
            )?;
            let physical_dimension = text(
                field(i, 96, 8),
                &format!("physical dimension of {name}"),
                true,
            )?;
            let physical_min = num(field(i, 104, 8), &format!("physical minimum of {name}"))?;
            let physical_max = num(field(i, 112, 8), &format!("physical maximum of {name}"))?;
            let dmin = int(field(i, 120, 8), &format!("digital minimum of {name}"))?;
            let dmax = int(field(i, 128, 8), &format!("digital maximum of {name}"))?;
            let prefilter = text(field(i, 136, 80), &format!("prefiltering of {name}"), false)?;
            let spr = int(
                field(i, 216, 8),
                &format!("number of samples in each data record of {name}"),
            )?;
            for (v, what) in [(dmin, "digital minimum"), (dmax, "digital maximum")] {
                if v < dmin_lim || v > dmax_lim {
                    return Err(err(
                        format!("{what} of {name}"),
                        format!(
                            "{v} does not fit {} bits ({dmin_lim} to {dmax_lim})",
                            if bdf { 24 } else { 16 }
                        ),
                    ));
                }
            }
            if dmin >= dmax {
                return Err(err(
                    format!("digital maximum of {name}"),
                    format!("{dmax}, not above the digital minimum {dmin}"),
                ));
            }
            if !annotation && physical_min == physical_max {
                return Err(err(
                    format!("physical maximum of {name}"),
                    format!("{physical_max}, equal to the physical minimum"),
                ));
            }
            if spr < 1 {
                return Err(err(
                    format!("number of samples in each data record of {name}"),
                    format!("{spr}, expected at least 1"),
                ));
            }
            if spr as usize > MAX_RECORD_BYTES / if bdf { 3 } else { 2 } {
                return Err(err(
                    format!("number of samples in each data record of {name}"),
                    format!("{spr} makes data records of more than {MAX_RECORD_BYTES} bytes"),
                ));
            }
            signals.push(SignalHeader {
                label,
                transducer,
                physical_dimension,
                physical_min,
                physical_max,
                digital_min: dmin as i32,
                digital_max: dmax as i32,
                prefilter,
                samples_per_record: spr as usize,
                annotation,
            });
        }
        let h = Self {
            bdf,
            continuity,
            patient,
            recording,
            start_date,
            start_time,
            records: records as u64,
            record_ticks,
            signals,
        };
        let total: u128 = h
            .signals
            .iter()
            .map(|s| s.samples_per_record as u128)
            .sum::<u128>()
            * h.sample_bytes() as u128;
        if total > MAX_RECORD_BYTES as u128 {
            return Err(err(
                "number of samples in each data record",
                format!("the signals make records of {total} bytes, more than {MAX_RECORD_BYTES}"),
            ));
        }
        if h.continuity != Continuity::Plain && h.annotation_signal().is_none() {
            return Err(err(
                "label",
                format!(
                    "the file says it is {reserved} but has no '{} Annotations' signal",
                    if bdf { "BDF" } else { "EDF" }
                ),
            ));
        }
        if h.signals.iter().all(|s| s.annotation) {
            return Err(err(
                "label",
                "the file has no signal other than annotations",
            ));
        }
        Ok(h)
    }

    /// The header as bytes (`records` and every field as set).
    pub fn to_bytes(&self) -> Result<Vec<u8>, HeaderError> {
        let ns = self.signals.len();
        let mut out = Vec::with_capacity(self.header_bytes());
        if self.bdf {
            out.extend_from_slice(BDF_VERSION);
        } else {
            put(&mut out, "0", 8, "version")?;
        }
        put(&mut out, &self.patient, 80, "patient")?;
        put(&mut out, &self.recording, 80, "recording")?;
        put(&mut out, &self.start_date, 8, "start date")?;
        put(&mut out, &self.start_time, 8, "start time")?;
        put(
            &mut out,
            &self.header_bytes().to_string(),
            8,
            "number of bytes in header",
        )?;
        let kind = if self.bdf { "BDF" } else { "EDF" };
        let reserved = match self.continuity {
            Continuity::Plain => if self.bdf { "24BIT" } else { "" }.to_string(),
            Continuity::Contiguous => format!("{kind}+C"),
            Continuity::Discontinuous => format!("{kind}+D"),
        };
        put(&mut out, &reserved, 44, "reserved")?;
        put(
            &mut out,
            &self.records.to_string(),
            8,
            "number of data records",
        )?;
        put(
            &mut out,
            &format_ticks(self.record_ticks),
            8,
            "duration of a data record",
        )?;
        put(&mut out, &ns.to_string(), 4, "number of signals")?;
        type Get = fn(&SignalHeader) -> String;
        let cols: [(&str, usize, Get); 10] = [
            ("label", 16, |s| s.label.clone()),
            ("transducer type", 80, |s| s.transducer.clone()),
            ("physical dimension", 8, |s| s.physical_dimension.clone()),
            ("physical minimum", 8, |s| number8(s.physical_min)),
            ("physical maximum", 8, |s| number8(s.physical_max)),
            ("digital minimum", 8, |s| s.digital_min.to_string()),
            ("digital maximum", 8, |s| s.digital_max.to_string()),
            ("prefiltering", 80, |s| s.prefilter.clone()),
            ("number of samples in each data record", 8, |s| {
                s.samples_per_record.to_string()
            }),
            ("reserved", 32, |_| String::new()),
        ];
        for (name, w, get) in cols {
            for s in &self.signals {
                put(&mut out, &get(s), w, &format!("{name} of '{}'", s.label))?;
            }
        }
        Ok(out)
    }
}

/// `v` in at most 8 characters, as exactly as they allow (the caller chooses values that fit).
pub fn number8(v: f64) -> String {
    for d in (0..=7).rev() {
        let s = format!("{v:.d$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.len() <= 8 {
            return if s == "-0" { "0".into() } else { s };
        }
    }
    format!("{v:.0}")
}

/// The largest 8-character number not above `v` (`up` = false) or not below it (`up` = true).
pub fn number8_rounded(v: f64, up: bool) -> Option<f64> {
    for d in (0..=7).rev() {
        let f = 10f64.powi(d);
        let r = if up {
            (v * f).ceil() / f
        } else {
            (v * f).floor() / f
        };
        let s = number8(r);
        if s.len() <= 8 {
            let back: f64 = s.parse().ok()?;
            if (up && back >= v) || (!up && back <= v) {
                return Some(back);
            }
        }
    }
    None
}

fn put(out: &mut Vec<u8>, s: &str, w: usize, field: &str) -> Result<(), HeaderError> {
    if !s.bytes().all(|c| (0x20..=0x7e).contains(&c)) {
        return Err(err(field, format!("'{s}' is not printable ASCII")));
    }
    if s.len() > w {
        return Err(err(field, format!("'{s}' is longer than {w} characters")));
    }
    out.extend_from_slice(s.as_bytes());
    out.extend(std::iter::repeat_n(b' ', w - s.len()));
    Ok(())
}

fn check_dotted(s: &str, field: &str, form: &str, max: [u32; 3]) -> Result<(), HeaderError> {
    let parts: Vec<&str> = s.split('.').collect();
    let ok = parts.len() == 3
        && parts.iter().zip(max).all(|(p, m)| {
            p.len() == 2
                && p.bytes().all(|c| c.is_ascii_digit())
                && p.parse::<u32>().is_ok_and(|v| v <= m)
        });
    if ok {
        Ok(())
    } else {
        Err(err(field, format!("'{s}', expected {form}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sample(bdf: bool) -> Header {
        let sig = |label: &str, spr: usize, annotation: bool| SignalHeader {
            label: label.into(),
            transducer: "AgAgCl".into(),
            physical_dimension: if annotation { "" } else { "uV" }.into(),
            physical_min: -3276.8,
            physical_max: 3276.7,
            digital_min: -32768,
            digital_max: 32767,
            prefilter: "".into(),
            samples_per_record: spr,
            annotation,
        };
        Header {
            bdf,
            continuity: Continuity::Contiguous,
            patient: "sim-1 X X X".into(),
            recording: "Startdate 01-JAN-2026 X X X".into(),
            start_date: "01.01.26".into(),
            start_time: "08.00.00".into(),
            records: 3,
            record_ticks: 1_000_000,
            signals: vec![
                sig("mentalis", 500, false),
                sig(
                    if bdf {
                        "BDF Annotations"
                    } else {
                        "EDF Annotations"
                    },
                    30,
                    true,
                ),
            ],
        }
    }

    #[test]
    fn a_header_survives_writing_and_parsing() {
        for bdf in [false, true] {
            let h = sample(bdf);
            let b = h.to_bytes().unwrap();
            assert_eq!(b.len(), 768);
            assert_eq!(Header::parse(&b).unwrap(), h);
            assert_eq!(&b[192..197], if bdf { b"BDF+C" } else { b"EDF+C" });
            assert_eq!(&b[244..252], b"0.1     ");
        }
    }

    #[test]
    fn wrong_fields_are_named() {
        let good = sample(false).to_bytes().unwrap();
        let case = |at: usize, with: &[u8]| {
            let mut b = good.clone();
            b[at..at + with.len()].copy_from_slice(with);
            Header::parse(&b).unwrap_err().field
        };
        assert_eq!(case(0, b"1"), "version");
        assert_eq!(case(184, b"999     "), "number of bytes in header");
        assert_eq!(case(236, b"-1      "), "number of data records");
        assert_eq!(case(244, b"abc     "), "duration of a data record");
        assert_eq!(case(256, b"ment\xe4lis"), "label of signal 1");
        assert_eq!(
            case(256 + 2 * 104, b"x1      "),
            "physical minimum of signal 1 'mentalis'"
        );
        assert_eq!(
            case(256 + 2 * 120, b"40000   "),
            "digital minimum of signal 1 'mentalis'"
        );
        assert_eq!(case(256 + 16, b"EDF Annotation "), "label");
        assert_eq!(Header::parse(&good[..100]).unwrap_err().field, "header");
        assert_eq!(
            Header::parse(&good[..600]).unwrap_err().field,
            "signal headers"
        );
    }

    #[test]
    fn numbers_fit_eight_characters() {
        assert_eq!(number8(-3276.8), "-3276.8");
        assert_eq!(number8(0.000012345678), "0.000012");
        assert_eq!(number8(-12345678.9), "-12345679");
        let v = number8_rounded(-3276.812345, false).unwrap();
        assert!(v <= -3276.812345 && number8(v).len() <= 8);
        let v = number8_rounded(3276.812345, true).unwrap();
        assert!(v >= 3276.812345 && number8(v).len() <= 8);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_bytes_give_a_header_or_an_error(b in proptest::collection::vec(any::<u8>(), 0..1200)) {
            let _ = Header::parse(&b);
        }

        #[test]
        fn mutated_headers_never_panic(pos in 0usize..768, byte in any::<u8>(), bdf in any::<bool>()) {
            let mut b = sample(bdf).to_bytes().unwrap();
            b[pos] = byte;
            if let Ok(h) = Header::parse(&b) {
                prop_assert!(h.record_bytes() <= MAX_RECORD_BYTES);
            }
        }
    }
}
