//! Triage: which rules fire, and the highest level among them. A level never goes down when
//! a count falls, a fever or a red flag is added (property-tested in `tests.rs`).

use leuko_kb::AnalyteId;

use crate::differential::Candidate;
use crate::findings::Context;
use crate::{Findings, Truth};

/// The five triage levels of the contract, least urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Nothing low for this person.
    None,
    /// Recheck at the usual pace.
    Routine,
    /// A clinician within days to two weeks.
    Soon,
    /// A clinician today or within 24 hours.
    Urgent,
    /// Emergency care now.
    Emergency,
}

impl Level {
    /// The contract's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Routine => "routine",
            Level::Soon => "soon",
            Level::Urgent => "urgent",
            Level::Emergency => "emergency",
        }
    }

    /// Parses the contract's word.
    pub fn parse(s: &str) -> Option<Level> {
        [
            Level::None,
            Level::Routine,
            Level::Soon,
            Level::Urgent,
            Level::Emergency,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
    }
}

/// A rule that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    /// Rule id.
    pub rule: String,
    /// Its level.
    pub level: Level,
    /// What in the record made it fire.
    pub detail: String,
}

/// Evaluates the triage rules.
pub fn evaluate(
    ctx: &Context,
    f: &Findings,
    ranked: &[Candidate],
    clozapine_level: Option<Level>,
    clozapine_overdue: bool,
) -> Vec<Fired> {
    let p = &ctx.kb.params;
    let t = |id: &str| f.get(id).map_or(Truth::Unknown, |x| x.truth);
    let detail = |id: &str| f.get(id).map(|x| x.detail.clone()).unwrap_or_default();
    let mut fired: Vec<Fired> = Vec::new();
    let mut fire = |rule: &str, detail: String| {
        let level = ctx
            .kb
            .rule(rule)
            .and_then(|r| Level::parse(&r.level))
            .unwrap_or(Level::Urgent);
        fired.push(Fired {
            rule: rule.to_owned(),
            level,
            detail,
        });
    };

    let anc = ctx.value(AnalyteId::Anc);
    let below = |v: Option<f64>, x: f64| v.is_some_and(|v| v < x);
    let fever = t("fever-now").is_true();
    // Over the white counts that were measured: one low is enough; all measured and normal is
    // "not low" (the ones not measured are reported as missing).
    let measured: Vec<Truth> = [
        (AnalyteId::Anc, "neutropenia"),
        (AnalyteId::Wbc, "leukopenia"),
        (AnalyteId::Alc, "lymphopenia"),
    ]
    .iter()
    .filter(|(a, _)| ctx.reading(*a).is_some())
    .map(|(_, id)| t(id))
    .collect();
    let white_low = if measured.iter().any(|x| x.is_true()) {
        Truth::True
    } else if !measured.is_empty() && measured.iter().all(|x| *x == Truth::False) {
        Truth::False
    } else {
        Truth::Unknown
    };
    let cytopenia = white_low
        .or(t("anemia"))
        .or(t("thrombocytopenia"))
        .is_true();
    let multilineage = t("pancytopenia").or(t("bicytopenia")).is_true();
    let fever_text = detail("fever-now");
    let anc_text = detail("neutropenia");
    let has_white = [AnalyteId::Wbc, AnalyteId::Anc, AnalyteId::Alc]
        .iter()
        .any(|a| ctx.reading(*a).is_some());

    // Emergency.
    if fever && below(anc, p.severe_anc.value) {
        fire(
            "febrile-severe-neutropenia",
            format!("{fever_text}; {anc_text}"),
        );
    }
    let expected_fall = t("chemo-nadir-window").or(t("rapid-fall")).is_true();
    if fever && below(anc, p.moderate_anc.value) && expected_fall {
        fire(
            "febrile-neutropenia-expected-fall",
            format!(
                "{fever_text}; {anc_text}; {}",
                if t("chemo-nadir-window").is_true() {
                    detail("chemo-nadir-window")
                } else {
                    detail("rapid-fall")
                }
            ),
        );
    }
    let anc_current = ctx
        .reading(AnalyteId::Anc)
        .is_some_and(|r| crate::series::days_between(r.obs.at, ctx.as_of) <= 2.0);
    if fever && t("chemo-recent").is_true() && !anc_current {
        fire(
            "fever-during-chemotherapy",
            format!(
                "{fever_text}; {}; no ANC from the last 48 hours",
                detail("chemo-recent")
            ),
        );
    }
    let shock_signs = ["hypotension", "confusion", "tachycardia"]
        .iter()
        .any(|id| t(id).is_true());
    if (t("sepsis").is_true() || (fever && shock_signs)) && white_low.is_true() {
        fire(
            "sepsis-signs",
            format!(
                "{}{}",
                if t("sepsis").is_true() {
                    "sepsis recorded; "
                } else {
                    ""
                },
                fever_text
            ),
        );
    }

    // Urgent.
    if below(anc, p.severe_anc.value) {
        fire("severe-neutropenia", anc_text.clone());
    }
    if fever && below(anc, p.moderate_anc.value) {
        fire(
            "fever-with-neutropenia",
            format!("{fever_text}; {anc_text}"),
        );
    }
    if t("blasts").is_true() {
        fire("blasts-in-blood", detail("blasts"));
    }
    let severe_line = below(anc, p.severe_anc.value)
        || below(ctx.value(AnalyteId::Plt), p.severe_thrombocytopenia.value)
        || below(ctx.value(AnalyteId::Hgb), p.severe_anemia_gdl.value);
    if multilineage && severe_line {
        fire("severe-multilineage", detail("pancytopenia"));
    }
    match clozapine_level {
        Some(l) if l >= Level::Urgent => fire("clozapine-interrupt", anc_text.clone()),
        Some(Level::Soon) => fire("clozapine-mild", anc_text.clone()),
        _ => {}
    }
    if clozapine_overdue {
        fire(
            "clozapine-monitoring-overdue",
            "the last ANC is older than the routine interval".to_owned(),
        );
    }
    if t("suspect-drug").is_true() && below(anc, p.moderate_anc.value) {
        fire("suspect-drug-agranulocytosis", detail("suspect-drug"));
    }

    // Soon.
    if below(anc, p.moderate_anc.value) && !below(anc, p.severe_anc.value) {
        fire("moderate-neutropenia", anc_text.clone());
    }
    if multilineage {
        fire("multilineage-cytopenia", detail("pancytopenia"));
    }
    let explained = ranked
        .first()
        .is_some_and(|c| c.evidence_for.iter().any(|e| e.lr >= 10.0));
    if t("persistent").is_true() && !explained {
        fire("persistent-unexplained", detail("persistent"));
    }
    let constitutional: Vec<&str> = [
        "night-sweats",
        "weight-loss",
        "lymphadenopathy",
        "splenomegaly",
    ]
    .into_iter()
    .filter(|id| t(id).is_true())
    .collect();
    if !constitutional.is_empty() && cytopenia {
        fire("constitutional-symptoms", constitutional.join(", "));
    }
    if t("macrocytosis").is_true() && cytopenia {
        fire("macrocytic-cytopenia", detail("macrocytosis"));
    }
    if t("neutropenia").is_true()
        && (t("recurrent-infections").is_true() || t("mouth-ulcers").is_true())
    {
        fire(
            "neutropenia-with-infections-or-ulcers",
            "recurrent infections or mouth ulcers recorded".to_owned(),
        );
    }
    if t("cyclic-pattern").is_true() {
        fire("cyclic-pattern", detail("cyclic-pattern"));
    }
    if t("drop-from-baseline").is_true() {
        fire("drop-from-baseline", detail("drop-from-baseline"));
    }
    if fever && white_low.is_true() {
        fire("fever-with-mild-cytopenia", fever_text.clone());
    }

    // Routine and none.
    if !has_white {
        fire("no-current-count", String::new());
    } else if white_low.is_true() || cytopenia {
        if t("recovering").is_true() {
            fire("recovering", detail("recovering"));
        } else {
            fire(
                "mild-and-well",
                "the lowest level for a low count".to_owned(),
            );
        }
    } else if white_low == Truth::Unknown {
        fire(
            "mild-and-well",
            "some counts have no limit to compare with".to_owned(),
        );
    } else if t("within-personal-interval").is_true() {
        fire(
            "within-personal-interval",
            detail("within-personal-interval"),
        );
    } else {
        fire("nothing-low", String::new());
    }
    fired.sort_by_key(|f| std::cmp::Reverse(f.level));
    fired
}
