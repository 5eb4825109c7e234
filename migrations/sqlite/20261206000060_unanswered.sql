-- Re-reads never block new data: a window the API can no longer answer, although its rows were
-- committed before (a look-back hour, a suspect day, a reconciliation day), is recorded here
-- and skipped for the run, so the new windows after it still run. The row stays until a later
-- committed window covers its range (the nightly reconciliation re-reads whole days); `day` is
-- the local day the window starts in, for the completeness view.
CREATE TABLE etl_unanswered (
    account      text    NOT NULL,
    report       text    NOT NULL,
    stream       text    NOT NULL DEFAULT '',
    window_start text    NOT NULL,
    window_end   text    NOT NULL,
    day          text    NOT NULL,
    first_failed text    NOT NULL,
    last_failed  text    NOT NULL,
    asks         integer NOT NULL DEFAULT 1,
    error        text    NOT NULL,
    PRIMARY KEY (account, report, stream, window_start, window_end)
);

ALTER TABLE etl_run ADD COLUMN windows_unanswered integer NOT NULL DEFAULT 0;
-- Per run: elements that hold no row and say so (a parent with an empty list, cdr_4 `data: {}`).
ALTER TABLE etl_run ADD COLUMN rows_empty integer NOT NULL DEFAULT 0;

DROP VIEW etl_completeness;
CREATE VIEW etl_completeness AS
SELECT d.account, d.report, d.stream, d.day,
       CASE WHEN s.day IS NOT NULL THEN 'suspect'
            WHEN EXISTS (SELECT 1 FROM etl_unanswered u
                         WHERE u.account = d.account AND u.report = d.report AND u.stream = d.stream
                           AND u.day = d.day) THEN 'unanswered'
            WHEN d.check_api < d.check_before THEN 'short'
            WHEN w.watermark IS NULL OR julianday(w.watermark) < julianday(d.day_end) THEN 'pending'
            ELSE 'complete' END AS status,
       d.rows, d.checked_at AS last_checked, d.check_added AS rows_added_at_check, d.last_read
FROM etl_day d
LEFT JOIN etl_watermark w ON w.account = d.account AND w.report = d.report AND w.stream = d.stream
LEFT JOIN etl_suspect_day s
       ON s.account = d.account AND s.report = d.report AND s.stream = d.stream AND s.day = d.day;
