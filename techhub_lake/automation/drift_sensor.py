"""``schema_drift_sensor``: a migration of the source never goes unnoticed. Every few minutes it
reads the source's tables and columns (the catalog, cheap) and compares them with its last look:
new tables not in the catalog, catalog tables gone, columns added, dropped or retyped. It says so
in its tick and as an observation on the bronze asset of each changed table."""

from __future__ import annotations

import json

import dagster as dg

from techhub_lake.bronze.specs import bronze_key
from techhub_lake.catalog import Catalog
from techhub_lake.catalog.source_drift import catalog_name, schema_drift, source_shape
from techhub_lake.messages import first_line
from techhub_lake.resources import SourceDatabase
from techhub_lake.source.connection import SourceUnavailable, read_only_snapshot

SCHEMA_DRIFT_SENSOR = "schema_drift_sensor"
DRIFT_INTERVAL_SECONDS = 300


def build_schema_drift_sensor(catalog: Catalog) -> dg.SensorDefinition:
    """The sensor for the schemas the catalog reads."""
    tables = {catalog_name(t): t for t in catalog.lake_tables}
    schemas = sorted({t.source_schema for t in catalog.tables})

    @dg.sensor(name=SCHEMA_DRIFT_SENSOR, minimum_interval_seconds=DRIFT_INTERVAL_SECONDS,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Reports new source tables not in the catalog and columns added, dropped or retyped in the "
                           "catalog's tables (a tick's reason and an observation on the bronze asset).")
    def _drift(context: dg.SensorEvaluationContext, source: SourceDatabase) -> dg.SensorResult:
        last = json.loads(context.cursor) if context.cursor else None
        try:
            with read_only_snapshot(source.resolved_url(), statement_timeout_ms=source.statement_timeout_ms,
                                    application_name="techhub-lake schema-drift sensor") as cur:
                now = source_shape(cur, schemas)
        except SourceUnavailable as exc:
            raise dg.Failure(f"schema-drift sensor: {exc}") from None
        except Exception as exc:  # a timeout or a lost connection: one line naming what failed
            raise dg.Failure(f"schema-drift sensor: reading the source's schema failed: {first_line(exc)}") from None
        drift = schema_drift(catalog, last["shape"] if last else None, now, set(last["reported"]) if last else set())
        events = [dg.AssetObservation(asset_key=bronze_key(tables[name]), metadata={
            "schema_drift/added": dg.MetadataValue.text(", ".join(drift.added.get(name, [])) or "none"),
            "schema_drift/dropped": dg.MetadataValue.text(", ".join(drift.dropped.get(name, [])) or "none"),
            "schema_drift/retyped": dg.MetadataValue.text("; ".join(drift.retyped.get(name, [])) or "none"),
        }) for name in drift.changed_tables()]
        reported = sorted({*(last["reported"] if last else []), *drift.new_tables})
        cursor = {"shape": {name: now[name] for name in tables if name in now}, "reported": reported}
        prefix = "" if last else "first look: "
        return dg.SensorResult(skip_reason=prefix + drift.describe(), asset_events=events, cursor=json.dumps(cursor))

    return _drift
