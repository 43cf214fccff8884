-- leuko store, version 4 (PostgreSQL): preliminary results are replaced by final ones.
-- A preliminary result (HL7 OBX-11 P) is stored with preliminary = TRUE. A result that is not
-- preliminary (final, corrected, or written through the API), newly stored later for the same
-- patient, analyte and time, supersedes it (superseded_by, as in version 3); a preliminary
-- result that arrives after such a result is stored already superseded by it. Rows stored
-- before this version are not preliminary.

ALTER TABLE observations ADD COLUMN preliminary BOOLEAN NOT NULL DEFAULT FALSE;
