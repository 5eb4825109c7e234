-- The run history, the operator audit and the migration record are append-only for every role
-- but their owner: the daemon's role (deploy/postgres/roles.sql) inserts runs and operator
-- changes, and reads the migrations, but can rewrite none of them. Roles granted more (the
-- default privileges of roles.sql give UPDATE and DELETE on every table, which report tables
-- and the ledger need) lose it here; sequences keep nextval (USAGE) but lose setval (UPDATE).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = current_schema()
          AND table_name IN ('etl_run', 'etl_audit', '_sqlx_migrations')
          AND grantee NOT IN (current_user, 'PUBLIC')
          AND privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
    LOOP
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON etl_run, etl_audit FROM %I', r.grantee);
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations FROM %I', r.grantee);
        EXECUTE format('REVOKE UPDATE ON ALL SEQUENCES IN SCHEMA %I FROM %I', current_schema(), r.grantee);
    END LOOP;
END
$$;
