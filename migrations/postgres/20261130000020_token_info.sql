-- The API's own count of the daily token budget (`information.php?api=token_info`), one row per
-- read (hourly per token by default, `[token_info]`), kept as history: how the operation's day
-- filled up, and how far the API's count and ours agree.
CREATE TABLE etl_token_info (
    account         text        NOT NULL,
    token_label     text        NOT NULL,
    read_at         timestamptz NOT NULL,
    -- The API's figures, NULL where it left them blank (its Postman example does) or sent
    -- something that is not a whole number. `token_limit` is the calls allowed per day,
    -- `token_use_today` this token's calls today (the read included), `all_token_today` the
    -- calls of every token of the operation today (every integration's), and `available` what
    -- the API says is left (`available_consumption_options`).
    token_limit     bigint,
    token_use_today bigint,
    all_token_today bigint,
    available       bigint,
    -- Our own count of this token's calls today (etl_token_usage) right after the read, the
    -- read included: set beside `token_use_today`, a larger API count means someone else uses
    -- this token too.
    our_calls_today bigint      NOT NULL,
    PRIMARY KEY (account, token_label, read_at)
);
