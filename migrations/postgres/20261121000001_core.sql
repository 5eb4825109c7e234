-- The core schema: watermarks and run history.
--
-- Report tables are not here: they are derived from the report catalogue at start-up
-- (src/store/schema.rs), so their field lists are written once, in the catalogue.

-- One row per (account, report, stream): every row of the report whose timestamp is before
-- `watermark` has been fetched and committed. It is written in the same transaction as the rows,
-- so it can never claim data that is not in the table.
CREATE TABLE etl_watermark (
    account    text        NOT NULL,
    report     text        NOT NULL,
    -- A report may be synced as several independent streams (e.g. one per parameter group).
    stream     text        NOT NULL DEFAULT '',
    watermark  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, report, stream)
);

-- One row per run (a scheduler tick, a `sync` command): what was asked, what happened.
CREATE TABLE etl_run (
    id            bigserial   PRIMARY KEY,
    account       text        NOT NULL,
    report        text        NOT NULL,
    stream        text        NOT NULL DEFAULT '',
    token_label   text        NOT NULL,
    -- The whole range the run planned; NULL when there was nothing to do.
    window_start  timestamptz,
    window_end    timestamptz,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    status        text        NOT NULL CHECK (status IN ('succeeded', 'failed', 'cancelled')),
    windows       integer     NOT NULL,
    requests      integer     NOT NULL,
    -- Requests that were repeats of a failed attempt (timeouts, 5xx, resets, …).
    retries       integer     NOT NULL,
    splits        integer     NOT NULL,
    rows_fetched  bigint      NOT NULL,
    rows_upserted bigint      NOT NULL,
    -- Rows whose key could not be read (logged at ERROR with their raw value).
    rows_rejected bigint      NOT NULL,
    watermark     timestamptz,
    error_kind    text,
    error         text,
    duration_ms   bigint      NOT NULL
);
CREATE INDEX etl_run_report_started_idx ON etl_run (account, report, started_at DESC);

-- API calls per token per local day of the operation, so the daily budget (licences x 1000,
-- shared by all tokens) survives restarts. `paused_until` is set when the API answers
-- 403 TOKEN LIMIT EXCEEDED: the token's jobs wait until the next local midnight.
CREATE TABLE etl_token_usage (
    account      text        NOT NULL,
    token_label  text        NOT NULL,
    day          date        NOT NULL,
    calls        bigint      NOT NULL DEFAULT 0,
    paused_until timestamptz,
    PRIMARY KEY (account, token_label, day)
);
