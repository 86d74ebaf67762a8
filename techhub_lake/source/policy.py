"""How the lake's assets share the source: one Dagster pool caps the queries running against it
across all runs (``concurrency.pools`` in ``dagster.yaml``), one retry policy for transient failures."""

from __future__ import annotations

import dagster as dg

SOURCE_POOL = "techhub_source"
SOURCE_RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
