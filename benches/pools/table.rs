//! Collected results and the printed table.

use std::fmt::Write as _;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Unit {
    /// Stored in seconds, shown in ms.
    Ms,
    /// Stored in seconds, shown in µs.
    Us,
    /// Stored in KiB, shown in MiB.
    MiB,
    /// A plain number (allocations per task).
    Count,
}

impl Unit {
    fn show(self, v: f64) -> String {
        match self {
            Unit::Ms if v < 0.01 => format!("{:.2}", v * 1e3),
            Unit::Ms => format!("{:.1}", v * 1e3),
            Unit::Us => format!("{:.1}", v * 1e6),
            Unit::MiB => format!("{:.1}", v / 1024.0),
            Unit::Count => format!("{v:.3}"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::Us => "µs",
            Unit::MiB => "MiB",
            Unit::Count => "",
        }
    }
}

pub struct Row {
    /// e.g. "W1 time".
    pub what: String,
    pub unit: Unit,
    pub contender: String,
    /// `Err(reason)` when not applicable.
    pub values: Result<Vec<f64>, String>,
}

#[derive(Default)]
pub struct Table {
    pub rows: Vec<Row>,
}

/// Contender whose median the ratio column divides by.
pub const REFERENCE: &str = "workerpool-c";

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

impl Table {
    /// Adds one value to the row (`what`, `contender`), creating it.
    pub fn push(&mut self, what: &str, unit: Unit, contender: &str, value: Result<f64, String>) {
        let row = match self
            .rows
            .iter_mut()
            .find(|r| r.what == what && r.contender == contender)
        {
            Some(row) => row,
            None => {
                self.rows.push(Row {
                    what: what.to_owned(),
                    unit,
                    contender: contender.to_owned(),
                    values: Ok(Vec::new()),
                });
                self.rows.last_mut().unwrap()
            }
        };
        match (value, &mut row.values) {
            (Ok(v), Ok(values)) => values.push(v),
            (Err(why), _) => row.values = Err(why),
            (Ok(_), Err(_)) => {}
        }
    }

    /// Whether the row exists and holds a failure (`n/a`, killed).
    pub fn failed(&self, what: &str, contender: &str) -> bool {
        self.rows
            .iter()
            .any(|r| r.what == what && r.contender == contender && r.values.is_err())
    }

    pub fn median(&self, what: &str, contender: &str) -> Option<f64> {
        let row = self
            .rows
            .iter()
            .find(|r| r.what == what && r.contender == contender)?;
        match &row.values {
            Ok(v) if !v.is_empty() => Some(median(v)),
            _ => None,
        }
    }

    /// Markdown table: median, min–max, runs, ratio to the reference.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("| workload | contender | median | min–max | runs | × workerpool-c |\n");
        out.push_str("|---|---|---:|---:|---:|---:|\n");
        for row in &self.rows {
            let unit = row.unit.label();
            let (med, range, runs, ratio) = match &row.values {
                Ok(v) if !v.is_empty() => {
                    let m = median(v);
                    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let ratio = match self.median(&row.what, REFERENCE) {
                        Some(r) if r > 0.0 => format!("{:.2}", m / r),
                        _ => "–".to_owned(),
                    };
                    (
                        format!("{} {unit}", row.unit.show(m)),
                        format!("{}–{} {unit}", row.unit.show(lo), row.unit.show(hi)),
                        v.len().to_string(),
                        ratio,
                    )
                }
                Ok(_) => ("n/a".into(), "no run".into(), "0".into(), "–".into()),
                Err(why) => ("n/a".into(), why.clone(), "0".into(), "–".into()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.what, row.contender, med, range, runs, ratio
            );
        }
        out
    }
}
