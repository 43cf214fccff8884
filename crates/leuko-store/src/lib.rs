//! The patient history store: patients with their counts, vital signs, conditions and
//! medicines over time, every assessment made (with the knowledge version and a digest of its
//! input), API keys (hashed), the audit log, and CDS Hooks feedback (what clinicians did with
//! cards).
//!
//! One interface, [`Store`], two back ends: SQLite (`sqlite.rs`, the default, WAL mode) and
//! PostgreSQL (`postgres.rs`). Both run the same versioned migrations (`migrations/`) and the
//! same test suite (`tests/suite.rs`). Writes are idempotent: an entry written twice with the
//! same client-supplied id is stored once. The interface is synchronous; the server calls it
//! from blocking tasks.
//!
//! Invariants: a write that returned `Ok` is durable (SQLite `synchronous=FULL` in WAL mode;
//! PostgreSQL commits); a batch of entries is written in one transaction, all or nothing;
//! the audit log never holds result values.
//!
//! How the back ends keep them:
//!
//! - **Migrations** are SQL files embedded in the binary, recorded in
//!   `schema_migrations(version, applied_at)` and applied once each, in a transaction, when a
//!   store is opened (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: under an advisory lock), so that
//!   several processes opening one database at once apply each once.
//! - **Stored forms** are the same in both: times as RFC 3339 text in UTC with nine fractional
//!   digits (text order is time order), dates as `YYYY-MM-DD`, numbers as IEEE doubles (an
//!   `f64` reads back bit for bit), enumerations as lowercase words, drug ids as a JSON array.
//!   What cannot be stored exactly is refused with [`StoreError::Conflict`], never altered: NaN
//!   and infinite values, years outside 0000–9999.
//! - **Ids.** A client-supplied entry id is unique across observations, conditions and
//!   medicines (the `entry_ids` table). Written again with the same entry for the same patient
//!   it is reported as not new; with anything else it is a [`StoreError::Conflict`] naming
//!   the id, and the whole batch is undone. Without a client id, an entry or patient gets 128
//!   random bits from the operating system as 32 hex digits: two identical entries sent
//!   without ids are two entries. A batch takes its ids in byte order, so concurrent batches
//!   sharing ids cannot deadlock.
//! - **Corrections.** An observation written with [`NewEntry::corrects`] (an HL7 corrected
//!   result, OBX-11 `C`) supersedes, in the same transaction, every current observation of
//!   the same patient with the same analyte and the same time: their `superseded_by` column
//!   names it. Superseded rows are never deleted ([`Store::superseded`] lists them, the audit
//!   trail); [`Store::entries`] and [`Store::record`] return only current results. Only a
//!   newly stored correction supersedes: the same correction sent again changes nothing, and
//!   an earlier result sent again after its correction stays superseded.
//! - **Preliminary results.** An observation written with [`NewEntry::preliminary`] (HL7
//!   OBX-11 `P`) is marked so (migration 0004). A later, newly stored observation of the same
//!   patient, analyte and time that is not preliminary (a final result, OBX-11 `F`; a
//!   correction; an entry from the API) supersedes it the same way, never deleting it; a
//!   preliminary result arriving after such a result is stored already superseded by it.
//! - **Migrations** are listed by `build.rs` from the files present, by version; each version
//!   not yet recorded is applied, in ascending order, so a gap (a version not yet merged) is
//!   applied when it arrives.
//! - **Order.** [`Store::entries`] sorts by clinical time (observation `at`, condition onset,
//!   medicine start; entries without one last), then by id in byte order.
//!
//! Tests: `cargo test -p leuko-store` runs the suite on SQLite; with
//! `scripts/with-postgres.sh cargo test -p leuko-store` it runs on PostgreSQL too.

use leuko_core::{ConditionEntry, MedicationEntry, Observation, Record, Sex};
use time::{Date, OffsetDateTime};

/// A store error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The caller referred to something that does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The caller sent something inconsistent (an id reused for different content, …).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
}

/// A role of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read patient data.
    Read,
    /// Read and write patient data.
    Write,
    /// Everything, including the audit log.
    Admin,
}

impl Role {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }

    /// Parses the word.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "read" => Some(Role::Read),
            "write" => Some(Role::Write),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A patient to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPatient {
    /// Client-supplied id; generated when `None`.
    pub id: Option<String>,
    /// Date of birth.
    pub birth_date: Option<Date>,
    /// Sex.
    pub sex: Sex,
}

/// A stored patient.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientRow {
    /// Id.
    pub id: String,
    /// Date of birth.
    pub birth_date: Option<Date>,
    /// Sex.
    pub sex: Sex,
    /// When created.
    pub created_at: OffsetDateTime,
}

/// One entry of a patient's history.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A laboratory result or vital sign.
    Observation(Observation),
    /// A condition, symptom, exposure or phenotype.
    Condition(ConditionEntry),
    /// A medicine.
    Medication(MedicationEntry),
}

/// An entry to write, with its client id and whether it corrects an earlier result.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// Client-supplied id; generated when `None`.
    pub id: Option<String>,
    /// The entry.
    pub entry: Entry,
    /// A corrected result (HL7 OBX-11 `C`): once newly stored, it supersedes every current
    /// observation of the same patient with the same analyte and the same time. Ignored for
    /// conditions and medicines.
    pub corrects: bool,
    /// A preliminary result (HL7 OBX-11 `P`): stored as current until a result of the same
    /// patient, analyte and time that is not preliminary (a final one, OBX-11 `F`, or a
    /// correction) is newly stored, which supersedes it. A preliminary result that arrives
    /// after such a result is stored already superseded by it. Ignored for conditions and
    /// medicines.
    pub preliminary: bool,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    /// Id (client-supplied or generated).
    pub id: String,
    /// When it was written.
    pub recorded_at: OffsetDateTime,
    /// The entry.
    pub entry: Entry,
}

/// A stored assessment.
#[derive(Debug, Clone, PartialEq)]
pub struct AssessmentRow {
    /// Id.
    pub id: String,
    /// Patient id.
    pub patient_id: String,
    /// The moment assessed.
    pub as_of: OffsetDateTime,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// Knowledge version and digest, `2026.11.1+a87a…`.
    pub knowledge: String,
    /// A digest of the input record.
    pub input_digest: String,
    /// The triage level.
    pub level: String,
    /// The assessment JSON.
    pub json: String,
}

/// An API key (the secret itself is never stored, only its hash).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    /// Public id.
    pub id: String,
    /// Role.
    pub role: Role,
    /// When created.
    pub created_at: OffsetDateTime,
}

/// One audit-log entry: who did what to which patient, when; never values.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// When.
    pub at: OffsetDateTime,
    /// The key id.
    pub key_id: String,
    /// `read-timeline`, `add-entries`, `create-patient`, `assess`, …
    pub action: String,
    /// The patient, when one is concerned.
    pub patient_id: Option<String>,
    /// Counts or ids, never values.
    pub detail: String,
}

/// What the clinician did with a CDS Hooks card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The card (or some of its suggestions) was accepted.
    Accepted,
    /// The card was overridden (dismissed).
    Overridden,
}

impl Outcome {
    /// The spec's word, stored as is.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Overridden => "overridden",
        }
    }

    /// Parses the spec's word.
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "accepted" => Some(Outcome::Accepted),
            "overridden" => Some(Outcome::Overridden),
            _ => None,
        }
    }
}

/// The coded reason a card was overridden (one of the card's `overrideReasons`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideReason {
    /// Code.
    pub code: String,
    /// Code system.
    pub system: Option<String>,
    /// Display text.
    pub display: Option<String>,
}

/// One CDS Hooks feedback item. The free-text `userComment` is not kept, only whether one was
/// given: it may hold anything, patient details included, and feedback is not a patient
/// record with an audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct CdsFeedback {
    /// The CDS service's id.
    pub service_id: String,
    /// The card's uuid.
    pub card: String,
    /// Accepted or overridden.
    pub outcome: Outcome,
    /// When the clinician acted.
    pub outcome_at: OffsetDateTime,
    /// The ids of the suggestions accepted.
    pub accepted_suggestions: Vec<String>,
    /// The coded override reason, when given.
    pub override_reason: Option<OverrideReason>,
    /// Whether a free-text comment came with the override.
    pub has_comment: bool,
    /// When leuko received it (not compared when the same feedback arrives again).
    pub received_at: OffsetDateTime,
}

impl CdsFeedback {
    /// Whether two items say the same thing (everything but when they were received).
    pub fn same_as(&self, other: &CdsFeedback) -> bool {
        CdsFeedback {
            received_at: other.received_at,
            ..self.clone()
        } == *other
    }
}

/// The store interface. Every method is atomic.
pub trait Store: Send + Sync {
    /// Which back end (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;
    /// Creates a patient; with a client-supplied id written before, returns the existing one
    /// and `false`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the id exists with different demographics.
    fn create_patient(
        &self,
        patient: NewPatient,
        now: OffsetDateTime,
    ) -> Result<(PatientRow, bool), StoreError>;
    /// A patient.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn patient(&self, id: &str) -> Result<Option<PatientRow>, StoreError>;
    /// Adds entries in one transaction. Each has an optional client id; an id written before
    /// is not written again. Returns each entry's id and whether it was newly stored.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown patient; [`StoreError::Conflict`] when a
    /// client id is reused for a different entry.
    fn add_entries(
        &self,
        patient_id: &str,
        entries: &[(Option<String>, Entry)],
        now: OffsetDateTime,
    ) -> Result<Vec<(String, bool)>, StoreError> {
        let entries: Vec<NewEntry> = entries
            .iter()
            .map(|(id, entry)| NewEntry {
                id: id.clone(),
                entry: entry.clone(),
                corrects: false,
                preliminary: false,
            })
            .collect();
        self.write_entries(patient_id, &entries, now)
    }
    /// Adds entries in one transaction, as [`Store::add_entries`] does; then each newly stored
    /// correction ([`NewEntry::corrects`]) supersedes the current observations of the same
    /// patient, analyte and time, in the same transaction. Of several corrections of one
    /// result in a batch, the last given wins. A newly stored result that is neither a
    /// correction nor preliminary supersedes the current preliminary results
    /// ([`NewEntry::preliminary`]) of the same patient, analyte and time.
    ///
    /// # Errors
    /// As [`Store::add_entries`].
    fn write_entries(
        &self,
        patient_id: &str,
        entries: &[NewEntry],
        now: OffsetDateTime,
    ) -> Result<Vec<(String, bool)>, StoreError>;
    /// The observations of a patient that corrections superseded, each with the id of the
    /// observation that superseded it, in the order of [`Store::entries`]. They stay stored;
    /// [`Store::entries`] leaves them out.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn superseded(&self, patient_id: &str) -> Result<Vec<(StoredEntry, String)>, StoreError>;
    /// All current entries of a patient (superseded results left out), oldest first by their clinical time (an observation's `at`, a
    /// condition's onset, a medicine's start; entries without one last), then by id. An unknown
    /// patient has none.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn entries(&self, patient_id: &str) -> Result<Vec<StoredEntry>, StoreError>;
    /// Saves an assessment. Saving the same row again (same id, same content) does nothing.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown patient; [`StoreError::Conflict`] when the id
    /// is already used for a different assessment.
    fn save_assessment(&self, row: &AssessmentRow) -> Result<(), StoreError>;
    /// A patient's assessments, newest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn assessments(&self, patient_id: &str) -> Result<Vec<AssessmentRow>, StoreError>;
    /// Stores an API key's hash.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the id or the hash is already stored.
    fn create_key(
        &self,
        id: &str,
        hash: &str,
        role: Role,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The key with this hash.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError>;
    /// Appends to the audit log.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// The newest audit entries.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
    /// Stores CDS Hooks feedback items in one transaction, all or nothing. An item is keyed by
    /// service, card, outcome and outcome time: sent again with the same content it is not stored again
    /// (`false`); with different content it is a [`StoreError::Conflict`].
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for a key reused with other content, or an unstorable time.
    fn save_cds_feedback(&self, items: &[CdsFeedback]) -> Result<Vec<bool>, StoreError>;
    /// The newest CDS feedback items, by when they were received.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn cds_feedback(&self, limit: usize) -> Result<Vec<CdsFeedback>, StoreError>;

    /// The patient's history as an engine record.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown patient.
    fn record(&self, patient_id: &str) -> Result<Record, StoreError> {
        let p = self
            .patient(patient_id)?
            .ok_or_else(|| StoreError::NotFound(format!("patient {patient_id:?}")))?;
        let mut record = Record {
            patient: leuko_core::Patient {
                birth_date: p.birth_date,
                sex: p.sex,
            },
            ..Record::default()
        };
        for e in self.entries(patient_id)? {
            match e.entry {
                Entry::Observation(o) => record.observations.push(o),
                Entry::Condition(c) => record.conditions.push(c),
                Entry::Medication(m) => record.medications.push(m),
            }
        }
        Ok(record)
    }
}

/// Opens a store from a URL: a file path or `sqlite://PATH` for SQLite, `postgres://…` or
/// `postgresql://…` for PostgreSQL. Runs the migrations.
///
/// # Errors
/// [`StoreError::Database`] naming the URL's scheme when it cannot be opened.
pub fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(postgres::PgStore::open(url)?))
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        Ok(Box::new(sqlite::SqliteStore::open(path)?))
    }
}

mod codec;
pub mod postgres;
mod sql;
pub mod sqlite;
