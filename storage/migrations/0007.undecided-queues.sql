-- What waits to be decided moves out of the records into two narrow queues. Marking a
-- record decided rewrote its whole row (payload and headers) and every index on it,
-- since `decided` was in the partial indexes' predicates (no HOT update); deleting a
-- queue row of three short columns writes a fraction of that. A record is undecided
-- while its queue row exists.

-- An order's records (orders, messages, payments, case-actions) not decided yet. The
-- sweeper reads them by order and deletes them by order; a support action on a
-- seller's standing is decided first, for every order (`standing`).
CREATE TABLE undecided_records (
    order_id     text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    event_id     text NOT NULL,
    standing     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (order_id, occurred_at, event_id)
);
CREATE INDEX undecided_records_by_time ON undecided_records (occurred_at);
CREATE INDEX undecided_records_standing ON undecided_records (occurred_at) WHERE standing;

-- Carrier reports not decided yet: by the orders whose cases name their parcel, or, on
-- a parcel no case names, by the pass the watermark passed them in.
CREATE TABLE undecided_reports (
    event_id         text PRIMARY KEY,
    carrier          text NOT NULL,
    tracking_number  text NOT NULL,
    occurred_at      timestamptz NOT NULL
);
CREATE INDEX undecided_reports_by_time ON undecided_reports (occurred_at);

-- Queues: every row is deleted soon after it is inserted, and the sweeper's reads by
-- time walk the index from its oldest entries, dead ones included, until a vacuum
-- removes them. Right after a backlog that made decisions wait five times as long
-- (docs/performance.md); vacuumed once a few thousand rows are dead, whatever the
-- table's size, and without the cost-based pauses (the tables stay small).
ALTER TABLE undecided_records SET (autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE undecided_reports SET (autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0);

INSERT INTO undecided_records (order_id, occurred_at, event_id, standing)
SELECT order_id, occurred_at, event_id, standing FROM order_records WHERE NOT decided;
INSERT INTO undecided_reports (event_id, carrier, tracking_number, occurred_at)
SELECT event_id, carrier, tracking_number, occurred_at FROM parcel_reports WHERE NOT decided;

DROP INDEX order_records_undecided;
DROP INDEX order_records_standing;
DROP INDEX parcel_reports_undecided;
ALTER TABLE order_records DROP COLUMN decided;
ALTER TABLE parcel_reports DROP COLUMN decided;
