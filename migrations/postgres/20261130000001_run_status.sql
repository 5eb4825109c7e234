-- More ways a run can end. 'rejected': every window committed, but every row received lacked a
-- usable key, so nothing of the report is being stored (an operator must look). 'paused' is
-- allowed now too, for the daily token limit, so that recording it later needs no migration.
ALTER TABLE etl_run DROP CONSTRAINT etl_run_status_check;
ALTER TABLE etl_run ADD CONSTRAINT etl_run_status_check
    CHECK (status IN ('succeeded', 'failed', 'cancelled', 'rejected', 'paused'));
