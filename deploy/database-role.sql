-- The runtime role of order cases: what `cases run`, `cases sweep` and `cases show` need
-- on the database, and nothing more (docs/database-role.md). Tables belong to the owner
-- role that runs the migrations (`cases setup`); the service logs in as a role that is a
-- member of order_cases_runtime.
--
-- Run as the owner (or a superuser), in the service's database, after every migration
-- (it is idempotent; a new table, or a new column the service updates, gets no privilege
-- until it is listed here):
--   psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 -f deploy/database-role.sql
-- Then the service's login role, a member of order_cases_runtime: deploy/database-login.sql.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'order_cases_runtime') THEN
        CREATE ROLE order_cases_runtime NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE
            NOREPLICATION NOBYPASSRLS;
    END IF;
END
$$;

-- This database is the service's own: only roles granted CONNECT reach it, and no role
-- but its owner creates temporary tables in it.
DO $$
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM order_cases_runtime', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO order_cases_runtime', current_database());
END
$$;

-- Objects may be used, never created (PostgreSQL 15 no longer lets PUBLIC create in
-- `public`; older databases may still).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM order_cases_runtime;
GRANT USAGE ON SCHEMA public TO order_cases_runtime;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM order_cases_runtime;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM order_cases_runtime;

-- Each order's state: inserted when first named, locked (FOR UPDATE needs UPDATE on a
-- column), rewritten; never deleted.
GRANT SELECT, INSERT ON orders TO order_cases_runtime;
GRANT UPDATE (state, case_state, due_at, updated_at) ON orders TO order_cases_runtime;

-- Sellers' standing.
GRANT SELECT, INSERT ON sellers TO order_cases_runtime;
GRANT UPDATE (suspended, reason) ON sellers TO order_cases_runtime;

-- The latest carrier status per parcel.
GRANT SELECT, INSERT ON carrier_reports TO order_cases_runtime;
GRANT UPDATE (status, occurred_at, delivered_to, event_id) ON carrier_reports
    TO order_cases_runtime;

-- Which cases carry which tracking number: only ever added.
GRANT SELECT, INSERT ON case_proofs TO order_cases_runtime;

-- De-duplication: a record is claimed, and unclaimed (deleted) when it turns out invalid.
GRANT SELECT, INSERT, DELETE ON inbox TO order_cases_runtime;

-- The outbox and case history: appended to, and marked published by the relay; the
-- events themselves can never be rewritten or removed by the service.
GRANT SELECT, INSERT ON case_events TO order_cases_runtime;
GRANT UPDATE (published_at) ON case_events TO order_cases_runtime;
GRANT USAGE ON SEQUENCE case_events_seq_seq TO order_cases_runtime;

-- yoyo's bookkeeping, read only: `cases run` checks that no migration is pending (and
-- would need the owner to apply one).
GRANT SELECT ON _yoyo_migration, _yoyo_version TO order_cases_runtime;
