//! Invariants of the knowledge base, checked every time it is loaded.

use std::collections::HashSet;
use std::fmt;

use crate::{AnalyteId, Knowledge};

/// One broken invariant, naming the entry and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `drug clozapine`, `cause sle`, …
    pub entry: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.entry, self.message)
    }
}

/// Finding ids the engine computes itself (the rest are concept ids). Kept here so the
/// validator can check every cause's findings resolve; `leuko_core::findings` has a test that
/// this list and the engine agree.
pub const ENGINE_FINDINGS: &[&str] = &[
    "neutropenia",
    "severe-neutropenia",
    "profound-neutropenia",
    "moderate-or-worse-neutropenia",
    "mild-neutropenia-only",
    "leukopenia",
    "lymphopenia",
    "isolated-neutropenia",
    "isolated-lymphopenia",
    "anemia",
    "thrombocytopenia",
    "bicytopenia",
    "pancytopenia",
    "macrocytosis",
    "microcytosis",
    "blasts",
    "relative-lymphocytosis",
    "variant-lymphocytes",
    "monocytosis",
    "b12-low",
    "b12-normal",
    "folate-low",
    "crp-high",
    "fever-now",
    "persistent",
    "chronic",
    "lifelong-stable",
    "rapid-fall",
    "drop-from-baseline",
    "recovering",
    "cyclic-pattern",
    "single-count",
    "age-neonate",
    "age-infant-5-to-24-months",
    "age-child",
    "age-older",
    "duffy-null-or-ancestry",
    "within-personal-interval",
    "chemo-recent",
    "chemo-nadir-window",
    "suspect-drug",
    "possible-drug",
    "high-risk-drug",
    "drug-stopped-recovering",
    "clozapine",
    "recent-infection",
    "autoimmune-disease",
    "liver-disease",
    "malnutrition-risk",
    "b-symptoms",
    "immunosuppressed",
];

const CONFIDENCE: &[&str] = &["confirmed", "secondary", "unconfirmed", "expert"];
const MECHANISMS: &[&str] = &["idiosyncratic", "dose-dependent", "mixed", "none"];
const EFFECTS: &[&str] = &[
    "neutropenia",
    "pancytopenia",
    "lymphopenia",
    "leukopenia",
    "none",
];
const EVIDENCE: &[&str] = &["strong", "moderate", "weak", "none"];
const ANDERSOHN: &[&str] = &[
    "over-10-reports",
    "listed",
    "not-applicable",
    "not-assessed",
];
const LEVELS: &[&str] = &["emergency", "urgent", "soon", "routine", "none"];
const CONCEPT_KINDS: &[&str] = &[
    "symptom",
    "sign",
    "condition",
    "infection",
    "exposure",
    "diet",
    "procedure",
    "phenotype",
    "ancestry",
    "family-history",
];

/// `A15.0`, `D70.2`, `M05.00`, `C91.Z0`: a letter, two digits, then optionally a dot and up to
/// four letters or digits.
pub fn is_icd10cm(code: &str) -> bool {
    let b = code.as_bytes();
    let head = b.len() >= 3
        && b.first().is_some_and(u8::is_ascii_uppercase)
        && b.get(1).is_some_and(u8::is_ascii_digit)
        && b.get(2)
            .is_some_and(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
    if !head {
        return false;
    }
    match b.get(3..) {
        None | Some([]) => true,
        Some([b'.', rest @ ..]) => {
            !rest.is_empty()
                && rest.len() <= 4
                && rest
                    .iter()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        }
        Some(_) => false,
    }
}

/// `718-7`: digits, a hyphen, and the mod-10 check digit LOINC defines.
pub fn is_loinc(code: &str) -> bool {
    let Some((body, check)) = code.split_once('-') else {
        return false;
    };
    if body.is_empty()
        || body.len() > 7
        || check.len() != 1
        || !body.bytes().all(|c| c.is_ascii_digit())
    {
        return false;
    }
    let Some(check) = check.bytes().next().filter(u8::is_ascii_digit) else {
        return false;
    };
    loinc_check_digit(body) == check - b'0'
}

/// The LOINC mod-10 check digit of the digits before the hyphen.
fn loinc_check_digit(body: &str) -> u8 {
    // Luhn-style: from the right, double every other digit starting with the rightmost.
    let mut sum = 0u32;
    for (i, c) in body.bytes().rev().enumerate() {
        let d = u32::from(c - b'0');
        sum += if i % 2 == 0 {
            let x = d * 2;
            x / 10 + x % 10
        } else {
            d
        };
    }
    u8::try_from((10 - sum % 10) % 10).unwrap_or(0)
}

/// SNOMED CT concept ids are 6 to 18 digits with a Verhoeff check digit.
pub fn is_snomed(code: &str) -> bool {
    (6..=18).contains(&code.len()) && code.bytes().all(|c| c.is_ascii_digit()) && verhoeff_ok(code)
}

fn verhoeff_ok(code: &str) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut c = 0u8;
    for (i, ch) in code.bytes().rev().enumerate() {
        let digit = usize::from(ch - b'0');
        let p = P[i % 8][digit];
        c = D[usize::from(c)][usize::from(p)];
    }
    c == 0
}

impl Knowledge {
    /// Checks every invariant; an empty list means the knowledge base is sound.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut bad = |entry: String, message: String| problems.push(Problem { entry, message });

        let source_ids: HashSet<&str> = self.sources.iter().map(|s| s.id.as_str()).collect();
        let check_sources =
            |entry: &str, sources: &[String], bad: &mut dyn FnMut(String, String)| {
                if sources.is_empty() {
                    bad(entry.to_owned(), "has no source".to_owned());
                }
                for s in sources {
                    if !source_ids.contains(s.as_str()) {
                        bad(entry.to_owned(), format!("cites unknown source {s:?}"));
                    }
                }
            };

        for s in &self.sources {
            if !CONFIDENCE.contains(&s.confidence.as_str()) {
                bad(
                    format!("source {}", s.id),
                    format!("confidence {:?} is not one of {CONFIDENCE:?}", s.confidence),
                );
            }
        }
        duplicates(
            "source",
            self.sources.iter().map(|s| s.id.as_str()),
            &mut bad,
        );

        // Analytes: every analyte once, LOINC codes valid and unique.
        for id in AnalyteId::ALL {
            if self.analytes.iter().filter(|a| a.id == id).count() != 1 {
                bad(
                    format!("analyte {}", id.as_str()),
                    "must be defined exactly once".to_owned(),
                );
            }
        }
        let mut loincs = HashSet::new();
        for a in &self.analytes {
            let entry = format!("analyte {}", a.id.as_str());
            check_sources(&entry, &a.sources, &mut bad);
            if a.plausible[0] > a.plausible[1] {
                bad(entry.clone(), "plausible range is reversed".to_owned());
            }
            for code in &a.loinc {
                if !is_loinc(code) {
                    bad(
                        entry.clone(),
                        format!("LOINC code {code:?} is malformed or fails its check digit"),
                    );
                }
                if !loincs.insert(code.as_str()) {
                    bad(entry.clone(), format!("LOINC code {code:?} is used twice"));
                }
            }
        }

        // Units: each spelling once within a dimension ("G/L" is a count, "g/L" a haemoglobin).
        let mut spellings = HashSet::new();
        for u in &self.units {
            let entry = format!("unit {}", u.ucum);
            check_sources(&entry, &u.sources, &mut bad);
            for s in &u.spellings {
                if !spellings.insert((u.dimension, s.to_lowercase())) {
                    bad(entry.clone(), format!("spelling {s:?} is listed twice"));
                }
            }
        }

        // Intervals and profiles.
        for iv in &self.intervals {
            let entry = format!(
                "interval {} {:?} {:?}",
                iv.analyte.as_str(),
                iv.population,
                iv.age_days
            );
            check_sources(&entry, &iv.sources, &mut bad);
            if iv.low >= iv.high || iv.age_days[0] >= iv.age_days[1] {
                bad(entry, "is empty or reversed".to_owned());
            }
        }
        if self.profiles.iter().filter(|p| p.default).count() != 1 {
            bad(
                "profiles".to_owned(),
                "exactly one profile must be the default".to_owned(),
            );
        }
        for p in &self.profiles {
            check_sources(&format!("profile {}", p.id), &p.sources, &mut bad);
        }

        // Grading.
        check_sources("ctcae", &self.grading.ctcae.sources, &mut bad);
        for t in &self.grading.ctcae.term {
            let entry = format!("ctcae {}", t.key);
            if !(2..=3).contains(&t.below.len()) || t.below.windows(2).any(|w| w[0] <= w[1]) {
                bad(
                    entry.clone(),
                    "thresholds must be 2 or 3 strictly decreasing values".to_owned(),
                );
            }
            for alt in &t.alt {
                if alt.below.len() != t.below.len() {
                    bad(
                        entry.clone(),
                        format!("{} thresholds differ in number", alt.ucum),
                    );
                }
            }
        }
        for f in &self.grading.febrile {
            check_sources(&format!("febrile {}", f.id), &f.sources, &mut bad);
        }
        for s in &self.grading.severity {
            check_sources(&format!("severity {}", s.name), &s.sources, &mut bad);
        }
        check_sources("clozapine", &self.clozapine.sources, &mut bad);
        for table in [&self.clozapine.general, &self.clozapine.ben] {
            if table
                .windows(2)
                .any(|w| w[0].anc_at_least <= w[1].anc_at_least)
                || table.last().is_none_or(|c| c.anc_at_least != 0.0)
            {
                bad(
                    "clozapine".to_owned(),
                    "categories must descend and end at 0".to_owned(),
                );
            }
            for c in table {
                if !LEVELS.contains(&c.level.as_str()) {
                    bad(
                        format!("clozapine {}", c.category),
                        format!("level {:?} is unknown", c.level),
                    );
                }
            }
        }

        // Concepts.
        duplicates(
            "concept",
            self.concepts.iter().map(|c| c.id.as_str()),
            &mut bad,
        );
        let mut synonyms = HashSet::new();
        for c in &self.concepts {
            let entry = format!("concept {}", c.id);
            check_sources(&entry, &c.sources, &mut bad);
            if !CONCEPT_KINDS.contains(&c.kind.as_str()) {
                bad(entry.clone(), format!("kind {:?} is unknown", c.kind));
            }
            for implied in &c.implies {
                if !self.concepts.iter().any(|k| &k.id == implied) {
                    bad(
                        entry.clone(),
                        format!("implies unknown concept {implied:?}"),
                    );
                }
            }
            for code in &c.snomed {
                if !is_snomed(code) {
                    bad(
                        entry.clone(),
                        format!("SNOMED CT code {code:?} is malformed or fails its check digit"),
                    );
                }
            }
            for code in &c.icd10 {
                if !is_icd10cm(code) {
                    bad(
                        entry.clone(),
                        format!("ICD-10-CM code {code:?} is malformed"),
                    );
                }
            }
            for s in std::iter::once(&c.name).chain(&c.synonyms) {
                let n = crate::normalize_words(s);
                if n.is_empty() {
                    bad(entry.clone(), format!("synonym {s:?} has no words"));
                } else if !synonyms.insert((n, c.id.as_str())) {
                    // Repeats within one concept are harmless.
                }
            }
        }
        let mut owner: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
        for (n, id) in &synonyms {
            if let Some(other) = owner.insert(n.clone(), id)
                && other != *id
            {
                bad(
                    format!("concept {id}"),
                    format!("text {:?} also names concept {other}", n.trim()),
                );
            }
        }

        // Drugs.
        duplicates("drug", self.drugs.iter().map(|d| d.id.as_str()), &mut bad);
        let mut drug_names: std::collections::HashMap<String, &str> =
            std::collections::HashMap::new();
        let mut rxnorms = HashSet::new();
        for d in &self.drugs {
            let entry = format!("drug {}", d.id);
            check_sources(&entry, &d.sources, &mut bad);
            if !d.rxnorm.is_empty()
                && (!d.rxnorm.bytes().all(|c| c.is_ascii_digit()) || d.rxnorm.len() > 8)
            {
                bad(
                    entry.clone(),
                    format!("RxNorm code {:?} is malformed", d.rxnorm),
                );
            }
            if !d.rxnorm.is_empty() && !rxnorms.insert(d.rxnorm.as_str()) {
                bad(
                    entry.clone(),
                    format!("RxNorm code {:?} is used twice", d.rxnorm),
                );
            }
            for (field, value, allowed) in [
                ("mechanism", &d.mechanism, MECHANISMS),
                ("effect", &d.effect, EFFECTS),
                ("evidence", &d.evidence, EVIDENCE),
                ("andersohn_2007", &d.andersohn_2007, ANDERSOHN),
            ] {
                if !allowed.contains(&value.as_str()) {
                    bad(
                        entry.clone(),
                        format!("{field} {value:?} is not one of {allowed:?}"),
                    );
                }
            }
            if d.cause != "none" && self.cause(&d.cause).is_none() {
                bad(entry.clone(), format!("cause {:?} is unknown", d.cause));
            }
            if d.onset_days[0] > d.onset_days[1] {
                bad(entry.clone(), "onset window is reversed".to_owned());
            }
            for s in std::iter::once(&d.name).chain(&d.synonyms) {
                let n = crate::normalize_words(s);
                if n.trim().len() < 3 {
                    bad(
                        entry.clone(),
                        format!("name {s:?} is too short to match safely"),
                    );
                }
                if let Some(other) = drug_names.insert(n.clone(), d.id.as_str())
                    && other != d.id
                {
                    bad(entry.clone(), format!("name {s:?} also names drug {other}"));
                }
            }
        }

        // Causes.
        duplicates("cause", self.causes.iter().map(|c| c.id.as_str()), &mut bad);
        let concept_ids: HashSet<&str> = self.concepts.iter().map(|c| c.id.as_str()).collect();
        let known_finding = |id: &str| ENGINE_FINDINGS.contains(&id) || concept_ids.contains(id);
        for c in &self.causes {
            let entry = format!("cause {}", c.id);
            check_sources(&entry, &c.sources, &mut bad);
            if c.icd10.is_empty() {
                bad(entry.clone(), "has no ICD-10-CM code".to_owned());
            }
            for code in c
                .icd10
                .iter()
                .chain(c.icd10_when.iter().flat_map(|w| &w.codes))
            {
                if !is_icd10cm(code) {
                    bad(
                        entry.clone(),
                        format!("ICD-10-CM code {code:?} is malformed"),
                    );
                }
            }
            for w in &c.icd10_when {
                if !known_finding(&w.finding) {
                    bad(
                        entry.clone(),
                        format!("icd10_when names unknown finding {:?}", w.finding),
                    );
                }
            }
            let p = c.prior;
            if [p.infant, p.child, p.adult, p.older]
                .iter()
                .any(|x| !(x.is_finite() && *x > 0.0))
            {
                bad(entry.clone(), "priors must be positive".to_owned());
            }
            for f in &c.findings {
                let fe = format!("cause {} finding {}", c.id, f.id);
                if !known_finding(&f.id) {
                    bad(
                        fe.clone(),
                        "is neither an engine finding nor a concept".to_owned(),
                    );
                }
                if !(f.lr_present > 0.0
                    && f.lr_absent > 0.0
                    && f.lr_present.is_finite()
                    && f.lr_absent.is_finite())
                {
                    bad(fe.clone(), "likelihood ratios must be positive".to_owned());
                }
                check_sources(&fe, &f.sources, &mut bad);
            }
            for t in &c.tests {
                if self.test(t).is_none() {
                    bad(entry.clone(), format!("names unknown test {t:?}"));
                }
            }
        }

        // Tests and rules.
        duplicates("test", self.tests.iter().map(|t| t.id.as_str()), &mut bad);
        for t in &self.tests {
            let entry = format!("test {}", t.id);
            check_sources(&entry, &t.sources, &mut bad);
            if !t.loinc.is_empty() && !is_loinc(&t.loinc) {
                bad(
                    entry,
                    format!(
                        "LOINC code {:?} is malformed or fails its check digit",
                        t.loinc
                    ),
                );
            }
        }
        duplicates("rule", self.rules.iter().map(|r| r.id.as_str()), &mut bad);
        for r in &self.rules {
            let entry = format!("rule {}", r.id);
            check_sources(&entry, &r.sources, &mut bad);
            match r.kind.as_str() {
                "triage" if !LEVELS.contains(&r.level.as_str()) => {
                    bad(entry, format!("level {:?} is unknown", r.level));
                }
                "triage" | "action" => {}
                other => bad(
                    entry,
                    format!("kind {other:?} is neither triage nor action"),
                ),
            }
        }
        for (name, p) in self.params.named() {
            check_sources(&format!("param {name}"), &p.sources, &mut bad);
        }
        problems
    }
}

fn duplicates<'a>(
    kind: &str,
    ids: impl Iterator<Item = &'a str>,
    bad: &mut impl FnMut(String, String),
) {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            bad(format!("{kind} {id}"), "id is used twice".to_owned());
        }
        if id.is_empty()
            || !id
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        {
            bad(
                format!("{kind} {id}"),
                "id must be lowercase ASCII letters, digits and hyphens".to_owned(),
            );
        }
    }
}

impl crate::Params {
    /// Every parameter with its name, for validation and documentation.
    pub fn named(&self) -> Vec<(&'static str, &crate::SourcedValue)> {
        vec![
            ("fever_c", &self.fever_c),
            ("fever_recent_hours", &self.fever_recent_hours),
            ("count_current_days", &self.count_current_days),
            ("severe_anc", &self.severe_anc),
            ("moderate_anc", &self.moderate_anc),
            ("profound_anc", &self.profound_anc),
            ("macrocytosis_fl", &self.macrocytosis_fl),
            ("microcytosis_fl", &self.microcytosis_fl),
            ("b12_low", &self.b12_low),
            ("b12_borderline", &self.b12_borderline),
            ("folate_low", &self.folate_low),
            ("crp_high", &self.crp_high),
            (
                "relative_lymphocytosis_pct",
                &self.relative_lymphocytosis_pct,
            ),
            ("monocytosis", &self.monocytosis),
            ("severe_thrombocytopenia", &self.severe_thrombocytopenia),
            ("severe_anemia_gdl", &self.severe_anemia_gdl),
            ("persistent_days", &self.persistent_days),
            ("chronic_days", &self.chronic_days),
            ("stable_years_days", &self.stable_years_days),
            ("baseline_drop_fraction", &self.baseline_drop_fraction),
            ("rapid_fall_fraction", &self.rapid_fall_fraction),
            ("rapid_fall_days", &self.rapid_fall_days),
            ("chemo_recent_days", &self.chemo_recent_days),
            ("chemo_nadir_from_day", &self.chemo_nadir_from_day),
            ("chemo_nadir_to_day", &self.chemo_nadir_to_day),
            ("drug_stop_suspect_days", &self.drug_stop_suspect_days),
            ("drug_window_slack_days", &self.drug_window_slack_days),
            ("cyclic_min_days", &self.cyclic_min_days),
            ("cyclic_max_days", &self.cyclic_max_days),
            ("recovery_fraction", &self.recovery_fraction),
            ("recheck_mild_days", &self.recheck_mild_days),
            ("recheck_viral_days", &self.recheck_viral_days),
        ]
    }
}
