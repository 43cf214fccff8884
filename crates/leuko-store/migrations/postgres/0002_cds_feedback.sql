-- leuko store, version 2 (PostgreSQL): CDS Hooks feedback, what the clinician did with a card.
-- One row per (service, card, outcome, outcome time): the same feedback sent again is stored once.
-- The free-text userComment is never stored (it may hold anything); only whether one was given.

CREATE TABLE cds_feedback (
    service_id            TEXT COLLATE "C" NOT NULL,
    card                  TEXT COLLATE "C" NOT NULL,
    outcome               TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
    outcome_at            TEXT COLLATE "C" NOT NULL,
    accepted_suggestions  TEXT NOT NULL,
    override_code         TEXT,
    override_system       TEXT,
    override_display      TEXT,
    has_comment           BOOLEAN NOT NULL,
    received_at           TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (service_id, card, outcome, outcome_at)
);
CREATE INDEX cds_feedback_received ON cds_feedback (received_at);
