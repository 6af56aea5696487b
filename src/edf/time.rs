//! Times as integer ticks of 100 ns, parsed from and written as decimal text.
//!
//! EDF+ writes every time as decimal text ("+3601.25"); reading it into an `f64` and adding
//! record durations drifts, and 32-bit tick counters overflow after 214 s (a bug reported
//! against several EDF libraries). Here every time is an `i64` of ticks: exact for any
//! decimal with up to 7 places, good for 29 000 years.

/// Ticks per second (100 ns each, as EDFlib).
pub const TICKS_PER_S: i64 = 10_000_000;

/// Parses `[+-]digits[.digits]` into ticks, exactly; digits past the 7th decimal are dropped.
/// `None` for anything else (exponents, empty, overflow).
pub fn parse_ticks(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match body.split_once('.') {
        Some((a, b)) => (a, b),
        None => (body, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f = 0i64;
    for (i, c) in frac.bytes().take(7).enumerate() {
        f += (c - b'0') as i64 * 10i64.pow(6 - i as u32);
    }
    let t = whole.checked_mul(TICKS_PER_S)?.checked_add(f)?;
    Some(if neg { -t } else { t })
}

/// Ticks as the shortest exact decimal: `12.5`, `0.1`, `3600`.
pub fn format_ticks(t: i64) -> String {
    let sign = if t < 0 { "-" } else { "" };
    let a = t.unsigned_abs();
    let (w, f) = (a / TICKS_PER_S as u64, a % TICKS_PER_S as u64);
    if f == 0 {
        format!("{sign}{w}")
    } else {
        let frac = format!("{f:07}");
        format!("{sign}{w}.{}", frac.trim_end_matches('0'))
    }
}

/// Seconds to the nearest tick.
pub fn ticks_from_s(s: f64) -> i64 {
    (s * TICKS_PER_S as f64).round() as i64
}

/// Ticks to seconds.
pub fn s_from_ticks(t: i64) -> f64 {
    t as f64 / TICKS_PER_S as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_ticks("+0.1"), Some(1_000_000));
        assert_eq!(parse_ticks("-3600.0000001"), Some(-36_000_000_001));
        assert_eq!(parse_ticks("86400"), Some(864_000_000_000));
        assert_eq!(parse_ticks(".5"), Some(5_000_000));
        assert_eq!(parse_ticks("1e3"), None);
        assert_eq!(parse_ticks("+"), None);
        assert_eq!(parse_ticks(""), None);
        assert_eq!(format_ticks(1_000_000), "0.1");
        assert_eq!(format_ticks(-25_000_000), "-2.5");
        assert_eq!(format_ticks(0), "0");
        // Far past the 32-bit tick limit (214.7 s) and past 8192 one-second records.
        assert_eq!(
            format_ticks(parse_ticks("14400.2500001").unwrap()),
            "14400.2500001"
        );
    }

    proptest! {
        #[test]
        fn ticks_survive_text(t in -(1i64 << 50)..(1i64 << 50)) {
            prop_assert_eq!(parse_ticks(&format_ticks(t)), Some(t));
        }

        #[test]
        fn any_text_parses_or_not_without_panic(s in ".{0,30}") {
            let _ = parse_ticks(&s);
        }
    }
}
