"""The serving layer: the gold marts published into a PostgreSQL warehouse that BI tools read."""
