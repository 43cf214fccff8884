//! The HTML summary of a screen: counts by rule and level, and the distribution of the latest
//! ANC, as inline SVG bar charts (one self-contained file, no scripts, works offline).

use std::fmt::Write as _;

use crate::screen::{ANC_BIN, ANC_BINS, Worklist, counts};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Horizontal bars: one per label.
fn bars(rows: &[(String, u64)], colour: &str) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    let h = 22;
    let mut svg = format!(
        "<svg role=\"img\" width=\"720\" height=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        rows.len() * h + 4
    );
    for (i, (label, n)) in rows.iter().enumerate() {
        let y = i * h;
        let w = (*n as f64 / max * 380.0).round();
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text><rect x=\"300\" y=\"{}\" width=\"{w}\" height=\"16\" fill=\"{colour}\"><title>{}: {n}</title></rect><text x=\"{}\" y=\"{}\" font-size=\"12\">{n}</text>",
            y + 14,
            esc(label),
            y + 2,
            esc(label),
            300.0 + w + 4.0,
            y + 14
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The page.
pub fn html(list: &Worklist, source: &str) -> String {
    let mut by_rule: Vec<(String, u64)> = counts(&list.items)
        .into_iter()
        .map(|((rule, level), n)| (format!("{rule} ({level})"), n))
        .collect();
    by_rule.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut levels: std::collections::BTreeMap<String, u64> = Default::default();
    let mut patients = std::collections::BTreeSet::new();
    for it in &list.items {
        *levels.entry(it.level.clone()).or_insert(0) += 1;
        patients.insert(it.patient_id.as_str());
    }
    let hist: Vec<(String, u64)> = list
        .anc_histogram
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let lo = i as f64 * ANC_BIN;
            let label = if i + 1 == ANC_BINS {
                format!("{lo:.2} and over")
            } else {
                format!("{lo:.2} to {:.2}", lo + ANC_BIN)
            };
            (label, *n)
        })
        .collect();
    let mut as_of = String::new();
    crate::civil::format_timestamp(&mut as_of, list.as_of);
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>leuko screen</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}}</style></head><body>\
<h1>leuko screen</h1><p>Extract <code>{}</code>, as of {as_of}.</p>\
<p>{} patients with counts screened; {} results read by the rules (WBC, ANC, blasts, temperatures); {} flagged patients ({} worklist rows); {} results unreadable (unknown unit or implausible value); {} patients re-screened exactly (corrected results or possible persistent leukopenia).</p>\
<p>The worklist lists possible problems to review, not diagnoses.</p>",
        esc(source),
        list.patients,
        list.results_read,
        patients.len(),
        list.items.len(),
        list.unreadable,
        list.candidates
    );
    page.push_str("<h2>Worklist rows by level</h2><table><tr><th>level</th><th>rows</th></tr>");
    for (level, n) in &levels {
        let _ = write!(page, "<tr><td>{}</td><td>{n}</td></tr>", esc(level));
    }
    page.push_str("</table><h2>Rows by rule and level</h2>");
    page.push_str(&bars(&by_rule, "#b0413e"));
    page.push_str("<h2>Latest ANC of every patient (x10<sup>9</sup>/L)</h2>");
    page.push_str(&bars(&hist, "#3e6fb0"));
    page.push_str("</body></html>\n");
    page
}
