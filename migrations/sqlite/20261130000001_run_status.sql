-- More ways a run can end (see migrations/postgres): 'rejected' and 'paused'. SQLite cannot
-- change a CHECK constraint in place, so the table is rebuilt with its rows and ids.
CREATE TABLE etl_run_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account       TEXT    NOT NULL,
    report        TEXT    NOT NULL,
    stream        TEXT    NOT NULL DEFAULT '',
    token_label   TEXT    NOT NULL,
    window_start  TEXT,
    window_end    TEXT,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('succeeded', 'failed', 'cancelled', 'rejected', 'paused')),
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
INSERT INTO etl_run_new (id, account, report, stream, token_label, window_start, window_end, started_at,
    finished_at, status, windows, requests, retries, splits, rows_fetched, rows_upserted, rows_rejected,
    watermark, error_kind, error, duration_ms)
SELECT id, account, report, stream, token_label, window_start, window_end, started_at,
    finished_at, status, windows, requests, retries, splits, rows_fetched, rows_upserted, rows_rejected,
    watermark, error_kind, error, duration_ms
FROM etl_run;
DROP TABLE etl_run;
ALTER TABLE etl_run_new RENAME TO etl_run;
CREATE INDEX etl_run_report_started_idx ON etl_run (account, report, started_at DESC);
