"""Builds every client the service uses, from `Settings`, in one place: the Kafka
consumers, producers and admin clients (`kafka`), the PostgreSQL connections
(`database`), and the components `cases run` starts (`components`, `supervisor`)."""
