//! The SQLite back end: one file, one connection behind a mutex.
//!
//! Opened with `journal_mode=WAL` (readers do not block the writer, and a crash leaves the
//! database as of the last committed transaction), `synchronous=FULL` (a commit returns only
//! after the write-ahead log is on disk, so a write that returned `Ok` survives a crash of
//! the process or of the machine), `foreign_keys=ON` and a busy timeout of five seconds (for
//! another process holding the write lock). Every write is one `BEGIN IMMEDIATE`
//! transaction, so it takes the write lock before reading what it will compare against.
//!
//! The connection is shared by every thread through a [`Mutex`]; calls are serialised. A
//! panic while it was held leaves no half-done transaction (an unfinished transaction rolls
//! back when dropped), so a poisoned lock is taken over rather than reported.

use crate::codec::{self, Cells, Cols, ExistingEntry, Kind};
use crate::sql::{self, for_sqlite};
use crate::{
    ApiKey, AssessmentRow, AuditEntry, CdsFeedback, NewEntry, NewPatient, PatientRow, Role, Store,
    StoreError, StoredEntry,
};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use time::OffsetDateTime;

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(format!("sqlite: {e}"))
}

impl Cells for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.get(i).map_err(db)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.get(i).map_err(db)
    }
    fn real(&self, i: usize) -> Result<f64, StoreError> {
        self.get(i).map_err(db)
    }
    fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        self.get(i).map_err(db)
    }
    fn flag(&self, i: usize) -> Result<bool, StoreError> {
        self.get(i).map_err(db)
    }
}

impl SqliteStore {
    /// Opens (creating if needed, with permissions for its owner only) the database file at
    /// `path` and applies the migrations not yet applied. `:memory:` opens a private in-memory database (no WAL; for tests).
    ///
    /// # Errors
    /// [`StoreError::Database`] naming `sqlite` and the path when the file cannot be opened,
    /// is not a database, cannot be put in WAL mode, or a migration fails.
    pub fn open(path: &str) -> Result<Self, StoreError> {
        let fail =
            |e: rusqlite::Error| StoreError::Database(format!("sqlite: opening {path:?}: {e}"));
        create_private(path)?;
        let mut conn = Connection::open(path).map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(fail)?;
        if !(mode.eq_ignore_ascii_case("wal")
            || (path == ":memory:" && mode.eq_ignore_ascii_case("memory")))
        {
            return Err(StoreError::Database(format!(
                "sqlite: opening {path:?}: journal mode is {mode}, not WAL"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(fail)?;
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .map_err(fail)?;
        if fk != 1 {
            return Err(StoreError::Database(format!(
                "sqlite: opening {path:?}: foreign keys cannot be enforced"
            )));
        }
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn)
            .map_err(|e| StoreError::Database(format!("sqlite: migrating {path:?}: {e}")))?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    /// The path the store was opened with.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The migrations applied: version and when.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn applied_migrations(&self) -> Result<Vec<(i64, OffsetDateTime)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(sql::SELECT_MIGRATIONS).map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db)? {
            let version: i64 = r.get(0).map_err(db)?;
            out.push((version, codec::parse_time(&r.text(1)?)?));
        }
        Ok(out)
    }

    /// `PRAGMA integrity_check`: `ok`, or the problems found, one a line.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(db)?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        Ok(lines.join("\n"))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Creates a missing database file readable and writable by its owner only (it holds patient
/// data); SQLite gives its `-wal` and `-shm` files the same permissions. An empty file is an
/// empty database. An existing file is left as it is.
fn create_private(path: &str) -> Result<(), StoreError> {
    if path == ":memory:" || path.is_empty() || path.starts_with("file:") {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Database(format!(
            "sqlite: creating {path:?}: {e}"
        ))),
    }
}

/// Applies, each in its own `BEGIN IMMEDIATE` transaction, the migrations not yet recorded in
/// `schema_migrations`. The check is made inside the transaction, so two processes opening
/// the same file at once apply each migration once.
fn migrate(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    conn.execute(sql::CREATE_SCHEMA_MIGRATIONS, [])?;
    for &(version, script) in codec::SQLITE_MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let applied = tx
            .query_row(&for_sqlite(sql::SELECT_MIGRATION), [version], |_| Ok(()))
            .optional()?
            .is_some();
        if !applied {
            tx.execute_batch(script)?;
            let now = codec::time_text(OffsetDateTime::now_utc())
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            tx.execute(&for_sqlite(sql::INSERT_MIGRATION), params![version, now])?;
        }
        tx.commit()?;
    }
    Ok(())
}

fn write_tx(conn: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)
}

fn select_patient(conn: &Connection, id: &str) -> Result<Option<PatientRow>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&for_sqlite(sql::SELECT_PATIENT))
        .map_err(db)?;
    let mut rows = stmt.query([id]).map_err(db)?;
    match rows.next().map_err(db)? {
        Some(r) => Ok(Some(codec::read_patient(r)?)),
        None => Ok(None),
    }
}

fn patient_exists(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    let mut stmt = conn
        .prepare_cached(&for_sqlite(sql::PATIENT_EXISTS))
        .map_err(db)?;
    stmt.exists([id]).map_err(db)
}

fn existing_entry(conn: &Connection, id: &str) -> Result<ExistingEntry, StoreError> {
    let mut stmt = conn
        .prepare_cached(&for_sqlite(sql::SELECT_ENTRY_ID))
        .map_err(db)?;
    let (patient_id, kind): (String, String) = stmt
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(db)?
        .ok_or_else(|| {
            StoreError::Database(format!("sqlite: entry id {id:?} registered but not found"))
        })?;
    let kind = Kind::parse(&kind)?;
    let mut stmt = conn
        .prepare_cached(&for_sqlite(sql::select_entry_by_id(kind)))
        .map_err(db)?;
    let mut rows = stmt.query([id]).map_err(db)?;
    let r = rows.next().map_err(db)?.ok_or_else(|| {
        StoreError::Database(format!(
            "sqlite: {} {id:?} registered but not found",
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
    conn: &Connection,
    id: &str,
    patient_id: &str,
    recorded_at: &str,
    cols: &Cols,
) -> Result<(), StoreError> {
    match cols {
        Cols::Observation(o) => {
            let mut stmt = conn
                .prepare_cached(&for_sqlite(sql::INSERT_OBS))
                .map_err(db)?;
            stmt.execute(params![
                id,
                patient_id,
                recorded_at,
                o.analyte,
                o.at,
                o.value,
                o.comparator,
                o.reported_value,
                o.reported_unit,
                o.has_ref_range,
                o.ref_low,
                o.ref_high,
                o.derived,
                o.source_ref
            ])
        }
        Cols::Condition(c) => {
            let mut stmt = conn
                .prepare_cached(&for_sqlite(sql::INSERT_COND))
                .map_err(db)?;
            stmt.execute(params![
                id,
                patient_id,
                recorded_at,
                c.concept,
                c.text,
                c.status,
                c.onset,
                c.abatement,
                c.source_ref
            ])
        }
        Cols::Medication(m) => {
            let mut stmt = conn
                .prepare_cached(&for_sqlite(sql::INSERT_MED))
                .map_err(db)?;
            stmt.execute(params![
                id,
                patient_id,
                recorded_at,
                m.drugs,
                m.text,
                m.start,
                m.end,
                m.active,
                m.source_ref
            ])
        }
    }
    .map_err(db)?;
    Ok(())
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
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
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let inserted = tx
            .prepare_cached(&for_sqlite(sql::INSERT_PATIENT))
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    birth_date,
                    codec::sex_text(patient.sex),
                    created_at
                ])
            })
            .map_err(db)?
            == 1;
        let row = select_patient(&tx, &id)?.ok_or_else(|| {
            StoreError::Database(format!(
                "sqlite: patient {id:?} vanished while being created"
            ))
        })?;
        if !inserted && (row.birth_date != patient.birth_date || row.sex != patient.sex) {
            return Err(StoreError::Conflict(format!(
                "patient id {id:?} is already used with other demographics"
            )));
        }
        tx.commit().map_err(db)?;
        Ok((row, inserted))
    }

    fn patient(&self, id: &str) -> Result<Option<PatientRow>, StoreError> {
        select_patient(&self.lock(), id)
    }

    fn write_entries(
        &self,
        patient_id: &str,
        entries: &[NewEntry],
        now: OffsetDateTime,
    ) -> Result<Vec<(String, bool)>, StoreError> {
        let recorded_at = codec::time_text(now)?;
        let prepared = codec::prepare(entries)?;
        let order = codec::write_order(&prepared);
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        if !patient_exists(&tx, patient_id)? {
            return Err(StoreError::NotFound(format!("patient {patient_id:?}")));
        }
        let mut out = vec![None; prepared.len()];
        for i in order {
            let (id, (kind, cols)) = &prepared[i];
            let inserted = tx
                .prepare_cached(&for_sqlite(sql::INSERT_ENTRY_ID))
                .and_then(|mut s| s.execute(params![id, patient_id, kind.as_str()]))
                .map_err(db)?
                == 1;
            if inserted {
                insert_entry(&tx, id, patient_id, &recorded_at, cols)?;
            } else {
                codec::check_repeat(id, patient_id, cols, &existing_entry(&tx, id)?)?;
            }
            out[i] = Some((id.clone(), inserted));
        }
        let out: Vec<(String, bool)> = out.into_iter().flatten().collect();
        let inserted: Vec<bool> = out.iter().map(|(_, new)| *new).collect();
        for (stmt, id, analyte, at) in codec::supersessions(entries, &prepared, &inserted) {
            tx.prepare_cached(&for_sqlite(stmt))
                .and_then(|mut s| s.execute(params![id, patient_id, analyte, at]))
                .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(out)
    }

    fn superseded(&self, patient_id: &str) -> Result<Vec<(StoredEntry, String)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&for_sqlite(sql::SELECT_SUPERSEDED))
            .map_err(db)?;
        let mut rows = stmt.query([patient_id]).map_err(db)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db)? {
            out.push((
                codec::read_stored(r, Kind::Observation)?,
                r.text(codec::SUPERSEDED_BY_COLUMN)?,
            ));
        }
        codec::sort_superseded(&mut out);
        Ok(out)
    }

    fn entries(&self, patient_id: &str) -> Result<Vec<StoredEntry>, StoreError> {
        let mut conn = self.lock();
        // One read transaction: the three tables as of one moment.
        let tx = conn.transaction().map_err(db)?;
        let mut out = Vec::new();
        for kind in [Kind::Observation, Kind::Condition, Kind::Medication] {
            let mut stmt = tx
                .prepare_cached(&for_sqlite(sql::select_entries_of_patient(kind)))
                .map_err(db)?;
            let mut rows = stmt.query([patient_id]).map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                out.push(codec::read_stored(r, kind)?);
            }
        }
        drop(tx);
        codec::sort_entries(&mut out);
        Ok(out)
    }

    fn save_assessment(&self, row: &AssessmentRow) -> Result<(), StoreError> {
        let as_of = codec::time_text(row.as_of)?;
        let created_at = codec::time_text(row.created_at)?;
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        if !patient_exists(&tx, &row.patient_id)? {
            return Err(StoreError::NotFound(format!(
                "patient {:?}",
                row.patient_id
            )));
        }
        let inserted = tx
            .prepare_cached(&for_sqlite(sql::INSERT_ASSESSMENT))
            .and_then(|mut s| {
                s.execute(params![
                    row.id,
                    row.patient_id,
                    as_of,
                    created_at,
                    row.knowledge,
                    row.input_digest,
                    row.level,
                    row.json
                ])
            })
            .map_err(db)?
            == 1;
        if !inserted {
            let mut stmt = tx
                .prepare_cached(&for_sqlite(sql::SELECT_ASSESSMENT))
                .map_err(db)?;
            let mut rows = stmt.query([&row.id]).map_err(db)?;
            let existing = match rows.next().map_err(db)? {
                Some(r) => codec::read_assessment(r)?,
                None => {
                    return Err(StoreError::Database(format!(
                        "sqlite: assessment {:?} vanished",
                        row.id
                    )));
                }
            };
            if existing != *row {
                return Err(StoreError::Conflict(format!(
                    "assessment id {:?} is already used for another assessment",
                    row.id
                )));
            }
        }
        tx.commit().map_err(db)?;
        Ok(())
    }

    fn assessments(&self, patient_id: &str) -> Result<Vec<AssessmentRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&for_sqlite(sql::SELECT_ASSESSMENTS))
            .map_err(db)?;
        let mut rows = stmt.query([patient_id]).map_err(db)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db)? {
            out.push(codec::read_assessment(r)?);
        }
        Ok(out)
    }

    fn create_key(
        &self,
        id: &str,
        hash: &str,
        role: Role,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let created_at = codec::time_text(now)?;
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&for_sqlite(sql::INSERT_KEY))
            .map_err(db)?;
        match stmt.execute(params![id, hash, role.as_str(), created_at]) {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::Conflict(format!(
                    "key id {id:?} or its hash is already stored"
                )))
            }
            Err(e) => Err(db(e)),
        }
    }

    fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&for_sqlite(sql::SELECT_KEY_BY_HASH))
            .map_err(db)?;
        let mut rows = stmt.query([hash]).map_err(db)?;
        match rows.next().map_err(db)? {
            Some(r) => Ok(Some(codec::read_key(r)?)),
            None => Ok(None),
        }
    }

    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let at = codec::time_text(entry.at)?;
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&for_sqlite(sql::INSERT_AUDIT))
            .map_err(db)?;
        stmt.execute(params![
            at,
            entry.key_id,
            entry.action,
            entry.patient_id,
            entry.detail
        ])
        .map_err(db)?;
        Ok(())
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&for_sqlite(sql::SELECT_AUDIT))
            .map_err(db)?;
        let mut rows = stmt.query([codec::sql_limit(limit)]).map_err(db)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db)? {
            out.push(codec::read_audit(r)?);
        }
        Ok(out)
    }

    fn save_cds_feedback(&self, items: &[CdsFeedback]) -> Result<Vec<bool>, StoreError> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let mut out = Vec::with_capacity(items.len());
        for f in items {
            let cols = codec::feedback_cols(f)?;
            let outcome_at = codec::time_text(f.outcome_at)?;
            let received_at = codec::time_text(f.received_at)?;
            let reason = f.override_reason.as_ref();
            let inserted = tx
                .prepare_cached(&for_sqlite(sql::INSERT_FEEDBACK))
                .and_then(|mut s| {
                    s.execute(params![
                        f.service_id,
                        f.card,
                        outcome_at,
                        cols.outcome,
                        cols.accepted,
                        reason.map(|r| &r.code),
                        reason.and_then(|r| r.system.as_ref()),
                        reason.and_then(|r| r.display.as_ref()),
                        cols.has_comment,
                        received_at
                    ])
                })
                .map_err(db)?
                == 1;
            if !inserted {
                let mut stmt = tx
                    .prepare_cached(&for_sqlite(sql::SELECT_FEEDBACK_BY_KEY))
                    .map_err(db)?;
                let mut rows = stmt
                    .query(params![f.service_id, f.card, outcome_at, cols.outcome])
                    .map_err(db)?;
                let existing = match rows.next().map_err(db)? {
                    Some(r) => codec::read_feedback(r)?,
                    None => {
                        return Err(StoreError::Database(format!(
                            "sqlite: feedback for card {:?} vanished",
                            f.card
                        )));
                    }
                };
                if !existing.same_as(f) {
                    return Err(StoreError::Conflict(format!(
                        "{} feedback for card {:?} of {:?} at {outcome_at} is already stored with other content",
                        cols.outcome, f.card, f.service_id
                    )));
                }
            }
            out.push(inserted);
        }
        tx.commit().map_err(db)?;
        Ok(out)
    }

    fn cds_feedback(&self, limit: usize) -> Result<Vec<CdsFeedback>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&for_sqlite(sql::SELECT_FEEDBACK))
            .map_err(db)?;
        let mut rows = stmt.query([codec::sql_limit(limit)]).map_err(db)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db)? {
            out.push(codec::read_feedback(r)?);
        }
        Ok(out)
    }
}
