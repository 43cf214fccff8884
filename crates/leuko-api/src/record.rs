//! leuko's own JSON record: a simpler input than FHIR for people and scripts.
//!
//! ```json
//! {
//!   "patient": { "birth_date": "1990-04-01", "sex": "female" },
//!   "results": [
//!     { "analyte": "wbc", "value": 3.1, "unit": "10^9/L", "at": "2026-01-05T08:00:00Z" },
//!     { "analyte": "anc", "value": "1,200 per microliter", "at": "2026-01-05T08:00:00Z" },
//!     { "analyte": "temperature", "value": 38.4, "unit": "Cel", "at": "2026-01-05T09:00:00Z" }
//!   ],
//!   "conditions": [ { "name": "fever", "status": "active" }, { "name": "lupus" } ],
//!   "medications": [ { "name": "clozapine", "start": "2025-10-01" } ]
//! }
//! ```
//!
//! The schema is `schema/record.schema.json`, generated from these types and kept fresh by a
//! test.

use leuko_core::units;
use leuko_core::{
    ConditionEntry, ConditionStatus, InputNote, MedicationEntry, Observation, Patient, Record,
    RefRange, Sex,
};
use leuko_kb::{AnalyteId, Knowledge};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The record.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordJson {
    /// Demographics.
    #[serde(default)]
    pub patient: PatientJson,
    /// Laboratory results and temperatures.
    #[serde(default)]
    pub results: Vec<ResultJson>,
    /// Problems, symptoms, signs, exposures, phenotypes.
    #[serde(default)]
    pub conditions: Vec<ConditionJson>,
    /// Medicines.
    #[serde(default)]
    pub medications: Vec<MedicationJson>,
}

/// Demographics.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientJson {
    /// Date of birth, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// Age in years at the assessment time, when the date of birth is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_years: Option<f64>,
    /// `female`, `male`, `other` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
}

/// A number, or text such as `"4x10^9/L"`, `"4,000 per microliter"` or `"<0.5"`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ValueJson {
    /// A number in `unit`.
    Number(f64),
    /// Text holding a number and, optionally, its unit.
    Text(String),
}

/// A laboratory result or a temperature.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultJson {
    /// A client-supplied id; a history store keeps an entry written twice with the same id once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Analyte id (`wbc`, `anc`, `alc`, `neut-pct`, `band-pct`, `plt`, `hgb`, `mcv`, `temperature`, …),
    /// or a LOINC code.
    pub analyte: String,
    /// The value.
    pub value: ValueJson,
    /// The unit (`10^9/L`, `10*3/uL`, `/uL`, `cells/mm3`, `g/dL`, `g/L`, `mmol/L`, `%`, `Cel`, `[degF]`, …);
    /// may be omitted when the text value carries it, and for percentages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// When, RFC 3339 or a date.
    pub at: String,
    /// The laboratory's lower reference limit, in the same unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_low: Option<f64>,
    /// The laboratory's upper reference limit, in the same unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_high: Option<f64>,
}

/// A condition, symptom or exposure.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionJson {
    /// A client-supplied id; a history store keeps an entry written twice with the same id once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name or concept id (`fever`, `lupus`, `Duffy-null`, …).
    pub name: String,
    /// A SNOMED CT or ICD-10-CM code, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `active` (default), `resolved`, or `absent` (known not to be present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Onset, RFC 3339 or a date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<String>,
    /// End, RFC 3339 or a date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abatement: Option<String>,
}

/// A medicine.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MedicationJson {
    /// A client-supplied id; a history store keeps an entry written twice with the same id once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name (generic, brand or non-US name).
    pub name: String,
    /// RxNorm ingredient code, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rxnorm: Option<String>,
    /// First dose, RFC 3339 or a date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Last dose or stop, RFC 3339 or a date; omit while still taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

/// A field of the record that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RecordError {
    /// The field, such as `results[2].value`.
    pub field: String,
    /// What is wrong, naming the value.
    pub message: String,
}

fn rerr(field: impl Into<String>, message: impl Into<String>) -> RecordError {
    RecordError {
        field: field.into(),
        message: message.into(),
    }
}

/// The JSON Schema of the record, as pretty JSON.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(RecordJson);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

fn time_at(text: &str, field: &str) -> Result<OffsetDateTime, RecordError> {
    leuko_fhir_time(text).ok_or_else(|| {
        rerr(
            field,
            format!("{text:?} is not an RFC 3339 date-time or a YYYY-MM-DD date"),
        )
    })
}

fn leuko_fhir_time(text: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &fmt)
        .ok()
        .map(|d| d.midnight().assume_utc())
}

impl RecordJson {
    /// Parses the record from bytes.
    ///
    /// # Errors
    /// A [`RecordError`] naming the field when the JSON does not fit the schema.
    pub fn from_slice(bytes: &[u8]) -> Result<RecordJson, RecordError> {
        serde_json::from_slice(bytes).map_err(|e| {
            rerr(
                format!("line {} column {}", e.line(), e.column()),
                e.to_string(),
            )
        })
    }

    /// Converts to the engine's record. `as_of` is needed only when the age is given in years.
    ///
    /// # Errors
    /// A [`RecordError`] naming the field and the value.
    pub fn to_record(&self, kb: &Knowledge, as_of: OffsetDateTime) -> Result<Record, RecordError> {
        let mut rec = Record::default();
        let sex = match self
            .patient
            .sex
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("unknown") => Sex::Unknown,
            Some("female" | "f") => Sex::Female,
            Some("male" | "m") => Sex::Male,
            Some("other") => Sex::Other,
            Some(other) => {
                return Err(rerr(
                    "patient.sex",
                    format!("{other:?} is not one of female, male, other, unknown"),
                ));
            }
        };
        let birth_date = match (&self.patient.birth_date, self.patient.age_years) {
            (Some(b), _) => Some(time_at(b, "patient.birth_date")?.date()),
            (None, Some(y)) if y.is_finite() && (0.0..=130.0).contains(&y) => {
                rec.notes.push(InputNote {
                    field: "patient.age_years".to_owned(),
                    message: format!("age {y} years: date of birth estimated"),
                });
                let days = (y * 365.25).round() as i64;
                Some((as_of - time::Duration::days(days)).date())
            }
            (None, Some(y)) => {
                return Err(rerr(
                    "patient.age_years",
                    format!("{y} is not an age in years (0-130)"),
                ));
            }
            (None, None) => None,
        };
        rec.patient = Patient { birth_date, sex };

        for (i, r) in self.results.iter().enumerate() {
            let field = format!("results[{i}]");
            let analyte = AnalyteId::parse(&r.analyte.to_ascii_lowercase())
                .and_then(|a| kb.analyte(a))
                .or_else(|| kb.analyte_by_loinc(&r.analyte))
                .or_else(|| leuko_fhir::analyte_by_text(kb, &r.analyte))
                .ok_or_else(|| {
                    rerr(
                        format!("{field}.analyte"),
                        format!("{:?} is not an analyte leuko knows", r.analyte),
                    )
                })?;
            let at = time_at(&r.at, &format!("{field}.at"))?;
            let (number, unit, comparator) = match &r.value {
                ValueJson::Number(n) => (
                    *n,
                    r.unit.clone().unwrap_or_default(),
                    leuko_core::Comparator::Equal,
                ),
                ValueJson::Text(t) => {
                    let q = units::parse_text_quantity(t)
                        .map_err(|e| rerr(format!("{field}.value"), e.to_string()))?;
                    let unit = if q.unit.is_empty() {
                        r.unit.clone().unwrap_or_default()
                    } else {
                        q.unit
                    };
                    (q.value, unit, q.comparator)
                }
            };
            let value = units::to_canonical(kb, analyte, number, &unit).map_err(|e| {
                let f = if matches!(e, units::ValueError::UnknownUnit { .. }) {
                    "unit"
                } else {
                    "value"
                };
                rerr(format!("{field}.{f}"), e.to_string())
            })?;
            let canonical = units::canonical_unit(analyte.dimension);
            let reported = units::find_unit(kb, analyte.dimension, &unit)
                .filter(|u| u.ucum != canonical)
                .map(|u| (number, u.ucum.clone()));
            let limit = |v: Option<f64>, name: &str| -> Result<Option<f64>, RecordError> {
                v.map(|v| {
                    units::to_canonical(kb, analyte, v, &unit)
                        .map_err(|e| rerr(format!("{field}.{name}"), e.to_string()))
                })
                .transpose()
            };
            let low = limit(r.reference_low, "reference_low")?;
            let high = limit(r.reference_high, "reference_high")?;
            rec.observations.push(Observation {
                analyte: analyte.id,
                at,
                value,
                comparator,
                reported,
                reference_range: (low.is_some() || high.is_some())
                    .then_some(RefRange { low, high }),
                derived: false,
                source_ref: field,
            });
        }
        for (i, c) in self.conditions.iter().enumerate() {
            let field = format!("conditions[{i}]");
            let concept = c
                .code
                .as_deref()
                .and_then(|code| {
                    kb.concept_by_snomed(code)
                        .or_else(|| kb.concept_by_icd10(code))
                })
                .or_else(|| kb.concept(&c.name.to_ascii_lowercase()))
                .or_else(|| kb.concept_by_text(&c.name));
            if concept.is_none() {
                rec.notes.push(InputNote {
                    field: format!("{field}.name"),
                    message: format!(
                        "{:?} is not a condition leuko recognises; it was not used",
                        c.name
                    ),
                });
            }
            let status = match c.status.as_deref() {
                None | Some("active") => ConditionStatus::Active,
                Some("resolved" | "inactive") => ConditionStatus::Resolved,
                Some("absent" | "no" | "refuted") => ConditionStatus::Absent,
                Some(other) => {
                    return Err(rerr(
                        format!("{field}.status"),
                        format!("{other:?} is not one of active, resolved, absent"),
                    ));
                }
            };
            rec.conditions.push(ConditionEntry {
                concept: concept.map(|k| k.id.clone()),
                text: c.name.clone(),
                status,
                onset: c
                    .onset
                    .as_deref()
                    .map(|t| time_at(t, &format!("{field}.onset")))
                    .transpose()?,
                abatement: c
                    .abatement
                    .as_deref()
                    .map(|t| time_at(t, &format!("{field}.abatement")))
                    .transpose()?,
                source_ref: field,
            });
        }
        for (i, m) in self.medications.iter().enumerate() {
            let field = format!("medications[{i}]");
            let mut drugs: Vec<String> = m
                .rxnorm
                .as_deref()
                .and_then(|c| kb.drug_by_rxnorm(c))
                .map(|d| vec![d.id.clone()])
                .unwrap_or_default();
            if drugs.is_empty() {
                drugs = kb
                    .drugs_in_text(&m.name)
                    .into_iter()
                    .map(|d| d.id.clone())
                    .collect();
            }
            if drugs.is_empty() {
                rec.notes.push(InputNote {
                    field: format!("{field}.name"),
                    message: format!(
                        "{:?} is not in leuko's drug list; it was recorded but not judged",
                        m.name
                    ),
                });
            }
            let start = m
                .start
                .as_deref()
                .map(|t| time_at(t, &format!("{field}.start")))
                .transpose()?;
            let end = m
                .end
                .as_deref()
                .map(|t| time_at(t, &format!("{field}.end")))
                .transpose()?;
            if let (Some(s), Some(e)) = (start, end)
                && e < s
            {
                return Err(rerr(
                    format!("{field}.end"),
                    format!("{} is before the start {}", e.date(), s.date()),
                ));
            }
            rec.medications.push(MedicationEntry {
                drugs,
                text: m.name.clone(),
                start,
                end,
                active: end.is_none(),
                source_ref: field,
            });
        }
        Ok(rec)
    }
}

/// An input that could not be read, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    /// The field (a JSON path for FHIR, a record field otherwise), or `$` for the whole input.
    pub field: String,
    /// What is wrong, naming the value.
    pub message: String,
}

/// Reads a JSON input that is either a FHIR R4 resource (a Bundle) or leuko's own record.
///
/// # Errors
/// An [`InputError`] naming the field and the value.
pub fn read_input(
    kb: &Knowledge,
    bytes: &[u8],
    as_of: OffsetDateTime,
) -> Result<(Record, Option<RecordJson>), InputError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| InputError {
        field: "$".to_owned(),
        message: format!(
            "not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ),
    })?;
    if leuko_fhir::is_fhir(&value) {
        let rec = leuko_fhir::read_bundle(kb, &value).map_err(|e| InputError {
            field: e.path,
            message: e.message,
        })?;
        Ok((rec, None))
    } else {
        let json: RecordJson = serde_json::from_value(value).map_err(|e| InputError {
            field: "$".to_owned(),
            message: format!("leuko record: {e}"),
        })?;
        let rec = json.to_record(kb, as_of).map_err(|e| InputError {
            field: e.field,
            message: e.message,
        })?;
        Ok((rec, Some(json)))
    }
}
