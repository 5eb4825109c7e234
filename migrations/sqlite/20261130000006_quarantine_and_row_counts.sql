-- No row is dropped silently (see migrations/postgres): a quarantine for rows whose key cannot
-- be read, and two more counters per run. Timestamps are ISO-8601 text in UTC; `raw` is text.

-- The quarantine: written in the same transaction as the window's rows and watermark; a row is
-- kept once per (account, report, stream, raw_hash), so a re-read adds no copy.
CREATE TABLE etl_rejected (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account      TEXT    NOT NULL,
    report       TEXT    NOT NULL,
    stream       TEXT    NOT NULL DEFAULT '',
    window_start TEXT    NOT NULL,
    window_end   TEXT    NOT NULL,
    run_id       TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    raw          TEXT    NOT NULL,
    raw_hash     INTEGER NOT NULL,
    rejected_at  TEXT    NOT NULL,
    UNIQUE (account, report, stream, raw_hash)
);

-- Per run: rows that repeated a key in the same answer, and NUL characters removed.
ALTER TABLE etl_run ADD COLUMN rows_duplicate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE etl_run ADD COLUMN nul_removed    INTEGER NOT NULL DEFAULT 0;
