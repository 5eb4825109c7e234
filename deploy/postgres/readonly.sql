-- A read-only login for BI tools (Grafana, Metabase, Power BI): it can read every table and view
-- of the wolkvox-etl database, and change nothing.
--
-- Run it with psql, in the daemon's database, as the role the daemon connects as (the owner of
-- its tables) or as a superuser; creating the role needs CREATEROLE or superuser:
--
--   WOLKVOX_BI_PASSWORD=… psql "$DATABASE_URL" -f deploy/postgres/readonly.sql
--
-- psql variables (-v name=value):
--   bi_password  required: the role's password
--   bi_role      the role to create or update (default wolkvox_bi)
--   owner        the role that creates the daemon's tables (default: the role running this;
--                wolkvox_owner when roles.sql made the roles); tables and views it creates
--                later are readable too
--   schema       the daemon's database.schema (default wolkvox): the role's search_path starts
--                there, so dashboards name tables without it
--
-- Idempotent: run it again to change the password, or after adding views by another role. It
-- grants, on the current database:
--   CONNECT on the database; USAGE on the schemas public and bi (when bi exists) and on every
--   schema `owner` owns; SELECT on every table and view in them, and nothing else on them (other
--   privileges the role was given there before are revoked);
--   by default privileges, SELECT on the tables and views, and USAGE on the schemas, that
--   `owner` creates later, in any schema (a `bi` schema of KPI views created later included).
-- The role's sessions are read-only by default (default_transaction_read_only), a second lock
-- beside the missing privileges. Like every role it can create temporary tables (PUBLIC may,
-- unless revoked), which vanish with its session. On PostgreSQL 14 and older, PUBLIC may create
-- tables in schema public too: the script then prints a warning with the fix.

\set ON_ERROR_STOP on

-- A password given with -v is visible in `ps`; from the environment it is not (psql 15+).
\if :{?bi_password}
\else
  \getenv bi_password WOLKVOX_BI_PASSWORD
\endif
\if :{?bi_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'readonly.sql needs a password: WOLKVOX_BI_PASSWORD in the environment (or psql -v bi_password=…)'; END $$;
\endif
\if :{?bi_role}
\else
  \set bi_role wolkvox_bi
\endif
\if :{?owner}
\else
  SELECT current_user AS owner \gset
\endif
\if :{?schema}
\else
  \set schema wolkvox
\endif

-- One transaction: a re-run never leaves the role without its grants, even for a moment.
BEGIN;

-- The role: created once, its password set on every run. It gets no attribute beyond LOGIN
-- (no superuser, createdb, createrole, replication or bypassrls).
SELECT format('CREATE ROLE %I LOGIN', :'bi_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'bi_role') \gexec
ALTER ROLE :"bi_role" WITH LOGIN PASSWORD :'bi_password';
ALTER ROLE :"bi_role" SET default_transaction_read_only = on;
-- Tables of a database filled before schemas existed stay in public, found second.
ALTER ROLE :"bi_role" SET search_path = :"schema", public;

GRANT CONNECT ON DATABASE :"DBNAME" TO :"bi_role";

-- The schemas that exist now (not the system's): usage and SELECT only, whatever was granted
-- before.
SELECT format('REVOKE ALL ON SCHEMA %I FROM %I', nspname, :'bi_role'),
       format('GRANT USAGE ON SCHEMA %I TO %I', nspname, :'bi_role'),
       format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', nspname, :'bi_role'),
       format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', nspname, :'bi_role')
FROM pg_namespace
WHERE (nspname IN ('public', 'bi') OR nspowner = :'owner'::regrole)
  AND nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
ORDER BY nspname \gexec

-- What `owner` creates later: report tables the daemon adds at start-up, new migrations, a
-- schema of views. Default privileges apply to objects created by that role only.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" GRANT SELECT ON TABLES TO :"bi_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" GRANT USAGE ON SCHEMAS TO :"bi_role";

SELECT has_schema_privilege(:'bi_role', 'public', 'CREATE') AS bi_can_create \gset
\if :bi_can_create
  \warn 'WARNING: the role can still create tables in schema public, because PUBLIC may (the default before PostgreSQL 15).'
  \warn 'Fix, as the owner of schema public: GRANT CREATE ON SCHEMA public TO <the daemon''s role>; REVOKE CREATE ON SCHEMA public FROM PUBLIC;'
\endif

COMMIT;
