-- Completeness you can see (see migrations/postgres for the meaning of every column). Dates are
-- 'YYYY-MM-DD', instants RFC 3339 text, compared through julianday().
CREATE TABLE etl_window (
    account       TEXT    NOT NULL,
    report        TEXT    NOT NULL,
    stream        TEXT    NOT NULL DEFAULT '',
    run_id        TEXT    NOT NULL,
    window_start  TEXT    NOT NULL,
    window_end    TEXT    NOT NULL,
    rows_received INTEGER NOT NULL,
    rows_changed  INTEGER NOT NULL,
    requests      INTEGER NOT NULL,
    splits        INTEGER NOT NULL,
    outcome       TEXT    NOT NULL,
    committed_at  TEXT    NOT NULL,
    PRIMARY KEY (account, report, stream, run_id, window_start)
);
CREATE INDEX etl_window_committed ON etl_window (committed_at);

CREATE TABLE etl_day (
    account       TEXT    NOT NULL,
    report        TEXT    NOT NULL,
    stream        TEXT    NOT NULL DEFAULT '',
    day           TEXT    NOT NULL,
    day_end       TEXT    NOT NULL,
    rows          INTEGER NOT NULL,
    last_read     TEXT    NOT NULL,
    checked_at    TEXT,
    check_run_id  TEXT,
    check_before  INTEGER,
    check_api     INTEGER,
    check_added   INTEGER,
    check_changed INTEGER,
    PRIMARY KEY (account, report, stream, day)
);

CREATE VIEW etl_completeness AS
SELECT d.account, d.report, d.stream, d.day,
       CASE WHEN s.day IS NOT NULL THEN 'suspect'
            WHEN d.check_api < d.check_before THEN 'short'
            WHEN w.watermark IS NULL OR julianday(w.watermark) < julianday(d.day_end) THEN 'pending'
            ELSE 'complete' END AS status,
       d.rows, d.checked_at AS last_checked, d.check_added AS rows_added_at_check, d.last_read
FROM etl_day d
LEFT JOIN etl_watermark w ON w.account = d.account AND w.report = d.report AND w.stream = d.stream
LEFT JOIN etl_suspect_day s
       ON s.account = d.account AND s.report = d.report AND s.stream = d.stream AND s.day = d.day;
