//! Safety invariants over generated records: lowering a count, adding a fever or adding a red
//! flag never lowers the triage level; fever with ANC below 0.5 is always an emergency.

use leuko_core::{AnalyteId, Level};
use proptest::prelude::*;

use crate::support::R;

fn record(wbc: f64, anc: f64, hgb: f64, plt: f64, age_years: i64, drug: Option<&'static str>) -> R {
    let born = crate::support::AS_OF.date() - time::Duration::days(age_years * 365 + 10);
    let mut r = R::adult().born(born).cbc(wbc.max(anc), anc, hgb, plt);
    if let Some(d) = drug {
        r = r.drug(d, 40, None);
    }
    r
}

fn with_fever(r: R) -> R {
    r.lab(AnalyteId::Temperature, 38.6)
}

const RED_FLAGS: &[&str] = &[
    "sepsis",
    "night-sweats",
    "weight-loss",
    "splenomegaly",
    "lymphadenopathy",
    "recurrent-infections",
    "mouth-ulcers",
    "petechiae",
    "hypotension",
];
const DRUGS: &[Option<&str>] = &[
    None,
    Some("clozapine"),
    Some("carbimazole"),
    Some("paclitaxel"),
    Some("metformin"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn lowering_the_anc_never_lowers_the_level(
        anc in 0.0f64..6.0, factor in 0.0f64..1.0, wbc in 0.5f64..12.0, hgb in 6.0f64..16.0, plt in 10.0f64..400.0,
        age in 1i64..90, drug in proptest::sample::select(DRUGS.to_vec()), fever in any::<bool>(),
    ) {
        let high = record(wbc, anc, hgb, plt, age, drug);
        let low = record(wbc, anc * factor, hgb, plt, age, drug);
        let (high, low) = if fever { (with_fever(high), with_fever(low)) } else { (high, low) };
        let (a, b) = (high.assess().level, low.assess().level);
        prop_assert!(b >= a, "ANC {} -> {}: {:?} -> {:?}", anc, anc * factor, a, b);
    }

    #[test]
    fn lowering_other_lines_never_lowers_the_level(
        anc in 0.0f64..6.0, wbc in 0.5f64..12.0, hgb in 6.0f64..16.0, plt in 10.0f64..400.0, f in 0.3f64..1.0,
        age in 1i64..90,
    ) {
        let a = record(wbc, anc, hgb, plt, age, None).assess().level;
        let b = record(wbc * f, anc * f, hgb * f, plt * f, age, None).assess().level;
        prop_assert!(b >= a, "{:?} -> {:?}", a, b);
    }

    #[test]
    fn adding_fever_never_lowers_the_level(
        anc in 0.0f64..6.0, wbc in 0.5f64..12.0, hgb in 6.0f64..16.0, plt in 10.0f64..400.0,
        age in 1i64..90, drug in proptest::sample::select(DRUGS.to_vec()),
    ) {
        let r = record(wbc, anc, hgb, plt, age, drug);
        let a = r.assess().level;
        let b = with_fever(r).assess().level;
        prop_assert!(b >= a, "{:?} -> {:?}", a, b);
    }

    #[test]
    fn adding_a_red_flag_never_lowers_the_level(
        anc in 0.0f64..6.0, wbc in 0.5f64..12.0, hgb in 6.0f64..16.0, plt in 10.0f64..400.0,
        age in 1i64..90, flag in proptest::sample::select(RED_FLAGS.to_vec()), fever in any::<bool>(),
    ) {
        let mut r = record(wbc, anc, hgb, plt, age, None);
        if fever { r = with_fever(r); }
        let a = r.assess().level;
        let b = r.condition(flag).assess().level;
        prop_assert!(b >= a, "{}: {:?} -> {:?}", flag, a, b);
        let c = record(wbc, anc, hgb, plt, age, None).lab(AnalyteId::BlastPct, 5.0).assess().level;
        prop_assert!(c >= Level::Urgent);
    }

    #[test]
    fn fever_with_anc_below_half_is_always_an_emergency(
        anc in 0.0f64..0.4999, wbc in 0.5f64..12.0, hgb in 6.0f64..16.0, plt in 10.0f64..400.0,
        age in 0i64..90, drug in proptest::sample::select(DRUGS.to_vec()),
    ) {
        let r = with_fever(record(wbc, anc, hgb, plt, age, drug));
        prop_assert_eq!(r.assess().level, Level::Emergency);
        let reported = record(wbc, anc, hgb, plt, age, drug).condition("fever");
        prop_assert_eq!(reported.assess().level, Level::Emergency);
    }

    #[test]
    fn assessing_never_panics_and_cites_sources(
        anc in proptest::option::of(0.0f64..50.0), wbc in proptest::option::of(0.0f64..100.0),
        days in proptest::collection::vec(0i64..800, 0..6), age in proptest::option::of(0i64..100),
    ) {
        let mut r = R::adult();
        if let Some(a) = age { r = r.born(crate::support::AS_OF.date() - time::Duration::days(a * 365)); } else { r.0.patient.birth_date = None; }
        for d in &days {
            if let Some(v) = anc { r = r.lab_at(AnalyteId::Anc, v, *d); }
            if let Some(v) = wbc { r = r.lab_at(AnalyteId::Wbc, v, *d); }
        }
        let a = r.assess();
        for s in &leuko_core::explanation(crate::support::kb(), &a) {
            prop_assert!(!s.sources.is_empty(), "statement without a source: {}", s.text);
        }
        prop_assert!(!a.fired.is_empty());
    }
}
