//! Every unit spelling of PRODUCT.md and the issue, and the refusals.

use leuko_core::AnalyteId;
use leuko_core::units::{ValueError, parse_text_quantity, read_text, to_canonical};

use crate::support::kb;

fn canonical(analyte: AnalyteId, value: f64, unit: &str) -> Result<f64, ValueError> {
    let kb = kb();
    to_canonical(
        kb,
        kb.analyte(analyte).unwrap_or_else(|| panic!("analyte")),
        value,
        unit,
    )
}

#[test]
fn count_units() {
    for (value, unit) in [
        (4.0, "10^9/L"),
        (4.0, "10*9/L"),
        (4.0, "G/L"),
        (4.0, "10^3/µL"),
        (4.0, "10^3/μL"),
        (4.0, "10*3/uL"),
        (4.0, "K/uL"),
        (4.0, "K/µL"),
        (4.0, "x10^9/L"),
        (4.0, "×10⁹/L"),
        (4.0, "x10E9/L"),
        (4.0, "x10\\S\\9/L"),
        (4.0, "10^9/l"),
        (4.0, "thou/uL"),
        (4.0, "10*3/mm3"),
        (4000.0, "/µL"),
        (4000.0, "/uL"),
        (4000.0, "cells/mm³"),
        (4000.0, "cells/mm3"),
        (4000.0, "cells/uL"),
        (4000.0, "/cumm"),
        (4000.0, "per microliter"),
        (4000.0, "cells per microlitre"),
    ] {
        assert_eq!(
            canonical(AnalyteId::Wbc, value, unit),
            Ok(4.0),
            "{value} {unit}"
        );
    }
}

#[test]
fn free_text_spellings_of_reports() {
    let kb = kb();
    for (text, want) in [
        ("4x10^9/L", 4.0),
        ("4 x 10^9/L", 4.0),
        ("4х109", 4.0), // seed 001, Cyrillic "х" and a lost superscript
        ("4,000 per microliter", 4.0),
        ("4000/µL", 4.0),
        ("4.0 G/L", 4.0),
        ("4,0 G/L", 4.0),
        ("1,500 cells/mm3", 1.5),
        ("3.5 K/uL", 3.5),
    ] {
        let got = read_text(kb, AnalyteId::Wbc, text).map(|(v, _)| v);
        assert_eq!(got, Ok(want), "{text}");
    }
}

#[test]
fn comparators_in_text() {
    let q = parse_text_quantity("<0.5 x10^9/L").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(q.value, 0.5);
    assert_eq!(q.comparator, leuko_core::Comparator::Less);
}

#[test]
fn haemoglobin_units() {
    assert_eq!(canonical(AnalyteId::Hgb, 10.0, "g/dL"), Ok(10.0));
    assert_eq!(canonical(AnalyteId::Hgb, 100.0, "g/L"), Ok(10.0));
    let mmol = canonical(AnalyteId::Hgb, 6.2, "mmol/L").unwrap_or_else(|e| panic!("{e}"));
    assert!((mmol - 9.9882).abs() < 1e-9, "{mmol}");
}

#[test]
fn temperature_units() {
    assert_eq!(canonical(AnalyteId::Temperature, 38.0, "Cel"), Ok(38.0));
    assert_eq!(canonical(AnalyteId::Temperature, 100.4, "[degF]"), Ok(38.0));
    assert_eq!(canonical(AnalyteId::Temperature, 101.0, "°F"), Ok(38.33));
}

#[test]
fn implausible_magnitudes_are_refused_not_reinterpreted() {
    // 4000 "x10^9/L" is a count per microlitre with the wrong unit: refused, not divided.
    match canonical(AnalyteId::Wbc, 4000.0, "10^9/L") {
        Err(ValueError::Implausible { value, unit, .. }) => {
            assert_eq!(value, 4000.0);
            assert_eq!(unit, "10^9/L");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(
        canonical(AnalyteId::Hgb, 130.0, "g/dL"),
        Err(ValueError::Implausible { .. })
    ));
    assert!(matches!(
        canonical(AnalyteId::NeutPct, 130.0, "%"),
        Err(ValueError::Implausible { .. })
    ));
    assert!(matches!(
        canonical(AnalyteId::Wbc, f64::NAN, "10^9/L"),
        Err(ValueError::Implausible { .. })
    ));
    assert!(matches!(
        canonical(AnalyteId::Wbc, 4.0, "furlongs"),
        Err(ValueError::UnknownUnit { .. })
    ));
    // "g/L" is grams for haemoglobin but giga-cells for a count: the analyte decides.
    assert_eq!(canonical(AnalyteId::Plt, 150.0, "G/L"), Ok(150.0));
}

#[test]
fn not_a_number_is_an_error() {
    for text in ["", "abc", ",", "1,2,3 G/L", "--"] {
        assert!(parse_text_quantity(text).is_err(), "{text:?}");
    }
}

proptest::proptest! {
    #[test]
    fn text_parser_never_panics(text in "\\PC{0,40}") {
        let _ = read_text(kb(), AnalyteId::Wbc, &text);
    }

    #[test]
    fn per_microlitre_and_per_litre_agree(cells in 0u32..500_000) {
        let a = canonical(AnalyteId::Wbc, f64::from(cells), "/uL");
        let b = canonical(AnalyteId::Wbc, f64::from(cells) / 1000.0, "10^9/L");
        proptest::prop_assert_eq!(a.is_ok(), b.is_ok());
        if let (Ok(a), Ok(b)) = (a, b) {
            proptest::prop_assert!((a - b).abs() < 1e-12);
        }
    }
}
