//! The work-up (tests in a sensible order, each with its reason) and the actions.

use std::sync::Arc;

use leuko_kb::{AnalyteId, Test};

use crate::differential::Candidate;
use crate::findings::Context;
use crate::triage::Level;
use crate::{Findings, Truth};

/// Priority of a test, most pressing first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Now, before treatment (blood cultures in febrile neutropenia).
    Immediate,
    /// Confirm the finding.
    Confirm,
    /// First-line tests for the leading causes.
    FirstLine,
    /// Specialist tests (marrow, genetics, flow cytometry).
    Specialist,
}

impl Priority {
    /// Words.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Immediate => "immediate",
            Priority::Confirm => "confirm",
            Priority::FirstLine => "first-line",
            Priority::Specialist => "specialist",
        }
    }
}

/// One test of the work-up: the knowledge base's test (shared) and why it is here.
#[derive(Debug, Clone)]
pub struct WorkupItem {
    /// The test.
    pub test: Arc<Test>,
    /// Why, for this person, when it differs from the test's own reason.
    pub reason_here: Option<String>,
    /// Priority.
    pub priority: Priority,
    /// Causes it helps with (ids).
    pub for_causes: Vec<String>,
}

impl WorkupItem {
    /// Test id.
    pub fn id(&self) -> &str {
        &self.test.id
    }
    /// Name.
    pub fn name(&self) -> &str {
        &self.test.name
    }
    /// LOINC code, when one names the test.
    pub fn loinc(&self) -> Option<&str> {
        (!self.test.loinc.is_empty()).then_some(self.test.loinc.as_str())
    }
    /// Why.
    pub fn reason(&self) -> &str {
        self.reason_here.as_deref().unwrap_or(&self.test.reason)
    }
    /// Plain words.
    pub fn plain(&self) -> &str {
        &self.test.plain
    }
    /// Sources.
    pub fn sources(&self) -> &[String] {
        &self.test.sources
    }
}

const SPECIALIST: &[&str] = &["bone-marrow", "elane", "flow-lgl", "granulocyte-antibodies"];

/// Builds the ordered work-up.
pub fn build(ctx: &Context, f: &Findings, ranked: &[Candidate], level: Level) -> Vec<WorkupItem> {
    let kb = ctx.kb;
    let t = |id: &str| f.get(id).map_or(Truth::Unknown, |x| x.truth);
    let mut items: Vec<WorkupItem> = Vec::new();
    let mut add = |id: &str, priority: Priority, reason: Option<String>, cause: Option<&str>| {
        if let Some(existing) = items.iter_mut().find(|i| i.id() == id) {
            if let Some(c) = cause
                && !existing.for_causes.iter().any(|x| x == c)
            {
                existing.for_causes.push(c.to_owned());
            }
            existing.priority = existing.priority.min(priority);
            return;
        }
        let Some(test) = kb.test_shared(id) else {
            return;
        };
        items.push(WorkupItem {
            test: Arc::clone(test),
            reason_here: reason,
            priority,
            for_causes: cause.map(|c| vec![c.to_owned()]).unwrap_or_default(),
        });
    };

    let anc = ctx.value(AnalyteId::Anc);
    let fever = t("fever-now").is_true();
    let anything_low = [
        "neutropenia",
        "leukopenia",
        "lymphopenia",
        "anemia",
        "thrombocytopenia",
    ]
    .iter()
    .any(|id| t(id).is_true());
    if (fever
        && anc.is_none_or(|a| a < kb.params.moderate_anc.value)
        && (anything_low || t("chemo-recent").is_true()))
        || (t("sepsis").is_true() && anything_low)
        || level == Level::Emergency
    {
        add("blood-culture", Priority::Immediate, Some("Fever with neutropenia or signs of sepsis: cultures before the first antibiotic dose, which must not be delayed.".to_owned()), None);
        if t("sepsis").is_true() || t("hypotension").is_true() {
            add("lactate", Priority::Immediate, None, None);
        }
    }
    let looks_low = anything_low
        || ctx.latest.values().any(|r| {
            r.low_general().is_true()
                && matches!(
                    r.obs.analyte,
                    AnalyteId::Anc | AnalyteId::Wbc | AnalyteId::Alc
                )
        });
    if !looks_low {
        return items;
    }
    add("cbc-diff-smear", Priority::Confirm, None, None);

    // Tests of the leading causes, and of can't-miss causes with some weight.
    let leading: Vec<&Candidate> = ranked
        .iter()
        .enumerate()
        .filter(|(i, c)| *i == 0 || c.weight >= 0.03)
        .map(|(_, c)| c)
        .take(4)
        .chain(
            ranked
                .iter()
                .skip(4)
                .filter(|c| c.cant_miss() && c.weight >= 0.05),
        )
        .collect();
    for c in leading {
        for test in c.tests() {
            // A test whose result is already in the record is not asked for again.
            let done = match test.as_str() {
                "b12" => ctx.value(AnalyteId::B12).is_some(),
                "folate" => ctx.value(AnalyteId::Folate).is_some(),
                "copper" => ctx.value(AnalyteId::Copper).is_some(),
                "crp" => ctx.value(AnalyteId::Crp).is_some(),
                "drug-history" => ctx.has_medication_list,
                _ => false,
            };
            if done {
                continue;
            }
            let priority = if SPECIALIST.contains(&test.as_str()) {
                Priority::Specialist
            } else {
                Priority::FirstLine
            };
            add(test, priority, None, Some(c.id()));
        }
    }
    if t("blasts").is_true() || (t("pancytopenia").is_true() && t("b12-normal").is_true()) {
        add("bone-marrow", Priority::Specialist, None, None);
    }
    if !ctx.has_medication_list && t("neutropenia").is_true() {
        add("drug-history", Priority::FirstLine, None, None);
    }
    items.sort_by_key(|i| i.priority);
    items
}

/// The single test that best separates the two leading causes: a test of the first that the
/// second does not share, or the other way round.
pub fn discriminating(ranked: &[Candidate]) -> Option<(String, String, String)> {
    let a = ranked.first()?;
    // Only when the second cause is still a contender.
    let b = ranked.get(1).filter(|b| b.weight >= 0.05)?;
    let pick = |x: &Candidate, y: &Candidate| {
        x.tests()
            .iter()
            .find(|t| !y.tests().contains(t) && t.as_str() != "cbc-diff-smear")
            .cloned()
    };
    pick(a, b)
        .or_else(|| pick(b, a))
        .map(|t| (t, a.id().to_owned(), b.id().to_owned()))
}
