-- leuko store, version 2 (SQLite): CDS Hooks feedback, what the clinician did with a card.
-- One row per (service, card, outcome, outcome time): the same feedback sent again is stored once.
-- The free-text userComment is never stored (it may hold anything); only whether one was given.

CREATE TABLE cds_feedback (
    service_id            TEXT NOT NULL,
    card                  TEXT NOT NULL,
    outcome               TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
    outcome_at            TEXT NOT NULL,
    accepted_suggestions  TEXT NOT NULL,
    override_code         TEXT,
    override_system       TEXT,
    override_display      TEXT,
    has_comment           INTEGER NOT NULL CHECK (has_comment IN (0, 1)),
    received_at           TEXT NOT NULL,
    PRIMARY KEY (service_id, card, outcome, outcome_at)
) STRICT;
CREATE INDEX cds_feedback_received ON cds_feedback (received_at);
