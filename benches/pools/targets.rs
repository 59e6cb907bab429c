//! The targets, checked on the medians of this run.

use std::fmt::Write as _;

use crate::table::Table;

const POOLS: [&str; 2] = ["workerpool-c", "workerpool-rust"];

struct Check<'a> {
    out: &'a mut String,
}

impl Check<'_> {
    fn line(&mut self, name: &str, met: Option<bool>, detail: String) {
        let verdict = match met {
            Some(true) => "MET",
            Some(false) => "MISSED",
            None => "NOT MEASURED",
        };
        let _ = writeln!(self.out, "- {name}: **{verdict}** — {detail}");
    }
}

/// Issue 18's bars against the raw channel ("the limit"): (name, row,
/// baseline contender, most, scale, unit), met when the pool's median is
/// at most `most` times the baseline's. W1-W3 are throughputs, so a floor
/// of 0.35× is a time of at most 1 / 0.35 times the channel's.
type Ratio = (
    &'static str,
    &'static str,
    &'static str,
    f64,
    f64,
    &'static str,
);
#[rustfmt::skip]
const RATIOS: [Ratio; 6] = [
    ("W1 throughput ≥ 1.0× crossbeam", "W1 time", "crossbeam", 1.0, 1e3, "ms"),
    ("W2 throughput ≥ 1.0× crossbeam", "W2 time", "crossbeam", 1.0, 1e3, "ms"),
    ("W3 throughput ≥ 0.35× crossbeam-unbounded", "W3 time", "crossbeam-unbounded", 1.0 / 0.35, 1e3, "ms"),
    ("W5 p50 ≤ 0.8× crossbeam p50", "W5 p50", "crossbeam", 0.8, 1e6, "µs"),
    ("W5 p99 ≤ crossbeam p99", "W5 p99", "crossbeam", 1.0, 1e6, "µs"),
    ("W6 peak RSS ≤ 0.85× crossbeam", "W6 peak RSS", "crossbeam", 0.85, 1.0 / 1024.0, "MiB"),
];

/// Bars on the pool's own median: (name, row, at most, scale, unit).
const ABSOLUTE: [(&str, &str, f64, f64, &str); 3] = [
    ("W4 ≤ 105 ms", "W4 time", 0.105, 1e3, "ms"),
    // Issue 18 asks under 10 ms in 3 s; the suite idles 5 s.
    ("idle CPU < 10 ms / 5 s", "idle CPU /5 s", 0.010, 1e3, "ms"),
    ("W6 wall ≤ 1.08 s", "W6 time", 1.08, 1e3, "ms"),
];

/// One line per target and pool API: met or missed, with the numbers.
pub fn check(t: &Table) -> String {
    let mut out = String::from("Targets (medians of this run):\n");
    let mut c = Check { out: &mut out };
    for pool in POOLS {
        for (name, row, baseline, most, scale, unit) in RATIOS {
            let name = format!("{pool} {name}");
            let what = if unit == "MiB" { "size" } else { "time" };
            match (t.median(row, pool), t.median(row, baseline)) {
                (Some(wp), Some(base)) => c.line(
                    &name,
                    Some(wp <= most * base),
                    format!(
                        "{:.1} {unit} vs {:.1} {unit} ({baseline}): {:.2} of its {what}",
                        wp * scale,
                        base * scale,
                        wp / base,
                    ),
                ),
                _ => c.line(&name, None, "no data".into()),
            }
        }
        for (name, row, most, scale, unit) in ABSOLUTE {
            let name = format!("{pool} {name}");
            match t.median(row, pool) {
                Some(v) => c.line(&name, Some(v <= most), format!("{:.2} {unit}", v * scale)),
                None => c.line(&name, None, "no data".into()),
            }
        }
    }
    // Zero per task: a hand-off pool's backlog is at most its workers, so
    // after the warm-up nothing may be allocated. An unbounded queue's
    // backlog (and the blocks it needs) grows as far as the producer runs
    // ahead: reported, not judged.
    let name = "zero heap allocations per C task (workerpool-c, hand-off)";
    let unbounded = t.median("allocs/task", "workerpool-c").map_or_else(
        || "unbounded queue: no data".to_owned(),
        |v| {
            format!(
                "unbounded queue: {v:.4} per task ({:.0} in 100,000)",
                v * 100_000.0
            )
        },
    );
    match t.median("allocs/task hand-off", "workerpool-c") {
        Some(v) => c.line(
            name,
            Some(v * 100_000.0 <= 16.0),
            format!(
                "{v:.4} per task ({:.0} in 100,000 tasks); {unbounded}",
                v * 100_000.0
            ),
        ),
        None => c.line(name, None, "no data".into()),
    }
    out
}
