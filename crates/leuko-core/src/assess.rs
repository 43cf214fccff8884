//! The entry point: `assess(kb, record, as_of, options)`.

use leuko_kb::{AnalyteId, Knowledge};
use time::OffsetDateTime;

pub use crate::differential::{Candidate, Evidence};
pub use crate::explain::{Audience, Missing, Statement, explanation};
use crate::findings::{self, Context};
pub use crate::triage::{Fired, Level};
pub use crate::workup::{Priority, WorkupItem};
use crate::{Findings, Record, Sex, Truth, differential, explain, grade, triage, workup};

/// Choices that change how the assessment reads the record.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Threshold profile id (`international` or `seeds`); `None` for the default.
    pub profile: Option<String>,
}

/// The only fault `assess` reports: an option that names nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssessError {
    /// The profile id is unknown.
    #[error("profile {0:?} is unknown (known: {1})")]
    UnknownProfile(String, String),
}

/// A current count with its limits and grade.
#[derive(Debug, Clone, PartialEq)]
pub struct CountSummary {
    /// Analyte.
    pub analyte: AnalyteId,
    /// Value (canonical unit).
    pub value: f64,
    /// Canonical unit.
    pub unit: &'static str,
    /// When measured.
    pub at: OffsetDateTime,
    /// Computed by the engine.
    pub derived: bool,
    /// How it was computed, or where it came from.
    pub source_ref: String,
    /// Lower limit for this person, and where it came from.
    pub lower_limit: Option<crate::Limit>,
    /// Low for this person.
    pub low: Truth,
    /// Low against the general population's (or laboratory's) limit.
    pub low_general: Truth,
}

/// A CTCAE grade.
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// The contract key (`wbc`, `anc`, `lymphocytes`, `platelets`, `anemia`).
    pub key: String,
    /// The CTCAE term.
    pub term: String,
    /// Grade 0 to 4.
    pub grade: u8,
    /// The value graded (canonical unit).
    pub value: f64,
    /// The lower limit of normal used for grade 1.
    pub lln: Option<f64>,
}

/// Neutropenia by the profile's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Neutropenia {
    /// ANC.
    pub anc: f64,
    /// The threshold used.
    pub threshold: f64,
    /// Severity word, if below the threshold.
    pub severity: Option<String>,
    /// Plain phrase.
    pub plain: Option<String>,
    /// Below the profound threshold (0.1).
    pub profound: bool,
}

/// The result of one febrile-neutropenia definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Febrile {
    /// Definition id.
    pub definition: String,
    /// Its name.
    pub name: String,
    /// Met, not met, or cannot be told.
    pub met: Truth,
    /// Why.
    pub why: String,
    /// Sources.
    pub sources: Vec<String>,
}

/// The clozapine table's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Clozapine {
    /// `general` or `ben`.
    pub table: &'static str,
    /// Category name.
    pub category: String,
    /// ANC used.
    pub anc: f64,
    /// Action.
    pub action: String,
    /// Monitoring.
    pub monitoring: String,
    /// Interrupt treatment.
    pub interrupt: bool,
    /// Confirmation rule.
    pub confirm: String,
    /// Days on clozapine.
    pub days_on_treatment: Option<i64>,
    /// Routine interval for the phase of treatment.
    pub routine_schedule: Option<String>,
    /// Whether the routine ANC check is overdue, when known.
    pub overdue: Option<bool>,
    /// Days since the last ANC.
    pub days_since_anc: Option<f64>,
    /// The REMS note.
    pub note: String,
}

/// A pattern across counts, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// Finding id.
    pub id: String,
    /// Words.
    pub text: String,
}

/// An action with its rule and sources.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Rule id.
    pub id: String,
    /// Clinical words (with the person's specifics appended).
    pub text: String,
    /// Plain words.
    pub plain: String,
    /// Sources.
    pub sources: Vec<String>,
}

/// The assessment.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The moment it was made for.
    pub as_of: OffsetDateTime,
    /// Knowledge version and digest.
    pub knowledge: (String, String),
    /// Threshold profile id.
    pub profile: String,
    /// Age in days at `as_of`.
    pub age_days: Option<u32>,
    /// Sex.
    pub sex: Sex,
    /// Duffy-null recorded.
    pub duffy_null: bool,
    /// Current counts.
    pub counts: Vec<CountSummary>,
    /// CTCAE v5 grades, for the counts given or computed.
    pub grades: Vec<Grade>,
    /// CTCAE version.
    pub ctcae_version: String,
    /// Neutropenia by the profile.
    pub neutropenia: Option<Neutropenia>,
    /// Febrile-neutropenia definitions.
    pub febrile: Vec<Febrile>,
    /// Clozapine table, when clozapine is among the medicines.
    pub clozapine: Option<Clozapine>,
    /// Patterns across counts that hold.
    pub patterns: Vec<Pattern>,
    /// Medicine timing.
    pub medicines: Vec<findings::DrugExposure>,
    /// Days since the last chemotherapy dose.
    pub chemo_day: Option<f64>,
    /// All findings.
    pub findings: Findings,
    /// Overall level.
    pub level: Level,
    /// Rules that fired, highest level first.
    pub fired: Vec<Fired>,
    /// Ranked causes (empty when nothing looks low).
    pub differential: Vec<Candidate>,
    /// Can't-miss causes still open (ids).
    pub cant_miss_open: Vec<String>,
    /// The test that best separates the two leading causes: (test, cause a, cause b).
    pub discriminating_test: Option<(String, String, String)>,
    /// Work-up.
    pub workup: Vec<WorkupItem>,
    /// Actions.
    pub actions: Vec<Action>,
    /// Missing data and what it would change.
    pub missing: Vec<Missing>,
    /// Notes from reading the input.
    pub input_notes: Vec<crate::InputNote>,
}

impl Assessment {
    /// What in the record a piece of evidence rests on, in a few words.
    pub fn detail(&self, e: &Evidence) -> &str {
        self.findings
            .get(e.finding_id())
            .map_or("", |f| f.detail.as_str())
    }
}

/// Formats a number without trailing zeros (0.5, 1.25, 12).
pub fn fmt_num(v: f64) -> String {
    let mut s = format!("{v:.3}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    if s == "-0" { "0".to_owned() } else { s }
}

/// Assesses a record as of a moment. Total: bad or missing data shows up in `missing` and
/// `input_notes`, never as a failure.
///
/// # Errors
/// Only [`AssessError::UnknownProfile`].
pub fn assess(
    kb: &Knowledge,
    record: &Record,
    as_of: OffsetDateTime,
    options: &Options,
) -> Result<Assessment, AssessError> {
    let profile = match &options.profile {
        Some(id) => kb.profiles.iter().find(|p| p.id == *id),
        None => kb.profiles.iter().find(|p| p.default),
    }
    .ok_or_else(|| {
        AssessError::UnknownProfile(
            options.profile.clone().unwrap_or_default(),
            kb.profiles
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )
    })?;
    let ctx = Context::build(kb, profile, record, as_of);
    let findings = findings::compute(&ctx);

    let counts = count_summaries(&ctx);
    let grades = grades(&ctx);
    let neutropenia = ctx.reading(AnalyteId::Anc).and_then(|r| {
        let threshold = r.personal.as_ref()?.value;
        let anc = grade::graded_value(r.obs.value, r.obs.comparator);
        let band = grade::severity_of(&kb.grading, anc, threshold);
        Some(Neutropenia {
            anc,
            threshold,
            severity: band.map(|b| b.name.clone()),
            plain: band.map(|b| b.plain.clone()),
            profound: anc < kb.params.profound_anc.value,
        })
    });
    let febrile = febrile(&ctx, &findings);
    let clozapine = clozapine(&ctx);
    let clozapine_level = clozapine.as_ref().and_then(|c| {
        let table = if c.table == "ben" {
            &kb.clozapine.ben
        } else {
            &kb.clozapine.general
        };
        table
            .iter()
            .find(|x| x.category == c.category)
            .and_then(|x| Level::parse(&x.level))
    });

    let looks_low = counts.iter().any(|c| {
        matches!(c.analyte, AnalyteId::Wbc | AnalyteId::Anc | AnalyteId::Alc)
            && (c.low.is_true() || c.low_general.is_true())
    });
    // A low count in the last 90 days still asks for an explanation (a cycle, a recovery).
    let (_, points) = ctx.primary();
    let recently_low = points
        .iter()
        .any(|p| p.low && crate::series::days_between(p.at, as_of) <= 90.0);
    let differential = if looks_low || recently_low {
        let mut truths = vec![Truth::Unknown; kb.finding_slot_count()];
        for (id, f) in &findings {
            if let Some(t) = kb.finding_slot(id).and_then(|s| truths.get_mut(s)) {
                *t = f.truth;
            }
        }
        differential::rank(kb, &findings, &truths, ctx.band)
    } else {
        Vec::new()
    };
    let clozapine_overdue = clozapine.as_ref().is_some_and(|c| c.overdue == Some(true));
    let fired = triage::evaluate(
        &ctx,
        &findings,
        &differential,
        clozapine_level,
        clozapine_overdue,
    );
    let level = fired.first().map_or(Level::None, |f| f.level);
    let cant_miss_open = differential::cant_miss_open(&differential)
        .into_iter()
        .map(|c| c.id().to_owned())
        .collect();
    let discriminating_test = workup::discriminating(&differential);
    let workup = workup::build(&ctx, &findings, &differential, level);

    let patterns = [
        "persistent",
        "chronic",
        "lifelong-stable",
        "rapid-fall",
        "drop-from-baseline",
        "recovering",
        "cyclic-pattern",
        "drug-stopped-recovering",
        "chemo-nadir-window",
    ]
    .iter()
    .filter_map(|id| {
        findings
            .get(*id)
            .filter(|f| f.truth.is_true())
            .map(|f| Pattern {
                id: (*id).to_owned(),
                text: f.detail.clone(),
            })
    })
    .collect();

    let mut a = Assessment {
        as_of,
        knowledge: (kb.version.clone(), kb.digest.clone()),
        profile: profile.id.clone(),
        age_days: ctx.age_days,
        sex: ctx.sex,
        duffy_null: ctx.duffy_null,
        counts,
        grades,
        ctcae_version: kb.grading.ctcae.version.clone(),
        neutropenia,
        febrile,
        clozapine,
        patterns,
        medicines: ctx.drugs.clone(),
        chemo_day: ctx.chemo_day.as_ref().map(|(d, _)| *d),
        findings,
        level,
        fired,
        differential,
        cant_miss_open,
        discriminating_test,
        workup,
        actions: Vec::new(),
        missing: Vec::new(),
        input_notes: ctx.notes.clone(),
    };
    a.actions = explain::actions(&ctx, &a);
    a.missing = explain::missing(&ctx, &a);
    Ok(a)
}

fn count_summaries(ctx: &Context) -> Vec<CountSummary> {
    ctx.latest
        .values()
        .filter(|r| r.obs.analyte != AnalyteId::Temperature)
        .map(|r| {
            let dimension = ctx
                .kb
                .analyte(r.obs.analyte)
                .map_or(leuko_kb::Dimension::Count, |a| a.dimension);
            CountSummary {
                analyte: r.obs.analyte,
                value: r.obs.value,
                unit: crate::units::canonical_unit(dimension),
                at: r.obs.at,
                derived: r.obs.derived,
                source_ref: r.obs.source_ref.clone(),
                lower_limit: r.personal,
                low: r.low(),
                low_general: r.low_general(),
            }
        })
        .collect()
}

fn grades(ctx: &Context) -> Vec<Grade> {
    let age_at = |at: OffsetDateTime| {
        ctx.age_days.map(|now| {
            let back = crate::series::days_between(at, ctx.as_of).max(0.0).floor();
            if f64::from(now) >= back {
                now - back as u32
            } else {
                0
            }
        })
    };
    ctx.kb
        .grading
        .ctcae
        .term
        .iter()
        .filter_map(|term| {
            let r = ctx.reading(term.analyte)?;
            let lln = crate::reference::population_lln(ctx.kb, &r.obs, age_at(r.obs.at), ctx.sex)
                .map(|l| l.value);
            Some(Grade {
                key: term.key.clone(),
                term: term.term.clone(),
                grade: grade::ctcae_grade(term, &r.obs, lln),
                value: r.obs.value,
                lln,
            })
        })
        .collect()
}

fn febrile(ctx: &Context, f: &Findings) -> Vec<Febrile> {
    let anc = ctx.value(AnalyteId::Anc);
    let hours = ctx.kb.params.fever_recent_hours.value;
    let temps: Vec<(i64, f64)> = ctx
        .series
        .get(&AnalyteId::Temperature)
        .map(|s| {
            s.iter()
                .filter(|o| crate::series::days_between(o.at, ctx.as_of) * 24.0 <= hours)
                .map(|o| ((o.at - ctx.as_of).whole_minutes(), o.value))
                .collect()
        })
        .unwrap_or_default();
    let reported = ctx.concept("fever").is_true();
    let expected_fall = f
        .get("chemo-nadir-window")
        .or(f.get("rapid-fall"))
        .is_some_and(|x| x.truth.is_true())
        || f.get("rapid-fall").is_some_and(|x| x.truth.is_true());
    if anc.is_none() && temps.is_empty() && !reported {
        return Vec::new();
    }
    ctx.kb
        .grading
        .febrile
        .iter()
        .map(|def| {
            let (met, why) = grade::febrile(def, anc, &temps, reported, expected_fall);
            Febrile {
                definition: def.id.clone(),
                name: def.name.clone(),
                met,
                why,
                sources: def.sources.clone(),
            }
        })
        .collect()
}

fn clozapine(ctx: &Context) -> Option<Clozapine> {
    let exposure = ctx
        .drugs
        .iter()
        .filter(|d| d.drug_id == "clozapine")
        .max_by_key(|d| d.start)?;
    let kb = ctx.kb;
    let ben = ctx.duffy_null;
    let anc_reading = ctx.reading(AnalyteId::Anc);
    let anc = anc_reading.map(|r| grade::graded_value(r.obs.value, r.obs.comparator));
    let days_on = exposure.start.map(|s| (ctx.as_of - s).whole_days());
    let schedule = days_on.and_then(|d| {
        let d = u32::try_from(d).ok()?;
        kb.clozapine
            .schedule
            .iter()
            .find(|s| s.from_days <= d && s.to_days.is_none_or(|t| d < t))
    });
    let days_since_anc = anc_reading.map(|r| crate::series::days_between(r.obs.at, ctx.as_of));
    let overdue = match (schedule, days_since_anc) {
        (Some(s), Some(d)) if exposure.active => Some(d > f64::from(s.every_days)),
        (Some(_), None) if exposure.active => Some(true),
        _ => None,
    };
    let Some(anc) = anc else {
        return Some(Clozapine {
            table: if ben { "ben" } else { "general" },
            category: "no ANC".to_owned(),
            anc: f64::NAN,
            action: "An ANC is needed: clozapine monitoring is by ANC.".to_owned(),
            monitoring: schedule.map(|s| s.text.clone()).unwrap_or_default(),
            interrupt: false,
            confirm: String::new(),
            days_on_treatment: days_on,
            routine_schedule: schedule.map(|s| s.text.clone()),
            overdue,
            days_since_anc,
            note: kb.clozapine.rems_note.clone(),
        });
    };
    let cat = grade::clozapine_category(kb, anc, ben)?;
    Some(Clozapine {
        table: if ben { "ben" } else { "general" },
        category: cat.category.clone(),
        anc,
        action: cat.action.clone(),
        monitoring: cat.monitoring.clone(),
        interrupt: cat.interrupt && exposure.active,
        confirm: cat.confirm.clone(),
        days_on_treatment: days_on,
        routine_schedule: schedule.map(|s| s.text.clone()),
        overdue,
        days_since_anc,
        note: kb.clozapine.rems_note.clone(),
    })
}
