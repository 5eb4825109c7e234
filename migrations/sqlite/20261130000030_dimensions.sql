-- Dimensions with history (see migrations/postgres for the rules). Instants are RFC 3339 text.

CREATE TABLE dim_agent (
    account                TEXT NOT NULL,
    agent_id               TEXT NOT NULL,
    agent_name             TEXT,
    agent_dni              TEXT,
    agent_status           TEXT,
    agent_sso              TEXT,
    enabled                TEXT,
    last_use               TEXT,
    valid_from             TEXT NOT NULL,
    valid_to               TEXT,
    is_current             INTEGER NOT NULL,
    attr_hash              INTEGER NOT NULL,
    raw                    TEXT NOT NULL,
    PRIMARY KEY (account, agent_id, valid_from)
);
CREATE INDEX dim_agent_current ON dim_agent (account, agent_id) WHERE is_current = 1;

CREATE TABLE dim_skill (
    account                TEXT NOT NULL,
    skill_id               TEXT NOT NULL,
    skill_name             TEXT,
    skill_description      TEXT,
    last_use               TEXT,
    valid_from             TEXT NOT NULL,
    valid_to               TEXT,
    is_current             INTEGER NOT NULL,
    attr_hash              INTEGER NOT NULL,
    raw                    TEXT NOT NULL,
    PRIMARY KEY (account, skill_id, valid_from)
);
CREATE INDEX dim_skill_current ON dim_skill (account, skill_id) WHERE is_current = 1;

CREATE TABLE dim_campaign (
    account                TEXT NOT NULL,
    campaign_id            TEXT NOT NULL,
    campaign_name          TEXT,
    campaign_description   TEXT,
    type_campaign          TEXT,
    status                 TEXT,
    speed                  TEXT,
    dial_mode              TEXT,
    turbo_dial             TEXT,
    skill_id               TEXT,
    records                TEXT,
    recycled               TEXT,
    last_use               TEXT,
    valid_from             TEXT NOT NULL,
    valid_to               TEXT,
    is_current             INTEGER NOT NULL,
    attr_hash              INTEGER NOT NULL,
    raw                    TEXT NOT NULL,
    PRIMARY KEY (account, campaign_id, valid_from)
);
CREATE INDEX dim_campaign_current ON dim_campaign (account, campaign_id) WHERE is_current = 1;

CREATE TABLE dim_activity_code (
    account                TEXT NOT NULL,
    type_code              TEXT NOT NULL,
    cod_act                TEXT NOT NULL,
    description_cod_act    TEXT,
    hit                    TEXT,
    rpc                    TEXT,
    chat                   TEXT,
    studio                 TEXT,
    voice                  TEXT,
    interactions           TEXT,
    valid_from             TEXT NOT NULL,
    valid_to               TEXT,
    is_current             INTEGER NOT NULL,
    attr_hash              INTEGER NOT NULL,
    raw                    TEXT NOT NULL,
    PRIMARY KEY (account, type_code, cod_act, valid_from)
);
CREATE INDEX dim_activity_code_current ON dim_activity_code (account, type_code, cod_act) WHERE is_current = 1;

CREATE TABLE dim_routing_point (
    account                TEXT NOT NULL,
    rp_id                  TEXT NOT NULL,
    rp_name                TEXT,
    ivr_active             TEXT,
    chat_active            TEXT,
    interaction_active     TEXT,
    crm_active             TEXT,
    last_use               TEXT,
    valid_from             TEXT NOT NULL,
    valid_to               TEXT,
    is_current             INTEGER NOT NULL,
    attr_hash              INTEGER NOT NULL,
    raw                    TEXT NOT NULL,
    PRIMARY KEY (account, rp_id, valid_from)
);
CREATE INDEX dim_routing_point_current ON dim_routing_point (account, rp_id) WHERE is_current = 1;

CREATE TABLE dim_connector (
    account                TEXT NOT NULL,
    connector_id           TEXT NOT NULL,
    rp_id                  TEXT,
    name                   TEXT,
    channel                TEXT,
    valid_from             TEXT NOT NULL,
    valid_to               TEXT,
    is_current             INTEGER NOT NULL,
    attr_hash              INTEGER NOT NULL,
    raw                    TEXT NOT NULL,
    PRIMARY KEY (account, connector_id, valid_from)
);
CREATE INDEX dim_connector_current ON dim_connector (account, connector_id) WHERE is_current = 1;

CREATE TABLE dim_agent_skill (
    account                TEXT NOT NULL,
    skill_id               TEXT NOT NULL,
    agent_id               TEXT NOT NULL,
    agent_name             TEXT,
    expertise              TEXT,
    last_use               TEXT,
    valid_from             TEXT NOT NULL,
    valid_to               TEXT,
    is_current             INTEGER NOT NULL,
    attr_hash              INTEGER NOT NULL,
    raw                    TEXT NOT NULL,
    PRIMARY KEY (account, skill_id, agent_id, valid_from)
);
CREATE INDEX dim_agent_skill_current ON dim_agent_skill (account, skill_id, agent_id) WHERE is_current = 1;

CREATE TABLE dim_service (
    account                TEXT NOT NULL,
    service                TEXT NOT NULL,
    licenses               TEXT,
    pbx                    TEXT,
    valid_from             TEXT NOT NULL,
    valid_to               TEXT,
    is_current             INTEGER NOT NULL,
    attr_hash              INTEGER NOT NULL,
    raw                    TEXT NOT NULL,
    PRIMARY KEY (account, service, valid_from)
);
CREATE INDEX dim_service_current ON dim_service (account, service) WHERE is_current = 1;
