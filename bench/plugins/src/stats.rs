//! What every measurement shares: latency percentiles, this process's RSS,
//! and the one JSON line the binary prints (bench/run reads its last line).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The median and the 99th percentile of `samples`, in microseconds.
pub fn p50_p99(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    (percentile(samples, 0.50), percentile(samples, 0.99))
}

/// The `q` quantile (0..=1) of sorted `samples`, in microseconds (0 if empty).
fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

/// Times `count` rounds of `round`, one sample each.
pub fn sample<E>(
    count: usize,
    mut round: impl FnMut() -> Result<(), E>,
) -> Result<Vec<Duration>, E> {
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        round()?;
        samples.push(t.elapsed());
    }
    Ok(samples)
}

/// `count` operations in `elapsed`, per second.
pub fn per_s(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// This process's resident set size (`VmRSS` in `/proc/self/status`, Linux).
pub fn rss_bytes() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| "no VmRSS line in /proc/self/status".to_owned())
}

/// How many instances like these fit in a GiB of RSS, from the RSS growth
/// `grown` that `count` of them caused.
pub fn per_gib(count: usize, grown: u64) -> f64 {
    count as f64 * (1u64 << 30) as f64 / grown.max(1) as f64
}

/// One runtime's figures: a JSON object of numbers (and its name).
#[derive(Debug)]
pub struct Row {
    runtime: &'static str,
    figures: Vec<(String, f64)>,
}

impl Row {
    /// An empty row for `runtime`.
    pub fn new(runtime: &'static str) -> Row {
        Row {
            runtime,
            figures: Vec::new(),
        }
    }

    /// Adds one figure.
    pub fn set(&mut self, key: impl Into<String>, value: f64) -> &mut Row {
        self.figures.push((key.into(), value));
        self
    }

    /// Adds `<key>_p50_us` and `<key>_p99_us` from `samples`.
    pub fn latency(&mut self, key: &str, samples: &mut [Duration]) -> &mut Row {
        let (p50, p99) = p50_p99(samples);
        self.set(format!("{key}_p50_us"), p50)
            .set(format!("{key}_p99_us"), p99)
    }

    /// The row as a JSON object.
    pub fn json(&self) -> String {
        let mut out = format!("{{\"runtime\":\"{}\"", self.runtime);
        for (key, value) in &self.figures {
            let _ = write!(out, ",\"{key}\":{}", number(*value));
        }
        out.push('}');
        out
    }
}

/// A JSON number: integers without a fraction, others with 3 decimals.
fn number(value: f64) -> String {
    if !value.is_finite() {
        "null".to_owned()
    } else if value.fract() == 0.0 || value.abs() >= 1000.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

/// The JSON line of all rows: `{"rows":[...]}`.
pub fn json_line(rows: &[Row]) -> String {
    let rows: Vec<String> = rows.iter().map(Row::json).collect();
    format!("{{\"rows\":[{}]}}", rows.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let (p50, p99) = p50_p99(&mut samples);
        assert_eq!(p50, 51.0); // index round(99 * 0.5) = 50 -> 51 µs
        assert_eq!(p99, 99.0); // index round(99 * 0.99) = 98 -> 99 µs
        assert_eq!(p50_p99(&mut []), (0.0, 0.0));
    }

    #[test]
    fn rows_print_as_one_json_object() {
        let mut row = Row::new("raw");
        row.set("calls_per_s", 1_234_567.8)
            .set("x", 1.5)
            .set("n", f64::NAN);
        assert_eq!(
            json_line(&[row]),
            r#"{"rows":[{"runtime":"raw","calls_per_s":1234568,"x":1.500,"n":null}]}"#
        );
    }

    #[test]
    fn idle_density_is_instances_per_gib_of_growth() {
        assert_eq!(per_gib(1000, 1 << 20), 1_024_000.0);
        assert!(rss_bytes().unwrap() > 0);
    }
}
