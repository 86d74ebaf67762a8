"""The bronze layer: every catalog table extracted from PostgreSQL into partitioned Parquet."""
