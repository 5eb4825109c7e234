-- Completeness you can see: a ledger of committed windows, a summary per local day, and a view
-- that says which days are complete.

-- One row per committed window, written in the window's own transaction (so it exists exactly
-- when the window's rows and watermark do). `outcome`: `rows`, `empty`, `suspect_empty` (an
-- aggregate day answered empty while holding rows: they were kept) or `reconciled` (a window of
-- the reconciliation pass). Rows older than `reconcile.ledger_days` (default 90) are deleted by
-- the reconciliation; their days live on in etl_day.
CREATE TABLE etl_window (
    account       text        NOT NULL,
    report        text        NOT NULL,
    stream        text        NOT NULL DEFAULT '',
    run_id        text        NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    rows_received bigint      NOT NULL,
    rows_changed  bigint      NOT NULL,
    requests      integer     NOT NULL,
    splits        integer     NOT NULL,
    outcome       text        NOT NULL,
    committed_at  timestamptz NOT NULL,
    PRIMARY KEY (account, report, stream, run_id, window_start)
);
CREATE INDEX etl_window_committed ON etl_window (committed_at);

-- One row per local day of a report that a committed window touched: the roll-up of the ledger.
-- `rows` is the day's stored row count after the last window that touched it; `day_end` the
-- instant the local day ends (the watermark must pass it for the day to be read whole). The
-- `check_*` columns are the last reconciliation of the day: rows stored before it, rows the API
-- returned, rows it added (missed before) and changed.
CREATE TABLE etl_day (
    account       text        NOT NULL,
    report        text        NOT NULL,
    stream        text        NOT NULL DEFAULT '',
    day           date        NOT NULL,
    day_end       timestamptz NOT NULL,
    rows          bigint      NOT NULL,
    last_read     timestamptz NOT NULL,
    checked_at    timestamptz,
    check_run_id  text,
    check_before  bigint,
    check_api     bigint,
    check_added   bigint,
    check_changed bigint,
    PRIMARY KEY (account, report, stream, day)
);

-- Per (account, report, stream, local day): `suspect` (answered empty while holding rows),
-- `short` (the last reconciliation got fewer rows from the API than were stored; they are
-- kept), `pending` (the watermark has not passed the day's end yet), else `complete`.
CREATE VIEW etl_completeness AS
SELECT d.account, d.report, d.stream, d.day,
       CASE WHEN s.day IS NOT NULL THEN 'suspect'
            WHEN d.check_api < d.check_before THEN 'short'
            WHEN w.watermark IS NULL OR w.watermark < d.day_end THEN 'pending'
            ELSE 'complete' END AS status,
       d.rows, d.checked_at AS last_checked, d.check_added AS rows_added_at_check, d.last_read
FROM etl_day d
LEFT JOIN etl_watermark w ON w.account = d.account AND w.report = d.report AND w.stream = d.stream
LEFT JOIN etl_suspect_day s
       ON s.account = d.account AND s.report = d.report AND s.stream = d.stream AND s.day = d.day;
