-- No planner statistics on the columns that hold what a row says (state documents,
-- Avro payloads, headers, fingerprints): no statement filters, joins or sorts on them,
-- and gathering them took most of what autovacuum's ANALYZE of these tables cost. On
-- a live stream the young tables are analysed every few seconds of writes, three at a
-- time; each ANALYZE of `orders` took 230 ms of CPU, 90 ms without its `state` and
-- `terms` (docs/performance.md).

ALTER TABLE orders
    ALTER COLUMN state SET STATISTICS 0,
    ALTER COLUMN terms SET STATISTICS 0;
ALTER TABLE order_records
    ALTER COLUMN payload SET STATISTICS 0,
    ALTER COLUMN headers SET STATISTICS 0,
    ALTER COLUMN fingerprint SET STATISTICS 0;
ALTER TABLE parcel_reports
    ALTER COLUMN payload SET STATISTICS 0,
    ALTER COLUMN headers SET STATISTICS 0,
    ALTER COLUMN fingerprint SET STATISTICS 0;
ALTER TABLE case_events
    ALTER COLUMN record SET STATISTICS 0,
    ALTER COLUMN payload SET STATISTICS 0,
    ALTER COLUMN cause_headers SET STATISTICS 0;
