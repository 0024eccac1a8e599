-- The records are the inbox. Every inbound record was written twice: its row in
-- `order_records` or `parcel_reports`, which is kept as its case's history and is
-- already unique by event_id, and an `inbox` row that only said the event_id had been
-- read. The records now carry the fingerprint that tells the same record read again
-- from another one under a reused event_id, and `inbox` becomes a view over both
-- tables, for the lookups operators and tools make by event_id or position.

ALTER TABLE order_records ADD COLUMN fingerprint bytea;
ALTER TABLE parcel_reports ADD COLUMN fingerprint bytea;

UPDATE order_records r SET fingerprint = i.fingerprint
FROM inbox i WHERE i.event_id = r.event_id;
UPDATE parcel_reports r SET fingerprint = i.fingerprint
FROM inbox i WHERE i.event_id = r.event_id;
-- A record whose inbox row retention had deleted keeps a null fingerprint: Kafka can
-- no longer deliver it, and were it read again it would count as the same record.

DROP TABLE inbox;

CREATE VIEW inbox AS
    SELECT event_id, topic, "partition", "offset", "timestamp", fingerprint
    FROM order_records
    UNION ALL
    SELECT event_id, topic, "partition", "offset", "timestamp", fingerprint
    FROM parcel_reports;
