-- Days an aggregate report answered empty while rows for them were stored. The rows are kept
-- (an empty answer never erases a day), the day is asked again on every later run, and only an
-- answer with rows (or an operator's `accept-empty`) clears it. `asks` counts the empty answers.
CREATE TABLE etl_suspect_day (
    account    text        NOT NULL,
    report     text        NOT NULL,
    stream     text        NOT NULL DEFAULT '',
    day        date        NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    asks       integer     NOT NULL,
    PRIMARY KEY (account, report, stream, day)
);

-- Days of a run answered empty while holding rows (see etl_suspect_day).
ALTER TABLE etl_run ADD COLUMN suspect_empty_days integer NOT NULL DEFAULT 0;
