-- Days an aggregate report answered empty while rows for them were stored (see
-- migrations/postgres). `day` is 'YYYY-MM-DD'.
CREATE TABLE etl_suspect_day (
    account    TEXT    NOT NULL,
    report     TEXT    NOT NULL,
    stream     TEXT    NOT NULL DEFAULT '',
    day        TEXT    NOT NULL,
    first_seen TEXT    NOT NULL,
    last_seen  TEXT    NOT NULL,
    asks       INTEGER NOT NULL,
    PRIMARY KEY (account, report, stream, day)
);

ALTER TABLE etl_run ADD COLUMN suspect_empty_days INTEGER NOT NULL DEFAULT 0;
