"""How every component says how it is doing: one structured log format (`logging`),
Prometheus metrics (`metrics`) and health, readiness and metrics over HTTP (`http`)."""
