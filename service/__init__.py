"""The service layer: applies inbound records and time rules to orders through a unit of
work, which the storage package implements on PostgreSQL (and tests fake in memory)."""
