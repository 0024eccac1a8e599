-- The service's login role: a member of order_cases_runtime (deploy/database-role.sql,
-- which runs first), so it holds the runtime role's privileges and nothing else. Run as
-- the owner (it needs CREATEROLE) or a superuser, with the role's name and password as
-- psql variables `login` and `password` (psql 15's \getenv takes it from the environment,
-- so that it is never on a command line):
--   psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 -v login=order_cases_app \
--        -c '\getenv password APP_PASSWORD' \
--        -f deploy/database-role.sql -f deploy/database-login.sql
-- Idempotent: creates the role the first time, and sets its password (a rotated secret)
-- and its membership every time. deploy/compose.yaml and the Kubernetes setup Job run it.

SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION '
              'NOBYPASSRLS', :'login')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'login') \gexec

SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'login', :'password') \gexec

SELECT format('GRANT order_cases_runtime TO %I', :'login') \gexec
