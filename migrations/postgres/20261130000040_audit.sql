-- Operator decisions that change state (`watermark set`, `watermark reset`, `accept-empty`), one
-- row each, written in the same transaction as the change: who moved what, when, from what to
-- what. The daemon's own writes (watermarks advanced by a sync) are not audited here; etl_run
-- records those.
CREATE TABLE etl_audit (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL,
    -- The OS user that ran the command ($USER, $LOGNAME, else `uid:N`).
    who       text        NOT NULL,
    -- `watermark set`, `watermark reset` or `accept-empty`.
    command   text        NOT NULL,
    account   text        NOT NULL,
    report    text        NOT NULL,
    stream    text        NOT NULL,
    -- The state before and after, as the command printed it (NULL: there was none).
    old_value text,
    new_value text
);
CREATE INDEX etl_audit_account_at ON etl_audit (account, at);
