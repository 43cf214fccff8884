//! Words: actions, what is missing and what would change the answer, and the explanation
//! statements for the person and for the clinician. Every statement carries source ids.

use leuko_kb::AnalyteId;

use crate::assess::{Action, Assessment, fmt_num};
use crate::findings::{Context, describe_age};
use crate::triage::Level;
use crate::{Sex, Truth};

/// Who a statement is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The person with the report.
    Plain,
    /// The clinician.
    Clinical,
}

/// One sentence with its sources.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Audience.
    pub audience: Audience,
    /// The words.
    pub text: String,
    /// Source ids.
    pub sources: Vec<String>,
}

/// A missing piece of data and what it would change.
#[derive(Debug, Clone, PartialEq)]
pub struct Missing {
    /// What is missing.
    pub what: String,
    /// What it would change.
    pub would_change: String,
}

fn rule_action(ctx: &Context, id: &str, extra: &str) -> Option<Action> {
    let r = ctx.kb.rule(id)?;
    Some(Action {
        id: r.id.clone(),
        text: if extra.is_empty() {
            r.text.clone()
        } else {
            format!("{} {extra}", r.text)
        },
        plain: r.plain.clone(),
        sources: r.sources.clone(),
    })
}

/// The actions for this assessment.
pub fn actions(ctx: &Context, a: &Assessment) -> Vec<Action> {
    let t = |id: &str| a.findings.get(id).map_or(Truth::Unknown, |f| f.truth);
    let fired = |id: &str| a.fired.iter().any(|f| f.rule == id);
    let mut out = Vec::new();
    let mut push = |id: &str, extra: String| {
        if let Some(act) = rule_action(ctx, id, &extra)
            && !out.iter().any(|x: &Action| x.id == act.id)
        {
            out.push(act);
        }
    };
    if a.level == Level::Emergency {
        push("act-febrile-neutropenia", String::new());
    }
    let suspects: Vec<String> = a
        .medicines
        .iter()
        .filter(|d| d.suspect && d.drug_id != "clozapine")
        .map(|d| d.name.clone())
        .collect();
    if !suspects.is_empty() && t("neutropenia").or(t("leukopenia")).is_true() {
        push(
            "act-review-drug",
            format!("Suspect: {}.", suspects.join(", ")),
        );
    }
    if let Some(c) = &a.clozapine {
        push(
            "act-clozapine",
            format!(
                "Category: {} ({} table). {} Monitoring: {}",
                c.category, c.table, c.action, c.monitoring
            ),
        );
    }
    if t("chemo-nadir-window").is_true() {
        push(
            "act-chemo-nadir",
            a.chemo_day
                .map(|d| format!("Day {d:.0} after the last dose."))
                .unwrap_or_default(),
        );
    }
    let neutropenic = a
        .neutropenia
        .as_ref()
        .is_some_and(|n| n.anc < ctx.kb.params.moderate_anc.value);
    if (neutropenic || t("chemo-recent").is_true()) && a.level < Level::Emergency {
        push("act-fever-plan", String::new());
    }
    let referral = [
        "blasts-in-blood",
        "severe-multilineage",
        "persistent-unexplained",
        "multilineage-cytopenia",
        "cyclic-pattern",
        "neutropenia-with-infections-or-ulcers",
        "clozapine-interrupt",
        "severe-neutropenia",
    ];
    if referral.iter().any(|r| fired(r)) && !t("chemo-recent").is_true() {
        push("act-haematology-referral", String::new());
    }
    if t("single-count").is_true() && a.level >= Level::Routine && !a.differential.is_empty() {
        push("act-repeat-with-smear", String::new());
    }
    if a.differential
        .iter()
        .take(3)
        .any(|c| c.id() == "duffy-null")
        || t("within-personal-interval").is_true()
    {
        push("act-duffy-interval", String::new());
    }
    if a.differential.first().is_some_and(|c| c.id() == "cyclic") || t("cyclic-pattern").is_true() {
        push("act-cyclic-monitoring", String::new());
    }
    if a.level <= Level::Routine && !a.differential.is_empty() {
        if a.differential.first().is_some_and(|c| c.id() == "viral") {
            push("act-recheck-viral", String::new());
        } else {
            push("act-recheck-mild", String::new());
        }
    }
    out
}

/// What is missing and what it would change.
pub fn missing(ctx: &Context, a: &Assessment) -> Vec<Missing> {
    let t = |id: &str| a.findings.get(id).map_or(Truth::Unknown, |f| f.truth);
    let mut out = Vec::new();
    let mut miss = |what: &str, change: String| {
        out.push(Missing {
            what: what.to_owned(),
            would_change: change,
        })
    };
    let has = |an: AnalyteId| ctx.reading(an).is_some();
    if !has(AnalyteId::Wbc) && !has(AnalyteId::Anc) && !has(AnalyteId::Alc) {
        miss(
            "a white cell count",
            "Nothing can be graded without one.".to_owned(),
        );
    }
    if !has(AnalyteId::Anc) && has(AnalyteId::Wbc) {
        miss("an ANC (absolute neutrophils or a percent differential)", "Neutropenia, its severity and most of the triage rest on the ANC; the WBC alone cannot grade it.".to_owned());
    }
    let neutropenic = a.neutropenia.as_ref().is_some_and(|n| n.severity.is_some());
    if t("fever-now") == Truth::Unknown && (neutropenic || t("chemo-recent").is_true()) {
        let change = match &a.neutropenia {
            Some(n) if n.anc < ctx.kb.params.severe_anc.value => "A temperature of 38.0 C or more would make this an emergency (febrile neutropenia).".to_owned(),
            _ => "A temperature of 38.0 C or more would raise the level.".to_owned(),
        };
        miss("a temperature from the last 24 hours", change);
    }
    if a.age_days.is_none() {
        miss("date of birth", "Adult reference intervals were used; children and infants have different limits and different likely causes.".to_owned());
    }
    if a.sex == Sex::Unknown && has(AnalyteId::Hgb) {
        miss(
            "sex",
            "The anaemia lower limit differs by sex; the lower (female) limit was used.".to_owned(),
        );
    }
    if !ctx.has_medication_list && !a.differential.is_empty() {
        miss("the medicine list with start and stop dates", "A drug started 2-8 weeks before the fall is one of the commonest causes and changes the advice (review the drug today).".to_owned());
    }
    if (!has(AnalyteId::Hgb) || !has(AnalyteId::Plt)) && !a.differential.is_empty() {
        miss(
            "haemoglobin and platelets",
            "Whether other cell lines are low separates isolated neutropenia from marrow disease."
                .to_owned(),
        );
    }
    if !has(AnalyteId::Mcv) && (t("anemia").is_true() || t("pancytopenia").is_true()) {
        miss(
            "MCV",
            "A high MCV points to B12 or folate deficiency, alcohol or MDS.".to_owned(),
        );
    }
    if t("single-count").is_true() && !a.differential.is_empty() {
        miss("earlier counts", "A single result cannot show persistence, trend, recovery or a fall from the person's own baseline; earlier results or a repeat would.".to_owned());
    }
    let mild_isolated = t("mild-neutropenia-only").is_true() && t("isolated-neutropenia").is_true();
    if mild_isolated && !ctx.duffy_null && t("duffy-null-or-ancestry") != Truth::True {
        miss("ancestry or Duffy phenotype", "A Duffy-null person has a lower normal range (DANC interval 1.21-5.39 x10^9/L in adults), which can make this result normal.".to_owned());
    }
    if let Some(c) = &a.clozapine
        && c.overdue == Some(true)
    {
        miss(
            "a current ANC for clozapine monitoring",
            format!(
                "The routine check ({}) is overdue.",
                c.routine_schedule.clone().unwrap_or_default()
            ),
        );
    }
    if let Some(r) = ctx
        .reading(AnalyteId::Anc)
        .or_else(|| ctx.reading(AnalyteId::Wbc))
    {
        let age = crate::series::days_between(r.obs.at, ctx.as_of);
        if age > ctx.kb.params.count_current_days.value {
            miss(
                "a current count",
                format!(
                    "The latest count is {age:.0} days old; a new count would show the present state."
                ),
            );
        }
    }
    out
}

/// Builds the explanation of an assessment: plain and clinical statements, each with the
/// source ids it rests on. Rendering words is kept apart from deciding, so that callers that
/// need only the data (a screen over millions of records) do not pay for the words.
pub fn explanation(kb: &leuko_kb::Knowledge, a: &Assessment) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut say = |audience, text: String, sources: Vec<String>| {
        out.push(Statement {
            audience,
            text,
            sources,
        })
    };
    use Audience::{Clinical, Plain};

    // Who and what.
    let who = match (a.age_days, a.sex) {
        (Some(d), Sex::Female) => format!("{} female", describe_age(d)),
        (Some(d), Sex::Male) => format!("{} male", describe_age(d)),
        (Some(d), _) => describe_age(d),
        (None, _) => "age unknown".to_owned(),
    };
    let profile = kb.profiles.iter().find(|p| p.id == a.profile);
    say(
        Clinical,
        format!(
            "{who}; threshold profile: {}.{}",
            profile.map_or(a.profile.as_str(), |p| p.name.as_str()),
            if a.duffy_null {
                " Duffy-null phenotype recorded: the DANC interval applies."
            } else {
                ""
            }
        ),
        profile.map(|p| p.sources.clone()).unwrap_or_default(),
    );

    // The counts and their grades.
    let grade_text: Vec<String> = a
        .grades
        .iter()
        .filter(|g| g.grade > 0)
        .map(|g| format!("{} grade {}", g.term, g.grade))
        .collect();
    if !grade_text.is_empty() {
        say(
            Clinical,
            format!("CTCAE v{}: {}.", a.ctcae_version, grade_text.join("; ")),
            kb.grading.ctcae.sources.clone(),
        );
    }
    if let Some(anc) = a
        .counts
        .iter()
        .find(|c| c.analyte == AnalyteId::Anc && c.derived)
    {
        say(
            Clinical,
            format!(
                "ANC {} x10^9/L computed as {}.",
                fmt_num(anc.value),
                anc.source_ref.trim_start_matches("computed: ")
            ),
            vec!["uptodate-anc".to_owned()],
        );
    }
    if let Some(n) = &a.neutropenia {
        let sev_sources = kb
            .grading
            .severity
            .iter()
            .find(|b| Some(&b.name) == n.severity.as_ref())
            .map(|b| b.sources.clone())
            .unwrap_or_default();
        match (&n.severity, &n.plain) {
            (Some(sev), Some(plain)) => {
                say(
                    Clinical,
                    format!(
                        "ANC {} x10^9/L: {sev} neutropenia (below {}).",
                        fmt_num(n.anc),
                        fmt_num(n.threshold)
                    ),
                    sev_sources.clone(),
                );
                say(
                    Plain,
                    format!(
                        "Your neutrophil count (the white cells that fight bacteria) is {} x10^9/L, which is {plain}.",
                        fmt_num(n.anc)
                    ),
                    sev_sources,
                );
            }
            _ => say(
                Plain,
                format!(
                    "Your neutrophil count is {} x10^9/L, which is not low for you.",
                    fmt_num(n.anc)
                ),
                profile.map(|p| p.sources.clone()).unwrap_or_default(),
            ),
        }
        if n.profound {
            say(Clinical, "ANC below 0.1: profound neutropenia; mortality of drug-induced agranulocytosis is higher with a nadir below 0.1 (10% vs 3%).".to_owned(), vec!["andersohn-2007".to_owned(), "idsa-2010".to_owned()]);
        }
        // Where the seeds' convention would read the same count differently, say so.
        if a.profile == "international"
            && n.severity.is_none()
            && n.anc < 2.0
            && a.age_days.is_none_or(|d| d >= 18 * 365)
            && !a.duffy_null
        {
            say(
                Clinical,
                format!(
                    "ANC {} is normal by the international definition (below 1.5) but the seed articles' convention (below 2.0, seed 000) would call it mild neutropenia; leuko follows the international definition.",
                    fmt_num(n.anc)
                ),
                vec!["newburger-dale-2013".to_owned(), "seed-000".to_owned()],
            );
        }
    }
    for f in &a.febrile {
        if f.met != Truth::False {
            say(
                Clinical,
                format!(
                    "{}: {} ({}).",
                    f.name,
                    match f.met {
                        Truth::True => "met",
                        _ => "possibly met",
                    },
                    f.why
                ),
                f.sources.clone(),
            );
        }
    }
    if let Some(c) = &a.clozapine {
        say(
            Clinical,
            format!(
                "Clozapine{}: ANC category '{}' ({} table). {} Monitoring: {}{}",
                c.days_on_treatment
                    .map(|d| format!(" day {d}"))
                    .unwrap_or_default(),
                c.category,
                if c.table == "ben" {
                    "BEN"
                } else {
                    "general population"
                },
                c.action,
                c.monitoring,
                c.routine_schedule
                    .as_ref()
                    .map(|s| format!(" Routine phase: {s}."))
                    .unwrap_or_default()
            ),
            kb.clozapine.sources.clone(),
        );
    }
    for p in &a.patterns {
        let sources = kb
            .params
            .named()
            .into_iter()
            .find(|(n, _)| pattern_param(&p.id) == Some(*n))
            .map(|(_, v)| v.sources.clone())
            .unwrap_or_else(|| vec!["leuko-team".to_owned()]);
        say(
            Clinical,
            format!("Pattern ({}): {}.", p.id, p.text),
            sources,
        );
    }

    // Triage.
    for f in &a.fired {
        if let Some(rule) = kb.rule(&f.rule) {
            let detail = if f.detail.is_empty() {
                String::new()
            } else {
                format!(" [{}]", f.detail)
            };
            say(
                Clinical,
                format!("{}{detail}", rule.text),
                rule.sources.clone(),
            );
        }
    }
    if let Some(rule) = a.fired.first().and_then(|f| kb.rule(&f.rule)) {
        say(Plain, rule.plain.clone(), rule.sources.clone());
    }

    // Causes.
    if !a.differential.is_empty() {
        for c in a.differential.iter().take(3) {
            let for_text: Vec<String> = c
                .evidence_for
                .iter()
                .take(3)
                .map(|e| format!("{} ({})", e.why(), a.detail(e)))
                .collect();
            let against: Vec<String> = c
                .evidence_against
                .iter()
                .take(2)
                .map(|e| e.why().to_owned())
                .collect();
            let mut sources: Vec<String> = c
                .evidence_for
                .iter()
                .take(3)
                .flat_map(|e| e.sources().iter().cloned())
                .collect();
            sources.extend(c.sources().iter().take(2).cloned());
            sources.dedup();
            say(
                Clinical,
                format!(
                    "Possible cause: {} [{}]{}{}.",
                    c.name(),
                    c.icd10.join(", "),
                    if for_text.is_empty() {
                        String::new()
                    } else {
                        format!("; for: {}", for_text.join("; "))
                    },
                    if against.is_empty() {
                        String::new()
                    } else {
                        format!("; against: {}", against.join("; "))
                    }
                ),
                sources.clone(),
            );
        }
        let plain: Vec<&str> = a.differential.iter().take(3).map(|c| c.plain()).collect();
        say(
            Plain,
            format!(
                "Possible reasons, most likely first: {}. This is not a diagnosis; a doctor decides with an examination and tests.",
                plain.join("; ")
            ),
            a.differential
                .iter()
                .take(3)
                .flat_map(|c| c.sources().iter().take(1).cloned())
                .collect(),
        );
        let open: Vec<String> = a
            .cant_miss_open
            .iter()
            .filter(|id| a.differential.iter().take(3).all(|c| c.id() != id.as_str()))
            .filter_map(|id| kb.cause(id).map(|c| c.name.clone()))
            .collect();
        if !open.is_empty() {
            say(
                Clinical,
                format!("Not to be missed, still open: {}.", open.join("; ")),
                vec!["gibson-berliner-2014".to_owned()],
            );
        }
        if let Some((test, x, y)) = &a.discriminating_test
            && let (Some(tt), Some(cx), Some(cy)) = (kb.test(test), kb.cause(x), kb.cause(y))
        {
            say(
                Clinical,
                format!(
                    "The test that best separates {} from {}: {}.",
                    cx.name, cy.name, tt.name
                ),
                tt.sources.clone(),
            );
        }
        // Seed corrections that matter for this person.
        if a.differential
            .first()
            .is_some_and(|c| c.id() == "drug-induced")
        {
            say(Clinical, "Seed 001 calls a fall after antibiotics 'quite normal'; non-chemotherapy drug agranulocytosis carries about 5% mortality and the drug is stopped (Andersohn 2007). leuko follows the review.".to_owned(), vec!["seed-001".to_owned(), "andersohn-2007".to_owned()]);
        }
        if a.medicines.iter().any(|d| d.drug_id == "clozapine") {
            say(Clinical, "Seed 003 calls clozapine an 'immunosuppressant antiepileptic'; it is an atypical antipsychotic with its own ANC monitoring programme.".to_owned(), vec!["seed-003".to_owned(), "clozapine-pi".to_owned()]);
        }
    }
    for act in &a.actions {
        say(Plain, act.plain.clone(), act.sources.clone());
    }
    out
}

fn pattern_param(id: &str) -> Option<&'static str> {
    Some(match id {
        "persistent" => "persistent_days",
        "chronic" => "chronic_days",
        "lifelong-stable" => "stable_years_days",
        "rapid-fall" => "rapid_fall_fraction",
        "drop-from-baseline" => "baseline_drop_fraction",
        "recovering" => "recovery_fraction",
        "cyclic-pattern" => "cyclic_min_days",
        "drug-stopped-recovering" => "drug_stop_suspect_days",
        "chemo-nadir-window" => "chemo_nadir_from_day",
        _ => return None,
    })
}
