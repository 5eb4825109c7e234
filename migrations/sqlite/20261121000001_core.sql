-- The core schema for the embedded SQLite backend: watermarks and run history.
-- Same tables and meaning as migrations/postgres; timestamps are ISO-8601 text in UTC.
-- Report tables are derived from the report catalogue at start-up (src/store/schema.rs).

-- One row per (account, report, stream): every row of the report whose timestamp is before
-- `watermark` has been fetched and committed, in the same transaction as this row.
CREATE TABLE etl_watermark (
    account    TEXT NOT NULL,
    report     TEXT NOT NULL,
    stream     TEXT NOT NULL DEFAULT '',
    watermark  TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (account, report, stream)
);

-- One row per run (a scheduler tick, a `sync` command): what was asked, what happened.
CREATE TABLE etl_run (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account       TEXT    NOT NULL,
    report        TEXT    NOT NULL,
    stream        TEXT    NOT NULL DEFAULT '',
    token_label   TEXT    NOT NULL,
    window_start  TEXT,
    window_end    TEXT,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('succeeded', 'failed', 'cancelled')),
    windows       INTEGER NOT NULL,
    requests      INTEGER NOT NULL,
    retries       INTEGER NOT NULL,
    splits        INTEGER NOT NULL,
    rows_fetched  INTEGER NOT NULL,
    rows_upserted INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL,
    watermark     TEXT,
    error_kind    TEXT,
    error         TEXT,
    duration_ms   INTEGER NOT NULL
);
CREATE INDEX etl_run_report_started_idx ON etl_run (account, report, started_at DESC);

-- API calls per token per local day (see migrations/postgres). `day` is 'YYYY-MM-DD'.
CREATE TABLE etl_token_usage (
    account      TEXT    NOT NULL,
    token_label  TEXT    NOT NULL,
    day          TEXT    NOT NULL,
    calls        INTEGER NOT NULL DEFAULT 0,
    paused_until TEXT,
    PRIMARY KEY (account, token_label, day)
);
