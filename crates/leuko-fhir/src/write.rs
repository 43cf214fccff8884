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
use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

use super::{LOINC, UCUM};

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
// The FHIR R4 subset, hand-written.

#[derive(Debug, Clone, Default, Serialize)]
struct Coding {
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
struct CodeableConcept {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    coding: Vec<Coding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct Quantity {
    #[serde(serialize_with = "decimal")]
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    comparator: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
}

/// A FHIR `decimal`: a whole number without a decimal point (400, not 400.0, which would claim
/// a precision nobody reported); anything else as the shortest decimal that reads back as the
/// same `f64` (0.4, not 0.40000000000000002).
fn decimal<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every whole number below is exact
    if v.fract() == 0.0 && v.abs() < EXACT {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

fn optional_decimal<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => decimal(v, s),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, Serialize)]
struct Reference {
    reference: String,
}

#[derive(Debug, Clone, Serialize)]
struct Annotation {
    text: String,
}

#[derive(Debug, Clone, Serialize)]
struct Identifier {
    system: &'static str,
    value: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Extension {
    url: &'static str,
    value_codeable_concept: CodeableConcept,
}

#[derive(Debug, Clone, Serialize)]
struct ReferenceRange {
    #[serde(skip_serializing_if = "Option::is_none")]
    low: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    high: Option<Quantity>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Patient {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gender: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    birth_date: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Observation {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    identifier: Vec<Identifier>,
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    category: Vec<CodeableConcept>,
    code: CodeableConcept,
    subject: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    effective_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_quantity: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_integer: Option<u8>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    note: Vec<Annotation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<CodeableConcept>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reference_range: Vec<ReferenceRange>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    derived_from: Vec<Reference>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Prediction {
    outcome: CodeableConcept,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_decimal"
    )]
    probability_decimal: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rationale: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct RiskAssessment {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extension: Vec<Extension>,
    status: &'static str,
    method: CodeableConcept,
    code: CodeableConcept,
    subject: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    occurrence_date_time: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    basis: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    prediction: Vec<Prediction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mitigation: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    note: Vec<Annotation>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    status: &'static str,
    intent: &'static str,
    priority: &'static str,
    code: CodeableConcept,
    subject: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    authored_on: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reason_code: Vec<CodeableConcept>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    note: Vec<Annotation>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "resourceType")]
enum Resource {
    RiskAssessment(RiskAssessment),
    Patient(Patient),
    Observation(Observation),
    ServiceRequest(ServiceRequest),
}

impl Resource {
    fn kind(&self) -> &'static str {
        match self {
            Resource::RiskAssessment(_) => "RiskAssessment",
            Resource::Patient(_) => "Patient",
            Resource::Observation(_) => "Observation",
            Resource::ServiceRequest(_) => "ServiceRequest",
        }
    }

    /// Entry order in the bundle: the assessment first, then who, what was read, what was
    /// computed, what is proposed.
    fn rank(&self) -> u8 {
        match self {
            Resource::RiskAssessment(_) => 0,
            Resource::Patient(_) => 1,
            Resource::Observation(_) => 2,
            Resource::ServiceRequest(_) => 3,
        }
    }

    fn set_id(&mut self, id: String) {
        let slot = match self {
            Resource::RiskAssessment(r) => &mut r.id,
            Resource::Patient(r) => &mut r.id,
            Resource::Observation(r) => &mut r.id,
            Resource::ServiceRequest(r) => &mut r.id,
        };
        *slot = Some(id);
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    full_url: String,
    resource: Resource,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    resource_type: &'static str,
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entry: Vec<Entry>,
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
    entries: Vec<Entry>,
}

impl Builder {
    /// Adds a resource; its id is a hash of the input's seed and its own content. Returns the
    /// reference to it (`urn:uuid:…`).
    fn add(&mut self, mut resource: Resource) -> Reference {
        let body = serde_json::to_string(&resource).unwrap_or_default();
        let kind = resource.kind();
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
        resource.set_id(uuid.clone());
        let full_url = format!("urn:uuid:{uuid}");
        self.entries.push(Entry {
            full_url: full_url.clone(),
            resource,
        });
        Reference {
            reference: full_url,
        }
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

fn concept_text(s: &str) -> CodeableConcept {
    CodeableConcept {
        coding: Vec::new(),
        text: text(s),
    }
}

fn coding(system: &str, c: &str, display: Option<&str>) -> Option<Coding> {
    Some(Coding {
        system: Some(system.to_owned()),
        version: None,
        code: Some(code(c)?),
        display: display.and_then(text),
    })
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

fn quantity(value: f64, unit: &str, comparator: Comparator) -> Option<Quantity> {
    if !value.is_finite() {
        return None;
    }
    let ucum = code(unit);
    Some(Quantity {
        value,
        comparator: match comparator {
            Comparator::Equal => None,
            Comparator::Less => Some("<"),
            Comparator::LessOrEqual => Some("<="),
            Comparator::Greater => Some(">"),
            Comparator::GreaterOrEqual => Some(">="),
        },
        unit: text(unit),
        system: ucum.is_some().then_some(UCUM),
        code: ucum,
    })
}

fn canonical_unit(kb: &Knowledge, analyte: AnalyteId) -> &'static str {
    leuko_core::units::canonical_unit(
        kb.analyte(analyte)
            .map_or(leuko_kb::Dimension::Count, |a| a.dimension),
    )
}

/// The analyte's preferred LOINC code (when it has one) and its name as text.
fn analyte_code(kb: &Knowledge, analyte: AnalyteId, suffix: &str) -> CodeableConcept {
    let a = kb.analyte(analyte);
    let name = a.map_or(analyte.as_str(), |a| a.name.as_str());
    CodeableConcept {
        coding: a
            .and_then(|a| a.loinc.first())
            .and_then(|c| coding(LOINC, c, None))
            .into_iter()
            .collect(),
        text: text(&format!("{name}{suffix}")),
    }
}

fn category(analyte: AnalyteId) -> CodeableConcept {
    let (c, display) = if analyte == AnalyteId::Temperature {
        ("vital-signs", "Vital Signs")
    } else {
        ("laboratory", "Laboratory")
    };
    CodeableConcept {
        coding: coding(OBSERVATION_CATEGORY, c, Some(display))
            .into_iter()
            .collect(),
        text: None,
    }
}

fn annotation(s: &str) -> Option<Annotation> {
    text(s).map(|text| Annotation { text })
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
    subject: &Reference,
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
        (low.is_some() || high.is_some()).then_some(ReferenceRange { low, high })
    });
    Observation {
        id: None,
        identifier: text(&o.source_ref)
            .map(|value| Identifier {
                system: SOURCE_REF_SYSTEM,
                value,
            })
            .into_iter()
            .collect(),
        status: "final",
        category: vec![category(o.analyte)],
        code: analyte_code(kb, o.analyte, ""),
        subject: subject.clone(),
        effective_date_time: datetime(o.at),
        value_quantity,
        value_integer: None,
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
    let subject = subject.and_then(text);
    let mut b = Builder {
        seed: seed(record, a, subject.as_deref()),
        used: BTreeSet::new(),
        entries: Vec::new(),
    };

    let subject = match subject {
        Some(reference) => Reference { reference },
        None => b.add(Resource::Patient(Patient {
            id: None,
            gender: match record.patient.sex {
                Sex::Female => Some("female"),
                Sex::Male => Some("male"),
                Sex::Other => Some("other"),
                Sex::Unknown => None,
            },
            birth_date: record.patient.birth_date.and_then(date),
        })),
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
        let r = b.add(Resource::Observation(input_observation(kb, o, &subject)));
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
    let mut count_refs: BTreeMap<AnalyteId, (Reference, &CountSummary)> = BTreeMap::new();
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
        let mut derived_from: Vec<Reference> = wbc.iter().map(|(_, r)| (*r).clone()).collect();
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
            status: "final",
            category: vec![category(c.analyte)],
            code: analyte_code(kb, c.analyte, " (computed by leuko)"),
            subject: subject.clone(),
            effective_date_time: datetime(c.at),
            value_quantity: quantity(c.value, c.unit, comparator),
            value_integer: None,
            note: annotation(&c.source_ref).into_iter().collect(),
            method: Some(concept_text(
                "Calculated by leuko: WBC x (the sum of the percentages) / 100, from results taken within an hour of each other",
            )),
            reference_range: Vec::new(),
            derived_from,
        };
        let r = b.add(Resource::Observation(obs));
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
            status: "final",
            category: Vec::new(),
            code: CodeableConcept {
                coding: coding(CTCAE_GRADE_SYSTEM, &g.key, Some(&title))
                    .map(|c| Coding {
                        version: text(&a.ctcae_version),
                        ..c
                    })
                    .into_iter()
                    .collect(),
                text: text(&title),
            },
            subject: subject.clone(),
            effective_date_time: graded.and_then(|(_, c)| datetime(c.at)),
            value_quantity: None,
            value_integer: Some(g.grade),
            note: annotation(&words).into_iter().collect(),
            method: Some(concept_text(&format!(
                "{ctcae} (Common Terminology Criteria for Adverse Events), graded from the laboratory value; a value on a boundary takes the milder grade"
            ))),
            reference_range: Vec::new(),
            derived_from: graded.map(|(r, _)| r.clone()).into_iter().collect(),
        };
        b.add(Resource::Observation(obs));
    }

    // The work-up.
    let authored = datetime(a.as_of);
    for w in &a.workup {
        b.add(Resource::ServiceRequest(service_request(
            kb, w, &subject, &authored,
        )));
    }

    // The assessment.
    let risk = risk_assessment(kb, a, subject, basis);
    b.add(Resource::RiskAssessment(risk));

    let mut entries = b.entries;
    entries.sort_by_key(|e| e.resource.rank());
    let body = serde_json::to_string(&entries).unwrap_or_default();
    let id = uuid_from(hash128(&[b.seed.as_bytes(), b"Bundle", body.as_bytes()]));
    serde_json::to_value(Bundle {
        resource_type: "Bundle",
        id,
        kind: "collection",
        entry: entries,
    })
    .unwrap_or(Value::Null)
}

fn service_request(
    kb: &Knowledge,
    w: &WorkupItem,
    subject: &Reference,
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
        status: "draft",
        intent: "proposal",
        priority: if w.priority == Priority::Immediate {
            "stat"
        } else {
            "routine"
        },
        code: CodeableConcept {
            coding: w
                .loinc()
                .and_then(|c| coding(LOINC, c, None))
                .into_iter()
                .collect(),
            text: text(w.name()).or_else(|| text(w.id())),
        },
        subject: subject.clone(),
        authored_on: authored.clone(),
        reason_code: text(w.reason())
            .map(|t| CodeableConcept {
                coding: Vec::new(),
                text: Some(t),
            })
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
        outcome: CodeableConcept {
            coding: c
                .icd10
                .iter()
                .filter_map(|code| coding(ICD10CM, code, None))
                .collect(),
            text: name,
        },
        probability_decimal: probability,
        rationale: text(&words.join(" ")),
    }
}

fn risk_assessment(
    kb: &Knowledge,
    a: &Assessment,
    subject: Reference,
    basis: Vec<Reference>,
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
    let mut note: Vec<Annotation> = Vec::new();
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
    let level = CodeableConcept {
        coding: coding(
            TRIAGE_SYSTEM,
            a.level.as_str(),
            Some(level_display(a.level)),
        )
        .into_iter()
        .collect(),
        text: text(a.level.as_str()),
    };
    RiskAssessment {
        id: None,
        extension: vec![Extension {
            url: TRIAGE_EXTENSION,
            value_codeable_concept: level,
        }],
        status: "final",
        method: CodeableConcept {
            coding: coding(
                ASSESSMENT_SYSTEM,
                "leuko",
                Some("leuko: triage rules, CTCAE grading and likelihood-ratio ranking of causes"),
            )
            .map(|c| Coding {
                version: text(version),
                ..c
            })
            .into_iter()
            .collect(),
            text: text(&format!(
                "leuko: triage rules, CTCAE v{} grading and likelihood-ratio ranking of causes; knowledge {version} (digest {digest}); threshold profile {}",
                a.ctcae_version, a.profile
            )),
        },
        code: CodeableConcept {
            coding: coding(
                ASSESSMENT_SYSTEM,
                "low-white-cell-count",
                Some("Assessment of a low white-cell count"),
            )
            .into_iter()
            .collect(),
            text: text("Assessment of a low white-cell count: urgency, grades, possible causes"),
        },
        subject,
        occurrence_date_time: datetime(a.as_of),
        basis,
        prediction: a.differential.iter().map(|c| prediction(a, c)).collect(),
        mitigation: text(&mitigation),
        note,
    }
}
