//! Patterns across counts and clinical behaviour on small, hand-made records.

use leuko_core::{AnalyteId, Level, Truth};

use crate::support::{R, top};

fn truth(a: &leuko_core::Assessment, id: &str) -> Truth {
    a.findings.get(id).map_or(Truth::Unknown, |f| f.truth)
}

#[test]
fn anc_is_computed_from_the_percent_differential_with_bands() {
    let a = R::adult()
        .lab(AnalyteId::Wbc, 3.0)
        .lab(AnalyteId::NeutPct, 30.0)
        .lab(AnalyteId::BandPct, 5.0)
        .assess();
    let anc = a
        .counts
        .iter()
        .find(|c| c.analyte == AnalyteId::Anc)
        .unwrap_or_else(|| panic!("no ANC"));
    assert!(anc.derived);
    assert!((anc.value - 1.05).abs() < 1e-9);
    assert_eq!(
        a.grades.iter().find(|g| g.key == "anc").map(|g| g.grade),
        Some(2)
    );
}

#[test]
fn persistence_needs_a_month_and_a_low_latest_count() {
    let a = R::adult()
        .lab_at(AnalyteId::Anc, 1.2, 60)
        .lab_at(AnalyteId::Anc, 1.1, 0)
        .assess();
    assert_eq!(truth(&a, "persistent"), Truth::True);
    assert!(a.fired.iter().any(|f| f.rule == "persistent-unexplained"));
    let b = R::adult()
        .lab_at(AnalyteId::Anc, 1.2, 60)
        .lab_at(AnalyteId::Anc, 2.5, 0)
        .assess();
    assert_eq!(truth(&b, "persistent"), Truth::False);
    let c = R::adult().lab(AnalyteId::Anc, 1.1).assess();
    assert_eq!(
        truth(&c, "persistent"),
        Truth::Unknown,
        "one count cannot show persistence either way"
    );
}

#[test]
fn drop_from_baseline_and_rapid_fall() {
    let a = R::adult()
        .lab_at(AnalyteId::Anc, 4.0, 400)
        .lab_at(AnalyteId::Anc, 4.4, 200)
        .lab_at(AnalyteId::Anc, 3.9, 10)
        .lab_at(AnalyteId::Anc, 1.2, 0)
        .assess();
    assert_eq!(truth(&a, "drop-from-baseline"), Truth::True);
    assert_eq!(truth(&a, "rapid-fall"), Truth::True);
}

#[test]
fn drug_timing_onset_window_and_dechallenge() {
    // Carbimazole started 35 days before severe neutropenia: in the 19-60 day window.
    let a = R::adult()
        .lab(AnalyteId::Anc, 0.2)
        .drug("carbimazole", 35, None)
        .assess();
    assert_eq!(top(&a), "drug-induced");
    assert!(a.level >= Level::Urgent);
    assert!(a.actions.iter().any(|x| x.id == "act-review-drug"));
    // Started after the counts were already low: not a suspect.
    let b = R::adult()
        .lab_at(AnalyteId::Anc, 0.9, 30)
        .lab(AnalyteId::Anc, 0.8)
        .drug("sulfasalazine", 5, None)
        .assess();
    assert_eq!(truth(&b, "suspect-drug"), Truth::False);
    // Recovery after stopping.
    let c = R::adult()
        .lab_at(AnalyteId::Anc, 4.0, 60)
        .lab_at(AnalyteId::Anc, 0.6, 14)
        .lab(AnalyteId::Anc, 1.9)
        .drug("vancomycin", 45, Some(12))
        .assess();
    assert_eq!(truth(&c, "drug-stopped-recovering"), Truth::True);
}

#[test]
fn chemotherapy_nadir_window_and_fever_is_an_emergency_even_without_a_count() {
    let a = R::adult()
        .condition("fever")
        .drug("docetaxel", 9, Some(9))
        .assess();
    assert_eq!(a.level, Level::Emergency);
    assert!(
        a.fired
            .iter()
            .any(|f| f.rule == "fever-during-chemotherapy")
    );
    let b = R::adult()
        .lab(AnalyteId::Anc, 0.8)
        .lab(AnalyteId::Temperature, 38.1)
        .drug("docetaxel", 10, Some(10))
        .assess();
    assert_eq!(
        b.level,
        Level::Emergency,
        "ANC 0.8 in the nadir window with fever is expected to fall"
    );
}

#[test]
fn clozapine_tables_general_and_ben() {
    let a = R::adult()
        .lab(AnalyteId::Anc, 0.8)
        .drug("clozapine", 70, None)
        .assess();
    let c = a.clozapine.as_ref().unwrap_or_else(|| panic!("clozapine"));
    assert_eq!(c.table, "general");
    assert!(c.interrupt);
    assert_eq!(a.level, Level::Urgent);
    let b = R::adult()
        .condition("duffy-null")
        .lab(AnalyteId::Anc, 0.8)
        .drug("clozapine", 70, None)
        .assess();
    let c = b.clozapine.as_ref().unwrap_or_else(|| panic!("clozapine"));
    assert_eq!(c.table, "ben");
    assert!(
        !c.interrupt,
        "BEN neutropenia 500-999: continue with haematology consult"
    );
    let d = R::adult()
        .lab_at(AnalyteId::Anc, 2.5, 20)
        .drug("clozapine", 60, None)
        .assess();
    assert_eq!(
        d.clozapine.as_ref().and_then(|c| c.overdue),
        Some(true),
        "weekly checks in the first 6 months"
    );
    assert_eq!(
        d.level,
        Level::Soon,
        "an overdue clozapine check needs an ANC within days"
    );
    assert!(
        d.fired
            .iter()
            .any(|f| f.rule == "clozapine-monitoring-overdue")
    );
}

#[test]
fn cyclic_pattern_on_irregular_counts() {
    // A 21-day cycle sampled twice a week for nine weeks.
    let mut r = R::adult().born(time::macros::date!(2019 - 01 - 01));
    for day in (0..63).rev().step_by(3) {
        let phase = (f64::from(u8::try_from(day % 21).unwrap_or(0)) / 21.0) * std::f64::consts::TAU;
        r = r.lab_at(AnalyteId::Anc, 1.6 + 1.4 * phase.cos(), day);
    }
    let a = r.condition("mouth-ulcers").assess();
    assert_eq!(
        truth(&a, "cyclic-pattern"),
        Truth::True,
        "{:?}",
        a.findings.get("cyclic-pattern")
    );
    assert_eq!(top(&a), "cyclic");
    // Dips at irregular intervals (9, 30 and 6 days apart): no cycle.
    let mut flat = R::adult().born(time::macros::date!(2019 - 01 - 01));
    for (i, day) in (0..63).rev().step_by(3).enumerate() {
        flat = flat.lab_at(
            AnalyteId::Anc,
            if [1, 4, 14, 16].contains(&i) {
                1.2
            } else {
                2.4 + 0.1 * (i % 3) as f64
            },
            day,
        );
    }
    assert_ne!(truth(&flat.assess(), "cyclic-pattern"), Truth::True);
}

#[test]
fn unknown_is_not_absent() {
    // No temperature and no symptoms: fever is unknown, and the assessment says what it would change.
    let a = R::adult().lab(AnalyteId::Anc, 0.3).assess();
    assert_eq!(truth(&a, "fever-now"), Truth::Unknown);
    assert_eq!(a.level, Level::Urgent);
    assert!(
        a.missing
            .iter()
            .any(|m| m.what.contains("temperature") && m.would_change.contains("emergency"))
    );
    // No medicine list: drug-induced is not excluded.
    assert!(
        a.differential
            .iter()
            .take(3)
            .any(|c| c.id() == "drug-induced")
    );
}

#[test]
fn nothing_low_means_level_none_and_no_differential() {
    let a = R::adult()
        .cbc(7.0, 4.2, 14.0, 250.0)
        .lab(AnalyteId::Alc, 2.0)
        .assess();
    assert_eq!(a.level, Level::None);
    assert!(a.differential.is_empty());
    assert!(a.grades.iter().all(|g| g.grade == 0));
}

#[test]
fn laboratory_range_overrides_the_default_interval() {
    let mut r = R::adult().lab(AnalyteId::Wbc, 4.2);
    if let Some(o) = r.0.observations.last_mut() {
        o.reference_range = Some(leuko_core::RefRange {
            low: Some(3.5),
            high: Some(9.5),
        });
    }
    let a = r.assess();
    assert_eq!(
        a.grades.iter().find(|g| g.key == "wbc").map(|g| g.grade),
        Some(0),
        "4.2 is normal against a 3.5 LLN"
    );
    let b = R::adult().lab(AnalyteId::Wbc, 4.2).assess();
    assert_eq!(
        b.grades.iter().find(|g| g.key == "wbc").map(|g| g.grade),
        Some(1),
        "4.2 is below the default 4.5 LLN"
    );
}

#[test]
fn seeds_profile_calls_more_people_neutropenic() {
    let r = R::adult().lab(AnalyteId::Anc, 1.8).lab(AnalyteId::Wbc, 3.8);
    let intl = r.assess();
    let seeds = leuko_core::assess(
        crate::support::kb(),
        &r.0,
        crate::support::AS_OF,
        &leuko_core::Options {
            profile: Some("seeds".to_owned()),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        intl.neutropenia.as_ref().and_then(|n| n.severity.clone()),
        None
    );
    assert_eq!(
        seeds
            .neutropenia
            .as_ref()
            .and_then(|n| n.severity.clone())
            .as_deref(),
        Some("mild")
    );
}

#[test]
fn data_after_as_of_is_ignored() {
    let a = R::adult()
        .lab(AnalyteId::Anc, 3.0)
        .lab_at(AnalyteId::Anc, 0.1, -5)
        .assess();
    assert_eq!(a.level, Level::None);
}

#[test]
fn kleene_logic_truth_table() {
    use Truth::{False as F, True as T, Unknown as U};
    let all = [T, F, U];
    for a in all {
        for b in all {
            let and = match (a, b) {
                (F, _) | (_, F) => F,
                (T, T) => T,
                _ => U,
            };
            let or = match (a, b) {
                (T, _) | (_, T) => T,
                (F, F) => F,
                _ => U,
            };
            assert_eq!(a.and(b), and, "{a:?} and {b:?}");
            assert_eq!(a.or(b), or, "{a:?} or {b:?}");
            assert_eq!(a.and(b), b.and(a));
            assert_eq!(a.not().not(), a);
        }
    }
    assert_eq!(U.not(), U);
}
