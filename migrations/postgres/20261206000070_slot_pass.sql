-- Report tables keyed on a date and a time of day (agent_5, agent_6, agent_8, agent_8_1,
-- skill_4, skill_4_1, skill_4_2, skill_5, skill_7) are keyed on the slot's `pass` too from this
-- release on: 1, or 2 for the second pass through a DST fall-back's repeated hour, which the API
-- names with the same label. Report tables are made from the catalogue, not here, so the key
-- change itself is made at start-up (store::schema::add_key_columns: the column with DEFAULT 1,
-- which every stored row takes, then the primary key). This migration marks the change: a binary
-- from before it refuses the database, since its upserts name the old key, which no longer exists.
SELECT 1;
