//! FHIR R4 JSON in: a Bundle (collection, searchset, transaction, batch or document) holding
//! Patient, Observation (laboratory results and vital signs), Condition, MedicationStatement and
//! MedicationRequest, read into a [`leuko_core::Record`].
//!
//! Codes are matched through the knowledge base: LOINC for observations, SNOMED CT (then
//! ICD-10-CM, then the text) for conditions, RxNorm (then the text) for medicines, so
//! uncoded carbimazole or metamizole are still recognised. Resources leuko does not use are
//! skipped; a resource it uses but cannot read is an error naming the JSON path and the value,
//! never a silent guess. Reading is lenient about what is absent and strict about what is wrong.
//!
//! Any Bundle type is read (`collection`, `searchset` with its `search` modes and included or
//! outcome resources, `transaction` with `request` entries; an entry without a resource, such
//! as a DELETE, is skipped). Every LOINC code the knowledge base lists for an analyte counts as
//! that analyte (751-8, 26499-4 and 753-4 are all the ANC).
//!
//! Primitive extensions (`"_effectiveDateTime": {"extension": [...]}`, `"_value"` inside a
//! Quantity, `"_birthDate"`) are accepted beside their values. A primitive present only as its
//! `_x` sibling — typically with a [`DATA_ABSENT_REASON`] extension — and an Observation with
//! `dataAbsentReason` are **unknown**, neither absent nor zero: a result whose value or time is
//! unknown is not used, an unknown birth date leaves the age unknown, and each is reported in
//! the record's notes with the field and the reason.
//!
//! **Read → write keeps unknown members and decimal text.** [`model`] holds the FHIR subset
//! leuko reads and writes (Bundle and its entries, Patient, Observation with Quantity,
//! RiskAssessment, ServiceRequest and their data types) as types that derive both `Serialize`
//! and `Deserialize`: a [`model::Decimal`] keeps a number's exact text (`0.10`, `1.230`, `1e-3`),
//! and a [`model::Open`] keeps every member its type does not know, in order, as raw JSON text
//! (so decimals inside unknown members and extensions survive too); any other resource type is
//! kept whole. [`model::Resource::from_json`] then [`model::Resource::to_json`] gives back
//! compact input byte for byte. The writer ([`write`]) builds its bundle from the same types.
//! The reader below extracts the engine's [`Record`] from a `serde_json::Value`, leniently
//! and with paths in its errors; numbers reach the engine as `f64` either way.

use leuko_core::units::{self, ValueError};
use leuko_core::{
    Comparator, ConditionEntry, ConditionStatus, InputNote, MedicationEntry, Observation, Patient,
    Record, RefRange, Sex,
};
use leuko_kb::Knowledge;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// A field that could not be read, with its JSON path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FhirError {
    /// JSON path, such as `entry[3].resource.valueQuantity.value`.
    pub path: String,
    /// What is wrong, naming the value.
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> FhirError {
    FhirError {
        path: path.into(),
        message: message.into(),
    }
}

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
const UCUM: &str = "http://unitsofmeasure.org";

/// Parses bytes as a FHIR R4 Bundle and reads it.
///
/// # Errors
/// A [`FhirError`] naming the path and value of the first field that cannot be read.
pub fn read_bundle_bytes(kb: &Knowledge, bytes: &[u8]) -> Result<Record, FhirError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        err(
            "$",
            format!(
                "not valid JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    read_bundle(kb, &value)
}

/// Whether a JSON document looks like FHIR (has a `resourceType`).
pub fn is_fhir(value: &Value) -> bool {
    value.get("resourceType").is_some()
}

/// Reads a parsed FHIR Bundle (or a single supported resource).
///
/// # Errors
/// A [`FhirError`] naming the path and value of the first field that cannot be read.
pub fn read_bundle(kb: &Knowledge, value: &Value) -> Result<Record, FhirError> {
    let rt = value
        .get("resourceType")
        .and_then(Value::as_str)
        .ok_or_else(|| err("resourceType", "missing: expected \"Bundle\""))?;
    let mut reader = Reader {
        kb,
        record: Record::default(),
        patient_seen: None,
    };
    if rt == "Bundle" {
        let entries = match value.get("entry") {
            None => &[][..],
            Some(Value::Array(a)) => a.as_slice(),
            Some(other) => {
                return Err(err(
                    "entry",
                    format!("expected an array, found {}", kind(other)),
                ));
            }
        };
        for (i, entry) in entries.iter().enumerate() {
            let path = format!("entry[{i}].resource");
            let Some(resource) = entry.get("resource") else {
                continue;
            };
            // In a transaction, a DELETE carries no resource; anything else is read.
            reader.resource(resource, &path)?;
        }
    } else {
        reader.resource(value, "$")?;
    }
    Ok(reader.record)
}

struct Reader<'k> {
    kb: &'k Knowledge,
    record: Record,
    patient_seen: Option<String>,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn str_at<'v>(v: &'v Value, key: &str, path: &str) -> Result<Option<&'v str>, FhirError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(err(
            format!("{path}.{key}"),
            format!("expected a string, found {}", kind(other)),
        )),
    }
}

/// `(system, code, display)` of each coding, and the text.
fn codings(cc: &Value) -> (Vec<(&str, &str, &str)>, Option<&str>) {
    let list = cc
        .get("coding")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c.get("system").and_then(Value::as_str).unwrap_or(""),
                        c.get("code").and_then(Value::as_str).unwrap_or(""),
                        c.get("display").and_then(Value::as_str).unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (list, cc.get("text").and_then(Value::as_str))
}

/// Parses a FHIR date or dateTime. A date without time is read as midnight UTC; a partial
/// date (year, or year and month) as its first day, and `partial` says so.
pub fn parse_datetime(text: &str) -> Option<(OffsetDateTime, bool)> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some((t, false));
    }
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| {
        text.get(r)
            .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|s| s.parse::<u32>().ok())
    };
    let (year, month, day, partial) = match b.len() {
        4 => (num(0..4)?, 1, 1, true),
        7 if b.get(4) == Some(&b'-') => (num(0..4)?, num(5..7)?, 1, true),
        10 if b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-') => {
            (num(0..4)?, num(5..7)?, num(8..10)?, false)
        }
        _ => {
            // A dateTime without a zone is not valid FHIR; read it as UTC only if it is
            // otherwise well formed, and let the caller note it.
            let fmt =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            let p = PrimitiveDateTime::parse(text.get(..19)?, &fmt).ok()?;
            return Some((p.assume_utc(), true));
        }
    };
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    Some((
        PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc(),
        partial,
    ))
}

fn datetime_at(
    v: &Value,
    key: &str,
    path: &str,
    notes: &mut Vec<InputNote>,
) -> Result<Option<OffsetDateTime>, FhirError> {
    let Some(text) = str_at(v, key, path)? else {
        return Ok(None);
    };
    let (t, partial) = parse_datetime(text).ok_or_else(|| {
        err(
            format!("{path}.{key}"),
            format!("{text:?} is not a FHIR date or dateTime"),
        )
    })?;
    if partial {
        notes.push(InputNote {
            field: format!("{path}.{key}"),
            message: format!("{text:?} is imprecise; read as {}", t.date()),
        });
    }
    Ok(Some(t))
}

/// The url of FHIR's data-absent-reason extension.
pub const DATA_ABSENT_REASON: &str = "http://hl7.org/fhir/StructureDefinition/data-absent-reason";

/// Why a primitive element has no value when it is present only through its `_key` sibling
/// (FHIR JSON carries a primitive's `id` and `extension` in `"_key": {...}`): the
/// data-absent-reason code when the sibling carries one (`"masked"`, `"unknown"`, …), or the
/// words "no value given" for a sibling with other extensions only. `None` when the primitive
/// has a value or no sibling at all. A sibling that is not an object is an error.
fn absent_primitive(v: &Value, key: &str, path: &str) -> Result<Option<String>, FhirError> {
    if v.get(key).is_some_and(|x| !x.is_null()) {
        return Ok(None);
    }
    let sibling_key = format!("_{key}");
    let Some(sibling) = v.get(&sibling_key) else {
        return Ok(None);
    };
    let spath = format!("{path}.{sibling_key}");
    let Value::Object(element) = sibling else {
        if sibling.is_null() {
            return Ok(None);
        }
        return Err(err(
            spath,
            format!(
                "expected an object holding the primitive's id and extensions, found {}",
                kind(sibling)
            ),
        ));
    };
    let extensions = match element.get("extension") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(other) => {
            return Err(err(
                format!("{spath}.extension"),
                format!("expected an array, found {}", kind(other)),
            ));
        }
    };
    let reason = extensions.iter().find_map(|e| {
        (e.get("url").and_then(Value::as_str) == Some(DATA_ABSENT_REASON)).then(|| {
            e.get("valueCode")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
        })
    });
    Ok(Some(reason.map_or_else(
        || "no value given".to_owned(),
        |r| format!("data-absent-reason {r:?}"),
    )))
}

/// The reason an element is absent, from `dataAbsentReason` (a CodeableConcept), for notes.
fn data_absent_reason(r: &Value) -> Option<String> {
    let cc = r.get("dataAbsentReason")?;
    let (codes, text) = codings(cc);
    let code = codes
        .iter()
        .map(|(_, c, _)| *c)
        .find(|c| !c.is_empty())
        .or(text)
        .unwrap_or("unknown");
    Some(format!("dataAbsentReason {code:?}"))
}

impl Reader<'_> {
    fn resource(&mut self, r: &Value, path: &str) -> Result<(), FhirError> {
        match r.get("resourceType").and_then(Value::as_str) {
            Some("Patient") => self.patient(r, path),
            Some("Observation") => self.observation(r, path),
            Some("Condition") => self.condition(r, path),
            Some("MedicationStatement" | "MedicationRequest" | "MedicationAdministration") => {
                self.medication(r, path)
            }
            Some(_) => Ok(()),
            None => Err(err(format!("{path}.resourceType"), "missing")),
        }
    }

    fn patient(&mut self, r: &Value, path: &str) -> Result<(), FhirError> {
        let id = str_at(r, "id", path)?.unwrap_or("").to_owned();
        if let Some(prev) = &self.patient_seen
            && *prev != id
        {
            return Err(err(
                path,
                "the bundle holds more than one Patient; leuko assesses one person at a time",
            ));
        }
        self.patient_seen = Some(id);
        let birth = match str_at(r, "birthDate", path)? {
            Some(text) => {
                let (t, partial) = parse_datetime(text).ok_or_else(|| {
                    err(
                        format!("{path}.birthDate"),
                        format!("{text:?} is not a FHIR date"),
                    )
                })?;
                if partial {
                    self.record.notes.push(InputNote {
                        field: format!("{path}.birthDate"),
                        message: format!(
                            "{text:?} gives only part of the date; age is approximate"
                        ),
                    });
                }
                Some(t.date())
            }
            None => {
                if let Some(reason) = absent_primitive(r, "birthDate", path)? {
                    self.record.notes.push(InputNote {
                        field: format!("{path}._birthDate"),
                        message: format!("the birth date is unknown ({reason}); age is unknown"),
                    });
                }
                None
            }
        };
        if let Some(reason) = absent_primitive(r, "gender", path)? {
            self.record.notes.push(InputNote {
                field: format!("{path}._gender"),
                message: format!("sex is unknown ({reason})"),
            });
        }
        let sex = match str_at(r, "gender", path)? {
            Some("female") => Sex::Female,
            Some("male") => Sex::Male,
            Some("other") => Sex::Other,
            Some("unknown") | None => Sex::Unknown,
            Some(other) => {
                return Err(err(
                    format!("{path}.gender"),
                    format!("{other:?} is not one of female, male, other, unknown"),
                ));
            }
        };
        self.record.patient = Patient {
            birth_date: birth,
            sex,
        };
        Ok(())
    }

    fn observation(&mut self, r: &Value, path: &str) -> Result<(), FhirError> {
        if matches!(
            str_at(r, "status", path)?,
            Some("entered-in-error" | "cancelled")
        ) {
            return Ok(());
        }
        let Some(code) = r.get("code") else {
            return Err(err(format!("{path}.code"), "missing"));
        };
        let (codes, text) = codings(code);
        let by_code = codes
            .iter()
            .filter(|(s, _, _)| *s == LOINC || s.is_empty())
            .find_map(|(_, c, _)| self.kb.analyte_by_loinc(c));
        let by_text = || {
            let names = text.into_iter().chain(codes.iter().map(|(_, _, d)| *d));
            names.into_iter().find_map(|n| analyte_by_text(self.kb, n))
        };
        let Some(analyte) = by_code.or_else(by_text) else {
            return Ok(()); // Not an analyte leuko uses.
        };
        let at = match datetime_at(r, "effectiveDateTime", path, &mut self.record.notes)? {
            Some(t) => t,
            None => {
                let found = match r.get("effectivePeriod") {
                    Some(p) => datetime_at(
                        p,
                        "start",
                        &format!("{path}.effectivePeriod"),
                        &mut self.record.notes,
                    )?,
                    None => None,
                }
                .or(datetime_at(
                    r,
                    "effectiveInstant",
                    path,
                    &mut self.record.notes,
                )?)
                .or(datetime_at(r, "issued", path, &mut self.record.notes)?);
                match found {
                    Some(t) => t,
                    None => {
                        // A time given only as `_effectiveDateTime` (or `_effectiveInstant`,
                        // `_issued`) with its reason is unknown, not wrong: the result cannot
                        // be placed in time, so it is not used, and the notes say so.
                        let mut reason = None;
                        for key in ["effectiveDateTime", "effectiveInstant", "issued"] {
                            if let Some(why) = absent_primitive(r, key, path)? {
                                reason = Some((key, why));
                                break;
                            }
                        }
                        let Some((key, why)) = reason else {
                            return Err(err(
                                format!("{path}.effectiveDateTime"),
                                format!("missing: a {} result needs its time", analyte.name),
                            ));
                        };
                        self.record.notes.push(InputNote {
                            field: format!("{path}._{key}"),
                            message: format!(
                                "the time of this {} result is unknown ({why}); the result was not used",
                                analyte.name
                            ),
                        });
                        return Ok(());
                    }
                }
            }
        };
        let Some((value, comparator, reported, unit_text)) = self.value(r, path, analyte)? else {
            return Ok(()); // Unknown value: noted by `value`.
        };
        let reference_range = self.reference_range(r, path, analyte, &unit_text)?;
        let id = str_at(r, "id", path)?.unwrap_or("");
        self.record.observations.push(Observation {
            analyte: analyte.id,
            at,
            value,
            comparator,
            reported,
            reference_range,
            derived: false,
            source_ref: if id.is_empty() {
                path.to_owned()
            } else {
                format!("Observation/{id}")
            },
        });
        Ok(())
    }

    #[allow(
        clippy::type_complexity,
        reason = "a private helper returning the parts of a value"
    )]
    fn value(
        &mut self,
        r: &Value,
        path: &str,
        analyte: &leuko_kb::Analyte,
    ) -> Result<Option<(f64, Comparator, Option<(f64, String)>, String)>, FhirError> {
        if let Some(q) = r.get("valueQuantity") {
            let qpath = format!("{path}.valueQuantity");
            if let Some(reason) = absent_primitive(q, "value", &qpath)? {
                self.note_unknown_value(analyte, &format!("{qpath}._value"), &reason);
                return Ok(None);
            }
            let number = match q.get("value") {
                Some(Value::Number(n)) => n.as_f64().ok_or_else(|| {
                    err(
                        format!("{qpath}.value"),
                        format!("{n} is not a finite number"),
                    )
                })?,
                Some(Value::String(s)) => {
                    units::parse_text_quantity(s)
                        .map_err(|e| err(format!("{qpath}.value"), e.to_string()))?
                        .value
                }
                Some(other) => {
                    return Err(err(
                        format!("{qpath}.value"),
                        format!("expected a number, found {}", kind(other)),
                    ));
                }
                None => {
                    return Err(err(
                        format!("{qpath}.value"),
                        format!("missing: the {} result has no value", analyte.name),
                    ));
                }
            };
            let comparator = match str_at(q, "comparator", &qpath)? {
                None => Comparator::Equal,
                Some("<") => Comparator::Less,
                Some("<=") => Comparator::LessOrEqual,
                Some(">") => Comparator::Greater,
                Some(">=") => Comparator::GreaterOrEqual,
                Some(other) => {
                    return Err(err(
                        format!("{qpath}.comparator"),
                        format!("{other:?} is not a FHIR comparator"),
                    ));
                }
            };
            let ucum_code = if str_at(q, "system", &qpath)?.is_none_or(|s| s == UCUM) {
                str_at(q, "code", &qpath)?
            } else {
                None
            };
            let unit_text = str_at(q, "unit", &qpath)?;
            let candidates: Vec<&str> = ucum_code.into_iter().chain(unit_text).collect();
            let mut last_err = None;
            for unit in candidates
                .iter()
                .copied()
                .chain(candidates.is_empty().then_some(""))
            {
                match units::to_canonical(self.kb, analyte, number, unit) {
                    Ok(v) => {
                        self.note_unit_without_volume(analyte, unit, &qpath);
                        let canonical = units::canonical_unit(analyte.dimension);
                        let reported = units::find_unit(self.kb, analyte.dimension, unit)
                            .filter(|u| u.ucum != canonical)
                            .map(|u| (number, u.ucum.clone()));
                        return Ok(Some((v, comparator, reported, unit.to_owned())));
                    }
                    Err(e @ ValueError::Implausible { .. }) => {
                        return Err(err(format!("{qpath}.value"), e.to_string()));
                    }
                    Err(e) => last_err = Some(e),
                }
            }
            let field = if ucum_code.is_some() { "code" } else { "unit" };
            return Err(err(
                format!("{qpath}.{field}"),
                last_err.map_or_else(
                    || format!("missing: the {} result has no unit", analyte.name),
                    |e| e.to_string(),
                ),
            ));
        }
        if let Some(s) = r.get("valueString").and_then(Value::as_str) {
            let q = units::parse_text_quantity(s)
                .map_err(|e| err(format!("{path}.valueString"), e.to_string()))?;
            let v = units::to_canonical(self.kb, analyte, q.value, &q.unit)
                .map_err(|e| err(format!("{path}.valueString"), e.to_string()))?;
            self.note_unit_without_volume(analyte, &q.unit, &format!("{path}.valueString"));
            return Ok(Some((v, q.comparator, None, q.unit)));
        }
        for key in ["valueString", "valueInteger"] {
            if let Some(reason) = absent_primitive(r, key, path)? {
                self.note_unknown_value(analyte, &format!("{path}._{key}"), &reason);
                return Ok(None);
            }
        }
        if let Some(reason) = data_absent_reason(r) {
            self.note_unknown_value(analyte, &format!("{path}.dataAbsentReason"), &reason);
            return Ok(None);
        }
        Err(err(
            format!("{path}.valueQuantity"),
            format!("missing: the {} result has no value", analyte.name),
        ))
    }

    /// A result whose value is unknown is not used, and the notes say why: unknown is neither
    /// absent nor zero.
    fn note_unknown_value(&mut self, analyte: &leuko_kb::Analyte, field: &str, reason: &str) {
        self.record.notes.push(InputNote {
            field: field.to_owned(),
            message: format!(
                "the value of this {} result is unknown ({reason}); the result was not used",
                analyte.name
            ),
        });
    }

    fn note_unit_without_volume(&mut self, analyte: &leuko_kb::Analyte, unit: &str, path: &str) {
        if analyte.dimension == leuko_kb::Dimension::Count
            && !units::normalize(unit).contains('/')
            && !unit.trim().is_empty()
        {
            self.record.notes.push(InputNote {
                field: path.to_owned(),
                message: format!("unit {unit:?} names no volume; read as x10^9 per litre"),
            });
        }
    }

    fn reference_range(
        &self,
        r: &Value,
        path: &str,
        analyte: &leuko_kb::Analyte,
        value_unit: &str,
    ) -> Result<Option<RefRange>, FhirError> {
        let Some(first) = r
            .get("referenceRange")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        else {
            return Ok(None);
        };
        let rpath = format!("{path}.referenceRange[0]");
        let read = |key: &str| -> Result<Option<f64>, FhirError> {
            let Some(q) = first.get(key) else {
                return Ok(None);
            };
            let Some(v) = q.get("value").and_then(Value::as_f64) else {
                return Ok(None);
            };
            let unit = q
                .get("code")
                .and_then(Value::as_str)
                .or(q.get("unit").and_then(Value::as_str))
                .unwrap_or(value_unit);
            units::to_canonical(self.kb, analyte, v, unit)
                .map(Some)
                .map_err(|e| err(format!("{rpath}.{key}"), e.to_string()))
        };
        let low = read("low")?;
        let high = read("high")?;
        Ok((low.is_some() || high.is_some()).then_some(RefRange { low, high }))
    }

    fn condition(&mut self, r: &Value, path: &str) -> Result<(), FhirError> {
        let Some(code) = r.get("code") else {
            return Ok(());
        };
        let (codes, text) = codings(code);
        let kb = self.kb;
        let concept = codes
            .iter()
            .find_map(|(s, c, _)| match *s {
                SNOMED => kb.concept_by_snomed(c),
                s if s.contains("icd-10") || s.contains("icd10") => kb.concept_by_icd10(c),
                _ => None,
            })
            .or_else(|| text.and_then(|t| kb.concept_by_text(t)))
            .or_else(|| codes.iter().find_map(|(_, _, d)| kb.concept_by_text(d)));
        let label = text
            .or_else(|| codes.first().map(|(_, _, d)| *d))
            .unwrap_or("")
            .to_owned();
        let status_of = |key: &str| {
            r.get(key).map(codings).and_then(|(c, t)| {
                c.first()
                    .map(|(_, code, _)| (*code).to_owned())
                    .or(t.map(str::to_owned))
            })
        };
        let verification = status_of("verificationStatus");
        if matches!(verification.as_deref(), Some("entered-in-error")) {
            return Ok(());
        }
        let status = if matches!(verification.as_deref(), Some("refuted")) {
            ConditionStatus::Absent
        } else {
            match status_of("clinicalStatus").as_deref() {
                Some("inactive" | "remission" | "resolved") => ConditionStatus::Resolved,
                _ => ConditionStatus::Active,
            }
        };
        let onset = match datetime_at(r, "onsetDateTime", path, &mut self.record.notes)? {
            Some(t) => Some(t),
            None => match r.get("onsetPeriod") {
                Some(p) => datetime_at(
                    p,
                    "start",
                    &format!("{path}.onsetPeriod"),
                    &mut self.record.notes,
                )?,
                None => None,
            },
        };
        let abatement = datetime_at(r, "abatementDateTime", path, &mut self.record.notes)?;
        if concept.is_none() {
            self.record.notes.push(InputNote {
                field: format!("{path}.code"),
                message: format!(
                    "condition {label:?} is not one leuko recognises; it was not used"
                ),
            });
        }
        let id = str_at(r, "id", path)?.unwrap_or("");
        self.record.conditions.push(ConditionEntry {
            concept: concept.map(|c| c.id.clone()),
            text: if label.is_empty() {
                concept.map(|c| c.name.clone()).unwrap_or_default()
            } else {
                label
            },
            status,
            onset,
            abatement,
            source_ref: if id.is_empty() {
                path.to_owned()
            } else {
                format!("Condition/{id}")
            },
        });
        Ok(())
    }

    fn medication(&mut self, r: &Value, path: &str) -> Result<(), FhirError> {
        let status = str_at(r, "status", path)?.unwrap_or("active");
        if matches!(
            status,
            "entered-in-error" | "not-taken" | "cancelled" | "draft"
        ) {
            return Ok(());
        }
        let kb = self.kb;
        let Some(cc) = r.get("medicationCodeableConcept") else {
            if r.get("medicationReference").is_some() {
                self.record.notes.push(InputNote {
                    field: format!("{path}.medicationReference"),
                    message:
                        "a referenced Medication is not resolved; give medicationCodeableConcept"
                            .to_owned(),
                });
            }
            return Ok(());
        };
        let (codes, text) = codings(cc);
        let mut drugs: Vec<String> = codes
            .iter()
            .filter(|(s, _, _)| *s == RXNORM)
            .filter_map(|(_, c, _)| kb.drug_by_rxnorm(c))
            .map(|d| d.id.clone())
            .collect();
        if drugs.is_empty() {
            for name in text.into_iter().chain(codes.iter().map(|(_, _, d)| *d)) {
                drugs.extend(kb.drugs_in_text(name).into_iter().map(|d| d.id.clone()));
                if !drugs.is_empty() {
                    break;
                }
            }
        }
        drugs.dedup();
        let label = text
            .or_else(|| codes.first().map(|(_, _, d)| *d))
            .unwrap_or("")
            .to_owned();
        let mut notes = Vec::new();
        let (start, end) = if let Some(p) = r.get("effectivePeriod") {
            let pp = format!("{path}.effectivePeriod");
            (
                datetime_at(p, "start", &pp, &mut notes)?,
                datetime_at(p, "end", &pp, &mut notes)?,
            )
        } else if let Some(t) = datetime_at(r, "effectiveDateTime", path, &mut notes)? {
            (Some(t), Some(t))
        } else if let Some(t) = datetime_at(r, "authoredOn", path, &mut notes)? {
            let end = match r
                .get("dispenseRequest")
                .and_then(|d| d.get("validityPeriod"))
            {
                Some(v) => datetime_at(
                    v,
                    "end",
                    &format!("{path}.dispenseRequest.validityPeriod"),
                    &mut notes,
                )?,
                None => None,
            };
            (Some(t), end)
        } else {
            (None, None)
        };
        self.record.notes.extend(notes);
        if let (Some(s), Some(e)) = (start, end)
            && e < s
        {
            return Err(err(
                format!("{path}.effectivePeriod.end"),
                format!("{} is before the start {}", e.date(), s.date()),
            ));
        }
        if drugs.is_empty() {
            self.record.notes.push(InputNote {
                field: format!("{path}.medicationCodeableConcept"),
                message: format!(
                    "medicine {label:?} is not in leuko's drug list; it was recorded but not judged"
                ),
            });
        }
        let active = match status {
            "completed" | "stopped" | "inactive" | "ended" => false,
            _ => end.is_none(),
        };
        let id = str_at(r, "id", path)?.unwrap_or("");
        self.record.medications.push(MedicationEntry {
            drugs,
            text: label,
            start,
            end,
            active,
            source_ref: if id.is_empty() {
                path.to_owned()
            } else {
                format!(
                    "{}/{id}",
                    r.get("resourceType").and_then(Value::as_str).unwrap_or("")
                )
            },
        });
        Ok(())
    }
}

/// An analyte named in text, by its name or a synonym as whole words (longest first); see
/// [`Knowledge::analyte_by_text`].
pub fn analyte_by_text<'k>(kb: &'k Knowledge, text: &str) -> Option<&'k leuko_kb::Analyte> {
    kb.analyte_by_text(text)
}

pub mod model;
pub mod write;

#[cfg(test)]
mod tests;
