"""The case policy as pure rules and state transitions: no Kafka, no database, no clock."""
