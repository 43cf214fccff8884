//! The statements both back ends run, written once with PostgreSQL's `$N` placeholders;
//! SQLite runs them with `?N` ([`for_sqlite`]), which numbers parameters the same way.

/// `CREATE TABLE IF NOT EXISTS schema_migrations`: the one table made outside the
/// migrations, so that they can be counted.
pub(crate) const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)";
pub(crate) const SELECT_MIGRATION: &str = "SELECT 1 FROM schema_migrations WHERE version = $1";
pub(crate) const INSERT_MIGRATION: &str =
    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)";
pub(crate) const SELECT_MIGRATIONS: &str =
    "SELECT version, applied_at FROM schema_migrations ORDER BY version";

pub(crate) const INSERT_PATIENT: &str = "INSERT INTO patients (id, birth_date, sex, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING";
pub(crate) const SELECT_PATIENT: &str =
    "SELECT id, birth_date, sex, created_at FROM patients WHERE id = $1";
pub(crate) const PATIENT_EXISTS: &str = "SELECT 1 FROM patients WHERE id = $1";

pub(crate) const INSERT_ENTRY_ID: &str =
    "INSERT INTO entry_ids (id, patient_id, kind) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING";
pub(crate) const SELECT_ENTRY_ID: &str = "SELECT patient_id, kind FROM entry_ids WHERE id = $1";

/// The columns of an observation after id and patient, in [`crate::codec::ObsCols`] order.
macro_rules! obs_cols {
    () => {
        "analyte, at, value, comparator, reported_value, reported_unit, has_ref_range, ref_low, ref_high, \
         derived, source_ref"
    };
}
/// The columns of a condition, in [`crate::codec::CondCols`] order.
macro_rules! cond_cols {
    () => {
        "concept, text, status, onset, abatement, source_ref"
    };
}
/// The columns of a medicine, in [`crate::codec::MedCols`] order.
macro_rules! med_cols {
    () => {
        "drugs, text, start, \"end\", active, source_ref"
    };
}

pub(crate) const INSERT_OBS: &str = concat!(
    "INSERT INTO observations (id, patient_id, recorded_at, ",
    obs_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
);
pub(crate) const INSERT_COND: &str = concat!(
    "INSERT INTO conditions (id, patient_id, recorded_at, ",
    cond_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
);
pub(crate) const INSERT_MED: &str = concat!(
    "INSERT INTO medications (id, patient_id, recorded_at, ",
    med_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
);

/// `SELECT patient_id, <columns> FROM <kind's table> WHERE id = $1`.
pub(crate) fn select_entry_by_id(kind: crate::codec::Kind) -> &'static str {
    use crate::codec::Kind;
    match kind {
        Kind::Observation => concat!(
            "SELECT patient_id, ",
            obs_cols!(),
            " FROM observations WHERE id = $1"
        ),
        Kind::Condition => concat!(
            "SELECT patient_id, ",
            cond_cols!(),
            " FROM conditions WHERE id = $1"
        ),
        Kind::Medication => concat!(
            "SELECT patient_id, ",
            med_cols!(),
            " FROM medications WHERE id = $1"
        ),
    }
}

/// `SELECT id, recorded_at, <columns> FROM <kind's table> WHERE patient_id = $1`.
pub(crate) fn select_entries_of_patient(kind: crate::codec::Kind) -> &'static str {
    use crate::codec::Kind;
    match kind {
        Kind::Observation => {
            concat!(
                "SELECT id, recorded_at, ",
                obs_cols!(),
                " FROM observations WHERE patient_id = $1 AND superseded_by IS NULL"
            )
        }
        Kind::Condition => concat!(
            "SELECT id, recorded_at, ",
            cond_cols!(),
            " FROM conditions WHERE patient_id = $1"
        ),
        Kind::Medication => {
            concat!(
                "SELECT id, recorded_at, ",
                med_cols!(),
                " FROM medications WHERE patient_id = $1"
            )
        }
    }
}

/// A correction `$1`, unless itself superseded, supersedes the current observations of
/// patient `$2` with analyte `$3` at `$4`, other than itself.
pub(crate) const SUPERSEDE_OBS: &str = "UPDATE observations SET superseded_by = $1 \
     WHERE patient_id = $2 AND analyte = $3 AND at = $4 AND superseded_by IS NULL AND id <> $1 \
     AND EXISTS (SELECT 1 FROM observations c WHERE c.id = $1 AND c.superseded_by IS NULL)";
/// Marks a newly stored observation `$1` (of patient `$2`, analyte `$3`, at `$4`) as a
/// preliminary result.
pub(crate) const MARK_PRELIMINARY: &str = "UPDATE observations SET preliminary = TRUE \
     WHERE id = $1 AND patient_id = $2 AND analyte = $3 AND at = $4";
/// A result `$1` that is not preliminary, unless itself superseded, supersedes the current
/// preliminary observations of patient `$2` with analyte `$3` at `$4`.
pub(crate) const SUPERSEDE_PRELIMINARY: &str = "UPDATE observations SET superseded_by = $1 \
     WHERE patient_id = $2 AND analyte = $3 AND at = $4 AND superseded_by IS NULL AND preliminary \
     AND id <> $1 \
     AND EXISTS (SELECT 1 FROM observations c WHERE c.id = $1 AND c.superseded_by IS NULL \
     AND NOT c.preliminary)";
/// A preliminary result `$1` that arrives when a current result of patient `$2`, analyte `$3`
/// at `$4` that is not preliminary is stored is superseded by it at once (the lowest id, when
/// there are several).
pub(crate) const SUPERSEDE_LATE_PRELIMINARY: &str = "UPDATE observations SET superseded_by = \
     (SELECT MIN(f.id) FROM observations f WHERE f.patient_id = $2 AND f.analyte = $3 \
     AND f.at = $4 AND f.superseded_by IS NULL AND NOT f.preliminary AND f.id <> $1) \
     WHERE id = $1 AND superseded_by IS NULL AND preliminary \
     AND EXISTS (SELECT 1 FROM observations f WHERE f.patient_id = $2 AND f.analyte = $3 \
     AND f.at = $4 AND f.superseded_by IS NULL AND NOT f.preliminary AND f.id <> $1)";
/// The superseded observations of a patient, with what superseded each.
pub(crate) const SELECT_SUPERSEDED: &str = concat!(
    "SELECT id, recorded_at, ",
    obs_cols!(),
    ", superseded_by FROM observations WHERE patient_id = $1 AND superseded_by IS NOT NULL"
);

pub(crate) const INSERT_ASSESSMENT: &str = "INSERT INTO assessments (id, patient_id, as_of, created_at, knowledge, \
     input_digest, level, json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING";
pub(crate) const SELECT_ASSESSMENT: &str = "SELECT id, patient_id, as_of, created_at, knowledge, input_digest, level, \
     json FROM assessments WHERE id = $1";
pub(crate) const SELECT_ASSESSMENTS: &str = "SELECT id, patient_id, as_of, created_at, knowledge, input_digest, \
     level, json FROM assessments WHERE patient_id = $1 ORDER BY created_at DESC, id DESC";

pub(crate) const INSERT_KEY: &str =
    "INSERT INTO api_keys (id, hash, role, created_at) VALUES ($1, $2, $3, $4)";
pub(crate) const SELECT_KEY_BY_HASH: &str =
    "SELECT id, role, created_at FROM api_keys WHERE hash = $1";

pub(crate) const INSERT_AUDIT: &str =
    "INSERT INTO audit_log (at, key_id, action, patient_id, detail) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const SELECT_AUDIT: &str =
    "SELECT at, key_id, action, patient_id, detail FROM audit_log ORDER BY seq DESC LIMIT $1";

/// CDS feedback: one row per (service, card, outcome, outcome time); a repeat inserts nothing.
pub(crate) const INSERT_FEEDBACK: &str = "INSERT INTO cds_feedback (service_id, card, outcome_at, \
     outcome, accepted_suggestions, override_code, override_system, override_display, has_comment, \
     received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (service_id, card, outcome, outcome_at) DO NOTHING";
/// The columns [`crate::codec::read_feedback`] reads.
macro_rules! feedback_cols {
    () => {
        "service_id, card, outcome, outcome_at, accepted_suggestions, override_code, \
         override_system, override_display, has_comment, received_at FROM cds_feedback"
    };
}
pub(crate) const SELECT_FEEDBACK_BY_KEY: &str = concat!(
    "SELECT ",
    feedback_cols!(),
    " WHERE service_id = $1 AND card = $2 AND outcome_at = $3 AND outcome = $4"
);
pub(crate) const SELECT_FEEDBACK: &str = concat!(
    "SELECT ",
    feedback_cols!(),
    " ORDER BY received_at DESC, service_id DESC, card DESC, outcome_at DESC LIMIT $1"
);

/// The statement with SQLite's `?N` placeholders for PostgreSQL's `$N`. No statement here
/// holds a `$` anywhere else.
pub(crate) fn for_sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}
