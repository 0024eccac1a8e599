"""PostgreSQL: the schema's migrations, the unit of work a batch runs in, and queries."""
