-- leuko store, version 1 (SQLite). Applied once, in a transaction, by SqliteStore::open.
-- Times are RFC 3339 text in UTC with nine fractional digits (text order = time order);
-- dates are YYYY-MM-DD; booleans are 0/1.

CREATE TABLE patients (
    id          TEXT PRIMARY KEY NOT NULL,
    birth_date  TEXT,
    sex         TEXT NOT NULL CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    created_at  TEXT NOT NULL
) STRICT;

-- Every entry id, whatever its kind: a client id is unique across observations, conditions
-- and medicines, and a repeated id finds the kind of the row to compare against.
CREATE TABLE entry_ids (
    id          TEXT PRIMARY KEY NOT NULL,
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    kind        TEXT NOT NULL CHECK (kind IN ('observation', 'condition', 'medication'))
) STRICT;

CREATE TABLE observations (
    id              TEXT PRIMARY KEY NOT NULL REFERENCES entry_ids (id),
    patient_id      TEXT NOT NULL REFERENCES patients (id),
    analyte         TEXT NOT NULL,
    at              TEXT NOT NULL,
    value           REAL NOT NULL,
    comparator      TEXT NOT NULL CHECK (comparator IN ('=', '<', '<=', '>', '>=')),
    reported_value  REAL,
    reported_unit   TEXT,
    has_ref_range   INTEGER NOT NULL CHECK (has_ref_range IN (0, 1)),
    ref_low         REAL,
    ref_high        REAL,
    derived         INTEGER NOT NULL CHECK (derived IN (0, 1)),
    source_ref      TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    CHECK ((reported_value IS NULL) = (reported_unit IS NULL)),
    CHECK (has_ref_range = 1 OR (ref_low IS NULL AND ref_high IS NULL))
) STRICT;
CREATE INDEX observations_patient_at ON observations (patient_id, at);

CREATE TABLE conditions (
    id          TEXT PRIMARY KEY NOT NULL REFERENCES entry_ids (id),
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    concept     TEXT,
    text        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'resolved', 'absent')),
    onset       TEXT,
    abatement   TEXT,
    source_ref  TEXT NOT NULL,
    recorded_at TEXT NOT NULL
) STRICT;
CREATE INDEX conditions_patient_onset ON conditions (patient_id, onset);

CREATE TABLE medications (
    id          TEXT PRIMARY KEY NOT NULL REFERENCES entry_ids (id),
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    drugs       TEXT NOT NULL,
    text        TEXT NOT NULL,
    start       TEXT,
    "end"       TEXT,
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    source_ref  TEXT NOT NULL,
    recorded_at TEXT NOT NULL
) STRICT;
CREATE INDEX medications_patient_start ON medications (patient_id, start);

CREATE TABLE assessments (
    id            TEXT PRIMARY KEY NOT NULL,
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    as_of         TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    knowledge     TEXT NOT NULL,
    input_digest  TEXT NOT NULL,
    level         TEXT NOT NULL,
    json          TEXT NOT NULL
) STRICT;
CREATE INDEX assessments_patient_created ON assessments (patient_id, created_at);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    created_at  TEXT NOT NULL
) STRICT;

-- Who did what to which patient, when; never values.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    action      TEXT NOT NULL,
    patient_id  TEXT,
    detail      TEXT NOT NULL
) STRICT;
