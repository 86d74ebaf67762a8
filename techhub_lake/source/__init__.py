"""The source side: the synthetic TechHub database, the embedded PostgreSQL, and read-only connections."""
