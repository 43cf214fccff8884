//! From a record to facts: the current counts against the person's limits, the series across
//! time, medicine timing, and the findings (three-valued) that the differential and triage use.

use std::collections::BTreeMap;

use leuko_kb::{AnalyteId, Drug, Knowledge, Profile};
use time::OffsetDateTime;

use crate::reference::{self, AgeBand, Limit};
use crate::series::{self, Point, days_between};
use crate::{ConditionStatus, Observation, Record, Sex, Truth};

/// One computed finding with the words that justify it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Whether it holds.
    pub truth: Truth,
    /// What it rests on, in a few words (for the explanation).
    pub detail: String,
}

/// All findings by id (engine findings and concept ids).
pub type Findings = BTreeMap<String, Finding>;

/// A current count with its limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The observation.
    pub obs: Observation,
    /// Limit below which it is low for this person.
    pub personal: Option<Limit>,
    /// Limit of the general population (or the laboratory's).
    pub general: Option<Limit>,
}

impl Reading {
    /// Low for this person.
    pub fn low(&self) -> Truth {
        match &self.personal {
            Some(l) => Truth::from_bool(
                crate::grade::graded_value(self.obs.value, self.obs.comparator) < l.value,
            ),
            None => Truth::Unknown,
        }
    }

    /// Low against the general population's limit.
    pub fn low_general(&self) -> Truth {
        match &self.general {
            Some(l) => Truth::from_bool(
                crate::grade::graded_value(self.obs.value, self.obs.comparator) < l.value,
            ),
            None => Truth::Unknown,
        }
    }
}

/// A medicine's relation to the counts.
#[derive(Debug, Clone, PartialEq)]
pub struct DrugExposure {
    /// The drug.
    pub drug_id: String,
    /// Its name.
    pub name: String,
    /// Start.
    pub start: Option<OffsetDateTime>,
    /// End (last dose), if stopped.
    pub end: Option<OffsetDateTime>,
    /// Still taken at `as_of`.
    pub active: bool,
    /// Days from start to the first low count of the current episode.
    pub onset_days: Option<f64>,
    /// A suspect for the low count (timing fits, evidence at least moderate).
    pub suspect: bool,
    /// A possible cause: timing fits but the evidence that it causes neutropenia is weak.
    pub possible: bool,
    /// Why (or why not).
    pub timing: String,
}

/// Everything the engine derives from a record before deciding.
#[derive(Debug, Clone)]
pub struct Context<'k> {
    /// The knowledge base.
    pub kb: &'k Knowledge,
    /// The threshold profile.
    pub profile: &'k Profile,
    /// The moment of assessment.
    pub as_of: OffsetDateTime,
    /// Age in days at `as_of`.
    pub age_days: Option<u32>,
    /// Age band.
    pub band: AgeBand,
    /// Sex.
    pub sex: Sex,
    /// Duffy-null phenotype recorded.
    pub duffy_null: bool,
    /// Observations up to `as_of`, with derived ones, by analyte, oldest first.
    pub series: BTreeMap<AnalyteId, Vec<Observation>>,
    /// Current readings (the latest of each analyte).
    pub latest: BTreeMap<AnalyteId, Reading>,
    /// Present concepts (id -> detail), absent concepts (id -> detail).
    pub concepts: BTreeMap<String, (Truth, String)>,
    /// Medicines by drug.
    pub drugs: Vec<DrugExposure>,
    /// Whether the record lists any medicine (else drug findings are unknown).
    pub has_medication_list: bool,
    /// Days since the last chemotherapy dose, when one is recent.
    pub chemo_day: Option<(f64, String)>,
    /// The primary white-cell series (ANC, else WBC) with low flags, computed once.
    primary: (AnalyteId, Vec<Point>),
    /// Derivation and reading notes.
    pub notes: Vec<crate::InputNote>,
}

fn age_days_at(birth: Option<time::Date>, at: OffsetDateTime) -> Option<u32> {
    let b = birth?;
    let d = (at.date() - b).whole_days();
    u32::try_from(d).ok()
}

impl<'k> Context<'k> {
    /// Builds the context. Data after `as_of` is ignored.
    pub fn build(
        kb: &'k Knowledge,
        profile: &'k Profile,
        record: &Record,
        as_of: OffsetDateTime,
    ) -> Context<'k> {
        let birth = record.patient.birth_date;
        let age_days = age_days_at(birth, as_of);
        let sex = record.patient.sex;
        let mut notes = record.notes.clone();

        // Concepts present as of now.
        let mut concepts: BTreeMap<String, (Truth, String)> = BTreeMap::new();
        for c in &record.conditions {
            let Some(id) = &c.concept else { continue };
            if c.onset.is_some_and(|o| o > as_of) {
                continue;
            }
            let recent_days = kb.concept(id).map_or(0, |k| k.recent_days);
            let truth = match c.status {
                ConditionStatus::Absent => Truth::False,
                ConditionStatus::Active if recent_days == 0 => Truth::True,
                ConditionStatus::Active => {
                    let since = c.onset.map(|o| days_between(o, as_of));
                    Truth::from_bool(since.is_none_or(|d| d <= f64::from(recent_days)))
                }
                ConditionStatus::Resolved if recent_days > 0 => {
                    let anchor = c.abatement.or(c.onset).filter(|a| *a <= as_of);
                    match anchor {
                        Some(a) => {
                            Truth::from_bool(days_between(a, as_of) <= f64::from(recent_days))
                        }
                        None => Truth::Unknown,
                    }
                }
                ConditionStatus::Resolved => Truth::False,
            };
            let detail = match (c.status, c.onset) {
                (ConditionStatus::Resolved, Some(o)) => {
                    format!("{} (resolved; onset {})", c.text, o.date())
                }
                (ConditionStatus::Resolved, None) => format!("{} (resolved)", c.text),
                (ConditionStatus::Absent, _) => format!("no {}", c.text),
                (_, Some(o)) => format!("{} (since {})", c.text, o.date()),
                (_, None) => c.text.clone(),
            };
            // A present report wins over an absent one.
            let entry = concepts
                .entry(id.clone())
                .or_insert((truth, detail.clone()));
            if truth == Truth::True && entry.0 != Truth::True {
                *entry = (truth, detail);
            }
        }
        // Implications (breast cancer implies cancer), one level deep.
        let implied: Vec<(String, String)> = concepts
            .iter()
            .filter(|(_, (t, _))| *t == Truth::True)
            .flat_map(|(id, (_, detail))| {
                kb.concept(id)
                    .into_iter()
                    .flat_map(|c| c.implies.iter())
                    .map(move |i| (i.clone(), format!("implied by {detail}")))
            })
            .collect();
        for (id, detail) in implied {
            let entry = concepts.entry(id).or_insert((Truth::True, detail.clone()));
            if entry.0 != Truth::True {
                *entry = (Truth::True, detail);
            }
        }
        let concept_true = |id: &str| concepts.get(id).is_some_and(|(t, _)| *t == Truth::True);
        let duffy_null = concept_true("duffy-null");

        // Observations up to as_of, by analyte.
        let mut series: BTreeMap<AnalyteId, Vec<Observation>> = BTreeMap::new();
        for o in record.observations.iter().filter(|o| o.at <= as_of) {
            series.entry(o.analyte).or_default().push(o.clone());
        }
        for s in series.values_mut() {
            s.sort_by_key(|o| o.at);
        }
        derive_absolute(
            &mut series,
            AnalyteId::Anc,
            &[AnalyteId::NeutPct, AnalyteId::BandPct],
            &mut notes,
        );
        derive_absolute(
            &mut series,
            AnalyteId::Alc,
            &[AnalyteId::LymphPct],
            &mut notes,
        );
        derive_absolute(
            &mut series,
            AnalyteId::Amc,
            &[AnalyteId::MonoPct],
            &mut notes,
        );
        derive_absolute(
            &mut series,
            AnalyteId::BlastAbs,
            &[AnalyteId::BlastPct],
            &mut notes,
        );

        let mut latest = BTreeMap::new();
        for (analyte, obs) in &series {
            if let Some(o) = obs.last() {
                let age_then = age_days_at(birth, o.at);
                latest.insert(
                    *analyte,
                    Reading {
                        obs: o.clone(),
                        personal: reference::personal_lln(
                            kb, profile, o, age_then, sex, duffy_null,
                        ),
                        general: reference::general_lln(kb, profile, o, age_then, sex),
                    },
                );
            }
        }

        let mut ctx = Context {
            kb,
            profile,
            as_of,
            age_days,
            band: AgeBand::of(age_days),
            sex,
            duffy_null,
            series,
            latest,
            concepts,
            drugs: Vec::new(),
            has_medication_list: !record.medications.is_empty(),
            chemo_day: None,
            primary: (AnalyteId::Anc, Vec::new()),
            notes,
        };
        let anc = ctx.points(AnalyteId::Anc);
        ctx.primary = if anc.is_empty() {
            (AnalyteId::Wbc, ctx.points(AnalyteId::Wbc))
        } else {
            (AnalyteId::Anc, anc)
        };
        ctx.analyse_drugs(record);
        ctx
    }

    /// Points of an analyte's series, each flagged low for this person at its own time.
    pub fn points(&self, analyte: AnalyteId) -> Vec<Point> {
        let birth_age = |at| {
            self.age_days.and_then(|now| {
                let back = days_between(at, self.as_of).max(0.0);
                // Whole days back; ages are never negative.
                let back = back.floor();
                (f64::from(now) >= back).then(|| now - back as u32)
            })
        };
        self.series
            .get(&analyte)
            .map(|obs| {
                obs.iter()
                    .map(|o| {
                        let lln = reference::personal_lln(
                            self.kb,
                            self.profile,
                            o,
                            birth_age(o.at),
                            self.sex,
                            self.duffy_null,
                        );
                        Point {
                            at: o.at,
                            value: o.value,
                            low: lln.is_some_and(|l| o.value < l.value),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The primary white-cell series: ANC when measured or derived, else WBC.
    pub fn primary(&self) -> (AnalyteId, &[Point]) {
        (self.primary.0, &self.primary.1)
    }

    /// The current reading of an analyte, if any.
    pub fn reading(&self, analyte: AnalyteId) -> Option<&Reading> {
        self.latest.get(&analyte)
    }

    /// The current value of an analyte, if any.
    pub fn value(&self, analyte: AnalyteId) -> Option<f64> {
        self.reading(analyte)
            .map(|r| crate::grade::graded_value(r.obs.value, r.obs.comparator))
    }

    /// Whether a concept is present.
    pub fn concept(&self, id: &str) -> Truth {
        self.concepts.get(id).map_or(Truth::Unknown, |(t, _)| *t)
    }

    /// The time of the first low count of the current low episode (or of the nadir of the most
    /// recent episode when counts have since recovered).
    pub fn episode_start(&self) -> Option<OffsetDateTime> {
        let (_, points) = self.primary();
        if let Some(run) = series::latest_low_run(points) {
            return run.first().map(|p| p.at);
        }
        // Recovered: the start of the last low run.
        let last_low = points.iter().rposition(|p| p.low)?;
        let start = points
            .get(..=last_low)?
            .iter()
            .rposition(|p| !p.low)
            .map_or(0, |i| i + 1);
        points.get(start).map(|p| p.at)
    }

    fn analyse_drugs(&mut self, record: &Record) {
        let p = &self.kb.params;
        let t_low = self.episode_start().unwrap_or(self.as_of);
        let slack = p.drug_window_slack_days.value;
        let mut last_chemo: Option<(OffsetDateTime, String)> = None;
        for m in &record.medications {
            if m.start.is_some_and(|s| s > self.as_of) {
                continue;
            }
            let active = m.active && m.end.is_none_or(|e| e >= self.as_of);
            for id in &m.drugs {
                let Some(drug) = self.kb.drug(id) else {
                    continue;
                };
                if drug.cause == "chemotherapy" {
                    let last_dose = if active {
                        Some(self.as_of)
                    } else {
                        m.end.or(m.start)
                    };
                    if let Some(d) = last_dose.filter(|d| *d <= self.as_of)
                        && last_chemo.as_ref().is_none_or(|(prev, _)| d > *prev)
                    {
                        last_chemo = Some((d, drug.name.clone()));
                    }
                }
                let weak = drug.evidence == "weak";
                let (fits, onset_days, timing) = suspect_timing(
                    drug,
                    m.start,
                    m.end,
                    active,
                    t_low,
                    slack,
                    p.drug_stop_suspect_days.value,
                );
                self.drugs.push(DrugExposure {
                    drug_id: drug.id.clone(),
                    name: drug.name.clone(),
                    start: m.start,
                    end: m.end,
                    active,
                    onset_days,
                    suspect: fits && !weak,
                    possible: fits && weak,
                    timing: if fits && weak {
                        format!("{timing}; the evidence that it lowers neutrophils is weak")
                    } else {
                        timing
                    },
                });
            }
        }
        if let Some((d, name)) = last_chemo {
            let day = days_between(d, self.as_of);
            if day <= p.chemo_recent_days.value {
                self.chemo_day = Some((day, name));
            }
        }
    }

    /// Suspect drugs.
    pub fn suspects(&self) -> impl Iterator<Item = &DrugExposure> {
        self.drugs.iter().filter(|d| d.suspect)
    }
}

fn suspect_timing(
    drug: &Drug,
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
    active: bool,
    t_low: OffsetDateTime,
    slack: f64,
    stop_days: f64,
) -> (bool, Option<f64>, String) {
    if drug.cause == "chemotherapy" {
        return (
            false,
            None,
            format!(
                "{} is chemotherapy: a fall in the counts is its expected effect (see the chemotherapy cause)",
                drug.name
            ),
        );
    }
    if drug.cause != "drug-induced" || !matches!(drug.evidence.as_str(), "strong" | "moderate") {
        return (
            false,
            None,
            format!("{} is not a recognised cause of neutropenia", drug.name),
        );
    }
    if drug.effect == "lymphopenia" {
        return (
            false,
            None,
            format!("{} lowers lymphocytes, not neutrophils", drug.name),
        );
    }
    let Some(start) = start else {
        return (
            false,
            None,
            format!("{}: start date unknown, timing cannot be judged", drug.name),
        );
    };
    let onset = days_between(start, t_low);
    if onset < 0.0 {
        return (
            false,
            Some(onset),
            format!(
                "{} was started after the counts were already low",
                drug.name
            ),
        );
    }
    let exposed_then = active || end.is_none_or(|e| days_between(e, t_low) <= stop_days);
    if !exposed_then {
        return (
            false,
            Some(onset),
            format!("{} was stopped well before the counts fell", drug.name),
        );
    }
    let [lo, hi] = drug.onset_days;
    let in_window = drug.mechanism != "idiosyncratic"
        || (onset >= f64::from(lo) - slack && onset <= f64::from(hi) + slack);
    // The drugs with the most reported agranulocytosis keep a lower risk for as long as they
    // are taken (clozapine monitoring is lifelong), so a late onset on them stays suspect.
    let late_but_high_risk = onset > f64::from(hi) + slack
        && active
        && (drug.andersohn_2007 == "over-10-reports" || drug.evidence == "strong");
    let timing = if drug.mechanism == "idiosyncratic" {
        format!(
            "{} started {:.0} days before the low count (usual onset {}-{} days){}",
            drug.name,
            onset,
            lo,
            hi,
            if in_window {
                ""
            } else if late_but_high_risk {
                ": later than usual, but the risk persists while it is taken"
            } else {
                ": outside the usual window"
            }
        )
    } else {
        format!(
            "{} taken when the count was low ({} marrow toxicity)",
            drug.name, drug.mechanism
        )
    };
    (in_window || late_but_high_risk, Some(onset), timing)
}

/// Computes an absolute count from WBC and percentages at the same time when no absolute
/// count was reported then. ANC = WBC x (neutrophils % + bands %) / 100.
fn derive_absolute(
    series: &mut BTreeMap<AnalyteId, Vec<Observation>>,
    target: AnalyteId,
    percents: &[AnalyteId],
    notes: &mut Vec<crate::InputNote>,
) {
    // Nothing to compute without the main percentage (the common case: an absolute count).
    if percents.first().is_none_or(|p| !series.contains_key(p)) {
        return;
    }
    let Some(wbc) = series.get(&AnalyteId::Wbc).cloned() else {
        return;
    };
    let mut added = Vec::new();
    for w in &wbc {
        let same_time = |o: &&Observation| (o.at - w.at).whole_minutes().abs() <= 60;
        if series
            .get(&target)
            .is_some_and(|s| s.iter().any(|o| same_time(&o)))
        {
            continue;
        }
        let mut total = 0.0;
        let mut found = false;
        let mut parts = Vec::new();
        for pct in percents {
            if let Some(p) = series.get(pct).and_then(|s| s.iter().find(same_time)) {
                total += p.value;
                found = true;
                parts.push(format!("{} {}%", pct.as_str(), p.value));
            }
        }
        // The first percent analyte is required (bands alone do not make an ANC).
        let has_main = percents.first().is_some_and(|p| {
            series
                .get(p)
                .is_some_and(|s| s.iter().any(|o| same_time(&o)))
        });
        if !found || !has_main {
            continue;
        }
        if total > 100.0 {
            notes.push(crate::InputNote {
                field: format!("{} at {}", target.as_str(), w.at.date()),
                message: format!("not computed: percentages add up to {total} (over 100)"),
            });
            continue;
        }
        let value = w.value * total / 100.0;
        added.push(Observation {
            analyte: target,
            at: w.at,
            value,
            comparator: w.comparator,
            reported: None,
            reference_range: None,
            derived: true,
            source_ref: format!("computed: WBC {} x ({}) / 100", w.value, parts.join(" + ")),
        });
    }
    if !added.is_empty() {
        let s = series.entry(target).or_default();
        s.extend(added);
        s.sort_by_key(|o| o.at);
    }
}

fn fmt(v: f64) -> String {
    crate::assess::fmt_num(v)
}

/// Computes every finding.
pub fn compute(ctx: &Context) -> Findings {
    let kb = ctx.kb;
    let p = &kb.params;
    let mut f = Findings::new();
    let mut put = |id: &str, truth: Truth, detail: String| {
        f.insert(id.to_owned(), Finding { truth, detail });
    };

    let low = |a| ctx.reading(a).map_or(Truth::Unknown, Reading::low);
    let anc = ctx.value(AnalyteId::Anc);
    let anc_low = low(AnalyteId::Anc);
    let wbc_low = low(AnalyteId::Wbc);
    let alc_low = low(AnalyteId::Alc);
    let hgb_low = low(AnalyteId::Hgb);
    let plt_low = low(AnalyteId::Plt);
    let anc_text = anc.map_or_else(|| "ANC unknown".to_owned(), |a| format!("ANC {}", fmt(a)));

    put("neutropenia", anc_low, anc_text.clone());
    let below = |t: f64| anc.map_or(Truth::Unknown, |a| Truth::from_bool(a < t));
    put(
        "severe-neutropenia",
        below(p.severe_anc.value),
        anc_text.clone(),
    );
    put(
        "profound-neutropenia",
        below(p.profound_anc.value),
        anc_text.clone(),
    );
    put(
        "moderate-or-worse-neutropenia",
        below(p.moderate_anc.value),
        anc_text.clone(),
    );
    // The shape of the picture (mild, isolated) is judged on what looks low on a standard
    // report, so that a Duffy-null person's mild isolated count still reads as such.
    let anc_looks_low = ctx
        .reading(AnalyteId::Anc)
        .map_or(Truth::Unknown, |r| r.low().or(r.low_general()));
    put(
        "mild-neutropenia-only",
        anc_looks_low.and(below(p.moderate_anc.value).not()),
        anc_text.clone(),
    );
    put(
        "leukopenia",
        wbc_low,
        ctx.value(AnalyteId::Wbc)
            .map_or_else(|| "WBC unknown".to_owned(), |v| format!("WBC {}", fmt(v))),
    );
    put(
        "lymphopenia",
        alc_low,
        ctx.value(AnalyteId::Alc).map_or_else(
            || "ALC unknown".to_owned(),
            |v| format!("lymphocytes {}", fmt(v)),
        ),
    );
    put(
        "anemia",
        hgb_low,
        ctx.value(AnalyteId::Hgb).map_or_else(
            || "haemoglobin unknown".to_owned(),
            |v| format!("haemoglobin {} g/dL", fmt(v)),
        ),
    );
    put(
        "thrombocytopenia",
        plt_low,
        ctx.value(AnalyteId::Plt).map_or_else(
            || "platelets unknown".to_owned(),
            |v| format!("platelets {}", fmt(v)),
        ),
    );

    let white = anc_low.or(wbc_low);
    let lines = [white, hgb_low, plt_low];
    let n_low = lines.iter().filter(|t| t.is_true()).count();
    let n_unknown = lines.iter().filter(|t| **t == Truth::Unknown).count();
    let lines_text = format!(
        "{n_low} of 3 cell lines low{}",
        if n_unknown > 0 {
            format!(", {n_unknown} not measured")
        } else {
            String::new()
        }
    );
    let pancytopenia = if n_low == 3 {
        Truth::True
    } else if n_low + n_unknown < 3 {
        Truth::False
    } else {
        Truth::Unknown
    };
    let bicytopenia = if n_low == 2 && n_unknown == 0 {
        Truth::True
    } else if n_low + n_unknown < 2 || n_low == 3 {
        Truth::False
    } else {
        Truth::Unknown
    };
    put("pancytopenia", pancytopenia, lines_text.clone());
    put("bicytopenia", bicytopenia, lines_text.clone());
    put(
        "isolated-neutropenia",
        anc_looks_low.and(hgb_low.not()).and(plt_low.not()),
        lines_text.clone(),
    );
    put(
        "isolated-lymphopenia",
        alc_low
            .and(anc_low.not())
            .and(hgb_low.not())
            .and(plt_low.not()),
        lines_text,
    );

    let mcv = ctx.value(AnalyteId::Mcv);
    let mcv_text = mcv.map_or_else(
        || "MCV unknown".to_owned(),
        |v| format!("MCV {} fL", fmt(v)),
    );
    put(
        "macrocytosis",
        mcv.map_or(Truth::Unknown, |v| {
            Truth::from_bool(v > p.macrocytosis_fl.value)
        }),
        mcv_text.clone(),
    );
    put(
        "microcytosis",
        mcv.map_or(Truth::Unknown, |v| {
            Truth::from_bool(v < p.microcytosis_fl.value)
        }),
        mcv_text,
    );

    let blasts = match (
        ctx.value(AnalyteId::BlastPct),
        ctx.value(AnalyteId::BlastAbs),
    ) {
        (Some(b), _) | (_, Some(b)) => (Truth::from_bool(b > 0.0), format!("blasts {}", fmt(b))),
        _ => (Truth::Unknown, "no blast count".to_owned()),
    };
    put("blasts", blasts.0, blasts.1);
    let lymph_pct = ctx.value(AnalyteId::LymphPct).or_else(|| {
        match (ctx.value(AnalyteId::Alc), ctx.value(AnalyteId::Wbc)) {
            (Some(l), Some(w)) if w > 0.0 => Some(100.0 * l / w),
            _ => None,
        }
    });
    put(
        "relative-lymphocytosis",
        lymph_pct.map_or(Truth::Unknown, |v| {
            Truth::from_bool(v > p.relative_lymphocytosis_pct.value)
        }),
        lymph_pct.map_or_else(
            || "lymphocyte percent unknown".to_owned(),
            |v| format!("lymphocytes {v:.0}% of white cells"),
        ),
    );
    let variant = ctx.value(AnalyteId::VariantLymphPct);
    put(
        "variant-lymphocytes",
        variant.map_or(Truth::Unknown, |v| Truth::from_bool(v > 5.0)),
        variant.map_or_else(
            || "not reported".to_owned(),
            |v| format!("variant lymphocytes {}%", fmt(v)),
        ),
    );
    let amc = ctx.value(AnalyteId::Amc);
    put(
        "monocytosis",
        amc.map_or(Truth::Unknown, |v| {
            Truth::from_bool(v > p.monocytosis.value)
        }),
        amc.map_or_else(
            || "monocytes unknown".to_owned(),
            |v| format!("monocytes {}", fmt(v)),
        ),
    );
    let b12 = ctx.value(AnalyteId::B12);
    let b12_text = b12.map_or_else(
        || "B12 not measured".to_owned(),
        |v| format!("B12 {} pg/mL", fmt(v)),
    );
    put(
        "b12-low",
        b12.map_or(Truth::Unknown, |v| Truth::from_bool(v < p.b12_low.value)),
        b12_text.clone(),
    );
    put(
        "b12-normal",
        b12.map_or(Truth::Unknown, |v| {
            Truth::from_bool(v >= p.b12_borderline.value)
        }),
        b12_text,
    );
    let folate = ctx.value(AnalyteId::Folate);
    put(
        "folate-low",
        folate.map_or(Truth::Unknown, |v| Truth::from_bool(v < p.folate_low.value)),
        folate.map_or_else(
            || "folate not measured".to_owned(),
            |v| format!("folate {} ng/mL", fmt(v)),
        ),
    );
    let crp = ctx.value(AnalyteId::Crp);
    put(
        "crp-high",
        crp.map_or(Truth::Unknown, |v| Truth::from_bool(v > p.crp_high.value)),
        crp.map_or_else(
            || "CRP not measured".to_owned(),
            |v| format!("CRP {} mg/L", fmt(v)),
        ),
    );

    // Fever.
    let (fever, fever_text) = fever_now(ctx);
    put("fever-now", fever, fever_text);

    // Across counts.
    let (primary, points) = ctx.primary();
    let points = points.to_vec();
    let name = if primary == AnalyteId::Anc {
        "ANC"
    } else {
        "WBC"
    };
    put(
        "single-count",
        Truth::from_bool(points.len() <= 1),
        format!("{} {name} result(s) up to now", points.len()),
    );
    let run = series::latest_low_run(&points);
    let run_days = run.and_then(|r| Some(days_between(r.first()?.at, r.last()?.at)));
    let span = |min: f64| match (run_days, points.last()) {
        (Some(d), _) if d >= min => Truth::True,
        (_, Some(last)) if !last.low => Truth::False,
        _ => Truth::Unknown,
    };
    let run_text = match (run, run_days) {
        (Some(r), Some(d)) => format!(
            "{name} low on {} consecutive result(s) over {d:.0} days",
            r.len()
        ),
        _ => format!("{name} not low on the latest result"),
    };
    put(
        "persistent",
        span(p.persistent_days.value),
        run_text.clone(),
    );
    put("chronic", span(p.chronic_days.value), run_text.clone());
    // A lifelong stable pattern is judged on results low for the general population, so that
    // a Duffy-null person's stable counts count even though they are normal for them.
    let general_points: Vec<Point> = points
        .iter()
        .map(|x| Point {
            low: x.low
                || ctx
                    .reading(primary)
                    .and_then(|r| r.general.as_ref())
                    .is_some_and(|g| x.value < g.value),
            ..*x
        })
        .collect();
    let general_run = series::latest_low_run(&general_points);
    let general_days = general_run.and_then(|r| Some(days_between(r.first()?.at, r.last()?.at)));
    let stable = general_run.is_some_and(|r| {
        let vals: Vec<f64> = r.iter().map(|x| x.value).collect();
        let mean = vals.iter().sum::<f64>() / vals.len().max(1) as f64;
        let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len().max(1) as f64)
            .sqrt();
        mean > 0.0 && sd / mean < 0.25 && vals.iter().all(|v| *v >= p.severe_anc.value)
    });
    let lifelong = match general_days {
        Some(d) if d >= p.stable_years_days.value => Truth::from_bool(stable),
        Some(_) => Truth::Unknown,
        None => Truth::False,
    };
    put(
        "lifelong-stable",
        lifelong,
        general_run.map_or_else(
            || run_text.clone(),
            |r| {
                format!(
                    "{name} below the general-population limit on {} results over {:.0} days",
                    r.len(),
                    general_days.unwrap_or(0.0)
                )
            },
        ),
    );

    let last = points.last().copied();
    let rapid = last.map_or(Truth::Unknown, |l| {
        let window: Vec<&Point> = points
            .iter()
            .filter(|x| x.at < l.at && days_between(x.at, l.at) <= p.rapid_fall_days.value)
            .collect();
        match window.iter().map(|x| x.value).reduce(f64::max) {
            Some(max) => {
                Truth::from_bool(l.value < (1.0 - p.rapid_fall_fraction.value) * max && l.low)
            }
            None => Truth::Unknown,
        }
    });
    put(
        "rapid-fall",
        rapid,
        format!("{name} over the last {} days", p.rapid_fall_days.value),
    );

    let baseline = last.and_then(|l| {
        let mut vals: Vec<f64> = points
            .iter()
            .filter(|x| !x.low && x.at < l.at)
            .map(|x| x.value)
            .collect();
        series::median(&mut vals)
    });
    let baseline_drop = match (baseline, last) {
        (Some(b), Some(l)) => {
            Truth::from_bool(l.low && l.value < (1.0 - p.baseline_drop_fraction.value) * b)
        }
        _ => Truth::Unknown,
    };
    put(
        "drop-from-baseline",
        baseline_drop,
        baseline.map_or_else(
            || "no earlier normal count for a baseline".to_owned(),
            |b| {
                format!(
                    "own baseline {name} {} (median of earlier normal results)",
                    fmt(b)
                )
            },
        ),
    );

    let recovering = match last {
        Some(l) if points.len() >= 2 => {
            let nadir = points
                .iter()
                .filter(|x| x.at < l.at)
                .min_by(|a, b| a.value.total_cmp(&b.value));
            match nadir {
                Some(n) if n.low && l.value >= n.value * (1.0 + p.recovery_fraction.value) => (
                    Truth::True,
                    format!(
                        "{name} up from a nadir of {} on {} to {}",
                        fmt(n.value),
                        n.at.date(),
                        fmt(l.value)
                    ),
                ),
                Some(n) => (
                    Truth::False,
                    format!(
                        "{name} nadir {} on {}; latest {}",
                        fmt(n.value),
                        n.at.date(),
                        fmt(l.value)
                    ),
                ),
                None => (Truth::Unknown, String::new()),
            }
        }
        _ => (
            Truth::Unknown,
            "a single count cannot show recovery".to_owned(),
        ),
    };
    put("recovering", recovering.0, recovering.1);

    let (cyclic, cyclic_text) = cyclic_pattern(ctx, &points);
    put("cyclic-pattern", cyclic, cyclic_text);

    // Age and ancestry.
    let age = ctx.age_days;
    let age_text = age.map_or_else(|| "age unknown".to_owned(), describe_age);
    let in_age =
        |lo: u32, hi: u32| age.map_or(Truth::Unknown, |d| Truth::from_bool(d >= lo && d < hi));
    put("age-neonate", in_age(0, 28), age_text.clone());
    put(
        "age-infant-5-to-24-months",
        in_age(150, 731),
        age_text.clone(),
    );
    put("age-child", in_age(365, 18 * 365 + 4), age_text.clone());
    put("age-older", in_age(65 * 365 + 16, u32::MAX), age_text);
    let ancestry = ctx
        .concept("duffy-null")
        .or(ctx.concept("african-ancestry"))
        .or(ctx.concept("middle-eastern-ancestry"));
    put(
        "duffy-null-or-ancestry",
        if ancestry == Truth::True {
            Truth::True
        } else {
            Truth::Unknown
        },
        if ctx.duffy_null {
            "Duffy-null phenotype recorded".to_owned()
        } else {
            "ancestry or Duffy status recorded".to_owned()
        },
    );
    let within = match ctx.reading(AnalyteId::Anc) {
        Some(r) if ctx.duffy_null => {
            let looks_low = r.low_general();
            looks_low.and(r.low().not())
        }
        Some(_) => Truth::Unknown,
        None => Truth::Unknown,
    };
    put(
        "within-personal-interval",
        within,
        "ANC against the Duffy-null (DANC) interval".to_owned(),
    );

    // Medicines.
    let med_unknown = if ctx.has_medication_list {
        Truth::False
    } else {
        Truth::Unknown
    };
    let chemo = match &ctx.chemo_day {
        Some((day, name)) => (Truth::True, format!("{name}, last dose {day:.0} days ago")),
        None => (
            med_unknown,
            "no recent chemotherapy in the medicine list".to_owned(),
        ),
    };
    put("chemo-recent", chemo.0, chemo.1.clone());
    let nadir_window = ctx.chemo_day.as_ref().map_or(med_unknown, |(day, _)| {
        Truth::from_bool(*day >= p.chemo_nadir_from_day.value && *day <= p.chemo_nadir_to_day.value)
    });
    put("chemo-nadir-window", nadir_window, chemo.1);
    let suspects: Vec<&DrugExposure> = ctx.suspects().collect();
    let undated = ctx.drugs.iter().any(|d| {
        d.start.is_none()
            && kb
                .drug(&d.drug_id)
                .is_some_and(|k| k.cause == "drug-induced")
    });
    let suspect_truth = if !suspects.is_empty() {
        Truth::True
    } else if undated || !ctx.has_medication_list {
        Truth::Unknown
    } else {
        Truth::False
    };
    let suspect_text = if suspects.is_empty() {
        ctx.drugs
            .iter()
            .map(|d| d.timing.clone())
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        suspects
            .iter()
            .map(|d| d.timing.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    put(
        "suspect-drug",
        suspect_truth,
        if suspect_text.is_empty() {
            "no medicines recorded".to_owned()
        } else {
            suspect_text
        },
    );
    let high_risk: Vec<&&DrugExposure> = suspects
        .iter()
        .filter(|d| {
            kb.drug(&d.drug_id)
                .is_some_and(|k| k.andersohn_2007 == "over-10-reports" || k.evidence == "strong")
        })
        .collect();
    put(
        "high-risk-drug",
        if high_risk.is_empty() {
            suspect_truth.and(Truth::False)
        } else {
            Truth::True
        },
        high_risk
            .iter()
            .map(|d| d.name.clone())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let dechallenge = suspects.iter().find_map(|d| {
        let end = d.end.filter(|_| !d.active)?;
        let after: Vec<&Point> = points.iter().filter(|x| x.at > end).collect();
        let before_min = points
            .iter()
            .filter(|x| x.at <= end + time::Duration::days(3))
            .map(|x| x.value)
            .reduce(f64::min)?;
        let latest_after = after.last()?;
        (latest_after.value >= before_min * (1.0 + p.recovery_fraction.value)).then(|| {
            format!(
                "{} stopped {}; {name} rose from {} to {}",
                d.name,
                end.date(),
                fmt(before_min),
                fmt(latest_after.value)
            )
        })
    });
    put(
        "drug-stopped-recovering",
        if dechallenge.is_some() {
            Truth::True
        } else if suspects.is_empty() {
            Truth::Unknown
        } else {
            Truth::False
        },
        dechallenge.unwrap_or_default(),
    );
    let possible: Vec<&DrugExposure> = ctx.drugs.iter().filter(|d| d.possible).collect();
    put(
        "possible-drug",
        if possible.is_empty() {
            suspect_truth.and(Truth::False)
        } else {
            Truth::True
        },
        possible
            .iter()
            .map(|d| d.timing.clone())
            .collect::<Vec<_>>()
            .join("; "),
    );
    let on_clozapine = ctx
        .drugs
        .iter()
        .any(|d| d.drug_id == "clozapine" && d.active);
    put(
        "clozapine",
        if on_clozapine {
            Truth::True
        } else {
            med_unknown
        },
        "clozapine in the medicine list".to_owned(),
    );

    // Groups of concepts.
    let any_of = |ids: &[&str]| -> (Truth, String) {
        let present: Vec<String> = ids
            .iter()
            .filter(|id| ctx.concept(id).is_true())
            .filter_map(|id| ctx.concepts.get(*id).map(|(_, d)| d.clone()))
            .collect();
        if present.is_empty() {
            (Truth::Unknown, String::new())
        } else {
            (Truth::True, present.join(", "))
        }
    };
    let infections: Vec<&str> = kb
        .concepts
        .iter()
        .filter(|c| c.kind == "infection")
        .map(|c| c.id.as_str())
        .collect();
    let (t, d) = any_of(&infections);
    put("recent-infection", t, d);
    let (t, d) = any_of(&[
        "sle",
        "ra",
        "felty-syndrome",
        "sjogren",
        "autoimmune-neutropenia",
    ]);
    put("autoimmune-disease", t, d);
    let (t, d) = any_of(&[
        "cirrhosis",
        "hepatitis-b",
        "hepatitis-c",
        "portal-hypertension",
    ]);
    put("liver-disease", t, d);
    let (t, d) = any_of(&[
        "vegan-diet",
        "alcohol-dependence",
        "heavy-alcohol-use",
        "bariatric-surgery",
        "gastric-bypass",
        "malabsorption",
        "celiac",
        "malnutrition",
    ]);
    put("malnutrition-risk", t, d);
    let (t, d) = any_of(&["night-sweats", "weight-loss"]);
    put("b-symptoms", t, d);
    let (t, d) = any_of(&["kidney-transplant", "hiv", "bone-marrow-transplant"]);
    put("immunosuppressed", t, d);

    // Every concept recorded is a finding too; a concept not recorded is unknown (absent from
    // the map), never absent.
    for (id, (truth, detail)) in &ctx.concepts {
        f.entry(id.clone()).or_insert(Finding {
            truth: *truth,
            detail: detail.clone(),
        });
    }
    f
}

/// Describes an age in days in words.
pub fn describe_age(days: u32) -> String {
    match days {
        d if d < 28 => format!("{d} days old"),
        d if d < 731 => format!("{} months old", d * 12 / 365),
        d => format!("{} years old", d * 100 / 36525),
    }
}

fn fever_now(ctx: &Context) -> (Truth, String) {
    let p = &ctx.kb.params;
    let recent =
        |at: OffsetDateTime| days_between(at, ctx.as_of) * 24.0 <= p.fever_recent_hours.value;
    let temps: Vec<&Observation> = ctx
        .series
        .get(&AnalyteId::Temperature)
        .map(|s| s.iter().filter(|o| recent(o.at)).collect())
        .unwrap_or_default();
    let max = temps.iter().map(|o| o.value).reduce(f64::max);
    let reported = ctx.concepts.get("fever").map(|(t, _)| *t);
    let chills = ctx.concept("chills").is_true();
    match (max, reported) {
        (Some(t), _) if t >= p.fever_c.value => (Truth::True, format!("temperature {} C", fmt(t))),
        (_, Some(Truth::True)) => (
            Truth::True,
            match max {
                Some(t) => format!("fever reported (latest reading {} C)", fmt(t)),
                None => "fever reported, no temperature reading".to_owned(),
            },
        ),
        (Some(t), _) if chills => (
            Truth::Unknown,
            format!("temperature {} C but chills reported", fmt(t)),
        ),
        (Some(t), _) => (Truth::False, format!("temperature {} C", fmt(t))),
        (None, Some(Truth::False)) => (Truth::False, "no fever reported".to_owned()),
        _ => (Truth::Unknown, "no temperature in the last day".to_owned()),
    }
}

fn cyclic_pattern(ctx: &Context, points: &[Point]) -> (Truth, String) {
    let p = &ctx.kb.params;
    let (min, max) = (p.cyclic_min_days.value, p.cyclic_max_days.value);
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return (Truth::Unknown, "no counts".to_owned());
    };
    let span = days_between(first.at, last.at);
    if points.len() < 8 || span < 2.0 * min {
        return (
            Truth::Unknown,
            format!(
                "{} counts over {span:.0} days: too few to look for a cycle (2-3 a week for 6-8 weeks is needed)",
                points.len()
            ),
        );
    }
    let nadirs = series::nadirs(points);
    let gaps: Vec<f64> = nadirs
        .windows(2)
        .filter_map(|w| Some(days_between(w.first()?.at, w.get(1)?.at)))
        .collect();
    let regular = !gaps.is_empty()
        && gaps.iter().all(|g| *g >= min && *g <= max)
        && gaps
            .iter()
            .copied()
            .reduce(f64::max)
            .zip(gaps.iter().copied().reduce(f64::min))
            .is_some_and(|(a, b)| a <= 1.5 * b);
    let times: Vec<f64> = points
        .iter()
        .map(|x| days_between(first.at, x.at))
        .collect();
    let values: Vec<f64> = points.iter().map(|x| x.value).collect();
    let peak = series::periodogram_peak(&times, &values, min, max);
    let strong = peak.is_some_and(|(_, power)| power >= 0.3);
    let text = match peak {
        Some((period, power)) => format!(
            "{} nadirs {} days apart; periodogram peak {period:.1} days (power {power:.2})",
            nadirs.len(),
            gaps.iter()
                .map(|g| format!("{g:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!("{} nadirs", nadirs.len()),
    };
    (
        Truth::from_bool(regular && strong && nadirs.len() >= 2),
        text,
    )
}
