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

/// One line per target and pool API: met or missed, with the numbers.
pub fn check(t: &Table) -> String {
    let mut out = String::from("Targets (medians of this run):\n");
    let mut c = Check { out: &mut out };
    for pool in POOLS {
        for (w, limit_row, floor) in [
            ("W1", "crossbeam", 0.67),
            ("W2", "crossbeam", 0.67),
            ("W3", "crossbeam-unbounded", 0.25),
        ] {
            let what = format!("{w} time");
            let (wp, limit) = (t.median(&what, pool), t.median(&what, limit_row));
            let name = format!("{w} {pool} throughput ≥ {floor}× {limit_row}");
            match (wp, limit) {
                (Some(wp), Some(limit)) => {
                    let ratio = limit / wp;
                    c.line(
                        &name,
                        Some(ratio >= floor),
                        format!("{:.1} ms vs {:.1} ms: {ratio:.2}×", wp * 1e3, limit * 1e3),
                    )
                }
                _ => c.line(&name, None, "no data".into()),
            }
        }
        let name = format!("W4 {pool} ≤ 105 ms");
        match t.median("W4 time", pool) {
            Some(v) => c.line(&name, Some(v <= 0.105), format!("{:.1} ms", v * 1e3)),
            None => c.line(&name, None, "no data".into()),
        }
        let name = format!("W5 {pool} p50 ≤ crossbeam p50");
        match (t.median("W5 p50", pool), t.median("W5 p50", "crossbeam")) {
            (Some(wp), Some(cb)) => c.line(
                &name,
                Some(wp <= cb),
                format!("{:.1} µs vs {:.1} µs", wp * 1e6, cb * 1e6),
            ),
            _ => c.line(&name, None, "no data".into()),
        }
        let name = format!("W5 {pool} p99 < 25 µs");
        match t.median("W5 p99", pool) {
            Some(v) => c.line(&name, Some(v < 25e-6), format!("{:.1} µs", v * 1e6)),
            None => c.line(&name, None, "no data".into()),
        }
        let name = format!("idle {pool} CPU < 10 ms / 5 s");
        match t.median("idle CPU /5 s", pool) {
            Some(v) => c.line(&name, Some(v < 0.010), format!("{:.2} ms", v * 1e3)),
            None => c.line(&name, None, "no data".into()),
        }
        let name = format!("W6 {pool} wall ≤ 1.2 s");
        match t.median("W6 time", pool) {
            Some(v) => c.line(&name, Some(v <= 1.2), format!("{:.0} ms", v * 1e3)),
            None => c.line(&name, None, "no data".into()),
        }
        let name = format!("W6 {pool} peak RSS ≤ 0.9× crossbeam");
        match (
            t.median("W6 peak RSS", pool),
            t.median("W6 peak RSS", "crossbeam"),
        ) {
            (Some(wp), Some(cb)) => c.line(
                &name,
                Some(wp <= 0.9 * cb),
                format!(
                    "{:.1} MiB vs {:.1} MiB: {:.2}×",
                    wp / 1024.0,
                    cb / 1024.0,
                    wp / cb
                ),
            ),
            _ => c.line(&name, None, "no data".into()),
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
