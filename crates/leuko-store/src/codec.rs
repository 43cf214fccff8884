//! What both back ends share: how values become columns and back, ids, and the migrations.
//!
//! Every value is stored in a form that reads back equal in both back ends:
//!
//! - times as RFC 3339 text in UTC with exactly nine fractional digits
//!   (`2026-03-01T08:30:00.000000000Z`), so that text order is time order and a row written by
//!   one back end compares equal to a row written by the other; years outside 0000–9999 are
//!   refused;
//! - dates as `YYYY-MM-DD`;
//! - numbers as IEEE doubles (SQLite `REAL`, PostgreSQL `DOUBLE PRECISION`), which hold an
//!   `f64` exactly; NaN and infinities are refused (SQLite would turn NaN into NULL);
//! - enumerations as the lowercase words below; a medicine's drug ids as a JSON array;
//! - a laboratory reference range as a presence flag and two nullable limits, so that
//!   `Some(RefRange { low: None, high: None })` and `None` stay distinct.

use crate::{Entry, StoreError};
use leuko_core::{
    Comparator, ConditionEntry, ConditionStatus, MedicationEntry, Observation, RefRange, Sex,
};
use leuko_kb::AnalyteId;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

/// The migrations of one back end: (version, SQL), in order.
pub(crate) type Migrations = &'static [(i64, &'static str)];

// `SQLITE_MIGRATIONS` and `POSTGRES_MIGRATIONS`: every `migrations/{sqlite,postgres}/NNNN_*.sql`
// by version, listed by `build.rs`, so a migration file is all a new version needs.
include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

const TIME_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");
const DATE_FORMAT: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// A time as stored: UTC, nine fractional digits, fixed width.
pub(crate) fn time_text(t: OffsetDateTime) -> Result<String, StoreError> {
    let utc = t.to_offset(UtcOffset::UTC);
    if !(0..=9999).contains(&utc.year()) {
        return Err(StoreError::Conflict(format!(
            "time {t} is outside the years 0000-9999 that can be stored"
        )));
    }
    utc.format(TIME_FORMAT)
        .map_err(|e| StoreError::Database(format!("formatting time {t}: {e}")))
}

/// An optional time as stored.
pub(crate) fn opt_time_text(t: Option<OffsetDateTime>) -> Result<Option<String>, StoreError> {
    t.map(time_text).transpose()
}

/// Reads a stored time (the stored form, or any RFC 3339 time).
pub(crate) fn parse_time(s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, TIME_FORMAT)
        .or_else(|_| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339))
        .map_err(|e| StoreError::Database(format!("stored time {s:?} unreadable: {e}")))
}

/// Reads an optional stored time.
pub(crate) fn parse_opt_time(s: Option<&str>) -> Result<Option<OffsetDateTime>, StoreError> {
    s.map(parse_time).transpose()
}

/// A date as stored.
pub(crate) fn date_text(d: Date) -> Result<String, StoreError> {
    if !(0..=9999).contains(&d.year()) {
        return Err(StoreError::Conflict(format!(
            "date {d} is outside the years 0000-9999 that can be stored"
        )));
    }
    d.format(DATE_FORMAT)
        .map_err(|e| StoreError::Database(format!("formatting date {d}: {e}")))
}

/// Reads a stored date.
pub(crate) fn parse_date(s: &str) -> Result<Date, StoreError> {
    Date::parse(s, DATE_FORMAT)
        .map_err(|e| StoreError::Database(format!("stored date {s:?} unreadable: {e}")))
}

/// The stored word for a sex.
pub(crate) fn sex_text(s: Sex) -> &'static str {
    match s {
        Sex::Female => "female",
        Sex::Male => "male",
        Sex::Other => "other",
        Sex::Unknown => "unknown",
    }
}

/// Reads a stored sex.
pub(crate) fn parse_sex(s: &str) -> Result<Sex, StoreError> {
    match s {
        "female" => Ok(Sex::Female),
        "male" => Ok(Sex::Male),
        "other" => Ok(Sex::Other),
        "unknown" => Ok(Sex::Unknown),
        _ => Err(StoreError::Database(format!("stored sex {s:?} unknown"))),
    }
}

fn comparator_text(c: Comparator) -> &'static str {
    match c {
        Comparator::Equal => "=",
        Comparator::Less => "<",
        Comparator::LessOrEqual => "<=",
        Comparator::Greater => ">",
        Comparator::GreaterOrEqual => ">=",
    }
}

fn parse_comparator(s: &str) -> Result<Comparator, StoreError> {
    match s {
        "=" => Ok(Comparator::Equal),
        "<" => Ok(Comparator::Less),
        "<=" => Ok(Comparator::LessOrEqual),
        ">" => Ok(Comparator::Greater),
        ">=" => Ok(Comparator::GreaterOrEqual),
        _ => Err(StoreError::Database(format!(
            "stored comparator {s:?} unknown"
        ))),
    }
}

fn status_text(s: ConditionStatus) -> &'static str {
    match s {
        ConditionStatus::Active => "active",
        ConditionStatus::Resolved => "resolved",
        ConditionStatus::Absent => "absent",
    }
}

fn parse_status(s: &str) -> Result<ConditionStatus, StoreError> {
    match s {
        "active" => Ok(ConditionStatus::Active),
        "resolved" => Ok(ConditionStatus::Resolved),
        "absent" => Ok(ConditionStatus::Absent),
        _ => Err(StoreError::Database(format!(
            "stored condition status {s:?} unknown"
        ))),
    }
}

fn finite(what: &str, v: f64) -> Result<f64, StoreError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(StoreError::Conflict(format!(
            "{what} {v} is not a finite number and cannot be stored"
        )))
    }
}

fn opt_finite(what: &str, v: Option<f64>) -> Result<Option<f64>, StoreError> {
    v.map(|v| finite(what, v)).transpose()
}

/// A new 128-bit id from the operating system's random source, as 32 lowercase hex digits.
///
/// Generated ids are random rather than derived from content so that two identical entries
/// sent without client ids (two counts with the same value at the same minute) are both kept.
pub(crate) fn new_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Database(format!("random id: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The kind of an entry, as stored in `entry_ids.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Observation,
    Condition,
    Medication,
}

impl Kind {
    pub(crate) fn of(entry: &Entry) -> Kind {
        match entry {
            Entry::Observation(_) => Kind::Observation,
            Entry::Condition(_) => Kind::Condition,
            Entry::Medication(_) => Kind::Medication,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Observation => "observation",
            Kind::Condition => "condition",
            Kind::Medication => "medication",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Kind, StoreError> {
        match s {
            "observation" => Ok(Kind::Observation),
            "condition" => Ok(Kind::Condition),
            "medication" => Ok(Kind::Medication),
            _ => Err(StoreError::Database(format!(
                "stored entry kind {s:?} unknown"
            ))),
        }
    }
}

/// An observation as columns of `observations` (without id, patient and recorded_at).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ObsCols {
    pub analyte: String,
    pub at: String,
    pub value: f64,
    pub comparator: String,
    pub reported_value: Option<f64>,
    pub reported_unit: Option<String>,
    pub has_ref_range: bool,
    pub ref_low: Option<f64>,
    pub ref_high: Option<f64>,
    pub derived: bool,
    pub source_ref: String,
}

impl ObsCols {
    pub(crate) fn from_entry(o: &Observation) -> Result<ObsCols, StoreError> {
        let (reported_value, reported_unit) = match &o.reported {
            Some((v, u)) => (Some(finite("reported value", *v)?), Some(u.clone())),
            None => (None, None),
        };
        Ok(ObsCols {
            analyte: o.analyte.as_str().to_owned(),
            at: time_text(o.at)?,
            value: finite("value", o.value)?,
            comparator: comparator_text(o.comparator).to_owned(),
            reported_value,
            reported_unit,
            has_ref_range: o.reference_range.is_some(),
            ref_low: opt_finite("reference range low", o.reference_range.and_then(|r| r.low))?,
            ref_high: opt_finite(
                "reference range high",
                o.reference_range.and_then(|r| r.high),
            )?,
            derived: o.derived,
            source_ref: o.source_ref.clone(),
        })
    }

    pub(crate) fn into_entry(self) -> Result<Observation, StoreError> {
        let analyte = AnalyteId::parse(&self.analyte).ok_or_else(|| {
            StoreError::Database(format!("stored analyte {:?} unknown", self.analyte))
        })?;
        let reported = match (self.reported_value, self.reported_unit) {
            (Some(v), Some(u)) => Some((v, u)),
            (None, None) => None,
            _ => {
                return Err(StoreError::Database(
                    "stored reported value without unit (or unit without value)".into(),
                ));
            }
        };
        Ok(Observation {
            analyte,
            at: parse_time(&self.at)?,
            value: self.value,
            comparator: parse_comparator(&self.comparator)?,
            reported,
            reference_range: self.has_ref_range.then_some(RefRange {
                low: self.ref_low,
                high: self.ref_high,
            }),
            derived: self.derived,
            source_ref: self.source_ref,
        })
    }
}

/// A condition as columns of `conditions`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CondCols {
    pub concept: Option<String>,
    pub text: String,
    pub status: String,
    pub onset: Option<String>,
    pub abatement: Option<String>,
    pub source_ref: String,
}

impl CondCols {
    pub(crate) fn from_entry(c: &ConditionEntry) -> Result<CondCols, StoreError> {
        Ok(CondCols {
            concept: c.concept.clone(),
            text: c.text.clone(),
            status: status_text(c.status).to_owned(),
            onset: opt_time_text(c.onset)?,
            abatement: opt_time_text(c.abatement)?,
            source_ref: c.source_ref.clone(),
        })
    }

    pub(crate) fn into_entry(self) -> Result<ConditionEntry, StoreError> {
        Ok(ConditionEntry {
            concept: self.concept,
            text: self.text,
            status: parse_status(&self.status)?,
            onset: parse_opt_time(self.onset.as_deref())?,
            abatement: parse_opt_time(self.abatement.as_deref())?,
            source_ref: self.source_ref,
        })
    }
}

/// A medicine as columns of `medications`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MedCols {
    pub drugs: String,
    pub text: String,
    pub start: Option<String>,
    pub end: Option<String>,
    pub active: bool,
    pub source_ref: String,
}

impl MedCols {
    pub(crate) fn from_entry(m: &MedicationEntry) -> Result<MedCols, StoreError> {
        Ok(MedCols {
            drugs: serde_json::to_string(&m.drugs)
                .map_err(|e| StoreError::Database(format!("drug ids: {e}")))?,
            text: m.text.clone(),
            start: opt_time_text(m.start)?,
            end: opt_time_text(m.end)?,
            active: m.active,
            source_ref: m.source_ref.clone(),
        })
    }

    pub(crate) fn into_entry(self) -> Result<MedicationEntry, StoreError> {
        let drugs: Vec<String> = serde_json::from_str(&self.drugs).map_err(|e| {
            StoreError::Database(format!("stored drug ids {:?} unreadable: {e}", self.drugs))
        })?;
        Ok(MedicationEntry {
            drugs,
            text: self.text,
            start: parse_opt_time(self.start.as_deref())?,
            end: parse_opt_time(self.end.as_deref())?,
            active: self.active,
            source_ref: self.source_ref,
        })
    }
}

/// One result row, as either back end hands it out: typed cells by position.
pub(crate) trait Cells {
    fn text(&self, i: usize) -> Result<String, StoreError>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn real(&self, i: usize) -> Result<f64, StoreError>;
    fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError>;
    fn flag(&self, i: usize) -> Result<bool, StoreError>;
}

impl ObsCols {
    /// Reads the columns of the observation columns of [`crate::sql`] starting at cell `at`.
    pub(crate) fn read(r: &impl Cells, at: usize) -> Result<ObsCols, StoreError> {
        Ok(ObsCols {
            analyte: r.text(at)?,
            at: r.text(at + 1)?,
            value: r.real(at + 2)?,
            comparator: r.text(at + 3)?,
            reported_value: r.opt_real(at + 4)?,
            reported_unit: r.opt_text(at + 5)?,
            has_ref_range: r.flag(at + 6)?,
            ref_low: r.opt_real(at + 7)?,
            ref_high: r.opt_real(at + 8)?,
            derived: r.flag(at + 9)?,
            source_ref: r.text(at + 10)?,
        })
    }
}

impl CondCols {
    /// Reads the columns of the condition columns of [`crate::sql`] starting at cell `at`.
    pub(crate) fn read(r: &impl Cells, at: usize) -> Result<CondCols, StoreError> {
        Ok(CondCols {
            concept: r.opt_text(at)?,
            text: r.text(at + 1)?,
            status: r.text(at + 2)?,
            onset: r.opt_text(at + 3)?,
            abatement: r.opt_text(at + 4)?,
            source_ref: r.text(at + 5)?,
        })
    }
}

impl MedCols {
    /// Reads the columns of the medicine columns of [`crate::sql`] starting at cell `at`.
    pub(crate) fn read(r: &impl Cells, at: usize) -> Result<MedCols, StoreError> {
        Ok(MedCols {
            drugs: r.text(at)?,
            text: r.text(at + 1)?,
            start: r.opt_text(at + 2)?,
            end: r.opt_text(at + 3)?,
            active: r.flag(at + 4)?,
            source_ref: r.text(at + 5)?,
        })
    }
}

/// Reads a patient row of [`sql::SELECT_PATIENT`](crate::sql::SELECT_PATIENT).
pub(crate) fn read_patient(r: &impl Cells) -> Result<crate::PatientRow, StoreError> {
    Ok(crate::PatientRow {
        id: r.text(0)?,
        birth_date: r.opt_text(1)?.as_deref().map(parse_date).transpose()?,
        sex: parse_sex(&r.text(2)?)?,
        created_at: parse_time(&r.text(3)?)?,
    })
}

/// Reads an assessment row of [`sql::SELECT_ASSESSMENTS`](crate::sql::SELECT_ASSESSMENTS).
pub(crate) fn read_assessment(r: &impl Cells) -> Result<crate::AssessmentRow, StoreError> {
    Ok(crate::AssessmentRow {
        id: r.text(0)?,
        patient_id: r.text(1)?,
        as_of: parse_time(&r.text(2)?)?,
        created_at: parse_time(&r.text(3)?)?,
        knowledge: r.text(4)?,
        input_digest: r.text(5)?,
        level: r.text(6)?,
        json: r.text(7)?,
    })
}

/// Reads a key row of [`sql::SELECT_KEY_BY_HASH`](crate::sql::SELECT_KEY_BY_HASH).
pub(crate) fn read_key(r: &impl Cells) -> Result<crate::ApiKey, StoreError> {
    let role = r.text(1)?;
    Ok(crate::ApiKey {
        id: r.text(0)?,
        role: crate::Role::parse(&role)
            .ok_or_else(|| StoreError::Database(format!("stored role {role:?} unknown")))?,
        created_at: parse_time(&r.text(2)?)?,
    })
}

/// Reads an audit row of [`sql::SELECT_AUDIT`](crate::sql::SELECT_AUDIT).
pub(crate) fn read_audit(r: &impl Cells) -> Result<crate::AuditEntry, StoreError> {
    Ok(crate::AuditEntry {
        at: parse_time(&r.text(0)?)?,
        key_id: r.text(1)?,
        action: r.text(2)?,
        patient_id: r.opt_text(3)?,
        detail: r.text(4)?,
    })
}

/// A CDS feedback row's columns, in [`sql::INSERT_FEEDBACK`](crate::sql::INSERT_FEEDBACK)
/// order after the service, card and outcome time.
pub(crate) struct FeedbackCols {
    pub outcome: &'static str,
    pub accepted: String,
    pub has_comment: bool,
}

/// The stored forms of a feedback's outcome and accepted suggestions.
pub(crate) fn feedback_cols(f: &crate::CdsFeedback) -> Result<FeedbackCols, StoreError> {
    Ok(FeedbackCols {
        outcome: f.outcome.as_str(),
        accepted: serde_json::to_string(&f.accepted_suggestions).map_err(|e| {
            StoreError::Conflict(format!("accepted suggestion ids not storable: {e}"))
        })?,
        has_comment: f.has_comment,
    })
}

/// Reads a feedback row of [`sql::SELECT_FEEDBACK`](crate::sql::SELECT_FEEDBACK).
pub(crate) fn read_feedback(r: &impl Cells) -> Result<crate::CdsFeedback, StoreError> {
    let outcome = r.text(2)?;
    let accepted = r.text(4)?;
    Ok(crate::CdsFeedback {
        service_id: r.text(0)?,
        card: r.text(1)?,
        outcome: crate::Outcome::parse(&outcome)
            .ok_or_else(|| StoreError::Database(format!("stored outcome {outcome:?} unknown")))?,
        outcome_at: parse_time(&r.text(3)?)?,
        accepted_suggestions: serde_json::from_str(&accepted).map_err(|e| {
            StoreError::Database(format!(
                "stored accepted suggestions {accepted:?} unreadable: {e}"
            ))
        })?,
        override_reason: match r.opt_text(5)? {
            Some(code) => Some(crate::OverrideReason {
                code,
                system: r.opt_text(6)?,
                display: r.opt_text(7)?,
            }),
            None => None,
        },
        has_comment: r.flag(8)?,
        received_at: parse_time(&r.text(9)?)?,
    })
}

/// Reads a row of `SELECT id, recorded_at, <kind's columns>` into a stored entry.
pub(crate) fn read_stored(r: &impl Cells, kind: Kind) -> Result<crate::StoredEntry, StoreError> {
    let cols = match kind {
        Kind::Observation => Cols::Observation(ObsCols::read(r, 2)?),
        Kind::Condition => Cols::Condition(CondCols::read(r, 2)?),
        Kind::Medication => Cols::Medication(MedCols::read(r, 2)?),
    };
    Ok(crate::StoredEntry {
        id: r.text(0)?,
        recorded_at: parse_time(&r.text(1)?)?,
        entry: cols.into_entry()?,
    })
}

/// An entry as columns, ready to bind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cols {
    Observation(ObsCols),
    Condition(CondCols),
    Medication(MedCols),
}

impl Cols {
    pub(crate) fn from_entry(e: &Entry) -> Result<Cols, StoreError> {
        Ok(match e {
            Entry::Observation(o) => Cols::Observation(ObsCols::from_entry(o)?),
            Entry::Condition(c) => Cols::Condition(CondCols::from_entry(c)?),
            Entry::Medication(m) => Cols::Medication(MedCols::from_entry(m)?),
        })
    }

    pub(crate) fn into_entry(self) -> Result<Entry, StoreError> {
        Ok(match self {
            Cols::Observation(o) => Entry::Observation(o.into_entry()?),
            Cols::Condition(c) => Entry::Condition(c.into_entry()?),
            Cols::Medication(m) => Entry::Medication(m.into_entry()?),
        })
    }
}

/// A stored entry's row: what `add_entries` compares a repeated id against.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExistingEntry {
    pub patient_id: String,
    pub cols: Cols,
}

/// Decides what a client id already present means: the same entry for the same patient is a
/// repeat (`Ok`), anything else is a conflict naming the id.
pub(crate) fn check_repeat(
    id: &str,
    patient_id: &str,
    new: &Cols,
    existing: &ExistingEntry,
) -> Result<(), StoreError> {
    if existing.patient_id != patient_id {
        return Err(StoreError::Conflict(format!(
            "entry id {id:?} is already used for another patient"
        )));
    }
    // The columns hold the entry in its stored form (times in UTC), so equal columns are equal
    // entries; f64 comparison takes -0.0 and 0.0 as equal, as `Observation`'s does.
    let same = existing.cols == *new;
    if same {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "entry id {id:?} is already used for a different entry"
        )))
    }
}

/// A batch of entries ready to write: each with its id (the client's, or a new one), kind and
/// columns.
pub(crate) type Prepared = Vec<(String, (Kind, Cols))>;

/// Prepares a batch: ids, kinds and columns, refusing values that cannot be stored exactly.
pub(crate) fn prepare(entries: &[crate::NewEntry]) -> Result<Prepared, StoreError> {
    entries
        .iter()
        .map(|e| {
            let id = match &e.id {
                Some(id) => id.clone(),
                None => new_id()?,
            };
            Ok((id, (Kind::of(&e.entry), Cols::from_entry(&e.entry)?)))
        })
        .collect()
}

/// What a newly stored correction supersedes: `(correction id, analyte, at)` as stored, for
/// each new correcting observation of the batch, last given first. Run in this order with
/// [`crate::sql::SUPERSEDE_OBS`] (which skips a correction already superseded), the last
/// correction given for a result wins and supersedes the earlier ones of the same batch.
pub(crate) fn corrections<'p>(
    entries: &[crate::NewEntry],
    prepared: &'p Prepared,
    inserted: &[bool],
) -> Vec<(&'p str, &'p str, &'p str)> {
    entries
        .iter()
        .zip(prepared)
        .zip(inserted)
        .filter_map(|((e, (id, (_, cols))), &new)| match cols {
            Cols::Observation(o) if e.corrects && new => {
                Some((id.as_str(), o.analyte.as_str(), o.at.as_str()))
            }
            _ => None,
        })
        .rev()
        .collect()
}

/// Everything that settles which results are current after a batch is stored, in order, as
/// `(statement, id, analyte, at)` (the caller adds the patient as `$2`):
///
/// 1. each newly stored preliminary observation is marked so ([`crate::sql::MARK_PRELIMINARY`]);
/// 2. corrections supersede every current result ([`corrections`], [`crate::sql::SUPERSEDE_OBS`]);
/// 3. each newly stored observation that is neither preliminary nor a correction supersedes
///    the current preliminary results ([`crate::sql::SUPERSEDE_PRELIMINARY`]);
/// 4. a newly stored preliminary result is superseded at once by a current result that is not
///    preliminary ([`crate::sql::SUPERSEDE_LATE_PRELIMINARY`]): it came too late.
///
/// Only newly stored entries take part, so a batch sent again changes nothing.
pub(crate) fn supersessions<'p>(
    entries: &[crate::NewEntry],
    prepared: &'p Prepared,
    inserted: &[bool],
) -> Vec<(&'static str, &'p str, &'p str, &'p str)> {
    let new_obs = |pred: fn(&crate::NewEntry) -> bool| {
        entries.iter().zip(prepared).zip(inserted).filter_map(
            move |((e, (id, (_, cols))), &new)| match cols {
                Cols::Observation(o) if new && pred(e) => {
                    Some((id.as_str(), o.analyte.as_str(), o.at.as_str()))
                }
                _ => None,
            },
        )
    };
    let mut out = Vec::new();
    let preliminary = |e: &crate::NewEntry| e.preliminary && !e.corrects;
    out.extend(new_obs(preliminary).map(|(id, an, at)| (crate::sql::MARK_PRELIMINARY, id, an, at)));
    out.extend(
        corrections(entries, prepared, inserted)
            .into_iter()
            .map(|(id, an, at)| (crate::sql::SUPERSEDE_OBS, id, an, at)),
    );
    out.extend(
        new_obs(|e| !e.preliminary && !e.corrects)
            .map(|(id, an, at)| (crate::sql::SUPERSEDE_PRELIMINARY, id, an, at)),
    );
    out.extend(
        new_obs(preliminary)
            .map(|(id, an, at)| (crate::sql::SUPERSEDE_LATE_PRELIMINARY, id, an, at)),
    );
    out
}

/// The column of `superseded_by` in [`crate::sql::SELECT_SUPERSEDED`]: after id, recorded_at
/// and the observation's eleven columns.
pub(crate) const SUPERSEDED_BY_COLUMN: usize = 13;

/// Sorts superseded observations as [`sort_entries`] sorts entries.
pub(crate) fn sort_superseded(rows: &mut [(crate::StoredEntry, String)]) {
    rows.sort_by(|(a, _), (b, _)| {
        clinical_time(&a.entry)
            .cmp(&clinical_time(&b.entry))
            .then_with(|| a.id.as_bytes().cmp(b.id.as_bytes()))
    });
}

/// The order in which a batch's entries are written: by id (byte order), entries with the
/// same id in the order given. Every transaction thus takes its ids' locks in one global
/// order, and two batches sharing ids cannot deadlock on PostgreSQL; a repeated id within a
/// batch is still new the first time it is given.
pub(crate) fn write_order<T>(batch: &[(String, T)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by(|&a, &b| batch[a].0.as_bytes().cmp(batch[b].0.as_bytes()));
    order
}

/// The clinical time of an entry, for ordering: observation `at`, condition onset, medicine
/// start.
pub(crate) fn clinical_time(e: &Entry) -> Option<OffsetDateTime> {
    match e {
        Entry::Observation(o) => Some(o.at),
        Entry::Condition(c) => c.onset,
        Entry::Medication(m) => m.start,
    }
}

/// Sorts entries by clinical time (entries without one last), then by id (byte order).
pub(crate) fn sort_entries(entries: &mut [crate::StoredEntry]) {
    entries.sort_by(|a, b| {
        let (ta, tb) = (clinical_time(&a.entry), clinical_time(&b.entry));
        ta.is_none()
            .cmp(&tb.is_none())
            .then(ta.cmp(&tb))
            .then_with(|| a.id.as_bytes().cmp(b.id.as_bytes()))
    });
}

/// A `usize` limit as an SQL `LIMIT` (both back ends take a signed 64-bit integer).
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_are_fixed_width_utc_and_round_trip() {
        let t = datetime!(2026-03-01 09:30:00.5 +01:00);
        let s = match time_text(t) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(s, "2026-03-01T08:30:00.500000000Z");
        match parse_time(&s) {
            Ok(back) => assert_eq!(back, t),
            Err(e) => panic!("{e}"),
        }
        let whole = match time_text(datetime!(2026-03-01 08:30:00 UTC)) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert!(whole < s, "text order is time order: {whole} < {s}");
    }

    #[test]
    fn batches_are_written_in_id_order_keeping_repeats_in_order() {
        let batch = [
            ("b".to_owned(), 0),
            ("a".to_owned(), 1),
            ("b".to_owned(), 2),
            ("a".to_owned(), 3),
        ];
        assert_eq!(write_order(&batch), vec![1, 3, 0, 2]);
    }

    #[test]
    fn non_finite_values_are_refused() {
        assert!(matches!(
            finite("value", f64::NAN),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            finite("value", f64::INFINITY),
            Err(StoreError::Conflict(_))
        ));
    }

    #[test]
    fn ids_are_32_hex_digits() {
        match (new_id(), new_id()) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.len(), 32);
                assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
                assert_ne!(a, b);
            }
            (a, b) => panic!("{a:?} {b:?}"),
        }
    }
}
