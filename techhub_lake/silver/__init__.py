"""The silver layer: current-state Delta tables of every source table (later: JSON unpacked, SCD2 dimensions)."""
