-- Dimensions: the reference data of information.php (agents, skills, campaigns, activity codes,
-- routing points, connectors, agents per skill, the operation's services), with history (slowly
-- changing, type 2). A key's row is *current* (`is_current`, `valid_to` NULL) until an attribute
-- that is tracked changes: then it is closed (`valid_to` = the read that saw the change) and a new
-- version starts there. A key's first version starts at the epoch, so a report row older than the
-- first read still finds a name. Attributes that change on every read (`last_use`, campaign record
-- counts) are updated in place on the current version, not versioned. `attr_hash` is a hash of
-- the tracked attributes; `raw` the object as sent. "Names as they were on that day":
--   JOIN dim_agent d ON d.account = r.account AND d.agent_id = r.agent_id
--    AND d.valid_from <= <the row's instant> AND (d.valid_to IS NULL OR <the row's instant> < d.valid_to)
-- dim_service has one key, 'services': one row of flags per change.

CREATE TABLE dim_agent (
    account                text NOT NULL,
    agent_id               text NOT NULL,
    agent_name             text,
    agent_dni              text,
    agent_status           text,
    agent_sso              text,
    enabled                text,
    last_use               text,
    valid_from             timestamptz NOT NULL,
    valid_to               timestamptz,
    is_current             boolean NOT NULL,
    attr_hash              bigint NOT NULL,
    raw                    jsonb NOT NULL,
    PRIMARY KEY (account, agent_id, valid_from)
);
CREATE INDEX dim_agent_current ON dim_agent (account, agent_id) WHERE is_current;

CREATE TABLE dim_skill (
    account                text NOT NULL,
    skill_id               text NOT NULL,
    skill_name             text,
    skill_description      text,
    last_use               text,
    valid_from             timestamptz NOT NULL,
    valid_to               timestamptz,
    is_current             boolean NOT NULL,
    attr_hash              bigint NOT NULL,
    raw                    jsonb NOT NULL,
    PRIMARY KEY (account, skill_id, valid_from)
);
CREATE INDEX dim_skill_current ON dim_skill (account, skill_id) WHERE is_current;

CREATE TABLE dim_campaign (
    account                text NOT NULL,
    campaign_id            text NOT NULL,
    campaign_name          text,
    campaign_description   text,
    type_campaign          text,
    status                 text,
    speed                  text,
    dial_mode              text,
    turbo_dial             text,
    skill_id               text,
    records                text,
    recycled               text,
    last_use               text,
    valid_from             timestamptz NOT NULL,
    valid_to               timestamptz,
    is_current             boolean NOT NULL,
    attr_hash              bigint NOT NULL,
    raw                    jsonb NOT NULL,
    PRIMARY KEY (account, campaign_id, valid_from)
);
CREATE INDEX dim_campaign_current ON dim_campaign (account, campaign_id) WHERE is_current;

CREATE TABLE dim_activity_code (
    account                text NOT NULL,
    type_code              text NOT NULL,
    cod_act                text NOT NULL,
    description_cod_act    text,
    hit                    text,
    rpc                    text,
    chat                   text,
    studio                 text,
    voice                  text,
    interactions           text,
    valid_from             timestamptz NOT NULL,
    valid_to               timestamptz,
    is_current             boolean NOT NULL,
    attr_hash              bigint NOT NULL,
    raw                    jsonb NOT NULL,
    PRIMARY KEY (account, type_code, cod_act, valid_from)
);
CREATE INDEX dim_activity_code_current ON dim_activity_code (account, type_code, cod_act) WHERE is_current;

CREATE TABLE dim_routing_point (
    account                text NOT NULL,
    rp_id                  text NOT NULL,
    rp_name                text,
    ivr_active             text,
    chat_active            text,
    interaction_active     text,
    crm_active             text,
    last_use               text,
    valid_from             timestamptz NOT NULL,
    valid_to               timestamptz,
    is_current             boolean NOT NULL,
    attr_hash              bigint NOT NULL,
    raw                    jsonb NOT NULL,
    PRIMARY KEY (account, rp_id, valid_from)
);
CREATE INDEX dim_routing_point_current ON dim_routing_point (account, rp_id) WHERE is_current;

CREATE TABLE dim_connector (
    account                text NOT NULL,
    connector_id           text NOT NULL,
    rp_id                  text,
    name                   text,
    channel                text,
    valid_from             timestamptz NOT NULL,
    valid_to               timestamptz,
    is_current             boolean NOT NULL,
    attr_hash              bigint NOT NULL,
    raw                    jsonb NOT NULL,
    PRIMARY KEY (account, connector_id, valid_from)
);
CREATE INDEX dim_connector_current ON dim_connector (account, connector_id) WHERE is_current;

CREATE TABLE dim_agent_skill (
    account                text NOT NULL,
    skill_id               text NOT NULL,
    agent_id               text NOT NULL,
    agent_name             text,
    expertise              text,
    last_use               text,
    valid_from             timestamptz NOT NULL,
    valid_to               timestamptz,
    is_current             boolean NOT NULL,
    attr_hash              bigint NOT NULL,
    raw                    jsonb NOT NULL,
    PRIMARY KEY (account, skill_id, agent_id, valid_from)
);
CREATE INDEX dim_agent_skill_current ON dim_agent_skill (account, skill_id, agent_id) WHERE is_current;

CREATE TABLE dim_service (
    account                text NOT NULL,
    service                text NOT NULL,
    licenses               text,
    pbx                    text,
    valid_from             timestamptz NOT NULL,
    valid_to               timestamptz,
    is_current             boolean NOT NULL,
    attr_hash              bigint NOT NULL,
    raw                    jsonb NOT NULL,
    PRIMARY KEY (account, service, valid_from)
);
CREATE INDEX dim_service_current ON dim_service (account, service) WHERE is_current;
