//! Time-stamped annotation lists (TALs), the text of the EDF+ annotation signal.
//!
//! One TAL is `+onset[\x15duration]\x14text\x14[text\x14...]\x00`. The first TAL of every data
//! record has no text: its onset is the record's start time, relative to the header's start
//! time (that is where a sub-second start time lives). Unused bytes are `\x00`.

use super::time::{format_ticks, parse_ticks};

/// One annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// Onset in ticks from the header's start time.
    pub onset: i64,
    /// Duration in ticks, when given.
    pub duration: Option<i64>,
    pub text: String,
}

/// What one record's annotation bytes hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordTals {
    /// The record's start (the time-keeping TAL), if the record has one.
    pub start: Option<i64>,
    pub annotations: Vec<Annotation>,
}

/// Parses one record's annotation bytes. The error says what is wrong (the caller names the
/// file and the record).
pub fn parse_record(bytes: &[u8]) -> Result<RecordTals, String> {
    let mut out = RecordTals::default();
    let mut first = true;
    for tal in bytes.split(|&b| b == 0) {
        if tal.is_empty() {
            continue;
        }
        let Some(end_time) = tal.iter().position(|&b| b == 0x14) else {
            return Err(format!(
                "a TAL without the 0x14 after its onset: {:?}",
                String::from_utf8_lossy(tal)
            ));
        };
        let time = std::str::from_utf8(&tal[..end_time])
            .map_err(|_| "a TAL onset that is not ASCII".to_string())?;
        let (onset, duration) = match time.split_once('\x15') {
            Some((o, d)) => (o, Some(d)),
            None => (time, None),
        };
        if !onset.starts_with(['+', '-']) {
            return Err(format!("TAL onset '{onset}' does not start with + or -"));
        }
        let onset_t =
            parse_ticks(onset).ok_or_else(|| format!("TAL onset '{onset}' is not a number"))?;
        let duration_t = match duration {
            Some(d) => Some(
                parse_ticks(d)
                    .filter(|&v| v >= 0)
                    .ok_or_else(|| format!("TAL duration '{d}' is not a number of seconds"))?,
            ),
            None => None,
        };
        let texts: Vec<&[u8]> = tal[end_time + 1..].split(|&b| b == 0x14).collect();
        // The list ends with 0x14, so the last piece is empty.
        let texts = &texts[..texts.len().saturating_sub(1)];
        let mut any = false;
        for t in texts.iter().filter(|t| !t.is_empty()) {
            any = true;
            out.annotations.push(Annotation {
                onset: onset_t,
                duration: duration_t,
                text: String::from_utf8_lossy(t).into_owned(),
            });
        }
        if first && !any {
            out.start = Some(onset_t);
        }
        first = false;
    }
    Ok(out)
}

/// The time-keeping TAL of a record starting at `start` ticks.
pub fn time_keeping(start: i64) -> Vec<u8> {
    let mut v = sign(start).into_bytes();
    v.extend_from_slice(b"\x14\x14\x00");
    v
}

/// One annotation as a TAL. Text bytes 0x00, 0x14 and 0x15 are replaced by spaces.
pub fn encode(a: &Annotation) -> Vec<u8> {
    let mut v = sign(a.onset).into_bytes();
    if let Some(d) = a.duration {
        v.push(0x15);
        v.extend_from_slice(format_ticks(d).as_bytes());
    }
    v.push(0x14);
    v.extend(a.text.bytes().map(|b| {
        if matches!(b, 0x00 | 0x14 | 0x15) {
            b' '
        } else {
            b
        }
    }));
    v.extend_from_slice(b"\x14\x00");
    v
}

fn sign(t: i64) -> String {
    let s = format_ticks(t);
    if t >= 0 {
        format!("+{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_record_round_trips() {
        let a = Annotation {
            onset: 36_000_012_345,
            duration: Some(2000),
            text: "stimulus zygomatic".into(),
        };
        let b = Annotation {
            onset: 5,
            duration: None,
            text: "dural opening".into(),
        };
        let mut bytes = time_keeping(2_500_000);
        bytes.extend(encode(&a));
        bytes.extend(encode(&b));
        bytes.extend([0u8; 7]);
        let r = parse_record(&bytes).unwrap();
        assert_eq!(r.start, Some(2_500_000));
        assert_eq!(r.annotations, vec![a, b]);
        assert_eq!(&time_keeping(0), b"+0\x14\x14\x00");
    }

    #[test]
    fn several_texts_in_one_tal_and_bad_onsets() {
        let r = parse_record(b"+0\x14\x14\x00+1.5\x15\x30\x14a\x14b\x14\x00").unwrap();
        assert_eq!(r.annotations.len(), 2);
        assert_eq!(r.annotations[1].text, "b");
        assert_eq!(r.annotations[1].duration, Some(0));
        assert!(parse_record(b"1\x14\x14\x00").is_err());
        assert!(parse_record(b"+x\x14\x14\x00").is_err());
        assert!(parse_record(b"+1").is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_record(&b);
        }
    }
}
