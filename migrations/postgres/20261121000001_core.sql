-- The core schema: watermarks, run history and the chat_14 report table.
--
-- Every report table is keyed on (account, <the report's natural key>), so one database can hold
-- several wolkvox operations. Typed columns are derived from `raw`, which keeps the row exactly
-- as the API sent it; `synced_at` is when the row was last inserted or changed.

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

-- chat_14, Click-to-WhatsApp detail: one row per chat opened from an ad or a post.
CREATE TABLE chat_14 (
    account     text        NOT NULL,
    source_url  text,
    source_type text,
    source_id   text,
    chat_id     text        NOT NULL,
    rp_id       text,
    agent_id    text,
    media_type  text,
    media_url   text,
    -- The API's local datetime, interpreted in the operation's time zone.
    date        timestamptz NOT NULL,
    cod_act     text,
    raw         jsonb       NOT NULL,
    synced_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, chat_id, date)
);
CREATE INDEX chat_14_date_idx ON chat_14 (date);
