//! The patient record the engine reads: what adapters (FHIR, HL7 v2, the JSON record, a
//! store) produce and what `assess` consumes. No wire format lives here.

use leuko_kb::AnalyteId;
use time::{Date, OffsetDateTime};

/// Everything known about one person, as of any time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// Demographics.
    pub patient: Patient,
    /// Laboratory results and vital signs, in any order.
    pub observations: Vec<Observation>,
    /// Problems, symptoms, signs, exposures and phenotypes.
    pub conditions: Vec<ConditionEntry>,
    /// Medicines with their dates.
    pub medications: Vec<MedicationEntry>,
    /// Things the adapter noticed and wants the reader to see (unit read with an assumption,
    /// an uncoded condition not recognised, …). Never patient values in `Debug` logs.
    pub notes: Vec<InputNote>,
}

/// Demographics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patient {
    /// Date of birth, when known.
    pub birth_date: Option<Date>,
    /// Administrative sex, when known.
    pub sex: Sex,
}

/// Administrative sex as used for reference intervals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Other (reference intervals fall back to those for anyone).
    Other,
    /// Not stated.
    #[default]
    Unknown,
}

/// How a measured value relates to the true value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Comparator {
    /// The value itself.
    #[default]
    Equal,
    /// Below the value (`<0.5`).
    Less,
    /// At or below the value.
    LessOrEqual,
    /// Above the value.
    Greater,
    /// At or above the value.
    GreaterOrEqual,
}

/// One laboratory result or vital sign, in canonical units.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// What was measured.
    pub analyte: AnalyteId,
    /// When (the specimen time, or the effective time).
    pub at: OffsetDateTime,
    /// The value in canonical units (counts 10^9/L, haemoglobin g/dL, temperature C, …).
    pub value: f64,
    /// How the value relates to the truth (`<0.5`).
    pub comparator: Comparator,
    /// The value and UCUM unit as reported, when the unit differs from the canonical one.
    pub reported: Option<(f64, String)>,
    /// The laboratory's own range, in canonical units.
    pub reference_range: Option<RefRange>,
    /// Whether the engine computed it (ANC from WBC and a percent differential).
    pub derived: bool,
    /// Where it came from (a FHIR id, an HL7 segment), for explanations.
    pub source_ref: String,
}

/// A laboratory's own reference range, canonical units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefRange {
    /// Lower limit.
    pub low: Option<f64>,
    /// Upper limit.
    pub high: Option<f64>,
}

/// Whether a condition holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConditionStatus {
    /// Active or recurring.
    #[default]
    Active,
    /// Resolved, remitted or inactive.
    Resolved,
    /// Entered as known to be absent (refuted, or "no fever" in the JSON record).
    Absent,
}

/// A problem, symptom, sign, exposure or phenotype.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionEntry {
    /// The knowledge-base concept id, when recognised.
    pub concept: Option<String>,
    /// The text as given.
    pub text: String,
    /// Status.
    pub status: ConditionStatus,
    /// Onset, when known.
    pub onset: Option<OffsetDateTime>,
    /// Abatement, when known.
    pub abatement: Option<OffsetDateTime>,
    /// Where it came from.
    pub source_ref: String,
}

/// A medicine taken over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct MedicationEntry {
    /// Knowledge-base drug ids (a combination product has several); empty when not recognised.
    pub drugs: Vec<String>,
    /// The text as given.
    pub text: String,
    /// First dose, when known.
    pub start: Option<OffsetDateTime>,
    /// Last dose (or stop), when known; `None` with `active` means still taken.
    pub end: Option<OffsetDateTime>,
    /// Whether still being taken.
    pub active: bool,
    /// Where it came from.
    pub source_ref: String,
}

/// A remark from an adapter, shown in the assessment's `input_notes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputNote {
    /// Where (a JSON path or field name).
    pub field: String,
    /// What was noticed.
    pub message: String,
}
