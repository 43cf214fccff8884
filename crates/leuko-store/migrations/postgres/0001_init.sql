-- leuko store, version 1 (PostgreSQL). Applied once, in a transaction, by PgStore::open.
-- Times are RFC 3339 text in UTC with nine fractional digits (text order = time order);
-- dates are YYYY-MM-DD. Text columns that are ordered on use the "C" collation, so that
-- PostgreSQL orders them byte by byte, as SQLite does.

CREATE TABLE patients (
    id          TEXT COLLATE "C" PRIMARY KEY,
    birth_date  TEXT,
    sex         TEXT NOT NULL CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    created_at  TEXT COLLATE "C" NOT NULL
);

-- Every entry id, whatever its kind: a client id is unique across observations, conditions
-- and medicines, and a repeated id finds the kind of the row to compare against.
CREATE TABLE entry_ids (
    id          TEXT COLLATE "C" PRIMARY KEY,
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    kind        TEXT NOT NULL CHECK (kind IN ('observation', 'condition', 'medication'))
);

CREATE TABLE observations (
    id              TEXT COLLATE "C" PRIMARY KEY REFERENCES entry_ids (id),
    patient_id      TEXT NOT NULL REFERENCES patients (id),
    analyte         TEXT NOT NULL,
    at              TEXT COLLATE "C" NOT NULL,
    value           DOUBLE PRECISION NOT NULL,
    comparator      TEXT NOT NULL CHECK (comparator IN ('=', '<', '<=', '>', '>=')),
    reported_value  DOUBLE PRECISION,
    reported_unit   TEXT,
    has_ref_range   BOOLEAN NOT NULL,
    ref_low         DOUBLE PRECISION,
    ref_high        DOUBLE PRECISION,
    derived         BOOLEAN NOT NULL,
    source_ref      TEXT NOT NULL,
    recorded_at     TEXT COLLATE "C" NOT NULL,
    CHECK ((reported_value IS NULL) = (reported_unit IS NULL)),
    CHECK (has_ref_range OR (ref_low IS NULL AND ref_high IS NULL))
);
CREATE INDEX observations_patient_at ON observations (patient_id, at);

CREATE TABLE conditions (
    id          TEXT COLLATE "C" PRIMARY KEY REFERENCES entry_ids (id),
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    concept     TEXT,
    text        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'resolved', 'absent')),
    onset       TEXT COLLATE "C",
    abatement   TEXT COLLATE "C",
    source_ref  TEXT NOT NULL,
    recorded_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX conditions_patient_onset ON conditions (patient_id, onset);

CREATE TABLE medications (
    id          TEXT COLLATE "C" PRIMARY KEY REFERENCES entry_ids (id),
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    drugs       TEXT NOT NULL,
    text        TEXT NOT NULL,
    start       TEXT COLLATE "C",
    "end"       TEXT COLLATE "C",
    active      BOOLEAN NOT NULL,
    source_ref  TEXT NOT NULL,
    recorded_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX medications_patient_start ON medications (patient_id, start);

CREATE TABLE assessments (
    id            TEXT COLLATE "C" PRIMARY KEY,
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    as_of         TEXT COLLATE "C" NOT NULL,
    created_at    TEXT COLLATE "C" NOT NULL,
    knowledge     TEXT NOT NULL,
    input_digest  TEXT NOT NULL,
    level         TEXT NOT NULL,
    json          TEXT NOT NULL
);
CREATE INDEX assessments_patient_created ON assessments (patient_id, created_at);

CREATE TABLE api_keys (
    id          TEXT COLLATE "C" PRIMARY KEY,
    hash        TEXT COLLATE "C" NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    created_at  TEXT COLLATE "C" NOT NULL
);

-- Who did what to which patient, when; never values.
CREATE TABLE audit_log (
    seq         BIGSERIAL PRIMARY KEY,
    at          TEXT COLLATE "C" NOT NULL,
    key_id      TEXT NOT NULL,
    action      TEXT NOT NULL,
    patient_id  TEXT,
    detail      TEXT NOT NULL
);
