//! CTCAE v5 grades, neutropenia severity words, febrile-neutropenia definitions and the
//! clozapine category, all read from the knowledge base.

use leuko_kb::{CtcaeTerm, FebrileDefinition, Grading, Knowledge};

use crate::{Comparator, Observation, Truth};

/// The value used for grading: a `<x` result is graded as just below `x`.
pub fn graded_value(value: f64, comparator: Comparator) -> f64 {
    match comparator {
        Comparator::Less => value.next_down(),
        _ => value,
    }
}

/// The CTCAE grade of a value: grade 2 to 4 from the term's thresholds (a value on a boundary
/// takes the milder grade), grade 1 below the lower limit of normal, else 0. When the value
/// was reported in a unit for which the term has its own thresholds (haemoglobin in mmol/L),
/// those are used on the reported value.
pub fn ctcae_grade(term: &CtcaeTerm, obs: &Observation, lln: Option<f64>) -> u8 {
    let (value, thresholds) = match &obs.reported {
        Some((reported, ucum)) => match term.alt.iter().find(|a| a.ucum == *ucum) {
            Some(alt) => (*reported, alt.below.as_slice()),
            None => (obs.value, term.below.as_slice()),
        },
        None => (obs.value, term.below.as_slice()),
    };
    let value = graded_value(value, obs.comparator);
    let below = thresholds.iter().filter(|t| value < **t).count();
    let grade = if below > 0 {
        1 + u8::try_from(below).unwrap_or(3)
    } else if lln.is_some_and(|l| graded_value(obs.value, obs.comparator) < l) {
        1
    } else {
        0
    };
    grade.min(term.max_lab_grade)
}

/// The severity word for an ANC below the profile's neutropenia threshold.
pub fn severity_of(grading: &Grading, anc: f64, threshold: f64) -> Option<&leuko_kb::SeverityBand> {
    if anc >= threshold {
        return None;
    }
    grading
        .severity
        .iter()
        .find(|band| band.below.is_none_or(|b| anc < b))
}

/// Whether a febrile-neutropenia definition is met.
///
/// `temps` are the temperatures (C) in the recent window, oldest first, with their minute
/// offsets. A single reading can establish the single-temperature criterion; the sustained
/// criterion needs two readings at or above the threshold at least `sustained_minutes`
/// apart. `expected_fall` says whether the ANC is expected to fall below the definition's
/// "expected" threshold within 48 hours (chemotherapy nadir window or a rapid fall).
pub fn febrile(
    def: &FebrileDefinition,
    anc: Option<f64>,
    temps: &[(i64, f64)],
    fever_reported: bool,
    expected_fall: bool,
) -> (Truth, String) {
    let single = temps.iter().any(|(_, t)| {
        if def.single_strict {
            *t > def.single_c
        } else {
            *t >= def.single_c
        }
    });
    let high: Vec<i64> = temps
        .iter()
        .filter(|(_, t)| *t >= def.sustained_c)
        .map(|(m, _)| *m)
        .collect();
    let sustained = match (high.first(), high.last()) {
        (Some(a), Some(b)) => b - a >= i64::from(def.sustained_minutes),
        _ => false,
    };
    let any_fever_reading = !high.is_empty();
    let fever = if single || sustained {
        Truth::True
    } else if any_fever_reading || (temps.is_empty() && fever_reported) {
        // 38.0-38.3 once, or a reported fever without a reading: the criterion may be met.
        Truth::Unknown
    } else if temps.is_empty() {
        Truth::Unknown
    } else {
        Truth::False
    };
    let anc_ok = match anc {
        Some(a) if a < def.anc_below => Truth::True,
        // IDSA: "or expected to fall below 0.5 within 48 h", read as an ANC below 1.0 in a
        // chemotherapy nadir window or falling fast.
        Some(a) => Truth::from_bool(def.anc_expected_below.is_some() && expected_fall && a < 1.0),
        None => Truth::Unknown,
    };
    let met = fever.and(anc_ok);
    let why = match (fever, anc_ok) {
        (Truth::True, Truth::True) => "temperature and ANC both meet the definition".to_owned(),
        (Truth::Unknown, Truth::True) if any_fever_reading => {
            format!(
                "ANC meets it; a temperature of {}-{} C meets it only if sustained for {} minutes",
                def.sustained_c, def.single_c, def.sustained_minutes
            )
        }
        (Truth::Unknown, Truth::True) => "ANC meets it; no temperature reading".to_owned(),
        (_, Truth::False) => format!("ANC is not below {}", def.anc_below),
        (Truth::False, _) => "no temperature meets it".to_owned(),
        (_, Truth::Unknown) => "no ANC".to_owned(),
    };
    (met, why)
}

/// The clozapine table to use and the category for an ANC.
pub fn clozapine_category(
    kb: &Knowledge,
    anc: f64,
    ben: bool,
) -> Option<&leuko_kb::ClozapineCategory> {
    let table = if ben {
        &kb.clozapine.ben
    } else {
        &kb.clozapine.general
    };
    table.iter().find(|c| anc >= c.anc_at_least)
}
