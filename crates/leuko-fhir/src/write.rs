//! FHIR R4 JSON out: an [`Assessment`] as a Bundle of type `collection`.
//!
//! The bundle holds, in this order:
//!
//! - one **RiskAssessment** (`status` final): `subject`, `occurrenceDateTime` = `as_of`,
//!   `code` (the kind of assessment), `method` (leuko and the knowledge version), `basis` (every
//!   Observation below that the engine read or computed), `prediction[]` (the ranked
//!   differential in order: `outcome` with every ICD-10-CM code and the cause's name,
//!   `probabilityDecimal` = the cause's share of the total weight, `rationale` with the
//!   evidence for and against in words and the statement that the share is a ranking aid, not a
//!   probability of disease), `mitigation` (the actions' words), `note` (the disclaimer, the
//!   triage level and its reasons, what is missing, notes from reading the input);
//! - the **triage level** is carried by an extension on the RiskAssessment, url
//!   [`TRIAGE_EXTENSION`], `valueCodeableConcept` coded in [`TRIAGE_SYSTEM`] (`none`,
//!   `routine`, `soon`, `urgent`, `emergency`). An extension, not `RiskAssessment.code`: `code`
//!   says what kind of assessment this is, and keeps saying it whatever the level;
//! - a **Patient** (`birthDate`, `gender` from the record) when no subject reference is given;
//! - one **Observation** per result of the record dated at or before `as_of` (LOINC code from
//!   the knowledge base, the value and UCUM unit as the laboratory reported them, comparator,
//!   the laboratory's reference range, `effectiveDateTime`, the adapter's `source_ref` as an
//!   identifier);
//! - one derived **Observation** per count the engine computed (ANC, LOINC 751-8, from WBC and
//!   a percent differential; likewise ALC, AMC, blasts), `derivedFrom` the WBC and percentage
//!   Observations;
//! - one **Observation** per CTCAE grade (`valueInteger` 0–4, `derivedFrom` the graded
//!   Observation, `method` naming the CTCAE version);
//! - one **ServiceRequest** per work-up test (`status` draft, `intent` proposal, LOINC code
//!   when the test has one, `reasonCode` text, `priority` stat for immediate tests, else
//!   routine).
//!
//! Every `fullUrl` is a `urn:uuid:` built from a hash of the input (the record's content,
//! `as_of`, the knowledge digest, the subject) and of the resource's own content, so the same
//! input gives byte-for-byte the same bundle; every reference inside the bundle is one of these
//! URNs. Numbers are written as the shortest decimal that reads back as the same `f64` (a value
//! read as 0.4 is written 0.4); non-finite numbers, empty strings and empty arrays are never
//! written. Nothing here panics on any record or assessment.

use std::collections::{BTreeMap, BTreeSet};

use leuko_core::{
    AnalyteId, Assessment, Candidate, Comparator, CountSummary, Evidence, Level, Priority, Record,
    Sex, Truth, WorkupItem,
};
use leuko_kb::Knowledge;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

use super::{LOINC, UCUM};
use crate::model::{
    Annotation, Bundle, CodeableConcept, Coding, Decimal, Entry, Extension, Identifier,
    Observation, Open, Patient, Prediction, Quantity, Reference, ReferenceRange, Resource,
    RiskAssessment, ServiceRequest,
};

/// The media type of the output.
pub const MEDIA_TYPE: &str = "application/fhir+json";

/// Base of leuko's own code systems and extensions. `.invalid` until the project has a home.
pub const SYSTEM_BASE: &str = "https://example.invalid/leuko/fhir";

/// The extension on the RiskAssessment that carries the triage level.
pub const TRIAGE_EXTENSION: &str =
    "https://example.invalid/leuko/fhir/StructureDefinition/triage-level";

/// The code system of the triage levels.
pub const TRIAGE_SYSTEM: &str = "https://example.invalid/leuko/fhir/CodeSystem/triage-level";

/// The code system of the CTCAE grade Observations (codes: `wbc`, `anc`, `lymphocytes`,
/// `platelets`, `anemia`; the coding's `version` is the CTCAE version).
pub const CTCAE_GRADE_SYSTEM: &str = "https://example.invalid/leuko/fhir/CodeSystem/ctcae-grade";

/// The code system of the assessment's kind and method.
pub const ASSESSMENT_SYSTEM: &str = "https://example.invalid/leuko/fhir/CodeSystem/assessment";

/// The identifier system of the adapter's reference to where a result came from.
pub const SOURCE_REF_SYSTEM: &str = "https://example.invalid/leuko/fhir/source-ref";

/// ICD-10-CM.
pub const ICD10CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";

const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// The disclaimer carried by every assessment (the same words as the JSON contract's).
pub const DISCLAIMER: &str = "Decision support, not a diagnosis: leuko lists possible causes and what to check next; a clinician decides.";

// ---------------------------------------------------------------------------------------------
// The FHIR R4 subset: the typed, lossless model of [`crate::model`], which reads as well as
// writes. Decimals are made with [`Decimal::from_f64`].

/// Entry order in the bundle: the assessment first, then who, what was read, what was
/// computed, what is proposed.
fn rank(r: &Resource) -> u8 {
    match r {
        Resource::RiskAssessment(_) => 0,
        Resource::Patient(_) => 1,
        Resource::Observation(_) => 2,
        Resource::ServiceRequest(_) => 3,
        Resource::Bundle(_) | Resource::Other(..) => 4,
    }
}

fn set_id(r: &mut Resource, id: String) {
    let slot = match r {
        Resource::RiskAssessment(r) => &mut r.id,
        Resource::Patient(r) => &mut r.id,
        Resource::Observation(r) => &mut r.id,
        Resource::ServiceRequest(r) => &mut r.id,
        Resource::Bundle(r) => &mut r.id,
        Resource::Other(..) => return,
    };
    *slot = Some(id);
}

fn reference(r: impl Into<String>) -> Open<Reference> {
    Open::new(Reference {
        reference: Some(r.into()),
    })
}

// ---------------------------------------------------------------------------------------------
// Deterministic ids.

/// FNV-1a, 128 bits, over length-prefixed parts (so `["ab", "c"]` and `["a", "bc"]` differ).
/// An identifier, not a security measure.
fn hash128(parts: &[&[u8]]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h = OFFSET;
    let mut eat = |b: u8| {
        h ^= u128::from(b);
        h = h.wrapping_mul(PRIME);
    };
    for part in parts {
        for b in (part.len() as u64).to_le_bytes() {
            eat(b);
        }
        for &b in *part {
            eat(b);
        }
    }
    h
}

/// A UUID (RFC 9562 version 8, "custom") from a hash.
fn uuid_from(h: u128) -> String {
    let mut b = h.to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let part = |r: std::ops::Range<usize>| hex.get(r).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )
}

struct Builder {
    seed: String,
    used: BTreeSet<String>,
    entries: Vec<Open<Entry>>,
}

impl Builder {
    /// Adds a resource; its id is a hash of the input's seed and its own content. Returns the
    /// reference to it (`urn:uuid:…`).
    fn add(&mut self, mut resource: Resource) -> Open<Reference> {
        let body = serde_json::to_string(&resource).unwrap_or_default();
        let kind = resource.resource_type().to_owned();
        let mut salt: u32 = 0;
        let uuid = loop {
            let u = uuid_from(hash128(&[
                self.seed.as_bytes(),
                kind.as_bytes(),
                body.as_bytes(),
                &salt.to_le_bytes(),
            ]));
            if self.used.insert(u.clone()) {
                break u;
            }
            salt = salt.wrapping_add(1);
        };
        set_id(&mut resource, uuid.clone());
        let full_url = format!("urn:uuid:{uuid}");
        self.entries.push(Open::new(Entry {
            full_url: Some(full_url.clone()),
            resource: Some(resource),
        }));
        reference(full_url)
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

/// A FHIR `string`: never empty.
fn text(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// A FHIR `code`: non-empty, no leading or trailing whitespace, single inner spaces.
fn code(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.trim() == s
        && !s.contains("  ")
        && !s.chars().any(|c| c.is_whitespace() && c != ' ');
    ok.then(|| s.to_owned())
}

fn concept_text(s: &str) -> Open<CodeableConcept> {
    Open::new(CodeableConcept {
        coding: Vec::new(),
        text: text(s),
    })
}

fn coding(system: &str, c: &str, display: Option<&str>) -> Option<Open<Coding>> {
    Some(Open::new(Coding {
        system: Some(system.to_owned()),
        version: None,
        code: Some(code(c)?),
        display: display.and_then(text),
    }))
}

/// A coding with its `version`.
fn versioned(c: Open<Coding>, version: &str) -> Open<Coding> {
    let mut c = c.into_inner();
    c.version = text(version);
    Open::new(c)
}

/// A FHIR `dateTime`. Offsets FHIR cannot write (beyond ±14:00, or with seconds) are written
/// in UTC; years outside 1–9999 are not written.
fn datetime(t: OffsetDateTime) -> Option<String> {
    let off = t.offset();
    let writable = off.seconds_past_minute() == 0 && off.whole_minutes().unsigned_abs() <= 14 * 60;
    let t = if writable {
        t
    } else {
        t.checked_to_offset(UtcOffset::UTC)?
    };
    if !(1..=9999).contains(&t.year()) {
        return None;
    }
    t.format(&Rfc3339).ok()
}

fn date(d: Date) -> Option<String> {
    (1..=9999)
        .contains(&d.year())
        .then(|| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
}

fn quantity(value: f64, unit: &str, comparator: Comparator) -> Option<Open<Quantity>> {
    let value = Decimal::from_f64(value)?;
    let ucum = code(unit);
    Some(Open::new(Quantity {
        value: Some(value),
        comparator: match comparator {
            Comparator::Equal => None,
            Comparator::Less => Some("<"),
            Comparator::LessOrEqual => Some("<="),
            Comparator::Greater => Some(">"),
            Comparator::GreaterOrEqual => Some(">="),
        }
        .map(str::to_owned),
        unit: text(unit),
        system: ucum.is_some().then(|| UCUM.to_owned()),
        code: ucum,
    }))
}

fn canonical_unit(kb: &Knowledge, analyte: AnalyteId) -> &'static str {
    leuko_core::units::canonical_unit(
        kb.analyte(analyte)
            .map_or(leuko_kb::Dimension::Count, |a| a.dimension),
    )
}

/// The analyte's preferred LOINC code (when it has one) and its name as text.
fn analyte_code(kb: &Knowledge, analyte: AnalyteId, suffix: &str) -> Open<CodeableConcept> {
    let a = kb.analyte(analyte);
    let name = a.map_or(analyte.as_str(), |a| a.name.as_str());
    Open::new(CodeableConcept {
        coding: a
            .and_then(|a| a.loinc.first())
            .and_then(|c| coding(LOINC, c, None))
            .into_iter()
            .collect(),
        text: text(&format!("{name}{suffix}")),
    })
}

fn category(analyte: AnalyteId) -> Open<CodeableConcept> {
    let (c, display) = if analyte == AnalyteId::Temperature {
        ("vital-signs", "Vital Signs")
    } else {
        ("laboratory", "Laboratory")
    };
    Open::new(CodeableConcept {
        coding: coding(OBSERVATION_CATEGORY, c, Some(display))
            .into_iter()
            .collect(),
        text: None,
    })
}

fn annotation(s: &str) -> Option<Open<Annotation>> {
    text(s).map(|text| Open::new(Annotation { text: Some(text) }))
}

fn level_display(level: Level) -> &'static str {
    match level {
        Level::None => "None: nothing low for this person",
        Level::Routine => "Routine: recheck at the usual pace",
        Level::Soon => "Soon: a clinician within days to two weeks",
        Level::Urgent => "Urgent: a clinician today or within 24 hours",
        Level::Emergency => "Emergency: emergency care now",
    }
}

/// The seed of every id: what the input was, in a stable text form.
fn seed(record: &Record, a: &Assessment, subject: Option<&str>) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = write!(
        s,
        "{}|{}|{}|{}|{:?}|{:?}|",
        datetime(a.as_of).unwrap_or_default(),
        subject.unwrap_or(""),
        a.knowledge.1,
        a.profile,
        record.patient.birth_date.and_then(date),
        record.patient.sex,
    );
    for o in &record.observations {
        let _ = write!(
            s,
            "o|{}|{}|{}|{:?}|{}|",
            o.analyte.as_str(),
            datetime(o.at).unwrap_or_default(),
            o.value,
            o.comparator,
            o.source_ref
        );
    }
    for c in &record.conditions {
        let _ = write!(s, "c|{}|{:?}|{}|", c.text, c.status, c.source_ref);
    }
    for m in &record.medications {
        let _ = write!(s, "m|{}|{}|{}|", m.text, m.active, m.source_ref);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// The bundle.

/// The percentages an absolute count is computed from, as the engine computes them.
fn percent_sources(target: AnalyteId) -> &'static [AnalyteId] {
    match target {
        AnalyteId::Anc => &[AnalyteId::NeutPct, AnalyteId::BandPct],
        AnalyteId::Alc => &[AnalyteId::LymphPct],
        AnalyteId::Amc => &[AnalyteId::MonoPct],
        AnalyteId::BlastAbs => &[AnalyteId::BlastPct],
        _ => &[],
    }
}

/// An Observation of the record, as FHIR.
fn input_observation(
    kb: &Knowledge,
    o: &leuko_core::Observation,
    subject: &Open<Reference>,
) -> Observation {
    let canonical = canonical_unit(kb, o.analyte);
    // The value as the laboratory reported it (lossless); the canonical reading in a note.
    let reported = o
        .reported
        .as_ref()
        .and_then(|(v, u)| quantity(*v, u, o.comparator));
    let mut note = Vec::new();
    if reported.is_some() && o.value.is_finite() {
        note.extend(annotation(&format!(
            "Read by leuko as {} {canonical}.",
            o.value
        )));
    }
    let value_quantity = reported.or_else(|| quantity(o.value, canonical, o.comparator));
    let range = o.reference_range.and_then(|r| {
        let q = |v: Option<f64>| v.and_then(|v| quantity(v, canonical, Comparator::Equal));
        let (low, high) = (q(r.low), q(r.high));
        (low.is_some() || high.is_some()).then(|| Open::new(ReferenceRange { low, high }))
    });
    Observation {
        id: None,
        identifier: text(&o.source_ref)
            .map(|value| {
                Open::new(Identifier {
                    system: Some(SOURCE_REF_SYSTEM.to_owned()),
                    value: Some(value),
                })
            })
            .into_iter()
            .collect(),
        status: Some("final".to_owned()),
        category: vec![category(o.analyte)],
        code: Some(analyte_code(kb, o.analyte, "")),
        subject: Some(subject.clone()),
        effective_date_time: datetime(o.at),
        value_quantity,
        value_integer: None,
        value_string: None,
        note,
        method: None,
        reference_range: range.into_iter().collect(),
        derived_from: Vec::new(),
    }
}

/// Builds the FHIR R4 Bundle (type `collection`) of an assessment: the RiskAssessment, the
/// Patient (when `subject` is `None`), the Observations read and computed, the CTCAE grades
/// and the proposed tests. See the module documentation for the mapping.
///
/// `subject` is a reference to the person (such as `Patient/123`); when it is `None` (or
/// blank), the bundle includes a Patient with the record's birth date and sex and every
/// resource refers to it. The same arguments always give the same bundle.
pub fn assessment_bundle(
    kb: &Knowledge,
    record: &Record,
    a: &Assessment,
    subject: Option<&str>,
) -> Value {
    serde_json::to_value(assessment_resource(kb, record, a, subject)).unwrap_or(Value::Null)
}

/// [`assessment_bundle`] as the typed [`Resource::Bundle`] of [`crate::model`] (write it with
/// [`Resource::to_json`] or `serde_json::to_string`).
pub fn assessment_resource(
    kb: &Knowledge,
    record: &Record,
    a: &Assessment,
    subject: Option<&str>,
) -> Resource {
    let subject = subject.and_then(text);
    let mut b = Builder {
        seed: seed(record, a, subject.as_deref()),
        used: BTreeSet::new(),
        entries: Vec::new(),
    };

    let subject = match subject {
        Some(r) => reference(r),
        None => b.add(Resource::Patient(Open::new(Patient {
            id: None,
            gender: match record.patient.sex {
                Sex::Female => Some("female"),
                Sex::Male => Some("male"),
                Sex::Other => Some("other"),
                Sex::Unknown => None,
            }
            .map(str::to_owned),
            birth_date: record.patient.birth_date.and_then(date),
        }))),
    };

    // The record's results up to as_of, oldest first (ties in record order, as the engine
    // orders its series).
    let mut inputs: Vec<&leuko_core::Observation> = record
        .observations
        .iter()
        .filter(|o| o.at <= a.as_of)
        .collect();
    inputs.sort_by_key(|o| o.at);
    let mut basis = Vec::new();
    let mut input_refs = Vec::with_capacity(inputs.len());
    for o in &inputs {
        let r = b.add(Resource::Observation(Box::new(Open::new(
            input_observation(kb, o, &subject),
        ))));
        basis.push(r.clone());
        input_refs.push(r);
    }
    let find_input = |pred: &dyn Fn(&leuko_core::Observation) -> bool, last: bool| {
        let mut hits = inputs
            .iter()
            .zip(&input_refs)
            .filter(|(o, _)| pred(o))
            .map(|(o, r)| (*o, r));
        if last { hits.last() } else { hits.next() }
    };

    // The current counts: the Observation each stands on, computing the derived ones.
    let mut count_refs: BTreeMap<AnalyteId, (Open<Reference>, &CountSummary)> = BTreeMap::new();
    for c in &a.counts {
        if !c.derived {
            if let Some((_, r)) = find_input(
                &|o| {
                    o.analyte == c.analyte
                        && o.at == c.at
                        && o.value.to_bits() == c.value.to_bits()
                        && o.source_ref == c.source_ref
                },
                true,
            ) {
                count_refs.insert(c.analyte, (r.clone(), c));
            }
            continue;
        }
        let wbc_prefix = |o: &leuko_core::Observation| format!("computed: WBC {} x", o.value);
        let wbc = find_input(
            &|o| {
                o.analyte == AnalyteId::Wbc
                    && o.at == c.at
                    && c.source_ref.starts_with(&wbc_prefix(o))
            },
            true,
        )
        .or_else(|| find_input(&|o| o.analyte == AnalyteId::Wbc && o.at == c.at, true));
        let mut derived_from: Vec<Open<Reference>> =
            wbc.iter().map(|(_, r)| (*r).clone()).collect();
        for pct in percent_sources(c.analyte) {
            if !c.source_ref.contains(pct.as_str()) {
                continue;
            }
            let near = |o: &leuko_core::Observation| {
                o.analyte == *pct && (o.at - c.at).whole_minutes().abs() <= 60
            };
            if let Some((_, r)) = find_input(&near, false) {
                derived_from.push(r.clone());
            }
        }
        let comparator = wbc.map_or(Comparator::Equal, |(o, _)| o.comparator);
        let obs = Observation {
            id: None,
            identifier: Vec::new(),
            status: Some("final".to_owned()),
            category: vec![category(c.analyte)],
            code: Some(analyte_code(kb, c.analyte, " (computed by leuko)")),
            subject: Some(subject.clone()),
            effective_date_time: datetime(c.at),
            value_quantity: quantity(c.value, c.unit, comparator),
            value_integer: None,
            value_string: None,
            note: annotation(&c.source_ref).into_iter().collect(),
            method: Some(concept_text(
                "Calculated by leuko: WBC x (the sum of the percentages) / 100, from results taken within an hour of each other",
            )),
            reference_range: Vec::new(),
            derived_from,
        };
        let r = b.add(Resource::Observation(Box::new(Open::new(obs))));
        basis.push(r.clone());
        count_refs.insert(c.analyte, (r, c));
    }

    // CTCAE grades.
    let ctcae = format!("CTCAE v{}", a.ctcae_version);
    for g in &a.grades {
        let term = kb.grading.ctcae.term.iter().find(|t| t.key == g.key);
        let graded = term.and_then(|t| count_refs.get(&t.analyte));
        let title = format!("{ctcae} {} grade", g.term);
        let mut words = graded.map_or_else(
            || format!("Graded value {}.", g.value),
            |(_, c)| format!("Graded value {} {}.", g.value, c.unit),
        );
        if let Some(lln) = g.lln.filter(|v| v.is_finite()) {
            words.push_str(&format!(" Lower limit of normal used for grade 1: {lln}."));
        }
        let obs = Observation {
            id: None,
            identifier: Vec::new(),
            status: Some("final".to_owned()),
            category: Vec::new(),
            code: Some(Open::new(CodeableConcept {
                coding: coding(CTCAE_GRADE_SYSTEM, &g.key, Some(&title))
                    .map(|c| versioned(c, &a.ctcae_version))
                    .into_iter()
                    .collect(),
                text: text(&title),
            })),
            subject: Some(subject.clone()),
            effective_date_time: graded.and_then(|(_, c)| datetime(c.at)),
            value_quantity: None,
            value_integer: Some(i64::from(g.grade)),
            value_string: None,
            note: annotation(&words).into_iter().collect(),
            method: Some(concept_text(&format!(
                "{ctcae} (Common Terminology Criteria for Adverse Events), graded from the laboratory value; a value on a boundary takes the milder grade"
            ))),
            reference_range: Vec::new(),
            derived_from: graded.map(|(r, _)| r.clone()).into_iter().collect(),
        };
        b.add(Resource::Observation(Box::new(Open::new(obs))));
    }

    // The work-up.
    let authored = datetime(a.as_of);
    for w in &a.workup {
        b.add(Resource::ServiceRequest(Box::new(Open::new(
            service_request(kb, w, &subject, &authored),
        ))));
    }

    // The assessment.
    let risk = risk_assessment(kb, a, subject, basis);
    b.add(Resource::RiskAssessment(Box::new(Open::new(risk))));

    let mut entries = b.entries;
    entries.sort_by_key(|e| e.resource.as_ref().map_or(u8::MAX, rank));
    let body = serde_json::to_string(&entries).unwrap_or_default();
    let id = uuid_from(hash128(&[b.seed.as_bytes(), b"Bundle", body.as_bytes()]));
    Resource::Bundle(Box::new(Open::new(Bundle {
        id: Some(id),
        kind: Some("collection".to_owned()),
        entry: entries,
    })))
}

fn service_request(
    kb: &Knowledge,
    w: &WorkupItem,
    subject: &Open<Reference>,
    authored: &Option<String>,
) -> ServiceRequest {
    let for_causes: Vec<&str> = w
        .for_causes
        .iter()
        .map(|id| kb.cause(id).map_or(id.as_str(), |c| c.name.as_str()))
        .collect();
    let mut note = Vec::new();
    if !for_causes.is_empty() {
        note.extend(annotation(&format!(
            "Helps with: {}.",
            for_causes.join("; ")
        )));
    }
    note.extend(annotation(&format!(
        "Place in leuko's work-up: {}.",
        w.priority.as_str()
    )));
    ServiceRequest {
        id: None,
        status: Some("draft".to_owned()),
        intent: Some("proposal".to_owned()),
        priority: Some(
            if w.priority == Priority::Immediate {
                "stat"
            } else {
                "routine"
            }
            .to_owned(),
        ),
        code: Some(Open::new(CodeableConcept {
            coding: w
                .loinc()
                .and_then(|c| coding(LOINC, c, None))
                .into_iter()
                .collect(),
            text: text(w.name()).or_else(|| text(w.id())),
        })),
        subject: Some(subject.clone()),
        authored_on: authored.clone(),
        reason_code: text(w.reason())
            .map(|t| concept_text(&t))
            .into_iter()
            .collect(),
        note,
    }
}

fn evidence_words(a: &Assessment, e: &Evidence) -> String {
    let status = if e.truth == Truth::True {
        "present"
    } else {
        "absent"
    };
    let why = e.why();
    let why = if why.is_empty() { e.finding_id() } else { why };
    let detail = a.detail(e);
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    format!(
        "{why} ({status}{detail}; likelihood ratio {})",
        leuko_core::fmt_num(e.lr)
    )
}

/// The cause's share, rounded as the JSON contract rounds it.
fn share(c: &Candidate) -> Option<f64> {
    let w = (c.weight * 10_000.0).round() / 10_000.0;
    (w.is_finite() && (0.0..=1.0).contains(&w)).then_some(w)
}

fn prediction(a: &Assessment, c: &Candidate) -> Prediction {
    let mut words = Vec::new();
    words.extend(text(c.summary()));
    let list = |ev: &[Evidence]| {
        ev.iter()
            .map(|e| evidence_words(a, e))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if c.evidence_for.is_empty() {
        words.push("Evidence for: none recorded.".to_owned());
    } else {
        words.push(format!("Evidence for: {}.", list(&c.evidence_for)));
    }
    if c.evidence_against.is_empty() {
        words.push("Evidence against: none recorded.".to_owned());
    } else {
        words.push(format!("Evidence against: {}.", list(&c.evidence_against)));
    }
    if c.cant_miss() {
        words.push("A can't-miss cause: it stays listed until it is excluded.".to_owned());
    }
    let probability = share(c);
    if let Some(w) = probability {
        words.push(format!(
            "probabilityDecimal {w} is this cause's share of the total weight over all causes (prior for the age band times the likelihood ratios of the known findings): a ranking aid, not a probability of disease."
        ));
    }
    let name = text(c.name()).or_else(|| text(c.id()));
    Prediction {
        outcome: Some(Open::new(CodeableConcept {
            coding: c
                .icd10
                .iter()
                .filter_map(|code| coding(ICD10CM, code, None))
                .collect(),
            text: name,
        })),
        probability_decimal: probability.and_then(Decimal::from_f64),
        rationale: text(&words.join(" ")),
    }
}

fn risk_assessment(
    kb: &Knowledge,
    a: &Assessment,
    subject: Open<Reference>,
    basis: Vec<Open<Reference>>,
) -> RiskAssessment {
    let (version, digest) = &a.knowledge;
    let reasons: Vec<String> = a
        .fired
        .iter()
        .filter(|f| f.level == a.level)
        .filter_map(|f| {
            let r = kb.rule(&f.rule)?;
            Some(if f.detail.is_empty() {
                r.text.clone()
            } else {
                format!("{} [{}]", r.text, f.detail)
            })
        })
        .collect();
    let mut note: Vec<Open<Annotation>> = Vec::new();
    note.extend(annotation(DISCLAIMER));
    note.extend(annotation(&if reasons.is_empty() {
        format!("Triage level: {}.", a.level.as_str())
    } else {
        format!(
            "Triage level: {}. Reasons: {}",
            a.level.as_str(),
            reasons.join(" ")
        )
    }));
    if !a.missing.is_empty() {
        let m: Vec<String> = a
            .missing
            .iter()
            .map(|m| format!("{} ({})", m.what, m.would_change))
            .collect();
        note.extend(annotation(&format!(
            "Missing, and would change the answer: {}.",
            m.join("; ")
        )));
    }
    if !a.input_notes.is_empty() {
        let m: Vec<String> = a
            .input_notes
            .iter()
            .map(|n| format!("{}: {}", n.field, n.message))
            .collect();
        note.extend(annotation(&format!(
            "Notes from reading the input: {}.",
            m.join("; ")
        )));
    }
    let mitigation = a
        .actions
        .iter()
        .filter_map(|x| text(&x.text))
        .collect::<Vec<_>>()
        .join("\n");
    let level = Open::new(CodeableConcept {
        coding: coding(
            TRIAGE_SYSTEM,
            a.level.as_str(),
            Some(level_display(a.level)),
        )
        .into_iter()
        .collect(),
        text: text(a.level.as_str()),
    });
    RiskAssessment {
        id: None,
        extension: vec![Open::new(Extension {
            url: Some(TRIAGE_EXTENSION.to_owned()),
            value_codeable_concept: Some(level),
        })],
        status: Some("final".to_owned()),
        method: Some(Open::new(CodeableConcept {
            coding: coding(
                ASSESSMENT_SYSTEM,
                "leuko",
                Some("leuko: triage rules, CTCAE grading and likelihood-ratio ranking of causes"),
            )
            .map(|c| versioned(c, version))
            .into_iter()
            .collect(),
            text: text(&format!(
                "leuko: triage rules, CTCAE v{} grading and likelihood-ratio ranking of causes; knowledge {version} (digest {digest}); threshold profile {}",
                a.ctcae_version, a.profile
            )),
        })),
        code: Some(Open::new(CodeableConcept {
            coding: coding(
                ASSESSMENT_SYSTEM,
                "low-white-cell-count",
                Some("Assessment of a low white-cell count"),
            )
            .into_iter()
            .collect(),
            text: text("Assessment of a low white-cell count: urgency, grades, possible causes"),
        })),
        subject: Some(subject),
        occurrence_date_time: datetime(a.as_of),
        basis,
        prediction: a
            .differential
            .iter()
            .map(|c| Open::new(prediction(a, c)))
            .collect(),
        mitigation: text(&mitigation),
        note,
    }
}
