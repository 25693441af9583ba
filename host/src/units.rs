//! Durations and sizes as people write them: `500ms`, `10s`, `2m`, `64MiB`.
//!
//! Used by the `aio` command's flags, and by embedders reading limits from a
//! configuration file.
//!
//! ```
//! use aio_host::units::{parse_duration, parse_size};
//! use std::time::Duration;
//!
//! assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
//! assert_eq!(parse_size("64MiB"), Ok(64 << 20));
//! assert!(parse_size("12 parsecs").is_err());
//! ```
//!
//! Written here rather than taken from `humantime` and `bytesize`, which
//! read other grammars: `humantime` takes no decimals (`1.5s`), and
//! `bytesize` reads `MB` as 10^6 bytes, where every spelling here is
//! binary, as memory limits are (Kubernetes' `Mi` and a `--max-memory=64M`
//! should agree). A limit flag wants one small, exact grammar whose errors
//! quote the input with control characters escaped; it is ~100 lines,
//! fuzzed by the `units` target (docs/SECURITY.md, "Fuzzing").

use crate::error::escape_controls;
use std::time::Duration;

/// Parses a duration: a number (decimals allowed) and a unit, `ns`, `us`,
/// `ms`, `s`, `m` (minutes) or `h`. Spaces between them are allowed; the
/// unit is required. Exact, rounded to the nearest nanosecond.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(text)?;
    let text = escape_controls(text);
    let nanos_per_unit: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" | "sec" | "secs" => 1_000_000_000,
        "m" | "min" | "mins" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" => {
            return Err(format!(
                "`{text}` has no unit: write e.g. {number}s or {number}ms"
            ));
        }
        other => {
            return Err(format!(
                "unknown duration unit `{}` in `{text}` (use ns, us, ms, s, m or h)",
                escape_controls(other)
            ));
        }
    };
    let too_long = || format!("`{text}` is too long a duration");
    let (scaled, denominator) = scale(number, nanos_per_unit).ok_or_else(too_long)?;
    let nanos = scaled
        .checked_add(denominator / 2)
        .and_then(|rounded| u64::try_from(rounded / denominator).ok())
        .ok_or_else(too_long)?;
    Ok(Duration::from_nanos(nanos))
}

/// Parses a size in bytes: a number (decimals allowed) and an optional unit.
/// Units are binary, whatever their spelling: `k`, `K`, `KB` and `KiB` all
/// mean 1024 bytes; likewise `M`, `G`, `T`. No unit or `B` means bytes.
/// The size must be a whole number of bytes (`1.5KiB` is, `0.1KiB` is not).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (number, unit) = split_number(text)?;
    let text = escape_controls(text);
    let lower = unit.to_ascii_lowercase();
    let shift = match lower.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "unknown size unit `{}` in `{text}` (use B, KiB, MiB, GiB or TiB; k, M, G also work)",
                escape_controls(unit)
            ));
        }
    };
    let too_large = || format!("`{text}` is too large");
    let (scaled, denominator) = scale(number, 1 << shift).ok_or_else(too_large)?;
    let bytes = u64::try_from(scaled / denominator).map_err(|_| too_large())?;
    if scaled % denominator != 0 {
        return Err(format!("`{text}` is not a whole number of bytes"));
    }
    Ok(bytes)
}

/// Splits `12.5ms` into ("12.5", "ms"), trimming spaces; the number is
/// digits with at most one `.` (`12`, `1.5`, `.5`, `5.`).
fn split_number(text: &str) -> Result<(&str, &str), String> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(end);
    if digits.is_empty() {
        return Err(if text.is_empty() {
            "empty value: expected a number and a unit".to_owned()
        } else {
            format!("`{}` does not start with a number", escape_controls(text))
        });
    }
    if digits.matches('.').count() > 1 || digits == "." {
        return Err(format!("`{digits}` is not a number"));
    }
    Ok((digits, unit.trim()))
}

/// `number` (from [`split_number`]) times `unit`, exactly, as a fraction:
/// (numerator, a power of ten). Digits of a fraction past the 18th are
/// dropped (below a nanosecond of an hour); `None` past u128, which is far
/// past any duration or size.
fn scale(number: &str, unit: u128) -> Option<(u128, u128)> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let fraction = &fraction[..fraction.len().min(18)];
    let mut digits: u128 = 0;
    for digit in whole.bytes().chain(fraction.bytes()) {
        digits = digits
            .checked_mul(10)?
            .checked_add(u128::from(digit - b'0'))?;
    }
    Some((digits.checked_mul(unit)?, 10u128.pow(fraction.len() as u32)))
}

/// Formats a duration the way [`parse_duration`] reads it: `2m`, `10s`,
/// `1.5s`, `500ms`, `250us`.
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        "0s".to_owned()
    } else if nanos.is_multiple_of(60_000_000_000) {
        format!("{}m", nanos / 60_000_000_000)
    } else if nanos.is_multiple_of(1_000_000_000) {
        format!("{}s", nanos / 1_000_000_000)
    } else if nanos >= 1_000_000_000 {
        let text = format!("{:.3}", duration.as_secs_f64());
        format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
    } else if nanos.is_multiple_of(1_000_000) {
        format!("{}ms", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        format!("{}us", nanos / 1_000)
    } else {
        format!("{nanos}ns")
    }
}

/// Formats a byte count: `512 bytes`, `64 MiB`, `1.5 GiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (name, shift) in UNITS {
        let unit = 1u64 << shift;
        if bytes >= unit {
            return if bytes.is_multiple_of(unit) {
                format!("{} {name}", bytes / unit)
            } else {
                format!("{:.1} {name}", bytes as f64 / unit as f64)
            };
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration(" 1.5 s "), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0.1ns"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0.5ns"), Ok(Duration::from_nanos(1)));
        // Exact where f64 is not (found by the units fuzz target).
        assert_eq!(
            parse_duration("18446744073709551615ns"),
            Ok(Duration::from_nanos(u64::MAX))
        );
        assert_eq!(
            parse_duration("9007199254740993ns"),
            Ok(Duration::from_nanos(9007199254740993))
        );
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(
            parse_duration("10x")
                .unwrap_err()
                .contains("unknown duration unit `x`")
        );
        assert!(
            parse_duration("s")
                .unwrap_err()
                .contains("does not start with a number")
        );
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(parse_duration(".s").unwrap_err().contains("not a number"));
        assert!(
            parse_duration("18446744073709551616ns")
                .unwrap_err()
                .contains("too long")
        );
        // One line, whatever the text (found by the units fuzz target).
        assert_eq!(
            parse_duration("1x\ny").unwrap_err(),
            "unknown duration unit `x\\ny` in `1x\\ny` (use ns, us, ms, s, m or h)"
        );
        assert!(
            parse_duration("1.2.3s")
                .unwrap_err()
                .contains("not a number")
        );
        assert!(parse_duration("-1s").is_err());
        assert!(
            parse_duration("99999999999999999999h")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1gb"), Ok(1 << 30));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("100B"), Ok(100));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        // Exact where f64 is not (found by the units fuzz target).
        assert_eq!(parse_size("999999999999999999"), Ok(999999999999999999));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn bad_sizes_say_why() {
        assert!(
            parse_size("12 parsecs")
                .unwrap_err()
                .contains("unknown size unit")
        );
        assert!(
            parse_size("MiB")
                .unwrap_err()
                .contains("does not start with a number")
        );
        assert!(parse_size("0.5").unwrap_err().contains("whole number"));
        assert!(parse_size("0.1KiB").unwrap_err().contains("whole number"));
        assert!(
            parse_size("18446744073709551616")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            parse_size("99999999999T")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn formats_read_back() {
        for text in ["2m", "10s", "1.5s", "500ms", "250us"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_size(64 << 20), "64 MiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(100), "100 bytes");
    }
}
