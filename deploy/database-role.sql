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

-- What the consumers read, kept for the sweeper and, by event_id, the inbox that makes a
-- record read twice a no-op: inserted once, never rewritten; a record the sweeper finds
-- to be bad input is deleted (it goes to the dead-letter outbox).
GRANT SELECT, INSERT, DELETE ON order_records TO order_cases_runtime;
GRANT SELECT, INSERT ON parcel_reports TO order_cases_runtime;
-- What waits to be decided: queued by the consumers, deleted once decided.
GRANT SELECT, INSERT, DELETE ON undecided_records TO order_cases_runtime;
GRANT SELECT, INSERT, DELETE ON undecided_reports TO order_cases_runtime;

-- How far each inbound partition has been read, and the watermark computed from it.
GRANT SELECT, INSERT ON inbound_progress TO order_cases_runtime;
GRANT UPDATE (next_offset, frontier, updated_at) ON inbound_progress TO order_cases_runtime;
GRANT SELECT, INSERT ON watermark TO order_cases_runtime;
GRANT UPDATE (low, computed_at, held_by) ON watermark TO order_cases_runtime;

-- Each order's terms and state: inserted when first decided, locked (FOR UPDATE needs
-- UPDATE on a column), rewritten; never deleted.
GRANT SELECT, INSERT ON orders TO order_cases_runtime;
GRANT UPDATE (seller_id, terms, state, case_state, decided_through, due_at, updated_at)
    ON orders TO order_cases_runtime;

-- Sellers' standing.
GRANT SELECT, INSERT ON sellers TO order_cases_runtime;
GRANT UPDATE (suspended, reason, decisions) ON sellers TO order_cases_runtime;

-- Which cases name which parcel: only ever added.
GRANT SELECT, INSERT ON case_proofs TO order_cases_runtime;

-- The inbox: a view of both record tables, read to tell a record read again from another
-- one under a reused event_id.
GRANT SELECT ON inbox TO order_cases_runtime;

-- The outbox and case history: appended to and marked superseded (by the event that
-- says so); the events themselves can never be rewritten or removed by the service.
-- The relay marks how far it published with a row per batch in case_events_published.
GRANT SELECT, INSERT ON case_events TO order_cases_runtime;
GRANT UPDATE (superseded_by) ON case_events TO order_cases_runtime;
GRANT USAGE ON SEQUENCE case_events_seq_seq TO order_cases_runtime;
GRANT SELECT, INSERT ON case_events_published TO order_cases_runtime;
GRANT SELECT ON unpublished_case_events TO order_cases_runtime;

-- Dead letters the sweeper found, sent by the relay.
GRANT SELECT, INSERT ON dead_letter_outbox TO order_cases_runtime;
GRANT UPDATE (published_at) ON dead_letter_outbox TO order_cases_runtime;
GRANT USAGE ON SEQUENCE dead_letter_outbox_seq_seq TO order_cases_runtime;

-- yoyo's bookkeeping, read only: `cases run` checks that no migration is pending (and
-- would need the owner to apply one).
GRANT SELECT ON _yoyo_migration, _yoyo_version TO order_cases_runtime;
