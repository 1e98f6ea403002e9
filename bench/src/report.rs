//! Figures, their budgets, and the two ways they are printed: one JSON line for machines
//! (hand-written, so the bench needs no JSON crate) and a table for people.

use std::fmt::Write as _;

/// Whether a failed budget fails the run. Hard budgets do not depend on machine speed
/// (size, static linking, memory), so CI can hold them on any machine.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hard,
    Soft,
}

/// How a value is held to its budget.
#[derive(Clone, Copy)]
pub enum Budget {
    AtMost(f64),
    AtLeast(f64),
    /// A yes/no check that must be yes.
    True,
}

pub struct Figure {
    pub name: &'static str,
    pub unit: &'static str,
    /// `None` when the figure could not be measured (counts as failed).
    pub value: Option<f64>,
    pub budget: Budget,
    pub kind: Kind,
    /// What was seen, for checks and failures (e.g. the `ldd` output).
    pub note: String,
}

impl Figure {
    pub fn new(name: &'static str, unit: &'static str, value: Option<f64>, budget: Budget, kind: Kind) -> Figure {
        Figure { name, unit, value, budget, kind, note: String::new() }
    }

    pub fn check(name: &'static str, ok: bool, kind: Kind, note: impl Into<String>) -> Figure {
        Figure {
            name,
            unit: "",
            value: Some(if ok { 1.0 } else { 0.0 }),
            budget: Budget::True,
            kind,
            note: note.into(),
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Figure {
        self.note = note.into();
        self
    }

    pub fn pass(&self) -> bool {
        match (self.value, self.budget) {
            (None, _) => false,
            (Some(v), Budget::AtMost(b)) => v <= b,
            (Some(v), Budget::AtLeast(b)) => v >= b,
            (Some(v), Budget::True) => v == 1.0,
        }
    }
}

pub struct Report {
    pub mode: String,
    pub commit: String,
    pub figures: Vec<Figure>,
}

impl Report {
    pub fn hard_failures(&self) -> usize {
        self.figures.iter().filter(|f| f.kind == Kind::Hard && !f.pass()).count()
    }

    pub fn json(&self) -> String {
        let mut s =
            format!(r#"{{"bench":"hermes-lite","mode":{},"commit":{},"figures":["#, esc(&self.mode), esc(&self.commit));
        for (i, f) in self.figures.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let value = match (f.value, f.budget) {
                (None, _) => "null".to_string(),
                (Some(v), Budget::True) => (v == 1.0).to_string(),
                (Some(v), _) => num(v),
            };
            let (op, budget) = match f.budget {
                Budget::AtMost(b) => ("<=", num(b)),
                Budget::AtLeast(b) => (">=", num(b)),
                Budget::True => ("==", "true".to_string()),
            };
            let kind = if f.kind == Kind::Hard { "hard" } else { "soft" };
            let _ = write!(
                s,
                r#"{{"name":{},"value":{value},"unit":{},"budget":{budget},"op":"{op}","kind":"{kind}","pass":{},"note":{}}}"#,
                esc(f.name),
                esc(f.unit),
                f.pass(),
                esc(&f.note)
            );
        }
        let _ = write!(s, r#"],"hard_failures":{}}}"#, self.hard_failures());
        s
    }

    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "| figure | value | budget | kind | result |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for f in &self.figures {
            let value = match (f.value, f.budget) {
                (None, _) => "not measured".to_string(),
                (Some(v), Budget::True) => if v == 1.0 { "yes" } else { "no" }.to_string(),
                (Some(v), _) => format!("{} {}", short(v), f.unit).trim_end().to_string(),
            };
            let budget = match f.budget {
                Budget::AtMost(b) => format!("≤ {} {}", short(b), f.unit).trim_end().to_string(),
                Budget::AtLeast(b) => format!("≥ {} {}", short(b), f.unit).trim_end().to_string(),
                Budget::True => "yes".to_string(),
            };
            let kind = if f.kind == Kind::Hard { "hard" } else { "soft" };
            let result = if f.pass() { "pass" } else { "FAIL" };
            let note = if f.note.is_empty() { String::new() } else { format!(" ({})", f.note.replace('|', "/")) };
            let _ = writeln!(s, "| {}{note} | {value} | {budget} | {kind} | {result} |", f.name);
        }
        s
    }
}

/// A JSON number; non-finite values become null.
fn num(v: f64) -> String {
    if !v.is_finite() {
        return "null".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v:.3}") }
}

/// A number for the table: integers as is, others with 2 decimals (3 below 0.1).
fn short(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() < 0.1 {
        format!("{v:.3}")
    } else {
        format!("{v:.2}")
    }
}

/// A JSON string literal.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_holds_every_figure_and_counts_hard_failures() {
        let r = Report {
            mode: "quick".into(),
            commit: "abc1234".into(),
            figures: vec![
                Figure::new("idle RSS", "MiB", Some(7.5), Budget::AtMost(6.0), Kind::Hard),
                Figure::new("throughput", "msgs/s", Some(120.0), Budget::AtLeast(300.0), Kind::Soft),
                Figure::check("static", true, Kind::Hard, "ldd: \"statically linked\""),
                Figure::new("p50", "ms", None, Budget::AtMost(5.0), Kind::Soft),
            ],
        };
        let j = r.json();
        assert!(!j.contains('\n'));
        assert!(j.contains(
            r#""name":"idle RSS","value":7.500,"unit":"MiB","budget":6,"op":"<=","kind":"hard","pass":false"#
        ));
        assert!(j.contains(r#""value":120,"unit":"msgs/s","budget":300,"op":">=","kind":"soft","pass":false"#));
        assert!(j.contains(r#""value":true"#) && j.contains(r#"ldd: \"statically linked\""#));
        assert!(j.contains(r#""value":null"#));
        assert!(j.ends_with(r#""hard_failures":1}"#));
        assert_eq!(r.hard_failures(), 1);
        assert!(r.table().contains("| idle RSS | 7.50 MiB | ≤ 6 MiB | hard | FAIL |"));
    }
}
