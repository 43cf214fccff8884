//! The assessment JSON of the contract (`PRODUCT.md`): `triage`, `grades.ctcae_v5`,
//! `differential` (ordered, with `icd10`), `workup` (with `loinc`), and everything else an
//! assessment says, with sources resolved to citations.

use std::collections::BTreeMap;

use leuko_core::{Assessment, Audience, Truth, fmt_num};
use leuko_kb::Knowledge;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;

/// The output object.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AssessmentJson {
    /// The moment assessed.
    pub as_of: String,
    /// Knowledge version and digest.
    pub knowledge: Knowledge_,
    /// Threshold profile.
    pub profile: String,
    /// Who.
    pub patient: PatientOut,
    /// Level and reasons.
    pub triage: TriageOut,
    /// Grades.
    pub grades: GradesOut,
    /// Current counts with limits.
    pub counts: Vec<CountOut>,
    /// Neutropenia by the profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neutropenia: Option<NeutropeniaOut>,
    /// Febrile-neutropenia definitions.
    pub febrile_neutropenia: Vec<FebrileOut>,
    /// Clozapine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clozapine: Option<ClozapineOut>,
    /// Patterns across counts.
    pub patterns: Vec<PatternOut>,
    /// Medicine timing.
    pub medicines: Vec<MedicineOut>,
    /// Ranked possible causes.
    pub differential: Vec<CauseOut>,
    /// Can't-miss causes still open.
    pub cant_miss_open: Vec<String>,
    /// The test that best separates the two leading causes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discriminating_test: Option<DiscriminatingOut>,
    /// Work-up, in order.
    pub workup: Vec<WorkupOut>,
    /// Actions.
    pub actions: Vec<ActionOut>,
    /// Missing data and what it would change.
    pub missing: Vec<MissingOut>,
    /// Explanation for the person and the clinician.
    pub explanation: ExplanationOut,
    /// Cited sources.
    pub sources: BTreeMap<String, SourceOut>,
    /// Notes from reading the input.
    pub input_notes: Vec<NoteOut>,
    /// What this is and is not.
    pub disclaimer: &'static str,
}

#[allow(
    non_camel_case_types,
    missing_docs,
    reason = "a plain data carrier named after its key"
)]
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Knowledge_ {
    pub version: String,
    pub digest: String,
}

#[allow(
    missing_docs,
    reason = "fields are documented by the contract in PRODUCT.md and docs/output.md"
)]
mod types {
    use super::*;

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct PatientOut {
        pub age_days: Option<u32>,
        pub age_years: Option<f64>,
        pub sex: &'static str,
        pub duffy_null: bool,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct TriageOut {
        pub level: &'static str,
        pub reasons: Vec<String>,
        pub rules: Vec<RuleOut>,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct RuleOut {
        pub id: String,
        pub level: &'static str,
        pub text: String,
        pub plain: String,
        pub detail: String,
        pub sources: Vec<String>,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct GradesOut {
        pub ctcae_v5: BTreeMap<String, u8>,
        pub ctcae_version: String,
        pub detail: Vec<GradeOut>,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct GradeOut {
        pub key: String,
        pub term: String,
        pub grade: u8,
        pub value: f64,
        pub lln: Option<f64>,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct CountOut {
        pub analyte: &'static str,
        pub value: f64,
        pub unit: &'static str,
        pub at: String,
        pub derived: bool,
        pub source: String,
        pub lower_limit: Option<f64>,
        pub lower_limit_source: Option<String>,
        pub low: &'static str,
        pub low_for_general_population: &'static str,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct NeutropeniaOut {
        pub anc: f64,
        pub threshold: f64,
        pub severity: Option<String>,
        pub profound: bool,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct FebrileOut {
        pub definition: String,
        pub name: String,
        pub met: &'static str,
        pub why: String,
        pub sources: Vec<String>,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct ClozapineOut {
        pub table: &'static str,
        pub category: String,
        pub anc: Option<f64>,
        pub action: String,
        pub monitoring: String,
        pub interrupt: bool,
        pub confirm: String,
        pub days_on_treatment: Option<i64>,
        pub routine_schedule: Option<String>,
        pub overdue: Option<bool>,
        pub note: String,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct PatternOut {
        pub id: String,
        pub text: String,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct MedicineOut {
        pub drug: String,
        pub name: String,
        pub start: Option<String>,
        pub end: Option<String>,
        pub active: bool,
        pub suspect: bool,
        pub timing: String,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct CauseOut {
        pub id: String,
        pub name: String,
        pub plain: String,
        pub icd10: Vec<String>,
        pub weight: f64,
        pub cant_miss: bool,
        pub evidence_for: Vec<EvidenceOut>,
        pub evidence_against: Vec<EvidenceOut>,
        pub summary: String,
        pub sources: Vec<String>,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct EvidenceOut {
        pub finding: String,
        pub status: &'static str,
        pub likelihood_ratio: f64,
        pub why: String,
        pub detail: String,
        pub sources: Vec<String>,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct DiscriminatingOut {
        pub test: String,
        pub name: String,
        pub between: [String; 2],
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct WorkupOut {
        pub id: String,
        pub name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub loinc: Option<String>,
        pub priority: &'static str,
        pub reason: String,
        pub plain: String,
        pub for_causes: Vec<String>,
        pub sources: Vec<String>,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct ActionOut {
        pub id: String,
        pub text: String,
        pub plain: String,
        pub sources: Vec<String>,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct MissingOut {
        pub what: String,
        pub would_change: String,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct ExplanationOut {
        pub plain: Vec<StatementOut>,
        pub clinical: Vec<StatementOut>,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct StatementOut {
        pub text: String,
        pub sources: Vec<String>,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct SourceOut {
        pub citation: String,
        pub url: String,
        pub kind: String,
        pub version: String,
        pub confidence: String,
    }

    #[derive(Debug, Serialize, schemars::JsonSchema)]
    pub struct NoteOut {
        pub field: String,
        pub message: String,
    }
}
pub use types::*;

fn ts(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn truth(t: Truth) -> &'static str {
    match t {
        Truth::True => "yes",
        Truth::False => "no",
        Truth::Unknown => "unknown",
    }
}

/// The disclaimer carried by every assessment.
pub const DISCLAIMER: &str = "Decision support, not a diagnosis: leuko lists possible causes and what to check next; a clinician decides.";

impl AssessmentJson {
    /// Builds the output from an assessment.
    pub fn from_assessment(kb: &Knowledge, a: &Assessment) -> AssessmentJson {
        let mut cited: Vec<String> = Vec::new();
        let mut cite = |ids: &[String]| {
            for id in ids {
                if !cited.contains(id) {
                    cited.push(id.clone());
                }
            }
        };
        let rules: Vec<RuleOut> = a
            .fired
            .iter()
            .filter_map(|f| {
                let r = kb.rule(&f.rule)?;
                Some(RuleOut {
                    id: r.id.clone(),
                    level: f.level.as_str(),
                    text: r.text.clone(),
                    plain: r.plain.clone(),
                    detail: f.detail.clone(),
                    sources: r.sources.clone(),
                })
            })
            .collect();
        for r in &rules {
            cite(&r.sources);
        }
        let reasons = rules
            .iter()
            .filter(|r| r.level == a.level.as_str())
            .map(|r| {
                if r.detail.is_empty() {
                    r.text.clone()
                } else {
                    format!("{} [{}]", r.text, r.detail)
                }
            })
            .collect();
        let differential: Vec<CauseOut> = a
            .differential
            .iter()
            .map(|c| {
                let ev = |e: &leuko_core::Evidence| EvidenceOut {
                    finding: e.finding_id().to_owned(),
                    status: if e.truth == Truth::True {
                        "present"
                    } else {
                        "absent"
                    },
                    likelihood_ratio: e.lr,
                    why: e.why().to_owned(),
                    detail: a.detail(e).to_owned(),
                    sources: e.sources().to_vec(),
                };
                CauseOut {
                    id: c.id().to_owned(),
                    name: c.name().to_owned(),
                    plain: c.plain().to_owned(),
                    icd10: c.icd10.clone(),
                    weight: (c.weight * 10_000.0).round() / 10_000.0,
                    cant_miss: c.cant_miss(),
                    evidence_for: c.evidence_for.iter().map(ev).collect(),
                    evidence_against: c.evidence_against.iter().map(ev).collect(),
                    summary: c.summary().to_owned(),
                    sources: c.sources().to_vec(),
                }
            })
            .collect();
        for c in differential.iter().take(5) {
            cite(&c.sources);
            for e in c.evidence_for.iter().chain(&c.evidence_against) {
                cite(&e.sources);
            }
        }
        let workup: Vec<WorkupOut> = a
            .workup
            .iter()
            .map(|w| WorkupOut {
                id: w.id().to_owned(),
                name: w.name().to_owned(),
                loinc: w.loinc().map(str::to_owned),
                priority: w.priority.as_str(),
                reason: w.reason().to_owned(),
                plain: w.plain().to_owned(),
                for_causes: w.for_causes.clone(),
                sources: w.sources().to_vec(),
            })
            .collect();
        for w in &workup {
            cite(&w.sources);
        }
        let statements = leuko_core::explanation(kb, a);
        let statement = |aud: Audience| -> Vec<StatementOut> {
            statements
                .iter()
                .filter(|s| s.audience == aud)
                .map(|s| StatementOut {
                    text: s.text.clone(),
                    sources: s.sources.clone(),
                })
                .collect()
        };
        let explanation = ExplanationOut {
            plain: statement(Audience::Plain),
            clinical: statement(Audience::Clinical),
        };
        for s in explanation.plain.iter().chain(&explanation.clinical) {
            cite(&s.sources);
        }
        let actions: Vec<ActionOut> = a
            .actions
            .iter()
            .map(|x| ActionOut {
                id: x.id.clone(),
                text: x.text.clone(),
                plain: x.plain.clone(),
                sources: x.sources.clone(),
            })
            .collect();
        for x in &actions {
            cite(&x.sources);
        }
        let febrile: Vec<FebrileOut> = a
            .febrile
            .iter()
            .map(|f| FebrileOut {
                definition: f.definition.clone(),
                name: f.name.clone(),
                met: truth(f.met),
                why: f.why.clone(),
                sources: f.sources.clone(),
            })
            .collect();
        for f in &febrile {
            cite(&f.sources);
        }
        if a.clozapine.is_some() {
            cite(&kb.clozapine.sources);
        }
        cite(&kb.grading.ctcae.sources);
        let sources = cited
            .iter()
            .filter_map(|id| {
                kb.source(id).map(|s| {
                    (
                        id.clone(),
                        SourceOut {
                            citation: s.citation.clone(),
                            url: s.url.clone(),
                            kind: s.kind.clone(),
                            version: s.version.clone(),
                            confidence: s.confidence.clone(),
                        },
                    )
                })
            })
            .collect();

        AssessmentJson {
            as_of: ts(a.as_of),
            knowledge: Knowledge_ {
                version: a.knowledge.0.clone(),
                digest: a.knowledge.1.clone(),
            },
            profile: a.profile.clone(),
            patient: PatientOut {
                age_days: a.age_days,
                age_years: a
                    .age_days
                    .map(|d| (f64::from(d) / 365.25 * 10.0).floor() / 10.0),
                sex: match a.sex {
                    leuko_core::Sex::Female => "female",
                    leuko_core::Sex::Male => "male",
                    leuko_core::Sex::Other => "other",
                    leuko_core::Sex::Unknown => "unknown",
                },
                duffy_null: a.duffy_null,
            },
            triage: TriageOut {
                level: a.level.as_str(),
                reasons,
                rules,
            },
            grades: GradesOut {
                ctcae_v5: a.grades.iter().map(|g| (g.key.clone(), g.grade)).collect(),
                ctcae_version: a.ctcae_version.clone(),
                detail: a
                    .grades
                    .iter()
                    .map(|g| GradeOut {
                        key: g.key.clone(),
                        term: g.term.clone(),
                        grade: g.grade,
                        value: g.value,
                        lln: g.lln,
                    })
                    .collect(),
            },
            counts: a
                .counts
                .iter()
                .map(|c| CountOut {
                    analyte: c.analyte.as_str(),
                    value: c.value,
                    unit: c.unit,
                    at: ts(c.at),
                    derived: c.derived,
                    source: c.source_ref.clone(),
                    lower_limit: c.lower_limit.as_ref().map(|l| l.value),
                    lower_limit_source: c.lower_limit.as_ref().map(|l| match &l.source {
                        leuko_core::LimitSource::Laboratory => "laboratory range".to_owned(),
                        leuko_core::LimitSource::Interval {
                            population: leuko_kb::Population::General,
                            ..
                        } => "general-population interval".to_owned(),
                        leuko_core::LimitSource::Interval {
                            population: leuko_kb::Population::DuffyNull,
                            ..
                        } => "Duffy-null (DANC) interval".to_owned(),
                        leuko_core::LimitSource::Profile { index } => {
                            let id = kb.profiles.get(*index).map_or("", |p| p.id.as_str());
                            format!("{id} neutropenia threshold")
                        }
                    }),
                    low: truth(c.low),
                    low_for_general_population: truth(c.low_general),
                })
                .collect(),
            neutropenia: a.neutropenia.as_ref().map(|n| NeutropeniaOut {
                anc: n.anc,
                threshold: n.threshold,
                severity: n.severity.clone(),
                profound: n.profound,
            }),
            febrile_neutropenia: febrile,
            clozapine: a.clozapine.as_ref().map(|c| ClozapineOut {
                table: c.table,
                category: c.category.clone(),
                anc: c.anc.is_finite().then_some(c.anc),
                action: c.action.clone(),
                monitoring: c.monitoring.clone(),
                interrupt: c.interrupt,
                confirm: c.confirm.clone(),
                days_on_treatment: c.days_on_treatment,
                routine_schedule: c.routine_schedule.clone(),
                overdue: c.overdue,
                note: c.note.clone(),
            }),
            patterns: a
                .patterns
                .iter()
                .map(|p| PatternOut {
                    id: p.id.clone(),
                    text: p.text.clone(),
                })
                .collect(),
            medicines: a
                .medicines
                .iter()
                .map(|m| MedicineOut {
                    drug: m.drug_id.clone(),
                    name: m.name.clone(),
                    start: m.start.map(ts),
                    end: m.end.map(ts),
                    active: m.active,
                    suspect: m.suspect,
                    timing: m.timing.clone(),
                })
                .collect(),
            differential,
            cant_miss_open: a.cant_miss_open.clone(),
            discriminating_test: a.discriminating_test.as_ref().and_then(|(t, x, y)| {
                kb.test(t).map(|test| DiscriminatingOut {
                    test: t.clone(),
                    name: test.name.clone(),
                    between: [x.clone(), y.clone()],
                })
            }),
            workup,
            actions,
            missing: a
                .missing
                .iter()
                .map(|m| MissingOut {
                    what: m.what.clone(),
                    would_change: m.would_change.clone(),
                })
                .collect(),
            explanation,
            sources,
            input_notes: a
                .input_notes
                .iter()
                .map(|n| NoteOut {
                    field: n.field.clone(),
                    message: n.message.clone(),
                })
                .collect(),
            disclaimer: DISCLAIMER,
        }
    }
}

/// A short number for text.
pub fn num(v: f64) -> String {
    fmt_num(v)
}
