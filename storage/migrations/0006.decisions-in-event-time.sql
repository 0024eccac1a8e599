-- Decisions in event time. Consumers now keep what they read (an order's records, a
-- parcel's carrier reports) and how far they have read each partition; the sweeper
-- decides behind the low watermark and keeps each order's state small (no history in
-- it). The state documents of the tables before cannot be read by the new rules, so
-- those tables are kept under a `_v1` name, untouched, and the service starts empty:
-- rebuild it by replaying the inbound topics (`cases replay TOPIC --from-offset 0`).
-- The case history (case_events) stays: a replay re-derives the same event ids, which
-- are not published again.

ALTER TABLE orders RENAME TO orders_v1;
ALTER TABLE sellers RENAME TO sellers_v1;
ALTER TABLE carrier_reports RENAME TO carrier_reports_v1;
ALTER TABLE case_proofs RENAME TO case_proofs_v1;
ALTER TABLE inbox RENAME TO inbox_v1;
ALTER INDEX orders_pkey RENAME TO orders_v1_pkey;
ALTER INDEX orders_due_at RENAME TO orders_v1_due_at;
ALTER INDEX sellers_pkey RENAME TO sellers_v1_pkey;
ALTER INDEX carrier_reports_pkey RENAME TO carrier_reports_v1_pkey;
ALTER INDEX case_proofs_pkey RENAME TO case_proofs_v1_pkey;
ALTER INDEX inbox_pkey RENAME TO inbox_v1_pkey;
ALTER INDEX inbox_position RENAME TO inbox_v1_position;

-- Every inbound record read, by its producer's event_id: the de-duplication key. The
-- fingerprint says what the record holds, so the same id with other content is told
-- apart from the same record read again.
CREATE TABLE inbox (
    event_id      text PRIMARY KEY,
    topic         text NOT NULL,
    "partition"   integer NOT NULL,
    "offset"      bigint NOT NULL,
    fingerprint   bytea NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_position ON inbox (topic, "partition", "offset");

-- Each order's records (orders, messages, payments, case-actions), as read.
CREATE TABLE order_records (
    event_id      text PRIMARY KEY,
    order_id      text NOT NULL,
    occurred_at   timestamptz NOT NULL,
    record_type   text NOT NULL,
    -- an OrderPlaced's seller: a seller's standing is decided before the order is
    seller_id     text,
    -- a support action on a seller's standing (decided first, for every order)
    standing      boolean NOT NULL DEFAULT false,
    topic         text NOT NULL,
    "partition"   integer NOT NULL,
    "offset"      bigint NOT NULL,
    "timestamp"   bigint NOT NULL,       -- the Kafka record's, in ms
    payload       bytea NOT NULL,        -- its value; a message's without its body
    headers       jsonb,                 -- its Kafka headers, when it had any
    decided       boolean NOT NULL DEFAULT false
);
CREATE INDEX order_records_by_order ON order_records (order_id, occurred_at);
CREATE INDEX order_records_undecided ON order_records (occurred_at) WHERE NOT decided;
CREATE INDEX order_records_standing ON order_records (occurred_at)
    WHERE standing AND NOT decided;

-- Every carrier report, by parcel: the carrier's code and the tracking number, in two
-- columns (either may hold any character the other does).
CREATE TABLE parcel_reports (
    carrier          text NOT NULL,
    tracking_number  text NOT NULL,
    occurred_at      timestamptz NOT NULL,
    event_id         text NOT NULL UNIQUE,
    topic            text NOT NULL,
    "partition"      integer NOT NULL,
    "offset"         bigint NOT NULL,
    "timestamp"      bigint NOT NULL,
    payload          bytea NOT NULL,
    headers          jsonb,
    decided          boolean NOT NULL DEFAULT false,
    PRIMARY KEY (carrier, tracking_number, occurred_at, event_id)
);
CREATE INDEX parcel_reports_undecided ON parcel_reports (occurred_at) WHERE NOT decided;

-- Which orders' cases name a parcel as proof of shipping.
CREATE TABLE case_proofs (
    carrier          text NOT NULL,
    tracking_number  text NOT NULL,
    order_id         text NOT NULL,
    PRIMARY KEY (carrier, tracking_number, order_id)
);

-- Each order's state as decided so far (terms, money, case; no history), and when a
-- time rule is next due for it.
CREATE TABLE orders (
    order_id         text PRIMARY KEY,
    seller_id        text,
    state            jsonb NOT NULL,
    case_state       text,
    decided_through  timestamptz,
    due_at           timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70);
CREATE INDEX orders_due_at ON orders (due_at) WHERE due_at IS NOT NULL;
DO $$
BEGIN
    ALTER TABLE orders ALTER COLUMN state SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 not available: order states stay compressed with pglz';
END
$$;

-- Each seller's standing: support's suspensions and reinstatements, in time order.
CREATE TABLE sellers (
    seller_id  text PRIMARY KEY,
    suspended  boolean NOT NULL DEFAULT false,
    reason     text,
    decisions  jsonb NOT NULL DEFAULT '[]'
);

-- How far each inbound partition has been read and its records stored: the offset
-- after the last one, and the latest event time among them (the watermark's input).
CREATE TABLE inbound_progress (
    topic        text NOT NULL,
    "partition"  integer NOT NULL,
    next_offset  bigint NOT NULL,
    frontier     timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, "partition")
);

-- The low watermark as last computed by the sweeper (it never moves back).
CREATE TABLE watermark (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    low          timestamptz,
    computed_at  timestamptz NOT NULL,
    held_by      jsonb
);

-- Records the rules found to be bad input once decided (a payment in another currency
-- than its order, money beyond the order's total, a second OrderPlaced): the relay
-- sends them to their dead-letter topic.
CREATE TABLE dead_letter_outbox (
    seq           bigserial PRIMARY KEY,
    topic         text NOT NULL,
    "partition"   integer NOT NULL,
    "offset"      bigint NOT NULL,
    "timestamp"   bigint NOT NULL,
    key           bytea,
    value         bytea NOT NULL,
    headers       jsonb,
    error         text NOT NULL,
    reason        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX dead_letter_outbox_unpublished ON dead_letter_outbox (seq)
    WHERE published_at IS NULL;

-- Case events: the decision each is (the same for every revision of it), the published
-- event that superseded it, and the trace context of its cause.
ALTER TABLE case_events ADD COLUMN decision_key text;
UPDATE case_events SET decision_key = event_id;
ALTER TABLE case_events ALTER COLUMN decision_key SET NOT NULL;
ALTER TABLE case_events ADD COLUMN superseded_by text;
ALTER TABLE case_events ADD COLUMN cause_headers jsonb;
