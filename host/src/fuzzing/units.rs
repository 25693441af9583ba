//! Durations and sizes as every limit flag takes them (`--timeout`,
//! `--max-cpu`, `--signal-grace`, `--max-memory`, `--call-timeout`).
//!
//! Besides not panicking: an accepted value is in range, a duration
//! written back by `format_duration` reads as the same duration (to the
//! millisecond its `1.5s` form keeps, and to f64's precision), and a size
//! is a whole number of bytes of its unit.

use super::assert_one_line;
use crate::units::{format_duration, format_size, parse_duration, parse_size};
use std::time::Duration;

/// Parses the text as a duration and as a size; see the module docs.
pub fn units(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse_duration(&text) {
        Ok(duration) => {
            let shown = format_duration(duration);
            let again = parse_duration(&shown)
                .unwrap_or_else(|e| panic!("{text:?} as {shown:?} does not reparse: {e}"));
            let off = duration.abs_diff(again);
            // f64 has 53 bits: past 2^53 ns it rounds.
            let tolerance =
                Duration::from_millis(1) + Duration::from_nanos((duration.as_nanos() >> 50) as u64);
            assert!(
                off <= tolerance,
                "{text:?}: {duration:?}, {shown:?}, {again:?}"
            );
        }
        Err(e) => assert_one_line(&e),
    }
    match parse_size(&text) {
        Ok(bytes) => {
            // A plain number of bytes is that number.
            if let Ok(n) = text.trim().parse::<u64>() {
                assert_eq!(bytes, n, "{text:?}");
            }
            let _ = format_size(bytes);
        }
        Err(e) => assert_one_line(&e),
    }
}
