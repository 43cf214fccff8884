//! ORU^R01 into leuko observations.
//!
//! * PID: patient id PID-3.1 (first repetition), birth date PID-7, sex PID-8.
//! * OBR-7 is the observation time of the OBX segments that follow it, unless OBX-14 is set.
//! * OBX-3 is read as LOINC when OBX-3.3 (or the alternate OBX-3.6 for OBX-3.4) is `LN` or
//!   `LOINC`; otherwise through the caller's [`LocalCodes`]; otherwise by the text OBX-3.2.
//!   A code that names no analyte leuko uses is skipped with a note.
//! * OBX-2 `NM` is a number, `SN` a structured numeric (`<^0.5`), `ST`/`TX`/`FT` free text
//!   such as `<0.5` or `4x10^9/L`; other types are skipped with a note.
//! * OBX-6 is the unit (`10*9/L`, `x10\S\9/L`, `K/uL`); OBX-7 the range (`1.5-7.0`, `<0.5`,
//!   `>2`), converted like the value, or kept out with a note when unreadable; OBX-8 the flags.
//! * OBX-11: `F` final and `C` corrected are read (within a message, a later final or corrected
//!   result with the same OBX-3 and time supersedes the earlier one; a correction arriving in a
//!   later message keeps [`ResultStatus::Corrected`], and the store makes it supersede the
//!   stored result: `leuko_store::NewEntry::corrects`), `P` preliminary is kept and marked,
//!   `X`/`W` are ignored, `D` deletes an earlier result with the same OBX-3 and time.
//! * Times are HL7 TS; a time without a zone is read as UTC and noted.
//! * Values are converted to canonical units; an implausible value is an error at OBX-5.

use std::collections::HashMap;

use leuko_core::units::{self, ValueError};
use leuko_core::{Comparator, InputNote, Observation, Patient, Record, RefRange, Sex};
use leuko_kb::{Analyte, AnalyteId, Knowledge};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::error::{ErrorKind, Hl7Error, Location};
use crate::parse::{Message, Segment};

/// A site's local observation codes (OBX-3.1 when OBX-3.3 is not LOINC), e.g. `WCC`.
pub type LocalCodes = HashMap<String, AnalyteId>;

/// OBX-11 as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStatus {
    /// `F`, or empty (read as final, with a note).
    Final,
    /// `C`.
    Corrected,
    /// `P`.
    Preliminary,
}

/// One result read from an OBX segment.
#[derive(Debug, Clone, PartialEq)]
pub struct OruObservation {
    /// Stable id for idempotent storage: `{MSH-10}-{OBX-1}` (OBX position when OBX-1 is
    /// empty).
    pub id: String,
    /// What a later correction of the same result shares: `{OBX-3.1}^{OBX-3.3}@{time}`.
    pub supersede_key: String,
    /// OBX-11.
    pub status: ResultStatus,
    /// OBX-8 flags as given (`L`, `LL`, `H`, `A`…).
    pub flags: Vec<String>,
    /// The observation in canonical units.
    pub observation: Observation,
}

/// What an ORU^R01 held.
#[derive(Debug, Clone, PartialEq)]
pub struct OruResult {
    /// MSH-10.
    pub control_id: String,
    /// PID-3.1, when given.
    pub patient_id: Option<String>,
    /// Birth date and sex.
    pub patient: Patient,
    /// The results, in message order, after corrections and deletions.
    pub observations: Vec<OruObservation>,
    /// Skipped codes, assumptions made, ranges not read.
    pub notes: Vec<InputNote>,
}

impl OruResult {
    /// The results as a leuko record.
    pub fn to_record(&self) -> Record {
        Record {
            patient: self.patient.clone(),
            observations: self
                .observations
                .iter()
                .map(|o| o.observation.clone())
                .collect(),
            notes: self.notes.clone(),
            ..Record::default()
        }
    }
}

fn err(
    kind: ErrorKind,
    seg: &str,
    seq: usize,
    field: usize,
    comp: Option<usize>,
    value: &str,
    message: impl Into<String>,
) -> Hl7Error {
    Hl7Error::new(kind, Location::new(seg, seq, field, comp), value, message)
}

/// Reads an ORU^R01 message.
///
/// # Errors
/// An [`Hl7Error`] naming the field: wrong message type, unreadable time, value, unit or
/// birth date, or an implausible value (at OBX-5).
pub fn oru_to_record(
    kb: &Knowledge,
    message: &Message,
    local: &LocalCodes,
) -> Result<OruResult, Hl7Error> {
    let msh = message.msh();
    let (t, e) = (
        msh.map_or("", |m| m.get(9, 1)),
        msh.map_or("", |m| m.get(9, 2)),
    );
    if t != "ORU" || e != "R01" {
        return Err(err(
            ErrorKind::UnsupportedMessageType,
            "MSH",
            1,
            9,
            None,
            &message.message_type(),
            "only ORU^R01 is read",
        ));
    }
    let control_id = message.control_id().to_owned();
    if control_id.is_empty() {
        return Err(err(
            ErrorKind::RequiredFieldMissing,
            "MSH",
            1,
            10,
            None,
            "",
            "MSH-10 (message control id) is required",
        ));
    }
    let mut out = OruResult {
        control_id,
        patient_id: None,
        patient: Patient::default(),
        observations: Vec::new(),
        notes: Vec::new(),
    };
    let mut obr_time: Option<OffsetDateTime> = None;
    let (mut obr_n, mut obx_n, mut pid_n) = (0usize, 0usize, 0usize);
    for seg in &message.segments {
        match seg.id.as_str() {
            "PID" => {
                pid_n += 1;
                if pid_n == 1 {
                    read_pid(seg, &mut out)?;
                }
            }
            "OBR" => {
                obr_n += 1;
                let ts = seg.get(7, 1);
                obr_time = if ts.is_empty() {
                    None
                } else {
                    let loc = Location::new("OBR", obr_n, 7, Some(1));
                    Some(read_ts(ts, &loc, &mut out.notes)?)
                };
            }
            "OBX" => {
                obx_n += 1;
                read_obx(kb, local, seg, obx_n, obr_time, &mut out)?;
            }
            _ => {} // MSH, SFT, PV1, ORC, NTE, SPM, Z-segments: not read.
        }
    }
    Ok(out)
}

fn read_pid(seg: &Segment, out: &mut OruResult) -> Result<(), Hl7Error> {
    let id = seg.get(3, 1).trim();
    if !id.is_empty() {
        out.patient_id = Some(id.to_owned());
    }
    let dob = seg.get(7, 1).trim();
    if !dob.is_empty() {
        let bad = || {
            err(
                ErrorKind::DataType,
                "PID",
                1,
                7,
                Some(1),
                dob,
                "the birth date is not an HL7 date (YYYYMMDD)",
            )
        };
        if dob.len() < 8 {
            out.notes.push(InputNote {
                field: "PID-7".into(),
                message: "the birth date is not given to the day and was not used".into(),
            });
        } else {
            let y = num(dob, 0, 4).ok_or_else(bad)?;
            let m = num(dob, 4, 6).ok_or_else(bad)?;
            let d = num(dob, 6, 8).ok_or_else(bad)?;
            let month = u8::try_from(m)
                .ok()
                .and_then(|m| Month::try_from(m).ok())
                .ok_or_else(bad)?;
            let date = i32::try_from(y)
                .ok()
                .zip(u8::try_from(d).ok())
                .and_then(|(y, d)| Date::from_calendar_date(y, month, d).ok())
                .ok_or_else(bad)?;
            out.patient.birth_date = Some(date);
        }
    }
    out.patient.sex = match seg.get(8, 1).trim().to_ascii_uppercase().as_str() {
        "F" => Sex::Female,
        "M" => Sex::Male,
        "O" | "A" | "X" => Sex::Other,
        _ => Sex::Unknown,
    };
    Ok(())
}

fn num(s: &str, from: usize, to: usize) -> Option<u32> {
    let part = s.get(from..to)?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// Reads an HL7 TS `YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]`. Returns the time and whether
/// a zone was given (a time without one is UTC).
///
/// # Errors
/// A message when the text is not a timestamp.
pub fn parse_ts(text: &str) -> Result<(OffsetDateTime, bool), String> {
    let t = text.trim();
    let (body, zone) = match t
        .char_indices()
        .skip(4)
        .find(|(_, c)| matches!(c, '+' | '-'))
    {
        Some((i, _)) => (t.get(..i).unwrap_or_default(), t.get(i..)),
        None => (t, None),
    };
    let (digits, fraction) = match body.split_once('.') {
        Some((d, f)) => (d, Some(f)),
        None => (body, None),
    };
    let bad = || format!("{t:?} is not an HL7 timestamp (YYYYMMDDHHMM[SS][+ZZZZ])");
    if !matches!(digits.len(), 4 | 6 | 8 | 10 | 12 | 14)
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let part = |from: usize, to: usize, default: u32| {
        if digits.len() >= to {
            num(digits, from, to)
        } else {
            Some(default)
        }
    };
    let year = part(0, 4, 0)
        .and_then(|y| i32::try_from(y).ok())
        .ok_or_else(bad)?;
    let month = part(4, 6, 1)
        .and_then(|m| u8::try_from(m).ok())
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let day = part(6, 8, 1)
        .and_then(|d| u8::try_from(d).ok())
        .ok_or_else(bad)?;
    let hour = part(8, 10, 0)
        .and_then(|d| u8::try_from(d).ok())
        .ok_or_else(bad)?;
    let minute = part(10, 12, 0)
        .and_then(|d| u8::try_from(d).ok())
        .ok_or_else(bad)?;
    let second = part(12, 14, 0)
        .and_then(|d| u8::try_from(d).ok())
        .ok_or_else(bad)?;
    let nanos = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            let mut padded = f.to_owned();
            while padded.len() < 9 {
                padded.push('0');
            }
            padded.parse::<u32>().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    let date = Date::from_calendar_date(year, month, day).map_err(|_| bad())?;
    let time = Time::from_hms_nano(hour, minute, second, nanos).map_err(|_| bad())?;
    let offset = match zone {
        None => UtcOffset::UTC,
        Some(z) => {
            let sign: i8 = if z.starts_with('-') { -1 } else { 1 };
            let zd = z.get(1..).unwrap_or_default();
            if zd.len() != 4 {
                return Err(bad());
            }
            let h = num(zd, 0, 2)
                .and_then(|h| i8::try_from(h).ok())
                .ok_or_else(bad)?;
            let m = num(zd, 2, 4)
                .and_then(|m| i8::try_from(m).ok())
                .ok_or_else(bad)?;
            UtcOffset::from_hms(sign * h, sign * m, 0).map_err(|_| bad())?
        }
    };
    Ok((
        PrimitiveDateTime::new(date, time).assume_offset(offset),
        zone.is_some(),
    ))
}

fn read_ts(
    text: &str,
    loc: &Location,
    notes: &mut Vec<InputNote>,
) -> Result<OffsetDateTime, Hl7Error> {
    let (at, zoned) =
        parse_ts(text).map_err(|m| Hl7Error::new(ErrorKind::DataType, loc.clone(), text, m))?;
    if !zoned {
        notes.push(InputNote {
            field: loc.to_string(),
            message: "the time has no time zone and was read as UTC".into(),
        });
    }
    Ok(at)
}

fn is_loinc_system(s: &str) -> bool {
    matches!(s.trim().to_ascii_uppercase().as_str(), "LN" | "LOINC")
}

fn find_analyte<'k>(kb: &'k Knowledge, local: &LocalCodes, seg: &Segment) -> Option<&'k Analyte> {
    let (code, text, system) = (seg.get(3, 1).trim(), seg.get(3, 2), seg.get(3, 3));
    let (alt_code, alt_text, alt_system) = (seg.get(3, 4).trim(), seg.get(3, 5), seg.get(3, 6));
    if is_loinc_system(system)
        && let Some(a) = kb.analyte_by_loinc(code)
    {
        return Some(a);
    }
    if is_loinc_system(alt_system)
        && let Some(a) = kb.analyte_by_loinc(alt_code)
    {
        return Some(a);
    }
    for c in [code, alt_code] {
        if let Some(a) = local.get(c).and_then(|&id| kb.analyte(id)) {
            return Some(a);
        }
    }
    [text, alt_text]
        .into_iter()
        .filter(|t| !t.trim().is_empty())
        .find_map(|t| kb.analyte_by_text(t))
}

fn note(out: &mut OruResult, n: usize, field: usize, message: impl Into<String>) {
    out.notes.push(InputNote {
        field: Location::new("OBX", n, field, None).to_string(),
        message: message.into(),
    });
}

fn sn_comparator(s: &str) -> Option<Comparator> {
    Some(match s.trim() {
        "" | "=" => Comparator::Equal,
        "<" => Comparator::Less,
        "<=" => Comparator::LessOrEqual,
        ">" => Comparator::Greater,
        ">=" => Comparator::GreaterOrEqual,
        _ => return None,
    })
}

fn read_obx(
    kb: &Knowledge,
    local: &LocalCodes,
    seg: &Segment,
    n: usize,
    obr_time: Option<OffsetDateTime>,
    out: &mut OruResult,
) -> Result<(), Hl7Error> {
    let status_text = seg.get(11, 1).trim().to_ascii_uppercase();
    let status = match status_text.as_str() {
        "F" => ResultStatus::Final,
        "" => {
            note(out, n, 11, "no result status; read as final");
            ResultStatus::Final
        }
        "C" => ResultStatus::Corrected,
        "P" => ResultStatus::Preliminary,
        "X" | "W" => return Ok(()), // cancelled, or wrong: nothing to read
        "D" => ResultStatus::Final, // handled below: removes the earlier result
        other => {
            note(out, n, 11, format!("result status {other:?} is not read"));
            return Ok(());
        }
    };
    let code_text = format!("{}^{}", seg.get(3, 1).trim(), seg.get(3, 3).trim());
    let Some(analyte) = find_analyte(kb, local, seg) else {
        let shown = [seg.get(3, 1), seg.get(3, 2), seg.get(3, 3)].join("^");
        note(
            out,
            n,
            3,
            format!(
                "code {shown:?} is not an analyte leuko reads (no LOINC, local-code or name match); skipped"
            ),
        );
        return Ok(());
    };
    let ts = seg.get(14, 1);
    let at = if ts.trim().is_empty() {
        obr_time.ok_or_else(|| {
            err(
                ErrorKind::RequiredFieldMissing,
                "OBX",
                n,
                14,
                None,
                "",
                "no observation time in OBX-14 or OBR-7",
            )
        })?
    } else {
        read_ts(ts, &Location::new("OBX", n, 14, Some(1)), &mut out.notes)?
    };
    let supersede_key = format!("{code_text}@{}", at.unix_timestamp_nanos());
    if status_text == "D" {
        let before = out.observations.len();
        out.observations
            .retain(|o| o.supersede_key != supersede_key);
        if out.observations.len() == before {
            note(out, n, 11, "deletion of a result not in this message");
        }
        return Ok(());
    }
    let set_id = seg.get(1, 1).trim();
    let id = if set_id.is_empty() {
        format!("{}-{n}", out.control_id)
    } else {
        format!("{}-{set_id}", out.control_id)
    };
    let value_type = seg.get(2, 1).trim().to_ascii_uppercase();
    let raw_value = seg.get(5, 1);
    if seg.field(5).is_none_or(|f| f.is_empty()) {
        note(out, n, 5, "empty value; skipped");
        return Ok(());
    }
    let loc5 = |comp| Location::new("OBX", n, 5, Some(comp));
    let data_err =
        |loc: Location, value: &str, m: String| Hl7Error::new(ErrorKind::DataType, loc, value, m);
    let mut unit = seg.get(6, 1).trim().to_owned();
    if unit.is_empty() {
        unit = seg.get(6, 2).trim().to_owned();
    }
    let (number, comparator) = match value_type.as_str() {
        "NM" => {
            let q = units::parse_text_quantity(raw_value)
                .map_err(|e| data_err(loc5(1), raw_value, e.to_string()))?;
            if !q.unit.is_empty() {
                return Err(data_err(
                    loc5(1),
                    raw_value,
                    "an NM value must be a number".into(),
                ));
            }
            (q.value, q.comparator)
        }
        "SN" => {
            let c = seg.get(5, 1);
            let cmp = sn_comparator(c).ok_or_else(|| {
                data_err(loc5(1), c, "not an SN comparator (=, <, >, <=, >=)".into())
            })?;
            let sep = seg.get(5, 3);
            if !sep.trim().is_empty() || !seg.get(5, 4).trim().is_empty() {
                return Err(data_err(
                    loc5(3),
                    sep,
                    "SN ranges and ratios are not read as a single value".into(),
                ));
            }
            let v = seg.get(5, 2).trim();
            let number: f64 = v
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .ok_or_else(|| data_err(loc5(2), v, format!("{v:?} is not a number")))?;
            (number, cmp)
        }
        "ST" | "TX" | "FT" | "" => {
            let q = units::parse_text_quantity(raw_value)
                .map_err(|e| data_err(loc5(1), raw_value, e.to_string()))?;
            if !q.unit.is_empty() {
                unit = q.unit;
            }
            (q.value, q.comparator)
        }
        other => {
            note(
                out,
                n,
                2,
                format!("value type {other:?} is not read; skipped"),
            );
            return Ok(());
        }
    };
    let value = match units::to_canonical(kb, analyte, number, &unit) {
        Ok(v) => v,
        Err(e @ ValueError::Implausible { .. }) => {
            return Err(data_err(loc5(1), raw_value, e.to_string()));
        }
        Err(e) => {
            return Err(data_err(
                Location::new("OBX", n, 6, Some(1)),
                &unit,
                e.to_string(),
            ));
        }
    };
    let canonical = units::canonical_unit(analyte.dimension);
    let reported = units::find_unit(kb, analyte.dimension, &unit)
        .filter(|u| u.ucum != canonical)
        .map(|u| (number, u.ucum.clone()));
    let reference_range = read_range(kb, analyte, seg.get(7, 1), &unit, n, out);
    let flags = seg
        .repetitions(8)
        .iter()
        .map(|r| r.component(1).trim().to_owned())
        .filter(|f| !f.is_empty())
        .collect();
    if status == ResultStatus::Preliminary {
        note(out, n, 11, "preliminary result");
    }
    let obs = OruObservation {
        id,
        supersede_key,
        status,
        flags,
        observation: Observation {
            analyte: analyte.id,
            at,
            value,
            comparator,
            reported,
            reference_range,
            derived: false,
            source_ref: format!("HL7 {} OBX-{n}", out.control_id),
        },
    };
    let earlier = out
        .observations
        .iter()
        .position(|o| o.supersede_key == obs.supersede_key);
    match earlier {
        Some(i) if status != ResultStatus::Preliminary => {
            if let Some(slot) = out.observations.get_mut(i) {
                let replaced = std::mem::replace(slot, obs);
                note(
                    out,
                    n,
                    11,
                    format!("supersedes result {} (same code and time)", replaced.id),
                );
            }
        }
        Some(_) => note(
            out,
            n,
            11,
            "preliminary result after a final one for the same code and time; ignored",
        ),
        None => out.observations.push(obs),
    }
    Ok(())
}

fn read_range(
    kb: &Knowledge,
    analyte: &Analyte,
    text: &str,
    unit: &str,
    n: usize,
    out: &mut OruResult,
) -> Option<RefRange> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let conv = |s: &str| -> Option<f64> {
        let v: f64 = s.trim().parse().ok().filter(|x: &f64| x.is_finite())?;
        units::to_canonical(kb, analyte, v, unit).ok()
    };
    let range = if let Some(r) = t.strip_prefix("<=").or_else(|| t.strip_prefix('<')) {
        conv(r).map(|h| RefRange {
            low: None,
            high: Some(h),
        })
    } else if let Some(r) = t.strip_prefix(">=").or_else(|| t.strip_prefix('>')) {
        conv(r).map(|l| RefRange {
            low: Some(l),
            high: None,
        })
    } else {
        // `1.5-7.0`, `1.5 - 7.0`, or the `70_105` of older feeds.
        t.get(1..)
            .and_then(|rest| rest.find(['-', '_']))
            .and_then(|i| Some((t.get(..=i)?, t.get(i + 2..)?)))
            .and_then(|(a, b)| {
                let (low, high) = (conv(a)?, conv(b)?);
                (low <= high).then_some(RefRange {
                    low: Some(low),
                    high: Some(high),
                })
            })
    };
    if range.is_none() {
        note(
            out,
            n,
            7,
            format!(
                "reference range {t:?} could not be read; the laboratory's limits are not used"
            ),
        );
    }
    range
}
