//! The PostgreSQL back end: the synchronous `postgres` client, without TLS, behind a mutex.
//!
//! Tables, columns and the stored forms of values are those of the SQLite back end (see
//! `migrations/postgres/`); text columns that are ordered on use the `"C"` collation so that
//! both back ends order alike. A write that returned `Ok` has been committed. Statements are
//! prepared once per connection and kept; a connection found closed (the server restarted)
//! is opened again on the next call.
//!
//! The client runs its own small Tokio runtime and blocks the calling thread: call the store
//! from a blocking thread (`tokio::task::spawn_blocking`), never from inside an async task —
//! and drop it outside one too, since dropping the client shuts that runtime down.
//!
//! The URL is libpq's (`postgres://user@host:port/db?options=-csearch_path%3Dname` selects a
//! schema). Error messages carry PostgreSQL's message and code, never the row detail, so
//! that they cannot leak values into logs.

use crate::codec::{self, Cells, Cols, ExistingEntry, Kind};
use crate::sql;
use crate::{
    ApiKey, AssessmentRow, AuditEntry, CdsFeedback, NewEntry, NewPatient, PatientRow, Role, Store,
    StoreError, StoredEntry,
};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, NoTls, Row, Statement, Transaction};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use time::OffsetDateTime;

/// The advisory lock key that serialises migrations across processes ("leuko" in ASCII).
const MIGRATION_LOCK: i64 = 0x6c_65_75_6b_6f;

/// The PostgreSQL store.
pub struct PgStore {
    conn: Mutex<Conn>,
    url: String,
}

struct Conn {
    client: Client,
    stmts: HashMap<&'static str, Statement>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

fn db(e: postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(d) => StoreError::Database(format!(
            "postgres: {} {}: {}",
            d.severity(),
            d.code().code(),
            d.message()
        )),
        None => StoreError::Database(format!("postgres: {e}")),
    }
}

fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

impl Cells for Row {
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.try_get(i).map_err(db)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.try_get(i).map_err(db)
    }
    fn real(&self, i: usize) -> Result<f64, StoreError> {
        self.try_get(i).map_err(db)
    }
    fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        self.try_get(i).map_err(db)
    }
    fn flag(&self, i: usize) -> Result<bool, StoreError> {
        self.try_get(i).map_err(db)
    }
}

/// The server's address without user, password or query, for error messages.
fn redacted(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let rest = rest.split('?').next().unwrap_or(rest);
    format!("postgres://{rest}")
}

fn connect(url: &str) -> Result<Client, StoreError> {
    Client::connect(url, NoTls).map_err(|e| {
        StoreError::Database(format!("postgres: connecting to {}: {e}", redacted(url)))
    })
}

impl PgStore {
    /// Connects (without TLS) and applies the migrations not yet applied.
    ///
    /// # Errors
    /// [`StoreError::Database`] naming `postgres` and the server (without credentials) when it
    /// cannot be reached, or a migration fails.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let mut client = connect(url)?;
        migrate(&mut client).map_err(|e| {
            StoreError::Database(format!("postgres: migrating {}: {e}", redacted(url)))
        })?;
        Ok(PgStore {
            conn: Mutex::new(Conn {
                client,
                stmts: HashMap::new(),
            }),
            url: url.to_owned(),
        })
    }

    /// The migrations applied: version and when.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn applied_migrations(&self) -> Result<Vec<(i64, OffsetDateTime)>, StoreError> {
        let mut conn = self.lock()?;
        let rows = conn.client.query(sql::SELECT_MIGRATIONS, &[]).map_err(db)?;
        rows.iter()
            .map(|r| {
                let version: i32 = r.try_get(0).map_err(db)?;
                Ok((i64::from(version), codec::parse_time(&r.text(1)?)?))
            })
            .collect()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Conn>, StoreError> {
        // A panic while the lock was held leaves no open transaction (dropping one rolls it
        // back), so a poisoned lock is taken over.
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        // A connection the server terminated may not be marked closed yet (the client learns
        // it on its next read), so it is checked with an empty query: one loopback round trip,
        // small next to a committed write, and no call fails twice after a restart.
        if conn.client.is_closed()
            || conn
                .client
                .is_valid(std::time::Duration::from_secs(2))
                .is_err()
        {
            conn.client = connect(&self.url)?;
            conn.stmts.clear();
        }
        Ok(conn)
    }
}

/// Applies, each in its own transaction holding an advisory lock, the migrations not yet
/// recorded in `schema_migrations`; two processes opening at once apply each migration once.
fn migrate(client: &mut Client) -> Result<(), postgres::Error> {
    for &(version, script) in codec::POSTGRES_MIGRATIONS {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(sql::CREATE_SCHEMA_MIGRATIONS)?;
        let version = i32::try_from(version).unwrap_or(i32::MAX);
        if tx.query_opt(sql::SELECT_MIGRATION, &[&version])?.is_none() {
            tx.batch_execute(script)?;
            let now = codec::time_text(OffsetDateTime::now_utc()).unwrap_or_default();
            tx.execute(sql::INSERT_MIGRATION, &[&version, &now])?;
        }
        tx.commit()?;
    }
    Ok(())
}

/// A statement prepared once per connection.
fn prepared(
    tx: &mut Transaction<'_>,
    stmts: &mut HashMap<&'static str, Statement>,
    sql: &'static str,
) -> Result<Statement, StoreError> {
    if let Some(s) = stmts.get(sql) {
        return Ok(s.clone());
    }
    let s = tx.prepare(sql).map_err(db)?;
    stmts.insert(sql, s.clone());
    Ok(s)
}

/// Runs a statement in a transaction; returns the rows changed.
fn exec(
    tx: &mut Transaction<'_>,
    stmts: &mut HashMap<&'static str, Statement>,
    sql: &'static str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, StoreError> {
    let s = prepared(tx, stmts, sql)?;
    tx.execute(&s, params).map_err(db)
}

/// Runs a query in a transaction.
fn query(
    tx: &mut Transaction<'_>,
    stmts: &mut HashMap<&'static str, Statement>,
    sql: &'static str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, StoreError> {
    let s = prepared(tx, stmts, sql)?;
    tx.query(&s, params).map_err(db)
}

fn existing_entry(
    tx: &mut Transaction<'_>,
    stmts: &mut HashMap<&'static str, Statement>,
    id: &str,
) -> Result<ExistingEntry, StoreError> {
    let rows = query(tx, stmts, sql::SELECT_ENTRY_ID, &[&id])?;
    let r = rows.first().ok_or_else(|| {
        StoreError::Database(format!(
            "postgres: entry id {id:?} registered but not found"
        ))
    })?;
    let (patient_id, kind) = (r.text(0)?, Kind::parse(&r.text(1)?)?);
    let rows = query(tx, stmts, sql::select_entry_by_id(kind), &[&id])?;
    let r = rows.first().ok_or_else(|| {
        StoreError::Database(format!(
            "postgres: {} {id:?} registered but not found",
            kind.as_str()
        ))
    })?;
    let cols = match kind {
        Kind::Observation => Cols::Observation(codec::ObsCols::read(r, 1)?),
        Kind::Condition => Cols::Condition(codec::CondCols::read(r, 1)?),
        Kind::Medication => Cols::Medication(codec::MedCols::read(r, 1)?),
    };
    Ok(ExistingEntry { patient_id, cols })
}

fn insert_entry(
    tx: &mut Transaction<'_>,
    stmts: &mut HashMap<&'static str, Statement>,
    id: &str,
    patient_id: &str,
    recorded_at: &str,
    cols: &Cols,
) -> Result<(), StoreError> {
    match cols {
        Cols::Observation(o) => exec(
            tx,
            stmts,
            sql::INSERT_OBS,
            &[
                &id,
                &patient_id,
                &recorded_at,
                &o.analyte,
                &o.at,
                &o.value,
                &o.comparator,
                &o.reported_value,
                &o.reported_unit,
                &o.has_ref_range,
                &o.ref_low,
                &o.ref_high,
                &o.derived,
                &o.source_ref,
            ],
        ),
        Cols::Condition(c) => exec(
            tx,
            stmts,
            sql::INSERT_COND,
            &[
                &id,
                &patient_id,
                &recorded_at,
                &c.concept,
                &c.text,
                &c.status,
                &c.onset,
                &c.abatement,
                &c.source_ref,
            ],
        ),
        Cols::Medication(m) => exec(
            tx,
            stmts,
            sql::INSERT_MED,
            &[
                &id,
                &patient_id,
                &recorded_at,
                &m.drugs,
                &m.text,
                &m.start,
                &m.end,
                &m.active,
                &m.source_ref,
            ],
        ),
    }?;
    Ok(())
}

fn select_patient(
    tx: &mut Transaction<'_>,
    stmts: &mut HashMap<&'static str, Statement>,
    id: &str,
) -> Result<Option<PatientRow>, StoreError> {
    query(tx, stmts, sql::SELECT_PATIENT, &[&id])?
        .first()
        .map(codec::read_patient)
        .transpose()
}

fn patient_exists(
    tx: &mut Transaction<'_>,
    stmts: &mut HashMap<&'static str, Statement>,
    id: &str,
) -> Result<bool, StoreError> {
    Ok(!query(tx, stmts, sql::PATIENT_EXISTS, &[&id])?.is_empty())
}

/// How many times a transaction that PostgreSQL aborted for a deadlock or a serialisation
/// failure is run again before the error is returned.
const ATTEMPTS: usize = 3;

/// Whether an error is PostgreSQL's deadlock or serialisation failure, after which the whole
/// transaction may simply be run again.
fn is_retryable(e: &StoreError) -> bool {
    let StoreError::Database(m) = e else {
        return false;
    };
    [
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::T_R_SERIALIZATION_FAILURE,
    ]
    .iter()
    .any(|code| m.starts_with("postgres: ") && m.contains(&format!(" {}: ", code.code())))
}

impl PgStore {
    /// Runs `f` in a transaction (read committed, or repeatable read and read-only for
    /// `read_only`), committing when it returns `Ok` and rolling back otherwise. A transaction
    /// aborted by a deadlock or a serialisation failure (two batches taking the same ids in
    /// different orders) is run again, up to [`ATTEMPTS`] times in all.
    fn with_tx<T>(
        &self,
        read_only: bool,
        mut f: impl FnMut(
            &mut Transaction<'_>,
            &mut HashMap<&'static str, Statement>,
        ) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut attempt = 1;
        loop {
            match self.try_tx(read_only, &mut f) {
                Err(e) if attempt < ATTEMPTS && is_retryable(&e) => attempt += 1,
                other => return other,
            }
        }
    }

    fn try_tx<T>(
        &self,
        read_only: bool,
        f: &mut impl FnMut(
            &mut Transaction<'_>,
            &mut HashMap<&'static str, Statement>,
        ) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.lock()?;
        let Conn { client, stmts } = &mut *guard;
        let mut tx = if read_only {
            client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
        } else {
            client.transaction()
        }
        .map_err(db)?;
        let out = f(&mut tx, stmts)?;
        tx.commit().map_err(db)?;
        Ok(out)
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn create_patient(
        &self,
        patient: NewPatient,
        now: OffsetDateTime,
    ) -> Result<(PatientRow, bool), StoreError> {
        let id = match patient.id {
            Some(id) => id,
            None => codec::new_id()?,
        };
        let birth_date = patient.birth_date.map(codec::date_text).transpose()?;
        let created_at = codec::time_text(now)?;
        self.with_tx(false, |tx, stmts| {
            let sex = codec::sex_text(patient.sex);
            let inserted = exec(
                tx,
                stmts,
                sql::INSERT_PATIENT,
                &[&id, &birth_date, &sex, &created_at],
            )? == 1;
            let row = select_patient(tx, stmts, &id)?.ok_or_else(|| {
                StoreError::Database(format!(
                    "postgres: patient {id:?} vanished while being created"
                ))
            })?;
            if !inserted && (row.birth_date != patient.birth_date || row.sex != patient.sex) {
                return Err(StoreError::Conflict(format!(
                    "patient id {id:?} is already used with other demographics"
                )));
            }
            Ok((row, inserted))
        })
    }

    fn patient(&self, id: &str) -> Result<Option<PatientRow>, StoreError> {
        self.with_tx(true, |tx, stmts| select_patient(tx, stmts, id))
    }

    fn write_entries(
        &self,
        patient_id: &str,
        entries: &[NewEntry],
        now: OffsetDateTime,
    ) -> Result<Vec<(String, bool)>, StoreError> {
        let recorded_at = codec::time_text(now)?;
        let prepared_entries = codec::prepare(entries)?;
        let order = codec::write_order(&prepared_entries);
        self.with_tx(false, |tx, stmts| {
            if !patient_exists(tx, stmts, patient_id)? {
                return Err(StoreError::NotFound(format!("patient {patient_id:?}")));
            }
            let mut out = vec![None; prepared_entries.len()];
            for &i in &order {
                let (id, (kind, cols)) = &prepared_entries[i];
                // A concurrent transaction inserting the same id makes this wait for it; once
                // it commits, the insert does nothing and the comparison below sees its row.
                let kind_text = kind.as_str();
                let inserted = exec(
                    tx,
                    stmts,
                    sql::INSERT_ENTRY_ID,
                    &[id, &patient_id, &kind_text],
                )? == 1;
                if inserted {
                    insert_entry(tx, stmts, id, patient_id, &recorded_at, cols)?;
                } else {
                    let existing = existing_entry(tx, stmts, id)?;
                    codec::check_repeat(id, patient_id, cols, &existing)?;
                }
                out[i] = Some((id.clone(), inserted));
            }
            let out: Vec<(String, bool)> = out.into_iter().flatten().collect();
            let inserted: Vec<bool> = out.iter().map(|(_, new)| *new).collect();
            for (stmt, id, analyte, at) in
                codec::supersessions(entries, &prepared_entries, &inserted)
            {
                exec(tx, stmts, stmt, &[&id, &patient_id, &analyte, &at])?;
            }
            Ok(out)
        })
    }

    fn superseded(&self, patient_id: &str) -> Result<Vec<(StoredEntry, String)>, StoreError> {
        let mut out = self.with_tx(true, |tx, stmts| {
            let mut out = Vec::new();
            for r in query(tx, stmts, sql::SELECT_SUPERSEDED, &[&patient_id])? {
                out.push((
                    codec::read_stored(&r, Kind::Observation)?,
                    r.text(codec::SUPERSEDED_BY_COLUMN)?,
                ));
            }
            Ok(out)
        })?;
        codec::sort_superseded(&mut out);
        Ok(out)
    }

    fn entries(&self, patient_id: &str) -> Result<Vec<StoredEntry>, StoreError> {
        let mut out = self.with_tx(true, |tx, stmts| {
            let mut out = Vec::new();
            for kind in [Kind::Observation, Kind::Condition, Kind::Medication] {
                for r in query(
                    tx,
                    stmts,
                    sql::select_entries_of_patient(kind),
                    &[&patient_id],
                )? {
                    out.push(codec::read_stored(&r, kind)?);
                }
            }
            Ok(out)
        })?;
        codec::sort_entries(&mut out);
        Ok(out)
    }

    fn save_assessment(&self, row: &AssessmentRow) -> Result<(), StoreError> {
        let as_of = codec::time_text(row.as_of)?;
        let created_at = codec::time_text(row.created_at)?;
        self.with_tx(false, |tx, stmts| {
            if !patient_exists(tx, stmts, &row.patient_id)? {
                return Err(StoreError::NotFound(format!(
                    "patient {:?}",
                    row.patient_id
                )));
            }
            let inserted = exec(
                tx,
                stmts,
                sql::INSERT_ASSESSMENT,
                &[
                    &row.id,
                    &row.patient_id,
                    &as_of,
                    &created_at,
                    &row.knowledge,
                    &row.input_digest,
                    &row.level,
                    &row.json,
                ],
            )? == 1;
            if !inserted {
                let rows = query(tx, stmts, sql::SELECT_ASSESSMENT, &[&row.id])?;
                let existing = rows
                    .first()
                    .map(codec::read_assessment)
                    .transpose()?
                    .ok_or_else(|| {
                        StoreError::Database(format!("postgres: assessment {:?} vanished", row.id))
                    })?;
                if existing != *row {
                    return Err(StoreError::Conflict(format!(
                        "assessment id {:?} is already used for another assessment",
                        row.id
                    )));
                }
            }
            Ok(())
        })
    }

    fn assessments(&self, patient_id: &str) -> Result<Vec<AssessmentRow>, StoreError> {
        self.with_tx(true, |tx, stmts| {
            query(tx, stmts, sql::SELECT_ASSESSMENTS, &[&patient_id])?
                .iter()
                .map(codec::read_assessment)
                .collect()
        })
    }

    fn create_key(
        &self,
        id: &str,
        hash: &str,
        role: Role,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let created_at = codec::time_text(now)?;
        self.with_tx(false, |tx, stmts| {
            let s = prepared(tx, stmts, sql::INSERT_KEY)?;
            match tx.execute(&s, &[&id, &hash, &role.as_str(), &created_at]) {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                    "key id {id:?} or its hash is already stored"
                ))),
                Err(e) => Err(db(e)),
            }
        })
    }

    fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.with_tx(true, |tx, stmts| {
            query(tx, stmts, sql::SELECT_KEY_BY_HASH, &[&hash])?
                .first()
                .map(codec::read_key)
                .transpose()
        })
    }

    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let at = codec::time_text(entry.at)?;
        self.with_tx(false, |tx, stmts| {
            exec(
                tx,
                stmts,
                sql::INSERT_AUDIT,
                &[
                    &at,
                    &entry.key_id,
                    &entry.action,
                    &entry.patient_id,
                    &entry.detail,
                ],
            )?;
            Ok(())
        })
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = codec::sql_limit(limit);
        self.with_tx(true, |tx, stmts| {
            query(tx, stmts, sql::SELECT_AUDIT, &[&limit])?
                .iter()
                .map(codec::read_audit)
                .collect()
        })
    }

    fn save_cds_feedback(&self, items: &[CdsFeedback]) -> Result<Vec<bool>, StoreError> {
        let mut rows = Vec::with_capacity(items.len());
        for f in items {
            rows.push((
                codec::feedback_cols(f)?,
                codec::time_text(f.outcome_at)?,
                codec::time_text(f.received_at)?,
            ));
        }
        self.with_tx(false, |tx, stmts| {
            let mut out = Vec::with_capacity(items.len());
            for (f, (cols, outcome_at, received_at)) in items.iter().zip(&rows) {
                let reason = f.override_reason.as_ref();
                let code = reason.map(|r| r.code.as_str());
                let system = reason.and_then(|r| r.system.as_deref());
                let display = reason.and_then(|r| r.display.as_deref());
                let inserted = exec(
                    tx,
                    stmts,
                    sql::INSERT_FEEDBACK,
                    &[
                        &f.service_id,
                        &f.card,
                        outcome_at,
                        &cols.outcome,
                        &cols.accepted,
                        &code,
                        &system,
                        &display,
                        &cols.has_comment,
                        received_at,
                    ],
                )? == 1;
                if !inserted {
                    let found = query(
                        tx,
                        stmts,
                        sql::SELECT_FEEDBACK_BY_KEY,
                        &[&f.service_id, &f.card, outcome_at, &cols.outcome],
                    )?;
                    let existing = found
                        .first()
                        .map(codec::read_feedback)
                        .transpose()?
                        .ok_or_else(|| {
                            StoreError::Database(format!(
                                "postgres: feedback for card {:?} vanished",
                                f.card
                            ))
                        })?;
                    if !existing.same_as(f) {
                        return Err(StoreError::Conflict(format!(
                            "{} feedback for card {:?} of {:?} at {outcome_at} is already stored with other content",
                            cols.outcome, f.card, f.service_id
                        )));
                    }
                }
                out.push(inserted);
            }
            Ok(out)
        })
    }

    fn cds_feedback(&self, limit: usize) -> Result<Vec<CdsFeedback>, StoreError> {
        let limit = codec::sql_limit(limit);
        self.with_tx(true, |tx, stmts| {
            query(tx, stmts, sql::SELECT_FEEDBACK, &[&limit])?
                .iter()
                .map(codec::read_feedback)
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn deadlocks_and_serialisation_failures_are_retried() {
        use crate::StoreError::{Conflict, Database};
        assert!(super::is_retryable(&Database(
            "postgres: ERROR 40P01: deadlock detected".into()
        )));
        assert!(super::is_retryable(&Database(
            "postgres: ERROR 40001: could not serialize access".into()
        )));
        assert!(!super::is_retryable(&Database(
            "postgres: ERROR 23505: duplicate key".into()
        )));
        assert!(!super::is_retryable(&Conflict(
            "postgres: ERROR 40P01: ".into()
        )));
    }

    #[test]
    fn urls_are_shown_without_credentials_or_options() {
        assert_eq!(
            super::redacted("postgres://u:secret@db:5432/leuko?options=x"),
            "postgres://db:5432/leuko"
        );
        assert_eq!(
            super::redacted("postgresql://db/leuko"),
            "postgres://db/leuko"
        );
    }
}
