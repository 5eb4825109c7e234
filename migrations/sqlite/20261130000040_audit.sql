-- Operator decisions that change state, one row each (see migrations/postgres). `at` is
-- ISO-8601 text in UTC.
CREATE TABLE etl_audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT    NOT NULL,
    who       TEXT    NOT NULL,
    command   TEXT    NOT NULL,
    account   TEXT    NOT NULL,
    report    TEXT    NOT NULL,
    stream    TEXT    NOT NULL,
    old_value TEXT,
    new_value TEXT
);
CREATE INDEX etl_audit_account_at ON etl_audit (account, at);
