-- The API's own count of the daily token budget, one row per read (see migrations/postgres).
-- `read_at` is ISO-8601 text in UTC; the API's figures are NULL where it left them blank.
CREATE TABLE etl_token_info (
    account         TEXT    NOT NULL,
    token_label     TEXT    NOT NULL,
    read_at         TEXT    NOT NULL,
    token_limit     INTEGER,
    token_use_today INTEGER,
    all_token_today INTEGER,
    available       INTEGER,
    our_calls_today INTEGER NOT NULL,
    PRIMARY KEY (account, token_label, read_at)
);
