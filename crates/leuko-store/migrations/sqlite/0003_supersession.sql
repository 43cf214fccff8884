-- leuko store, version 3 (SQLite): corrected results supersede earlier ones.
-- A corrected result (HL7 OBX-11 C) supersedes the current observations of the same patient,
-- analyte and time: their superseded_by names the correction. Superseded rows stay stored
-- (the audit trail); the history reads only rows whose superseded_by is NULL.

ALTER TABLE observations ADD COLUMN superseded_by TEXT REFERENCES observations (id);

CREATE INDEX observations_current ON observations (patient_id, analyte, at)
    WHERE superseded_by IS NULL;
