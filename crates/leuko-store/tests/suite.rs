//! The store's shared test suite. Every test is a function of a [`Db`] and runs twice: against
//! SQLite (a fresh file in the temporary directory, removed afterwards) and against PostgreSQL
//! (a fresh schema, dropped afterwards) when `LEUKO_TEST_POSTGRES_URL` is set — otherwise the
//! PostgreSQL variant says it was skipped and passes. `scripts/with-postgres.sh` provides a
//! server: `scripts/with-postgres.sh cargo test -p leuko-store`.
//!
//! The crash test re-executes this binary as a writer (`LEUKO_CRASH_WRITER` set, test
//! `crash_writer`), kills it with SIGKILL after 200 acknowledged writes, and checks that every
//! acknowledged write is there and that the database opens cleanly.

use leuko_core::{
    AnalyteId, Comparator, ConditionEntry, ConditionStatus, MedicationEntry, Observation, RefRange,
    Sex,
};
use leuko_store::postgres::PgStore;
use leuko_store::sqlite::SqliteStore;
use leuko_store::{
    AssessmentRow, AuditEntry, CdsFeedback, Entry, NewEntry, NewPatient, Outcome, OverrideReason,
    Role, Store, StoreError, StoredEntry,
};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use time::macros::{date, datetime};
use time::{Duration as Span, OffsetDateTime};

// ---------------------------------------------------------------------------------------------
// Harness

/// `Result`/`Option` to value, or a panic naming what failed (the workspace denies `unwrap`).
trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T, E: std::fmt::Display> Must<T> for Result<T, E> {
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

impl<T> Must<T> for Option<T> {
    fn must(self, what: &str) -> T {
        match self {
            Some(v) => v,
            None => panic!("{what}: nothing"),
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(name: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000;
    let short: String = name.chars().take(24).collect();
    format!("{short}_{}_{n}_{nanos}", std::process::id())
}

/// A fresh database for one test, removed when dropped.
enum Db {
    Sqlite {
        path: PathBuf,
    },
    Pg {
        admin_url: String,
        url: String,
        schema: String,
    },
}

const PG_ENV: &str = "LEUKO_TEST_POSTGRES_URL";

impl Db {
    fn sqlite(name: &str) -> Db {
        let path = std::env::temp_dir().join(format!("leuko-store-{}.sqlite3", unique(name)));
        Db::Sqlite { path }
    }

    /// A fresh schema on the server named by `LEUKO_TEST_POSTGRES_URL`; `None` when unset.
    fn postgres(name: &str) -> Option<Db> {
        let admin_url = std::env::var(PG_ENV).ok().filter(|u| !u.is_empty())?;
        let schema = format!("t_{}", unique(name));
        let mut client = ::postgres::Client::connect(&admin_url, ::postgres::NoTls)
            .must("connecting to the test server");
        client
            .batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
            .must("creating the test schema");
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        // The schema as search path, and as application name to find the store's connections.
        let url =
            format!("{admin_url}{sep}options=-csearch_path%3D{schema}&application_name={schema}");
        Some(Db::Pg {
            admin_url,
            url,
            schema,
        })
    }

    /// What `leuko_store::open` takes.
    fn url(&self) -> String {
        match self {
            Db::Sqlite { path } => path.to_string_lossy().into_owned(),
            Db::Pg { url, .. } => url.clone(),
        }
    }

    fn open(&self) -> Box<dyn Store> {
        let store = leuko_store::open(&self.url()).must("opening the store");
        let expected = match self {
            Db::Sqlite { .. } => "sqlite",
            Db::Pg { .. } => "postgres",
        };
        assert_eq!(store.backend(), expected);
        store
    }

    fn migrations(&self) -> Vec<(i64, OffsetDateTime)> {
        match self {
            Db::Sqlite { path } => SqliteStore::open(&path.to_string_lossy())
                .must("opening")
                .applied_migrations()
                .must("migrations"),
            Db::Pg { url, .. } => PgStore::open(url)
                .must("opening")
                .applied_migrations()
                .must("migrations"),
        }
    }

    /// `PRAGMA integrity_check` for SQLite; `None` for PostgreSQL.
    fn integrity(&self) -> Option<String> {
        match self {
            Db::Sqlite { path } => Some(
                SqliteStore::open(&path.to_string_lossy())
                    .must("opening")
                    .integrity_check()
                    .must("integrity check"),
            ),
            Db::Pg { .. } => None,
        }
    }

    /// One column of every row of a raw query, as text (to check the stored forms).
    fn raw_texts(&self, query: &str) -> Vec<Option<String>> {
        match self {
            Db::Sqlite { path } => {
                let conn = rusqlite::Connection::open(path).must("opening raw");
                let mut stmt = conn.prepare(query).must("preparing raw");
                stmt.query_map([], |r| r.get::<_, Option<String>>(0))
                    .must("raw query")
                    .collect::<Result<Vec<_>, _>>()
                    .must("raw rows")
            }
            Db::Pg { url, .. } => {
                let mut client =
                    ::postgres::Client::connect(url, ::postgres::NoTls).must("connecting raw");
                client
                    .query(query, &[])
                    .must("raw query")
                    .iter()
                    .map(|r| r.try_get::<_, Option<String>>(0).must("raw cell"))
                    .collect()
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        match self {
            Db::Sqlite { path } => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(p));
                }
            }
            Db::Pg {
                admin_url, schema, ..
            } => {
                if let Ok(mut client) = ::postgres::Client::connect(admin_url, ::postgres::NoTls) {
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
                }
            }
        }
    }
}

fn skipped(name: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "postgres::{name} skipped: {PG_ENV} is not set"
    );
}

/// Runs each named test function against SQLite and (when configured) PostgreSQL.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let db = super::Db::sqlite(stringify!($name));
                    super::$name(&db);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    match super::Db::postgres(stringify!($name)) {
                        Some(db) => super::$name(&db),
                        None => super::skipped(stringify!($name)),
                    }
                }
            )*
        }
    };
}

suite!(
    round_trip_every_field,
    stored_forms,
    idempotent_patient,
    idempotent_entries,
    batch_is_atomic,
    ordering,
    assessments_newest_first,
    keys_by_hash,
    audit_log_newest_first_with_limit,
    not_found,
    record_default_method,
    reopen_keeps_data_and_applies_migrations_once,
    concurrent_writers_store_each_id_once,
    concurrent_first_opens_migrate_once,
    crash_keeps_every_acknowledged_write,
    corrections_supersede_across_batches,
    finals_supersede_preliminary_results,
    cds_feedback_stored_once,
);

// ---------------------------------------------------------------------------------------------
// Fixtures

const T0: OffsetDateTime = datetime!(2026-03-01 08:00 UTC);

fn patient(store: &dyn Store, id: &str) {
    let new = NewPatient {
        id: Some(id.into()),
        birth_date: Some(date!(1970 - 05 - 17)),
        sex: Sex::Female,
    };
    store.create_patient(new, T0).must("creating a patient");
}

fn obs(analyte: AnalyteId, at: OffsetDateTime, value: f64) -> Observation {
    Observation {
        analyte,
        at,
        value,
        comparator: Comparator::Equal,
        reported: None,
        reference_range: None,
        derived: false,
        source_ref: String::new(),
    }
}

fn anc(at: OffsetDateTime, value: f64) -> Entry {
    Entry::Observation(obs(AnalyteId::Anc, at, value))
}

fn cond(text: &str, onset: Option<OffsetDateTime>) -> Entry {
    Entry::Condition(ConditionEntry {
        concept: None,
        text: text.into(),
        status: ConditionStatus::Active,
        onset,
        abatement: None,
        source_ref: String::new(),
    })
}

fn med(text: &str, start: Option<OffsetDateTime>) -> Entry {
    Entry::Medication(MedicationEntry {
        drugs: vec![],
        text: text.into(),
        start,
        end: None,
        active: true,
        source_ref: String::new(),
    })
}

fn with_ids(entries: Vec<Entry>, prefix: &str) -> Vec<(Option<String>, Entry)> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| (Some(format!("{prefix}{i:03}")), e))
        .collect()
}

fn ids(entries: &[StoredEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.id.as_str()).collect()
}

fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, id: &str) {
    match r {
        Err(StoreError::Conflict(msg)) => {
            assert!(msg.contains(id), "conflict message {msg:?} names {id:?}")
        }
        other => panic!("expected a conflict naming {id:?}, got {other:?}"),
    }
}

/// Every field of every kind, with values that are easy to lose: extreme and inexact doubles,
/// times with offsets and nanoseconds, empty and unicode text, every enumeration value.
fn every_field() -> Vec<Entry> {
    let mut out = Vec::new();
    let comparators = [
        Comparator::Equal,
        Comparator::Less,
        Comparator::LessOrEqual,
        Comparator::Greater,
        Comparator::GreaterOrEqual,
    ];
    let values = [
        0.1 + 0.2,
        5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        -1.5e-7,
        1.0 / 3.0,
    ];
    let ranges = [
        None,
        Some(RefRange {
            low: None,
            high: None,
        }),
        Some(RefRange {
            low: Some(1.8),
            high: None,
        }),
        Some(RefRange {
            low: None,
            high: Some(7.7),
        }),
        Some(RefRange {
            low: Some(0.1 + 0.7),
            high: Some(1e300),
        }),
    ];
    for (i, analyte) in AnalyteId::ALL.into_iter().enumerate() {
        out.push(Entry::Observation(Observation {
            analyte,
            at: (T0 + Span::nanoseconds(123_456_789 * i as i64 + 1)).to_offset(
                time::UtcOffset::from_hms(if i % 2 == 0 { 5 } else { -3 }, 30, 0).must("offset"),
            ),
            value: values[i % values.len()],
            comparator: comparators[i % comparators.len()],
            reported: (i % 3 != 0)
                .then(|| (values[(i + 1) % values.len()], format!("10*9/L·{i} \"ü\""))),
            reference_range: ranges[i % ranges.len()],
            derived: i % 2 == 1,
            source_ref: if i % 4 == 0 {
                String::new()
            } else {
                format!("Observation/{i}'; DROP TABLE x; --")
            },
        }));
    }
    let statuses = [
        ConditionStatus::Active,
        ConditionStatus::Resolved,
        ConditionStatus::Absent,
    ];
    for (i, status) in statuses.into_iter().enumerate() {
        out.push(Entry::Condition(ConditionEntry {
            concept: (i != 1).then(|| format!("concept-{i}")),
            text: format!("fièvre {i}"),
            status,
            onset: (i != 2).then(|| T0 - Span::days(i as i64) + Span::nanoseconds(7)),
            abatement: (i == 1).then_some(datetime!(2026-03-02 10:11:12.000000001 -08:00)),
            source_ref: format!("Condition/{i}"),
        }));
    }
    out.push(Entry::Medication(MedicationEntry {
        drugs: vec!["clozapine".into(), "valproate".into()],
        text: "Clozaril 100 mg \"nocte\"".into(),
        start: Some(datetime!(2025-12-24 21:00 +01:00)),
        end: Some(datetime!(2026-02-28 08:00 UTC)),
        active: false,
        source_ref: "MedicationStatement/1".into(),
    }));
    out.push(Entry::Medication(MedicationEntry {
        drugs: vec![],
        text: String::new(),
        start: None,
        end: None,
        active: true,
        source_ref: String::new(),
    }));
    out
}

fn assessment(id: &str, patient_id: &str, created_at: OffsetDateTime) -> AssessmentRow {
    AssessmentRow {
        id: id.into(),
        patient_id: patient_id.into(),
        as_of: created_at - Span::hours(1),
        created_at,
        knowledge: "2026.11.1+a87a".into(),
        input_digest: format!("sha256:{id}"),
        level: "urgent".into(),
        json: format!("{{\"id\":\"{id}\"}}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

fn round_trip_every_field(db: &Db) {
    let store = db.open();
    let born = NewPatient {
        id: Some("p1".into()),
        birth_date: Some(date!(1948 - 02 - 29)),
        sex: Sex::Other,
    };
    let (row, created) = store
        .create_patient(born.clone(), datetime!(2026-03-01 09:00:00.5 +02:00))
        .must("patient");
    assert!(created);
    assert_eq!(store.patient("p1").must("reading").must("p1"), row);
    assert_eq!(
        (row.birth_date, row.sex, row.created_at),
        (
            born.birth_date,
            born.sex,
            datetime!(2026-03-01 07:00:00.5 UTC)
        )
    );
    for (id, sex) in [
        ("p-f", Sex::Female),
        ("p-m", Sex::Male),
        ("p-u", Sex::Unknown),
    ] {
        let (row, _) = store
            .create_patient(
                NewPatient {
                    id: Some(id.into()),
                    birth_date: None,
                    sex,
                },
                T0,
            )
            .must("patient");
        assert_eq!(store.patient(id).must("reading"), Some(row));
    }

    let entries = every_field();
    let batch = with_ids(entries.clone(), "e");
    let now = datetime!(2026-03-03 12:00:00.000000001 UTC);
    let written = store.add_entries("p1", &batch, now).must("writing");
    assert_eq!(
        written,
        batch
            .iter()
            .map(|(id, _)| (id.clone().must("id"), true))
            .collect::<Vec<_>>()
    );

    let stored = store.entries("p1").must("reading");
    assert_eq!(stored.len(), entries.len());
    for (id, entry) in &batch {
        let id = id.as_deref().must("id");
        let back = stored.iter().find(|s| s.id == id).must(id);
        assert_eq!(&back.entry, entry, "entry {id}");
        assert_eq!(back.recorded_at, now);
        if let (Entry::Observation(a), Entry::Observation(b)) = (&back.entry, entry) {
            assert_eq!(
                a.value.to_bits(),
                b.value.to_bits(),
                "value of {id} bit for bit"
            );
            assert_eq!(
                a.reported.as_ref().map(|r| r.0.to_bits()),
                b.reported.as_ref().map(|r| r.0.to_bits())
            );
        }
    }
}

fn stored_forms(db: &Db) {
    let store = db.open();
    patient(&*store, "p1");
    let entries = vec![
        anc(datetime!(2026-03-01 09:30:00.5 +01:00), 1.0),
        Entry::Medication(MedicationEntry {
            drugs: vec!["clozapine".into(), "valproate".into()],
            text: "x".into(),
            start: None,
            end: None,
            active: true,
            source_ref: String::new(),
        }),
    ];
    store
        .add_entries("p1", &with_ids(entries, "e"), T0)
        .must("writing");
    // Times are UTC RFC 3339 text of fixed width; dates are ISO; drug ids a JSON array.
    assert_eq!(
        db.raw_texts("SELECT at FROM observations"),
        vec![Some("2026-03-01T08:30:00.500000000Z".into())]
    );
    assert_eq!(
        db.raw_texts("SELECT recorded_at FROM observations"),
        vec![Some("2026-03-01T08:00:00.000000000Z".into())]
    );
    assert_eq!(
        db.raw_texts("SELECT birth_date FROM patients"),
        vec![Some("1970-05-17".into())]
    );
    assert_eq!(
        db.raw_texts("SELECT drugs FROM medications"),
        vec![Some("[\"clozapine\",\"valproate\"]".into())]
    );
    assert_eq!(
        db.raw_texts("SELECT sex FROM patients"),
        vec![Some("female".into())]
    );
    // Values that cannot be stored exactly are refused, not altered.
    for bad in [f64::NAN, f64::INFINITY] {
        assert!(matches!(
            store.add_entries("p1", &[(None, anc(T0, bad))], T0),
            Err(StoreError::Conflict(_))
        ));
    }
    let far = datetime!(-0001-12-31 23:00 UTC);
    assert!(matches!(
        store.add_entries("p1", &[(None, anc(far, 1.0))], T0),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.entries("p1").must("reading").len(), 2);
}

fn idempotent_patient(db: &Db) {
    let store = db.open();
    let new = NewPatient {
        id: Some("p1".into()),
        birth_date: Some(date!(1990 - 01 - 02)),
        sex: Sex::Male,
    };
    let (first, created) = store.create_patient(new.clone(), T0).must("first");
    assert!(created);
    let (again, created) = store
        .create_patient(new.clone(), T0 + Span::days(1))
        .must("again");
    assert!(!created);
    assert_eq!(
        again, first,
        "the existing row, with its first creation time"
    );
    assert_conflict(
        store.create_patient(
            NewPatient {
                sex: Sex::Female,
                ..new.clone()
            },
            T0,
        ),
        "p1",
    );
    assert_conflict(
        store.create_patient(
            NewPatient {
                birth_date: None,
                ..new.clone()
            },
            T0,
        ),
        "p1",
    );
    assert_eq!(store.patient("p1").must("reading"), Some(first));

    // Without an id, each call makes a new patient with a generated id.
    let anon = NewPatient {
        id: None,
        birth_date: None,
        sex: Sex::Unknown,
    };
    let (a, ca) = store.create_patient(anon.clone(), T0).must("anonymous");
    let (b, cb) = store.create_patient(anon, T0).must("anonymous");
    assert!(ca && cb);
    assert_ne!(a.id, b.id);
    assert_eq!(a.id.len(), 32);
    assert!(a.id.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(store.patient(&a.id).must("reading"), Some(a));
}

fn idempotent_entries(db: &Db) {
    let store = db.open();
    patient(&*store, "p1");
    patient(&*store, "p2");
    let batch = with_ids(
        vec![
            anc(T0, 0.4),
            cond("fever", Some(T0)),
            med("clozapine", Some(T0)),
        ],
        "e",
    );
    let first = store.add_entries("p1", &batch, T0).must("first");
    assert!(first.iter().all(|(_, new)| *new));
    let again = store
        .add_entries("p1", &batch, T0 + Span::hours(1))
        .must("again");
    assert_eq!(
        again,
        vec![
            ("e000".into(), false),
            ("e001".into(), false),
            ("e002".into(), false)
        ]
    );
    let stored = store.entries("p1").must("reading");
    assert_eq!(stored.len(), 3, "written twice, stored once");
    assert!(
        stored.iter().all(|e| e.recorded_at == T0),
        "the first write's time is kept"
    );

    // The same entry with its time in another offset is the same entry.
    let shifted = anc(
        T0.to_offset(time::UtcOffset::from_hms(-5, 0, 0).must("offset")),
        0.4,
    );
    assert_eq!(
        store
            .add_entries("p1", &[(Some("e000".into()), shifted)], T0)
            .must("shifted"),
        vec![("e000".into(), false)]
    );

    // A reused id with other content, of another kind, or for another patient is a conflict.
    assert_conflict(
        store.add_entries("p1", &[(Some("e000".into()), anc(T0, 0.5))], T0),
        "e000",
    );
    assert_conflict(
        store.add_entries("p1", &[(Some("e000".into()), cond("fever", Some(T0)))], T0),
        "e000",
    );
    assert_conflict(
        store.add_entries("p2", &[(Some("e001".into()), cond("fever", Some(T0)))], T0),
        "e001",
    );
    let Entry::Medication(m) = med("clozapine", Some(T0)) else {
        panic!("a medicine")
    };
    let stopped = Entry::Medication(MedicationEntry { active: false, ..m });
    assert_conflict(
        store.add_entries("p1", &[(Some("e002".into()), stopped)], T0),
        "e002",
    );
    assert_eq!(store.entries("p1").must("reading"), stored);
    assert!(store.entries("p2").must("reading").is_empty());

    // The same id twice in one batch: stored once, the second reported as a repeat.
    let twice = vec![
        (Some("x".into()), anc(T0, 1.0)),
        (Some("x".into()), anc(T0, 1.0)),
    ];
    assert_eq!(
        store.add_entries("p2", &twice, T0).must("twice"),
        vec![("x".into(), true), ("x".into(), false)]
    );

    // Without ids, identical entries are both kept, under distinct generated ids.
    let anon = vec![(None, anc(T0, 2.0)), (None, anc(T0, 2.0))];
    let out = store.add_entries("p2", &anon, T0).must("anonymous");
    assert!(out.iter().all(|(_, new)| *new));
    assert_ne!(out[0].0, out[1].0);
    assert_eq!(store.entries("p2").must("reading").len(), 3);
}

fn batch_is_atomic(db: &Db) {
    let store = db.open();
    patient(&*store, "p1");
    store
        .add_entries("p1", &[(Some("old".into()), anc(T0, 1.0))], T0)
        .must("first");
    let before = store.entries("p1").must("reading");

    // A conflict at the end undoes the entries before it in the same batch.
    let batch = vec![
        (Some("new-1".into()), anc(T0 + Span::days(1), 0.3)),
        (None, cond("fever", None)),
        (Some("new-2".into()), med("G-CSF", None)),
        (Some("old".into()), anc(T0, 9.9)),
    ];
    assert_conflict(store.add_entries("p1", &batch, T0), "old");
    assert_eq!(
        store.entries("p1").must("reading"),
        before,
        "nothing of the failed batch is stored"
    );

    // So does a value that cannot be stored.
    let batch = vec![
        (Some("new-1".into()), anc(T0, 0.3)),
        (Some("new-3".into()), anc(T0, f64::NAN)),
    ];
    assert!(store.add_entries("p1", &batch, T0).is_err());
    assert_eq!(store.entries("p1").must("reading"), before);

    // The ids of a failed batch are free: the same batch without the conflict is stored whole.
    let ok = store
        .add_entries("p1", &[(Some("new-1".into()), anc(T0, 0.3))], T0)
        .must("retry");
    assert_eq!(ok, vec![("new-1".into(), true)]);
    // An empty batch is fine.
    assert!(store.add_entries("p1", &[], T0).must("empty").is_empty());
}

fn ordering(db: &Db) {
    let store = db.open();
    patient(&*store, "p1");
    let batch = vec![
        (Some("m-none".into()), med("unknown start", None)),
        (Some("c-none".into()), cond("no onset", None)),
        (Some("b".into()), anc(T0 + Span::days(2), 1.0)),
        (Some("a".into()), anc(T0 + Span::days(2), 1.0)),
        (
            Some("z-early".into()),
            cond("fever", Some(T0 - Span::days(3))),
        ),
        (
            Some("m-start".into()),
            med("clozapine", Some(T0 - Span::days(30))),
        ),
        // Half a second later than T0 + 1 day, in another offset: after "c".
        (
            Some("d".into()),
            anc(datetime!(2026-03-02 09:00:00.5 +01:00), 1.0),
        ),
        (Some("c".into()), anc(T0 + Span::days(1), 1.0)),
        (
            Some("c-late".into()),
            cond("rash", Some(T0 + Span::days(9))),
        ),
    ];
    store.add_entries("p1", &batch, T0).must("writing");
    let stored = store.entries("p1").must("reading");
    assert_eq!(
        ids(&stored),
        vec![
            "m-start", "z-early", "c", "d", "a", "b", "c-late", "c-none", "m-none"
        ]
    );
}

fn assessments_newest_first(db: &Db) {
    let store = db.open();
    patient(&*store, "p1");
    patient(&*store, "p2");
    let rows = [
        assessment("a1", "p1", T0),
        assessment("a3", "p1", T0 + Span::days(2)),
        assessment("a2", "p1", T0 + Span::days(1)),
        assessment("b1", "p2", T0 + Span::days(5)),
    ];
    for r in &rows {
        store.save_assessment(r).must("saving");
    }
    let listed = store.assessments("p1").must("listing");
    assert_eq!(
        listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["a3", "a2", "a1"]
    );
    assert_eq!(listed[2], rows[0], "every field round-trips");
    // Saving the same row again is a no-op; the same id for something else is a conflict.
    store.save_assessment(&rows[0]).must("again");
    assert_eq!(store.assessments("p1").must("listing").len(), 3);
    assert_conflict(
        store.save_assessment(&AssessmentRow {
            level: "routine".into(),
            ..rows[0].clone()
        }),
        "a1",
    );
    assert!(matches!(
        store.save_assessment(&assessment("x", "nobody", T0)),
        Err(StoreError::NotFound(_))
    ));
    assert!(store.assessments("nobody").must("listing").is_empty());
}

fn keys_by_hash(db: &Db) {
    let store = db.open();
    store.create_key("k1", "hash-1", Role::Read, T0).must("k1");
    store
        .create_key("k2", "hash-2", Role::Admin, T0 + Span::seconds(1))
        .must("k2");
    store.create_key("k3", "hash-3", Role::Write, T0).must("k3");
    let k2 = store.key_by_hash("hash-2").must("reading").must("k2");
    assert_eq!(
        (k2.id.as_str(), k2.role, k2.created_at),
        ("k2", Role::Admin, T0 + Span::seconds(1))
    );
    assert_eq!(
        store.key_by_hash("hash-3").must("reading").must("k3").role,
        Role::Write
    );
    assert_eq!(
        store.key_by_hash("hash-1").must("reading").must("k1").role,
        Role::Read
    );
    assert_eq!(
        store.key_by_hash("HASH-1").must("reading"),
        None,
        "hashes match exactly"
    );
    assert_eq!(store.key_by_hash("nothing").must("reading"), None);
    assert!(matches!(
        store.create_key("k4", "hash-1", Role::Read, T0),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.create_key("k1", "hash-9", Role::Read, T0),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.key_by_hash("hash-9").must("reading"), None);
}

fn audit_log_newest_first_with_limit(db: &Db) {
    let store = db.open();
    assert!(store.audit_log(10).must("empty log").is_empty());
    let entries: Vec<AuditEntry> = (0..5)
        .map(|i| AuditEntry {
            // Not in time order: the log is newest first by when it was written.
            at: T0 + Span::minutes(if i == 3 { -60 } else { i }),
            key_id: format!("k{}", i % 2),
            action: if i % 2 == 0 {
                "read-timeline".into()
            } else {
                "add-entries".into()
            },
            patient_id: (i != 2).then(|| format!("p{i}")),
            detail: format!("{i} entries"),
        })
        .collect();
    for e in &entries {
        store.audit(e).must("auditing");
    }
    let newest: Vec<AuditEntry> = entries.iter().rev().cloned().collect();
    assert_eq!(store.audit_log(3).must("log"), newest[..3].to_vec());
    assert_eq!(store.audit_log(100).must("log"), newest);
    assert_eq!(store.audit_log(usize::MAX).must("log").len(), 5);
    assert!(store.audit_log(0).must("log").is_empty());
}

fn not_found(db: &Db) {
    let store = db.open();
    match store.add_entries("nobody", &[(Some("e".into()), anc(T0, 1.0))], T0) {
        Err(StoreError::NotFound(msg)) => assert!(msg.contains("nobody"), "{msg}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(matches!(
        store.add_entries("nobody", &[], T0),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.record("nobody"),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.patient("nobody").must("reading"), None);
    assert!(store.entries("nobody").must("reading").is_empty());
    // The id of the failed write was not taken.
    patient(&*store, "p1");
    assert_eq!(
        store
            .add_entries("p1", &[(Some("e".into()), anc(T0, 1.0))], T0)
            .must("writing"),
        vec![("e".into(), true)]
    );
}

fn record_default_method(db: &Db) {
    let store = db.open();
    patient(&*store, "p1");
    let batch = vec![
        (None, med("clozapine", Some(T0 - Span::days(60)))),
        (None, anc(T0, 0.4)),
        (None, cond("fever", Some(T0 + Span::hours(1)))),
        (None, anc(T0 - Span::days(7), 1.9)),
        (
            None,
            Entry::Observation(obs(AnalyteId::Temperature, T0 + Span::hours(2), 38.4)),
        ),
    ];
    store.add_entries("p1", &batch, T0).must("writing");
    let record = store.record("p1").must("record");
    assert_eq!(record.patient.birth_date, Some(date!(1970 - 05 - 17)));
    assert_eq!(record.patient.sex, Sex::Female);
    let values: Vec<f64> = record.observations.iter().map(|o| o.value).collect();
    assert_eq!(values, vec![1.9, 0.4, 38.4], "observations oldest first");
    assert_eq!(record.conditions.len(), 1);
    assert_eq!(record.conditions[0].text, "fever");
    assert_eq!(record.medications.len(), 1);
    assert_eq!(record.medications[0].text, "clozapine");
    assert!(record.notes.is_empty());
}

fn reopen_keeps_data_and_applies_migrations_once(db: &Db) {
    {
        let store = db.open();
        patient(&*store, "p1");
        store
            .add_entries("p1", &with_ids(every_field(), "e"), T0)
            .must("writing");
        store
            .save_assessment(&assessment("a1", "p1", T0))
            .must("assessment");
        store
            .create_key("k1", "hash-1", Role::Admin, T0)
            .must("key");
        store
            .audit(&AuditEntry {
                at: T0,
                key_id: "k1".into(),
                action: "create-patient".into(),
                patient_id: Some("p1".into()),
                detail: String::new(),
            })
            .must("audit");
    }
    let migrations = db.migrations();
    assert_eq!(
        migrations.iter().map(|m| m.0).collect::<Vec<_>>(),
        migration_files(db),
        "every migration file applied"
    );
    for _ in 0..2 {
        let store = db.open();
        let stored = store.entries("p1").must("reading");
        assert_eq!(stored.len(), every_field().len());
        for (id, e) in with_ids(every_field(), "e") {
            let id = id.must("id");
            assert_eq!(stored.iter().find(|s| s.id == id).must(&id).entry, e);
        }
        assert_eq!(
            store.assessments("p1").must("assessments"),
            vec![assessment("a1", "p1", T0)]
        );
        assert_eq!(
            store.key_by_hash("hash-1").must("key").must("k1").role,
            Role::Admin
        );
        assert_eq!(store.audit_log(10).must("audit").len(), 1);
        drop(store);
        assert_eq!(db.migrations(), migrations, "not applied again");
    }
    if let Some(check) = db.integrity() {
        assert_eq!(check, "ok");
    }
    #[cfg(unix)]
    if let Db::Sqlite { path } = db {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .must("the database file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the database file is its owner's only");
    }
}

/// The versions of the back end's migration files (`migrations/<backend>/NNNN_name.sql`).
fn migration_files(db: &Db) -> Vec<i64> {
    let backend = match db {
        Db::Sqlite { .. } => "sqlite",
        Db::Pg { .. } => "postgres",
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut versions: Vec<i64> = std::fs::read_dir(&dir)
        .must("the migrations directory")
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".sql")?.split('_').next()?.parse().ok()
        })
        .collect();
    versions.sort_unstable();
    versions
}

fn concurrent_writers_store_each_id_once(db: &Db) {
    let setup = db.open();
    patient(&*setup, "p1");
    drop(setup);
    // Four writers, each with its own connection, write the same 40 ids in batches of 10; odd
    // writers go through the batches, and through each batch, backwards (batches sharing ids
    // in opposite orders: the store must not deadlock, nor store an id twice).
    let results: Vec<Vec<(String, bool)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|writer| {
                s.spawn(move || {
                    let store = db.open();
                    let mut out = Vec::new();
                    for chunk in 0..4_u32 {
                        let chunk = if writer % 2 == 1 { 3 - chunk } else { chunk };
                        let mut batch: Vec<_> = (0..10)
                            .map(|i| {
                                let n: u32 = chunk * 10 + i;
                                (
                                    Some(format!("e{n:02}")),
                                    anc(T0 + Span::minutes(i64::from(n)), f64::from(n) / 10.0),
                                )
                            })
                            .collect();
                        if writer % 2 == 1 {
                            batch.reverse();
                        }
                        let written = store.add_entries("p1", &batch, T0).must("concurrent write");
                        let expected: Vec<_> =
                            batch.iter().map(|(id, _)| id.clone().must("id")).collect();
                        assert_eq!(
                            written.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
                            expected
                        );
                        out.extend(written);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(out) => out,
                Err(_) => panic!("a writer thread panicked"),
            })
            .collect()
    });
    let newly: usize = results.iter().flatten().filter(|(_, new)| *new).count();
    assert_eq!(
        newly, 40,
        "each id newly stored exactly once across writers"
    );
    let stored = db.open().entries("p1").must("reading");
    assert_eq!(stored.len(), 40);
}

fn concurrent_first_opens_migrate_once(db: &Db) {
    // Four connections open a database nobody has opened yet, at once.
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| drop(db.open()))).collect();
        for h in handles {
            if h.join().is_err() {
                panic!("an opening thread panicked");
            }
        }
    });
    assert_eq!(
        db.migrations().iter().map(|m| m.0).collect::<Vec<_>>(),
        migration_files(db)
    );
    let store = db.open();
    patient(&*store, "p1");
    assert!(store.patient("p1").must("reading").is_some());
}

/// What cannot be opened is an error naming the back end, not a panic.
#[test]
fn open_errors_name_the_back_end() {
    let db = Db::sqlite("not_a_database");
    let Db::Sqlite { path } = &db else {
        unreachable!("a SQLite database")
    };
    std::fs::write(
        path,
        b"this is not a database, it is a text file of some length........",
    )
    .must("writing");
    match leuko_store::open(&db.url()) {
        Err(StoreError::Database(m)) => assert!(m.starts_with("sqlite:"), "{m}"),
        Err(e) => panic!("expected a database error, got {e}"),
        Ok(_) => panic!("a text file opened as a database"),
    }
    let dir = std::env::temp_dir().join(format!("leuko-store-{}", unique("no_such_dir")));
    let missing = dir.join("x.sqlite3");
    match leuko_store::open(&format!("sqlite://{}", missing.to_string_lossy())) {
        Err(StoreError::Database(m)) => assert!(m.starts_with("sqlite:"), "{m}"),
        Err(e) => panic!("expected a database error, got {e}"),
        Ok(_) => panic!("opened a file in a directory that does not exist"),
    }
    match leuko_store::open("postgres://nobody:secret@127.0.0.1:1/leuko") {
        Err(StoreError::Database(m)) => {
            assert!(m.starts_with("postgres:"), "{m}");
            assert!(!m.contains("secret"), "no password in {m}");
        }
        Err(e) => panic!("expected a database error, got {e}"),
        Ok(_) => panic!("connected to port 1"),
    }
}

/// A PostgreSQL store whose connection the server drops (a restart, an administrator) opens a
/// new one: the call that finds it broken fails, and the next works.
#[test]
fn postgres_reconnects_after_its_connection_is_terminated() {
    let Some(db) = Db::postgres("reconnects") else {
        skipped("reconnects_after_its_connection_is_terminated");
        return;
    };
    let Db::Pg {
        admin_url, schema, ..
    } = &db
    else {
        unreachable!("a PostgreSQL database")
    };
    let store = db.open();
    patient(&*store, "p1");
    let mut admin = ::postgres::Client::connect(admin_url, ::postgres::NoTls).must("connecting");
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[schema],
        )
        .must("terminating");
    assert_eq!(killed.len(), 1, "the store's one connection");
    let mut results = Vec::new();
    for _ in 0..3 {
        let r = store.patient("p1");
        let ok = matches!(r, Ok(Some(_)));
        results.push(r);
        if ok {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(matches!(results.last(), Some(Ok(Some(_)))), "{results:?}");
    assert!(results.len() <= 2, "at most one call fails: {results:?}");
    store
        .add_entries("p1", &[(None, anc(T0, 1.0))], T0)
        .must("writing after reconnecting");
}

// ---------------------------------------------------------------------------------------------
// Crash test

const CRASH_ENV: &str = "LEUKO_CRASH_WRITER";
const CRASH_PATIENT: &str = "crash-patient";
const ACKS_BEFORE_KILL: usize = 200;

/// The writer half of the crash test: does nothing unless `LEUKO_CRASH_WRITER` names a store.
/// Then it writes one entry per transaction and prints `ACK <id>` after each returns, until it
/// is killed.
#[test]
fn crash_writer() {
    let Ok(url) = std::env::var(CRASH_ENV) else {
        return;
    };
    let store = leuko_store::open(&url).must("writer opening the store");
    let new = NewPatient {
        id: Some(CRASH_PATIENT.into()),
        birth_date: None,
        sex: Sex::Unknown,
    };
    store
        .create_patient(new, T0)
        .must("writer creating the patient");
    let mut out = std::io::stdout().lock();
    for i in 0..1_000_000_u32 {
        let id = format!("crash-{i:07}");
        let entry = anc(T0 + Span::seconds(i64::from(i)), f64::from(i) / 100.0);
        store
            .add_entries(
                CRASH_PATIENT,
                &[(Some(id.clone()), entry)],
                OffsetDateTime::now_utc(),
            )
            .must("writer");
        writeln!(out, "ACK {id}").must("writer printing");
        out.flush().must("writer flushing");
    }
    // Never returns normally: the parent kills it long before.
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Kills the child when dropped, so that a failing test leaves no writer behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn crash_keeps_every_acknowledged_write(db: &Db) {
    // The database exists and is migrated before the writer starts.
    drop(db.open());
    let exe = std::env::current_exe().must("this test binary");
    let mut child = Killed(
        Command::new(exe)
            .args(["--exact", "crash_writer", "--nocapture", "--test-threads=1"])
            .env(CRASH_ENV, db.url())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .must("starting the writer"),
    );
    let stdout = child.0.stdout.take().must("the writer's output");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(id) = line.strip_prefix("ACK ")
                && tx.send(id.to_owned()).is_err()
            {
                break;
            }
        }
    });
    let mut acked = Vec::new();
    while acked.len() < ACKS_BEFORE_KILL {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(id) => acked.push(id),
            Err(e) => panic!(
                "the writer stopped after {} acknowledgements: {e}",
                acked.len()
            ),
        }
    }
    // SIGKILL, mid-burst: the writer is most likely inside a transaction.
    child.0.kill().must("killing the writer");
    let status = child.0.wait().must("waiting for the writer");
    assert!(
        !status.success(),
        "the writer was killed, not finished: {status}"
    );
    // Acknowledgements printed between reading the 200th and the kill count too: read the
    // pipe to its end (the reader thread stops there and drops its sender).
    while let Ok(id) = rx.recv_timeout(Duration::from_secs(30)) {
        acked.push(id);
    }

    let store = db.open();
    let stored: HashSet<String> = store
        .entries(CRASH_PATIENT)
        .must("reading after the crash")
        .into_iter()
        .map(|e| e.id)
        .collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert!(stored.len() >= acked.len());
    let _ = writeln!(
        std::io::stderr(),
        "crash test ({}): writer killed after {} acknowledged writes; {} stored",
        store.backend(),
        acked.len(),
        stored.len()
    );
    // The store still takes writes, and the database is sound.
    store
        .add_entries(CRASH_PATIENT, &[(Some("after".into()), anc(T0, 1.0))], T0)
        .must("writing after the crash");
    drop(store);
    if let Some(check) = db.integrity() {
        assert_eq!(check, "ok");
    }
}

fn feedback(card: &str, outcome: Outcome, at: OffsetDateTime) -> CdsFeedback {
    CdsFeedback {
        service_id: "leuko-patient-view".into(),
        card: card.into(),
        outcome,
        outcome_at: at,
        accepted_suggestions: match outcome {
            Outcome::Accepted => vec!["s-1".into(), "s-2".into()],
            Outcome::Overridden => Vec::new(),
        },
        override_reason: match outcome {
            Outcome::Accepted => None,
            Outcome::Overridden => Some(OverrideReason {
                code: "already-addressed".into(),
                system: Some("https://example.invalid/leuko/override".into()),
                display: Some("Already being addressed".into()),
            }),
        },
        has_comment: outcome == Outcome::Overridden,
        received_at: T0 + Span::minutes(5),
    }
}

fn cds_feedback_stored_once(db: &Db) {
    let store = db.open();
    assert!(store.cds_feedback(10).must("empty").is_empty());
    let accepted = feedback("card-a", Outcome::Accepted, T0);
    let overridden = feedback("card-b", Outcome::Overridden, T0 + Span::seconds(1));
    let mut minimal = feedback("card-c", Outcome::Overridden, T0);
    minimal.override_reason = None;
    minimal.has_comment = false;
    minimal.received_at = T0 + Span::minutes(6);
    assert_eq!(
        store
            .save_cds_feedback(&[accepted.clone(), overridden.clone()])
            .must("saving"),
        vec![true, true]
    );
    assert_eq!(
        store.save_cds_feedback(&[minimal.clone()]).must("saving"),
        vec![true]
    );
    // The same feedback again, received later, is not stored again.
    let mut again = accepted.clone();
    again.received_at = T0 + Span::hours(1);
    assert_eq!(
        store.save_cds_feedback(&[again]).must("repeat"),
        vec![false]
    );
    // The same card and time with other content is a conflict, and undoes its whole batch.
    let mut other = accepted.clone();
    other.accepted_suggestions = vec!["s-9".into()];
    let fresh = feedback("card-d", Outcome::Accepted, T0);
    match store.save_cds_feedback(&[fresh, other]) {
        Err(StoreError::Conflict(m)) => assert!(m.contains("card-a"), "{m}"),
        r => panic!("expected a conflict, got {r:?}"),
    }
    // Newest received first; card-d was rolled back.
    assert_eq!(
        store.cds_feedback(10).must("reading"),
        vec![minimal, overridden, accepted.clone()]
    );
    assert_eq!(store.cds_feedback(1).must("reading").len(), 1);
    // An outcome time given in another offset is the same instant.
    let mut shifted = accepted;
    shifted.outcome_at = T0.to_offset(time::macros::offset!(+02:00));
    assert_eq!(
        store.save_cds_feedback(&[shifted]).must("offset"),
        vec![false]
    );
}

// ---------------------------------------------------------------------------------------------
// Corrected results (HL7 OBX-11 C) arriving in a later batch

fn correction(id: &str, at: OffsetDateTime, value: f64) -> NewEntry {
    NewEntry {
        id: Some(id.into()),
        entry: anc(at, value),
        corrects: true,
        preliminary: false,
    }
}

/// A result as an HL7 message brings it: preliminary (OBX-11 P) or final (F).
fn result(id: &str, at: OffsetDateTime, value: f64, preliminary: bool) -> NewEntry {
    NewEntry {
        id: Some(id.into()),
        entry: anc(at, value),
        corrects: false,
        preliminary,
    }
}

fn current_anc(store: &dyn Store, patient_id: &str, at: OffsetDateTime) -> Vec<f64> {
    store
        .record(patient_id)
        .must("record")
        .observations
        .iter()
        .filter(|o| o.analyte == AnalyteId::Anc && o.at == at)
        .map(|o| o.value)
        .collect()
}

fn superseded_ids(store: &dyn Store, patient_id: &str) -> Vec<(String, String)> {
    store
        .superseded(patient_id)
        .must("superseded")
        .into_iter()
        .map(|(e, by)| (e.id, by))
        .collect()
}

fn corrections_supersede_across_batches(db: &Db) {
    let store = db.open();
    patient(&*store, "p1");
    patient(&*store, "p2");
    let later = T0 + Span::days(1);
    let wbc = Entry::Observation(obs(AnalyteId::Wbc, T0, 2.0));
    // Message 1: finals.
    let m1 = vec![
        (Some("m1-1".into()), anc(T0, 0.4)),
        (Some("m1-2".into()), wbc),
        (Some("m1-3".into()), anc(later, 0.9)),
    ];
    store.add_entries("p1", &m1, T0).must("message 1");
    store
        .add_entries("p2", &[(Some("o-1".into()), anc(T0, 0.4))], T0)
        .must("other patient");
    // Message 2: the ANC at T0 corrected.
    let m2 = [correction("m2-1", T0, 1.4)];
    let r = store.write_entries("p1", &m2, later).must("message 2");
    assert_eq!(r, vec![("m2-1".into(), true)]);
    assert_eq!(current_anc(&*store, "p1", T0), vec![1.4]);
    assert_eq!(
        ids(&store.entries("p1").must("entries")),
        vec!["m1-2", "m2-1", "m1-3"],
        "the superseded final is not in the history; other analytes and times are untouched"
    );
    assert_eq!(
        superseded_ids(&*store, "p1"),
        vec![("m1-1".to_owned(), "m2-1".to_owned())],
        "the final stays stored, naming its correction"
    );
    let (kept, _) = store
        .superseded("p1")
        .must("superseded")
        .into_iter()
        .next()
        .must("one superseded");
    assert_eq!(
        kept.entry,
        anc(T0, 0.4),
        "the superseded value is kept as it was"
    );
    assert_eq!(
        current_anc(&*store, "p2", T0),
        vec![0.4],
        "other patients untouched"
    );

    // Sent again, neither message changes anything.
    let r = store
        .write_entries("p1", &m2, later)
        .must("message 2 again");
    assert_eq!(r, vec![("m2-1".into(), false)]);
    let r = store.add_entries("p1", &m1, later).must("message 1 again");
    assert!(r.iter().all(|(_, new)| !*new));
    assert_eq!(current_anc(&*store, "p1", T0), vec![1.4]);
    assert_eq!(store.entries("p1").must("entries").len(), 3);
    assert_eq!(superseded_ids(&*store, "p1").len(), 1);

    // A second correction supersedes the first; the chain is kept.
    store
        .write_entries("p1", &[correction("m3-1", T0, 1.5)], later)
        .must("message 3");
    assert_eq!(current_anc(&*store, "p1", T0), vec![1.5]);
    assert_eq!(
        superseded_ids(&*store, "p1"),
        vec![
            ("m1-1".to_owned(), "m2-1".to_owned()),
            ("m2-1".to_owned(), "m3-1".to_owned())
        ]
    );

    // A correction with nothing to supersede is stored as a result; a correction whose id is
    // reused for other content is a conflict and supersedes nothing.
    let t2 = T0 + Span::days(2);
    store
        .write_entries("p1", &[correction("m4-1", t2, 2.0)], later)
        .must("lone correction");
    assert_eq!(current_anc(&*store, "p1", t2), vec![2.0]);
    assert_conflict(
        store.write_entries("p1", &[correction("m4-1", T0, 9.0)], later),
        "m4-1",
    );
    assert_eq!(current_anc(&*store, "p1", T0), vec![1.5]);

    // Within one batch, corrections act in the order given, after the batch's inserts.
    let t3 = T0 + Span::days(3);
    let batch = [
        NewEntry {
            id: Some("z-final".into()),
            entry: anc(t3, 0.1),
            corrects: false,
            preliminary: false,
        },
        correction("a-corr", t3, 0.2),
        correction("b-corr", t3, 0.3),
    ];
    store.write_entries("p1", &batch, later).must("batch");
    assert_eq!(current_anc(&*store, "p1", t3), vec![0.3]);

    // Everything holds after reopening.
    drop(store);
    let store = db.open();
    assert_eq!(current_anc(&*store, "p1", T0), vec![1.5]);
    assert_eq!(superseded_ids(&*store, "p1").len(), 4);
}

// ---------------------------------------------------------------------------------------------
// Preliminary results (HL7 OBX-11 P) replaced by final ones (F) arriving in a later batch

fn finals_supersede_preliminary_results(db: &Db) {
    let store = db.open();
    patient(&*store, "p1");
    patient(&*store, "p2");
    let later = T0 + Span::hours(4);
    let t1 = T0 + Span::days(1);

    // Message 1: a preliminary ANC, and a final WBC at the same time.
    let m1 = [
        result("m1-1", T0, 0.4, true),
        NewEntry {
            id: Some("m1-2".into()),
            entry: Entry::Observation(obs(AnalyteId::Wbc, T0, 2.0)),
            corrects: false,
            preliminary: false,
        },
    ];
    store.write_entries("p1", &m1, T0).must("message 1");
    store
        .write_entries("p2", &[result("o-1", T0, 0.4, true)], T0)
        .must("other patient");
    assert_eq!(
        current_anc(&*store, "p1", T0),
        vec![0.4],
        "a preliminary result is current until its final comes"
    );
    assert!(
        superseded_ids(&*store, "p1").is_empty(),
        "the final WBC does not supersede the preliminary ANC"
    );

    // Message 2: the final ANC replaces the preliminary one, which stays stored.
    let r = store
        .write_entries("p1", &[result("m2-1", T0, 0.6, false)], later)
        .must("message 2");
    assert_eq!(r, vec![("m2-1".into(), true)]);
    assert_eq!(current_anc(&*store, "p1", T0), vec![0.6]);
    assert_eq!(
        superseded_ids(&*store, "p1"),
        vec![("m1-1".to_owned(), "m2-1".to_owned())]
    );
    assert_eq!(
        ids(&store.entries("p1").must("entries")),
        vec!["m1-2", "m2-1"]
    );
    assert_eq!(
        current_anc(&*store, "p2", T0),
        vec![0.4],
        "other patients untouched"
    );

    // Sent again, neither message changes anything; the preliminary stays superseded.
    let r = store
        .write_entries("p1", &m1, later)
        .must("message 1 again");
    assert!(r.iter().all(|(_, new)| !*new));
    store
        .write_entries("p1", &[result("m2-1", T0, 0.6, false)], later)
        .must("message 2 again");
    assert_eq!(current_anc(&*store, "p1", T0), vec![0.6]);
    assert_eq!(superseded_ids(&*store, "p1").len(), 1);

    // A final does not supersede another final: both stay current, as before.
    store
        .write_entries("p1", &[result("m3-1", T0, 0.7, false)], later)
        .must("message 3");
    let mut both = current_anc(&*store, "p1", T0);
    both.sort_by(f64::total_cmp);
    assert_eq!(both, vec![0.6, 0.7]);
    assert_eq!(superseded_ids(&*store, "p1").len(), 1);

    // A preliminary result arriving after the final is stored already superseded by it.
    store
        .write_entries("p1", &[result("m4-1", t1, 1.1, false)], later)
        .must("final first");
    store
        .write_entries("p1", &[result("m5-1", t1, 0.9, true)], later)
        .must("late preliminary");
    assert_eq!(current_anc(&*store, "p1", t1), vec![1.1]);
    assert!(
        superseded_ids(&*store, "p1").contains(&("m5-1".to_owned(), "m4-1".to_owned())),
        "{:?}",
        superseded_ids(&*store, "p1")
    );

    // A correction supersedes a preliminary result too; in one batch, a final given with its
    // preliminary replaces it.
    let t2 = T0 + Span::days(2);
    store
        .write_entries("p1", &[result("m6-1", t2, 0.3, true)], later)
        .must("preliminary");
    store
        .write_entries("p1", &[correction("m7-1", t2, 0.35)], later)
        .must("correction");
    assert_eq!(current_anc(&*store, "p1", t2), vec![0.35]);
    let t3 = T0 + Span::days(3);
    store
        .write_entries(
            "p1",
            &[
                result("m8-1", t3, 0.2, true),
                result("m8-2", t3, 0.25, false),
            ],
            later,
        )
        .must("one batch");
    assert_eq!(current_anc(&*store, "p1", t3), vec![0.25]);

    // Entries written through the API (not preliminary) also replace a preliminary result.
    let t4 = T0 + Span::days(4);
    store
        .write_entries("p1", &[result("m9-1", t4, 0.5, true)], later)
        .must("preliminary");
    store
        .add_entries("p1", &[(Some("api-1".into()), anc(t4, 0.55))], later)
        .must("api entry");
    assert_eq!(current_anc(&*store, "p1", t4), vec![0.55]);

    // Everything holds after reopening.
    drop(store);
    let store = db.open();
    assert_eq!(current_anc(&*store, "p1", T0).len(), 2);
    assert_eq!(current_anc(&*store, "p1", t1), vec![1.1]);
    assert_eq!(
        superseded_ids(&*store, "p1"),
        vec![
            ("m1-1".to_owned(), "m2-1".to_owned()),
            ("m5-1".to_owned(), "m4-1".to_owned()),
            ("m6-1".to_owned(), "m7-1".to_owned()),
            ("m8-1".to_owned(), "m8-2".to_owned()),
            ("m9-1".to_owned(), "api-1".to_owned()),
        ]
    );
}
