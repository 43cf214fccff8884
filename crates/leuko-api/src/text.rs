//! The terminal rendering of an assessment: a banner, the counts and grades, the causes with
//! their evidence, the work-up, the explanation with numbered citations, and what is missing.

use std::fmt::Write as _;

use crate::output::AssessmentJson;

/// Whether to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// ANSI colours.
    Always,
    /// Plain text.
    Never,
}

fn paint(color: Color, code: &str, text: &str) -> String {
    match color {
        Color::Always => format!("\x1b[{code}m{text}\x1b[0m"),
        Color::Never => text.to_owned(),
    }
}

/// Renders the assessment as text.
pub fn render(a: &AssessmentJson, color: Color) -> String {
    let mut out = String::new();
    let mut refs: Vec<String> = Vec::new();
    let mut cite = |ids: &[String]| -> String {
        let mut nums = Vec::new();
        for id in ids {
            let n = match refs.iter().position(|r| r == id) {
                Some(i) => i + 1,
                None => {
                    refs.push(id.clone());
                    refs.len()
                }
            };
            if !nums.contains(&n) {
                nums.push(n);
            }
        }
        if nums.is_empty() {
            String::new()
        } else {
            format!(
                " [{}]",
                nums.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
    };
    let level = a.triage.level.to_uppercase();
    let code = match a.triage.level {
        "emergency" => "1;97;41",
        "urgent" => "1;30;43",
        "soon" => "1;30;46",
        "routine" => "1;30;42",
        _ => "1;30;47",
    };
    let headline = a
        .triage
        .rules
        .first()
        .map(|r| r.plain.clone())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} {}",
        paint(color, code, &format!(" {level} ")),
        headline
    );
    for r in a.triage.rules.iter().filter(|r| r.level == a.triage.level) {
        let c = cite(&r.sources);
        let _ = writeln!(
            out,
            "  - {}{}{c}",
            r.text,
            if r.detail.is_empty() {
                String::new()
            } else {
                format!(" [{}]", r.detail)
            }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", paint(color, "1", "Counts"));
    for c in &a.counts {
        let flag = match (c.low, c.low_for_general_population) {
            ("yes", _) => paint(color, "31", " L"),
            ("no", "yes") => " (low for the general population, not for this person)".to_owned(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<12} {:>8} {:<7} {}{}{}",
            c.analyte,
            crate::output::num(c.value),
            c.unit,
            &c.at.get(..10).unwrap_or(""),
            if c.derived { " (computed)" } else { "" },
            flag
        );
    }
    let grades: Vec<String> = a
        .grades
        .ctcae_v5
        .iter()
        .map(|(k, g)| format!("{k} {g}"))
        .collect();
    if !grades.is_empty() {
        let c = cite(&["ctcae-v5".to_owned()]);
        let _ = writeln!(
            out,
            "  CTCAE v{}: {}{c}",
            a.grades.ctcae_version,
            grades.join(", ")
        );
    }
    if let Some(n) = &a.neutropenia
        && let Some(s) = &n.severity
    {
        let _ = writeln!(
            out,
            "  Neutropenia: {s} (ANC {} below {})",
            crate::output::num(n.anc),
            crate::output::num(n.threshold)
        );
    }
    for f in a.febrile_neutropenia.iter().filter(|f| f.met != "no") {
        let c = cite(&f.sources);
        let _ = writeln!(
            out,
            "  {}: {} ({}){c}",
            f.name,
            if f.met == "yes" {
                "met"
            } else {
                "possibly met"
            },
            f.why
        );
    }
    if let Some(cz) = &a.clozapine {
        let _ = writeln!(
            out,
            "  Clozapine: {} ({} table). {} {}",
            cz.category, cz.table, cz.action, cz.monitoring
        );
    }
    for p in &a.patterns {
        let _ = writeln!(out, "  Pattern: {}", p.text);
    }
    if !a.differential.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            paint(color, "1", "Possible causes (not a diagnosis)")
        );
        for (i, c) in a.differential.iter().take(5).enumerate() {
            let marker = if c.cant_miss {
                paint(color, "35", " [can't miss]")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {}. {} [{}] {:.0}%{marker}",
                i + 1,
                c.name,
                c.icd10.join(", "),
                c.weight * 100.0
            );
            for e in c.evidence_for.iter().take(3) {
                let cc = cite(&e.sources);
                let _ = writeln!(out, "       + {} ({}){cc}", e.why, e.detail);
            }
            for e in c.evidence_against.iter().take(2) {
                let cc = cite(&e.sources);
                let _ = writeln!(out, "       - {} ({}){cc}", e.why, e.detail);
            }
        }
        if !a.cant_miss_open.is_empty() {
            let _ = writeln!(
                out,
                "  Still open, not to be missed: {}",
                a.cant_miss_open.join(", ")
            );
        }
        if let Some(d) = &a.discriminating_test {
            let _ = writeln!(
                out,
                "  Best test to separate {} and {}: {}",
                d.between[0], d.between[1], d.name
            );
        }
    }
    if !a.workup.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", paint(color, "1", "Work-up"));
        for (i, w) in a.workup.iter().enumerate() {
            let c = cite(&w.sources);
            let loinc = w
                .loinc
                .as_ref()
                .map(|l| format!(" (LOINC {l})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}. [{}] {}{loinc}: {}{c}",
                i + 1,
                w.priority,
                w.name,
                w.reason
            );
        }
    }
    if !a.actions.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", paint(color, "1", "Actions"));
        for x in &a.actions {
            let c = cite(&x.sources);
            let _ = writeln!(out, "  - {}{c}", x.text);
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", paint(color, "1", "In plain words"));
    for s in &a.explanation.plain {
        let c = cite(&s.sources);
        let _ = writeln!(out, "  {}{c}", s.text);
    }
    if !a.missing.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            paint(color, "1", "Missing, and what it would change")
        );
        for m in &a.missing {
            let _ = writeln!(out, "  - {}: {}", m.what, m.would_change);
        }
    }
    if !a.input_notes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", paint(color, "1", "Notes on the input"));
        for n in &a.input_notes {
            let _ = writeln!(out, "  - {}: {}", n.field, n.message);
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", paint(color, "1", "Sources"));
    for (i, id) in refs.iter().enumerate() {
        let s = a.sources.get(id);
        let _ = writeln!(
            out,
            "  [{}] {}{}",
            i + 1,
            s.map_or(id.as_str(), |s| s.citation.as_str()),
            s.filter(|s| s.confidence != "confirmed")
                .map(|s| format!(" ({})", s.confidence))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} (knowledge {}, as of {})",
        crate::output::DISCLAIMER,
        a.knowledge.version,
        a.as_of
    );
    out
}
