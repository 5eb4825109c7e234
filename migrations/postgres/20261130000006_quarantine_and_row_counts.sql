-- No row is dropped silently: a quarantine for rows whose key cannot be read, and two more
-- counters per run.

-- The quarantine. A row whose key cannot be read (a key field missing, or not readable as its
-- type: `"-"` or `"abc"` for a datetime) has nothing to be stored under in its report's table,
-- so it is kept here with its raw JSON, the reason and the window it came in. It is written in
-- the same transaction as that window's rows and watermark, so the watermark never moves past a
-- row that is nowhere. A re-read of the same row (the look-back) adds no copy: a row is kept
-- once per (account, report, stream, raw_hash). `status` counts them per report.
CREATE TABLE etl_rejected (
    id           bigserial   PRIMARY KEY,
    account      text        NOT NULL,
    report       text        NOT NULL,
    stream       text        NOT NULL DEFAULT '',
    -- The window whose answer held the row, and the run that fetched it (the `run_id` its log
    -- lines carry).
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    run_id       text        NOT NULL,
    -- Which key field could not be read, and what it held.
    reason       text        NOT NULL,
    -- The row as the API sent it (NUL characters removed), and a hash of that text.
    raw          jsonb       NOT NULL,
    raw_hash     bigint      NOT NULL,
    rejected_at  timestamptz NOT NULL,
    UNIQUE (account, report, stream, raw_hash)
);

-- Per run: rows that repeated a key already in the same answer (the last copy of each key is
-- kept), and NUL characters removed from values (PostgreSQL's text and jsonb refuse them).
ALTER TABLE etl_run ADD COLUMN rows_duplicate bigint NOT NULL DEFAULT 0;
ALTER TABLE etl_run ADD COLUMN nul_removed    bigint NOT NULL DEFAULT 0;
