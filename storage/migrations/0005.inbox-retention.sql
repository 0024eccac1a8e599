-- An inbox row is kept while its record can still be read again (a replay reads it); the
-- retention pass (sweeper/retention.py) looks up, per partition, the rows below where Kafka's
-- log now begins.
CREATE INDEX inbox_position ON inbox (topic, "partition", "offset");
