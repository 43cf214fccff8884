//! Golden table: every CTCAE v5.0 boundary of research/clinical.md section 2 (NCI CTCAE v5.0,
//! via pharmaverse/admiral). A value on a boundary takes the milder grade.

use leuko_core::{AnalyteId, Comparator, Observation, ctcae_grade};
use time::macros::datetime;

use crate::support::kb;

fn grade(key: &str, value: f64, reported: Option<(f64, &str)>, lln: Option<f64>) -> u8 {
    let term = kb()
        .grading
        .ctcae
        .term
        .iter()
        .find(|t| t.key == key)
        .unwrap_or_else(|| panic!("no term {key}"));
    let obs = Observation {
        analyte: term.analyte,
        at: datetime!(2026-01-01 0:00 UTC),
        value,
        comparator: Comparator::Equal,
        reported: reported.map(|(v, u)| (v, u.to_owned())),
        reference_range: None,
        derived: false,
        source_ref: String::new(),
    };
    ctcae_grade(term, &obs, lln)
}

/// (key, value in 10^9/L or g/dL, LLN, expected grade)
const TABLE: &[(&str, f64, f64, u8)] = &[
    // White blood cell decreased: <LLN-3.0; <3.0-2.0; <2.0-1.0; <1.0.
    ("wbc", 4.5, 4.5, 0),
    ("wbc", 4.49, 4.5, 1),
    ("wbc", 3.0, 4.5, 1),
    ("wbc", 2.99, 4.5, 2),
    ("wbc", 2.0, 4.5, 2),
    ("wbc", 1.99, 4.5, 3),
    ("wbc", 1.0, 4.5, 3),
    ("wbc", 0.99, 4.5, 4),
    ("wbc", 0.0, 4.5, 4),
    // Neutrophil count decreased: <LLN-1.5; <1.5-1.0; <1.0-0.5; <0.5.
    ("anc", 1.8, 1.8, 0),
    ("anc", 1.79, 1.8, 1),
    ("anc", 1.5, 1.8, 1),
    ("anc", 1.49, 1.8, 2),
    ("anc", 1.0, 1.8, 2),
    ("anc", 0.99, 1.8, 3),
    ("anc", 0.5, 1.8, 3),
    ("anc", 0.49, 1.8, 4),
    // With an LLN of 1.5 there is no grade-1 neutropenia.
    ("anc", 1.5, 1.5, 0),
    // Lymphocyte count decreased: <LLN-0.8; <0.8-0.5; <0.5-0.2; <0.2.
    ("lymphocytes", 1.0, 1.0, 0),
    ("lymphocytes", 0.8, 1.0, 1),
    ("lymphocytes", 0.79, 1.0, 2),
    ("lymphocytes", 0.5, 1.0, 2),
    ("lymphocytes", 0.49, 1.0, 3),
    ("lymphocytes", 0.2, 1.0, 3),
    ("lymphocytes", 0.19, 1.0, 4),
    // Platelet count decreased: <LLN-75; <75-50; <50-25; <25.
    ("platelets", 150.0, 150.0, 0),
    ("platelets", 75.0, 150.0, 1),
    ("platelets", 74.9, 150.0, 2),
    ("platelets", 50.0, 150.0, 2),
    ("platelets", 49.9, 150.0, 3),
    ("platelets", 25.0, 150.0, 3),
    ("platelets", 24.9, 150.0, 4),
    // Anemia: <LLN-10.0 g/dL; <10.0-8.0; <8.0 (grade 4 is clinical, not a lab value).
    ("anemia", 12.0, 12.0, 0),
    ("anemia", 10.0, 12.0, 1),
    ("anemia", 9.9, 12.0, 2),
    ("anemia", 8.0, 12.0, 2),
    ("anemia", 7.9, 12.0, 3),
    ("anemia", 4.0, 12.0, 3),
];

#[test]
fn every_ctcae_v5_boundary() {
    for &(key, value, lln, want) in TABLE {
        assert_eq!(
            grade(key, value, None, Some(lln)),
            want,
            "{key} {value} with LLN {lln}"
        );
    }
}

#[test]
fn boundaries_hold_in_cells_per_cubic_millimetre() {
    // 1500/mm3 read through the unit table must land exactly on 1.5 x10^9/L.
    let kb = kb();
    let anc = kb.analyte(AnalyteId::Anc).unwrap_or_else(|| panic!("anc"));
    for (per_mm3, want) in [
        (1500.0, 1),
        (1499.0, 2),
        (1000.0, 2),
        (999.0, 3),
        (500.0, 3),
        (499.0, 4),
    ] {
        let v = leuko_core::units::to_canonical(kb, anc, per_mm3, "/mm3")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(grade("anc", v, None, Some(1.8)), want, "{per_mm3}/mm3");
    }
    let wbc = kb.analyte(AnalyteId::Wbc).unwrap_or_else(|| panic!("wbc"));
    for (per_mm3, want) in [
        (3000.0, 1),
        (2999.0, 2),
        (2000.0, 2),
        (1999.0, 3),
        (1000.0, 3),
        (999.0, 4),
    ] {
        let v = leuko_core::units::to_canonical(kb, wbc, per_mm3, "cells/mm³")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(grade("wbc", v, None, Some(4.5)), want, "{per_mm3}/mm3");
    }
}

#[test]
fn anaemia_boundaries_in_g_per_litre_and_mmol_per_litre() {
    // CTCAE publishes its own mmol/L thresholds (6.2 and 4.9); on the boundary, the milder grade.
    for (mmol, want) in [(6.2, 1), (6.19, 2), (4.9, 2), (4.89, 3)] {
        let gdl = mmol * 1.611;
        assert_eq!(
            grade("anemia", gdl, Some((mmol, "mmol/L")), Some(12.0)),
            want,
            "{mmol} mmol/L"
        );
    }
    for (gl, want) in [(100.0, 1), (99.0, 2), (80.0, 2), (79.0, 3)] {
        let kb = kb();
        let hgb = kb.analyte(AnalyteId::Hgb).unwrap_or_else(|| panic!("hgb"));
        let gdl =
            leuko_core::units::to_canonical(kb, hgb, gl, "g/L").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(grade("anemia", gdl, None, Some(12.0)), want, "{gl} g/L");
    }
}

#[test]
fn a_less_than_result_is_graded_below_its_value() {
    let term = kb()
        .grading
        .ctcae
        .term
        .iter()
        .find(|t| t.key == "anc")
        .unwrap_or_else(|| panic!("anc"));
    let obs = Observation {
        analyte: AnalyteId::Anc,
        at: datetime!(2026-01-01 0:00 UTC),
        value: 0.5,
        comparator: Comparator::Less,
        reported: None,
        reference_range: None,
        derived: false,
        source_ref: String::new(),
    };
    assert_eq!(ctcae_grade(term, &obs, Some(1.8)), 4, "<0.5 is grade 4");
}
