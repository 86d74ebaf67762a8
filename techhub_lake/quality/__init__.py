"""Data quality: Soda data contracts on the source, silver and gold (``contracts/``), run offline as
Dagster asset checks (``checks``), and their history in ``gold/quality/dq_report`` (``report``)."""
