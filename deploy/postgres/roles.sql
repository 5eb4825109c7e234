-- Least privilege for wolkvox-etl: an owner role that changes the schema, and the role the
-- daemon runs as, which may only read and write rows. SECURITY.md ("Roles") explains the split.
--
-- Run it once with psql, in the daemon's database, as a superuser (or, on a managed service,
-- the administrator role: it needs CREATEROLE and to act as the owner role it creates):
--
--   WOLKVOX_OWNER_PASSWORD=… WOLKVOX_APP_PASSWORD=… psql "$ADMIN_DATABASE_URL" -f deploy/postgres/roles.sql
--
-- (the passwords from the environment, so they are not on a command line that `ps` shows; -v
-- owner_password=… -v app_password=… works too)
--
-- then bring the schema up to date as the owner, and run the daemon as the app role:
--
--   DATABASE_URL=postgres://wolkvox_owner:…@host/db wolkvox-etl migrate
--   DATABASE_URL=postgres://wolkvox_app:…@host/db   wolkvox-etl run
--
-- psql variables (-v name=value):
--   owner_password  required (or WOLKVOX_OWNER_PASSWORD): the owner role's password
--   app_password    required (or WOLKVOX_APP_PASSWORD): the app role's password
--   owner_role      default wolkvox_owner: owns the schema and every table; runs `migrate`
--   app_role        default wolkvox_app: the daemon (`run`, `sync`, `status`, …)
--   schema          default wolkvox: the daemon's `database.schema`
--
-- Idempotent: run it again to change a password. What it grants, and nothing else:
--   owner_role: LOGIN; CONNECT and CREATE on the database (CREATE for the schema `bi` of the KPI
--     views); it owns `schema`.
--   app_role: LOGIN; CONNECT on the database; USAGE on `schema`; SELECT, INSERT, UPDATE, DELETE
--     on its tables and USAGE, SELECT on its sequences (no setval), now and (by default privileges)
--     for every table the owner adds later. No CREATE anywhere, no TRUNCATE, no REFERENCES or
--     TRIGGER, nothing on `bi`. Advisory locks (the replicas' coordination) need no grant.
-- Neither role gets superuser, createdb, createrole, replication or bypassrls.

\set ON_ERROR_STOP on

-- A password given with -v is visible in `ps`; from the environment it is not (psql 15+).
\if :{?owner_password}
\else
  \getenv owner_password WOLKVOX_OWNER_PASSWORD
\endif
\if :{?app_password}
\else
  \getenv app_password WOLKVOX_APP_PASSWORD
\endif
\if :{?owner_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'roles.sql needs passwords: WOLKVOX_OWNER_PASSWORD and WOLKVOX_APP_PASSWORD in the environment (or psql -v owner_password=… -v app_password=…)'; END $$;
\endif
\if :{?app_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'roles.sql needs passwords: WOLKVOX_OWNER_PASSWORD and WOLKVOX_APP_PASSWORD in the environment (or psql -v owner_password=… -v app_password=…)'; END $$;
\endif
\if :{?owner_role}
\else
  \set owner_role wolkvox_owner
\endif
\if :{?app_role}
\else
  \set app_role wolkvox_app
\endif
\if :{?schema}
\else
  \set schema wolkvox
\endif

-- One transaction: a re-run never leaves a role without its grants, even for a moment.
BEGIN;

SELECT format('CREATE ROLE %I LOGIN', :'owner_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner_role') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \gexec
ALTER ROLE :"owner_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'owner_password';
ALTER ROLE :"app_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_password';

GRANT CONNECT, CREATE ON DATABASE :"DBNAME" TO :"owner_role";
GRANT CONNECT ON DATABASE :"DBNAME" TO :"app_role";

CREATE SCHEMA IF NOT EXISTS :"schema" AUTHORIZATION :"owner_role";
ALTER SCHEMA :"schema" OWNER TO :"owner_role";
REVOKE ALL ON SCHEMA :"schema" FROM PUBLIC;
GRANT USAGE ON SCHEMA :"schema" TO :"app_role";

-- As the owner: what exists now, and what it creates later (default privileges apply to the
-- objects of the role that sets them).
SET LOCAL ROLE :"owner_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA :"schema" TO :"app_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA :"schema" TO :"app_role";
ALTER DEFAULT PRIVILEGES IN SCHEMA :"schema" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_role";
-- No UPDATE on sequences (setval); and after `migrate`, the run history, the audit and the
-- migration record are append-only for this role (migration 20261206000080).
ALTER DEFAULT PRIVILEGES IN SCHEMA :"schema" GRANT USAGE, SELECT ON SEQUENCES TO :"app_role";
RESET ROLE;

COMMIT;

-- Before PostgreSQL 15, PUBLIC may create tables in schema public, and so could the app role.
SELECT has_schema_privilege(:'app_role', 'public', 'CREATE') AS app_can_create \gset
\if :app_can_create
  \warn 'WARNING: the app role can still create tables in schema public, because PUBLIC may (the default before PostgreSQL 15).'
  \warn 'Fix, as the owner of schema public: REVOKE CREATE ON SCHEMA public FROM PUBLIC;'
\endif
