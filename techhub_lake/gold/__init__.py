"""Gold: the marts BI reads, computed from silver with polars."""
